//! The directory sink: writes a bundle under a root (`kcompile build --out DIR`), each file
//! atomically with its exact mode, so a reader (or the kubelet watching the manifests directory)
//! never sees half a file, and removes the files an earlier build wrote that the bundle no longer
//! holds.
//!
//! The tree under the root is treated as hostile: every directory below the root is opened or
//! created relative to its parent's descriptor with `O_NOFOLLOW | O_DIRECTORY`, so a symlink
//! planted at `etc/kubernetes/pki` (or at any file's path) is refused, never followed. The root
//! itself is the path the user named and is resolved as the system resolves any path (a symlink
//! there, or in its parents, is followed); it is created, 0755, when missing.
//!
//! Each file goes to a temp file beside its target (`.kcompile-…`, a name the kubelet skips),
//! created 0600 and then set to its exact mode with `fchmod` (the umask plays no part) and
//! written. When every file of every bundle of the run ([`write_all`]) is staged, one `syncfs`
//! makes them durable, each is renamed over its target, and a second `syncfs` makes the renames
//! and removals durable: two syncs per run, not one per file.
//! Directories are 0755 ([`DIRECTORY`]): those kcompile creates, and those it owns
//! (`etc/kubernetes/…`, `var/lib/kubelet/…`) even when they exist; other existing directories keep
//! their modes.
//!
//! Before writing a host's bundle (a [`FileSet`] with a MANIFEST), the sink reads the MANIFEST the
//! previous build left under the root; after writing, it removes each file that MANIFEST lists,
//! that the new bundle does not produce and whose content still has the sha256 the MANIFEST
//! recorded. What differs (changed since, a link, not a regular file) is left and reported in
//! [`Written::left`]. Directories kcompile owns that pruning emptied are removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use super::inputs::{self, HostDigest};
use super::manifest::{self, Manifest};
use crate::digest::hex;
use crate::render::{DIRECTORY, File, FileSet, SECRET, is_owned_directory};

/// The largest previous MANIFEST the sink reads; a larger one is refused.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// Prefix of the temp files written beside their targets (a dot file: the kubelet skips it).
pub const TEMP_PREFIX: &str = ".kcompile-";

mod error;
pub use error::{Problem, SinkError, Written};

/// Writes `files` under `root` (created 0755 if missing), never through a link, each file with
/// exactly its mode, then prunes what the previous build wrote and this bundle no longer holds
/// (see the module doc). Nothing is written when a link or a file of the wrong kind stands where
/// the bundle needs a directory or a file, or when the previous MANIFEST cannot be read.
pub fn write(files: &FileSet, root: &Path) -> Result<Written, SinkError> {
    let mut written = write_all(&[(files, root)])?;
    Ok(written.remove(0))
}

/// Whether the tree under `root` already holds what a host's bundle with inputs `digest` writes
/// there, so that writing it would change nothing: its stamp ([`super::inputs`]) is the one
/// `digest` gives for the MANIFEST on disk, the MANIFEST and the stamp are 0600, every file the
/// MANIFEST lists is a regular file with its recorded mode and sha256, and every directory
/// kcompile owns on the way is 0755. Nothing is created or changed; links are never followed.
/// Anything missing, odd or unreadable is not current: the caller then writes the bundle with
/// [`write_all`], which reports what is wrong. A current tree's MANIFEST bytes are returned (what
/// a build would write there, so what the state records of it).
pub fn current_manifest(root: &Path, digest: &HostDigest) -> Option<Vec<u8>> {
    // `Tree::open` creates a missing root: a missing root is simply not current.
    fs::symlink_metadata(root).ok()?;
    Tree::open(root).ok()?.current_manifest(digest)
}

