//! What the directory sink reports: what it did besides writing ([`Written`]), and why it
//! stopped ([`SinkError`], with the [`Problem`] at a path under the root).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What [`write()`] did besides writing the bundle's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The root the bundle was written under, as given.
    pub root: PathBuf,
    /// Paths (relative to the root) removed because the previous MANIFEST lists them, the bundle
    /// no longer holds them and they were unchanged; a directory that pruning emptied and that
    /// kcompile owns ends with `/`.
    pub pruned: Vec<String>,
    /// Paths (relative to the root) the previous MANIFEST lists that the bundle no longer holds
    /// but that were left in place, each with why (changed since, a link, not a regular file).
    pub left: Vec<(String, String)>,
}

/// One line per pruned and per left path, naming it under the root; nothing when there are none.
impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = self.root.display();
        for path in &self.pruned {
            writeln!(
                f,
                "removed {root}/{path} (written by kcompile, no longer produced)"
            )?;
        }
        for (path, why) in &self.left {
            writeln!(
                f,
                "warning: left {root}/{path}: {why}; kcompile no longer produces it: remove it \
                 yourself once it is not needed"
            )?;
        }
        Ok(())
    }
}

/// What is wrong at a path under the root.
#[derive(Debug)]
pub enum Problem {
    /// A symbolic link where kcompile must write (a directory or a file): it never follows one.
    Link,
    /// Something other than a directory (its kind, `regular file`, `named pipe`, ...) where a
    /// directory must be.
    NotADirectory(&'static str),
    /// Something other than a regular file (its kind, `directory`, `named pipe`, ...) at a file's
    /// path.
    NotAFile(&'static str),
    /// The previous build's MANIFEST cannot be used (too large, not text, not a MANIFEST).
    Manifest(String),
    /// A bundle path that is not plain and relative (empty, `.` or `..` components).
    BadPath,
    /// The system refused an operation.
    Io(io::Error),
}

/// Why [`write()`] stopped: a path (relative to the root; empty for the root itself) and what is
/// wrong there.
#[derive(Debug)]
pub struct SinkError {
    /// The root, as given.
    pub root: PathBuf,
    /// The path relative to the root; empty when the root itself is at fault.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

impl SinkError {
    pub(super) fn new(root: &Path, path: &str, problem: Problem) -> SinkError {
        SinkError {
            root: root.to_owned(),
            path: path.to_owned(),
            problem,
        }
    }

    /// Whether the tree under the root is at fault (a link, a file of the wrong kind, a broken
    /// MANIFEST) rather than the system (permissions, a full disk) or kcompile (a bundle path that
    /// climbs): the user must fix the tree.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self.problem,
            Problem::Link | Problem::NotADirectory(_) | Problem::NotAFile(_) | Problem::Manifest(_)
        )
    }

    /// The error's message without the root (`` `etc/kubernetes/pki` is a symlink; … ``).
    pub(super) fn describe(&self) -> String {
        let path = &self.path;
        if path.is_empty() {
            return match &self.problem {
                Problem::NotADirectory(kind) => {
                    format!("it is a {kind}, not a directory; the output root must be a directory")
                }
                Problem::Io(error) => error.to_string(),
                other => format!("{other:?}"),
            };
        }
        match &self.problem {
            Problem::Link => {
                format!("`{path}` is a symlink; kcompile never writes through links: remove it")
            }
            Problem::NotADirectory(kind) => format!(
                "`{path}` is a {kind}, not a directory; kcompile writes files below it: remove it"
            ),
            Problem::NotAFile(kind) => format!(
                "`{path}` is a {kind}, not a regular file; kcompile only replaces regular files: \
                 remove it"
            ),
            Problem::Manifest(why) => format!(
                "`{path}`, the MANIFEST of the previous build, cannot be read ({why}); it says \
                 which files kcompile wrote: restore it, or remove it (nothing is then pruned)"
            ),
            Problem::BadPath => format!("`{path}` is not a plain relative path"),
            Problem::Io(error) => format!("`{path}`: {error}"),
        }
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.root.display(), self.describe())
    }
}

impl std::error::Error for SinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// An `io::Error` that displays as the [`SinkError`] (its kind kept for system errors).
impl From<SinkError> for io::Error {
    fn from(error: SinkError) -> io::Error {
        let kind = match &error.problem {
            Problem::Io(source) => source.kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}
