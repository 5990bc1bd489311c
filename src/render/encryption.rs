//! encryption-config.yaml: an `apiserver.config.k8s.io/v1` EncryptionConfiguration with the
//! spec's provider and the key from the state dir, `identity` last so that data written before
//! encryption was turned on stays readable.

use serde_json::json;

use super::yaml;
use crate::cluster::Encryption;
use crate::spec::EncryptionProvider;

/// The EncryptionConfiguration; `key` is the base64 secret from the state dir.
pub fn config(encryption: &Encryption, key: &str) -> String {
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
                {provider: {"keys": [{"name": "key1", "secret": key}]}},
                {"identity": {}},
            ],
        }],
    }))
}
