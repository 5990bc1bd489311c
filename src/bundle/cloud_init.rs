//! The cloud-init sink: a host's bundle as one `#cloud-config` document (user data), for machines
//! that provision themselves at first boot (`kcompile build --host H --format cloud-init`).
//!
//! Every file of the bundle becomes a `write_files` entry: its absolute path, `owner: root:root`
//! and its exact mode as an octal string (`permissions: "0600"`). Contents are always base64, so
//! every byte comes back as it was (no YAML line folding, trailing-newline or encoding rules
//! apply); they are gzipped first (`encoding: gz+b64`) when that makes the entry shorter, which it
//! does for all but the smallest files, else left as plain base64 (`encoding: b64`). Then
//! `runcmd` sets the directories kcompile owns to 0755 ([`DIRECTORY`]) and enables and starts the
//! kubelet:
//!
//! ```text
//! runcmd:
//! - [chmod, "0755", "/etc/kubernetes", "/etc/kubernetes/kcompile", ...]
//! - [systemctl, daemon-reload]
//! - [systemctl, enable, --now, kubelet]
//! ```
//!
//! The `chmod` is needed: cloud-init creates a file's missing parents with `os.makedirs` under
//! its own umask and never sets their mode, whereas the tar and the tree give the directories
//! kcompile owns 0755 whatever the umask (and reset them when they exist). System directories
//! (`/etc`, `/var/lib`) are left alone, as by the other sinks.
//!
//! The output is deterministic: files in path order, gzip at a fixed level ([`GZIP_LEVEL`]) with
//! mtime 0 and no file name, keys in a fixed order, every string scalar written as a
//! double-quoted (JSON-escaped) YAML string but the base64 payloads and fixed words.
//!
//! **Secrets.** The document holds the host's private keys and kubeconfigs (a control plane's
//! holds the cluster CA key). Cloud user data is readable by every process on the instance that
//! can reach the metadata service (pods too, unless it is blocked or hop-limited) and by whoever
//! may describe the instance in the cloud's API; pass it only where that is acceptable.
//!
//! The helpers shared with the Ignition sink ([`super::ignition`]) live here: [`Document`],
//! [`Error`], [`USER_DATA_LIMIT`] and the path and gzip helpers.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::render::{DIRECTORY, FileSet};

/// The user-data limit of several clouds, in bytes: AWS EC2 allows 16 KiB of raw user data
/// (before its own base64). A larger document is still returned, with a warning.
pub const USER_DATA_LIMIT: usize = 16 * 1024;

/// The gzip level of every compressed payload (fixed: another level gives other bytes).
pub const GZIP_LEVEL: u32 = 9;

/// A provisioning document (cloud-config or Ignition config) and what the caller should say
/// about it (each warning one sentence, for stderr; the document goes to stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The document, ending with a newline.
    pub text: String,
    /// Warnings for the user: today only a document over [`USER_DATA_LIMIT`].
    pub warnings: Vec<String>,
}

/// Why a bundle cannot be written as a provisioning document. Values are shown escaped
/// (`{:?}`), so a hostile one cannot forge output lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A path that is not a plain relative path below the host's root (empty, absolute, an
    /// empty, `.` or `..` component, a control character).
    Path(String),
    /// A mode with bits beyond the permission bits (`0o7777`).
    Mode {
        /// The file's path.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// A host name that is not a DNS-1123 subdomain (it is written into the document).
    Host(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Path(path) => write!(
                f,
                "the bundle holds the path {path:?}, which is not a plain path below the host's root"
            ),
            Error::Mode { path, mode } => write!(
                f,
                "the bundle gives {path:?} the mode {mode:o}, which is more than permission bits"
            ),
            Error::Host(host) => write!(f, "{host:?} is not a DNS-1123 host name"),
        }
    }
}

impl std::error::Error for Error {}

/// Writes `files`, the bundle of `host`, as a `#cloud-config` document (see the module doc);
/// warns when it exceeds [`USER_DATA_LIMIT`].
pub fn document(files: &FileSet, host: &str) -> Result<Document, Error> {
    check_host(host)?;
    let mut text = String::from("#cloud-config\n");
    let _ = writeln!(
        text,
        "# kcompile bundle of host {host}: {} files, root:root, exact modes; contents base64, \
         gzipped first where that is shorter",
        files.files.len()
    );
    text.push_str(if files.files.is_empty() {
        "write_files: []\n"
    } else {
        "write_files:\n"
    });
    for (path, file) in &files.files {
        check_path(path)?;
        let mode = check_mode(path, file.mode)?;
        let (encoding, content) = match gzip(&file.bytes) {
            compressed if compressed.len() < file.bytes.len() => {
                ("gz+b64", STANDARD.encode(compressed))
            }
            _ => ("b64", STANDARD.encode(&file.bytes)),
        };
        let _ = writeln!(text, "- path: {}", quoted(&format!("/{path}")));
        text.push_str("  owner: \"root:root\"\n");
        let _ = writeln!(text, "  permissions: \"{mode:04o}\"");
        let _ = writeln!(text, "  encoding: {encoding}");
        let _ = writeln!(text, "  content: {content}");
    }
    text.push_str("runcmd:\n");
    let directories = files.directories();
    if !directories.is_empty() {
        let _ = write!(text, "- [chmod, \"{DIRECTORY:04o}\"");
        for dir in &directories {
            let _ = write!(text, ", {}", quoted(&format!("/{dir}")));
        }
        text.push_str("]\n");
    }
    text.push_str("- [systemctl, daemon-reload]\n");
    text.push_str("- [systemctl, enable, --now, kubelet]\n");
    let warnings = size_warning(&format!("the cloud-config of {host}"), text.len())
        .map(|sentence| {
            format!(
                "{sentence}: hand it over another way (a config drive, a cloud with a larger \
                 limit, or a small `#include` document naming a URL that serves it)"
            )
        })
        .into_iter()
        .collect();
    Ok(Document { text, warnings })
}

