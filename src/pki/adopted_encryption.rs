//! The `EncryptionConfiguration` of an adopted cluster (`secrets/encryption-adopted.json`): its
//! resource groups with their providers and keys, in order, as the cluster had them. The apiserver
//! writes a key's name into every ciphertext, so the cluster's key names and order are kept: the
//! key it encrypts with becomes the state's `secrets/encryption-key` (under its own name), and
//! every other provider and key follows kcompile's in the order the cluster had them, so that
//! everything stored before adoption stays readable. kcompile's own rotation works on top.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::PkiError;
use super::secrets::Shape;
use crate::cluster::EncryptionProvider;
use crate::state::Transaction;

/// Where the record lives in the state dir.
pub const PATH: &str = "secrets/encryption-adopted.json";

/// The adopted `EncryptionConfiguration`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptedEncryption {
    /// Its `resources` entries, in order.
    pub groups: Vec<Group>,
    /// The file as the cluster wrote it: rendered as it is, byte for byte, for as long as
    /// kcompile's configuration says the same (until a rotation changes the keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl std::fmt::Debug for AdoptedEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys.
        write!(f, "AdoptedEncryption({} groups)", self.groups.len())
    }
}

/// One `resources` entry: what it encrypts and its providers, the first one writing.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Its `resources` list.
    pub resources: Vec<String>,
    /// Its providers, each as the cluster wrote it (`{aescbc: {keys: [...]}}`, `{identity: {}}`).
    pub providers: Vec<Value>,
}

/// The key a cluster encrypts with: its provider, its name and its secret (base64).
#[derive(Clone, PartialEq, Eq)]
pub struct CurrentKey {
    /// The provider of the first entry.
    pub provider: EncryptionProvider,
    /// The key's name.
    pub name: String,
    /// The key (base64 of 32 bytes).
    pub secret: String,
}

/// Why a cluster's `EncryptionConfiguration` cannot be adopted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdoptedEncryptionError {
    /// It is not an `apiserver.config.k8s.io/v1` `EncryptionConfiguration` with resources.
    #[error("is not an apiserver.config.k8s.io/v1 EncryptionConfiguration with `resources`")]
    NotAConfiguration,
    /// Its first entry does not encrypt with a local key (identity, kms or another provider).
    #[error(
        "its first entry writes with `{0}`; kcompile adopts a configuration whose first provider is secretbox, aesgcm or aescbc with a key"
    )]
    NotLocal(String),
    /// A key lacks a name or secret, or its secret is not 32 bytes of base64.
    #[error("key {index} of provider `{provider}` {problem}")]
    BadKey {
        /// The provider.
        provider: String,
        /// The key's position (from 1).
        index: usize,
        /// What is wrong.
        problem: &'static str,
    },
}

impl AdoptedEncryption {
    /// Reads a cluster's `EncryptionConfiguration` (parsed from its YAML): the record and the key
    /// it encrypts with.
    pub fn from_config(
        config: &Value,
    ) -> Result<(AdoptedEncryption, CurrentKey), AdoptedEncryptionError> {
        if config.get("kind").and_then(Value::as_str) != Some("EncryptionConfiguration") {
            return Err(AdoptedEncryptionError::NotAConfiguration);
        }
        let entries = config
            .get("resources")
            .and_then(Value::as_array)
            .filter(|entries| !entries.is_empty())
            .ok_or(AdoptedEncryptionError::NotAConfiguration)?;
        let mut groups = Vec::new();
        for entry in entries {
            let resources = entry
                .get("resources")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .ok_or(AdoptedEncryptionError::NotAConfiguration)?;
            let providers = entry
                .get("providers")
                .and_then(Value::as_array)
                .filter(|providers| !providers.is_empty())
                .ok_or(AdoptedEncryptionError::NotAConfiguration)?
                .clone();
            for provider in &providers {
                if let Some((kind, keys)) = local_keys(provider) {
                    for (index, key) in keys.iter().enumerate() {
                        let bad = |problem| AdoptedEncryptionError::BadKey {
                            provider: kind.to_owned(),
                            index: index + 1,
                            problem,
                        };
                        key.get("name")
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad("has no name"))?;
                        let secret = key
                            .get("secret")
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad("has no secret"))?;
                        if let Some(problem) = Shape::Base64Bytes32.problem(secret) {
                            return Err(bad(problem));
                        }
                    }
                }
            }
            groups.push(Group {
                resources,
                providers,
            });
        }
        let first = groups
            .first()
            .and_then(|group| group.providers.first())
            .ok_or(AdoptedEncryptionError::NotAConfiguration)?;
        let kind = provider_kind(first);
        let provider: EncryptionProvider = serde_json::from_value(Value::String(kind.clone()))
            .map_err(|_| AdoptedEncryptionError::NotLocal(kind.clone()))?;
        let key = local_keys(first)
            .and_then(|(_, keys)| keys.first())
            .ok_or_else(|| AdoptedEncryptionError::NotLocal(kind.clone()))?;
        let text = |field| {
            key.get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let current = CurrentKey {
            provider,
            name: text("name"),
            secret: text("secret"),
        };
        Ok((AdoptedEncryption { groups, text: None }, current))
    }

    /// The record in the state, if the cluster was adopted with one.
    pub fn read(state: &Transaction<'_>) -> Result<Option<AdoptedEncryption>, PkiError> {
        let Some(text) = state.read_text(PATH)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| PkiError::DamagedSecret {
                path: PATH.to_owned(),
                problem: "is not the record of an adopted EncryptionConfiguration",
            })
    }

    /// The record's JSON, as the state keeps it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The name the cluster gave `secret`, if it had it.
    pub fn name_of(&self, secret: &str) -> Option<&str> {
        self.groups
            .iter()
            .flat_map(|group| &group.providers)
            .filter_map(|provider| local_keys(provider).map(|(_, keys)| keys))
            .flatten()
            .find(|key| key.get("secret").and_then(Value::as_str) == Some(secret))
            .and_then(|key| key.get("name").and_then(Value::as_str))
    }

    /// The secret the cluster encrypted with (the first key of the first entry).
    pub fn first_secret(&self) -> Option<&str> {
        self.groups.first().and_then(Group::writing_secret)
    }

    /// Whether `group` wrote with the key the cluster encrypted with: kcompile's keys (that key,
    /// or those of its rotation) go first in it.
    pub fn writes_current(&self, group: &Group) -> bool {
        group.writing_secret().is_some() && group.writing_secret() == self.first_secret()
    }
}

