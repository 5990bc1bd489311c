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
use journal::{Recovery, Retirement, read_bounded};

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
                remove_stray_temp_files(root)?;
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
                    self.cache().insert(path.clone(), bytes);
                    None
                }
                Err(problem) => Some(problem.to_string()),
            };
            let Some(problem) = problem else {
                // A retired file is as secret as what it was retired from.
                let secret = item
                    .retired_from
                    .as_deref()
                    .map_or(kind, ItemKind::of)
                    .is_some_and(ItemKind::is_secret);
                if secret {
                    self.check_secret_mode(path)?;
                }
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

    fn describe_problem(
        &self,
        path: &str,
        kind: Option<ItemKind>,
        item: &Item,
        problem: &str,
    ) -> String {
        let kind_name = kind.map_or("item", ItemKind::name);
        let mut text = format!(
            "  `{path}` ({kind_name}, recorded {}) {problem}",
            item.since
        );
        if let Some(kind) = kind {
            text.push_str(&format!("\n    why it matters: {}", kind.consequence()));
        }
        let copies = self.inventory.retired_copies(path);
        let copy = match copies.last() {
            Some(retired) => format!(
                "an older copy is `{retired}` in the state dir; the recorded one is in your backup of the state dir"
            ),
            None => "restore it from a backup of the state dir".to_owned(),
        };
        text.push_str(&format!("\n    recover: {copy}"));
        match kind {
            Some(ItemKind::ServiceAccountKey | ItemKind::ServiceAccountPublicKey) => text.push_str(
                "; with no copy, `kcompile rotate sa-key` replaces it on purpose",
            ),
            Some(ItemKind::EncryptionKey) => text.push_str(
                "; with no copy, the Secrets encrypted with it cannot be read back by anyone",
            ),
            Some(ItemKind::LeafCertificate | ItemKind::LeafKey | ItemKind::IssueRecord) => text
                .push_str(
                    "; with no copy, `kcompile state forget PATH` drops its record and the next build issues a new one",
                ),
            Some(ItemKind::BuiltManifest) => text.push_str(
                "; with no copy, `kcompile state forget PATH` drops its record (the next build of the host records it again; until then `kcompile plan --roots DIR` compares with the host's own files)",
            ),
            _ => {}
        }
        text
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
        let mut writes = Vec::new();
        for (path, (bytes, mode)) in &changes.writes {
            let digest = sha256(bytes);
            let unchanged = inventory
                .items
                .get(path)
                .is_some_and(|item| item.sha256 == digest);
            // An unchanged item is rewritten only if its file is not what was recorded.
            if unchanged && self.read_file(path).ok().flatten().as_ref() == Some(bytes) {
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

/// What is wrong with a recorded item, as its message says it after the item's name.
#[derive(Debug)]
enum ItemProblem {
    /// It could not be read (not a regular file, too large, an I/O error).
    Unreadable(StateError),
    /// It is gone.
    Missing,
    /// It is there but empty.
    Empty,
    /// Its sha256 is not the recorded one.
    Changed {
        /// The sha256 of what is there.
        found: String,
        /// The sha256 the inventory records.
        recorded: String,
    },
}

impl std::fmt::Display for ItemProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ItemProblem::Unreadable(error) => write!(f, "{error}"),
            ItemProblem::Missing => f.write_str("is missing"),
            ItemProblem::Empty => f.write_str("is empty"),
            ItemProblem::Changed { found, recorded } => write!(
                f,
                "is not what was recorded (sha256 {}…, recorded {}…)",
                found.get(..12).unwrap_or(found),
                recorded.get(..12).unwrap_or(recorded)
            ),
        }
    }
}

/// The key of [`State::keyed_fingerprint`].
pub const FINGERPRINT_KEY: &str = "secrets/fingerprint-key";

/// A change set being planned: writes and retirements, kept in memory until committed.
#[derive(Debug)]
pub struct Transaction<'s> {
    state: &'s State,
    writes: BTreeMap<String, (Vec<u8>, u32)>,
    retirements: BTreeMap<String, Retirement>,
}

/// What a transaction would change, detached from the state it read.
#[derive(Debug, Default)]
pub struct Changes {
    writes: BTreeMap<String, (Vec<u8>, u32)>,
    retirements: BTreeMap<String, Retirement>,
    forgotten: std::collections::BTreeSet<String>,
}

impl Changes {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.retirements.is_empty() && self.forgotten.is_empty()
    }
}

