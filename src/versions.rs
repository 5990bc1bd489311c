//! Supported Kubernetes and etcd versions, the etcd version kubeadm pins for each Kubernetes minor,
//! and the per-version tables of flags and feature gates that `extraArgs` are checked against.
//!
//! The flag tables live in `src/versions/flags/*.tsv`, one line per flag:
//! `name<TAB>since<TAB>removed<TAB>hint`, where `since` and `removed` are Kubernetes minors (`1.34`)
//! or, for etcd, etcd minors (`3.6`), and `-` marks an empty column.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use crate::component::Component;

pub mod coredns;

/// The oldest supported Kubernetes minor (1.x).
pub const OLDEST_MINOR: u32 = 33;
/// The newest supported Kubernetes minor (1.x).
pub const NEWEST_MINOR: u32 = 37;
/// The version a spec gets when it names none: the newest supported release.
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.37.1";

/// The etcd image tag kubeadm pins for each Kubernetes minor (`SupportedEtcdVersion`).
const PINNED_ETCD: [(u32, &str); 5] = [
    (33, "3.5.24-0"),
    (34, "3.6.5-0"),
    (35, "3.6.6-0"),
    (36, "3.6.9-0"),
    (37, "3.7.0-0"),
];

/// The oldest etcd kubeadm accepts (`MinExternalEtcdVersion`).
const OLDEST_ETCD: (u32, u32, u32) = (3, 5, 24);

/// A Kubernetes release, `v1.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    /// The minor version (37 for v1.37.1).
    pub minor: u32,
    /// The patch version (1 for v1.37.1).
    pub patch: u32,
}

impl KubeVersion {
    /// Parses `v1.37.1` (the `v` is optional) and checks that kcompile supports it.
    pub fn parse(text: &str) -> Result<KubeVersion, VersionError> {
        let bare = text.strip_prefix('v').unwrap_or(text);
        let numbers: Vec<&str> = bare.split('.').collect();
        let parsed: Option<Vec<u32>> = numbers.iter().map(|n| parse_number(n)).collect();
        let version = match (numbers.len(), parsed.as_deref()) {
            (3, Some(&[1, minor, patch])) => KubeVersion { minor, patch },
            (2, Some(&[1, minor])) => {
                return Err(VersionError {
                    message: format!("Kubernetes version `{text}` has no patch number"),
                    hint: format!(
                        "name a release, e.g. `v1.{minor}.0`; images are tagged by release"
                    ),
                });
            }
            _ => {
                return Err(VersionError {
                    message: format!("`{text}` is not a Kubernetes version"),
                    hint: format!(
                        "write `vMAJOR.MINOR.PATCH`, e.g. `{DEFAULT_KUBERNETES_VERSION}`"
                    ),
                });
            }
        };
        if !(OLDEST_MINOR..=NEWEST_MINOR).contains(&version.minor) {
            return Err(VersionError {
                message: format!("Kubernetes {version} is not supported"),
                hint: format!("kcompile supports v1.{OLDEST_MINOR} to v1.{NEWEST_MINOR}"),
            });
        }
        Ok(version)
    }

    /// The etcd image tag kubeadm pins for this minor.
    pub fn pinned_etcd(self) -> &'static str {
        PINNED_ETCD
            .iter()
            .find(|(minor, _)| *minor == self.minor)
            .map_or(PINNED_ETCD[PINNED_ETCD.len() - 1].1, |(_, tag)| tag)
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{}.{}", self.minor, self.patch)
    }
}

/// An etcd image tag, `3.6.6-0` (the `-0` is the image revision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdVersion {
    /// Major, minor, patch.
    pub number: (u32, u32, u32),
    /// The whole tag as written.
    pub tag: String,
}

