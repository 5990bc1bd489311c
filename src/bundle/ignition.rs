//! The Ignition sink: a host's bundle as an Ignition config, spec 3.4.0 (Fedora CoreOS, Flatcar
//! and other systems Ignition provisions at first boot; `kcompile build --host H --format
//! ignition`). One line of JSON:
//!
//! ```text
//! {"ignition":{"version":"3.4.0"},
//!  "storage":{"directories":[{"path":"/etc/kubernetes","mode":493},...],
//!             "files":[{"path":"/etc/kubernetes/admin.conf","mode":384,"overwrite":true,
//!                       "contents":{"source":"data:;base64,H4sI...","compression":"gzip"}},...]},
//!  "systemd":{"units":[{"name":"kubelet.service","enabled":true}]}}
//! ```
//!
//! - **files**: every file of the bundle, with its mode as a decimal integer (0600 → 384) and
//!   `overwrite: true`, so a file an image already has at the path is replaced, as the other sinks
//!   replace it. Contents are an RFC 2397 data URL in base64, gzipped first (`compression:
//!   "gzip"`) when that makes it shorter. No owner is given: Ignition's default is uid and gid 0,
//!   what the tar records.
//! - **directories**: the directories kcompile owns ([`FileSet::directories`]) with mode 0755
//!   ([`DIRECTORY`]); without `overwrite`, Ignition creates a missing one and only sets the mode of
//!   one that exists, as the tree sink does. System directories (`/etc`, `/var/lib`) are not
//!   listed: an image has them, and they keep their modes.
//! - **systemd**: `kubelet.service` with `enabled: true` and no `contents`. The unit file itself
//!   is in `storage.files` at `/etc/systemd/system/kubelet.service`; Ignition enables a unit by
//!   writing a systemd preset, which systemd applies at the first boot from the unit's `[Install]`
//!   section (`WantedBy=multi-user.target`), so the kubelet starts in that boot. This is what spec
//!   3.4.0 allows: it refuses a `storage.files` path that a unit with `contents` would also write
//!   (`ErrPathConflictsSystemd`), never a unit that only names `enabled`.
//!
//! Deterministic: fields in a fixed order (structs), files and directories in path order, gzip as
//! in the cloud-init sink (level 9, mtime 0). The same secrets caveat holds (see
//! [`super::cloud_init`]): a config passed as user data is readable from the instance's metadata
//! service. Over [`USER_DATA_LIMIT`](super::cloud_init::USER_DATA_LIMIT) it draws a
//! warning (AWS passes Ignition configs as user data too); Ignition's answer to the limit is a
//! small config that merges this one from a URL (`ignition.config.merge`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use super::cloud_init::{Document, Error, check_mode, check_path, gzip, size_warning};
use crate::render::{DIRECTORY, FileSet};

/// The Ignition spec version of the configs kcompile writes.
pub const SPEC_VERSION: &str = "3.4.0";

/// The prefix of every file's data URL (no media type, base64).
pub const DATA_URL_PREFIX: &str = "data:;base64,";

#[derive(Serialize)]
struct Config {
    ignition: Ignition,
    storage: Storage,
    systemd: Systemd,
}

#[derive(Serialize)]
struct Ignition {
    version: &'static str,
}

#[derive(Serialize)]
struct Storage {
    directories: Vec<Directory>,
    files: Vec<IgnitionFile>,
}

#[derive(Serialize)]
struct Directory {
    path: String,
    mode: u32,
}

#[derive(Serialize)]
struct IgnitionFile {
    path: String,
    mode: u32,
    overwrite: bool,
    contents: Contents,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<NumericId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<NumericId>,
}

/// A file's owner or group by number (a rootless component's ids; root's are left out, Ignition's
/// default).
#[derive(Serialize)]
struct NumericId {
    id: u32,
}

#[derive(Serialize)]
struct Contents {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<&'static str>,
}

#[derive(Serialize)]
struct Systemd {
    units: Vec<Unit>,
}

#[derive(Serialize)]
struct Unit {
    name: &'static str,
    enabled: bool,
}

/// Writes `files` as an Ignition 3.4.0 config (see the module doc): one line of JSON and a
/// newline; warns when it exceeds [`USER_DATA_LIMIT`](super::cloud_init::USER_DATA_LIMIT).
pub fn document(files: &FileSet) -> Result<Document, Error> {
    let mut entries = Vec::with_capacity(files.files.len());
    for (path, file) in &files.files {
        check_path(path)?;
        let mode = check_mode(path, file.mode)?;
        let compressed = gzip(&file.bytes);
        let contents = if compressed.len() < file.bytes.len() {
            Contents {
                source: format!("{DATA_URL_PREFIX}{}", STANDARD.encode(compressed)),
                compression: Some("gzip"),
            }
        } else {
            Contents {
                source: format!("{DATA_URL_PREFIX}{}", STANDARD.encode(&file.bytes)),
                compression: None,
            }
        };
        entries.push(IgnitionFile {
            path: format!("/{path}"),
            mode,
            overwrite: true,
            contents,
            user: (file.owner.uid != 0).then_some(NumericId { id: file.owner.uid }),
            group: (file.owner.gid != 0).then_some(NumericId { id: file.owner.gid }),
        });
    }
    let config = Config {
        ignition: Ignition {
            version: SPEC_VERSION,
        },
        storage: Storage {
            directories: files
                .directories()
                .into_iter()
                .map(|dir| Directory {
                    path: format!("/{dir}"),
                    mode: DIRECTORY,
                })
                .collect(),
            files: entries,
        },
        systemd: Systemd {
            units: vec![Unit {
                name: "kubelet.service",
                enabled: true,
            }],
        },
    };
    let mut text = serde_json::to_string(&config)
        .unwrap_or_else(|_| unreachable!("plain structs of strings and numbers serialize"));
    text.push('\n');
    let warnings = size_warning("the Ignition config", text.len())
        .map(|sentence| {
            format!(
                "{sentence}: serve it from a URL and pass a small config that merges it \
                 (`ignition.config.merge`)"
            )
        })
        .into_iter()
        .collect();
    Ok(Document { text, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_decimal_and_the_kubelet_is_enabled_without_contents() {
        let mut files = FileSet::default();
        files.add("etc/kubernetes/admin.conf", "x".repeat(400), 0o600);
        files.add("etc/systemd/system/kubelet.service", "[Unit]\n", 0o644);
        let document = document(&files).unwrap();
        let text = &document.text;
        assert!(
            text.starts_with(
                r#"{"ignition":{"version":"3.4.0"},"storage":{"directories":[{"path":"/etc/kubernetes","mode":493}],"files":[{"path":"/etc/kubernetes/admin.conf","mode":384,"overwrite":true,"contents":{"source":"data:;base64,H4sI"#
            ),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                r#"{{"path":"/etc/systemd/system/kubelet.service","mode":420,"overwrite":true,"contents":{{"source":"data:;base64,{}"}}}}"#,
                STANDARD.encode("[Unit]\n")
            )),
            "{text}"
        );
        assert!(
            text.ends_with(
                "\"systemd\":{\"units\":[{\"name\":\"kubelet.service\",\"enabled\":true}]}}\n"
            ),
            "{text}"
        );
        assert!(document.warnings.is_empty());
    }

    #[test]
    fn hostile_paths_are_refused() {
        let mut files = FileSet::default();
        files.files.insert(
            "etc/../../x".into(),
            crate::render::File {
                bytes: vec![],
                mode: 0o600,
                owner: crate::cluster::Identity::ROOT,
            },
        );
        assert_eq!(document(&files), Err(Error::Path("etc/../../x".into())));
    }
}
