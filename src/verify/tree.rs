//! The files `verify` looks at, read once into memory: from a root on disk (only the paths kcompile
//! and kubeadm manage, through [`Root`]: links resolve as if the root were `/` and never out of
//! it, only regular files are opened, none larger than [`MAX_FILE`]) or from a bundle tar (each
//! entry bounded the same way). Links that cannot be followed, FIFOs, devices, oversized and
//! unreadable files become findings, not failures.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component as PathPart, Path, PathBuf};

use super::{Finding, Unreadable};
use crate::root::{MAX_FILE, Root, RootError};

/// Directories read recursively, relative to the root.
const TREES: [&str; 1] = ["etc/kubernetes"];
/// Directories whose files (not subdirectories) are read.
const FLAT_DIRS: [&str; 3] = [
    "var/lib/kubelet/pki",
    "var/lib/kube-proxy",
    "etc/systemd/system/kubelet.service.d",
];
/// Single files.
const FILES: [&str; 4] = [
    "var/lib/kubelet/config.yaml",
    "var/lib/kubelet/kubeadm-flags.env",
    "etc/systemd/system/kubelet.service",
    HOSTNAME,
];
/// The host's name, the kubelet's node name unless it is overridden. Read only to know the node:
/// a root that holds this file alone holds nothing to verify.
pub const HOSTNAME: &str = "etc/hostname";
/// How deep `etc/kubernetes` is read.
const MAX_DEPTH: usize = 8;
/// The most bytes a tree holds, all files together: 64 MiB. A kubeadm control plane's managed
/// files come to about 150 KiB; a root or tar with thousands of files near [`MAX_FILE`] under
/// `etc/kubernetes` is not a host's configuration, and is not read past this.
const MAX_TREE: u64 = 64 << 20;
/// The start of the warning for the first file not read past [`MAX_TREE`].
const FULL: &str = "not read, nor any file after it: the files read before it already hold";

/// Whether `path` (relative, `/`-separated) is one of the paths `verify` reads.
pub fn managed(path: &str) -> bool {
    TREES
        .iter()
        .any(|dir| path == *dir || path.starts_with(&format!("{dir}/")))
        || FLAT_DIRS.iter().any(|dir| {
            path.strip_prefix(dir)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.is_empty() && !name.contains('/'))
        })
        || FILES.contains(&path)
}

/// A host's managed files, by path relative to its root.
#[derive(Debug, Default)]
pub struct Tree {
    /// Path (`etc/kubernetes/pki/ca.crt`) → contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Path → permission bits (`0o600`), for the files of `files` whose mode is known.
    pub modes: BTreeMap<String, u32>,
    /// Path → owner (user id, group id), for the files of `files` whose owner is known.
    pub owners: BTreeMap<String, (u32, u32)>,
    /// What went wrong while reading (symlinks out of the root, unreadable files).
    pub problems: Vec<Finding>,
    /// The root on disk, to show full paths; `None` for a tar (paths show as on the host).
    root: Option<PathBuf>,
    /// The bytes of `files`, together.
    held: u64,
}

impl Tree {
    /// The file at `path` (relative), if the tree has it.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The permission bits of the file at `path` (relative), when known.
    pub fn mode(&self, path: &str) -> Option<u32> {
        self.modes.get(path).copied()
    }

    /// The owner (user id, group id) of the file at `path` (relative), when known.
    pub fn owner(&self, path: &str) -> Option<(u32, u32)> {
        self.owners.get(path).copied()
    }

    /// Whether the tree holds any file besides [`HOSTNAME`].
    pub fn holds_configuration(&self) -> bool {
        self.files.keys().any(|path| path != HOSTNAME)
    }

    /// Whether the tree has `path` as a file or as a directory with files under it.
    pub fn has(&self, path: &str) -> bool {
        let dir = format!("{}/", path.trim_end_matches('/'));
        self.files.contains_key(path)
            || self
                .files
                .range(dir.clone()..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(&dir))
    }

    /// How to show `path` to the user: under the root for a root, as on the host for a tar.
    pub fn display(&self, path: &str) -> String {
        match &self.root {
            Some(root) => root.join(path).display().to_string(),
            None => format!("/{path}"),
        }
    }

    /// Reads the managed paths under `root`.
    pub fn from_root(root: &Path) -> Result<Tree, Unreadable> {
        let machine = Root::open(root).map_err(|error| Unreadable {
            message: error.to_string(),
            hint: "name the machine's root with --root (`/` on the machine itself) or a bundle tar"
                .into(),
        })?;
        let mut tree = Tree {
            root: Some(root.to_owned()),
            ..Tree::default()
        };
        for dir in TREES {
            tree.walk(&machine, dir, MAX_DEPTH);
        }
        for dir in FLAT_DIRS {
            tree.walk(&machine, dir, 1);
        }
        for file in FILES {
            tree.load(&machine, file);
        }
        Ok(tree)
    }

    /// Reads every file under `dir` (to `depth` levels).
    fn walk(&mut self, machine: &Root, dir: &str, depth: usize) {
        match machine.walk(dir, depth) {
            Ok(entries) => {
                for entry in entries {
                    match entry.found {
                        Ok(_) => self.load(machine, &entry.path),
                        Err(error) => self.problem(&error),
                    }
                }
            }
            Err(error) => self.problem(&error),
        }
    }

