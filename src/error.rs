//! The errors a command can end with, and the exit code of each.

use std::fmt;
use std::path::PathBuf;

use crate::bundle::built::BuiltError;
use crate::diff::CompareError;
use crate::etcd_membership::MembershipError;
use crate::pki::PkiError;
use crate::pki::expiry::RootRowsError;
use crate::spec::Diagnostic;
use crate::state::StateError;

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

/// Why a flag's value is refused (clap prints it after the flag and its value).
#[derive(Debug, thiserror::Error)]
pub enum FlagValueError {
    /// A duration past [`crate::duration::MAX_DURATION`].
    #[error("at most 100 years (`36500d`)")]
    DurationTooLong,
    /// Not a duration.
    #[error("write hours, minutes, seconds or days: `30d`, `720h`")]
    NotADuration,
    /// A profile kcompile does not embed.
    #[error("unknown profile; known profiles: {}", .0.join(", "))]
    UnknownProfile(Vec<&'static str>),
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
    /// The state dir cannot be used (missing, unreadable, an item changed or damaged).
    State(StateError),
    /// The PKI cannot be planned, rotated or imported from what the state holds (a key that
    /// does not match, an external CA that cannot issue what is missing, a phase out of order).
    Pki(PkiError),
    /// The etcd membership record in the state is damaged.
    Membership(MembershipError),
    /// `certs --root`: the machine root cannot be read.
    RootCertificates(RootRowsError),
    /// `diff`: the machine root cannot be compared.
    Compare(CompareError),
    /// The state's record of a host's last build cannot be read.
    Built(BuiltError),
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
            | Error::Pki(_)
            | Error::Membership(_)
            | Error::RootCertificates(_)
            | Error::Compare(_)
            | Error::Built(_)
            | Error::Input(_) => ExitStatus::UserError,
            Error::Write(_) => ExitStatus::InternalError,
        }
    }
}

impl From<StateError> for Error {
    fn from(error: StateError) -> Self {
        Error::State(error)
    }
}

impl From<PkiError> for Error {
    fn from(error: PkiError) -> Self {
        Error::Pki(error)
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
            Error::State(error) => writeln!(f, "error: state dir: {error}"),
            Error::Pki(error) => writeln!(f, "error: state dir: {error}"),
            Error::Built(error) => writeln!(f, "error: state dir: {error}"),
            Error::Membership(error) => match error {
                MembershipError::State(error) => writeln!(f, "error: state dir: {error}"),
                _ => writeln!(f, "error: state dir: {error}; {}", error.hint()),
            },
            Error::RootCertificates(error) => {
                writeln!(f, "error: {error}")?;
                if let RootRowsError::Open(_) = error {
                    writeln!(
                        f,
                        "  hint: name the machine's root with --root (`/` on the machine itself, or a copy of its files)"
                    )?;
                }
                Ok(())
            }
            Error::Compare(error) => writeln!(f, "error: {error}"),
            Error::Input(message) => writeln!(f, "error: {message}"),
            Error::Usage { message, hint } => writeln!(f, "error: {message}\n  hint: {hint}"),
        }
    }
}
