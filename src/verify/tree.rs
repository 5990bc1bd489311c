//! The files `verify` looks at, read once into memory: from a root on disk (only the paths kcompile
//! and kubeadm manage, never following a symlink out of the root) or from a bundle tar. Symlinks
//! that leave the root and files that cannot be read become findings, not failures.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component as PathPart, Path, PathBuf};

use super::{Finding, Unreadable};

/// Directories read recursively, relative to the root.
const TREES: [&str; 1] = ["etc/kubernetes"];
/// Directories whose files (not subdirectories) are read.
const FLAT_DIRS: [&str; 3] = [
    "var/lib/kubelet/pki",
    "var/lib/kube-proxy",
    "etc/systemd/system/kubelet.service.d",
];
/// Single files.
const FILES: [&str; 2] = [
    "var/lib/kubelet/config.yaml",
    "etc/systemd/system/kubelet.service",
];
/// How deep `etc/kubernetes` is read (a symlink loop stops here).
const MAX_DEPTH: usize = 8;
/// Larger files are not configuration: skipped with a warning.
const MAX_FILE: u64 = 8 << 20;

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
    /// What went wrong while reading (symlinks out of the root, unreadable files).
    pub problems: Vec<Finding>,
    /// The root on disk, to show full paths; `None` for a tar (paths show as on the host).
    root: Option<PathBuf>,
}

