//! encryption-config.yaml: an `apiserver.config.k8s.io/v1` `EncryptionConfiguration` with the
//! spec's provider and the key from the state dir, `identity` last so that data written before
//! encryption was turned on stays readable.

use serde_json::json;

use super::yaml;
use crate::cluster::Encryption;
use crate::cluster::EncryptionProvider;
use crate::digest::sha256;
use crate::pki::adopted_encryption::{AdoptedEncryption, remaining};

/// The `EncryptionConfiguration`; `keys` are base64 secrets, the one that encrypts first. Each key
/// is named after its hash: the apiserver writes the name into every ciphertext, so a name must
/// never move to another secret. An adopted cluster's configuration (`adopted`) keeps its resource
/// entries, its key names and every provider and key after kcompile's, in its order
/// ([`crate::pki::adopted_encryption`]), and its very bytes while they say the same.
pub fn config(
    encryption: &Encryption,
    keys: &[String],
    adopted: Option<&AdoptedEncryption>,
) -> String {
    let provider = match encryption.provider {
        EncryptionProvider::Secretbox => "secretbox",
        EncryptionProvider::Aesgcm => "aesgcm",
        EncryptionProvider::Aescbc => "aescbc",
    };
    let name = |key: &String| {
        adopted
            .and_then(|adopted| adopted.name_of(key))
            .map_or_else(
                || format!("key-{}", &sha256(key.as_bytes())[..8]),
                str::to_owned,
            )
    };
    let own = json!({provider: {"keys": keys.iter().map(|key| json!({
        "name": name(key),
        "secret": key,
    })).collect::<Vec<_>>()}});
    let resources = match adopted {
        None => vec![json!({
            "resources": encryption.resources,
            "providers": [own, {"identity": {}}],
        })],
        Some(adopted) => adopted
            .groups
            .iter()
            .map(|group| {
                let mut providers = Vec::new();
                if adopted.writes_current(group) {
                    // The cluster's other keys of the same provider follow kcompile's in that
                    // provider, so that an adopted configuration renders as the cluster had it.
                    let mut rest = remaining(group, keys).into_iter().peekable();
                    let mut mine = own.clone();
                    if let Some(more) = rest
                        .next_if(|next| next.get(provider).is_some())
                        .and_then(|next| next[provider]["keys"].as_array().cloned())
                        && let Some(list) = mine[provider]["keys"].as_array_mut()
                    {
                        list.extend(more);
                    }
                    providers.push(mine);
                    providers.extend(rest);
                } else {
                    providers.extend(group.providers.iter().cloned());
                }
                json!({"resources": group.resources, "providers": providers})
            })
            .collect(),
    };
    let config = json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": resources,
    });
    // An adopted cluster's file, while it still says exactly this, stays as the cluster wrote it.
    if let Some(text) = adopted.and_then(|adopted| adopted.text.as_ref())
        && serde_saphyr::from_str::<serde_json::Value>(text).is_ok_and(|theirs| theirs == config)
    {
        return text.clone();
    }
    yaml(&config)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::pki::adopted_encryption::tests::{NEW, cluster_config};

    #[test]
    fn an_adopted_configuration_renders_as_the_cluster_had_it() {
        let (adopted, current) = AdoptedEncryption::from_config(&cluster_config()).unwrap();
        assert_eq!(current.name, "key2");
        assert_eq!(current.secret, NEW);
        assert_eq!(current.provider, EncryptionProvider::Aescbc);
        let encryption = Encryption {
            provider: EncryptionProvider::Aescbc,
            resources: vec!["secrets".into()],
            config_path: crate::render::ENCRYPTION_CONFIG.into(),
        };
        let text = config(&encryption, &[NEW.to_owned()], Some(&adopted));
        let rendered: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(rendered, cluster_config());
        // A key kcompile rotated in reads second under its hash name; the cluster's old key
        // follows in the same provider.
        let text = config(
            &encryption,
            &[
                NEW.to_owned(),
                "bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmU=".to_owned(),
            ],
            Some(&adopted),
        );
        let rendered: Value = serde_saphyr::from_str(&text).unwrap();
        let names: Vec<&str> = rendered["resources"][0]["providers"][0]["aescbc"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|key| key["name"].as_str())
            .collect();
        assert_eq!(names.len(), 3);
        assert_eq!((names[0], names[2]), ("key2", "key1"));
        assert!(names[1].starts_with("key-"), "{names:?}");
    }
}
