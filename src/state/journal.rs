//! Crash-safe commits. A commit stages every new file under `journal/`, syncs them, then writes
//! `journal/commit.json` with one atomic rename: that rename is the commit point. Applying the
//! commit (retiring old files by hard link, renaming the staged files into place, removing what
//! was retired) is idempotent, so a run killed at any point is finished by the next writer (roll
//! forward); staged files without a `commit.json` are discarded (roll back). Retired files get
//! content-addressed names, so nothing retired is ever overwritten.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::StateError;

/// The journal directory, relative to the state dir.
pub const DIR: &str = "journal";
/// The commit record; its presence means "committed, maybe not yet applied".
pub(super) const COMMIT: &str = "journal/commit.json";
/// Largest file the state reads: every item of a state is a few kilobytes.
pub const MAX_FILE: u64 = 16 << 20;

/// A file the commit writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// Destination, relative to the state dir.
    pub path: String,
    /// The staged copy under `journal/`.
    pub staged: String,
    /// Unix mode.
    pub mode: u32,
    /// sha256 of the contents, hex.
    pub sha256: String,
}

/// A file the commit retires: hard-linked under `retired/`, then (unless rewritten) removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    /// The file retired, relative to the state dir.
    pub from: String,
    /// Its retired name (`retired/<from>.<sha256 prefix>`).
    pub to: String,
    /// sha256 of the retired contents, hex.
    pub sha256: String,
}

/// A committed change set, as `journal/commit.json` records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Files retired first.
    pub retirements: Vec<Retirement>,
    /// Files written, in order (the inventory last).
    pub writes: Vec<Write>,
}

impl Commit {
    /// Where `path` is to be read while this commit is unfinished: the staged copy of a file it
    /// writes (until moved into place), the original of a file it retires (until linked under
    /// `retired/`); `Some(None)` for a file it removes; `None` if it does not touch `path`.
    pub fn overlay(&self, root: &Path, path: &str) -> Option<Option<std::path::PathBuf>> {
        if let Some(write) = self.writes.iter().find(|w| w.path == path) {
            let staged = root.join(&write.staged);
            return Some(Some(if staged.exists() {
                staged
            } else {
                root.join(path)
            }));
        }
        if let Some(retirement) = self.retirements.iter().find(|r| r.to == path) {
            // Linked under `retired/` by the apply step; until then the original still holds it.
            let retired = root.join(path);
            return Some(Some(if retired.exists() {
                retired
            } else {
                root.join(&retirement.from)
            }));
        }
        if self.retirements.iter().any(|r| r.from == path) {
            return Some(None);
        }
        None
    }
}

/// What opening for writing found in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No journal: the last run finished.
    Clean,
    /// A committed change set was finished.
    RolledForward,
    /// Staged files of a run that stopped before its commit point were discarded.
    RolledBack,
}

/// The committed but unfinished change set, if any.
pub fn pending(root: &Path) -> Result<Option<Commit>, StateError> {
    let path = root.join(COMMIT);
    match read_bounded(&path)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(StateError::BadJournal),
    }
}

/// Finishes or discards what an interrupted run left in the journal.
pub fn recover(root: &Path) -> Result<Recovery, StateError> {
    if let Some(commit) = pending(root)? {
        apply(root, &commit)?;
        return Ok(Recovery::RolledForward);
    }
    let dir = root.join(DIR);
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Recovery::Clean),
        Err(e) => Err(StateError::io("inspect", &dir, e)),
        Ok(_) => {
            fs::remove_dir_all(&dir).map_err(|e| StateError::io("remove", &dir, e))?;
            sync_dir(root)?;
            Ok(Recovery::RolledBack)
        }
    }
}

