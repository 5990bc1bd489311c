//! kcompile compiles one Kubernetes cluster spec into every file each host of the cluster needs.
//! The pipeline: [`spec`] (parse, profiles, validation) → [`cluster::Cluster`] → [`pki`] (the
//! state dir: issue or reuse) → [`render`] (pure: one host's files) → [`bundle`] (MANIFEST, tar,
//! tree) or [`diff`] (against a machine); [`verify`] checks a host's files on their own.
//! `main.rs` only calls [`run`].

// A diagnostic is returned at most once per run; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod bundle;
pub mod cli;
pub mod cluster;
pub mod component;
pub mod diff;
pub mod error;
pub mod init;
pub mod pki;
pub mod render;
pub mod spec;
pub mod state;
pub mod upgrade;
pub mod verify;
pub mod versions;

use clap::Parser;

/// Parses the command line, runs it, prints any error, and returns the exit code.
pub fn run() -> u8 {
    let cli = cli::Cli::parse();
    let status = match cli::execute(cli) {
        Ok(status) => status,
        Err(error) => {
            eprint!("{error}");
            error.status()
        }
    };
    status as u8
}
