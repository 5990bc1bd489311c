//! The state dir: the ledger of every long-lived item of a cluster (CAs, keys, issued certificates
//! with their issue records, generated secrets, rotation phases, the last built version).
//!
//! - It is read through [`State`], which checks each recorded item against the
//!   [inventory](inventory) when a run first uses it ([`State::load`] checks many at once, in
//!   parallel; [`State::check_all`] checks them all): a recorded item that is missing, changed or
//!   not a regular file is an error naming it. Nothing recorded is regenerated to fill a gap.
//! - It is changed only through a [`Transaction`] committed by [`State::commit`], which goes
//!   through the [journal]: a run killed at any point is finished or undone by the next writer.
//!   Previews (validate, diff, certs, build --dry-run) open it [read-only](Access::ReadOnly),
//!   plan in a transaction and drop it: they never write, and work on a read-only mount.
//! - It is private: the directory 0700, secret files 0600.

mod error;
pub mod inventory;
pub mod journal;
mod problem;
mod transaction;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hmac::{Hmac, Mac};
use rayon::prelude::*;
use sha2::Sha256;

use crate::digest::{hex, sha256};
pub use error::StateError;
use inventory::{Inventory, Item, ItemKind};
use journal::{Recovery, read_bounded};
use problem::ItemProblem;
pub use transaction::{Changes, Transaction};

/// How a command uses the state dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Previews: never write, not even the lock file or a permission repair.
    ReadOnly,
    /// Commands that change the state: take the lock, finish interrupted commits.
    Write,
}

/// An open state dir: its checked inventory and the files it records.
#[derive(Debug)]
pub struct State {
    root: PathBuf,
    access: Access,
    inventory: Inventory,
    /// Recorded items' contents, each read and checked once, when first used.
    contents: Mutex<BTreeMap<String, Vec<u8>>>,
    /// A committed but unfinished change set a read-only open reads through.
    pending: Option<journal::Commit>,
    /// Whether the state dir exists on disk.
    exists: bool,
    // Held for the lifetime of the value; the OS releases the lock when the file closes.
    held_lock: Option<File>,
}

impl State {
    /// Opens an existing state dir: its inventory, not yet its items (they are checked when
    /// used). Errors if it does not exist.
    pub fn open(root: &Path, access: Access) -> Result<State, StateError> {
        if !root.exists() {
            return Err(StateError::Absent {
                root: root.to_owned(),
            });
        }
        State::open_existing(root, access)
    }

    /// Drops recorded items from the inventory on purpose: a CA key moved offline (external-CA
    /// mode), a leaf lost with no backup (the next build issues a new one). Each file must be gone
    /// already: forgetting drops only the record, it never deletes material.
    pub fn forget(root: &Path, paths: &[String]) -> Result<(), StateError> {
        let mut state = State::open_existing(root, Access::Write)?;
        for path in paths {
            if !state.inventory.items.contains_key(path) {
                return Err(StateError::NotRecorded { path: path.clone() });
            }
            if fs::symlink_metadata(root.join(path)).is_ok() {
                return Err(StateError::StillPresent { path: path.clone() });
            }
        }
        let mut changes = Changes::default();
        changes.forgotten.extend(paths.iter().cloned());
        state.commit(changes)?;
        Ok(())
    }

    /// Opens the state dir for writing, creating it (0700) if it does not exist; the flag says
    /// whether it was created.
    pub fn open_or_create(root: &Path) -> Result<(State, bool), StateError> {
        if root.exists() {
            return Ok((State::open_existing(root, Access::Write)?, false));
        }
        journal::make_dir(root)?;
        Ok((State::open_existing(root, Access::Write)?, true))
    }

    /// An empty view of a state dir that does not exist yet, for previews: everything would be
    /// generated.
    pub fn absent(root: &Path) -> State {
        State {
            root: root.to_owned(),
            access: Access::ReadOnly,
            inventory: Inventory::new(),
            contents: Mutex::default(),
            pending: None,
            exists: false,
            held_lock: None,
        }
    }