impl Transaction<'_> {
    /// The bytes of `relative` as this change set would leave it.
    pub fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, StateError> {
        if let Some((bytes, _)) = self.writes.get(relative) {
            return Ok(Some(bytes.clone()));
        }
        if self.retirements.contains_key(relative) {
            return Ok(None);
        }
        self.state.read(relative)
    }

    /// The text of `relative` as this change set would leave it.
    pub fn read_text(&self, relative: &str) -> Result<Option<String>, StateError> {
        as_text(&self.state.root, relative, self.read(relative)?)
    }

    /// Reads and checks, at once, the recorded items among `paths` this change set does not
    /// replace ([`State::load`]).
    pub fn load<'p>(&self, paths: impl IntoIterator<Item = &'p str>) -> Result<(), StateError> {
        self.state.load(paths.into_iter().filter(|path| {
            !self.writes.contains_key(*path) && !self.retirements.contains_key(*path)
        }))
    }

    /// When the state recorded the content of `relative` (RFC 3339, UTC), or `None` if it records
    /// no such item or this change set replaces it.
    pub fn since(&self, relative: &str) -> Option<String> {
        if self.writes.contains_key(relative) || self.retirements.contains_key(relative) {
            return None;
        }
        let item = self.state.inventory.items.get(relative)?;
        Some(item.since.clone())
    }

    /// Stages `relative` with `bytes` and `mode`.
    pub fn write(&mut self, relative: &str, bytes: impl Into<Vec<u8>>, mode: u32) {
        self.writes
            .insert(relative.to_owned(), (bytes.into(), mode));
    }

    /// Stages the retirement of the state's `relative`: kept under `retired/` with a name taken
    /// from its contents, then removed unless this change set writes it anew.
    pub fn retire(&mut self, relative: &str) -> Result<(), StateError> {
        let Some(bytes) = self.state.read(relative)? else {
            return Ok(());
        };
        let digest = sha256(&bytes);
        let retirement = Retirement {
            from: relative.to_owned(),
            to: format!("retired/{relative}.{}", &digest[..16]),
            sha256: digest,
        };
        self.retirements.insert(relative.to_owned(), retirement);
        Ok(())
    }

    /// Detaches the change set from the state, to commit it.
    pub fn finish(self) -> Changes {
        Changes {
            writes: self.writes,
            retirements: self.retirements,
            forgotten: std::collections::BTreeSet::default(),
        }
    }
}

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

/// Removes `.tmp-*` files that runs of older kcompile versions left when killed.
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
mod tests {
    use super::*;

    fn committed(root: &Path, files: &[(&str, &[u8])]) -> State {
        let (mut state, _) = State::open_or_create(root).unwrap();
        let mut transaction = state.begin();
        for (path, bytes) in files {
            transaction.write(path, bytes.to_vec(), 0o600);
        }
        let changes = transaction.finish();
        state.commit(changes).unwrap();
        state
    }

    #[test]
    fn a_recorded_item_that_goes_missing_or_changes_is_named() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("state");
        drop(committed(
            &root,
            &[
                ("pki/sa.key", b"key"),
                ("secrets/etcd-initial-cluster-token", b"t"),
            ],
        ));
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        State::open(&root, Access::ReadOnly)
            .unwrap()
            .check_all()
            .unwrap();
        fs::remove_file(root.join("pki/sa.key")).unwrap();
        // Opening reads only the inventory; the item is checked when a run uses it.
        let state = State::open(&root, Access::Write).unwrap();
        let error = state.read("pki/sa.key").unwrap_err().to_string();
        assert_eq!(state.check_all().unwrap_err().to_string(), error);
        drop(state);
        assert!(
            error.contains("`pki/sa.key` (service-account-key"),
            "{error}"
        );
        assert!(error.contains("is missing"), "{error}");
        assert!(error.contains("service-account token"), "{error}");
        fs::write(root.join("pki/sa.key"), b"other").unwrap();
        let state = State::open(&root, Access::ReadOnly).unwrap();
        let error = state.load(["pki/sa.key"]).unwrap_err().to_string();
        assert!(error.contains("is not what was recorded"), "{error}");
    }

    #[test]
    fn reads_see_staged_writes_and_previews_never_write() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("state");
        drop(committed(&root, &[("pki/sa.key", b"one")]));
        let state = State::open(&root, Access::ReadOnly).unwrap();
        let mut transaction = state.begin();
        transaction.write("pki/sa.key", b"two".to_vec(), 0o600);
        transaction.retire("pki/sa.key").unwrap();
        assert_eq!(transaction.read("pki/sa.key").unwrap().unwrap(), b"two");
        drop(transaction);
        assert_eq!(fs::read(root.join("pki/sa.key")).unwrap(), b"one");
    }

    #[test]
    fn a_state_without_inventory_is_refused_until_recorded() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("state");
        fs::create_dir_all(root.join("pki")).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(root.join("pki/ca.crt"), b"cert").unwrap();
        let error = State::open(&root, Access::Write).unwrap_err().to_string();
        assert!(error.contains("no inventory"), "{error}");
        assert_eq!(State::record_existing(&root).unwrap(), ["pki/ca.crt"]);
        let state = State::open(&root, Access::ReadOnly).unwrap();
        assert!(state.inventory().items.contains_key("pki/ca.crt"));
    }

    #[test]
    fn open_to_others_is_refused_by_readers_and_repaired_by_writers() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("state");
        drop(committed(&root, &[("pki/ca.key", b"key")]));
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
        fs::set_permissions(root.join("pki/ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
        let error = State::open(&root, Access::ReadOnly)
            .unwrap_err()
            .to_string();
        assert!(error.contains("mode 0777"), "{error}");
        State::open(&root, Access::Write)
            .unwrap()
            .check_all()
            .unwrap();
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            fs::metadata(root.join("pki/ca.key"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
}
