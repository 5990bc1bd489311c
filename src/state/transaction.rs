//! A change set being planned ([`Transaction`]: reads see its own writes) and what it would
//! change once detached from the state ([`Changes`], committed by [`State::commit`]).

use std::collections::{BTreeMap, BTreeSet};

use super::journal::Retirement;
use super::{State, StateError, as_text};
use crate::digest::sha256;

/// A change set being planned: writes and retirements, kept in memory until committed.
#[derive(Debug)]
pub struct Transaction<'s> {
    pub(super) state: &'s State,
    pub(super) writes: BTreeMap<String, (Vec<u8>, u32)>,
    pub(super) retirements: BTreeMap<String, Retirement>,
}

/// What a transaction would change, detached from the state it read.
#[derive(Debug, Default)]
pub struct Changes {
    pub(super) writes: BTreeMap<String, (Vec<u8>, u32)>,
    pub(super) retirements: BTreeMap<String, Retirement>,
    pub(super) forgotten: BTreeSet<String>,
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
            forgotten: BTreeSet::default(),
        }
    }
}
