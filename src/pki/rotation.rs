//! Rotations without downtime, each a sequence of builds the operator diffs and rolls out. The
//! state dir remembers the phase of each rotation (`rotations.json`):
//!
//! - service-account key: phase 1 adds the new public key to the apiserver's verifying keys;
//!   phase 2 signs with the new key (both still verify); phase 3 retires the old key.
//! - encryption key: phase 1 adds the new key second (every apiserver can read with it); phase 2
//!   makes it first (new writes use it); the operator rewrites every secret; phase 3 retires the
//!   old key.
//!
//! Retired keys move under `retired/` in the state dir; nothing is deleted.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::keys::Key;
use super::store::{StateDir, StateError};
use crate::spec::KeyAlgorithm;

/// What can be rotated in phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rotated {
    /// `sa.key` / `sa.pub`.
    ServiceAccountKey,
    /// The encryption-at-rest key.
    EncryptionKey,
}

impl Rotated {
    /// Its name on the command line and in `rotations.json`.
    pub fn name(self) -> &'static str {
        match self {
            Rotated::ServiceAccountKey => "sa-key",
            Rotated::EncryptionKey => "encryption-key",
        }
    }

    /// The state file of the key being rotated in.
    fn next_path(self) -> &'static str {
        match self {
            Rotated::ServiceAccountKey => "pki/sa-next.key",
            Rotated::EncryptionKey => "secrets/encryption-key-next",
        }
    }
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
}

impl std::fmt::Debug for Rotations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(
            f,
            "Rotations(sa phase {}, encryption phase {})",
            self.service_account_phase, self.encryption_phase
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
        let pem = state
            .read_text(Rotated::ServiceAccountKey.next_path())?
            .ok_or_else(|| StateError("a service-account key rotation is in progress but `pki/sa-next.key` is missing".into()))?;
        let key = Key::from_pem(&pem).map_err(|e| StateError(format!("`pki/sa-next.key`: {e}")))?;
        rotations.service_account_next = Some((key.to_pem(), key.public_pem()));
    }
    if rotations.encryption_phase > 0 {
        let key = state
            .read_text(Rotated::EncryptionKey.next_path())?
            .ok_or_else(|| StateError("an encryption key rotation is in progress but `secrets/encryption-key-next` is missing".into()))?;
        rotations.encryption_next = Some(key.trim().to_owned());
    }
    Ok(rotations)
}

/// Moves rotation `what` to `phase` (the next one; the current one again is a no-op). Returns what
/// the operator does next.
pub fn advance(
    state: &StateDir,
    what: Rotated,
    phase: u8,
    algorithm: KeyAlgorithm,
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
        (_, 1) => {
            let next = match what {
                Rotated::ServiceAccountKey => {
                    Key::generate(algorithm).map_err(StateError)?.to_pem()
                }
                Rotated::EncryptionKey => {
                    let mut bytes = [0u8; 32];
                    getrandom::fill(&mut bytes)
                        .map_err(|e| StateError(format!("no randomness: {e}")))?;
                    STANDARD.encode(bytes) + "\n"
                }
            };
            state.write(what.next_path(), next.as_bytes(), 0o600)?;
        }
        (_, 2) => {}
        (Rotated::ServiceAccountKey, _) => {
            let next = state.read_text(what.next_path())?.unwrap_or_default();
            let key =
                Key::from_pem(&next).map_err(|e| StateError(format!("`pki/sa-next.key`: {e}")))?;
            state.retire("pki/sa.key")?;
            state.retire("pki/sa.pub")?;
            state.write("pki/sa.key", key.to_pem().as_bytes(), 0o600)?;
            state.write("pki/sa.pub", key.public_pem().as_bytes(), 0o644)?;
            state.retire(what.next_path())?;
        }
        (Rotated::EncryptionKey, _) => {
            let next = state.read_text(what.next_path())?.unwrap_or_default();
            state.retire("secrets/encryption-key")?;
            state.write("secrets/encryption-key", next.as_bytes(), 0o600)?;
            state.retire(what.next_path())?;
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

fn guidance(what: Rotated, phase: u8) -> String {
    let rollout = "build, `kcompile diff` and roll out every control-plane host";
    match (what, phase) {
        (Rotated::ServiceAccountKey, 1) => format!(
            "phase 1: apiservers also accept tokens signed by the new key. Next: {rollout}, then `--phase 2`."
        ),
        (Rotated::ServiceAccountKey, 2) => format!(
            "phase 2: the new key signs, both verify. Next: {rollout}; wait until every token signed by the old key has expired (bound tokens live 1 hour; restart pods that mount legacy token Secrets), then `--phase 3`."
        ),
        (Rotated::ServiceAccountKey, _) => format!(
            "phase 3: the old key is retired (kept under retired/ in the state dir). Next: {rollout}."
        ),
        (Rotated::EncryptionKey, 1) => format!(
            "phase 1: every apiserver can decrypt with the new key. Next: {rollout}, then `--phase 2`."
        ),
        (Rotated::EncryptionKey, 2) => format!(
            "phase 2: new writes use the new key. Next: {rollout}; then rewrite every encrypted resource (`kubectl get secrets -A -o json | kubectl replace -f -`), then `--phase 3`."
        ),
        (Rotated::EncryptionKey, _) => format!(
            "phase 3: the old key is retired (kept under retired/ in the state dir). Next: {rollout}."
        ),
    }
}
