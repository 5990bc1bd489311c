//! Random secrets that live in the state dir beside the PKI, created once and reused: the
//! encryption-at-rest key, the etcd initial-cluster token, a bootstrap token and the VRRP
//! password keepalived instances share.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::store::{StateDir, StateError};

/// The cluster's generated secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    /// 32 random bytes, base64 (the EncryptionConfiguration key `key1`).
    pub encryption_key: String,
    /// etcd's `--initial-cluster-token`.
    pub etcd_token: String,
    /// A bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}`.
    pub bootstrap_token: String,
    /// keepalived's shared VRRP `auth_pass`, `[a-z0-9]{8}` (VRRP PASS authentication uses at most
    /// 8 characters).
    pub vrrp_password: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.write_str("Secrets(..)")
    }
}

/// Reads the secrets, creating those that do not exist yet.
pub fn ensure(state: &StateDir) -> Result<Secrets, StateError> {
    Ok(Secrets {
        encryption_key: get_or_create(state, "secrets/encryption-key", || {
            Ok(STANDARD.encode(random_bytes::<32>()?))
        })?,
        etcd_token: get_or_create(state, "secrets/etcd-initial-cluster-token", || {
            Ok(format!("kcompile-{}", token_chars(16)?))
        })?,
        bootstrap_token: get_or_create(state, "secrets/bootstrap-token", || {
            Ok(format!("{}.{}", token_chars(6)?, token_chars(16)?))
        })?,
        vrrp_password: get_or_create(state, "secrets/vrrp-password", || token_chars(8))?,
    })
}

fn get_or_create(
    state: &StateDir,
    path: &str,
    create: impl FnOnce() -> Result<String, StateError>,
) -> Result<String, StateError> {
    if let Some(text) = state.read_text(path)? {
        return Ok(text.trim_end().to_owned());
    }
    let value = create()?;
    state.write(path, format!("{value}\n").as_bytes(), 0o600)?;
    Ok(value)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StateError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| StateError(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// `count` characters of `[a-z0-9]`, uniformly (rejection sampling).
fn token_chars(count: usize) -> Result<String, StateError> {
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
        let state = StateDir::open(temp.path()).unwrap();
        let first = ensure(&state).unwrap();
        assert_eq!(STANDARD.decode(&first.encryption_key).unwrap().len(), 32);
        let (id, secret) = first.bootstrap_token.split_once('.').unwrap();
        assert_eq!((id.len(), secret.len()), (6, 16));
        assert!(
            first
                .bootstrap_token
                .bytes()
                .all(|b| b == b'.' || b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(first.vrrp_password.len(), 8);
        assert!(
            first
                .vrrp_password
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(ensure(&state).unwrap(), first, "reused, not regenerated");
        assert_eq!(format!("{first:?}"), "Secrets(..)");
    }
}