    /// Reads one file if it exists.
    fn load(&mut self, machine: &Root, relative: &str) {
        if self.full(relative) {
            return;
        }
        match machine.read_file(relative) {
            Ok(Some(contents)) => {
                self.modes.insert(relative.to_owned(), contents.mode);
                self.owners.insert(relative.to_owned(), contents.owner);
                self.insert(relative.to_owned(), contents.bytes);
            }
            Ok(None) => {}
            Err(error) => self.problem(&error),
        }
    }

    /// Keeps a file's contents.
    fn insert(&mut self, path: String, bytes: Vec<u8>) {
        self.held += bytes.len() as u64;
        if let Some(old) = self.files.insert(path, bytes) {
            self.held -= old.len() as u64;
        }
    }

    /// Whether the tree already holds [`MAX_TREE`] bytes; then `path` is not read, and the first
    /// such path is a warning.
    fn full(&mut self, path: &str) -> bool {
        if self.held < MAX_TREE {
            return false;
        }
        let said = self
            .problems
            .iter()
            .any(|finding| finding.message.starts_with(FULL));
        if !said {
            let shown = self.display(path);
            self.problems.push(Finding::warning(
                shown,
                format!(
                    "{FULL} {} MiB, more than a host's configuration can be",
                    MAX_TREE >> 20
                ),
            ));
        }
        true
    }

    /// A path of the root that cannot be read, as a finding: a link not followed or a file too
    /// large to be configuration is a warning (it is not checked); a FIFO, socket or device
    /// where only files belong, or a file that cannot be read, is an error.
    fn problem(&mut self, error: &RootError) {
        let shown = self.display(error.path());
        let reason = match error {
            RootError::NotRegular { .. } => format!(
                "{}; kcompile and kubeadm write only regular files here, and a component \
                 reading it would hang or fail",
                error.reason()
            ),
            RootError::TooLarge { .. } | RootError::TooMany { .. } => {
                format!("{}, so it is not checked", error.reason())
            }
            RootError::Io { .. } | RootError::BadName { .. } => format!(
                "{}, so it is not checked; run as a user who can read it",
                error.reason()
            ),
            _ => error.reason(),
        };
        self.problems.push(match error {
            RootError::NotRegular { .. } | RootError::Io { .. } | RootError::BadName { .. } => {
                Finding::error(shown, reason)
            }
            _ => Finding::warning(shown, reason),
        });
    }

    /// Reads a bundle tar (`-` is stdin) as a stream, keeping the managed paths in memory: each
    /// entry up to [`MAX_FILE`] (a larger one is a warning, not read), all of them up to
    /// `MAX_TREE`. A FIFO or device entry at a managed path is an error.
    pub fn from_tar(file: &Path) -> Result<Tree, Unreadable> {
        let shown = file.display();
        // The file is the user's to name: a pipe (`verify <(kcompile build …)`) is read as one.
        let input: Box<dyn Read> = if file == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            let opened = std::fs::File::open(file).map_err(|e| Unreadable {
                message: format!("cannot read `{shown}`: {e}"),
                hint: "name a bundle tar (`kcompile build --host H > H.tar`) or a root with --root"
                    .into(),
            })?;
            Box::new(opened)
        };
        let not_a_tar = |why: String| Unreadable {
            message: format!("`{shown}` is not a tar archive: {why}"),
            hint: "`kcompile build --host H > H.tar` writes one; for an unpacked tree use --root"
                .into(),
        };
        let mut tree = Tree::default();
        let mut links = Vec::new();
        let mut archive = tar::Archive::new(std::io::BufReader::new(input));
        let entries = archive.entries().map_err(|e| not_a_tar(e.to_string()))?;
        for (seen, entry) in entries.enumerate() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) if seen == 0 => return Err(not_a_tar(error.to_string())),
                Err(error) => {
                    tree.problems.push(Finding::error(
                        format!("{shown}"),
                        format!("the archive is damaged after {seen} entries: {error}"),
                    ));
                    break;
                }
            };
            let Some(path) = entry.path().ok().and_then(|p| normalize(Path::new(""), &p)) else {
                continue;
            };
            if !managed(&path) {
                continue;
            }
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                if let Ok(Some(target)) = entry.link_name() {
                    links.push((path, target.into_owned(), kind.is_symlink()));
                }
            } else if kind.is_file() {
                let size = entry.header().size().unwrap_or(u64::MAX);
                if let Ok(mode) = entry.header().mode() {
                    tree.modes.insert(path.clone(), mode & 0o7777);
                }
                let header = entry.header();
                if let (Ok(uid), Ok(gid)) = (header.uid(), header.gid())
                    && let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid))
                {
                    tree.owners.insert(path.clone(), (uid, gid));
                }
                tree.load_entry(path, size, entry);
            } else if kind.is_fifo() || kind.is_character_special() || kind.is_block_special() {
                let what = if kind.is_fifo() {
                    "a named pipe"
                } else {
                    "a device node"
                };
                tree.problems.push(Finding::error(
                    format!("/{path}"),
                    format!(
                        "is {what} in the archive, not a regular file; kcompile and kubeadm write \
                         only regular files here"
                    ),
                ));
            }
        }
        for (path, target, symbolic) in links {
            let parent = Path::new(&path).parent().unwrap_or(Path::new(""));
            let base = if symbolic { parent } else { Path::new("") };
            match normalize(base, &target) {
                Some(resolved) => {
                    if let Some(bytes) = tree.files.get(&resolved).cloned()
                        && !tree.full(&path)
                    {
                        if let Some(mode) = tree.mode(&resolved) {
                            tree.modes.insert(path.clone(), mode);
                        }
                        if let Some(owner) = tree.owner(&resolved) {
                            tree.owners.insert(path.clone(), owner);
                        }
                        tree.insert(path, bytes);
                    }
                }
                None => tree.problems.push(Finding::warning(
                    format!("/{path}"),
                    format!(
                        "is a link to `{}`, outside the bundle: not followed",
                        target.display()
                    ),
                )),
            }
        }
        Ok(tree)
    }

    /// Keeps one file entry of a tar, bounded by [`MAX_FILE`] and [`MAX_TREE`].
    fn load_entry(&mut self, path: String, size: u64, entry: impl Read) {
        let too_large = |size: u64| {
            Finding::warning(
                format!("/{path}"),
                format!(
                    "is {size} bytes, more than the {} MiB limit for a Kubernetes file: not \
                     read, so it is not checked",
                    MAX_FILE >> 20
                ),
            )
        };
        if size > MAX_FILE {
            self.problems.push(too_large(size));
            return;
        }
        if self.full(&path) {
            return;
        }
        let mut contents = Vec::new();
        match entry.take(MAX_FILE + 1).read_to_end(&mut contents) {
            Ok(read) if read as u64 > MAX_FILE => self.problems.push(too_large(read as u64)),
            Ok(_) => self.insert(path, contents),
            Err(error) => self.problems.push(Finding::error(
                format!("/{path}"),
                format!("cannot be read from the archive: {error}"),
            )),
        }
    }
}