    /// Opens an existing dir: recovers or reads through the journal, reads the inventory.
    fn open_existing(root: &Path, access: Access) -> Result<State, StateError> {
        let metadata = fs::metadata(root).map_err(|e| StateError::io("open", root, e))?;
        if !metadata.is_dir() {
            return Err(StateError::NotADirectory {
                path: root.to_owned(),
            });
        }
        check_private(root, metadata.permissions().mode(), access, "the state dir")?;
        let lock = lock(root, access)?;
        let pending = match access {
            Access::Write => {
                match journal::recover(root)? {
                    Recovery::RolledForward => crate::say!(
                        "state {}: finished a commit an interrupted run had made",
                        root.display()
                    ),
                    Recovery::RolledBack => crate::say!(
                        "state {}: discarded what an interrupted run had staged before its commit point (nothing of it was in use)",
                        root.display()
                    ),
                    Recovery::Clean => {}
                }
                None
            }
            Access::ReadOnly => journal::pending(root)?,
        };
        let mut state = State {
            root: root.to_owned(),
            access,
            inventory: Inventory::new(),
            contents: Mutex::default(),
            pending,
            exists: true,
            held_lock: lock,
        };
        match state.read_file(inventory::PATH)? {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                state.inventory =
                    Inventory::parse(&text).map_err(|source| StateError::BadInventory {
                        path: root.join(inventory::PATH),
                        source,
                    })?;
            }
            None => {
                if let Some(item) = state.unrecorded_items()?.first() {
                    return Err(StateError::NoInventory {
                        root: root.to_owned(),
                        item: item.clone(),
                    });
                }
            }
        }
        Ok(state)
    }

    /// Reads and checks every recorded item; every problem is named at once.
    pub fn check_all(&self) -> Result<(), StateError> {
        self.load(self.inventory.items.keys().map(String::as_str))
    }

    /// Reads and checks the recorded items among `paths` that no earlier call read, in parallel;
    /// every problem is named at once. Paths the inventory does not record are left alone (a
    /// later read reads them as they are).
    pub fn load<'p>(&self, paths: impl IntoIterator<Item = &'p str>) -> Result<(), StateError> {
        let wanted: Vec<(&String, &Item)> = {
            let cache = self.cache();
            paths
                .into_iter()
                .filter(|path| !cache.contains_key(*path))
                .filter_map(|path| self.inventory.items.get_key_value(path))
                .collect()
        };
        let read: Vec<_> = wanted
            .into_par_iter()
            .map(|(path, item)| (path, item, self.read_recorded(path, item)))
            .collect();
        let mut problems = Vec::new();
        for (path, item, outcome) in read {
            let kind = ItemKind::of(path);
            let problem = match outcome {
                Ok(bytes) => {
                    // A retired file is as secret as what it was retired from. Its mode is
                    // checked before its bytes are kept: a refused secret is never cached.
                    let secret = item
                        .retired_from
                        .as_deref()
                        .map_or(kind, ItemKind::of)
                        .is_some_and(ItemKind::is_secret);
                    if secret {
                        self.check_secret_mode(path)?;
                    }
                    self.cache().insert(path.clone(), bytes);
                    None
                }
                Err(problem) => Some(problem.to_string()),
            };
            let Some(problem) = problem else {
                continue;
            };
            if kind == Some(ItemKind::Retired) {
                crate::say!(
                    "warning: state {}: retired `{path}` {problem}; it may have been the last copy of old material",
                    self.root.display()
                );
                continue;
            }
            problems.push(self.describe_problem(path, kind, item, &problem));
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(StateError::UnusableItems {
            root: self.root.clone(),
            problems,
        })
    }

    /// A secret file must be private: a writer repairs it with a warning, a reader refuses.
    fn check_secret_mode(&self, path: &str) -> Result<(), StateError> {
        let full = self.root.join(path);
        let Ok(metadata) = fs::symlink_metadata(&full) else {
            return Ok(());
        };
        check_private(
            &full,
            metadata.permissions().mode(),
            self.access,
            "a secret file",
        )
    }

    /// Every file of the dir that is a ledger item but is not recorded.
    fn unrecorded_items(&self) -> Result<Vec<String>, StateError> {
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(&self.root).follow_links(false) {
            let entry = entry?;
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let relative = relative.to_string_lossy().into_owned();
            if relative.starts_with("journal/") || relative == inventory::PATH {
                continue;
            }
            if ItemKind::of(&relative).is_some() && !self.inventory.items.contains_key(&relative) {
                found.push(relative);
            }
        }
        found.sort();
        Ok(found)
    }

    /// Records every ledger file the dir holds in a new inventory (a state made before kcompile
    /// kept one). Refuses a dir that already has an inventory.
    pub fn record_existing(root: &Path) -> Result<Vec<String>, StateError> {
        let mut state = State::absent(root);
        root.clone_into(&mut state.root);
        state.held_lock = lock(root, Access::Write)?;
        state.exists = true;
        journal::recover(root)?;
        if read_bounded(&root.join(inventory::PATH))?.is_some() {
            return Err(StateError::AlreadyRecorded {
                root: root.to_owned(),
            });
        }
        let found = state.unrecorded_items()?;
        let mut transaction = state.begin();
        for path in &found {
            if let Some(bytes) = read_bounded(&root.join(path))? {
                let mode = if ItemKind::of(path).is_some_and(ItemKind::is_secret) {
                    0o600
                } else {
                    0o644
                };
                transaction.write(path, bytes, mode);
            }
        }
        let changes = transaction.finish();
        state.access = Access::Write;
        state.commit(changes)?;
        Ok(found)
    }

    /// The state dir's path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the state dir exists (previews of a new cluster see an absent one).
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The checked contents read so far. A panic while the lock was held cannot leave the map
    /// half-changed (each change is one insert or remove), so a poisoned lock is used as it is.
    fn cache(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.contents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A recorded item's bytes if they are what the inventory records, or what is wrong.
    fn read_recorded(&self, path: &str, item: &Item) -> Result<Vec<u8>, ItemProblem> {
        match self.read_file_uncached(path) {
            Err(error) => Err(ItemProblem::Unreadable(error)),
            Ok(None) => Err(ItemProblem::Missing),
            Ok(Some(bytes)) if bytes.is_empty() => Err(ItemProblem::Empty),
            Ok(Some(bytes)) => {
                let found = sha256(&bytes);
                if found == item.sha256 {
                    Ok(bytes)
                } else {
                    Err(ItemProblem::Changed {
                        found,
                        recorded: item.sha256.clone(),
                    })
                }
            }
        }
    }

    /// A file as a run sees it: a recorded item checked (once) against the inventory, any other
    /// file as it is.
    fn read_file(&self, relative: &str) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(cached) = self.cache().get(relative) {
            return Ok(Some(cached.clone()));
        }
        if self.inventory.items.contains_key(relative) {
            self.load([relative])?;
            return Ok(self.cache().get(relative).cloned());
        }
        self.read_file_uncached(relative)
    }

    /// A file as the state dir holds it: through an unfinished commit for a read-only open.
    fn read_file_uncached(&self, relative: &str) -> Result<Option<Vec<u8>>, StateError> {
        if !inventory::is_safe_path(relative) {
            return Err(StateError::UnsafePath {
                path: relative.to_owned(),
            });
        }
        if !self.exists {
            return Ok(None);
        }
        let path = match self
            .pending
            .as_ref()
            .and_then(|p| p.overlay(&self.root, relative))
        {
            Some(None) => return Ok(None),
            Some(Some(path)) => path,
            None => self.root.join(relative),
        };
        read_bounded(&path)
    }

    /// The bytes of `relative`, or `None` if the state does not hold it.
    pub fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.read_file(relative)
    }

    /// The text of `relative`, or `None` if the state does not hold it.
    pub fn read_text(&self, relative: &str) -> Result<Option<String>, StateError> {
        as_text(&self.root, relative, self.read(relative)?)
    }

    /// Starts a change set; reads through it see its own writes.
    pub fn begin(&self) -> Transaction<'_> {
        Transaction {
            state: self,
            writes: BTreeMap::new(),
            retirements: BTreeMap::new(),
        }
    }

    /// Commits `changes` through the journal and updates the inventory; returns the items it
    /// made or changed.
    pub fn commit(&mut self, changes: Changes) -> Result<Vec<String>, StateError> {
        if self.access != Access::Write {
            return Err(StateError::ReadOnly);
        }
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_rfc3339();
        let mut inventory = self.inventory.clone();
        let mut written = Vec::new();
        for path in &changes.forgotten {
            inventory.items.remove(path);
        }
        for retirement in changes.retirements.values() {
            if !changes.writes.contains_key(&retirement.from) {
                inventory.items.remove(&retirement.from);
            }
            inventory.items.insert(
                retirement.to.clone(),
                Item {
                    sha256: retirement.sha256.clone(),
                    since: now.clone(),
                    retired_from: Some(retirement.from.clone()),
                },
            );
        }
        // Each write's digest, whether the inventory records it, and whether its file holds it
        // (an unchanged item is rewritten only if its file is not what was recorded): hashed and
        // read in parallel, since a build records every host's MANIFEST.
        let checked: Vec<(String, bool, bool)> = changes
            .writes
            .par_iter()
            .map(|(path, (bytes, _))| {
                let digest = sha256(bytes);
                let unchanged = inventory
                    .items
                    .get(path)
                    .is_some_and(|item| item.sha256 == digest);
                let on_disk =
                    unchanged && self.read_file(path).ok().flatten().as_ref() == Some(bytes);
                (digest, unchanged, on_disk)
            })
            .collect();
        let mut writes = Vec::new();
        for ((path, (bytes, mode)), (digest, unchanged, on_disk)) in
            changes.writes.iter().zip(checked)
        {
            if on_disk {
                continue;
            }
            if !unchanged {
                written.push(path.clone());
            }
            if ItemKind::of(path).is_some() {
                let since = match inventory.items.get(path) {
                    Some(item) if item.sha256 == digest => item.since.clone(),
                    _ => now.clone(),
                };
                inventory.items.insert(
                    path.clone(),
                    Item {
                        sha256: digest,
                        since,
                        retired_from: None,
                    },
                );
            }
            writes.push((path.clone(), bytes.clone(), *mode));
        }
        if writes.is_empty() && changes.retirements.is_empty() && changes.forgotten.is_empty() {
            return Ok(Vec::new());
        }
        writes.push((
            inventory::PATH.to_owned(),
            inventory.to_json().into_bytes(),
            0o600,
        ));
        remove_stray_temp_files(&self.root)?;
        journal::commit(
            &self.root,
            &writes,
            changes.retirements.into_values().collect(),
        )?;
        let cache = self
            .contents
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (path, bytes, _) in writes {
            cache.insert(path, bytes);
        }
        for retired in inventory
            .items
            .values()
            .filter_map(|i| i.retired_from.as_ref())
        {
            if !inventory.items.contains_key(retired) {
                cache.remove(retired);
            }
        }
        self.inventory = inventory;
        Ok(written)
    }

    /// A keyed fingerprint of a secret (`hmac:0123456789ab`): the key lives in the state, so a
    /// low-entropy secret cannot be brute-forced from what kcompile prints. `None` while the
    /// state has no fingerprint key yet.
    pub fn keyed_fingerprint(&self, bytes: &[u8]) -> Option<String> {
        let key = self.read_file(FINGERPRINT_KEY).ok()??;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
        mac.update(bytes);
        Some(format!("hmac:{}", &hex(&mac.finalize().into_bytes())[..12]))
    }
}

