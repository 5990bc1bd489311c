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

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

/// Key and keyword names whose values are secrets, normalized (lower case, without `-`, `_`, `.`).
const SECRET_NAMES: [&str; 20] = [
    "token",
    "tokensecret",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "clientkeydata",
    "clientsecret",
    "idtoken",
    "refreshtoken",
    "accesstoken",
    "bearertoken",
    "authpass",
    "insecurepassword",
    "privatekey",
    "privatekeydata",
    "apikey",
    "secretaccesskey",
    "secretkey",
    "keydata",
];

/// Parts of names (environment variables, flags) that mark their value as a secret, normalized.
const SECRET_PARTS: [&str; 8] = [
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "credential",
    "privatekey",
];

/// Settings of a kubeconfig `auth-provider` that are not secrets (OIDC, Azure, GCP); every other
/// value of its `config` is.
const AUTH_PROVIDER_PUBLIC: [&str; 12] = [
    "client-id",
    "idp-issuer-url",
    "idp-certificate-authority",
    "extra-scopes",
    "cmd-path",
    "expiry-key",
    "token-key",
    "expiry",
    "scopes",
    "tenant-id",
    "apiserver-id",
    "environment",
];

/// Keys whose values embed certificates (public), base64.
const CERTIFICATE_KEYS: [&str; 3] = [
    "certificate-authority-data",
    "client-certificate-data",
    "idp-certificate-authority-data",
];

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

/// `name` lower case, without `-`, `_` and `.`.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a key or keyword names a secret (`client-key-data`, `auth_pass`, `"token"`).
pub fn is_secret_name(name: &str) -> bool {
    let normalized = normalize(name.trim_matches(|c| c == '"' || c == '\''));
    SECRET_NAMES.contains(&normalized.as_str())
}

/// Whether an environment variable or flag name suggests a secret (`API_TOKEN`, `--password`).
fn is_secret_ish(name: &str) -> bool {
    let normalized = normalize(name);
    SECRET_PARTS.iter().any(|part| normalized.contains(part))
}

/// Whether `path` (relative to a host's root) is a private key by its name.
pub fn is_key_path(path: &str) -> bool {
    path.ends_with(".key") || path.ends_with("-key.pem") || path.ends_with("_key.pem")
}

/// Whether the file at `path` holds secrets by what kcompile writes there: private keys,
/// kubeconfigs, the encryption config, the bootstrap token Secret, keepalived.conf.
pub fn is_secret_path(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    let kubeconfig = path
        .strip_prefix("etc/kubernetes/")
        .is_some_and(|name| !name.contains('/') && name.ends_with(".conf"))
        || matches!(
            path,
            "var/lib/kube-proxy/kubeconfig.conf" | "var/lib/kubelet/kubeconfig"
        );
    is_key_path(path)
        || kubeconfig
        || path.starts_with("etc/kubernetes/encryption")
        || path == "etc/kubernetes/addons/bootstrap.yaml"
        || path.starts_with("etc/keepalived/") && path.ends_with(".conf")
}