/// `target` (absolute = from the root, relative = from `base`) as a root-relative path; `None`
/// when it climbs out of the root.
fn normalize(base: &Path, target: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if !target.is_absolute() {
        parts.extend(base.iter().map(|p| p.to_string_lossy().into_owned()));
    }
    for part in target.components() {
        match part {
            PathPart::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            PathPart::ParentDir => {
                parts.pop()?;
            }
            PathPart::CurDir | PathPart::RootDir | PathPart::Prefix(_) => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_paths() {
        assert!(managed("etc/kubernetes/pki/etcd/ca.crt"));
        assert!(managed("var/lib/kubelet/pki/kubelet.crt"));
        assert!(managed("var/lib/kubelet/config.yaml"));
        assert!(!managed("var/lib/kubelet/pods/x"));
        assert!(!managed("etc/passwd"));
    }

    #[test]
    fn links_resolve_inside_the_root_only() {
        let base = Path::new("var/lib/kubelet/pki");
        assert_eq!(
            normalize(base, Path::new("kubelet-client-1.pem")).as_deref(),
            Some("var/lib/kubelet/pki/kubelet-client-1.pem")
        );
        assert_eq!(
            normalize(base, Path::new("/etc/kubernetes/x")).as_deref(),
            Some("etc/kubernetes/x")
        );
        assert_eq!(
            normalize(base, Path::new("../../../../../etc/shadow")),
            None
        );
    }

    #[test]
    fn tar_entries_are_bounded_and_pipes_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, data).unwrap();
        };
        add(
            "etc/kubernetes/big.conf",
            tar::EntryType::Regular,
            &vec![b'x'; usize::try_from(MAX_FILE).unwrap() + 1],
        );
        add(
            "etc/kubernetes/manifests/pipe.yaml",
            tar::EntryType::Fifo,
            b"",
        );
        add("etc/kubernetes/pki/ca.crt", tar::EntryType::Regular, b"ca");
        let bytes = builder.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bundle.tar");
        std::fs::write(&file, bytes).unwrap();
        let tree = Tree::from_tar(&file).unwrap();
        assert_eq!(
            tree.files.keys().collect::<Vec<_>>(),
            ["etc/kubernetes/pki/ca.crt"]
        );
        assert_eq!(tree.mode("etc/kubernetes/pki/ca.crt"), Some(0o644));
        let messages: Vec<String> = tree
            .problems
            .iter()
            .map(|f| format!("{}: {}", f.file, f.message))
            .collect();
        assert!(
            messages[0].starts_with(
                "/etc/kubernetes/big.conf: is 4194305 bytes, more than the 4 MiB limit"
            ),
            "{messages:?}"
        );
        assert!(
            messages[1]
                .starts_with("/etc/kubernetes/manifests/pipe.yaml: is a named pipe in the archive"),
            "{messages:?}"
        );
        assert_eq!(tree.problems[1].severity, super::super::Severity::Error);
    }
}