/// The key of [`State::keyed_fingerprint`].
pub const FINGERPRINT_KEY: &str = "secrets/fingerprint-key";

/// `bytes` of the state's `relative` as text.
fn as_text(
    root: &Path,
    relative: &str,
    bytes: Option<Vec<u8>>,
) -> Result<Option<String>, StateError> {
    bytes
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|_| StateError::NotText {
                path: root.join(relative),
            })
        })
        .transpose()
}

/// Refuses (reader) or repairs with a warning (writer) group or world access.
fn check_private(
    path: &Path,
    mode: u32,
    access: Access,
    what: &'static str,
) -> Result<(), StateError> {
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let private = if what == "the state dir" {
        0o700
    } else {
        0o600
    };
    match access {
        Access::Write => {
            fs::set_permissions(path, fs::Permissions::from_mode(private))
                .map_err(|e| StateError::io("chmod", path, e))?;
            crate::say!(
                "warning: {what} `{}` was mode {:04o}, open to other users; made it {:04o}. Anyone who could read it may hold a copy of its keys: consider rotating them",
                path.display(),
                mode & 0o7777,
                private
            );
            Ok(())
        }
        Access::ReadOnly => Err(StateError::OpenToOthers {
            what,
            path: path.to_owned(),
            mode,
            private,
        }),
    }
}

