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
//! Retired keys move under `retired/` in the state dir; nothing is deleted. A phase is refused
//! until a build has covered every host the previous phase changed (the record keeps which hosts
//! were built since), and phase 3, which drops old material, needs an acknowledgement of what must
//! be true first.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::PkiError;
use super::keys::Key;
use crate::cluster::Authority;
use crate::cluster::Cluster;
use crate::cluster::PkiSettings;
use crate::cluster::Role;
use crate::state::{StateError, Transaction};

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

/// One rotation in progress, as `rotations.json` records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The phase reached (1 or 2).
    pub phase: u8,
    /// Hosts built since the phase was reached.
    #[serde(default)]
    pub built_hosts: BTreeSet<String>,
}

/// A record entry: this format, or the bare phase number older versions wrote.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Progress(Progress),
    Phase(u8),
}

fn progress(state: &Transaction<'_>) -> Result<BTreeMap<String, Progress>, StateError> {
    let Some(text) = state.read_text(RECORD)? else {
        return Ok(BTreeMap::new());
    };
    let entries: BTreeMap<String, Entry> =
        serde_json::from_str(&text).map_err(|e| StateError::malformed(RECORD, e))?;
    Ok(entries
        .into_iter()
        .map(|(name, entry)| {
            let progress = match entry {
                Entry::Progress(progress) => progress,
                Entry::Phase(phase) => Progress {
                    phase,
                    built_hosts: BTreeSet::new(),
                },
            };
            (name, progress)
        })
        .collect())
}

fn save(state: &mut Transaction<'_>, record: &BTreeMap<String, Progress>) {
    let text = serde_json::to_string_pretty(record).unwrap_or_default() + "\n";
    state.write(RECORD, text, 0o600);
}

fn missing(what: &str, path: &str) -> PkiError {
    PkiError::RotationKeyMissing {
        rotation: what.to_owned(),
        path: path.to_owned(),
    }
}

