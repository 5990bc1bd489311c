//! Rotations without downtime, each a sequence of builds the operator diffs and rolls out. The
//! state dir remembers the phase of each rotation (`rotations.json`):
//!
//! - service-account key: phase 1 adds the new public key to the apiserver's verifying keys;
//!   phase 2 signs with the new key (both still verify); phase 3 retires the old key.
//! - encryption key: phase 1 adds the new key second (every apiserver can read with it); phase 2
//!   makes it first (new writes use it); the operator rewrites every secret; phase 3 retires the
//!   old key.
//! - a CA (cluster, etcd, front-proxy): phase 1 makes every consumer trust the old and the new CA
//!   (the CA files become bundles); phase 2 signs with the new CA, so the next build reissues every
//!   certificate of that CA (keys kept); phase 3 drops the old CA.
//!
//! Retired keys move under `retired/` in the state dir; nothing is deleted.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::catalog::Authority;
use super::keys::Key;
use super::store::{StateDir, StateError};
use crate::cluster::PkiSettings;

/// What can be rotated in phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rotated {
    /// `sa.key` / `sa.pub`.
    ServiceAccountKey,
    /// The encryption-at-rest key.
    EncryptionKey,
    /// A certificate authority.
    Ca(Authority),
}

impl Rotated {
    /// Its name on the command line and in `rotations.json`.
    pub fn name(self) -> &'static str {
        match self {
            Rotated::ServiceAccountKey => "sa-key",
            Rotated::EncryptionKey => "encryption-key",
            Rotated::Ca(Authority::Cluster) => "cluster-ca",
            Rotated::Ca(Authority::Etcd) => "etcd-ca",
            Rotated::Ca(Authority::FrontProxy) => "front-proxy-ca",
        }
    }

    /// The state file of the key being rotated in.
    fn next_key(self) -> String {
        match self {
            Rotated::ServiceAccountKey => "pki/sa-next.key".into(),
            Rotated::EncryptionKey => "secrets/encryption-key-next".into(),
            Rotated::Ca(authority) => format!("pki/{}-next.key", authority.file()),
        }
    }
}

/// A CA being rotated in.
#[derive(Clone, PartialEq, Eq)]
pub struct IncomingCa {
    /// The rotation's phase (1 or 2).
    pub phase: u8,
    /// The new CA's certificate (PEM).
    pub cert_pem: String,
    /// The new CA's key (PEM).
    pub key_pem: String,
}

/// The rotations in progress and their new keys.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Rotations {
    /// Phase of the service-account key rotation (0: none).
    pub service_account_phase: u8,
    /// The incoming service-account key (PEM private, PEM public) during phases 1 and 2.
    pub service_account_next: Option<(String, String)>,
    /// Phase of the encryption key rotation (0: none).
    pub encryption_phase: u8,
    /// The incoming encryption key (base64) during phases 1 and 2.
    pub encryption_next: Option<String>,
    /// CAs being rotated, with their incoming CA.
    pub authorities: BTreeMap<Authority, IncomingCa>,
}

impl std::fmt::Debug for Rotations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(
            f,
            "Rotations(sa phase {}, encryption phase {}, CAs {:?})",
            self.service_account_phase,
            self.encryption_phase,
            self.authorities.keys().collect::<Vec<_>>()
        )
    }
}

const RECORD: &str = "rotations.json";

fn phases(state: &StateDir) -> Result<BTreeMap<String, u8>, StateError> {
    match state.read_text(RECORD)? {
        None => Ok(BTreeMap::new()),
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| StateError(format!("`{RECORD}`: {e}")))
        }
    }
}

fn missing(what: &str, path: &str) -> StateError {
    StateError(format!(
        "a {what} rotation is in progress but `{path}` is missing"
    ))
}

/// Reads the rotations in progress.
pub fn load(state: &StateDir) -> Result<Rotations, StateError> {
    let phases = phases(state)?;
    let phase = |what: Rotated| phases.get(what.name()).copied().unwrap_or(0);
    let mut rotations = Rotations {
        service_account_phase: phase(Rotated::ServiceAccountKey),
        encryption_phase: phase(Rotated::EncryptionKey),
        ..Rotations::default()
    };
    if rotations.service_account_phase > 0 {
        let path = Rotated::ServiceAccountKey.next_key();
        let pem = state
            .read_text(&path)?
            .ok_or_else(|| missing("sa-key", &path))?;
        let key = Key::from_pem(&pem).map_err(|e| StateError(format!("`{path}`: {e}")))?;
        rotations.service_account_next = Some((key.to_pem(), key.public_pem()));
    }
    if rotations.encryption_phase > 0 {
        let path = Rotated::EncryptionKey.next_key();
        let key = state
            .read_text(&path)?
            .ok_or_else(|| missing("encryption-key", &path))?;
        rotations.encryption_next = Some(key.trim().to_owned());
    }
    for authority in Authority::ALL {
        let what = Rotated::Ca(authority);
        let phase = phase(what);
        if phase == 0 {
            continue;
        }
        let cert_path = format!("pki/{}-next.crt", authority.file());
        let cert_pem = state
            .read_text(&cert_path)?
            .ok_or_else(|| missing(what.name(), &cert_path))?;
        let key_pem = state
            .read_text(&what.next_key())?
            .ok_or_else(|| missing(what.name(), &what.next_key()))?;
        rotations.authorities.insert(
            authority,
            IncomingCa {
                phase,
                cert_pem,
                key_pem,
            },
        );
    }
    Ok(rotations)
}

