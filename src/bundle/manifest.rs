//! The MANIFEST inside every bundle (`etc/kubernetes/kcompile/MANIFEST`): which cluster, host and
//! version it was compiled for, a hash of the resolved spec, and one line per file kcompile owns on
//! the host (mode, sha256, path). It is what makes `diff` exact: a file listed in the MANIFEST on
//! a machine but no longer produced is one to remove; and what makes pruning safe: the directory
//! sink removes such a file only while it still has the sha256 recorded.
//!
//! **The MANIFEST is written 0600**, like the secrets it lists. The sha256 of a file that holds a
//! secret is an offline oracle for that secret whenever the rest of the file can be guessed:
//! keepalived.conf is rendered from the spec but for its 8-character VRRP password (36^8 guesses
//! against an unsalted hash), and the bootstrap token Secret, the kubeconfigs and the keys are
//! hashed too. A world-readable MANIFEST would hand that oracle to every local user. Readable only
//! by root, it tells nobody anything the files beside it do not (who can read it can read
//! keepalived.conf). The alternatives were worse: a keyed hash would need the state's key wherever
//! a bundle is pruned (the directory sink, an operator's own scripts) and would make the MANIFEST
//! change with that key; a marker instead of a hash would leave the sink unable to tell a key it
//! wrote from one changed since, so it could no longer prune a demoted control plane's keys
//! safely. With the mode, the format, `diff`'s removal detection and [`super::dir`]'s pruning are
//! unchanged; `diff` and `verify` read the keys beside the MANIFEST, so they run as root anyway.
//! Nothing kcompile prints shows a MANIFEST hash (`diff` summarizes a changed MANIFEST as a line
//! count), and a parse error names the line, never its contents.

use std::fmt::Write;

use crate::digest::sha256;
use crate::render::{FileSet, SECRET};

/// Where the MANIFEST lives in a host's root.
pub const PATH: &str = "etc/kubernetes/kcompile/MANIFEST";

/// What a bundle was compiled for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Cluster name.
    pub cluster: String,
    /// Host name.
    pub host: String,
    /// Kubernetes version.
    pub kubernetes: String,
    /// sha256 of the resolved spec.
    pub spec_sha256: String,
}

/// One file of a MANIFEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unix mode.
    pub mode: u32,
    /// sha256 of the contents, hex.
    pub sha256: String,
    /// Path relative to the host's root.
    pub path: String,
}

/// A parsed MANIFEST.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Its header.
    pub header: Header,
    /// Its files.
    pub entries: Vec<Entry>,
}

/// Adds the MANIFEST of `files` to them.
pub fn add(files: &mut FileSet, header: &Header) {
    let mut text = String::from("# kcompile MANIFEST: every file kcompile owns on this host\n");
    let _ = writeln!(text, "cluster: {}", header.cluster);
    let _ = writeln!(text, "host: {}", header.host);
    let _ = writeln!(text, "kubernetes: {}", header.kubernetes);
    let _ = writeln!(text, "spec-sha256: {}", header.spec_sha256);
    for (path, file) in &files.files {
        let _ = writeln!(text, "{:04o} {} {path}", file.mode, sha256(&file.bytes));
    }
    // 0600: it holds the sha256 of files that hold secrets (see the module doc).
    files.add(PATH, text, SECRET);
}

/// Why a MANIFEST cannot be read: the line, by number (never quoted).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A `key: value` line with a key MANIFEST headers do not have.
    #[error("line {0}: unknown header")]
    UnknownHeader(usize),
    /// A line that is not `MODE SHA256 PATH`.
    #[error("line {0}: expected `MODE SHA256 PATH`")]
    NotAnEntry(usize),
    /// A mode that is not octal.
    #[error("line {0}: the mode is not octal")]
    NotOctal(usize),
}

/// Reads a MANIFEST; a line that is neither a header nor a file entry is an error naming it by
/// number (never quoting it: a MANIFEST that was tampered with may hold anything).
pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    let mut manifest = Manifest::default();
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some((key, value)) = line.split_once(": ") {
            let value = value.to_owned();
            match key {
                "cluster" => manifest.header.cluster = value,
                "host" => manifest.header.host = value,
                "kubernetes" => manifest.header.kubernetes = value,
                "spec-sha256" => manifest.header.spec_sha256 = value,
                _ => return Err(ManifestError::UnknownHeader(number + 1)),
            }
            continue;
        }
        let mut fields = line.splitn(3, ' ');
        let (Some(mode), Some(sha), Some(path)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(ManifestError::NotAnEntry(number + 1));
        };
        let mode = u32::from_str_radix(mode, 8).map_err(|_| ManifestError::NotOctal(number + 1))?;
        if sha.len() != 64
            || !sha.bytes().all(|b| b.is_ascii_hexdigit())
            || path.is_empty()
            || path.starts_with('/')
            || path.split('/').any(|c| c == "..")
        {
            return Err(ManifestError::NotAnEntry(number + 1));
        }
        manifest.entries.push(Entry {
            mode,
            sha256: sha.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let mut files = FileSet::default();
        files.add("/etc/kubernetes/admin.conf", "x", 0o600);
        let header = Header {
            cluster: "prod".into(),
            host: "master01".into(),
            kubernetes: "v1.37.1".into(),
            spec_sha256: "ab".into(),
        };
        add(&mut files, &header);
        let text = String::from_utf8(files.files[PATH].bytes.clone()).unwrap();
        let manifest = parse(&text).unwrap();
        assert_eq!(manifest.header, header);
        assert_eq!(manifest.entries.len(), 1);
        assert_eq!(manifest.entries[0].mode, 0o600);
        assert_eq!(manifest.entries[0].path, "etc/kubernetes/admin.conf");
        assert!(parse("0600 nothex etc/x\n").is_err());
        assert!(parse("0600 0000000000000000000000000000000000000000000000000000000000000000 ../../etc/passwd\n").is_err());
        assert!(
            parse("garbage\n")
                .unwrap_err()
                .to_string()
                .starts_with("line 1:")
        );
        assert_eq!(files.files[PATH].mode, 0o600);
        // An error names the line, never what it holds.
        for text in ["s3cr3tpassw0rd x y\n", "s3cr3tpassw0rd: x\n"] {
            let error = parse(text).unwrap_err().to_string();
            assert!(!error.contains("s3cr3t"), "{error}");
        }
    }
}
