//! `kcompile import --from-pki DIR`: adopt the CAs and the service-account key pair of an
//! existing kubeadm cluster (`/etc/kubernetes/pki`), so that the cluster moves to kcompile without
//! new CAs. Leaf certificates are then issued by kcompile, signed by the same CAs. A CA whose key
//! is absent is adopted as external (kcompile verifies, never signs, with it).

use std::path::Path;

use super::PkiError;
use super::inspect::Inspected;
use super::keys::Key;
use crate::cluster::Authority;
use crate::state::Transaction;
use crate::state::journal::read_bounded;

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
pub fn from_pki(state: &mut Transaction<'_>, dir: &Path) -> Result<Imported, PkiError> {
    if !dir.join("ca.crt").is_file() {
        return Err(PkiError::NotAPkiDir {
            dir: dir.to_owned(),
        });
    }
    let mut imported = Imported::default();
    for authority in Authority::ALL {
        let cert = read(dir, &format!("{}.crt", authority.file()))?;
        let Some(cert) = cert else { continue };
        let inspected = Inspected::parse(&cert).map_err(|source| PkiError::Certificate {
            path: format!("{}.crt", authority.file()),
            source,
        })?;
        if !inspected.is_ca {
            return Err(PkiError::NotACa {
                path: format!("{}.crt", authority.file()),
            });
        }
        let key = read(dir, &format!("{}.key", authority.file()))?;
        if let Some(key) = &key {
            let parsed = Key::from_pem(key).map_err(|source| PkiError::Key {
                path: format!("{}.key", authority.file()),
                source,
            })?;
            if !inspected.matches_key(&parsed) {
                return Err(PkiError::KeyMismatch {
                    key: format!("{}.key", authority.file()),
                    cert: format!("{}.crt", authority.file()),
                });
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
        let parsed = Key::from_pem(&key).map_err(|source| PkiError::Key {
            path: "sa.key".to_owned(),
            source,
        })?;
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

fn read(dir: &Path, name: &str) -> Result<Option<String>, PkiError> {
    let path = dir.join(name);
    read_bounded(&path)?
        .map(|bytes| String::from_utf8(bytes).map_err(|_| PkiError::NotText { path: path.clone() }))
        .transpose()
}

fn adopt(
    state: &mut Transaction<'_>,
    relative: &str,
    text: &str,
    mode: u32,
    imported: &mut Imported,
) -> Result<(), PkiError> {
    match state.read_text(relative)? {
        Some(existing) if existing == text => imported.unchanged.push(relative.to_owned()),
        Some(_) => {
            return Err(PkiError::ImportConflict {
                path: relative.to_owned(),
            });
        }
        None => {
            state.write(relative, text, mode);
            imported.adopted.push(relative.to_owned());
        }
    }
    Ok(())
}