impl EtcdVersion {
    /// Parses an etcd image tag and checks it against the Kubernetes version.
    pub fn parse(text: &str, kube: KubeVersion) -> Result<EtcdVersion, VersionError> {
        let bare = text.strip_prefix('v').unwrap_or(text);
        let (release, revision) = bare.split_once('-').unwrap_or((bare, ""));
        let parts: Option<Vec<u32>> = release.split('.').map(parse_number).collect();
        if revision.is_empty() && parts.as_ref().is_some_and(|p| p.len() == 3) {
            return Err(VersionError {
                message: format!("etcd image tag `{text}` has no revision"),
                hint: format!(
                    "registry.k8s.io tags etcd images `{bare}-0`; kubeadm pins {} for {kube}",
                    kube.pinned_etcd()
                ),
            });
        }
        let Some(&[major, minor, patch]) = parts
            .as_deref()
            .filter(|_| parse_number(revision).is_some())
        else {
            return Err(VersionError {
                message: format!("`{text}` is not an etcd version"),
                hint: format!(
                    "write the image tag, e.g. `{}` (the one kubeadm pins for {kube})",
                    kube.pinned_etcd()
                ),
            });
        };
        let version = EtcdVersion {
            number: (major, minor, patch),
            tag: text.to_owned(),
        };
        if version.number < OLDEST_ETCD || (major, minor) > (3, 7) {
            return Err(VersionError {
                message: format!("etcd {text} is not supported"),
                hint: format!(
                    "kcompile supports etcd 3.5.24 to 3.7; kubeadm pins {} for {kube}",
                    kube.pinned_etcd()
                ),
            });
        }
        let (oldest, newest) = match kube.minor {
            ..=33 => ((3, 5), (3, 6)),
            34..=36 => ((3, 5), (3, 6)),
            _ => ((3, 6), (3, 7)),
        };
        if (major, minor) < oldest || (major, minor) > newest {
            return Err(VersionError {
                message: format!("etcd {text} does not go with Kubernetes {kube}"),
                hint: format!(
                    "{kube} runs on etcd {}.{} to {}.{}; kubeadm pins {}",
                    oldest.0,
                    oldest.1,
                    newest.0,
                    newest.1,
                    kube.pinned_etcd()
                ),
            });
        }
        Ok(version)
    }

