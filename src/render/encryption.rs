//! encryption-config.yaml: an `apiserver.config.k8s.io/v1` `EncryptionConfiguration` with the
//! spec's provider and the key from the state dir, `identity` last so that data written before
//! encryption was turned on stays readable.

use serde_json::json;

use super::yaml;
use crate::cluster::Encryption;
use crate::digest::sha256;
use crate::spec::EncryptionProvider;

/// The `EncryptionConfiguration`; `keys` are base64 secrets, the one that encrypts first. Each key
/// is named after its hash: the apiserver writes the name into every ciphertext, so a name must
/// never move to another secret.
pub fn config(encryption: &Encryption, keys: &[String]) -> String {
    let provider = match encryption.provider {
        EncryptionProvider::Secretbox => "secretbox",
        EncryptionProvider::Aesgcm => "aesgcm",
        EncryptionProvider::Aescbc => "aescbc",
    };
    yaml(&json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{
            "resources": encryption.resources,
            "providers": [
                {provider: {"keys": keys.iter().map(|key| json!({
                    "name": format!("key-{}", &sha256(key.as_bytes())[..8]),
                    "secret": key,
                })).collect::<Vec<_>>()}},
                {"identity": {}},
            ],
        }],
    }))
}