/// Reads the rotations in progress.
pub fn load(state: &Transaction<'_>) -> Result<Rotations, PkiError> {
    let record = progress(state)?;
    // A finished rotation (phase 3) is recorded until the next one begins; it is no rotation.
    let phase = |what: Rotated| {
        record
            .get(what.name())
            .map_or(0, |p| if p.phase >= 3 { 0 } else { p.phase })
    };
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
        let key = Key::from_pem(&pem).map_err(|source| PkiError::Key {
            path: path.clone(),
            source,
        })?;
        rotations.service_account_next = Some((key.to_pem(), key.public_pem()));
    }
    if rotations.encryption_phase > 0 {
        let path = Rotated::EncryptionKey.next_key();
        let key = state
            .read_text(&path)?
            .ok_or_else(|| missing("encryption-key", &path))?;
        let key = key.trim().to_owned();
        if let Some(problem) = super::secrets::Shape::Base64Bytes32.problem(&key) {
            return Err(PkiError::RotationKeyDamaged { path, problem });
        }
        rotations.encryption_next = Some(key);
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

/// Notes that `hosts` were built, for the guards of the rotations in progress.
pub fn record_build(state: &mut Transaction<'_>, hosts: &[&str]) -> Result<(), PkiError> {
    let mut record = progress(state)?;
    if record.is_empty() {
        return Ok(());
    }
    let before = record.clone();
    for entry in record.values_mut() {
        entry
            .built_hosts
            .extend(hosts.iter().map(|h| (*h).to_owned()));
    }
    if record != before {
        save(state, &record);
    }
    Ok(())
}

/// The hosts whose files a phase of `what` changes: every control plane for the keys the
/// apiserver holds, every host for a CA.
fn affected_hosts(what: Rotated, cluster: &Cluster) -> Vec<&str> {
    cluster
        .hosts
        .iter()
        .filter(|host| matches!(what, Rotated::Ca(_)) || host.has(Role::ControlPlane))
        .map(|host| host.name.as_str())
        .collect()
}

/// What must be true before phase 3 of `what` drops the old material.
pub fn precondition(what: Rotated, cluster: &Cluster) -> String {
    match what {
        Rotated::EncryptionKey => {
            let resources = cluster
                .encryption
                .as_ref().map_or_else(|| "secrets".into(), |e| e.resources.join(","));
            format!(
                "every encrypted object must have been rewritten with the new key, or it becomes unreadable when the old key goes: run `kubectl get {resources} --all-namespaces -o json | kubectl replace -f -` after phase 2 is rolled out to every control plane"
            )
        }
        Rotated::ServiceAccountKey => "every token signed by the old key must have expired or been replaced: bound tokens live at most their expirationSeconds (1 hour by default; kubelets refresh them); restart the pods that mount legacy token Secrets, or they are refused".into(),
        Rotated::Ca(authority) => format!(
            "every certificate {authority} signs must have been reissued by the new CA and rolled out (phase 2, then a build and rollout of every host), and every client outside the cluster (kubeconfigs you copied, CI, monitoring) must trust the new CA, or it is cut off"
        ),
    }
}

/// Where each rotation stands, one line each.
pub fn status(state: &Transaction<'_>, cluster: &Cluster) -> Result<String, PkiError> {
    let record = progress(state)?;
    let mut text = String::new();
    let all = [
        Rotated::ServiceAccountKey,
        Rotated::EncryptionKey,
        Rotated::Ca(Authority::Cluster),
        Rotated::Ca(Authority::Etcd),
        Rotated::Ca(Authority::FrontProxy),
    ];
    for what in all {
        let Some(entry) = record.get(what.name()).filter(|entry| entry.phase < 3) else {
            let last = if record.contains_key(what.name()) {
                " (the last one finished)"
            } else {
                ""
            };
            text.push_str(&format!(
                "{:<15} no rotation in progress{last}\n",
                what.name()
            ));
            continue;
        };
        let waiting: Vec<&str> = affected_hosts(what, cluster)
            .into_iter()
            .filter(|host| !entry.built_hosts.contains(*host))
            .collect();
        let next = if waiting.is_empty() {
            format!(
                "built on every affected host; next: `kcompile rotate {} --phase {}`",
                what.name(),
                entry.phase + 1
            )
        } else {
            format!("waiting for a build of {}", waiting.join(", "))
        };
        text.push_str(&format!(
            "{:<15} phase {} of 3: {next}\n",
            what.name(),
            entry.phase
        ));
    }
    Ok(text)
}

/// Moves rotation `what` to `phase` (the next one; the current one again is a no-op), staging the
/// change in `state`. Returns what the operator does next.
pub fn advance(
    state: &mut Transaction<'_>,
    what: Rotated,
    phase: u8,
    cluster: &Cluster,
    acknowledged: bool,
) -> Result<String, PkiError> {
    let mut record = progress(state)?;
    let current = record.get(what.name()).map_or(0, |p| p.phase);
    if phase == current && phase > 0 {
        return Ok(format!(
            "{} rotation is already at phase {phase}",
            what.name()
        ));
    }
    // After a finished rotation (3), the next one starts at 1.
    let next = if current == 3 { 1 } else { current + 1 };
    if !(1..=3).contains(&phase) || phase != next {
        return Err(PkiError::PhaseOrder {
            rotation: what.name(),
            current,
            next,
        });
    }
    if let Some(entry) = record.get(what.name()).filter(|entry| entry.phase < 3) {
        let waiting: Vec<&str> = affected_hosts(what, cluster)
            .into_iter()
            .filter(|host| !entry.built_hosts.contains(*host))
            .collect();
        if !waiting.is_empty() {
            return Err(PkiError::PhaseNotBuilt {
                rotation: what.name(),
                current,
                asked: phase,
                waiting: waiting.into_iter().map(str::to_owned).collect(),
            });
        }
    }
    if phase == 3 && !acknowledged {
        return Err(PkiError::Unacknowledged {
            what: match what {
                Rotated::Ca(_) => "CA",
                _ => "key",
            },
            precondition: precondition(what, cluster),
        });
    }
    match (what, phase) {
        (_, 1) => begin(state, what, &cluster.pki)?,
        (_, 2) => {}
        (Rotated::ServiceAccountKey, _) => {
            let next = state.read_text(&what.next_key())?.unwrap_or_default();
            let key = Key::from_pem(&next).map_err(|source| PkiError::Key {
                path: what.next_key(),
                source,
            })?;
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
    // Phase 3 stays recorded, so that running it again (a retry after a crash) is a no-op.
    record.insert(
        what.name().to_owned(),
        Progress {
            phase,
            built_hosts: BTreeSet::new(),
        },
    );
    save(state, &record);
    Ok(guidance(what, phase))
}

/// Phase 1: makes the incoming key (and, for a CA, its certificate).
fn begin(state: &mut Transaction<'_>, what: Rotated, pki: &PkiSettings) -> Result<(), PkiError> {
    let next = match what {
        Rotated::ServiceAccountKey => Key::generate(pki.key_algorithm)
            .map_err(PkiError::Generate)?
            .to_pem(),
        Rotated::EncryptionKey => super::secrets::new_encryption_key()? + "\n",
        Rotated::Ca(authority) => {
            if state
                .read(&format!("pki/{}.key", authority.file()))?
                .is_none()
            {
                return Err(PkiError::ExternalRotation {
                    authority: authority.to_string(),
                });
            }
            let key = Key::generate(pki.key_algorithm).map_err(PkiError::Generate)?;
            let cert = super::self_signed_ca(
                authority,
                &key,
                pki.ca_validity,
                time::OffsetDateTime::now_utc(),
            )?;
            state.write(&format!("pki/{}-next.crt", authority.file()), cert, 0o644);
            key.to_pem()
        }
    };
    state.write(&what.next_key(), next, 0o600);
    Ok(())
}

/// Phase 3: the current files go under `retired/`, the incoming ones take their place.
fn promote(state: &mut Transaction<'_>, files: &[(&str, String)]) -> Result<(), PkiError> {
    for (path, text) in files {
        let mode = if path.ends_with(".crt") || path.ends_with(".pub") {
            0o644
        } else {
            0o600
        };
        state.retire(path)?;
        state.write(path, text.clone(), mode);
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
