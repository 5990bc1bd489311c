//! What is wrong with a recorded item, and how a run's error names it: the item, its kind, why
//! it matters and how to recover it.

use super::State;
use super::StateError;
use super::inventory::{Item, ItemKind};

/// What is wrong with a recorded item, as its message says it after the item's name.
#[derive(Debug)]
pub(super) enum ItemProblem {
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

impl State {
    /// One problem of a recorded item, as the run's error lists it.
    pub(super) fn describe_problem(
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
}
