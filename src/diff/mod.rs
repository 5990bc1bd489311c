//! `kcompile diff`: a compiled host bundle against the files on a machine (or under a root). It
//! understands what it compares: manifests and configs as text headed by what changed in them,
//! certificates in words, secrets only as fingerprints, files the machine's MANIFEST lists but the
//! build no longer produces, unknown files where the kubelet would pick them up, and which
//! components a change restarts. It reads only the paths kcompile manages, through
//! [`Root`]: links resolve as if the root were `/` and never out of it, and
//! only regular files of bounded size are read (a FIFO or a device is never opened).

mod describe;
mod recorded;
mod report;

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::bundle::manifest;
use crate::render::FileSet;
use crate::root::{Contents, Kind, Root, RootError};
pub use recorded::{CHANGED, compare_with_build};
pub use report::{Format, Style};

/// What happens to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The bundle has it, the machine does not.
    Add,
    /// Both have it, with different contents or mode.
    Change,
    /// The machine's MANIFEST lists it, the bundle no longer has it.
    Remove,
    /// Identical.
    Unchanged,
    /// Not kcompile's, in a directory kcompile manages.
    Unknown,
}

/// How a changed file differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Detail {
    /// Nothing more to say (added, removed, unchanged, mode only).
    None,
    /// A text file: a one-line summary when the file kind has one, and a unified diff with every
    /// secret value replaced by its fingerprint.
    Text {
        /// What changed, in words (`image v1.36.3 → v1.37.1; flags +event-ttl`).
        summary: Option<String>,
        /// Unified diff.
        diff: String,
    },
    /// A certificate, in words.
    Certificate {
        /// One line per difference (subject, issuer, SANs, validity, key).
        lines: Vec<String>,
    },
    /// A secret: fingerprints only.
    Secret {
        /// `sha256:` prefix of the old contents.
        old: String,
        /// `sha256:` prefix of the new contents.
        new: String,
    },
    /// Why an unknown file matters.
    Note {
        /// The explanation.
        reason: String,
    },
}

/// One path of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Path relative to the root.
    pub path: String,
    /// What happens to it.
    pub action: Action,
    /// Old and new mode, when they differ.
    pub mode: Option<(String, String)>,
    /// How it differs.
    pub detail: Detail,
}

/// A component that a change restarts (or starts, or stops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restart {
    /// The component.
    pub component: String,
    /// Why.
    pub reason: String,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files to add.
    pub add: usize,
    /// Files to change.
    pub change: usize,
    /// Files to remove.
    pub remove: usize,
    /// Files unchanged.
    pub unchanged: usize,
    /// Unknown files found.
    pub unknown: usize,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The host compared.
    pub host: String,
    /// The root compared against.
    pub root: String,
    /// Every path, in path order.
    pub changes: Vec<Change>,
    /// Components the changes restart.
    pub restarts: Vec<Restart>,
    /// Things to look at before rolling out.
    pub warnings: Vec<String>,
    /// Counts.
    pub summary: Summary,
}

impl Report {
    /// Fills in the summary from the changes.
    fn count(&mut self) {
        for change in &self.changes {
            let counter = match change.action {
                Action::Add => &mut self.summary.add,
                Action::Change => &mut self.summary.change,
                Action::Remove => &mut self.summary.remove,
                Action::Unchanged => &mut self.summary.unchanged,
                Action::Unknown => &mut self.summary.unknown,
            };
            *counter += 1;
        }
    }

    /// Whether anything differs.
    pub fn has_changes(&self) -> bool {
        let s = &self.summary;
        s.add + s.change + s.remove + s.unknown > 0
    }
}

/// Directories whose unknown files matter: the kubelet runs every file of the static pod directory
/// whose name does not start with a dot, backups included.
const WATCHED: [&str; 3] = [
    "etc/kubernetes/manifests",
    "etc/kubernetes/pki",
    "etc/kubernetes/pki/etcd",
];

/// Why a root cannot be compared with a bundle.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The root itself cannot be opened (it names the root).
    #[error("{0}")]
    Open(RootError),
    /// A path the bundle writes cannot be read under the root.
    #[error("cannot compare `{}`: {source}", root.display())]
    Unreadable {
        /// The root, as named.
        root: std::path::PathBuf,
        /// Why, with the path under the root.
        source: RootError,
    },
}

