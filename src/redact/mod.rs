//! Secret-safe views of the files kcompile writes and reads, for `diff` (and the messages of
//! `verify`). Redaction goes by structure, never by line prefix, so a file written differently —
//! JSON, flow style, folded or literal block scalars, quoted keys, tabs, extra fields, aliases,
//! several documents — hides the same secrets as kcompile's own form:
//!
//! - **YAML and JSON** (kubeconfigs, `EncryptionConfiguration`, Secrets, pods, anything): parsed and
//!   every secret value replaced by a placeholder. Secret values are those under a secret-named key
//!   at any depth (`client-key-data`, `token`, `token-secret`, `secret`, `password`,
//!   `client-secret`, `id-token`, `refresh-token`, …), every value of a Secret's `data` and
//!   `stringData`, every value of a kubeconfig `auth-provider`'s `config` but its public settings
//!   (`client-id`, `idp-issuer-url`, …), the `env` values and secret-named flags in the `args` of
//!   an `exec` credential plugin, any string holding a private key (PEM, or base64 of one), and any
//!   string or name that contains a secret found elsewhere in either version of the file (an
//!   alias, a copy). A file that holds one is written out again ([`crate::render::yaml`], keys
//!   sorted), so neither comments nor layout carry a secret through and two versions compare by
//!   content. Embedded certificates are public and long: they show as `<certificate sha256:…>`.
//!   The `kcompile.io/config-hash` annotation is an unsalted hash over files that hold secrets
//!   (keepalived.conf's 8-character VRRP password), so it is shown keyed too, in place.
//! - **Keyword configs** (keepalived.conf, haproxy.cfg): tokenized (quotes, `!`/`#` comments,
//!   `{ }` blocks, any whitespace), the value after `auth_pass`, `password`, `insecure-password`,
//!   `stats auth` and `Authorization` replaced in place; a comment that mentions a secret is
//!   withheld.
//! - **Private keys** (PEM, by path or by content): never shown; compared by the bytes of their
//!   blocks, so a key re-wrapped is "the same key".
//!
//! A placeholder is the secret's keyed fingerprint (`<hmac:0123456789ab>`, from the state's
//! fingerprint key, so a low-entropy secret cannot be brute-forced from it), or `<redacted>` when
//! no key is available (`verify` has no state). A file that holds secrets — by its path or its
//! content — but does not parse is never shown at all: [`UNPARSEABLE`]. Only a file with no
//! secret, and no secret-named word given a value (a comment `# token: …`), is shown as it is.
//!
//! Here: the comparison and the view of a file ([`pair`], [`show`]); `names.rs` says which names,
//! paths and texts hold secrets; `structured.rs` walks YAML and JSON; `keyword_configs.rs` reads
//! keepalived and haproxy configs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

mod keyword_configs;
mod names;
mod structured;

use keyword_configs::{Dialect, Token, dialect, keyword_tokens, keywords};
use names::{contains, is_keyword_path, normalize, pem_key};
pub use names::{is_key_path, is_secret_name, is_secret_path, suspicious};
use structured::{Context, Walk};

/// The keyed fingerprint of a secret's bytes (`hmac:0123456789ab`); `None` when no key is
/// available, and every fingerprint is then withheld.
pub type Fingerprint<'a> = &'a dyn Fn(&[u8]) -> Option<String>;

/// A [`Fingerprint`] without a key: every fingerprint withheld (what `verify` shows).
pub fn no_fingerprint(_: &[u8]) -> Option<String> {
    None
}

/// Shown in place of a secret when no fingerprint may be shown.
pub const REDACTED: &str = "<redacted>";

/// What a secret-bearing file that does not parse is reported as.
pub const UNPARSEABLE: &str = "changed (unparseable), fingerprint withheld";

/// The annotation that hashes the files a static pod mounts.
const CONFIG_HASH: &str = "kcompile.io/config-hash";

/// Secrets shorter than this are not searched for elsewhere (they are still replaced where found).
const MIN_KNOWN: usize = 8;

/// A placeholder for a secret whose canonical bytes are `canonical`.
pub fn placeholder(canonical: &[u8], fingerprint: Fingerprint<'_>) -> String {
    match fingerprint(canonical) {
        Some(keyed) => format!("<{keyed}>"),
        None => REDACTED.to_owned(),
    }
}

/// Whether fingerprints can be shown at all.
fn keyed(fingerprint: Fingerprint<'_>) -> bool {
    fingerprint(b"").is_some()
}

/// What a file is, as far as its secrets go.
#[derive(Debug, Clone)]
enum Kind {
    /// Not text, holding no secret kcompile knows of.
    Binary,
    /// PEM holding a private key: the canonical bytes of its blocks.
    Key(Vec<u8>),
    /// YAML or JSON documents (mappings or lists).
    Yaml(Vec<Value>),
    /// A keyword config (keepalived, haproxy): its tokens.
    Keywords(Vec<Token>),
    /// Text of no structure kcompile knows.
    Text,
    /// Holds secrets (by path or content) but cannot be read.
    Unparseable,
}