/// Whether `path` is a keyword config kcompile writes (keepalived, haproxy).
fn is_keyword_path(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    (path.starts_with("etc/keepalived/") && path.ends_with(".conf"))
        || (path.starts_with("etc/haproxy/") && path.ends_with(".cfg"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Whether raw text suggests a secret: a private key marker, a secret-named word given a value
/// (`token:`, `"password" =`, `auth_pass`), or base64 of a private key. Such text is never shown
/// as it is.
pub fn suspicious(text: &str) -> bool {
    if text.to_ascii_uppercase().contains("PRIVATE KEY") {
        return true;
    }
    if secret_assignment(text) {
        return true;
    }
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    text.split(|c: char| !base64(c))
        .filter(|run| run.len() >= 40)
        .any(|run| decodes_to_key(run.as_bytes()))
}

/// Whether a secret-named word is followed by `:` or `=` (quotes and blanks between), or is a
/// keyword that always takes a secret (`auth_pass`, `insecure-password`).
fn secret_assignment(text: &str) -> bool {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut index = 0;
    while index < bytes.len() {
        if !is_word(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && is_word(bytes[index]) {
            index += 1;
        }
        // Word bytes are ASCII: both ends are character boundaries.
        let word = &text[start..index];
        if !is_secret_name(word) {
            continue;
        }
        if matches!(normalize(word).as_str(), "authpass" | "insecurepassword") {
            return true;
        }
        let follower = text[index..]
            .trim_start_matches(['"', '\''])
            .trim_start_matches([' ', '\t']);
        if follower.starts_with(':') || follower.starts_with('=') {
            return true;
        }
    }
    false
}

/// Whether base64 `text` decodes to a private key (PEM or DER).
fn decodes_to_key(text: &[u8]) -> bool {
    let cleaned: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Ok(bytes) = STANDARD.decode(&cleaned) else {
        return false;
    };
    if contains(&bytes.to_ascii_uppercase(), b"PRIVATE KEY") {
        return true;
    }
    is_der_key(&bytes)
}

/// Whether `der` is a private key: SEC1 (EC), PKCS#8, or PKCS#1 (RSA).
fn is_der_key(der: &[u8]) -> bool {
    use pkcs8::der::Decode;
    if sec1::EcPrivateKey::from_der(der).is_ok() || pkcs8::PrivateKeyInfo::from_der(der).is_ok() {
        return true;
    }
    // RSAPrivateKey: SEQUENCE { INTEGER 0 (version), INTEGER modulus, ... }
    matches!(der, [0x30, 0x82, _, _, 0x02, 0x01, 0x00, 0x02, ..])
}

/// The canonical bytes of a PEM file with a private key: every block's contents, in order.
fn pem_key(bytes: &[u8]) -> Option<Vec<u8>> {
    let blocks = pem::parse_many(bytes).ok()?;
    if !blocks.iter().any(|b| b.tag().ends_with("PRIVATE KEY")) {
        return None;
    }
    Some(blocks.iter().flat_map(|b| b.contents().to_vec()).collect())
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

/// Where a walk is, for the rules that depend on it.
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    /// Inside a kubeconfig's `exec` credential plugin.
    exec: bool,
    /// Directly under a kubeconfig user's `auth-provider`.
    auth_provider: bool,
}

/// One pass over YAML documents, replacing secrets.
struct Walk<'w> {
    fingerprint: Fingerprint<'w>,
    known: &'w BTreeSet<String>,
    secrets: BTreeMap<String, [u8; 32]>,
    found: BTreeSet<String>,
    derived: Vec<(String, String)>,
}

/// `location.key` (`key` alone at the top).
fn join(location: &str, key: &str) -> String {
    if location.is_empty() || location.ends_with(": ") {
        format!("{location}{key}")
    } else {
        format!("{location}.{key}")
    }
}

/// `location[name]` for a list item with a name (that holds no secret), else `location[index]`.
fn item(location: &str, value: &Value, index: usize, known: &BTreeSet<String>) -> String {
    match value.get("name").and_then(Value::as_str) {
        Some(name) if !holds_known(name, known) => format!("{location}[{name}]"),
        _ => format!("{location}[{index}]"),
    }
}

impl Walk<'_> {
    fn value(&mut self, value: &mut Value, location: &str, context: Context) {
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
fn decode(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(cleaned).ok()
}

/// Which keyword syntax a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `!` and `#` start comments.
    Keepalived,
    /// `#` starts comments (`!` negates).
    Haproxy,
}

fn dialect(path: &str) -> Dialect {
    if path.ends_with(".cfg") || path.contains("haproxy") {
        Dialect::Haproxy
    } else {
        Dialect::Keepalived
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Word,
    Quoted,
    Comment,
    Open,
    Close,
}

/// A token of a keyword config: its kind, byte range and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
    line: usize,
}

/// The tokens of a keyword config; `None` for an unterminated quote or unbalanced braces.
fn tokenize(text: &str, dialect: Dialect) -> Option<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let (mut index, mut line, mut depth) = (0, 0usize, 0usize);
    while index < bytes.len() {
        let start = index;
        let byte = bytes[index];
        let kind = match byte {
            b'\n' => {
                line += 1;
                index += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                index += 1;
                continue;
            }
            b'#' => TokenKind::Comment,
            b'!' if dialect == Dialect::Keepalived => TokenKind::Comment,
            b'"' | b'\'' => TokenKind::Quoted,
            b'{' => TokenKind::Open,
            b'}' => TokenKind::Close,
            _ => TokenKind::Word,
        };
        match kind {
            TokenKind::Comment => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            TokenKind::Quoted => {
                index += 1;
                loop {
                    match bytes.get(index) {
                        None | Some(b'\n') => return None,
                        Some(b'\\') => index += 2,
                        Some(&b) if b == byte => {
                            index += 1;
                            break;
                        }
                        Some(_) => index += 1,
                    }
                }
            }
            TokenKind::Open => {
                depth += 1;
                index += 1;
            }
            TokenKind::Close => {
                depth = depth.checked_sub(1)?;
                index += 1;
            }
            TokenKind::Word => {
                while index < bytes.len()
                    && !matches!(
                        bytes[index],
                        b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | b'{' | b'}'
                    )
                {
                    index += 1;
                }
            }
        }
        tokens.push(Token {
            kind,
            start,
            end: index.min(bytes.len()),
            line,
        });
    }
    (depth == 0).then_some(tokens)
}

/// The tokens of a keyword config that keepalived or haproxy can read: quotes terminated,
/// braces balanced, every secret keyword with its value.
fn keyword_tokens(text: &str, dialect: Dialect) -> Option<Vec<Token>> {
    let tokens = tokenize(text, dialect)?;
    keyword_secrets(text, &tokens, &BTreeSet::new())?;
    Some(tokens)
}

/// haproxy's section keywords: a line that starts with one opens a section (`listen stats`).
const HAPROXY_SECTIONS: [&str; 12] = [
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "cache",
];

/// The text of a token (a quoted one without its quotes).
fn content<'t>(text: &'t str, token: &Token) -> &'t str {
    let raw = &text[token.start..token.end];
    match token.kind {
        TokenKind::Quoted if raw.len() >= 2 => &raw[1..raw.len() - 1],
        _ => raw,
    }
}

