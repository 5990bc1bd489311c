//! The inventory (`inventory.json`): every long-lived item the state dir holds, with its kind, its
//! sha256 and when it was made. It is what turns the state dir from a bag of files into a ledger:
//! a recorded item that is missing or changed is an error that names it, never a gap to refill.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::Authority;

/// Where the inventory lives in the state dir.
pub const PATH: &str = "inventory.json";

/// What an item of the state is, told by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A CA certificate (`pki/ca.crt`).
    CaCertificate(Authority),
    /// A CA key (`pki/ca.key`).
    CaKey(Authority),
    /// The certificate of a CA being rotated in (`pki/ca-next.crt`).
    IncomingCaCertificate(Authority),
    /// The key of a CA being rotated in (`pki/ca-next.key`).
    IncomingCaKey(Authority),
    /// `pki/sa.key`: signs service-account tokens.
    ServiceAccountKey,
    /// `pki/sa.pub`.
    ServiceAccountPublicKey,
    /// `pki/sa-next.key`: the service-account key being rotated in.
    IncomingServiceAccountKey,
    /// A leaf certificate (`pki/admin.crt`, `hosts/<host>/apiserver.crt`).
    LeafCertificate,
    /// A leaf key.
    LeafKey,
    /// What a leaf was issued from (`*.json` beside it).
    IssueRecord,
    /// `secrets/encryption-key`: encrypts Secrets in etcd.
    EncryptionKey,
    /// `secrets/encryption-key-next`: the encryption key being rotated in.
    IncomingEncryptionKey,
    /// `secrets/encryption-adopted.json`: an adopted cluster's `EncryptionConfiguration`, its keys
    /// and their order ([`crate::pki::adopted_encryption`]).
    AdoptedEncryption,
    /// `secrets/etcd-initial-cluster-token`.
    EtcdToken,
    /// `secrets/bootstrap-token`.
    BootstrapToken,
    /// `secrets/vrrp-password`: keepalived's shared password.
    VrrpPassword,
    /// `secrets/fingerprint-key`: the key of the keyed fingerprints kcompile prints.
    FingerprintKey,
    /// `rotations.json`: the phase of each rotation in progress.
    RotationRecord,
    /// `cluster.json`: the version of the last build.
    BuildRecord,
    /// `etcd/members.json`: the etcd members, how each joined, and the bootstrap mode.
    EtcdMembers,
    /// `built/<host>/MANIFEST`: the MANIFEST of the host's last built bundle
    /// ([`crate::bundle::built`]), which `kcompile plan` compares a new build with.
    BuiltManifest,
    /// A retired file under `retired/`: kept, never overwritten.
    Retired,
}