/// [`write`]s several bundles, each under its own root (`build --all`), with two `syncfs` in all:
/// every file of every bundle is staged, made durable, then renamed into place; the previous
/// builds' leftovers are pruned; then the directories are made durable. Every bundle is checked
/// before anything is written. A run keeps a few descriptors open per directory of each bundle:
/// give it tens of bundles at a time, not thousands.
pub fn write_all(bundles: &[(&FileSet, &Path)]) -> Result<Vec<Written>, SinkError> {
    let mut trees = Vec::with_capacity(bundles.len());
    for (files, root) in bundles {
        for path in files.files.keys() {
            if !is_plain(path) {
                return Err(SinkError::new(root, path, Problem::BadPath));
            }
        }
        let mut tree = Tree::open(root)?;
        // A host's bundle replaces the one before it; other sets (the tars of `--all --format
        // tar`) only add files.
        let previous = if files.files.contains_key(manifest::PATH) {
            tree.read_manifest()?
        } else {
            None
        };
        for path in files.files.keys() {
            tree.check(path)?;
        }
        trees.push((tree, previous));
    }
    for index in 0..trees.len() {
        let files = bundles[index].0;
        for (path, file) in &files.files {
            if let Err(error) = trees[index].0.stage(path, file) {
                for (tree, _) in &mut trees[..=index] {
                    tree.discard();
                }
                return Err(error);
            }
        }
    }
    sync_filesystems(trees.iter().map(|(tree, _)| tree))?;
    let mut results = Vec::with_capacity(trees.len());
    for ((tree, previous), (files, root)) in trees.iter_mut().zip(bundles) {
        let mut written = Written {
            root: root.to_path_buf(),
            ..Written::default()
        };
        tree.place()?;
        if let Some(previous) = previous {
            tree.prune(previous, files, &mut written);
        }
        results.push(written);
    }
    sync_filesystems(trees.iter().map(|(tree, _)| tree))?;
    Ok(results)
}

/// One `syncfs` per file system the trees are on.
fn sync_filesystems<'t, 'a: 't>(
    trees: impl Iterator<Item = &'t Tree<'a>>,
) -> Result<(), SinkError> {
    let mut synced = BTreeSet::new();
    for tree in trees {
        let root = tree.fd("");
        let device = rustix::fs::fstat(root).map_err(|e| tree.io("", e))?.st_dev;
        if synced.insert(device) {
            rustix::fs::syncfs(root).map_err(|e| tree.io("", e))?;
        }
    }
    Ok(())
}

mod at;
use at::{
    already_there, file_type, is_plain, join, kind, lstat, open_regular, sets_owners, size, split,
};

/// The tree under a root: the directories opened so far, by path relative to the root (`""`
/// is the root), those made ready to write in (created, or given their mode), and the files
/// staged beside their targets, waiting to be renamed over them.
struct Tree<'a> {
    root: &'a Path,
    dirs: BTreeMap<String, OwnedFd>,
    ready: BTreeSet<String>,
    /// Directories kcompile owns found 0755 by [`Tree::current_manifest`].
    checked: BTreeSet<String>,
    staged: Vec<Staged>,
}

/// A file written to a temp file in its directory, not yet renamed over its target.
struct Staged {
    /// Its directory, relative to the root.
    parent: String,
    /// The temp file's name in that directory.
    temp: String,
    /// The target's name in that directory.
    name: String,
}

