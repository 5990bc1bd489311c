//! Why a path of a root cannot be read ([`RootError`]), and how each reason is told.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{Kind, MAX_ENTRIES, MAX_LINKS};

/// Why a path of the root cannot be read. Every variant but [`RootError::Open`] names the path
/// (relative to the root) it is about.
#[derive(Debug)]
pub enum RootError {
    /// The root itself cannot be opened as a directory.
    Open {
        /// The root, as named.
        root: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A named pipe, socket, device or directory where a regular file is read.
    NotRegular {
        /// The path.
        path: String,
        /// What it is.
        kind: Kind,
    },
    /// A file larger than the limit.
    TooLarge {
        /// The path.
        path: String,
        /// Its size (at least; the bytes counted when it grew while read).
        size: u64,
        /// The limit, [`super::MAX_FILE`].
        limit: u64,
    },
    /// A link whose target leaves the root: a `..` above it, or an absolute target the root does
    /// not hold.
    Outside {
        /// The path asked for.
        path: String,
        /// The link that leaves (the path itself, or a directory on the way).
        link: String,
        /// The link's target, as written in the link.
        target: String,
        /// Whether the target climbs above the root with `..` (else: absolute, not in the root).
        climbs: bool,
    },
    /// A relative link whose target does not exist.
    Dangling {
        /// The path asked for.
        path: String,
        /// The dangling link.
        link: String,
        /// Its target, as written.
        target: String,
    },
    /// More than [`MAX_LINKS`] links: a loop.
    Loop {
        /// The path asked for.
        path: String,
        /// The last link followed.
        link: String,
    },
    /// A path that cannot name a file of the root: a `..` component (as a machine's MANIFEST
    /// could list), or a name that is not UTF-8.
    BadName {
        /// The path, as far as it can be shown.
        path: String,
    },
    /// A directory with more than [`MAX_ENTRIES`] entries under it: the rest are not looked at.
    TooMany {
        /// The directory.
        path: String,
    },
    /// The operating system refused (permissions, an I/O error).
    Io {
        /// The path.
        path: String,
        /// Why.
        error: io::Error,
    },
}

impl RootError {
    /// The path the error is about, relative to the root (empty for [`RootError::Open`]).
    pub fn path(&self) -> &str {
        match self {
            RootError::Open { .. } => "",
            RootError::NotRegular { path, .. }
            | RootError::TooLarge { path, .. }
            | RootError::Outside { path, .. }
            | RootError::Dangling { path, .. }
            | RootError::Loop { path, .. }
            | RootError::BadName { path }
            | RootError::TooMany { path }
            | RootError::Io { path, .. } => path,
        }
    }

    /// Whether the path is a link that was not followed (out of the root, dangling, a loop).
    pub fn is_link(&self) -> bool {
        matches!(
            self,
            RootError::Outside { .. } | RootError::Dangling { .. } | RootError::Loop { .. }
        )
    }

    /// What is wrong, without the path (`is a named pipe, not a regular file`), for messages
    /// that show the path their own way.
    pub fn reason(&self) -> String {
        // A problem with a link on the way is told with that link.
        let via = |path: &str, link: &str| {
            if path == link {
                "is a symlink".to_owned()
            } else {
                format!("is under `{}`, a symlink", shown(link))
            }
        };
        match self {
            RootError::Open { root, error } => open_message(root, error),
            RootError::NotRegular { kind, .. } => {
                format!("is {}, not a regular file", kind.describe())
            }
            RootError::TooLarge { size, limit, .. } => format!(
                "is {size} bytes, more than the {} MiB limit for a Kubernetes file: not read",
                limit >> 20
            ),
            RootError::Outside {
                path,
                link,
                target,
                climbs,
            } => {
                let why = if *climbs {
                    "which climbs above the root"
                } else {
                    "which the root does not hold"
                };
                format!(
                    "{} pointing outside the root: not followed (→ `{}`, {why})",
                    via(path, link),
                    shown(target)
                )
            }
            RootError::Dangling { path, link, target } => format!(
                "{} to `{}`, which does not exist: not followed",
                via(path, link),
                shown(target)
            ),
            RootError::Loop { path, link } => format!(
                "{} in a loop (or a chain of more than {MAX_LINKS} links): not followed",
                via(path, link)
            ),
            RootError::BadName { .. } => {
                "is not a path of the root (a `..` component, or a name that is not UTF-8): not read"
                    .to_owned()
            }
            RootError::TooMany { .. } => format!(
                "holds more than {MAX_ENTRIES} entries, more than any configuration directory: \
                 the rest are not looked at"
            ),
            RootError::Io { error, .. } => format!("cannot be read: {error}"),
        }
    }
}

impl fmt::Display for RootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootError::Open { root, error } => f.write_str(&open_message(root, error)),
            _ => write!(f, "`{}` {}", shown(self.path()), self.reason()),
        }
    }
}

impl std::error::Error for RootError {}

/// Untrusted text (a name or link target found in the root) for a message: control characters
/// escaped, cut at 200 characters (a link target can be 4 KiB).
fn shown(text: &str) -> String {
    crate::shown::value(text, 200)
}

fn open_message(root: &Path, error: &io::Error) -> String {
    if error.raw_os_error() == Some(libc::ENOTDIR) {
        format!("the root `{}` is not a directory", root.display())
    } else {
        format!("cannot read the root `{}`: {error}", root.display())
    }
}