impl ItemKind {
    /// The kind of the item at `path`, or `None` for a file that is not part of the ledger.
    pub fn of(path: &str) -> Option<ItemKind> {
        if path.starts_with("retired/") {
            return Some(ItemKind::Retired);
        }
        for authority in Authority::ALL {
            let file = authority.file();
            let kind = match path.strip_prefix("pki/").and_then(|p| p.strip_prefix(file)) {
                Some(".crt") => ItemKind::CaCertificate(authority),
                Some(".key") => ItemKind::CaKey(authority),
                Some("-next.crt") => ItemKind::IncomingCaCertificate(authority),
                Some("-next.key") => ItemKind::IncomingCaKey(authority),
                _ => continue,
            };
            return Some(kind);
        }
        let kind = match path {
            "pki/sa.key" => ItemKind::ServiceAccountKey,
            "pki/sa.pub" => ItemKind::ServiceAccountPublicKey,
            "pki/sa-next.key" => ItemKind::IncomingServiceAccountKey,
            "secrets/encryption-key" => ItemKind::EncryptionKey,
            "secrets/encryption-key-next" => ItemKind::IncomingEncryptionKey,
            "secrets/encryption-adopted.json" => ItemKind::AdoptedEncryption,
            "secrets/etcd-initial-cluster-token" => ItemKind::EtcdToken,
            "secrets/bootstrap-token" => ItemKind::BootstrapToken,
            "secrets/vrrp-password" => ItemKind::VrrpPassword,
            "secrets/fingerprint-key" => ItemKind::FingerprintKey,
            "rotations.json" => ItemKind::RotationRecord,
            "cluster.json" => ItemKind::BuildRecord,
            "etcd/members.json" => ItemKind::EtcdMembers,
            _ if path.starts_with("built/") && path.ends_with("/MANIFEST") => {
                ItemKind::BuiltManifest
            }
            _ if path.starts_with("pki/") || path.starts_with("hosts/") => {
                match path.rsplit_once('.').map(|(_, extension)| extension) {
                    Some("crt") => ItemKind::LeafCertificate,
                    Some("key") => ItemKind::LeafKey,
                    Some("json") => ItemKind::IssueRecord,
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(kind)
    }

    /// Its name in `kcompile state list` and in `inventory.json`.
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::CaCertificate(_) => "ca-certificate",
            ItemKind::CaKey(_) => "ca-key",
            ItemKind::IncomingCaCertificate(_) => "incoming-ca-certificate",
            ItemKind::IncomingCaKey(_) => "incoming-ca-key",
            ItemKind::ServiceAccountKey => "service-account-key",
            ItemKind::ServiceAccountPublicKey => "service-account-public-key",
            ItemKind::IncomingServiceAccountKey => "incoming-service-account-key",
            ItemKind::LeafCertificate => "certificate",
            ItemKind::LeafKey => "key",
            ItemKind::IssueRecord => "issue-record",
            ItemKind::EncryptionKey => "encryption-key",
            ItemKind::IncomingEncryptionKey => "incoming-encryption-key",
            ItemKind::AdoptedEncryption => "adopted-encryption",
            ItemKind::EtcdToken => "etcd-token",
            ItemKind::BootstrapToken => "bootstrap-token",
            ItemKind::VrrpPassword => "vrrp-password",
            ItemKind::FingerprintKey => "fingerprint-key",
            ItemKind::RotationRecord => "rotation-record",
            ItemKind::BuildRecord => "build-record",
            ItemKind::EtcdMembers => "etcd-members",
            ItemKind::BuiltManifest => "built-manifest",
            ItemKind::Retired => "retired",
        }
    }

    /// Whether the item is secret: a private key or a generated secret.
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            ItemKind::CaKey(_)
                | ItemKind::IncomingCaKey(_)
                | ItemKind::ServiceAccountKey
                | ItemKind::IncomingServiceAccountKey
                | ItemKind::LeafKey
                | ItemKind::EncryptionKey
                | ItemKind::IncomingEncryptionKey
                | ItemKind::AdoptedEncryption
                | ItemKind::EtcdToken
                | ItemKind::BootstrapToken
                | ItemKind::VrrpPassword
                | ItemKind::FingerprintKey
                | ItemKind::Retired
        )
    }

    /// What a replacement would break: said when the item is missing or damaged.
    pub fn consequence(self) -> &'static str {
        match self {
            ItemKind::CaCertificate(Authority::Cluster) | ItemKind::CaKey(Authority::Cluster) => {
                "a new cluster CA would cut every node, kubeconfig and client off the running cluster"
            }
            ItemKind::CaCertificate(Authority::Etcd) | ItemKind::CaKey(Authority::Etcd) => {
                "a new etcd CA would cut every etcd member off its peers and the apiservers off etcd"
            }
            ItemKind::CaCertificate(Authority::FrontProxy)
            | ItemKind::CaKey(Authority::FrontProxy) => {
                "a new front-proxy CA would break every aggregated API (metrics-server and the like)"
            }
            ItemKind::IncomingCaCertificate(_) | ItemKind::IncomingCaKey(_) => {
                "hosts rolled out in this CA rotation already trust the incoming CA; a different one would break them"
            }
            ItemKind::ServiceAccountKey | ItemKind::ServiceAccountPublicKey => {
                "a new service-account key would invalidate every service-account token in the cluster"
            }
            ItemKind::IncomingServiceAccountKey => {
                "apiservers rolled out in this rotation already trust the incoming service-account key"
            }
            ItemKind::EncryptionKey | ItemKind::IncomingEncryptionKey => {
                "a new encryption key would leave every Secret stored in etcd unreadable"
            }
            ItemKind::AdoptedEncryption => {
                "without the adopted keys, the Secrets the cluster stored before adoption cannot be read"
            }
            ItemKind::EtcdToken => "etcd members must agree on their initial-cluster token",
            ItemKind::BootstrapToken => {
                "workers joining with the recorded bootstrap token would be refused"
            }
            ItemKind::VrrpPassword => {
                "keepalived instances with different passwords split the virtual IP"
            }
            ItemKind::FingerprintKey => {
                "fingerprints printed before could no longer be compared with new ones"
            }
            ItemKind::LeafCertificate | ItemKind::LeafKey | ItemKind::IssueRecord => {
                "the certificate on the hosts would no longer match the state"
            }
            ItemKind::RotationRecord => "kcompile would lose track of the rotations in progress",
            ItemKind::BuildRecord => "kcompile would lose the version of the last build",
            ItemKind::EtcdMembers => {
                "kcompile would lose which etcd members exist and how each joined: a member added later would get the flags of a new cluster"
            }
            ItemKind::BuiltManifest => {
                "`kcompile plan` without --roots would no longer know what the host was last given"
            }
            ItemKind::Retired => "a retired key may be the only copy left of old material",
        }
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One recorded item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// sha256 of the file, hex.
    pub sha256: String,
    /// When this content was recorded (RFC 3339, UTC).
    pub since: String,
    /// For a retired item: the path it was retired from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_from: Option<String>,
}