/// Compares `bundle` (the host's compiled files) with what is under `root`. The root is read
/// through [`Root`]: links are resolved as if it were `/` and never out of it, only regular files
/// up to [`crate::root::MAX_FILE`] are read. A link that cannot be followed is a warning (the
/// path counts as changed); anything else that cannot be read at a path the bundle writes (a
/// directory, a FIFO, a device, an oversized file) is an error.
pub fn compare(
    host: &str,
    bundle: &FileSet,
    root: &Path,
    fingerprint: crate::redact::Fingerprint<'_>,
) -> Result<Report, CompareError> {
    let machine = Root::open(root).map_err(CompareError::Open)?;
    let unreadable = |source: RootError| CompareError::Unreadable {
        root: root.to_owned(),
        source,
    };
    let mut report = Report {
        host: host.to_owned(),
        root: root.display().to_string(),
        changes: Vec::new(),
        restarts: Vec::new(),
        warnings: Vec::new(),
        summary: Summary::default(),
    };

    for (path, file) in &bundle.files {
        let change = match machine.read_file(path) {
            Ok(None) => Change {
                path: path.clone(),
                action: Action::Add,
                mode: None,
                detail: Detail::None,
            },
            Err(error) if error.is_link() => {
                report.warnings.push(format!("{error}, treated as changed"));
                Change {
                    path: path.clone(),
                    action: Action::Change,
                    mode: None,
                    detail: Detail::Note {
                        reason:
                            "a symlink that is not followed; the build replaces it with the file"
                                .into(),
                    },
                }
            }
            Err(error) => return Err(unreadable(error)),
            Ok(Some(Contents { bytes, mode, .. })) => {
                let mode_change = (mode != file.mode)
                    .then(|| (format!("{mode:04o}"), format!("{:04o}", file.mode)));
                if bytes == file.bytes {
                    Change {
                        path: path.clone(),
                        action: if mode_change.is_some() {
                            Action::Change
                        } else {
                            Action::Unchanged
                        },
                        mode: mode_change,
                        detail: Detail::None,
                    }
                } else {
                    Change {
                        path: path.clone(),
                        action: Action::Change,
                        mode: mode_change,
                        detail: describe::difference(path, &bytes, &file.bytes, fingerprint),
                    }
                }
            }
        };
        report.changes.push(change);
    }

    // Files the machine's MANIFEST lists that the build no longer produces.
    let mut listed = BTreeSet::new();
    match machine.read(manifest::PATH) {
        Ok(Some(bytes)) => match manifest::parse(&String::from_utf8_lossy(&bytes)) {
            Ok(old) => {
                if !old.header.host.is_empty() && old.header.host != host {
                    report.warnings.push(format!(
                        "the MANIFEST on the machine was compiled for host `{}`, not `{host}`",
                        old.header.host
                    ));
                }
                for entry in old.entries {
                    listed.insert(entry.path.clone());
                    if bundle.files.contains_key(&entry.path) {
                        continue;
                    }
                    // The MANIFEST is the machine's too: what it lists is only looked at.
                    match machine.stat(&entry.path) {
                        Ok(Some(found)) if found.kind == Kind::File => {
                            report.changes.push(Change {
                                path: entry.path,
                                action: Action::Remove,
                                mode: None,
                                detail: Detail::None,
                            });
                        }
                        Ok(None) => {}
                        Ok(Some(found)) => report.warnings.push(format!(
                            "`{}`, which the MANIFEST on the machine lists, is {}, not a regular file: no removal is planned",
                            crate::shown::value(&entry.path, 200),
                            found.kind.describe()
                        )),
                        Err(error) => report.warnings.push(format!(
                            "{error}; the MANIFEST on the machine lists it, but no removal is planned"
                        )),
                    }
                }
            }
            Err(error) => report.warnings.push(format!(
                "the MANIFEST on the machine is corrupt ({error}): files it listed cannot be told apart, so no removal is planned"
            )),
        },
        Ok(None) => {}
        Err(error) if error.is_link() => report.warnings.push(format!(
            "{error}: the MANIFEST on the machine is ignored, so no removal is planned"
        )),
        Err(error) => return Err(unreadable(error)),
    }

    // Unknown files where they matter; they are listed, never read.
    for dir in WATCHED {
        let entries = match machine.walk(dir, 1) {
            Ok(entries) => entries,
            Err(error) => {
                report
                    .warnings
                    .push(format!("{error}: the files in it are not listed"));
                continue;
            }
        };
        for entry in entries {
            let path = entry.path;
            let name = path.rsplit('/').next().unwrap_or_default().to_owned();
            if bundle.files.contains_key(&path) || listed.contains(&path) {
                continue;
            }
            let mut reason = if dir == "etc/kubernetes/manifests" {
                if name.starts_with('.') {
                    continue;
                }
                "in the static pod directory: the kubelet runs every file there whose name does not start with a dot, backups included".to_owned()
            } else {
                "in the PKI directory, not written by kcompile".to_owned()
            };
            match entry.found {
                Ok(found) if found.kind != Kind::File => {
                    reason = format!("{}, {reason}", found.kind.describe());
                }
                Err(error) => reason = format!("{reason}; it {}", error.reason()),
                Ok(_) => {}
            }
            report.changes.push(Change {
                path,
                action: Action::Unknown,
                mode: None,
                detail: Detail::Note { reason },
            });
        }
    }

    report.changes.sort_by(|a, b| a.path.cmp(&b.path));
    let old = |path: &str| machine.read(path).ok().flatten();
    describe::impact(&mut report, &old, bundle);
    report.count();
    Ok(report)
}