/// The name of a keyword block (`vrrp_instance VI_1`), each word that holds a secret left out.
fn block_name(words: &[&str], known: &BTreeSet<String>) -> String {
    words
        .iter()
        .map(|word| {
            if holds_known(word, known) {
                "…"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which tokens of a keyword config are secrets, each with where it is
/// (`vrrp_instance VI_1/authentication/auth_pass`); `None` when a secret keyword has no value.
fn keyword_secrets(
    text: &str,
    tokens: &[Token],
    known: &BTreeSet<String>,
) -> Option<BTreeMap<usize, String>> {
    let value = |token: &Token| matches!(token.kind, TokenKind::Word | TokenKind::Quoted);
    let mut secret: BTreeMap<usize, String> = BTreeMap::new();
    let mut blocks: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut name_for = |blocks: &[String], keyword: &str| {
        let mut name = blocks.join("/");
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(keyword);
        let count = counts.entry(name.clone()).or_default();
        *count += 1;
        if *count > 1 {
            name.push_str(&format!(" #{count}"));
        }
        name
    };
    for (index, token) in tokens.iter().enumerate() {
        match token.kind {
            TokenKind::Open => {
                let mut words: Vec<&str> = tokens[..index]
                    .iter()
                    .rev()
                    .take_while(|t| t.line == token.line && value(t))
                    .map(|t| content(text, t))
                    .collect();
                words.reverse();
                blocks.push(block_name(&words, known));
                continue;
            }
            TokenKind::Close => {
                blocks.pop();
                continue;
            }
            TokenKind::Comment => continue,
            TokenKind::Word | TokenKind::Quoted => {}
        }
        if secret.contains_key(&index) {
            continue;
        }
        let word = content(text, token);
        let lower = word.to_ascii_lowercase();
        let line_start = token.start == 0 || text.as_bytes()[token.start - 1] == b'\n';
        if line_start && token.kind == TokenKind::Word && HAPROXY_SECTIONS.contains(&lower.as_str())
        {
            let words: Vec<&str> = tokens[index..]
                .iter()
                .take_while(|t| t.line == token.line && value(t))
                .map(|t| content(text, t))
                .collect();
            blocks = vec![block_name(&words, known)];
            continue;
        }
        let same_line_values: Vec<usize> = tokens[index + 1..]
            .iter()
            .take_while(|t| t.line == token.line && value(t))
            .enumerate()
            .map(|(offset, _)| index + 1 + offset)
            .collect();
        let after_stats = index > 0
            && tokens[index - 1].line == token.line
            && content(text, &tokens[index - 1]).eq_ignore_ascii_case("stats");
        let secret_keyword = matches!(
            normalize(&lower).as_str(),
            "authpass" | "password" | "insecurepassword"
        ) || (lower == "auth" && after_stats);
        if secret_keyword {
            let next = *same_line_values.first()?;
            let keyword = if lower == "auth" {
                "stats auth"
            } else {
                &lower
            };
            secret.insert(next, name_for(&blocks, keyword));
        } else if lower.trim_end_matches(':') == "authorization" {
            for next in same_line_values {
                secret.insert(next, name_for(&blocks, "authorization"));
            }
        } else if holds_known(word, known) {
            secret.insert(index, name_for(&blocks, "value"));
        }
    }
    Some(secret)
}

/// A keyword config with every secret value replaced in place, and each comment that mentions a
/// secret withheld.
fn keywords(
    text: &str,
    tokens: &[Token],
    known: &BTreeSet<String>,
    fingerprint: Fingerprint<'_>,
) -> View {
    let secret = keyword_secrets(text, tokens, known).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut secrets = BTreeMap::new();
    let mut found = BTreeSet::new();
    let mut last = 0;
    for (index, token) in tokens.iter().enumerate() {
        let replacement = if let Some(name) = secret.get(&index) {
            let value = content(text, token);
            if value.len() >= MIN_KNOWN {
                found.insert(value.to_owned());
            }
            let mut name = name.clone();
            while secrets.contains_key(&name) {
                name.push('\'');
            }
            secrets.insert(name, digest(value.as_bytes()));
            placeholder(value.as_bytes(), fingerprint)
        } else if token.kind == TokenKind::Comment {
            let comment = &text[token.start..token.end];
            if suspicious(comment) || holds_known(comment, known) {
                format!("{} <comment withheld>", &comment[..1])
            } else {
                continue;
            }
        } else {
            continue;
        };
        out.push_str(&text[last..token.start]);
        out.push_str(&replacement);
        last = token.end;
    }
    out.push_str(&text[last..]);
    View {
        text: out,
        secrets,
        known: found,
        derived: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIOi17s2cV1uKOVKYgbnMYraCZjGztzy/NTiTbnSz3yjLoAoGCCqGSM49\nAwEHoUQDQgAERmtedCI5ZiidE6Ld5WG1NctwQXGJlocq+8UfRaLEHngxuHkve+Cz\nZZgFfOoDlTE6hQ20IuW4K8srsHt88wFSaw==\n-----END EC PRIVATE KEY-----\n";

    #[expect(
        clippy::unnecessary_wraps,
        reason = "the signature of the fingerprint callback"
    )]
    fn keyed(bytes: &[u8]) -> Option<String> {
        Some(format!("hmac:{}", &crate::digest::sha256(bytes)[..12]))
    }

    fn key_data() -> String {
        STANDARD.encode(KEY)
    }

    /// Every 8-byte window of `secret` (raw and base64) is absent from `text`.
    fn absent(text: &str, secret: &str) {
        for encoded in [secret.to_owned(), STANDARD.encode(secret)] {
            for window in encoded.as_bytes().windows(8) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(!text.contains(window), "`{window}` of a secret in:\n{text}");
            }
        }
    }

    fn kubeconfig_yaml(key: &str, server: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: a@c\n  context: {{cluster: c, user: a}}\ncurrent-context: a@c\nusers:\n- name: a\n  user:\n    client-key-data: {key}\n"
        )
    }

    #[test]
    fn kubeconfigs_in_any_form_hide_their_keys() {
        let data = key_data();
        let compiled = kubeconfig_yaml(&data, "https://10.0.0.1:6443");
        let forms = [
            // JSON with tabs.
            format!(
                "{{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Config\",\n\t\"users\": [{{\"name\": \"a\", \"user\": {{\"client-key-data\": \"{data}\"}}}}],\n\t\"extra\": 1\n}}\n"
            ),
            // Folded block scalar.
            format!(
                "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    client-key-data: >-\n      {data}\n"
            ),
            // Literal block scalar, wrapped.
            format!(
                "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    client-key-data: |\n      {}\n      {}\n",
                &data[..60],
                &data[60..]
            ),
            // Quoted keys, single-quoted value, tab after the colon.
            format!(
                "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    \"client-key-data\":\t'{data}'\n"
            ),
            // Flow style.
            format!(
                "{{apiVersion: v1, kind: Config, users: [{{name: a, user: {{client-key-data: {data}}}}}]}}\n"
            ),
            // An alias under another key.
            format!(
                "apiVersion: v1\nkind: Config\nx-copy: &k {data}\nusers:\n- name: a\n  user:\n    client-key-data: *k\n"
            ),
        ];
        for form in &forms {
            for fingerprint in [&keyed as Fingerprint<'_>, &no_fingerprint] {
                let shown = pair(
                    "etc/kubernetes/admin.conf",
                    form.as_bytes(),
                    compiled.as_bytes(),
                    fingerprint,
                );
                let Pair::Redacted { old, new, .. } = &shown else {
                    panic!("{shown:?}");
                };
                absent(old, KEY);
                absent(new, KEY);
                absent(old, &data);
            }
        }
    }

    #[test]
    fn a_server_change_shows_and_the_changed_key_is_named() {
        let data = key_data();
        let old = kubeconfig_yaml("QUJDREVGR0hJSktMTU5PUA==", "https://10.0.0.1:6443");
        let new = kubeconfig_yaml(&data, "https://10.0.0.2:6443");
        let Pair::Redacted {
            old, new, changed, ..
        } = pair(
            "etc/kubernetes/admin.conf",
            old.as_bytes(),
            new.as_bytes(),
            &keyed,
        )
        else {
            panic!()
        };
        assert!(old.contains("server: https://10.0.0.1:6443"), "{old}");
        assert!(new.contains("server: https://10.0.0.2:6443"), "{new}");
        assert!(new.contains("client-key-data: <hmac:"), "{new}");
        assert_eq!(changed, ["users[a].user.client-key-data"]);
    }

    #[test]
    fn without_a_key_fingerprints_are_withheld() {
        let text = kubeconfig_yaml(&key_data(), "https://a:6443");
        let shown = show(
            "etc/kubernetes/admin.conf",
            text.as_bytes(),
            &no_fingerprint,
        )
        .unwrap();
        assert!(shown.contains("client-key-data: <redacted>"), "{shown}");
        assert!(
            !shown.contains("hmac:") && !shown.contains("sha256:"),
            "{shown}"
        );
    }

    #[test]
    fn oidc_exec_secrets_and_encryption_configs() {
        let kubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: o\n  user:\n    auth-provider:\n      name: oidc\n      config:\n        client-id: kubernetes\n        client-secret: Qx7vN2pLm9Rt\n        id-token: eyJhbGciOiJSUzI1NiJ9.Zk3wPq8sYt\n        refresh-token: Vb6nHj4kLr2x\n- name: e\n  user:\n    exec:\n      command: get-token\n      args: [--cluster, lab, --api-token=Tg5mWq1zXc8b, --password, Pn3rKd7fGh0j]\n      env:\n      - {name: HOME, value: Yu9eLs2vBn6m}\n";
        let shown = show("etc/kubernetes/x.conf", kubeconfig.as_bytes(), &keyed).unwrap();
        for secret in [
            "Qx7vN2pLm9Rt",
            "Zk3wPq8sYt",
            "Vb6nHj4kLr2x",
            "Tg5mWq1zXc8b",
            "Pn3rKd7fGh0j",
            "Yu9eLs2vBn6m",
        ] {
            absent(&shown, secret);
        }
        assert!(
            shown.contains("--cluster") && shown.contains("lab"),
            "{shown}"
        );
        let json = r#"{"kind":"EncryptionConfiguration","apiVersion":"apiserver.config.k8s.io/v1","resources":[{"resources":["secrets"],"providers":[{"aescbc":{"keys":[{"name":"key1","secret":"P6eUIcRS1zBeaC4DRyeauz5iKXZSPdFgWjOQUNgAZBE="}]}},{"identity":{}}]}]}"#;
        let shown = show(
            "etc/kubernetes/encryption-config.yaml",
            json.as_bytes(),
            &keyed,
        )
        .unwrap();
        absent(&shown, "P6eUIcRS1zBeaC4DRyeauz5iKXZSPdFgWjOQUNgAZBE=");
        assert!(shown.contains("name: key1"), "{shown}");
    }

    #[test]
    fn a_name_that_holds_a_secret_is_not_shown() {
        let text = "apiVersion: v1\nkind: Config\nusers:\n- name: Rk8mTq2wLp5z\n  user:\n    token: Rk8mTq2wLp5z\n";
        let Pair::Redacted { new, changed, .. } =
            pair("etc/kubernetes/x.conf", b"", text.as_bytes(), &keyed)
        else {
            panic!()
        };
        assert!(!new.contains("Rk8mTq2w"), "{new}");
        assert!(!changed.concat().contains("Rk8mTq2w"), "{changed:?}");
    }

    #[test]
    fn secrets_hide_data_and_string_data() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: bootstrap-token-abcdef}\n  stringData: {\"token-secret\": \"p4g6duhyw6fwoc5l\", token-id: abcdef}\n  data:\n    other: cDRnNmR1aHl3NmZ3b2M1bA==\n---\nkind: ClusterRoleBinding\nmetadata: {name: x}\n";
        let shown = show(
            "etc/kubernetes/addons/bootstrap.yaml",
            text.as_bytes(),
            &keyed,
        )
        .unwrap();
        absent(&shown, "p4g6duhyw6fwoc5l");
        assert!(shown.contains("bootstrap-token-abcdef"), "{shown}");
        assert!(shown.contains("ClusterRoleBinding"), "{shown}");
    }

    #[test]
    fn keepalived_in_any_whitespace_form() {
        let compiled = "vrrp_instance VI_1 {\n    authentication {\n        auth_type PASS\n        auth_pass abcd1234\n    }\n}\n";
        for form in [
            "vrrp_instance VI_1 {\n\tauthentication {\n\t\tauth_pass\tabcd1234\n\t}\n}\n",
            "vrrp_instance VI_1 {\n  authentication {\n    auth_type PASS\n    auth_pass   \"abcd1234\"   ! the VRRP password\n  }\n}\n",
            "! old password was abcd1234\nvrrp_instance VI_1 { authentication { auth_pass abcd1234 } }\n",
        ] {
            let Pair::Redacted { old, new, .. } = pair(
                "etc/keepalived/keepalived.conf",
                form.as_bytes(),
                compiled.as_bytes(),
                &keyed,
            ) else {
                panic!("{form}")
            };
            assert!(
                !old.contains("abcd1234") && !new.contains("abcd1234"),
                "{old}"
            );
            assert!(new.contains("        auth_pass <hmac:"), "{new}");
        }
        assert_eq!(
            pair(
                "etc/keepalived/keepalived.conf",
                b"vrrp_instance VI_1 {\n auth_pass \"abcd1234\n}\n",
                compiled.as_bytes(),
                &keyed
            ),
            Pair::Unparseable
        );
        let haproxy = "listen stats\n    stats auth admin:haproxy-secret-1\nuserlist u\n    user a insecure-password haproxy-secret-2\n";
        let shown = show("etc/haproxy/haproxy.cfg", haproxy.as_bytes(), &keyed).unwrap();
        assert!(!shown.contains("haproxy-secret"), "{shown}");
        let Pair::Redacted { changed, .. } = pair(
            "etc/haproxy/haproxy.cfg",
            haproxy.as_bytes(),
            b"global\n",
            &keyed,
        ) else {
            panic!()
        };
        assert_eq!(
            changed,
            ["listen stats/stats auth", "userlist u/insecure-password"]
        );
    }

    #[test]
    fn unparseable_secret_files_are_withheld_and_plain_files_shown() {
        let broken = format!("{{\"client-key-data\": \"{}\", ", key_data());
        let good = kubeconfig_yaml(&key_data(), "https://a:6443");
        assert_eq!(
            pair(
                "etc/kubernetes/admin.conf",
                broken.as_bytes(),
                good.as_bytes(),
                &keyed
            ),
            Pair::Unparseable
        );
        // Not a secret path, but a key by content.
        assert!(matches!(
            pair(
                "var/lib/kubelet/config.yaml",
                KEY.as_bytes(),
                b"a: 1\n",
                &keyed
            ),
            Pair::Key { .. }
        ));
        // A secret word in an unparseable text.
        assert_eq!(
            pair("etc/x.txt", b"[broken\ntoken: abc\n", b"a: 1\n", &keyed),
            Pair::Unparseable
        );
        let plain = pair("etc/x.yaml", b"a: 1 # old\n", b"a: 2\n", &keyed);
        assert_eq!(
            plain,
            Pair::Plain {
                old: "a: 1 # old\n".into(),
                new: "a: 2\n".into()
            }
        );
    }

    #[test]
    fn keys_compare_by_their_bytes() {
        let rewrapped = KEY.replace('\n', "\r\n");
        assert_eq!(
            pair(
                "etc/kubernetes/pki/ca.key",
                rewrapped.as_bytes(),
                KEY.as_bytes(),
                &keyed
            ),
            Pair::Key {
                same: true,
                old: keyed(&pem_key(KEY.as_bytes()).unwrap()),
                new: keyed(&pem_key(KEY.as_bytes()).unwrap()),
            }
        );
        assert_eq!(
            pair(
                "etc/kubernetes/pki/ca.key",
                b"-----BEGIN EC PRIVATE KEY-----\nMHcC",
                KEY.as_bytes(),
                &keyed
            ),
            Pair::Unparseable
        );
    }

    #[test]
    fn config_hashes_are_keyed_in_place() {
        let old = "metadata:\n  annotations:\n    kcompile.io/config-hash: sha256:0000000000000000000000000000000000000000000000000000000000000000\n# edited by hand\n";
        let new = "metadata:\n  annotations:\n    kcompile.io/config-hash: sha256:1111111111111111111111111111111111111111111111111111111111111111\n";
        let Pair::Plain { old, new } = pair(
            "etc/kubernetes/manifests/x.yaml",
            old.as_bytes(),
            new.as_bytes(),
            &keyed,
        ) else {
            panic!()
        };
        assert!(old.contains("# edited by hand"), "{old}");
        assert!(
            !old.contains("0000000000") && !new.contains("1111111111"),
            "{new}"
        );
        assert!(new.contains("config-hash: <hmac:"), "{new}");
    }

    #[test]
    fn raw_text_that_suggests_a_secret() {
        assert!(suspicious("# token: abc"));
        assert!(suspicious("ExecStart=/bin/x --token=abc"));
        assert!(suspicious("\"password\" = 1"));
        assert!(suspicious("auth_pass abc"));
        assert!(!suspicious("# tokens and token reviews carry credentials"));
        assert!(!suspicious("resources: [\"serviceaccounts/token\"]"));
        assert!(suspicious(&format!("x: {}", key_data())));
        assert!(!suspicious(
            "--enable-bootstrap-token-auth=true --tls-private-key-file=/a.key"
        ));
        assert!(!suspicious("- --initial-cluster-token=kcompile-abc"));
    }
}