/// The inventory: items by path relative to the state dir.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Format version (1).
    pub format: u32,
    /// Every recorded item.
    pub items: BTreeMap<String, Item>,
}

/// Why `inventory.json` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// It is not the inventory's JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A format this kcompile does not know.
    #[error("format {0} is newer than this kcompile reads (1): use a newer kcompile")]
    NewerFormat(u32),
    /// An item path that is not a plain relative path.
    #[error("item path `{0}` leaves the state dir")]
    UnsafePath(String),
}

impl Inventory {
    /// An empty inventory of the current format.
    pub fn new() -> Inventory {
        Inventory {
            format: 1,
            items: BTreeMap::new(),
        }
    }

    /// Parses `inventory.json`.
    pub fn parse(text: &str) -> Result<Inventory, InventoryError> {
        let inventory: Inventory = serde_json::from_str(text)?;
        if inventory.format != 1 {
            return Err(InventoryError::NewerFormat(inventory.format));
        }
        if let Some(path) = inventory.items.keys().find(|p| !is_safe_path(p)) {
            return Err(InventoryError::UnsafePath(path.clone()));
        }
        Ok(inventory)
    }

    /// The JSON text written to the state dir.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The retired copies of `path`, oldest first.
    pub fn retired_copies(&self, path: &str) -> Vec<&str> {
        let mut copies: Vec<(&str, &str)> = self
            .items
            .iter()
            .filter(|(_, item)| item.retired_from.as_deref() == Some(path))
            .map(|(retired, item)| (item.since.as_str(), retired.as_str()))
            .collect();
        copies.sort_unstable();
        copies.into_iter().map(|(_, retired)| retired).collect()
    }
}

/// Whether `path` is a plain relative path inside the state dir.
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_paths() {
        assert_eq!(
            ItemKind::of("pki/ca.key"),
            Some(ItemKind::CaKey(Authority::Cluster))
        );
        assert_eq!(
            ItemKind::of("pki/etcd/ca-next.crt"),
            Some(ItemKind::IncomingCaCertificate(Authority::Etcd))
        );
        assert_eq!(
            ItemKind::of("pki/front-proxy-ca.crt"),
            Some(ItemKind::CaCertificate(Authority::FrontProxy))
        );
        assert_eq!(
            ItemKind::of("pki/sa.key"),
            Some(ItemKind::ServiceAccountKey)
        );
        assert_eq!(ItemKind::of("pki/admin.key"), Some(ItemKind::LeafKey));
        assert_eq!(
            ItemKind::of("hosts/m1/etcd/server.crt"),
            Some(ItemKind::LeafCertificate)
        );
        assert_eq!(
            ItemKind::of("hosts/m1/apiserver.json"),
            Some(ItemKind::IssueRecord)
        );
        assert_eq!(
            ItemKind::of("retired/pki/sa.key.0123"),
            Some(ItemKind::Retired)
        );
        assert_eq!(
            ItemKind::of("etcd/members.json"),
            Some(ItemKind::EtcdMembers)
        );
        assert_eq!(
            ItemKind::of("built/m1.example.com/MANIFEST"),
            Some(ItemKind::BuiltManifest)
        );
        assert_eq!(ItemKind::of("built/m1/notes"), None);
        assert_eq!(ItemKind::of("lock"), None);
        assert_eq!(ItemKind::of("notes.txt"), None);
    }

    #[test]
    fn paths_that_leave_the_state_dir_are_refused() {
        assert!(is_safe_path("pki/ca.key"));
        for bad in [
            "",
            "/etc/shadow",
            "../x",
            "pki/../../x",
            "pki//ca.key",
            "./x",
        ] {
            assert!(!is_safe_path(bad), "{bad}");
        }
        let text = r#"{"format":1,"items":{"../x":{"sha256":"00","since":"now"}}}"#;
        assert!(
            Inventory::parse(text)
                .unwrap_err()
                .to_string()
                .contains("leaves")
        );
    }
}