/// One file, parsed.
#[derive(Debug, Clone)]
struct File<'a> {
    text: &'a str,
    kind: Kind,
    /// The raw text suggests a secret: never shown as it is.
    suspicious: bool,
}

fn parse<'a>(path: &str, bytes: &'a [u8]) -> File<'a> {
    let secret_path = is_secret_path(path);
    let Ok(text) = std::str::from_utf8(bytes) else {
        let holds_key = contains(&bytes.to_ascii_uppercase(), b"PRIVATE KEY");
        return File {
            text: "",
            kind: if secret_path || holds_key {
                Kind::Unparseable
            } else {
                Kind::Binary
            },
            suspicious: true,
        };
    };
    let suspicious = suspicious(text);
    let pem = text.trim_start().starts_with("-----BEGIN");
    if is_key_path(path) || (pem && text.to_ascii_uppercase().contains("PRIVATE KEY")) {
        let kind = pem_key(bytes).map_or(Kind::Unparseable, Kind::Key);
        return File {
            text,
            kind,
            suspicious: true,
        };
    }
    let fallback = |suspicious: bool| {
        if suspicious || secret_path {
            Kind::Unparseable
        } else {
            Kind::Text
        }
    };
    if is_keyword_path(path) {
        let kind = match keyword_tokens(text, dialect(path)) {
            Some(tokens) => Kind::Keywords(tokens),
            None => fallback(suspicious),
        };
        return File {
            text,
            kind,
            suspicious,
        };
    }
    let kind = match yaml_documents(text) {
        Some(docs) if docs.is_empty() || docs.iter().any(|d| d.is_object() || d.is_array()) => {
            Kind::Yaml(docs)
        }
        _ => {
            let keywords = text.split_whitespace().any(|w| {
                matches!(
                    normalize(w).as_str(),
                    "authpass" | "insecurepassword" | "password"
                )
            }) || text.contains("stats auth");
            match keywords
                .then(|| keyword_tokens(text, Dialect::Keepalived))
                .flatten()
            {
                Some(tokens) => Kind::Keywords(tokens),
                None => fallback(suspicious),
            }
        }
    };
    File {
        text,
        kind,
        suspicious,
    }
}

/// Every document of a YAML (or JSON) text; `None` when it does not parse.
fn yaml_documents(text: &str) -> Option<Vec<Value>> {
    match serde_saphyr::from_multiple::<Value>(text) {
        Ok(docs) => Some(docs),
        Err(_) => serde_json::from_str::<Value>(text)
            .ok()
            .map(|doc| vec![doc]),
    }
}

/// How two versions of a file may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pair {
    /// Neither version holds a secret (nor a word that suggests one): the texts as they are, with
    /// only derived values (config hashes) replaced.
    Plain {
        /// The machine's version.
        old: String,
        /// The build's version.
        new: String,
    },
    /// Either version holds secrets: both with every secret replaced (YAML written out again,
    /// keyword configs replaced in place).
    Redacted {
        /// The machine's version.
        old: String,
        /// The build's version.
        new: String,
        /// Where a secret differs (`users[admin].user.client-key-data`), sorted.
        changed: Vec<String>,
        /// Whether the placeholders are fingerprints (else `<redacted>`).
        keyed: bool,
    },
    /// A private key on either side: never shown.
    Key {
        /// Both hold the same key material (written differently).
        same: bool,
        /// Keyed fingerprint of the machine's version (`None`: withheld).
        old: Option<String>,
        /// Keyed fingerprint of the build's version (`None`: withheld).
        new: Option<String>,
    },
    /// Either version holds secrets but does not parse: nothing is shown ([`UNPARSEABLE`]).
    Unparseable,
    /// Not text, and no secret known: nothing is shown.
    Binary,
}