/// Takes the state dir's lock: exclusive for writers, shared for readers (without creating the
/// lock file: a read-only open writes nothing).
fn lock(root: &Path, access: Access) -> Result<Option<File>, StateError> {
    let lock_path = root.join("lock");
    let opened = match access {
        Access::Write => OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path),
        Access::ReadOnly => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path),
    };
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if access == Access::ReadOnly && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(StateError::io("open", &lock_path, e)),
    };
    let attempt = match access {
        Access::Write => file.try_lock(),
        Access::ReadOnly => file.try_lock_shared(),
    };
    match attempt {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            crate::say!(
                "waiting for the state dir lock `{}`, held by {}",
                lock_path.display(),
                match holder.strip_prefix("pid ") {
                    Some(pid) if pid.bytes().all(|b| b.is_ascii_digit()) =>
                        format!("a kcompile command that writes the state (pid {pid})"),
                    _ => "a kcompile command that writes the state".to_owned(),
                }
            );
            let waited = match access {
                Access::Write => file.lock(),
                Access::ReadOnly => file.lock_shared(),
            };
            waited.map_err(|e| StateError::io("lock", &lock_path, e))?;
        }
        Err(TryLockError::Error(e)) => return Err(StateError::io("lock", &lock_path, e)),
    }
    if access == Access::Write {
        let pid = format!("pid {}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .map_err(|e| StateError::io("write", &lock_path, e))?;
    }
    Ok(Some(file))
}

/// Removes `.tmp-*` files that runs of older kcompile versions left when killed (a commit that
/// writes does, so a run that writes nothing does not walk the whole dir).
fn remove_stray_temp_files(root: &Path) -> Result<(), StateError> {
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_file() && entry.file_name().to_string_lossy().starts_with(".tmp-") {
            fs::remove_file(entry.path()).map_err(|e| StateError::io("remove", entry.path(), e))?;
        }
    }
    Ok(())
}

/// Now, as RFC 3339 UTC.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
