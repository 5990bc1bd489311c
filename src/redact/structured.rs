//! YAML and JSON: one walk over the documents of a file that replaces every secret value by its
//! placeholder and collects the secrets it found.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::names::{
    AUTH_PROVIDER_PUBLIC, CERTIFICATE_KEYS, decodes_to_key, digest, is_secret_ish, is_secret_name,
};
use super::{CONFIG_HASH, Fingerprint, MIN_KNOWN, holds_known, placeholder};

/// Where a walk is, for the rules that depend on it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Context {
    /// Inside a kubeconfig's `exec` credential plugin.
    exec: bool,
    /// Directly under a kubeconfig user's `auth-provider`.
    auth_provider: bool,
}

/// One pass over YAML documents, replacing secrets.
pub(super) struct Walk<'w> {
    pub(super) fingerprint: Fingerprint<'w>,
    pub(super) known: &'w BTreeSet<String>,
    pub(super) secrets: BTreeMap<String, [u8; 32]>,
    pub(super) found: BTreeSet<String>,
    pub(super) derived: Vec<(String, String)>,
}

/// `location.key` (`key` alone at the top).
pub(super) fn join(location: &str, key: &str) -> String {
    if location.is_empty() || location.ends_with(": ") {
        format!("{location}{key}")
    } else {
        format!("{location}.{key}")
    }
}

/// `location[name]` for a list item with a name (that holds no secret), else `location[index]`.
pub(super) fn item(
    location: &str,
    value: &Value,
    index: usize,
    known: &BTreeSet<String>,
) -> String {
    match value.get("name").and_then(Value::as_str) {
        Some(name) if !holds_known(name, known) => format!("{location}[{name}]"),
        _ => format!("{location}[{index}]"),
    }
}