    /// The etcd minor, `(3, 6)`.
    pub fn minor(&self) -> (u32, u32) {
        (self.number.0, self.number.1)
    }
}

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError {
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

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
    let show = |(major, minor): (u32, u32)| {
        if component == Component::Etcd {
            format!("etcd {major}.{minor}")
        } else {
            format!("v{major}.{minor}")
        }
    };
    let Some(entry) = table.iter().find(|entry| entry.name == flag) else {
        let accepted = table.iter().filter(|entry| entry.accepted_in(target));
        return FlagStatus::Unknown {
            suggestion: closest(flag, accepted.map(|entry| entry.name.as_str())),
        };
    };
    match (entry.since, entry.removed) {
        (_, Some(removed)) if target >= removed => FlagStatus::Removed {
            version: show(removed),
            hint: entry.hint.clone(),
        },
        (Some(since), _) if target < since => FlagStatus::TooNew {
            version: show(since),
        },
        _ => FlagStatus::Known,
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
    /// No version has this gate.
    Unknown {
        /// A known gate of a similar name.
        suggestion: Option<String>,
    },
}

/// Looks a feature gate up for the target Kubernetes version.
pub fn gate_status(gate: &str, kube: KubeVersion) -> GateStatus {
    let gates = &*FEATURE_GATES;
    if let Some((minor, shown, hint)) = gates.removed.get(gate)
        && kube.minor >= *minor
    {
        return GateStatus::Removed {
            version: shown.clone(),
            hint: hint.clone(),
        };
    }
    if gates.known.is_empty() || gates.known.iter().any(|known| known == gate) {
        return GateStatus::Known;
    }
    if gates.removed.contains_key(gate) {
        return GateStatus::Known;
    }
    GateStatus::Unknown {
        suggestion: closest(gate, gates.known.iter().map(String::as_str)),
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

#[derive(Debug)]
struct FlagEntry {
    name: String,
    since: Option<(u32, u32)>,
    removed: Option<(u32, u32)>,
    hint: String,
}

impl FlagEntry {
    fn accepted_in(&self, target: (u32, u32)) -> bool {
        self.since.is_none_or(|since| since <= target)
            && self.removed.is_none_or(|removed| target < removed)
    }
}

static FLAG_TABLES: LazyLock<HashMap<Component, Vec<FlagEntry>>> = LazyLock::new(|| {
    let tables = [
        (Component::Etcd, include_str!("versions/flags/etcd.tsv")),
        (
            Component::ApiServer,
            include_str!("versions/flags/kube-apiserver.tsv"),
        ),
        (
            Component::ControllerManager,
            include_str!("versions/flags/kube-controller-manager.tsv"),
        ),
        (
            Component::Scheduler,
            include_str!("versions/flags/kube-scheduler.tsv"),
        ),
        (
            Component::KubeProxy,
            include_str!("versions/flags/kube-proxy.tsv"),
        ),
        (
            Component::Kubelet,
            include_str!("versions/flags/kubelet.tsv"),
        ),
    ];
    tables
        .into_iter()
        .map(|(component, text)| (component, parse_flag_table(text)))
        .filter(|(_, entries)| !entries.is_empty())
        .collect()
});

fn parse_flag_table(text: &str) -> Vec<FlagEntry> {
    table_rows(text)
        .map(|columns| FlagEntry {
            name: columns[0].to_owned(),
            since: columns.get(1).and_then(|c| parse_minor(c)),
            removed: columns.get(2).and_then(|c| parse_minor(c)),
            hint: columns.get(3).map_or("", |c| c).to_owned(),
        })
        .collect()
}

struct FeatureGates {
    /// Gate → (first minor without it, "in v1.19" / "before v1.33", hint).
    removed: HashMap<String, (u32, String, String)>,
    known: Vec<String>,
}

static FEATURE_GATES: LazyLock<FeatureGates> = LazyLock::new(|| {
    let text = include_str!("versions/flags/feature-gates.tsv");
    let mut gates = FeatureGates {
        removed: HashMap::new(),
        known: Vec::new(),
    };
    for columns in table_rows(text) {
        let removed = columns.get(1).copied().unwrap_or("-");
        let (before, version) = match removed.strip_prefix('<') {
            Some(version) => (true, version),
            None => (false, removed),
        };
        match parse_minor(version) {
            Some((_, minor)) => {
                let hint = columns.get(2).map_or("", |c| c).to_owned();
                let shown = if before {
                    format!("before v1.{minor}")
                } else {
                    format!("in v1.{minor}")
                };
                gates
                    .removed
                    .insert(columns[0].to_owned(), (minor, shown, hint));
            }
            None => gates.known.push(columns[0].to_owned()),
        }
    }
    gates
});

/// The non-comment rows of a TSV table, split into trimmed columns.
fn table_rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').map(str::trim).collect())
}

fn parse_minor(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((parse_number(major)?, parse_number(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> KubeVersion {
        KubeVersion::parse(text).unwrap()
    }

    #[test]
    fn kubernetes_versions() {
        assert_eq!(v("v1.37.1").to_string(), "v1.37.1");
        assert_eq!(
            v("1.33.0"),
            KubeVersion {
                minor: 33,
                patch: 0
            }
        );
        assert!(
            KubeVersion::parse("v1.32.9")
                .unwrap_err()
                .hint
                .contains("v1.33 to v1.37")
        );
        assert!(
            KubeVersion::parse("v1.36")
                .unwrap_err()
                .message
                .contains("no patch")
        );
        assert!(KubeVersion::parse("latest").is_err());
        assert!(KubeVersion::parse("v1.36.+1").is_err());
        assert!(KubeVersion::parse(DEFAULT_KUBERNETES_VERSION).is_ok());
    }

    #[test]
    fn etcd_versions() {
        for minor in OLDEST_MINOR..=NEWEST_MINOR {
            let kube = KubeVersion { minor, patch: 0 };
            assert!(
                EtcdVersion::parse(kube.pinned_etcd(), kube).is_ok(),
                "{kube}"
            );
        }
        let kube = v("v1.37.0");
        assert!(
            EtcdVersion::parse("3.5.24-0", kube)
                .unwrap_err()
                .message
                .contains("does not go")
        );
        assert!(
            EtcdVersion::parse("3.4.13-0", kube)
                .unwrap_err()
                .message
                .contains("not supported")
        );
        assert!(EtcdVersion::parse("three", kube).is_err());
    }

    #[test]
    fn closest_finds_typos_only() {
        let words = ["secure-port", "profiling", "audit-log-path"];
        assert_eq!(
            closest("secure-prot", words.into_iter()).as_deref(),
            Some("secure-port")
        );
        assert_eq!(closest("zzz", words.into_iter()), None);
    }
}
