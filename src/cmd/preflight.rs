//! `kcompile preflight`: checks that a machine can be the host the spec names.

use crate::cli::{OutputFormat, PreflightArgs};
use crate::error::{Error, ExitStatus};

use super::{find_host, load, print};

/// Runs `kcompile preflight`.
pub(crate) fn run(args: &PreflightArgs) -> Result<ExitStatus, Error> {
    let loaded = load(&args.spec)?;
    let host = find_host(&loaded.cluster, &args.host)?;
    let report = crate::preflight::run(&loaded.cluster, host, &args.root)
        .map_err(|error| Error::Input(error.to_string()))?;
    match args.output {
        // Values come from the machine: shown terminal-safe.
        OutputFormat::Text => print(&crate::shown::terminal_safe(&report.render()))?,
        OutputFormat::Json => print(&report.render_json())?,
    };
    Ok(if report.has_errors() {
        ExitStatus::Differences
    } else {
        ExitStatus::Success
    })
}
