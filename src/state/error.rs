//! Why the state dir cannot be used: one variant per cause, each message saying what, where and
//! what to do.

use std::io;
use std::path::PathBuf;

use super::journal::{COMMIT, MAX_FILE};

/// A state dir problem: what, where, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state dir a command needs does not exist.
    #[error(
        "there is no state dir `{}`; `kcompile build` creates one (name another with --state)",
        root.display()
    )]
    Absent {
        /// The state dir, as named.
        root: PathBuf,
    },
    /// The state dir, or a directory in it, is something else.
    #[error("`{}` is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// `state forget` named a path the inventory does not record.
    #[error("`{path}` is not recorded; `kcompile state list` shows what is")]
    NotRecorded {
        /// The path, relative to the state dir.
        path: String,
    },
    /// `state forget` named a file that is still there.
    #[error(
        "`{path}` is still in the state dir; forgetting drops only its record: move the file away first (keep it if it may be needed)"
    )]
    StillPresent {
        /// The path, relative to the state dir.
        path: String,
    },
    /// `inventory.json` does not parse or is not one this kcompile reads.
    #[error(
        "`{}` cannot be read: {source}; restore it from a backup of the state dir",
        path.display()
    )]
    BadInventory {
        /// The inventory file.
        path: PathBuf,
        /// Why.
        source: super::inventory::InventoryError,
    },
    /// Ledger files without an inventory.
    #[error(
        "`{}` holds `{item}` and more, but no inventory: it was made by an older kcompile, or its `inventory.json` was lost. If it is lost, restore it from a backup; otherwise `kcompile state record --state {}` records what the dir holds now",
        root.display(),
        root.display()
    )]
    NoInventory {
        /// The state dir.
        root: PathBuf,
        /// The first unrecorded ledger file.
        item: String,
    },
    /// `state record` on a dir that has an inventory.
    #[error("`{}` already has an inventory; `kcompile state check` checks it", root.display())]
    AlreadyRecorded {
        /// The state dir.
        root: PathBuf,
    },
    /// Recorded items that are missing, changed or unreadable.
    #[error("{}", unusable(root, problems))]
    UnusableItems {
        /// The state dir.
        root: PathBuf,
        /// Each item's problem, as a few indented lines (name, why it matters, how to recover).
        problems: Vec<String>,
    },
    /// `state check`: items whose contents are not what their kind holds.
    #[error(
        "{} item{} of `{}` cannot be used:\n{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        root.display(),
        problems.join("\n")
    )]
    Unusable {
        /// The state dir.
        root: PathBuf,
        /// One line per item.
        problems: Vec<String>,
    },
    /// A path that would leave the state dir.
    #[error("`{path}` is not a path inside the state dir")]
    UnsafePath {
        /// The path.
        path: String,
    },
    /// A commit to a state dir opened read-only: a bug in kcompile.
    #[error("internal: a read-only state dir cannot be committed to")]
    ReadOnly,
    /// A text item that is not UTF-8.
    #[error("`{}` is not text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The dir or a secret file readable by others, opened read-only (a writer repairs it).
    #[error(
        "{what} `{}` is mode {:04o}, open to other users; `chmod {private:o}` it (any command that writes the state repairs it)",
        path.display(),
        mode & 0o7777
    )]
    OpenToOthers {
        /// `the state dir` or `a secret file`.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// The mode it should have.
        private: u32,
    },
    /// A file system call failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was tried (`read`, `rename into`).
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Walking the state dir failed.
    #[error("cannot list the state dir: {0}")]
    List(#[from] walkdir::Error),
    /// The journal's commit record does not parse.
    #[error(
        "`{COMMIT}` (an interrupted commit) cannot be read: {0}; keep a copy of the state dir and restore it from a backup"
    )]
    BadJournal(serde_json::Error),
    /// A retired copy's name is taken by other contents.
    #[error(
        "`{to}` exists with other contents than the journal retires there; kcompile never overwrites a retired file: move it aside and run again"
    )]
    RetiredCopyTaken {
        /// The retired path.
        to: String,
    },
    /// A file to retire changed before its copy was made.
    #[error(
        "the journal retires `{from}`, but it is gone or changed before its copy `{to}` was made; restore `{from}` from a backup"
    )]
    RetiredSourceChanged {
        /// The item retired.
        from: String,
        /// Its retired copy.
        to: String,
    },
    /// A committed write whose staged copy and target are both wrong.
    #[error(
        "the journal's copy of `{path}` is gone and the file does not hold what was committed; restore the state dir from a backup"
    )]
    StagedCopyLost {
        /// The item written.
        path: String,
    },
    /// A link where the state holds a file.
    #[error("`{}` is a symbolic link; the state dir holds regular files only", path.display())]
    Link {
        /// The path.
        path: PathBuf,
    },
    /// A FIFO, device or directory where the state holds a file.
    #[error("`{}` is not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// A file larger than any state file.
    #[error(
        "`{}` is {size} bytes, more than any state file can be ({} MiB)",
        path.display(),
        MAX_FILE >> 20
    )]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// A file that grew past the limit while read.
    #[error("`{}` grew past {} MiB while being read", path.display(), MAX_FILE >> 20)]
    Grew {
        /// The path.
        path: PathBuf,
    },
    /// An item whose contents do not parse as what it holds (`rotations.json`, `cluster.json`, a
    /// certificate, a key, a token).
    #[error("`{path}`: {problem}")]
    Malformed {
        /// The item, relative to the state dir.
        path: String,
        /// Why.
        problem: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StateError {
    /// A failed file system call: what was tried, where, why.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StateError {
        StateError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// An item whose contents do not parse.
    pub fn malformed(
        path: impl Into<String>,
        problem: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StateError {
        StateError::Malformed {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// At most this many unusable items are described; `state check` lists all.
const SHOWN_PROBLEMS: usize = 10;

fn unusable(root: &std::path::Path, problems: &[String]) -> String {
    let count = problems.len();
    let shown: Vec<&str> = problems
        .iter()
        .take(SHOWN_PROBLEMS)
        .map(String::as_str)
        .collect();
    format!(
        "{} recorded item{} of `{}` cannot be used; kcompile never replaces a recorded item by itself:\n{}{}",
        count,
        if count == 1 { "" } else { "s" },
        root.display(),
        shown.join("\n"),
        if count > SHOWN_PROBLEMS {
            format!(
                "\n  … and {} more (`kcompile state check` lists all)",
                count - SHOWN_PROBLEMS
            )
        } else {
            String::new()
        }
    )
}
