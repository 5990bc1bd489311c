//! Random secrets that live in the state dir beside the PKI, created once and reused: the
//! encryption-at-rest key, the etcd initial-cluster token, a bootstrap token (with its expiry:
//! [`super::tokens`], which `kcompile token create` also replaces), the VRRP password keepalived
//! instances share, and the key of kcompile's keyed fingerprints. Each is checked for the shape its
//! consumer needs before anything is rendered from it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::PkiError;
use super::adopted_encryption::AdoptedEncryption;
use super::tokens::{self, BootstrapToken};
use crate::state::{FINGERPRINT_KEY, Transaction};

/// The cluster's generated secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    /// 32 random bytes, base64 (the `EncryptionConfiguration` key `key1`).
    pub encryption_key: String,
    /// etcd's `--initial-cluster-token`.
    pub etcd_token: String,
    /// The current bootstrap token and its expiry ([`tokens`]).
    pub bootstrap_token: BootstrapToken,
    /// keepalived's shared VRRP `auth_pass`, `[a-z0-9]{8}` (VRRP PASS authentication uses at most
    /// 8 characters).
    pub vrrp_password: String,
    /// The `EncryptionConfiguration` of an adopted cluster, kept after kcompile's keys.
    pub adopted_encryption: Option<AdoptedEncryption>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.write_str("Secrets(..)")
    }
}

/// Reads the secrets, staging those that do not exist yet; refuses one that lacks its shape.
pub fn plan(state: &mut Transaction<'_>) -> Result<Secrets, PkiError> {
    get_or_create(state, FINGERPRINT_KEY, Shape::Base64Bytes32, || {
        Ok(STANDARD.encode(random_bytes::<32>()?))
    })?;
    Ok(Secrets {
        encryption_key: get_or_create(
            state,
            "secrets/encryption-key",
            Shape::Base64Bytes32,
            new_encryption_key,
        )?,
        etcd_token: get_or_create(
            state,
            "secrets/etcd-initial-cluster-token",
            Shape::Token,
            || Ok(format!("kcompile-{}", token_chars(16)?)),
        )?,
        bootstrap_token: tokens::current_or_create(state)?,
        vrrp_password: get_or_create(state, "secrets/vrrp-password", Shape::VrrpPassword, || {
            token_chars(8)
        })?,
        adopted_encryption: AdoptedEncryption::read(state)?,
    })
}

/// A new encryption-at-rest key: 32 random bytes, base64 (secretbox, aescbc and aesgcm all take
/// 32-byte keys).
pub fn new_encryption_key() -> Result<String, PkiError> {
    Ok(STANDARD.encode(random_bytes::<32>()?))
}

/// What a secret must look like for its consumer.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// base64 of exactly 32 bytes (encryption keys).
    Base64Bytes32,
    /// `[a-zA-Z0-9-]{1,128}` (etcd's initial-cluster token).
    Token,
    /// `[a-z0-9]{6}.[a-z0-9]{16}`, as the kubelet's TLS bootstrap requires, and optionally its
    /// expiry on a second line ([`BootstrapToken::parse`]).
    BootstrapToken,
    /// 1 to 8 printable characters without spaces or quotes (keepalived's `auth_pass`).
    VrrpPassword,
}

impl Shape {
    /// Why `value` does not have this shape, if it does not.
    pub fn problem(self, value: &str) -> Option<&'static str> {
        match self {
            Shape::Base64Bytes32 => match STANDARD.decode(value) {
                Ok(bytes) if bytes.len() == 32 => None,
                Ok(_) => Some("is not 32 bytes once base64-decoded"),
                Err(_) => Some("is not base64"),
            },
            Shape::Token => (value.is_empty()
                || value.len() > 128
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .then_some("is not 1 to 128 letters, digits or `-`"),
            Shape::BootstrapToken => BootstrapToken::parse(value).err(),
            Shape::VrrpPassword => (value.is_empty()
                || value.len() > 8
                || !value.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
            .then_some("is not 1 to 8 printable characters without quotes"),
        }
    }
}

fn get_or_create(
    state: &mut Transaction<'_>,
    path: &str,
    shape: Shape,
    create: impl FnOnce() -> Result<String, PkiError>,
) -> Result<String, PkiError> {
    if let Some(text) = state.read_text(path)? {
        let value = text.trim_end().to_owned();
        if let Some(problem) = shape.problem(&value) {
            return Err(PkiError::DamagedSecret {
                path: path.to_owned(),
                problem,
            });
        }
        return Ok(value);
    }
    let value = create()?;
    state.write(path, format!("{value}\n"), 0o600);
    Ok(value)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], PkiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(PkiError::NoRandomness)?;
    Ok(bytes)
}

/// `count` characters of `[a-z0-9]`, uniformly (rejection sampling).
pub(crate) fn token_chars(count: usize) -> Result<String, PkiError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(count);
    while out.len() < count {
        for byte in random_bytes::<32>()? {
            // 252 = 7 * 36: bytes above it would skew the distribution.
            if byte < 252 && out.len() < count {
                out.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_made_once_and_have_their_shapes() {
        let temp = tempfile::tempdir().unwrap();
        let (mut state, _) = crate::state::State::open_or_create(temp.path()).unwrap();
        let mut transaction = state.begin();
        let first = plan(&mut transaction).unwrap();
        let changes = transaction.finish();
        state.commit(changes).unwrap();
        assert_eq!(STANDARD.decode(&first.encryption_key).unwrap().len(), 32);
        let token = &first.bootstrap_token;
        assert_eq!((token.id().len(), token.secret().len()), (6, 16));
        assert!(
            token
                .bearer()
                .bytes()
                .all(|b| b == b'.' || b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert!(token.expiration_text().is_some(), "a new token expires");
        assert_eq!(first.vrrp_password.len(), 8);
        assert!(
            first
                .vrrp_password
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(
            plan(&mut state.begin()).unwrap(),
            first,
            "reused, not regenerated"
        );
        assert_eq!(format!("{first:?}"), "Secrets(..)");
    }

    #[test]
    fn shapes_refuse_what_consumers_refuse() {
        assert!(Shape::Base64Bytes32.problem("hello").is_some());
        assert!(Shape::Base64Bytes32.problem("").is_some());
        assert!(
            Shape::Base64Bytes32
                .problem(&STANDARD.encode([0u8; 16]))
                .is_some()
        );
        assert!(
            Shape::Base64Bytes32
                .problem(&STANDARD.encode([0u8; 32]))
                .is_none()
        );
        assert!(
            Shape::BootstrapToken
                .problem("abcdef.0123456789abcdef")
                .is_none()
        );
        assert!(
            Shape::BootstrapToken
                .problem("ABCDEF.0123456789abcdef")
                .is_some()
        );
        assert!(Shape::VrrpPassword.problem("a b").is_some());
        assert!(Shape::VrrpPassword.problem("abcdefghi").is_some());
        assert!(Shape::Token.problem("kcompile-abc").is_none());
        assert!(Shape::Token.problem("a\nb").is_some());
    }
}
