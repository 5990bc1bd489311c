//! kcompile compiles one Kubernetes cluster spec into every file each host of the cluster needs.
//! The pipeline: [`spec`] (parse, profiles, validation) → [`cluster::Cluster`] → [`pki::plan`]
//! (what to generate, issue or reuse, staged in a [`state::Transaction`]) → [`state::State::commit`]
//! (the ledger, through its journal; previews skip it) → [`render`] (pure: one host's files) →
//! [`bundle`] (MANIFEST, tar, tree) or [`diff`] (against a machine); [`verify`] checks a host's
//! files on their own. `main.rs` only calls [`run`]. The architecture is in docs/architecture.md.

// A diagnostic is returned at most once per run; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod adopt;
pub mod bundle;
pub mod cli;
pub mod cluster;
mod cmd;
pub mod component;
pub mod diff;
pub mod digest;
pub mod duration;
pub mod error;
pub mod etcd_membership;
pub mod etcd_steps;
pub mod images;
pub mod init;
pub mod json;
pub mod pki;
pub mod plan;
pub mod preflight;
pub mod redact;
pub mod render;
pub mod root;
pub mod severity;
pub mod shown;
pub mod spec;
pub mod state;
pub mod state_report;
pub mod upgrade;
pub mod verify;
pub mod versions;

use clap::Parser;

/// Writes a line to stderr, like `eprintln!`, made terminal-safe ([`shown`]); a closed or full
/// stderr is ignored instead of panicking: a message that cannot be shown must not be a crash.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::shown::say(format_args!($($arg)*), true)
    };
}

/// Writes to stderr without a newline, like `eprint!`; errors are ignored (see [`say!`]).
#[macro_export]
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::shown::say(format_args!($($arg)*), false)
    };
}

/// Parses the command line, runs it, prints any error, and returns the exit code.
pub fn run() -> u8 {
    let cli = cli::Cli::parse();
    let status = match cmd::execute(cli) {
        Ok(status) => status,
        Err(error) => {
            say_raw!("{error}");
            error.status()
        }
    };
    status as u8
}
