//! `kcompile import --from-pki DIR`: adopt the CAs and the service-account key pair of an
//! existing kubeadm cluster (`/etc/kubernetes/pki`), so that the cluster moves to kcompile without
//! new CAs. Leaf certificates are then issued by kcompile, signed by the same CAs. A CA whose key
//! is absent is adopted as external (kcompile verifies, never signs, with it).

use std::path::Path;

use super::catalog::Authority;
use super::inspect::Inspected;
use super::keys::Key;
use crate::state::journal::read_bounded;
use crate::state::{StateError, Transaction};

/// What an import adopted.
#[derive(Debug, Default)]
pub struct Imported {
    /// State files written.
    pub adopted: Vec<String>,
    /// State files already there and identical.
    pub unchanged: Vec<String>,
}

/// Stages the CAs (certificate and, when present, key) and `sa.key`/`sa.pub` of a kubeadm PKI
/// directory in `state`: the caller commits all of it or, on any error, nothing. Refuses to replace a different CA or service-account key that the
/// state already holds: that would orphan every certificate issued from it.
pub fn from_pki(state: &mut Transaction<'_>, dir: &Path) -> Result<Imported, StateError> {
    if !dir.join("ca.crt").is_file() {
        return Err(StateError(format!(
            "`{}` has no ca.crt: name a kubeadm PKI directory such as /etc/kubernetes/pki",
            dir.display()
        )));
    }
    let mut imported = Imported::default();
    for authority in Authority::ALL {
        let cert = read(dir, &format!("{}.crt", authority.file()))?;
        let Some(cert) = cert else { continue };
        let inspected = Inspected::parse(&cert)
            .map_err(|e| StateError(format!("{}.crt: {e}", authority.file())))?;
        if !inspected.is_ca {
            return Err(StateError(format!(
                "{}.crt is not a CA certificate",
                authority.file()
            )));
        }
        let key = read(dir, &format!("{}.key", authority.file()))?;
        if let Some(key) = &key {
            let parsed = Key::from_pem(key)
                .map_err(|e| StateError(format!("{}.key: {e}", authority.file())))?;
            if !inspected.matches_key(&parsed) {
                return Err(StateError(format!(
                    "{}.key is not the key of {}.crt",
                    authority.file(),
                    authority.file()
                )));
            }
        }
        adopt(
            state,
            &format!("pki/{}.crt", authority.file()),
            &cert,
            0o644,
            &mut imported,
        )?;
        if let Some(key) = key {
            adopt(
                state,
                &format!("pki/{}.key", authority.file()),
                &key,
                0o600,
                &mut imported,
            )?;
        }
    }
    if let Some(key) = read(dir, "sa.key")? {
        let parsed = Key::from_pem(&key).map_err(|e| StateError(format!("sa.key: {e}")))?;
        adopt(state, "pki/sa.key", &key, 0o600, &mut imported)?;
        adopt(
            state,
            "pki/sa.pub",
            &parsed.public_pem(),
            0o644,
            &mut imported,
        )?;
    }
    Ok(imported)
}

fn read(dir: &Path, name: &str) -> Result<Option<String>, StateError> {
    let path = dir.join(name);
    read_bounded(&path)?
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| StateError(format!("`{}` is not text", path.display())))
        })
        .transpose()
}

fn adopt(
    state: &mut Transaction<'_>,
    relative: &str,
    text: &str,
    mode: u32,
    imported: &mut Imported,
) -> Result<(), StateError> {
    match state.read_text(relative)? {
        Some(existing) if existing == text => imported.unchanged.push(relative.to_owned()),
        Some(_) => {
            return Err(StateError(format!(
                "the state already holds a different `{relative}`; importing would orphan every certificate issued from it (use an empty --state)"
            )));
        }
        None => {
            state.write(relative, text, mode);
            imported.adopted.push(relative.to_owned());
        }
    }
    Ok(())
}