/// Moves rotation `what` to `phase` (the next one; the current one again is a no-op). Returns what
/// the operator does next.
pub fn advance(
    state: &StateDir,
    what: Rotated,
    phase: u8,
    pki: &PkiSettings,
) -> Result<String, StateError> {
    let mut phases = phases(state)?;
    let current = phases.get(what.name()).copied().unwrap_or(0);
    if phase == current && phase > 0 {
        return Ok(format!(
            "{} rotation is already at phase {phase}",
            what.name()
        ));
    }
    if !(1..=3).contains(&phase) || phase != current + 1 {
        let expected = if current == 0 { 1 } else { current + 1 };
        return Err(StateError(format!(
            "the {} rotation is at phase {current}; the next phase is {expected}",
            what.name()
        )));
    }
    match (what, phase) {
        (_, 1) => begin(state, what, pki)?,
        (_, 2) => {}
        (Rotated::ServiceAccountKey, _) => {
            let next = state.read_text(&what.next_key())?.unwrap_or_default();
            let key = Key::from_pem(&next)
                .map_err(|e| StateError(format!("`{}`: {e}", what.next_key())))?;
            promote(
                state,
                &[
                    ("pki/sa.key", key.to_pem()),
                    ("pki/sa.pub", key.public_pem()),
                ],
            )?;
            state.retire(&what.next_key())?;
        }
        (Rotated::EncryptionKey, _) => {
            let next = state.read_text(&what.next_key())?.unwrap_or_default();
            promote(state, &[("secrets/encryption-key", next)])?;
            state.retire(&what.next_key())?;
        }
        (Rotated::Ca(authority), _) => {
            let file = authority.file();
            let cert = state
                .read_text(&format!("pki/{file}-next.crt"))?
                .unwrap_or_default();
            let key = state.read_text(&what.next_key())?.unwrap_or_default();
            promote(
                state,
                &[
                    (&format!("pki/{file}.crt"), cert),
                    (&format!("pki/{file}.key"), key),
                ],
            )?;
            state.retire(&format!("pki/{file}-next.crt"))?;
            state.retire(&what.next_key())?;
        }
    }
    if phase == 3 {
        phases.remove(what.name());
    } else {
        phases.insert(what.name().to_owned(), phase);
    }
    let text = serde_json::to_string_pretty(&phases).unwrap_or_default() + "\n";
    state.write(RECORD, text.as_bytes(), 0o600)?;
    Ok(guidance(what, phase))
}

/// Phase 1: makes the incoming key (and, for a CA, its certificate).
fn begin(state: &StateDir, what: Rotated, pki: &PkiSettings) -> Result<(), StateError> {
    let next = match what {
        Rotated::ServiceAccountKey => Key::generate(pki.key_algorithm)
            .map_err(StateError)?
            .to_pem(),
        Rotated::EncryptionKey => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| StateError(format!("no randomness: {e}")))?;
            STANDARD.encode(bytes) + "\n"
        }
        Rotated::Ca(authority) => {
            if state
                .read(&format!("pki/{}.key", authority.file()))?
                .is_none()
            {
                return Err(StateError(format!(
                    "{authority} is external (its key is not in the state dir): rotate it with the tools that hold its key"
                )));
            }
            let key = Key::generate(pki.key_algorithm).map_err(StateError)?;
            let cert = super::self_signed_ca(
                authority,
                &key,
                pki.ca_validity,
                time::OffsetDateTime::now_utc(),
            )?;
            state.write(
                &format!("pki/{}-next.crt", authority.file()),
                cert.as_bytes(),
                0o644,
            )?;
            key.to_pem()
        }
    };
    state.write(&what.next_key(), next.as_bytes(), 0o600)
}

/// Phase 3: the current files go under `retired/`, the incoming ones take their place.
fn promote(state: &StateDir, files: &[(&str, String)]) -> Result<(), StateError> {
    for (path, text) in files {
        let mode = if path.ends_with(".crt") || path.ends_with(".pub") {
            0o644
        } else {
            0o600
        };
        state.retire(path)?;
        state.write(path, text.as_bytes(), mode)?;
    }
    Ok(())
}

fn guidance(what: Rotated, phase: u8) -> String {
    let control_planes = "build, `kcompile diff` and roll out every control-plane host";
    let hosts = "build, `kcompile diff` and roll out every host";
    match (what, phase) {
        (Rotated::ServiceAccountKey, 1) => format!(
            "phase 1: apiservers also accept tokens signed by the new key. Next: {control_planes}, then `--phase 2`."
        ),
        (Rotated::ServiceAccountKey, 2) => format!(
            "phase 2: the new key signs, both verify. Next: {control_planes}; wait until every token signed by the old key has expired (bound tokens live 1 hour; restart pods that mount legacy token Secrets), then `--phase 3`."
        ),
        (Rotated::EncryptionKey, 1) => format!(
            "phase 1: every apiserver can decrypt with the new key. Next: {control_planes}, then `--phase 2`."
        ),
        (Rotated::EncryptionKey, 2) => format!(
            "phase 2: new writes use the new key. Next: {control_planes}; then rewrite every encrypted resource (`kubectl get secrets -A -o json | kubectl replace -f -`), then `--phase 3`."
        ),
        (Rotated::Ca(_), 1) => format!(
            "phase 1: every consumer trusts the old and the new CA. Next: {hosts} (kubeconfigs and CA files change everywhere), restart pods that read the CA, then `--phase 2`."
        ),
        (Rotated::Ca(_), 2) => format!(
            "phase 2: the new CA signs; the next build reissues every certificate it signs, keeping their keys. Next: {hosts}, then `--phase 3`."
        ),
        (Rotated::Ca(_), _) => format!(
            "phase 3: the old CA is dropped (kept under retired/ in the state dir). Next: {hosts}."
        ),
        (_, _) => format!(
            "phase 3: the old key is retired (kept under retired/ in the state dir). Next: {control_planes}."
        ),
    }
}
