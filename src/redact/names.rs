//! Which names, paths and texts hold secrets: the secret-named keys and keywords, the paths of
//! secret files, private keys in PEM, DER or base64, and text that suggests a secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Key and keyword names whose values are secrets, normalized (lower case, without `-`, `_`, `.`).
pub(super) const SECRET_NAMES: [&str; 20] = [
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
pub(super) const SECRET_PARTS: [&str; 8] = [
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
pub(super) const AUTH_PROVIDER_PUBLIC: [&str; 12] = [
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
pub(super) const CERTIFICATE_KEYS: [&str; 3] = [
    "certificate-authority-data",
    "client-certificate-data",
    "idp-certificate-authority-data",
];

/// `name` lower case, without `-`, `_` and `.`.
pub(super) fn normalize(name: &str) -> String {
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
pub(super) fn is_secret_ish(name: &str) -> bool {
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
pub(super) fn is_keyword_path(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    (path.starts_with("etc/keepalived/") && path.ends_with(".conf"))
        || (path.starts_with("etc/haproxy/") && path.ends_with(".cfg"))
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

pub(super) fn digest(bytes: &[u8]) -> [u8; 32] {
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
pub(super) fn secret_assignment(text: &str) -> bool {
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
pub(super) fn decodes_to_key(text: &[u8]) -> bool {
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
pub(super) fn is_der_key(der: &[u8]) -> bool {
    use pkcs8::der::Decode;
    if sec1::EcPrivateKey::from_der(der).is_ok() || pkcs8::PrivateKeyInfo::from_der(der).is_ok() {
        return true;
    }
    // RSAPrivateKey: SEQUENCE { INTEGER 0 (version), INTEGER modulus, ... }
    matches!(der, [0x30, 0x82, _, _, 0x02, 0x01, 0x00, 0x02, ..])
}

/// The canonical bytes of a PEM file with a private key: every block's contents, in order.
pub(super) fn pem_key(bytes: &[u8]) -> Option<Vec<u8>> {
    let blocks = pem::parse_many(bytes).ok()?;
    if !blocks.iter().any(|b| b.tag().ends_with("PRIVATE KEY")) {
        return None;
    }
    Some(blocks.iter().flat_map(|b| b.contents().to_vec()).collect())
}