impl Tree {
    /// The file at `path` (relative), if the tree has it.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
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
        let unreadable = |what: String| Unreadable {
            message: what,
            hint: "name the machine's root with --root (`/` on the machine itself) or a bundle tar"
                .into(),
        };
        let metadata = std::fs::metadata(root)
            .map_err(|e| unreadable(format!("cannot read the root `{}`: {e}", root.display())))?;
        if !metadata.is_dir() {
            return Err(unreadable(format!(
                "the root `{}` is not a directory",
                root.display()
            )));
        }
        let canonical = root.canonicalize().map_err(|e| {
            unreadable(format!("cannot resolve the root `{}`: {e}", root.display()))
        })?;
        let mut tree = Tree {
            root: Some(root.to_owned()),
            ..Tree::default()
        };
        let reader = RootReader {
            root,
            canonical: &canonical,
        };
        for dir in TREES {
            reader.walk(dir, MAX_DEPTH, &mut tree);
        }
        for dir in FLAT_DIRS {
            reader.walk(dir, 1, &mut tree);
        }
        for file in FILES {
            reader.read(file, &mut tree);
        }
        Ok(tree)
    }

    /// Reads a bundle tar (`-` is stdin) into memory, keeping the managed paths.
    pub fn from_tar(file: &Path) -> Result<Tree, Unreadable> {
        let shown = file.display();
        let mut bytes = Vec::new();
        let read = if file == Path::new("-") {
            std::io::stdin().read_to_end(&mut bytes)
        } else {
            std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes))
        };
        read.map_err(|e| Unreadable {
            message: format!("cannot read `{shown}`: {e}"),
            hint: "name a bundle tar (`kcompile build --host H > H.tar`) or a root with --root"
                .into(),
        })?;
        let not_a_tar = |why: String| Unreadable {
            message: format!("`{shown}` is not a tar archive: {why}"),
            hint: "`kcompile build --host H > H.tar` writes one; for an unpacked tree use --root"
                .into(),
        };
        let mut tree = Tree::default();
        let mut links = Vec::new();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries = archive.entries().map_err(|e| not_a_tar(e.to_string()))?;
        for (seen, entry) in entries.enumerate() {
            let mut entry = match entry {
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
                let mut contents = Vec::new();
                match entry.read_to_end(&mut contents) {
                    Ok(_) => {
                        tree.files.insert(path, contents);
                    }
                    Err(error) => tree.problems.push(Finding::error(
                        format!("/{path}"),
                        format!("cannot be read from the archive: {error}"),
                    )),
                }
            }
        }
        for (path, target, symbolic) in links {
            let parent = Path::new(&path).parent().unwrap_or(Path::new(""));
            let base = if symbolic { parent } else { Path::new("") };
            match normalize(base, &target) {
                Some(resolved) => {
                    if let Some(bytes) = tree.files.get(&resolved).cloned() {
                        tree.files.insert(path, bytes);
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

struct RootReader<'a> {
    root: &'a Path,
    canonical: &'a Path,
}

impl RootReader<'_> {
    /// Reads every file under `dir` (to `depth` levels), refusing symlinks out of the root.
    fn walk(&self, dir: &str, depth: usize, tree: &mut Tree) {
        if std::fs::symlink_metadata(self.root.join(dir)).is_err() {
            return;
        }
        let Some(resolved) = self.resolve(dir, tree) else {
            return;
        };
        if !resolved.is_dir() {
            return;
        }
        let names = match std::fs::read_dir(&resolved) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Err(error) => {
                let shown = self.root.join(dir).display().to_string();
                tree.problems.push(Finding::error(
                    shown,
                    format!("cannot be read ({error}): the files in it are not checked"),
                ));
                return;
            }
        };
        for name in names {
            let relative = format!("{dir}/{name}");
            let Some(resolved) = self.resolve(&relative, tree) else {
                continue;
            };
            if resolved.is_dir() {
                if depth > 1 {
                    self.walk(&relative, depth - 1, tree);
                }
            } else {
                self.load(&relative, &resolved, tree);
            }
        }
    }

    /// Reads one file if it exists.
    fn read(&self, relative: &str, tree: &mut Tree) {
        if std::fs::symlink_metadata(self.root.join(relative)).is_err() {
            return;
        }
        if let Some(resolved) = self.resolve(relative, tree)
            && resolved.is_file()
        {
            self.load(relative, &resolved, tree);
        }
    }

    /// The real path of `relative` if it stays inside the root; a warning otherwise. A symlink
    /// to a file by an absolute path is also tried under the root (a machine's disk mounted
    /// elsewhere: the kubelet's `kubelet-client-current.pem` points to `/var/lib/kubelet/pki/…`).
    fn resolve(&self, relative: &str, tree: &mut Tree) -> Option<PathBuf> {
        let path = self.root.join(relative);
        let direct = path.canonicalize();
        if let Ok(resolved) = &direct
            && resolved.starts_with(self.canonical)
        {
            return Some(resolved.clone());
        }
        let target = std::fs::read_link(&path).ok();
        if let Some(target) = target.as_ref().filter(|t| t.is_absolute())
            && let Ok(rebased) = self
                .root
                .join(target.strip_prefix("/").unwrap_or(target))
                .canonicalize()
            && rebased.starts_with(self.canonical)
            && rebased.is_file()
        {
            return Some(rebased);
        }
        let shown = path.display().to_string();
        tree.problems.push(match (direct, target) {
            (Ok(resolved), _) => Finding::warning(
                shown,
                format!(
                    "is a symlink to `{}`, outside the root: not followed",
                    resolved.display()
                ),
            ),
            (Err(_), Some(target)) => Finding::warning(
                shown,
                format!(
                    "is a symlink to `{}`, which does not exist: not followed",
                    target.display()
                ),
            ),
            (Err(error), None) => Finding::error(shown, format!("cannot be read: {error}")),
        });
        None
    }

    fn load(&self, relative: &str, resolved: &Path, tree: &mut Tree) {
        let shown = self.root.join(relative).display().to_string();
        let size = std::fs::metadata(resolved).map(|m| m.len()).unwrap_or(0);
        if size > MAX_FILE {
            tree.problems.push(Finding::warning(
                shown,
                format!("is {size} bytes, too large for a configuration file: not checked"),
            ));
            return;
        }
        match std::fs::read(resolved) {
            Ok(bytes) => {
                tree.files.insert(relative.to_owned(), bytes);
            }
            Err(error) => tree.problems.push(Finding::error(
                shown,
                format!(
                    "cannot be read ({error}), so it is not checked; run as a user who can read it"
                ),
            )),
        }
    }
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
}