/// Commits `writes` (path, bytes, mode) and `retirements` atomically, then applies them.
pub fn commit(
    root: &Path,
    writes: &[(String, Vec<u8>, u32)],
    retirements: Vec<Retirement>,
) -> Result<(), StateError> {
    let dir = root.join(DIR);
    make_dir(&dir)?;
    let mut commit = Commit {
        retirements,
        writes: Vec::with_capacity(writes.len()),
    };
    for (index, (path, bytes, mode)) in writes.iter().enumerate() {
        let staged = format!("{DIR}/{index}");
        write_new(&root.join(&staged), bytes, *mode, false)?;
        commit.writes.push(Write {
            path: path.clone(),
            staged,
            mode: *mode,
            sha256: super::sha256(bytes),
        });
    }
    // Every staged file durable at once (one syncfs, not one fsync per file), before the commit
    // record that names them.
    let journal = File::open(&dir).map_err(|e| StateError::io("open", &dir, e))?;
    rustix::fs::syncfs(&journal).map_err(|e| StateError::io("sync", &dir, e.into()))?;
    let text = serde_json::to_vec_pretty(&commit).unwrap_or_default();
    let temp = dir.join("commit.tmp");
    write_new(&temp, &text, 0o600, true)?;
    sync_dir(&dir)?;
    // The commit point.
    let target = root.join(COMMIT);
    fs::rename(&temp, &target).map_err(|e| StateError::io("commit", &target, e))?;
    sync_dir(&dir)?;
    apply(root, &commit)
}

/// Applies a committed change set; safe to run again after a kill at any step. The retired links
/// are synced before the renames that replace their originals; every other entry is synced once,
/// before the commit record goes.
fn apply(root: &Path, commit: &Commit) -> Result<(), StateError> {
    let mut touched = std::collections::BTreeSet::new();
    for retirement in &commit.retirements {
        let to = root.join(&retirement.to);
        match read_bounded(&to)? {
            Some(bytes) if super::sha256(&bytes) == retirement.sha256 => continue,
            Some(_) => {
                return Err(StateError::RetiredCopyTaken {
                    to: retirement.to.clone(),
                });
            }
            None => {}
        }
        let from = root.join(&retirement.from);
        match read_bounded(&from)? {
            Some(bytes) if super::sha256(&bytes) == retirement.sha256 => {}
            _ => {
                return Err(StateError::RetiredSourceChanged {
                    from: retirement.from.clone(),
                    to: retirement.to.clone(),
                });
            }
        }
        let parent = to.parent().unwrap_or(root);
        make_dir(parent)?;
        fs::hard_link(&from, &to).map_err(|e| StateError::io("retire", &from, e))?;
        touched.insert(parent.to_owned());
    }
    sync_dirs(&mut touched)?;
    for write in &commit.writes {
        let staged = root.join(&write.staged);
        let target = root.join(&write.path);
        let parent = target.parent().unwrap_or(root);
        if fs::symlink_metadata(&staged).is_ok() {
            make_dir(parent)?;
            fs::rename(&staged, &target).map_err(|e| StateError::io("rename into", &target, e))?;
            touched.insert(parent.to_owned());
        } else {
            let done = read_bounded(&target)?.is_some_and(|b| super::sha256(&b) == write.sha256);
            if !done {
                return Err(StateError::StagedCopyLost {
                    path: write.path.clone(),
                });
            }
        }
    }
    for retirement in &commit.retirements {
        if commit.writes.iter().any(|w| w.path == retirement.from) {
            continue;
        }
        let from = root.join(&retirement.from);
        match fs::remove_file(&from) {
            Ok(()) => {
                touched.insert(from.parent().unwrap_or(root).to_owned());
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(StateError::io("remove", &from, e)),
        }
    }
    sync_dirs(&mut touched)?;
    let commit_file = root.join(COMMIT);
    match fs::remove_file(&commit_file) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(StateError::io("remove", &commit_file, e)),
    }
    let dir = root.join(DIR);
    fs::remove_dir_all(&dir).map_err(|e| StateError::io("remove", &dir, e))?;
    sync_dir(root)
}

