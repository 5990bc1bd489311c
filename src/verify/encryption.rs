//! The apiserver's encryption-at-rest config (`--encryption-provider-config`): an
//! `apiserver.config.k8s.io/v1` `EncryptionConfiguration` whose keys the apiserver accepts. A key
//! that is not base64 of a length its provider takes stops every apiserver at start (and with it
//! the cluster); it is reported by name, never shown.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::material;
use super::{Check, relative};
use crate::component::Component;

/// The key lengths (bytes) each provider takes, as kube-apiserver checks them.
fn key_lengths(provider: &str) -> Option<&'static [usize]> {
    match provider {
        // secretbox: XSalsa20-Poly1305, exactly 32 bytes.
        "secretbox" => Some(&[32]),
        // aescbc and aesgcm: AES-128, -192 or -256.
        "aescbc" | "aesgcm" => Some(&[16, 24, 32]),
        _ => None,
    }
}

impl Check<'_> {
    /// Checks the encryption config every apiserver pod names.
    pub(super) fn encryption_config(&mut self) {
        let paths: Vec<(String, String)> = self
            .pods
            .iter()
            .filter(|file| file.pod.component == Some(Component::ApiServer))
            .filter_map(|file| {
                let flag = file.pod.flag("encryption-provider-config")?;
                Some((file.path.clone(), file.pod.host_path(flag)))
            })
            .collect();
        for (pod_path, host_path) in paths {
            let path = relative(&host_path);
            let Some(bytes) = self.tree.get(&path) else {
                // A missing file is reported by the flag-path check.
                continue;
            };
            let text = String::from_utf8_lossy(bytes).into_owned();
            let Ok(config) = material::yaml(&text) else {
                self.error(
                    &path,
                    format!(
                        "the encryption config {pod_path} names cannot be read as YAML; the apiserver will not start (its content is not shown: it holds keys)"
                    ),
                );
                continue;
            };
            for problem in problems(&config) {
                self.error(&path, problem);
            }
        }
    }
}

/// What the apiserver would refuse in an `EncryptionConfiguration`; keys are named, never shown.
fn problems(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let text =
        |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    if text(config, "kind").as_deref() != Some("EncryptionConfiguration")
        || text(config, "apiVersion").as_deref() != Some("apiserver.config.k8s.io/v1")
    {
        problems.push(
            "is not an apiserver.config.k8s.io/v1 EncryptionConfiguration; the apiserver will not start"
                .into(),
        );
        return problems;
    }
    let resources = config.get("resources").and_then(Value::as_array);
    for (r, resource) in resources.into_iter().flatten().enumerate() {
        let providers = resource.get("providers").and_then(Value::as_array);
        for (p, provider) in providers.into_iter().flatten().enumerate() {
            let Some((name, settings)) = provider.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            let Some(lengths) = key_lengths(name) else {
                continue;
            };
            let keys = settings.get("keys").and_then(Value::as_array);
            if keys.is_none_or(std::vec::Vec::is_empty) {
                problems.push(format!(
                    "resources[{r}].providers[{p}] ({name}) has no keys; the apiserver will not start"
                ));
            }
            for (k, key) in keys.into_iter().flatten().enumerate() {
                let key_name = text(key, "name").unwrap_or_else(|| format!("#{k}"));
                let secret = text(key, "secret").unwrap_or_default();
                let length = STANDARD.decode(secret.trim()).map(|bytes| bytes.len());
                let problem = match length {
                    Err(_) => Some("is not base64".to_owned()),
                    Ok(length) if !lengths.contains(&length) => Some(format!(
                        "is {length} bytes; {name} takes {}",
                        lengths
                            .iter()
                            .map(std::string::ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Ok(_) => None,
                };
                if let Some(problem) = problem {
                    problems.push(format!(
                        "resources[{r}].providers[{p}] ({name}) key `{}` {problem}; the apiserver will not start (the key is not shown)",
                        crate::shown::value(&key_name, 64)
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(provider: &str, secret: &str) -> Value {
        serde_json::json!({
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"], "providers": [
                {provider: {"keys": [{"name": "key1", "secret": secret}]}},
                {"identity": {}}
            ]}]
        })
    }

    #[test]
    fn keys_the_apiserver_refuses_are_named_never_shown() {
        let good = STANDARD.encode([7u8; 32]);
        assert!(problems(&config("secretbox", &good)).is_empty());
        assert!(problems(&config("aesgcm", &STANDARD.encode([7u8; 16]))).is_empty());
        let short = problems(&config("secretbox", &STANDARD.encode([7u8; 16])));
        assert_eq!(short.len(), 1);
        assert!(short[0].contains("key `key1` is 16 bytes; secretbox takes 32"));
        let garbage = problems(&config("secretbox", "hello"));
        assert!(garbage[0].contains("is not base64"), "{garbage:?}");
        assert!(!garbage[0].contains("hello"));
        assert!(problems(&config("secretbox", ""))[0].contains("is 0 bytes"));
        let mut wrong = config("secretbox", &good);
        wrong["kind"] = "EncryptionConfig".into();
        assert!(problems(&wrong)[0].contains("is not an apiserver.config.k8s.io/v1"));
    }
}
