//! A host's new bundle against the MANIFEST of its last build as the state records it
//! ([`crate::bundle::built`]), for `kcompile plan` without `--roots`: paths, modes and sha256 only,
//! so a changed file is said to differ, not how (the state keeps no old bytes); which components
//! restart follows from the paths as in [`super::compare`].

use std::collections::BTreeMap;

use super::{Action, Change, Detail, Report, Summary, describe};
use crate::bundle::built::Recorded;
use crate::bundle::manifest;
use crate::render::FileSet;

/// What [`compare_with_build`] says of a file whose contents differ from the last build's.
pub const CHANGED: &str = "differs from the last build (the state keeps its sha256, not its text)";

/// Compares `bundle` (the host's new files) with `recorded`, the host's last build, or with
/// nothing (`None`: never built, every file is new). `source` says in the report what was
/// compared with.
pub fn compare_with_build(
    host: &str,
    bundle: &FileSet,
    recorded: Option<&Recorded>,
    source: &str,
) -> Report {
    let mut report = Report {
        host: host.to_owned(),
        root: source.to_owned(),
        changes: Vec::new(),
        restarts: Vec::new(),
        warnings: Vec::new(),
        summary: Summary::default(),
    };
    let old: BTreeMap<&str, &manifest::Entry> = recorded
        .map(|recorded| {
            recorded
                .manifest
                .entries
                .iter()
                .map(|entry| (entry.path.as_str(), entry))
                .collect()
        })
        .unwrap_or_default();
    if let Some(recorded) = recorded
        && !recorded.manifest.header.host.is_empty()
        && recorded.manifest.header.host != host
    {
        report.warnings.push(format!(
            "the state's record of its last build names host `{}`",
            recorded.manifest.header.host
        ));
    }
    for (path, file) in &bundle.files {
        let before = if path == manifest::PATH {
            // The MANIFEST does not list itself: the record is its last copy.
            recorded.map(|recorded| (file.mode, crate::digest::sha256(&recorded.bytes)))
        } else {
            old.get(path.as_str())
                .map(|entry| (entry.mode, entry.sha256.clone()))
        };
        let change = match before {
            None => Change {
                path: path.clone(),
                action: Action::Add,
                mode: None,
                detail: Detail::None,
            },
            Some((mode, sha256)) => {
                let mode_change = (mode != file.mode)
                    .then(|| (format!("{mode:04o}"), format!("{:04o}", file.mode)));
                let same = sha256 == crate::digest::sha256(&file.bytes);
                Change {
                    path: path.clone(),
                    action: if same && mode_change.is_none() {
                        Action::Unchanged
                    } else {
                        Action::Change
                    },
                    mode: mode_change,
                    detail: if same {
                        Detail::None
                    } else {
                        Detail::Note {
                            reason: CHANGED.to_owned(),
                        }
                    },
                }
            }
        };
        report.changes.push(change);
    }
    for (path, _) in old {
        if !bundle.files.contains_key(path) {
            report.changes.push(Change {
                path: path.to_owned(),
                action: Action::Remove,
                mode: None,
                detail: Detail::None,
            });
        }
    }
    report.changes.sort_by(|a, b| a.path.cmp(&b.path));
    describe::impact(&mut report, &|_: &str| None, bundle);
    report.count();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(manifest_body: &str, kubelet: &str) -> FileSet {
        let mut files = FileSet::default();
        files.add("etc/kubernetes/manifests/etcd.yaml", manifest_body, 0o600);
        files.add("var/lib/kubelet/config.yaml", kubelet, 0o644);
        manifest::add(
            &mut files,
            &manifest::Header {
                host: "m1".into(),
                ..manifest::Header::default()
            },
        );
        files
    }

    fn recorded(files: &FileSet) -> Recorded {
        let bytes = files.files[manifest::PATH].bytes.clone();
        Recorded {
            manifest: manifest::parse(&String::from_utf8_lossy(&bytes)).unwrap(),
            bytes,
            since: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn changes_follow_the_recorded_sha256_and_restart_what_reads_them() {
        let old = bundle("a", "k");
        let same = compare_with_build("m1", &old, Some(&recorded(&old)), "last build");
        assert!(!same.has_changes(), "{same:?}");
        assert!(same.restarts.is_empty());
        let mut new = bundle("b", "k");
        new.files.remove("var/lib/kubelet/config.yaml");
        let report = compare_with_build("m1", &new, Some(&recorded(&old)), "last build");
        let actions: Vec<(&str, Action)> = report
            .changes
            .iter()
            .map(|change| (change.path.as_str(), change.action))
            .collect();
        assert_eq!(
            actions,
            [
                ("etc/kubernetes/kcompile/MANIFEST", Action::Change),
                ("etc/kubernetes/manifests/etcd.yaml", Action::Change),
                ("var/lib/kubelet/config.yaml", Action::Remove),
            ]
        );
        let restarted: Vec<&str> = report
            .restarts
            .iter()
            .map(|restart| restart.component.as_str())
            .collect();
        assert_eq!(restarted, ["etcd", "kubelet"]);
        let never = compare_with_build("m1", &new, None, "nothing");
        assert_eq!(never.summary.add, new.files.len());
        assert_eq!(never.summary.change + never.summary.remove, 0);
    }
}
