//! The errors a command can end with, and the exit code of each.

use std::fmt;
use std::path::PathBuf;

use crate::spec::Diagnostic;

/// How a run ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done, nothing to report.
    Success = 0,
    /// 1: `diff` found differences.
    Differences = 1,
    /// 2: the input is wrong (spec, flags, files).
    UserError = 2,
    /// 3: kcompile itself failed.
    InternalError = 3,
}

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// The spec has errors (and maybe warnings), already located.
    Spec(Vec<Diagnostic>),
    /// A file the user named cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the output failed.
    Write(std::io::Error),
    /// The state dir cannot be used (unreadable, a key that does not match, an external CA
    /// that cannot issue what is missing).
    State(String),
    /// An input that is not the spec cannot be used (a root to compare, a bundle to verify).
    Input(String),
    /// The command line asks for something impossible.
    Usage {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
}

impl Error {
    /// The exit status this error ends the process with.
    pub fn status(&self) -> ExitStatus {
        match self {
            Error::Spec(_)
            | Error::Read { .. }
            | Error::Usage { .. }
            | Error::State(_)
            | Error::Input(_) => ExitStatus::UserError,
            Error::Write(_) => ExitStatus::InternalError,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spec(diagnostics) => {
                for diagnostic in diagnostics {
                    write!(f, "{diagnostic}")?;
                }
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                let plural = if errors == 1 { "" } else { "s" };
                writeln!(
                    f,
                    "error: the spec has {errors} error{plural}; nothing was written"
                )
            }
            Error::Read { path, source } => {
                writeln!(f, "error: cannot read `{}`: {source}", path.display())?;
                if source.kind() == std::io::ErrorKind::NotFound {
                    writeln!(
                        f,
                        "  hint: name the spec with `-f FILE` (`-f -` reads stdin); `kcompile init > cluster.yaml` writes a starter"
                    )?;
                }
                Ok(())
            }
            Error::Write(source) => writeln!(f, "error: cannot write the output: {source}"),
            Error::State(message) => writeln!(f, "error: state dir: {message}"),
            Error::Input(message) => writeln!(f, "error: {message}"),
            Error::Usage { message, hint } => writeln!(f, "error: {message}\n  hint: {hint}"),
        }
    }
}
