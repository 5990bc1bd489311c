//! Secrets stay private: every file that holds a private key (`*.key`, `sa.key`, a PEM with a
//! `PRIVATE KEY` block such as the kubelet's `kubelet-client-current.pem`), a kubeconfig with a
//! client key or a token, and the encryption-at-rest config has no permission bits for its group
//! or for others. kubeadm and kcompile write them 0600; a wider mode lets any local user (any
//! process that escapes into the host as a non-root user) read them. Modes come from the root's
//! files, or from a tar's headers.

use serde_json::Value;

use super::material;
use super::{Check, relative};
use crate::component::Component;
use crate::redact::is_key_path;
use crate::render::SECRET;

/// What a secret-bearing file holds, and what someone who reads it can do.
pub(super) struct Held {
    pub(super) what: &'static str,
    pub(super) consequence: &'static str,
}

const PRIVATE_KEY: Held = Held {
    what: "a private key",
    consequence: "whoever reads it can pose as its certificate's owner (or, for a CA or sa.key, sign certificates or service-account tokens)",
};
const SERVICE_ACCOUNT_KEY: Held = Held {
    what: "the service-account signing key",
    consequence: "whoever reads it can sign a token for any service account, cluster-admin's included",
};
const CLIENT_KEY: Held = Held {
    what: "a client key (client-key-data)",
    consequence: "whoever reads it can act as this kubeconfig's user",
};
const TOKEN: Held = Held {
    what: "a bearer token",
    consequence: "whoever reads it can act as this kubeconfig's user",
};
const ENCRYPTION: Held = Held {
    what: "the encryption-at-rest keys",
    consequence: "whoever reads it can decrypt every Secret stored in etcd",
};

impl Check<'_> {
    /// Every secret-bearing file of the tree has no group or other permission bits.
    pub(super) fn permissions(&mut self) {
        let encryption: Vec<String> = self
            .pods
            .iter()
            .filter(|file| file.pod.component == Some(Component::ApiServer))
            .filter_map(|file| {
                let flag = file.pod.flag("encryption-provider-config")?;
                Some(relative(&file.pod.host_path(flag)))
            })
            .collect();
        let tree = self.tree;
        for (path, bytes) in &tree.files {
            let Some(mode) = tree.mode(path) else {
                continue;
            };
            if mode & 0o077 == 0 || shared_by_rootless(tree, path, mode) {
                continue;
            }
            let Some(held) = held(path, bytes, encryption.contains(path)) else {
                continue;
            };
            let who = if mode & 0o007 != 0 {
                "every user of the host"
            } else {
                "its group"
            };
            let shown = tree.display(path);
            self.error(
                path,
                format!(
                    "holds {} and has mode {mode:04o}, readable by {who}: {}; make it {SECRET:04o} \
                     (`chmod {SECRET:o} {shown}`), as kubeadm and kcompile write it",
                    held.what, held.consequence
                ),
            );
        }
    }
}

/// Whether kcompile's rootless tmpfiles configuration in the tree gives `path` to root and the
/// shared group of two rootless components, mode 0640 (`sa.key`): then its group is those two.
fn shared_by_rootless(tree: &super::Tree, path: &str, mode: u32) -> bool {
    let Some(conf) = tree.files.get(crate::render::security_context::TMPFILES) else {
        return false;
    };
    mode == crate::render::security_context::SHARED_SECRET
        && String::from_utf8_lossy(conf).lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() >= 5
                && fields[0] == "z"
                && fields[1].trim_start_matches('/') == path
                && fields[2] == "0640"
                && fields[3] == "0"
        })
}

/// What secret a file holds, if any: by its name, its PEM blocks, or its YAML.
pub(super) fn held(path: &str, bytes: &[u8], encryption_config: bool) -> Option<Held> {
    let text = String::from_utf8_lossy(bytes);
    let pem_key = text.lines().any(|line| {
        line.starts_with("-----BEGIN ") && line.trim_end().ends_with("PRIVATE KEY-----")
    });
    if path.ends_with("/sa.key") {
        return Some(SERVICE_ACCOUNT_KEY);
    }
    if is_key_path(path) || pem_key {
        return Some(PRIVATE_KEY);
    }
    if encryption_config {
        return Some(ENCRYPTION);
    }
    let looks_like_yaml = path.ends_with(".conf")
        || path.ends_with(".yaml")
        || path.ends_with(".yml")
        || path.ends_with(".json")
        || path.ends_with("/kubeconfig");
    if !looks_like_yaml {
        return None;
    }
    let value = material::yaml(&text).ok()?;
    match value.get("kind").and_then(Value::as_str) {
        Some("EncryptionConfiguration") => Some(ENCRYPTION),
        Some("Config") => {
            let users = value.get("users").and_then(Value::as_array)?;
            let has = |field: &str| {
                users
                    .iter()
                    .any(|u| u.pointer(&format!("/user/{field}")).is_some())
            };
            if has("client-key-data") {
                Some(CLIENT_KEY)
            } else if has("token") || has("password") {
                Some(TOKEN)
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_told_by_name_and_by_content() {
        let what = |path: &str, text: &str| held(path, text.as_bytes(), false).map(|h| h.what);
        assert_eq!(
            what("etc/kubernetes/pki/sa.key", ""),
            Some("the service-account signing key")
        );
        assert_eq!(
            what("etc/kubernetes/pki/ca.key", "junk"),
            Some("a private key")
        );
        assert_eq!(
            what(
                "var/lib/kubelet/pki/kubelet-client-current.pem",
                "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\n"
            ),
            Some("a private key")
        );
        assert_eq!(
            what("etc/kubernetes/pki/ca.crt", "-----BEGIN CERTIFICATE-----\n"),
            None
        );
        let kubeconfig =
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-key-data: QQ==\n";
        assert_eq!(
            what("etc/kubernetes/admin.conf", kubeconfig),
            Some("a client key (client-key-data)")
        );
        let bootstrap = kubeconfig.replace("client-key-data", "token");
        assert_eq!(
            what("etc/kubernetes/bootstrap-kubelet.conf", &bootstrap),
            Some("a bearer token")
        );
        let encryption = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n";
        assert_eq!(
            what("etc/kubernetes/enc.yaml", encryption),
            Some("the encryption-at-rest keys")
        );
        assert_eq!(
            held("etc/kubernetes/x", b"", true).map(|h| h.what),
            Some("the encryption-at-rest keys")
        );
        assert_eq!(
            what("etc/kubernetes/manifests/etcd.yaml", "kind: Pod\n"),
            None
        );
    }
}