impl Group {
    /// The secret the entry writes with: the first key of its first provider, if local.
    fn writing_secret(&self) -> Option<&str> {
        self.providers
            .first()
            .and_then(|provider| local_keys(provider).map(|(_, keys)| keys))
            .and_then(|keys| keys.first())
            .and_then(|key| key.get("secret").and_then(Value::as_str))
    }
}

/// A provider's name (`aescbc`, `identity`, `kms`): its one field.
pub fn provider_kind(provider: &Value) -> String {
    provider
        .as_object()
        .and_then(|fields| fields.keys().next())
        .cloned()
        .unwrap_or_default()
}

/// The keys of a local provider (secretbox, aesgcm, aescbc), with its name.
fn local_keys(provider: &Value) -> Option<(&str, &Vec<Value>)> {
    let fields = provider.as_object()?;
    ["secretbox", "aesgcm", "aescbc"]
        .into_iter()
        .find_map(|kind| {
            fields
                .get(kind)
                .and_then(|body| body.get("keys"))
                .and_then(Value::as_array)
                .map(|keys| (kind, keys))
        })
}

/// The adopted providers of `group` without the keys kcompile lists itself (`own`): a local
/// provider left with no key is dropped; every other provider is kept as it is.
pub fn remaining(group: &Group, own: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for provider in &group.providers {
        let Some((kind, keys)) = local_keys(provider) else {
            out.push(provider.clone());
            continue;
        };
        let kept: Vec<Value> = keys
            .iter()
            .filter(|key| {
                !key.get("secret")
                    .and_then(Value::as_str)
                    .is_some_and(|secret| own.iter().any(|mine| mine == secret))
            })
            .cloned()
            .collect();
        if !kept.is_empty() {
            let mut provider = provider.clone();
            if let Some(body) = provider.get_mut(kind) {
                body["keys"] = Value::Array(kept);
            }
            out.push(provider);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// The key the adopted cluster writes with.
    pub(crate) const NEW: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
    /// An older key the adopted cluster still reads.
    pub(crate) const OLD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    /// An `EncryptionConfiguration` as a kubeadm cluster might have it.
    pub(crate) fn cluster_config() -> Value {
        json!({
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [
                {"resources": ["secrets"], "providers": [
                    {"aescbc": {"keys": [{"name": "key2", "secret": NEW}, {"name": "key1", "secret": OLD}]}},
                    {"identity": {}},
                ]},
                {"resources": ["configmaps"], "providers": [{"identity": {}}]},
            ],
        })
    }

    #[test]
    fn a_configuration_kcompile_cannot_keep_is_refused_with_why() {
        let mut identity_first = cluster_config();
        identity_first["resources"][0]["providers"] =
            json!([{"identity": {}}, {"aescbc": {"keys": [{"name": "k", "secret": OLD}]}}]);
        let mut short_key = cluster_config();
        short_key["resources"][0]["providers"][0]["aescbc"]["keys"][1]["secret"] =
            json!("c2hvcnQ=");
        let mut no_name = cluster_config();
        no_name["resources"][0]["providers"][0]["aescbc"]["keys"][0] = json!({"secret": NEW});
        for (config, error) in [
            (
                json!({"kind": "Pod"}),
                AdoptedEncryptionError::NotAConfiguration,
            ),
            (
                identity_first,
                AdoptedEncryptionError::NotLocal("identity".into()),
            ),
            (
                short_key,
                AdoptedEncryptionError::BadKey {
                    provider: "aescbc".into(),
                    index: 2,
                    problem: "is not 32 bytes once base64-decoded",
                },
            ),
            (
                no_name,
                AdoptedEncryptionError::BadKey {
                    provider: "aescbc".into(),
                    index: 1,
                    problem: "has no name",
                },
            ),
        ] {
            assert_eq!(AdoptedEncryption::from_config(&config).err(), Some(error));
        }
    }
}