/// The bytes of a regular file, `None` if it does not exist. Refuses links, devices, FIFOs and
/// files larger than [`MAX_FILE`], without blocking on them.
pub fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(StateError::Link {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(StateError::io("read", path, e)),
    };
    let metadata = file
        .metadata()
        .map_err(|e| StateError::io("read", path, e))?;
    if !metadata.is_file() {
        return Err(StateError::NotRegular {
            path: path.to_owned(),
        });
    }
    if metadata.len() > MAX_FILE {
        return Err(StateError::TooLarge {
            path: path.to_owned(),
            size: metadata.len(),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StateError::io("read", path, e))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(StateError::Grew {
            path: path.to_owned(),
        });
    }
    Ok(Some(bytes))
}

/// fsync of each directory in `dirs`, which is emptied.
fn sync_dirs(dirs: &mut std::collections::BTreeSet<std::path::PathBuf>) -> Result<(), StateError> {
    for dir in std::mem::take(dirs) {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// Creates `path` (`O_EXCL`, never through a link) with `mode` whatever the umask; syncs it when
/// `sync` (else the caller syncs many at once).
fn write_new(path: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<(), StateError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| StateError::io("create", path, e))?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| StateError::io("chmod", path, e))?;
    file.write_all(bytes)
        .map_err(|e| StateError::io("write", path, e))?;
    if sync {
        file.sync_all()
            .map_err(|e| StateError::io("sync", path, e))?;
    }
    Ok(())
}

/// Creates `dir` and its parents 0700 (whatever the umask), syncing each new one's parent.
pub fn make_dir(dir: &Path) -> Result<(), StateError> {
    match fs::symlink_metadata(dir) {
        Ok(metadata) if metadata.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(StateError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(StateError::io("inspect", dir, e)),
    }
    let parent = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    make_dir(parent)?;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(StateError::io("create", dir, e)),
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| StateError::io("chmod", dir, e))?;
    sync_dir(parent)
}

/// fsync of a directory, so that a rename or link in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StateError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StateError::io("sync", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let relative = e.path().strip_prefix(root).unwrap();
                (
                    relative.to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn a_commit_retires_by_link_and_never_overwrites() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        commit(
            root,
            &[("pki/sa.key".into(), b"old".to_vec(), 0o600)],
            vec![],
        )
        .unwrap();
        let retire = Retirement {
            from: "pki/sa.key".into(),
            to: "retired/pki/sa.key.x".into(),
            sha256: crate::digest::sha256(b"old"),
        };
        commit(
            root,
            &[("pki/sa.key".into(), b"new".to_vec(), 0o600)],
            vec![retire.clone()],
        )
        .unwrap();
        assert_eq!(
            tree(root),
            [
                ("pki/sa.key".to_owned(), b"new".to_vec()),
                ("retired/pki/sa.key.x".to_owned(), b"old".to_vec())
            ]
        );
        // Retiring other contents under the same name is refused.
        let error = commit(
            root,
            &[],
            vec![Retirement {
                sha256: crate::digest::sha256(b"new"),
                ..retire
            }],
        )
        .unwrap_err();
        assert!(error.to_string().contains("never overwrites"), "{error}");
    }

    #[test]
    fn recovery_rolls_a_commit_forward_and_staged_files_back() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        commit(root, &[("a".into(), b"1".to_vec(), 0o600)], vec![]).unwrap();
        // Staged but not committed: discarded.
        make_dir(&root.join(DIR)).unwrap();
        write_new(&root.join("journal/0"), b"2", 0o600, true).unwrap();
        assert_eq!(recover(root).unwrap(), Recovery::RolledBack);
        assert_eq!(tree(root), [("a".to_owned(), b"1".to_vec())]);
        // Committed, half applied: finished.
        let record = Commit {
            retirements: vec![Retirement {
                from: "a".into(),
                to: "retired/a.1".into(),
                sha256: crate::digest::sha256(b"1"),
            }],
            writes: vec![Write {
                path: "b".into(),
                staged: "journal/0".into(),
                mode: 0o600,
                sha256: crate::digest::sha256(b"3"),
            }],
        };
        make_dir(&root.join(DIR)).unwrap();
        write_new(&root.join("journal/0"), b"3", 0o600, true).unwrap();
        write_new(
            &root.join(COMMIT),
            &serde_json::to_vec(&record).unwrap(),
            0o600,
            true,
        )
        .unwrap();
        assert_eq!(
            record.overlay(root, "b"),
            Some(Some(root.join("journal/0")))
        );
        assert_eq!(record.overlay(root, "a"), Some(None));
        assert_eq!(recover(root).unwrap(), Recovery::RolledForward);
        assert_eq!(
            tree(root),
            [
                ("b".to_owned(), b"3".to_vec()),
                ("retired/a.1".to_owned(), b"1".to_vec())
            ]
        );
        assert_eq!(recover(root).unwrap(), Recovery::Clean);
    }

    #[test]
    fn reads_refuse_links_and_fifos_without_blocking() {
        let temp = tempfile::tempdir().unwrap();
        let link = temp.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert!(
            read_bounded(&link)
                .unwrap_err()
                .to_string()
                .contains("symbolic link")
        );
        let fifo = temp.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            read_bounded(&fifo)
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        assert_eq!(read_bounded(&temp.path().join("none")).unwrap(), None);
    }
}
