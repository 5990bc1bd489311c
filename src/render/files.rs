//! The set of files rendering produces for one host (path, bytes, mode, owner), their modes, and
//! the directories kcompile owns on a host. Every stage after `render` (the bundle's sinks,
//! `diff`, `verify`, `preflight`) consumes a [`FileSet`].

use std::collections::BTreeMap;

use crate::cluster::Identity;

/// Mode of files that hold secrets: private keys, kubeconfigs, static pods (as kubeadm).
pub const SECRET: u32 = 0o600;
/// Mode of public files: certificates, configs readable by everyone.
pub const PUBLIC: u32 = 0o644;
/// Mode of every directory a sink creates (the tar's directory entries, the tree's directories).
pub const DIRECTORY: u32 = 0o755;

/// The directories kcompile creates and owns on a host; their parents are the system's.
const OWNED_DIRECTORIES: [&str; 6] = [
    "etc/kubernetes",
    "etc/haproxy",
    "etc/keepalived",
    "var/lib/kubelet",
    "var/lib/kube-proxy",
    "etc/systemd/system/kubelet.service.d",
];

/// Whether kcompile owns `dir` (relative to the host's root): one of the directories it creates
/// on a host (`etc/kubernetes`, `var/lib/kubelet`, ...) or one below them.
pub fn is_owned_directory(dir: &str) -> bool {
    OWNED_DIRECTORIES.iter().any(|owned| {
        dir.strip_prefix(owned)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Contents.
    pub bytes: Vec<u8>,
    /// Unix permission bits.
    pub mode: u32,
    /// The numeric owner and group: root, or the rootless component that reads the file.
    pub owner: Identity,
}

/// Every file one host needs, by path relative to the host's root (`etc/kubernetes/admin.conf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSet {
    /// Files by relative path, sorted.
    pub files: BTreeMap<String, File>,
}

impl FileSet {
    /// Adds (or replaces) a file; `path` is absolute on the host or relative to its root.
    pub fn add(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>, mode: u32) {
        let path = path.into();
        self.files.insert(
            path.trim_start_matches('/').to_owned(),
            File {
                bytes: bytes.into(),
                mode,
                owner: Identity::ROOT,
            },
        );
    }

    /// Gives the file at `path` (relative to the host's root) to `owner` with `mode`; a path the
    /// set does not hold is left alone.
    pub fn set_owner(&mut self, path: &str, owner: Identity, mode: u32) {
        if let Some(file) = self.files.get_mut(path.trim_start_matches('/')) {
            file.owner = owner;
            file.mode = mode;
        }
    }

    /// Every directory kcompile owns that holds a file (under `etc/kubernetes`, `var/lib/kubelet`,
    /// ...), parents first, sorted. System directories such as `etc/` or `var/lib/` are not
    /// listed: unpacking a bundle at `/` must not reset their modes.
    pub fn directories(&self) -> Vec<String> {
        let mut dirs = std::collections::BTreeSet::new();
        for path in self.files.keys() {
            let mut current = path.as_str();
            while let Some((parent, _)) = current.rsplit_once('/') {
                if is_owned_directory(parent) {
                    dirs.insert(parent.to_owned());
                }
                current = parent;
            }
        }
        dirs.into_iter().collect()
    }
}
