//! Supported Kubernetes and etcd versions, the Kubernetes patch releases kcompile knows (with what
//! changes between patch releases: `versions/releases.rs`), the pause image tag per minor
//! (`versions/pause.rs`), and the per-version tables of flags and
//! feature gates that `extraArgs` are checked against.
//!
//! The flag and feature-gate tables are in `flags`: built from the per-release lists extracted
//! from upstream source (`src/versions/upstream/`) and a hand-written overlay of hints
//! (`src/versions/flags/`).

use std::fmt;

pub mod admission;
mod flag_tables;
mod flags;

pub use flags::{FlagStatus, GateStatus, closest, flag_status, gate_status};

mod node;
pub mod pause;

pub use node::kernel_tunables;

mod releases;

pub use releases::KubeletClientAccess;

pub mod coredns;
pub mod images;
pub mod load_balancer;

/// The tab-separated columns of each data row of a `src/versions/*.tsv` table: every line that is
/// neither blank nor a `#` comment. The one reader of those tables' layout.
pub(crate) fn tsv_rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').collect())
}

/// The oldest supported Kubernetes minor (1.x).
pub const OLDEST_MINOR: u32 = 33;
/// The newest supported Kubernetes minor (1.x).
pub const NEWEST_MINOR: u32 = 37;
/// The version a spec gets when it names none: the newest supported release.
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.37.1";

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
        let newest = (OLDEST_MINOR..=NEWEST_MINOR)
            .contains(&version.minor)
            .then(|| releases::newest_patch(version.minor))
            .flatten();
        let Some(newest) = newest else {
            return Err(VersionError {
                message: format!("Kubernetes {version} is not supported"),
                hint: format!("kcompile supports v1.{OLDEST_MINOR} to v1.{NEWEST_MINOR}"),
            });
        };
        if version.patch > newest {
            return Err(VersionError {
                message: format!(
                    "Kubernetes {version} is newer than every v1.{} release kcompile knows",
                    version.minor
                ),
                hint: format!(
                    "the newest v1.{minor} release kcompile knows is v1.{minor}.{newest}: name a known release, or use a kcompile that knows {version} (kubeadm changed behaviour in patch releases before)",
                    minor = version.minor
                ),
            });
        }
        Ok(version)
    }

    /// The etcd image tag kubeadm pins for this release (`SupportedEtcdVersion` of its tag). Every
    /// release [`KubeVersion::parse`] accepts has one; a hand-made version outside the table gets
    /// the newest minor's.
    pub fn pinned_etcd(self) -> &'static str {
        releases::etcd_pin(self.minor, self.patch)
            .or_else(|| releases::etcd_pin(NEWEST_MINOR, u32::MAX))
            .unwrap_or_default()
    }

    /// How kubeadm gives this release's apiserver kubelet client its rights on the kubelets.
    pub fn kubelet_client_access(self) -> KubeletClientAccess {
        releases::kubelet_client_access(self.minor, self.patch)
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
            ..=36 => ((3, 5), (3, 6)),
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
    fn a_patch_release_newer_than_the_newest_known_is_refused_naming_it() {
        assert!(KubeVersion::parse("v1.36.4").is_ok());
        let error = KubeVersion::parse("v1.36.99").unwrap_err();
        assert_eq!(
            error.message,
            "Kubernetes v1.36.99 is newer than every v1.36 release kcompile knows"
        );
        assert!(
            error
                .hint
                .starts_with("the newest v1.36 release kcompile knows is v1.36.4"),
            "{}",
            error.hint
        );
    }

    #[test]
    fn each_release_gets_its_own_etcd_pin_and_kubelet_client_access() {
        assert_eq!(v("v1.36.0").pinned_etcd(), "3.6.9-0");
        assert_eq!(v("v1.36.4").pinned_etcd(), "3.6.9-0");
        assert_eq!(v("v1.37.1").pinned_etcd(), "3.7.0-0");
        assert_eq!(
            v("v1.36.0").kubelet_client_access(),
            KubeletClientAccess::ClusterAdminsGroup
        );
        assert_eq!(
            v("v1.36.1").kubelet_client_access(),
            KubeletClientAccess::KubeletApiAdminRole
        );
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
}
