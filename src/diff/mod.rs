//! `kcompile diff`: a compiled host bundle against the files on a machine (or under a root). It
//! understands what it compares: manifests and configs as text headed by what changed in them,
//! certificates in words, secrets only as fingerprints, files the machine's MANIFEST lists but the
//! build no longer produces, unknown files where the kubelet would pick them up, and which
//! components a change restarts. It reads only the paths kcompile manages, and follows no symlink
//! out of the root.

mod describe;
mod report;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::FileSet;
use crate::bundle::manifest;
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

/// Compares `bundle` (the host's compiled files) with what is under `root`.
pub fn compare(host: &str, bundle: &FileSet, root: &Path) -> Result<Report, String> {
    let metadata = std::fs::metadata(root)
        .map_err(|e| format!("cannot read the root `{}`: {e}", root.display()))?;
    if !metadata.is_dir() {
        return Err(format!("the root `{}` is not a directory", root.display()));
    }
    let canonical_root = root
        .canonicalize()
        .map_err(|e| format!("cannot resolve the root `{}`: {e}", root.display()))?;
    let mut report = Report {
        host: host.to_owned(),
        root: root.display().to_string(),
        changes: Vec::new(),
        restarts: Vec::new(),
        warnings: Vec::new(),
        summary: Summary::default(),
    };
    let reader = Reader {
        root,
        canonical_root: &canonical_root,
    };

    for (path, file) in &bundle.files {
        let change = match reader.read(path)? {
            Found::Missing => Change {
                path: path.clone(),
                action: Action::Add,
                mode: None,
                detail: Detail::None,
            },
            Found::Outside => {
                report.warnings.push(format!("`{path}` is a symlink pointing outside the root: not followed, treated as changed"));
                Change {
                    path: path.clone(),
                    action: Action::Change,
                    mode: None,
                    detail: Detail::Note {
                        reason: "a symlink out of the root; the build replaces it with the file"
                            .into(),
                    },
                }
            }
            Found::File { bytes, mode } => {
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
                        detail: describe::difference(path, &bytes, &file.bytes),
                    }
                }
            }
        };
        report.changes.push(change);
    }

    // Files the machine's MANIFEST lists that the build no longer produces.
    let mut listed = BTreeSet::new();
    match reader.read(manifest::PATH)? {
        Found::File { bytes, .. } => match manifest::parse(&String::from_utf8_lossy(&bytes)) {
            Ok(old) => {
                if !old.header.host.is_empty() && old.header.host != host {
                    report.warnings.push(format!(
                        "the MANIFEST on the machine was compiled for host `{}`, not `{host}`",
                        old.header.host
                    ));
                }
                for entry in old.entries {
                    listed.insert(entry.path.clone());
                    if !bundle.files.contains_key(&entry.path) && matches!(reader.read(&entry.path)?, Found::File { .. }) {
                        report.changes.push(Change {
                            path: entry.path,
                            action: Action::Remove,
                            mode: None,
                            detail: Detail::None,
                        });
                    }
                }
            }
            Err(error) => report.warnings.push(format!(
                "the MANIFEST on the machine is corrupt ({error}): files it listed cannot be told apart, so no removal is planned"
            )),
        },
        Found::Missing => {}
        Found::Outside => report.warnings.push("the MANIFEST on the machine is a symlink out of the root: ignored".into()),
    }

    // Unknown files where they matter.
    for dir in WATCHED {
        for name in reader.list(dir)? {
            let path = format!("{dir}/{name}");
            if bundle.files.contains_key(&path) || listed.contains(&path) {
                continue;
            }
            let reason = if dir == "etc/kubernetes/manifests" {
                if name.starts_with('.') {
                    continue;
                }
                "in the static pod directory: the kubelet runs every file there whose name does not start with a dot, backups included".to_owned()
            } else {
                "in the PKI directory, not written by kcompile".to_owned()
            };
            report.changes.push(Change {
                path,
                action: Action::Unknown,
                mode: None,
                detail: Detail::Note { reason },
            });
        }
    }

    report.changes.sort_by(|a, b| a.path.cmp(&b.path));
    describe::impact(&mut report, &reader_old(&reader), bundle);
    for change in &report.changes {
        let counter = match change.action {
            Action::Add => &mut report.summary.add,
            Action::Change => &mut report.summary.change,
            Action::Remove => &mut report.summary.remove,
            Action::Unchanged => &mut report.summary.unchanged,
            Action::Unknown => &mut report.summary.unknown,
        };
        *counter += 1;
    }
    Ok(report)
}

/// A function that gives the old bytes of a path, for impact analysis.
fn reader_old<'a>(reader: &'a Reader<'a>) -> impl Fn(&str) -> Option<Vec<u8>> + 'a {
    move |path| match reader.read(path) {
        Ok(Found::File { bytes, .. }) => Some(bytes),
        _ => None,
    }
}

enum Found {
    Missing,
    Outside,
    File { bytes: Vec<u8>, mode: u32 },
}

struct Reader<'a> {
    root: &'a Path,
    canonical_root: &'a Path,
}

impl Reader<'_> {
    /// Reads a managed path, refusing to leave the root through a symlink.
    fn read(&self, relative: &str) -> Result<Found, String> {
        let path = self.root.join(relative);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(Found::Missing);
        }
        let resolved: PathBuf = match path.canonicalize() {
            Ok(resolved) => resolved,
            // A dangling symlink: nothing to read.
            Err(_) => return Ok(Found::Missing),
        };
        if !resolved.starts_with(self.canonical_root) {
            return Ok(Found::Outside);
        }
        if resolved.is_dir() {
            return Err(format!(
                "`{}` is a directory, where kcompile writes a file",
                path.display()
            ));
        }
        let bytes = std::fs::read(&resolved)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let mode = std::fs::metadata(&resolved)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?
            .permissions()
            .mode()
            & 0o7777;
        Ok(Found::File { bytes, mode })
    }

    /// The names in a managed directory (none if it is absent or leaves the root).
    fn list(&self, relative: &str) -> Result<Vec<String>, String> {
        let path = self.root.join(relative);
        let Ok(resolved) = path.canonicalize() else {
            return Ok(Vec::new());
        };
        if !resolved.starts_with(self.canonical_root) || !resolved.is_dir() {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&resolved)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?
        {
            let entry = entry.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            if entry.file_type().is_ok_and(|t| !t.is_dir()) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}
