//! The per-version tables of flags and feature gates that `extraArgs` and `--feature-gates` are
//! checked against.
//!
//! Three inputs, all embedded:
//! - `src/versions/upstream/*.tsv` (but `kk-removals.tsv`): the flags (and feature gates) each
//!   release registers, extracted from tagged upstream source by `scripts/upstream_flags.py`, one
//!   row per release and name with the repository, tag, commit, path and line that registers it.
//!   Generated; never edited by hand.
//! - `src/versions/upstream/kk-removals.tsv`: flags and gates registered in kubernetes/kubernetes
//!   itself and the release that removed each, read from the release notes (`CHANGELOG-1.N.md`) by
//!   `scripts/kk_changelog.py`, each row citing the file, commit and stored copy. Generated too.
//! - `src/versions/flags/*.tsv`: the hand-written overlay. For a name the upstream data lists it
//!   holds only the hint shown when the name is refused; it also lists the names the data cannot
//!   give (flags removed before the oldest release read, and flags and gates registered in
//!   kubernetes/kubernetes itself) with `since` and `removed` written out, unless
//!   `kk-removals.tsv` gives the removal.
//!
//! A name the data lists is accepted exactly by the releases whose data lists it: `since` is the
//! first such release (when it is not the oldest one read) and `removed` the release after the last.
//!
//! Here: what the tables say about a flag or gate ([`flag_status`], [`gate_status`], [`closest`]);
//! the tables themselves are built from the inputs in `flag_tables.rs`, which reads them with
//! the one reader of `src/versions/*.tsv`, `versions::tsv_rows`.

use super::flag_tables::{COMPLETE, FEATURE_GATES, FLAG_TABLES, Lifecycle, Minor};
use super::{EtcdVersion, KubeVersion};
use crate::component::Component;

/// What the flag tables say about one flag for the target versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagStatus {
    /// The target version accepts it.
    Known,
    /// It was removed in `version`; `hint` says what replaced it.
    Removed {
        /// Where it was removed, `v1.24` or `etcd 3.7`.
        version: String,
        /// Its replacement.
        hint: String,
    },
    /// It arrived after the target version.
    TooNew {
        /// Where it arrived, `v1.35` or `etcd 3.6`.
        version: String,
    },
    /// No version of the component has it; the closest known flag, if any is close.
    Unknown {
        /// A known flag of a similar name.
        suggestion: Option<String>,
    },
    /// No release registers it, and nothing is close, in a table that holds every flag the
    /// component registers (extracted from its source: etcd), so the component refuses it.
    Unregistered,
}

/// Looks `flag` (without dashes) up in the table of `component` for the target versions.
pub fn flag_status(
    component: Component,
    flag: &str,
    kube: KubeVersion,
    etcd: &EtcdVersion,
) -> FlagStatus {
    let Some(table) = FLAG_TABLES.get(&component) else {
        return FlagStatus::Known;
    };
    let target = if component == Component::Etcd {
        etcd.minor()
    } else {
        (1, kube.minor)
    };
    let show = |(major, minor): Minor| {
        if component == Component::Etcd {
            format!("etcd {major}.{minor}")
        } else {
            format!("v{major}.{minor}")
        }
    };
    let Some(entry) = table.get(flag) else {
        let suggestion = table.closest_accepted(flag, target);
        if suggestion.is_none() && COMPLETE.contains(&component) {
            return FlagStatus::Unregistered;
        }
        return FlagStatus::Unknown { suggestion };
    };
    match entry.at(target) {
        Lifecycle::Accepted => FlagStatus::Known,
        Lifecycle::Removed(removal) => FlagStatus::Removed {
            version: show(removal.minor),
            hint: entry.hint.clone(),
        },
        Lifecycle::TooNew(since) => FlagStatus::TooNew {
            version: show(since),
        },
    }
}

/// What the tables say about one feature gate for the target version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateStatus {
    /// The gate exists (or the table cannot tell).
    Known,
    /// The gate was removed in `version`.
    Removed {
        /// `in v1.19`, or `before v1.33` where the exact release is not recorded.
        version: String,
        /// What to do instead.
        hint: String,
    },
    /// The gate arrived after the target version.
    TooNew {
        /// Where it arrived, `v1.36`.
        version: String,
    },
    /// No version has this gate.
    Unknown {
        /// A known gate of a similar name.
        suggestion: Option<String>,
    },
}

/// Looks a feature gate up for the target Kubernetes version.
pub fn gate_status(gate: &str, kube: KubeVersion) -> GateStatus {
    let target = (1, kube.minor);
    let Some(entry) = FEATURE_GATES.get(gate) else {
        return GateStatus::Unknown {
            suggestion: FEATURE_GATES.closest_accepted(gate, target),
        };
    };
    match entry.at(target) {
        Lifecycle::Accepted => GateStatus::Known,
        Lifecycle::Removed(removal) => GateStatus::Removed {
            version: if removal.exact {
                format!("in v1.{}", removal.minor.1)
            } else {
                format!("before v1.{}", removal.minor.1)
            },
            hint: entry.hint.clone(),
        },
        Lifecycle::TooNew((_, minor)) => GateStatus::TooNew {
            version: format!("v1.{minor}"),
        },
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (word.len().max(candidate.len()) / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate.to_owned())
}
