//! `kcompile diff`: compares one host's bundle with the files under a machine's root.

use std::io::{self, IsTerminal};

use crate::cli::{ColorChoice, DiffArgs, OutputFormat};
use crate::error::{Error, ExitStatus};
use crate::etcd_membership::Quorum;
use crate::pki::{HostScope, IssueOptions};

use super::{
    Purpose, find_host, free_at_exit, host_bundle, load, open_state_for_run, plan_build, print,
    report_members,
};

/// Runs `kcompile diff`.
pub(crate) fn run(args: &DiffArgs) -> Result<ExitStatus, Error> {
    // diff compiles from the state a build made, read-only: what it would issue is shown, not made.
    // A read-only open changes nothing, so the state is read while the spec loads; errors are
    // reported in the order a sequential run meets them (spec, host, state).
    let (loaded, state) = rayon::join(
        || load(&args.spec),
        || open_state_for_run(&args.spec, Purpose::Inspect),
    );
    let loaded = loaded?;
    let host = find_host(&loaded.cluster, &args.host)?;
    let state = state?;
    let options = IssueOptions {
        hosts: HostScope::Only([host.name.clone()].into()),
        ..IssueOptions::default()
    };
    let (pki, plan, members, _) = plan_build(&loaded, &state, &options, Quorum::Keep)?;
    for (id, why) in &plan.issued {
        crate::say!("a build would issue {id} ({why})");
    }
    report_members(&loaded.cluster, &members);
    let files = host_bundle(&loaded, &pki, &members, host);
    let fingerprint = |bytes: &[u8]| state.keyed_fingerprint(bytes);
    let report = crate::diff::compare(&host.name, &files, &args.root, &fingerprint)
        .map_err(Error::Compare)?;
    let format = match args.output {
        OutputFormat::Json => crate::diff::Format::Json,
        OutputFormat::Text => crate::diff::Format::Text {
            style: if args.stat {
                crate::diff::Style::Stat
            } else if args.name_only {
                crate::diff::Style::NameOnly
            } else {
                crate::diff::Style::Full
            },
            color: match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => color_wanted(),
            },
        },
    };
    print(&report.render(format))?;
    free_at_exit((loaded, pki, members, state));
    Ok(if report.has_changes() {
        ExitStatus::Differences
    } else {
        ExitStatus::Success
    })
}

/// Whether `--color auto` colors: stdout is a terminal that can show colors and the user has not
/// asked for none (`NO_COLOR`, <https://no-color.org>; `TERM=dumb`).
fn color_wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
    io::stdout().is_terminal() && !no_color && !dumb
}
