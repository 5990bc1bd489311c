//! `kcompile init`: prints an annotated starter spec.

use crate::cli::InitArgs;
use crate::error::{Error, ExitStatus};
use crate::init::{InitOptions, starter_spec};
use crate::spec;

use super::print;

/// Runs `kcompile init`.
pub(crate) fn run(args: InitArgs) -> Result<ExitStatus, Error> {
    let profiles = if args.profiles.is_empty() {
        spec::DEFAULT_PROFILES
            .iter()
            .map(|p| (*p).to_owned())
            .collect()
    } else {
        args.profiles
    };
    if spec::dns_subdomain_problem(&args.name).is_some() {
        return Err(Error::Usage {
            message: format!("`{}` is not a valid cluster name", args.name),
            hint: "use lower-case letters, digits and `-`, e.g. `prod-eu1`".into(),
        });
    }
    let text = starter_spec(&InitOptions {
        name: args.name,
        profiles,
        control_planes: args.control_planes,
        workers: args.workers,
    });
    print(&text)
}