impl Walk<'_> {
    pub(super) fn value(&mut self, value: &mut Value, location: &str, context: Context) {
        match value {
            Value::Object(map) => self.object(map, location, context),
            Value::Array(items) => {
                for (index, child) in items.iter_mut().enumerate() {
                    let at = item(location, child, index, self.known);
                    self.value(child, &at, context);
                }
            }
            Value::String(text) if self.holds_secret(text) => {
                let canonical = text.as_bytes().to_vec();
                self.replace(value, location, &canonical);
            }
            _ => {}
        }
    }

    /// Whether a string is (or holds) a secret wherever it is: a private key, or a secret found
    /// elsewhere.
    fn holds_secret(&self, text: &str) -> bool {
        text.to_ascii_uppercase().contains("PRIVATE KEY")
            || (text.len() >= 40 && decodes_to_key(text.as_bytes()))
            || holds_known(text, self.known)
    }

    fn object(&mut self, map: &mut Map<String, Value>, location: &str, context: Context) {
        // A key that holds a secret is renamed before anything shows it.
        if map.keys().any(|key| self.holds_secret(key)) {
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (key, value) in entries {
                let key = if self.holds_secret(&key) {
                    let shown = placeholder(key.as_bytes(), self.fingerprint);
                    self.record(&join(location, &shown), key.as_bytes(), Some(&key));
                    shown
                } else {
                    key
                };
                map.insert(key, value);
            }
        }
        let secret_object = map.get("kind").and_then(Value::as_str) == Some("Secret");
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            let at = join(location, &key);
            let Some(child) = map.get_mut(&key) else {
                continue;
            };
            let base64 = key.ends_with("-data") || (secret_object && key == "data");
            if context.auth_provider && key == "config" && child.is_object() {
                self.auth_provider_config(child, &at);
            } else if is_secret_name(&key)
                || (secret_object && (key == "data" || key == "stringData"))
                || (context.auth_provider && key == "config")
            {
                let remember = is_secret_name(&key) || context.auth_provider;
                self.all(child, &at, base64, remember);
            } else if CERTIFICATE_KEYS.contains(&key.as_str()) {
                self.certificate(child, &at);
            } else if key == CONFIG_HASH {
                if let Value::String(hash) = child {
                    let shown = placeholder(hash.as_bytes(), self.fingerprint);
                    self.derived.push((hash.clone(), shown.clone()));
                    *child = Value::String(shown);
                }
            } else if key == "env" && child.is_array() {
                self.env(child, &at, context);
            } else if key == "args" && context.exec && child.is_array() {
                self.args(child, &at);
            } else {
                let inner = Context {
                    exec: context.exec || key == "exec",
                    auth_provider: key == "auth-provider",
                };
                self.value(child, &at, inner);
            }
        }
    }

    /// Every scalar under `value` is a secret.
    fn all(&mut self, value: &mut Value, location: &str, base64: bool, remember: bool) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    let at = join(location, key);
                    let remember = remember || is_secret_name(key);
                    self.all(child, &at, base64, remember);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter_mut().enumerate() {
                    let at = format!("{location}[{index}]");
                    self.all(child, &at, base64, remember);
                }
            }
            Value::Null => {}
            Value::String(text) => {
                let canonical = if base64 {
                    decode(text).unwrap_or_else(|| text.as_bytes().to_vec())
                } else {
                    text.as_bytes().to_vec()
                };
                let text = text.clone();
                self.replace(value, location, &canonical);
                if remember || text.to_ascii_uppercase().contains("PRIVATE KEY") {
                    self.remember(&text);
                }
            }
            other => {
                let canonical = other.to_string().into_bytes();
                self.replace(other, location, &canonical);
            }
        }
    }

    /// A kubeconfig `auth-provider`'s `config`: every value a secret but the known public settings.
    fn auth_provider_config(&mut self, value: &mut Value, location: &str) {
        let Value::Object(map) = value else {
            return;
        };
        for (key, child) in map.iter_mut() {
            let at = join(location, key);
            if CERTIFICATE_KEYS.contains(&key.as_str()) {
                self.certificate(child, &at);
            } else if AUTH_PROVIDER_PUBLIC.contains(&key.as_str()) && child.is_string() {
                self.value(child, &at, Context::default());
            } else {
                self.all(child, &at, false, true);
            }
        }
    }

    /// An embedded certificate: public, shown by its sha256; anything else there is a secret.
    fn certificate(&mut self, value: &mut Value, location: &str) {
        let Value::String(text) = value else {
            self.all(value, location, true, true);
            return;
        };
        let certificates = decode(text)
            .and_then(|bytes| pem::parse_many(&bytes).ok().map(|b| (bytes, b)))
            .filter(|(_, blocks)| {
                !blocks.is_empty() && blocks.iter().all(|b| b.tag() == "CERTIFICATE")
            });
        match certificates {
            Some((bytes, _)) => {
                *value = Value::String(format!(
                    "<certificate sha256:{}>",
                    &crate::digest::sha256(&bytes)[..12]
                ));
            }
            None => self.all(value, location, true, true),
        }
    }

    /// `env` items: the value of a secret-named variable, and every value in an exec plugin.
    fn env(&mut self, value: &mut Value, location: &str, context: Context) {
        let Value::Array(items) = value else {
            return;
        };
        for (index, entry) in items.iter_mut().enumerate() {
            let at = item(location, entry, index, self.known);
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let secret = context.exec || is_secret_ish(name);
            let at = at.clone();
            match entry {
                Value::Object(map) if secret => {
                    for (key, child) in map.iter_mut() {
                        if key != "name" {
                            let inner = join(&at, key);
                            self.all(child, &inner, false, true);
                        }
                    }
                }
                _ => self.value(entry, &at, context),
            }
        }
    }

    /// An exec plugin's `args`: the values of secret-named flags (`--token=x`, `--password x`).
    fn args(&mut self, value: &mut Value, location: &str) {
        let Value::Array(items) = value else {
            return;
        };
        let mut next_is_secret = false;
        for (index, arg) in items.iter_mut().enumerate() {
            let at = format!("{location}[{index}]");
            let Value::String(text) = arg else {
                self.value(arg, &at, Context::default());
                continue;
            };
            if next_is_secret {
                next_is_secret = false;
                self.all(arg, &at, false, true);
                continue;
            }
            let flag = text
                .strip_prefix("--")
                .or_else(|| text.strip_prefix('-'))
                .map(str::to_owned);
            match flag.as_deref().map(|f| f.split_once('=')) {
                Some(Some((name, secret))) if is_secret_ish(name) => {
                    let secret = secret.to_owned();
                    let shown = placeholder(secret.as_bytes(), self.fingerprint);
                    self.record(&at, secret.as_bytes(), Some(&secret));
                    *arg = Value::String(format!("--{name}={shown}"));
                }
                Some(None) if flag.as_deref().is_some_and(is_secret_ish) => next_is_secret = true,
                _ => self.value(arg, &at, Context::default()),
            }
        }
    }

    fn replace(&mut self, value: &mut Value, location: &str, canonical: &[u8]) {
        self.record(location, canonical, None);
        *value = Value::String(placeholder(canonical, self.fingerprint));
    }

    fn record(&mut self, location: &str, canonical: &[u8], remember: Option<&str>) {
        let mut location = location.to_owned();
        if location.is_empty() {
            location = "(document)".into();
        }
        while self.secrets.contains_key(&location) {
            location.push('\'');
        }
        self.secrets.insert(location, digest(canonical));
        if let Some(text) = remember {
            self.remember(text);
        }
    }

    fn remember(&mut self, text: &str) {
        let text = text.trim();
        if text.len() >= MIN_KNOWN {
            self.found.insert(text.to_owned());
        }
    }
}

/// base64 (whitespace ignored) decoded.
pub(super) fn decode(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(cleaned).ok()
}