/// `text` as a double-quoted YAML scalar (JSON's escapes are YAML's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| unreachable!("a string always serializes"))
}

/// `what is N bytes, over the ... limit`, when `len` exceeds [`USER_DATA_LIMIT`].
pub(super) fn size_warning(what: &str, len: usize) -> Option<String> {
    (len > USER_DATA_LIMIT).then(|| {
        format!(
            "{what} is {len} bytes ({:.1} KiB), over the {} KiB user-data limit of AWS EC2 and \
             other clouds",
            f64::from(u32::try_from(len).unwrap_or(u32::MAX)) / 1024.0,
            USER_DATA_LIMIT / 1024
        )
    })
}

/// `bytes` gzipped at [`GZIP_LEVEL`], mtime 0, no name: the same input always gives the same
/// output.
pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(bytes.len() / 2 + 32),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Refuses a path that is not a plain relative path below the host's root.
pub(super) fn check_path(path: &str) -> Result<(), Error> {
    let plain = !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && !path.chars().any(char::is_control);
    if plain {
        Ok(())
    } else {
        Err(Error::Path(path.to_owned()))
    }
}

/// The permission bits of `mode`; a mode with other bits (a file type) is refused.
pub(super) fn check_mode(path: &str, mode: u32) -> Result<u32, Error> {
    if mode & !0o7777 == 0 {
        Ok(mode)
    } else {
        Err(Error::Mode {
            path: path.to_owned(),
            mode,
        })
    }
}

/// Refuses a host name that is not a DNS-1123 subdomain (lowercase letters, digits, `-`, `.`).
fn check_host(host: &str) -> Result<(), Error> {
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(())
    } else {
        Err(Error::Host(host.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileSet {
        let mut files = FileSet::default();
        files.add("/etc/kubernetes/admin.conf", "x".repeat(400), 0o600);
        files.add("etc/systemd/system/kubelet.service", "[Unit]\n", 0o644);
        files
    }

    #[test]
    fn small_files_stay_plain_base64_and_large_ones_are_gzipped() {
        let document = document(&sample(), "node01").unwrap();
        let text = &document.text;
        assert!(text.starts_with("#cloud-config\n"), "{text}");
        assert!(text.contains(
            "- path: \"/etc/kubernetes/admin.conf\"\n  owner: \"root:root\"\n  permissions: \"0600\"\n  encoding: gz+b64\n"
        ), "{text}");
        assert!(text.contains(&format!(
            "- path: \"/etc/systemd/system/kubelet.service\"\n  owner: \"root:root\"\n  permissions: \"0644\"\n  encoding: b64\n  content: {}\n",
            STANDARD.encode("[Unit]\n")
        )), "{text}");
        // Only the directories kcompile owns: not /etc/systemd/system.
        assert!(text.ends_with(
            "runcmd:\n- [chmod, \"0755\", \"/etc/kubernetes\"]\n- [systemctl, daemon-reload]\n- [systemctl, enable, --now, kubelet]\n"
        ), "{text}");
        assert!(document.warnings.is_empty());
    }

    #[test]
    fn gzip_is_deterministic_and_warnings_come_past_the_limit() {
        assert_eq!(gzip(b"abc"), gzip(b"abc"));
        // mtime 0 in the header.
        assert_eq!(&gzip(b"abc")[4..8], &[0, 0, 0, 0]);
        let mut files = FileSet::default();
        // Incompressible: 24 KiB from xorshift.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let bytes: Vec<u8> = (0..24 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        files.add("etc/kubernetes/blob", bytes, 0o600);
        let document = document(&files, "node01").unwrap();
        assert_eq!(document.warnings.len(), 1, "{:?}", document.warnings);
        assert!(
            document.warnings[0].starts_with("the cloud-config of node01 is "),
            "{:?}",
            document.warnings
        );
    }

    #[test]
    fn hostile_paths_modes_and_hosts_are_refused_escaped() {
        for path in [
            "",
            "etc//x",
            "etc/../x",
            "./etc",
            "etc/x\n- path: /root/.ssh",
        ] {
            let mut files = FileSet::default();
            files.files.insert(
                path.to_owned(),
                crate::render::File {
                    bytes: vec![],
                    mode: 0o600,
                    owner: crate::cluster::Identity::ROOT,
                },
            );
            let error = document(&files, "node01").unwrap_err();
            assert_eq!(error, Error::Path(path.to_owned()));
            assert!(!error.to_string().contains('\n'), "{error}");
        }
        let mut files = FileSet::default();
        files.add("etc/x", "", 0o100_644);
        assert!(matches!(
            document(&files, "node01"),
            Err(Error::Mode { .. })
        ));
        for host in ["", "Node01", "a\nb", "-a", "a..b"] {
            assert_eq!(
                document(&FileSet::default(), host),
                Err(Error::Host(host.to_owned()))
            );
        }
    }
}
