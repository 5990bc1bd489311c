//! The state dir: the only place kcompile keeps anything between runs (CAs, keys, issued
//! certificates with the record of what each was issued from, generated secrets). Created 0700,
//! locked for the whole build, every file written atomically (temp file, fsync, rename, fsync of
//! the directory), never deleted.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An open, locked state dir.
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    // Held for the lifetime of the value; the OS releases the lock when the file closes.
    _lock: File,
}

/// A state dir problem: what and where.
#[derive(Debug)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn io_error(action: &str, path: &Path, error: &std::io::Error) -> StateError {
    StateError(format!("cannot {action} `{}`: {error}", path.display()))
}

impl StateDir {
    /// Opens (creating it 0700 if needed) and locks the state dir. If another build holds the
    /// lock, says so on stderr and waits for it.
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| io_error("create the state dir", root, &e))?;
        let lock_path = root.join("lock");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_error("open", &lock_path, &e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                eprintln!(
                    "waiting for the state dir lock `{}`, held by {}",
                    lock_path.display(),
                    holder
                        .trim()
                        .strip_prefix("pid ")
                        .map_or("another build".to_owned(), |pid| format!("pid {pid}"))
                );
                lock.lock().map_err(|e| io_error("lock", &lock_path, &e))?;
            }
            Err(TryLockError::Error(e)) => return Err(io_error("lock", &lock_path, &e)),
        }
        lock.set_len(0)
            .map_err(|e| io_error("write", &lock_path, &e))?;
        let _ = writeln!(lock, "pid {}", std::process::id());
        Ok(StateDir {
            root: root.to_owned(),
            _lock: lock,
        })
    }

    /// The state dir's path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bytes of `relative`, or `None` if it does not exist.
    pub fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.root.join(relative);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", &path, &e)),
        }
    }

    /// The text of `relative`, or `None` if it does not exist.
    pub fn read_text(&self, relative: &str) -> Result<Option<String>, StateError> {
        let path = self.root.join(relative);
        self.read(relative)?
            .map(|bytes| {
                String::from_utf8(bytes)
                    .map_err(|_| StateError(format!("`{}` is not text", path.display())))
            })
            .transpose()
    }

    /// Writes `relative` atomically with `mode`: a reader (or a build killed midway) sees the old
    /// file or the new one, never a part.
    pub fn write(&self, relative: &str, bytes: &[u8], mode: u32) -> Result<(), StateError> {
        let path = self.root.join(relative);
        let dir = path.parent().unwrap_or(&self.root);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error("create", dir, &e))?;
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| io_error("create a temp file in", dir, &e))?;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| io_error("chmod", temp.path(), &e))?;
        temp.write_all(bytes)
            .map_err(|e| io_error("write", temp.path(), &e))?;
        temp.as_file()
            .sync_all()
            .map_err(|e| io_error("sync", temp.path(), &e))?;
        temp.persist(&path)
            .map_err(|e| io_error("rename into", &path, &e.error))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("sync", dir, &e))
    }
}

impl StateDir {
    /// Moves `relative` under `retired/` with a timestamp: kcompile never deletes a key, it retires
    /// it. Does nothing if the file does not exist.
    pub fn retire(&self, relative: &str) -> Result<(), StateError> {
        let from = self.root.join(relative);
        if !from.exists() {
            return Ok(());
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let to = self.root.join(format!("retired/{relative}.{stamp}"));
        let dir = to.parent().unwrap_or(&self.root);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error("create", dir, &e))?;
        fs::rename(&from, &to).map_err(|e| io_error("retire", &from, &e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("sync", dir, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_writes_atomically_and_reads_back() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("state");
        let state = StateDir::open(&root).unwrap();
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(state.read("pki/ca.key").unwrap(), None);
        state.write("pki/ca.key", b"secret", 0o600).unwrap();
        assert_eq!(state.read("pki/ca.key").unwrap().unwrap(), b"secret");
        let mode = fs::metadata(root.join("pki/ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(root.join("pki"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["ca.key"]);
    }
}