impl<'a> Tree<'a> {
    /// Opens `root`, creating it (and its missing parents) 0755 when missing.
    fn open(root: &'a Path) -> Result<Tree<'a>, SinkError> {
        let fail = |error: io::Error| SinkError::new(root, "", Problem::Io(error));
        if fs::symlink_metadata(root).is_err() {
            let mut missing = Vec::new();
            let mut current = root;
            while !current.as_os_str().is_empty() && fs::symlink_metadata(current).is_err() {
                missing.push(current);
                match current.parent() {
                    Some(parent) => current = parent,
                    None => break,
                }
            }
            for dir in missing.into_iter().rev() {
                match fs::DirBuilder::new().mode(DIRECTORY).create(dir) {
                    Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(DIRECTORY))
                        .map_err(fail)?,
                    Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(error) => return Err(fail(error)),
                }
            }
        }
        // The root is the user's own argument: resolved as any path is (links followed).
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|error| match (error, fs::metadata(root)) {
            (Errno::NOTDIR, Ok(metadata)) => {
                let kind = if metadata.is_file() {
                    "regular file"
                } else {
                    "special file"
                };
                SinkError::new(root, "", Problem::NotADirectory(kind))
            }
            (error, _) => fail(error.into()),
        })?;
        Ok(Tree {
            root,
            dirs: BTreeMap::from([(String::new(), fd)]),
            ready: BTreeSet::new(),
            checked: BTreeSet::new(),
            staged: Vec::new(),
        })
    }

    fn error(&self, path: &str, problem: Problem) -> SinkError {
        SinkError::new(self.root, path, problem)
    }

    fn io(&self, path: &str, error: impl Into<io::Error>) -> SinkError {
        self.error(path, Problem::Io(error.into()))
    }

    fn fd(&self, dir: &str) -> BorrowedFd<'_> {
        self.dirs[dir].as_fd()
    }

    /// What stands at `name` in `dir` (`path` relative to the root) when it should be a directory
    /// and could not be opened as one with `error`.
    fn not_a_directory(&self, dir: &str, name: &str, path: &str, error: Errno) -> SinkError {
        match lstat(self.fd(dir), name) {
            Ok(Some(stat)) if file_type(&stat) == FileType::Symlink => {
                self.error(path, Problem::Link)
            }
            Ok(Some(stat)) if file_type(&stat) != FileType::Directory => {
                self.error(path, Problem::NotADirectory(kind(&stat)))
            }
            _ => self.io(path, error),
        }
    }

    /// Opens directory `path` (relative to the root) and its parents without following links.
    /// With `create`, missing ones are created, those created and those kcompile owns set to
    /// 0755; without, `Ok(false)` says one is missing.
    fn enter(&mut self, path: &str, create: bool) -> Result<bool, SinkError> {
        let done = if create {
            self.ready.contains(path)
        } else {
            self.dirs.contains_key(path)
        };
        if done {
            return Ok(true);
        }
        if !path.is_empty() {
            let (parent, _) = split(path);
            if !self.enter(parent, create)? {
                return Ok(false);
            }
        }
        let mut created = false;
        if !self.dirs.contains_key(path) {
            let (parent, name) = split(path);
            if create {
                match rustix::fs::mkdirat(self.fd(parent), name, Mode::from_raw_mode(DIRECTORY)) {
                    Ok(()) => created = true,
                    Err(Errno::EXIST) => {}
                    Err(error) => return Err(self.io(path, error)),
                }
            }
            let fd = match rustix::fs::openat(
                self.fd(parent),
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if !create => return Ok(false),
                Err(error) => return Err(self.not_a_directory(parent, name, path, error)),
            };
            self.dirs.insert(path.to_owned(), fd);
        }
        if create {
            if created || is_owned_directory(path) {
                let fd = self.fd(path);
                let stat = rustix::fs::fstat(fd).map_err(|e| self.io(path, e))?;
                if stat.st_mode & 0o7777 != DIRECTORY {
                    rustix::fs::fchmod(fd, Mode::from_raw_mode(DIRECTORY))
                        .map_err(|e| self.io(path, e))?;
                }
            }
            self.ready.insert(path.to_owned());
        }
        Ok(true)
    }

    /// Refuses, before anything is written, a link or a non-directory on the way to `path` and
    /// anything but a regular file at it.
    fn check(&mut self, path: &str) -> Result<(), SinkError> {
        let (parent, name) = split(path);
        if !self.enter(parent, false)? {
            return Ok(());
        }
        self.check_file(parent, name, path)
    }

    /// Refuses anything but a regular file (or nothing) at `name` in `dir`.
    fn check_file(&self, dir: &str, name: &str, path: &str) -> Result<(), SinkError> {
        match lstat(self.fd(dir), name) {
            Ok(None) => Ok(()),
            Ok(Some(stat)) => match file_type(&stat) {
                FileType::RegularFile => Ok(()),
                FileType::Symlink => Err(self.error(path, Problem::Link)),
                _ => Err(self.error(path, Problem::NotAFile(kind(&stat)))),
            },
            Err(error) => Err(self.io(path, error)),
        }
    }

    /// The MANIFEST of the previous build, if there is one.
    fn read_manifest(&mut self) -> Result<Option<Manifest>, SinkError> {
        let path = manifest::PATH;
        let (parent, name) = split(path);
        if !self.enter(parent, false)? {
            return Ok(None);
        }
        self.check_file(parent, name, path)?;
        let (file, stat) = match open_regular(self.fd(parent), name) {
            Ok(opened) => opened,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io(path, error)),
        };
        let too_large = || {
            self.error(
                path,
                Problem::Manifest(format!("larger than {MAX_MANIFEST_BYTES} bytes")),
            )
        };
        if size(&stat) > MAX_MANIFEST_BYTES {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io(path, e))?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(too_large());
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| self.error(path, Problem::Manifest("not UTF-8 text".into())))?;
        manifest::parse(&text)
            .map(Some)
            .map_err(|why| self.error(path, Problem::Manifest(why.to_string())))
    }

    /// Writes one file to a temp file beside its target, with exactly its mode, to be renamed
    /// over it by [`Tree::place`]; a regular file that already holds these bytes with this mode
    /// is left as it is (a warm build rewrites nothing).
    fn stage(&mut self, path: &str, file: &File) -> Result<(), SinkError> {
        let (parent, name) = split(path);
        self.enter(parent, true)?;
        self.check_file(parent, name, path)?;
        let dir = self.fd(parent);
        if already_there(dir, name, file) {
            return Ok(());
        }
        let (temp, fd) = create_temp(dir).map_err(|e| self.io(path, e))?;
        let result = (|| -> io::Result<()> {
            if sets_owners() {
                rustix::fs::fchown(
                    &fd,
                    Some(rustix::fs::Uid::from_raw(file.owner.uid)),
                    Some(rustix::fs::Gid::from_raw(file.owner.gid)),
                )?;
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(file.mode & 0o7777))?;
            fs::File::from(fd).write_all(&file.bytes)
        })();
        if let Err(error) = result {
            let _ = rustix::fs::unlinkat(dir, &temp, AtFlags::empty());
            return Err(self.io(path, error));
        }
        self.staged.push(Staged {
            parent: parent.to_owned(),
            temp,
            name: name.to_owned(),
        });
        Ok(())
    }

    /// Renames every staged file over its target; on a failure, removes the temp files left.
    fn place(&mut self) -> Result<(), SinkError> {
        let mut staged = std::mem::take(&mut self.staged).into_iter();
        while let Some(file) = staged.next() {
            let dir = self.fd(&file.parent);
            if let Err(error) = rustix::fs::renameat(dir, &file.temp, dir, &file.name) {
                self.staged = std::iter::once(file).chain(staged).collect();
                let path = join(&self.staged[0].parent, &self.staged[0].name);
                self.discard();
                return Err(self.io(&path, error));
            }
        }
        Ok(())
    }

    /// Removes the staged temp files (a run that stops before placing them).
    fn discard(&mut self) {
        for file in std::mem::take(&mut self.staged) {
            let _ = rustix::fs::unlinkat(self.fd(&file.parent), &file.temp, AtFlags::empty());
        }
    }

    /// Removes what `previous` lists, `files` does not hold and is unchanged; records the rest.
    fn prune(&mut self, previous: &Manifest, files: &FileSet, written: &mut Written) {
        let mut emptied = BTreeSet::new();
        for entry in &previous.entries {
            let path = entry.path.as_str();
            if files.files.contains_key(path) || path == manifest::PATH {
                continue;
            }
            // A MANIFEST is read from the output tree, which may be a machine's root: only files
            // in directories kcompile owns are ever removed, whatever it lists.
            let owned = path
                .rsplit_once('/')
                .is_some_and(|(parent, _)| is_owned_directory(parent));
            if !owned {
                written.left.push((
                    path.to_owned(),
                    "outside the directories kcompile owns; never removed".into(),
                ));
                continue;
            }
            match self.prune_file(path, &entry.sha256) {
                Ok(false) => {}
                Ok(true) => {
                    written.pruned.push(path.to_owned());
                    let mut current = path;
                    while let Some((parent, _)) = current.rsplit_once('/') {
                        emptied.insert(parent.to_owned());
                        current = parent;
                    }
                }
                Err(why) => written.left.push((path.to_owned(), why.to_string())),
            }
        }
        let kept = files.directories();
        // Children sort after their parents: in reverse, a directory comes before its parent.
        for dir in emptied.iter().rev() {
            if !is_owned_directory(dir) || kept.contains(dir) || !self.dirs.contains_key(dir) {
                continue;
            }
            let (parent, name) = split(dir);
            match rustix::fs::unlinkat(self.fd(parent), name, AtFlags::REMOVEDIR) {
                Ok(()) => {
                    self.dirs.remove(dir.as_str());
                    self.ready.remove(dir.as_str());
                    written.pruned.push(format!("{dir}/"));
                }
                Err(Errno::NOTEMPTY | Errno::EXIST) => {
                    let prefix = format!("{dir}/");
                    if !written.left.iter().any(|(p, _)| p.starts_with(&prefix)) {
                        written.left.push((
                            prefix,
                            "holds files the previous MANIFEST does not list".into(),
                        ));
                    }
                }
                Err(error) => written.left.push((format!("{dir}/"), error.to_string())),
            }
        }
    }

    /// Removes `path` if it is a regular file whose content has `sha256`: `Ok(true)` removed,
    /// `Ok(false)` already gone, `Err(why)` left.
    fn prune_file(&mut self, path: &str, sha256: &str) -> Result<bool, PruneRefusal> {
        if !is_plain(path) {
            return Err(PruneRefusal::NotPlain);
        }
        let (parent, name) = split(path);
        match self.enter(parent, false) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(error) => return Err(PruneRefusal::Directory(error.describe())),
        }
        let dir = self.fd(parent);
        let stat = match lstat(dir, name) {
            Ok(None) => return Ok(false),
            Ok(Some(stat)) => stat,
            Err(error) => return Err(PruneRefusal::Io(error)),
        };
        if file_type(&stat) != FileType::RegularFile {
            return Err(PruneRefusal::NotRegular(kind(&stat)));
        }
        let (mut file, opened) = open_regular(dir, name)?;
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher)?;
        if hex(&hasher.finalize()) != sha256 {
            return Err(PruneRefusal::Changed);
        }
        // The name must still be the file just hashed.
        match lstat(dir, name) {
            Ok(Some(now)) if now.st_dev == opened.st_dev && now.st_ino == opened.st_ino => {}
            _ => return Err(PruneRefusal::Replaced),
        }
        rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(io::Error::from)?;
        Ok(true)
    }

    /// The bytes of the regular file at `path` (relative to the root) if it has `mode` and at most
    /// `limit` bytes; `None` otherwise (missing, a link, another kind, another mode, too large).
    fn read_exact_mode(&mut self, path: &str, mode: u32, limit: u64) -> Option<Vec<u8>> {
        let (parent, name) = split(path);
        if !self.enter(parent, false).ok()? || !self.owned_dirs_ready(parent) {
            return None;
        }
        let (file, stat) = open_regular(self.fd(parent), name).ok()?;
        if stat.st_mode & 0o7777 != mode || size(&stat) > limit {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= limit).then_some(bytes)
    }

    /// Whether every directory kcompile owns from the root down to `dir` (opened) is 0755, as
    /// writing would leave it.
    fn owned_dirs_ready(&mut self, dir: &str) -> bool {
        let mut current = dir;
        loop {
            if !current.is_empty() && is_owned_directory(current) && !self.checked.contains(current)
            {
                let Ok(stat) = rustix::fs::fstat(self.fd(current)) else {
                    return false;
                };
                if stat.st_mode & 0o7777 != DIRECTORY {
                    return false;
                }
                self.checked.insert(current.to_owned());
            }
            match current.rsplit_once('/') {
                Some((parent, _)) => current = parent,
                None if !current.is_empty() => current = "",
                None => return true,
            }
        }
    }

    /// See [`current_manifest`].
    fn current_manifest(&mut self, digest: &HostDigest) -> Option<Vec<u8>> {
        let manifest_bytes = self.read_exact_mode(manifest::PATH, SECRET, MAX_MANIFEST_BYTES)?;
        let stamp = self.read_exact_mode(inputs::PATH, inputs::MODE, 256)?;
        if stamp != digest.stamp(&manifest_bytes) {
            return None;
        }
        let manifest = manifest::parse(std::str::from_utf8(&manifest_bytes).ok()?).ok()?;
        let current = manifest.entries.iter().all(|entry| {
            if !is_plain(&entry.path) {
                return false;
            }
            let (parent, name) = split(&entry.path);
            if !matches!(self.enter(parent, false), Ok(true)) || !self.owned_dirs_ready(parent) {
                return false;
            }
            let Ok((mut file, stat)) = open_regular(self.fd(parent), name) else {
                return false;
            };
            if stat.st_mode & 0o7777 != entry.mode & 0o7777 {
                return false;
            }
            let mut hasher = Sha256::new();
            io::copy(&mut file, &mut hasher).is_ok() && hex(&hasher.finalize()) == entry.sha256
        });
        current.then_some(manifest_bytes)
    }
}

/// Why a file the previous MANIFEST lists is left instead of pruned.
#[derive(Debug, thiserror::Error)]
enum PruneRefusal {
    /// A MANIFEST path with `..`, an absolute path or an empty component.
    #[error("not a plain relative path")]
    NotPlain,
    /// A directory on the way cannot be entered (a link, another kind of file).
    #[error("{0}")]
    Directory(String),
    /// Something else than a regular file stands there now.
    #[error("a {0} now, not the file kcompile wrote; kcompile never follows or removes it")]
    NotRegular(&'static str),
    /// Its contents are not what kcompile wrote.
    #[error("changed since kcompile wrote it")]
    Changed,
    /// Another file took its name while it was hashed.
    #[error("replaced while kcompile read it")]
    Replaced,
    /// The system refused.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Creates a new temp file (0600, exclusive, never through a link) in `dir`.
fn create_temp(dir: BorrowedFd<'_>) -> io::Result<(String, OwnedFd)> {
    loop {
        let random = getrandom::u64().map_err(|e| io::Error::other(e.to_string()))?;
        let name = format!("{TEMP_PREFIX}{random:016x}");
        match rustix::fs::openat(
            dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((name, fd)),
            Err(Errno::EXIST) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests;