/// How `old` (the machine's) and `new` (the build's) versions of the file at `path` may be shown
/// side by side.
pub fn pair(path: &str, old: &[u8], new: &[u8], fingerprint: Fingerprint<'_>) -> Pair {
    let (old_file, new_file) = (parse(path, old), parse(path, new));
    let files = [&old_file, &new_file];
    if files.iter().any(|f| matches!(f.kind, Kind::Unparseable)) {
        return Pair::Unparseable;
    }
    if files.iter().any(|f| matches!(f.kind, Kind::Key(_))) {
        let canonical = |file: &File<'_>, raw: &[u8]| match &file.kind {
            Kind::Key(bytes) => bytes.clone(),
            _ => raw.to_vec(),
        };
        let (old_key, new_key) = (canonical(&old_file, old), canonical(&new_file, new));
        let both = matches!(
            (&old_file.kind, &new_file.kind),
            (Kind::Key(_), Kind::Key(_))
        );
        return Pair::Key {
            same: both && old_key == new_key,
            old: fingerprint(&old_key),
            new: fingerprint(&new_key),
        };
    }
    if files.iter().any(|f| matches!(f.kind, Kind::Binary)) {
        return Pair::Binary;
    }
    // Secrets of either version, searched for everywhere in both.
    let mut known = BTreeSet::new();
    for file in files {
        known.extend(redact(file, &BTreeSet::new(), &no_fingerprint).known);
    }
    let old_view = redact(&old_file, &known, fingerprint);
    let new_view = redact(&new_file, &known, fingerprint);
    let secret_bearing = is_secret_path(path)
        || files.iter().any(|f| f.suspicious)
        || !old_view.secrets.is_empty()
        || !new_view.secrets.is_empty();
    if !secret_bearing {
        // The texts as they are, derived values replaced where each is written whole; else both
        // written out again.
        return match (
            in_place(&old_file, &old_view),
            in_place(&new_file, &new_view),
        ) {
            (Some(old), Some(new)) => Pair::Plain { old, new },
            _ => Pair::Plain {
                old: old_view.text,
                new: new_view.text,
            },
        };
    }
    // Text of no known structure cannot be redacted: shown only when it suggests no secret and
    // holds none of the other version's.
    for file in files {
        if matches!(file.kind, Kind::Text) && holds_known(file.text, &known) {
            return Pair::Unparseable;
        }
    }
    let mut changed: Vec<String> = old_view
        .secrets
        .iter()
        .filter(|(location, value)| new_view.secrets.get(*location) != Some(value))
        .map(|(location, _)| location.clone())
        .collect();
    changed.extend(
        new_view
            .secrets
            .keys()
            .filter(|location| !old_view.secrets.contains_key(*location))
            .cloned(),
    );
    changed.sort();
    changed.dedup();
    Pair::Redacted {
        old: old_view.text,
        new: new_view.text,
        changed,
        keyed: keyed(fingerprint),
    }
}

/// A file as it may be shown on its own: its text with every secret replaced; `None` when it may
/// not be shown at all (a private key, not text, or secret-bearing and unparseable).
pub fn show(path: &str, bytes: &[u8], fingerprint: Fingerprint<'_>) -> Option<String> {
    match pair(path, bytes, bytes, fingerprint) {
        Pair::Plain { new, .. } | Pair::Redacted { new, .. } => Some(new),
        Pair::Key { .. } | Pair::Unparseable | Pair::Binary => None,
    }
}

/// A file with its secrets replaced.
struct View {
    /// The text to show.
    text: String,
    /// Each secret's location and the digest of its canonical bytes (compared, never shown).
    secrets: BTreeMap<String, [u8; 32]>,
    /// Secret strings long enough to be searched for elsewhere.
    known: BTreeSet<String>,
    /// Derived values replaced (config hashes): each with its placeholder.
    derived: Vec<(String, String)>,
}

fn redact(file: &File<'_>, known: &BTreeSet<String>, fingerprint: Fingerprint<'_>) -> View {
    match &file.kind {
        Kind::Yaml(docs) => {
            let mut walk = Walk {
                fingerprint,
                known,
                secrets: BTreeMap::new(),
                found: BTreeSet::new(),
                derived: Vec::new(),
            };
            let mut docs = docs.clone();
            let several = docs.len() > 1;
            let mut texts = Vec::new();
            for (index, doc) in docs.iter_mut().enumerate() {
                let prefix = if several {
                    document_name(doc, index, known)
                } else {
                    String::new()
                };
                walk.value(doc, &prefix, Context::default());
                sort_keys(doc);
                texts.push(crate::render::yaml(doc));
            }
            View {
                text: texts.join("---\n"),
                secrets: walk.secrets,
                known: walk.found,
                derived: walk.derived,
            }
        }
        Kind::Keywords(tokens) => keywords(file.text, tokens, known, fingerprint),
        _ => View {
            text: file.text.to_owned(),
            secrets: BTreeMap::new(),
            known: BTreeSet::new(),
            derived: Vec::new(),
        },
    }
}

/// The raw text with derived values replaced where each is written whole; `None` when one is not
/// (a folded or escaped form), and the text must be written out again instead.
fn in_place(file: &File<'_>, view: &View) -> Option<String> {
    match &file.kind {
        Kind::Keywords(_) => Some(view.text.clone()),
        Kind::Yaml(_) => {
            let mut text = file.text.to_owned();
            for (value, shown) in &view.derived {
                if !text.contains(value.as_str()) {
                    return None;
                }
                text = text.replace(value.as_str(), shown);
            }
            Some(text)
        }
        _ => Some(file.text.to_owned()),
    }
}

/// Every mapping's keys in order, so two versions written in different orders compare by their
/// contents.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// `Secret/bootstrap-token-abc: ` (or `document 2: `) before the locations of one document of
/// several; never a name that holds a secret.
fn document_name(doc: &Value, index: usize, known: &BTreeSet<String>) -> String {
    let kind = doc.get("kind").and_then(Value::as_str);
    let name = doc.pointer("/metadata/name").and_then(Value::as_str);
    match (kind, name) {
        (Some(kind), Some(name)) if !holds_known(kind, known) && !holds_known(name, known) => {
            format!("{kind}/{name}: ")
        }
        _ => format!("document {}: ", index + 1),
    }
}

/// Whether `text` contains one of the `known` secrets.
fn holds_known(text: &str, known: &BTreeSet<String>) -> bool {
    known.iter().any(|secret| text.contains(secret.as_str()))
}

#[cfg(test)]
mod tests;
