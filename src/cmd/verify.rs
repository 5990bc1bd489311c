//! `kcompile verify`: checks a host's files (a root or a bundle tar) on their own.

use crate::cli::{OutputFormat, VerifyArgs};
use crate::error::{Error, ExitStatus};

use super::print;

/// Runs `kcompile verify`.
pub(crate) fn run(args: &VerifyArgs) -> Result<ExitStatus, Error> {
    let input = match (&args.root, &args.bundle) {
        (Some(root), _) => crate::verify::Input::Root(root.clone()),
        (None, Some(bundle)) => crate::verify::Input::Tar(bundle.clone()),
        (None, None) => {
            return Err(Error::Usage {
                message: "nothing to verify".into(),
                hint: "name a root (`--root /`) or a bundle tar".into(),
            });
        }
    };
    let options = crate::verify::Options {
        warn_within: args.warn_within,
        now: time::OffsetDateTime::now_utc(),
    };
    let report = crate::verify::run(&input, &options).map_err(|unreadable| Error::Usage {
        message: unreadable.message,
        hint: unreadable.hint,
    })?;
    match args.output {
        // File names and values come from the machine: shown terminal-safe.
        OutputFormat::Text => print(&crate::shown::terminal_safe(&report.render()))?,
        OutputFormat::Json => print(&report.render_json())?,
    };
    Ok(if report.count(crate::verify::Severity::Error) > 0 {
        ExitStatus::Differences
    } else {
        ExitStatus::Success
    })
}
