//! The PKI planner: given the spec and the state, it works out what must be generated, issued or
//! reissued (each with a typed [`Reason`]) and stages it in a [`Transaction`]; everything else is
//! reused byte for byte. Previews drop the transaction; writers commit it. The material it returns
//! is what rendering uses.
//!
//! A leaf certificate is reused when the record it was issued from equals what the catalog asks
//! for now and it is outside the renewal window; reissued with the same key when its subject,
//! SANs, usage, validity or issuer changed; given a new key only when the key algorithm changed.
//! A CA is never regenerated: with its certificate but not its key, kcompile runs in external-CA
//! mode for it (uses and verifies leaves, never signs).

pub mod adopted_encryption;
pub mod catalog;
mod error;
pub mod expiry;
pub mod import;
pub mod inspect;
pub mod keys;
mod leaf;
pub mod reuse;
pub mod rotation;
pub mod secrets;
mod sign;
pub mod tokens;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cluster::Authority;
use crate::cluster::KeyAlgorithm;
use crate::cluster::{Cluster, EtcdTopology};
use crate::state::Transaction;
use catalog::{CertSpec, catalog};
pub use error::{ExternalLeafProblem, PkiError};
use inspect::Inspected;
use keys::Key;
pub(crate) use sign::self_signed_ca;

/// A CA as the cluster uses it: the certificate (and, unless it is externally managed, the key)
/// that signs, and what consumers trust — the same certificate, or during a CA rotation the old and
/// the new one together.
#[derive(Debug, Clone)]
pub struct CaMaterial {
    /// PEM certificate of the CA that signs.
    pub cert_pem: String,
    /// Its fingerprint ([`inspect::fingerprint`]), as the issue records of its leaves name it.
    pub fingerprint: String,
    /// PEM key of the CA that signs; `None` in external-CA mode.
    pub key_pem: Option<String>,
    /// PEM bundle consumers trust.
    pub trust_pem: String,
    /// Whether a rotation of this CA is in progress (phases 1 and 2).
    pub rotating: bool,
}

/// An issued leaf.
#[derive(Debug, Clone)]
pub struct Issued {
    /// What it was issued for.
    pub spec: CertSpec,
    /// PEM certificate.
    pub cert_pem: String,
    /// PEM key.
    pub key_pem: String,
}

/// All PKI material of a cluster.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CAs that the cluster uses.
    pub authorities: BTreeMap<Authority, CaMaterial>,
    /// Leaves by id (`admin`, `master01/apiserver`).
    pub certs: BTreeMap<String, Issued>,
    /// `sa.key` (PEM).
    pub service_account_key: String,
    /// `sa.pub` (PEM).
    pub service_account_public: String,
    /// Generated secrets (encryption key, etcd token, bootstrap token).
    pub secrets: secrets::Secrets,
    /// Key rotations in progress.
    pub rotations: rotation::Rotations,
}

impl Pki {
    /// The leaf `file` of `host` (or the cluster-wide one when `host` is `None`).
    pub fn leaf(&self, host: Option<&str>, file: &str) -> Option<&Issued> {
        let id = match host {
            Some(host) => format!("{host}/{file}"),
            None => file.to_owned(),
        };
        self.certs.get(&id)
    }
}

/// How a build treats existing certificates.
#[derive(Debug, Clone, Default)]
pub struct IssueOptions {
    /// Reissue leaves that expire within this window.
    pub renew_within: Duration,
    /// Reissue these leaves (ids, or `all`) with a new validity, keeping their keys.
    pub renew: Vec<String>,
    /// Give these leaves (ids, or `all`) new keys (and so new certificates).
    pub rotate_keys: Vec<String>,
    /// Whose certificates to plan; the CAs, the service-account pair and the cluster-wide
    /// certificates are always planned.
    pub hosts: HostScope,
}

/// Whose certificates a run plans, reads and checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HostScope {
    /// Every host's: builds of every host, `certs`, renewals, rotations.
    #[default]
    All,
    /// Only these hosts': `build --host`, `diff --host`.
    Only(std::collections::BTreeSet<String>),
}

impl HostScope {
    /// Whether a certificate of `host` (`None`: cluster-wide) is in scope.
    pub fn includes(&self, host: Option<&str>) -> bool {
        match (self, host) {
            (HostScope::All, _) | (_, None) => true,
            (HostScope::Only(names), Some(host)) => names.contains(host),
        }
    }
}

/// Why a certificate is (re)issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A new CA.
    NewCa,
    /// Never issued.
    Missing,
    /// Its key is new.
    NewKey,
    /// The certificate in the state cannot be parsed.
    Unreadable,
    /// The certificate does not match its key.
    KeyMismatch,
    /// There is no record of what it was issued from.
    NoRecord,
    /// Its CA changed (a CA rotation).
    CaChanged,
    /// What the catalog asks for changed: these parts (SANs, subject, usage, validity, issuer).
    Changed(Vec<&'static str>),
    /// The user asked for a renewal.
    RenewalAsked,
    /// It expires within the renewal window.
    Expires(OffsetDateTime),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NewCa => f.write_str("new CA"),
            Reason::Missing => f.write_str("missing"),
            Reason::NewKey => f.write_str("new key"),
            Reason::Unreadable => f.write_str("unreadable certificate"),
            Reason::KeyMismatch => f.write_str("certificate does not match its key"),
            Reason::NoRecord => f.write_str("no issue record"),
            Reason::CaChanged => f.write_str("CA changed"),
            Reason::Changed(parts) if parts.is_empty() => f.write_str("spec changed"),
            Reason::Changed(parts) => write!(f, "{} changed", parts.join(", ")),
            Reason::RenewalAsked => f.write_str("renewal asked for"),
            Reason::Expires(when) => write!(f, "expires {}", inspect::date(*when)),
        }
    }
}

/// What a run would do to the state's PKI: the keys it generates and the certificates it
/// (re)issues, each with its reason. Everything else is reused.
#[derive(Debug, Default)]
pub struct Plan {
    /// Keys generated (ids: `ca:ca`, `sa`, `master01/apiserver`).
    pub new_keys: Vec<String>,
    /// Certificates issued or reissued, with why.
    pub issued: Vec<(String, Reason)>,
    /// Leaves reused without being planned: those of the hosts a warm build found current
    /// ([`reuse`]).
    pub reused_unplanned: usize,
}

/// What a leaf was issued from, stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    spec: CertSpec,
    key_algorithm: KeyAlgorithm,
    issuer_sha256: String,
}

/// Plans the PKI in `state`: stages what is new or stale, reuses the rest, and returns the
/// material as it will be once the transaction is committed.
///
/// # Panics
///
/// Never: each key taken from the generated set was generated above under that name.
pub fn plan(
    state: &mut Transaction<'_>,
    cluster: &Cluster,
    options: &IssueOptions,
) -> Result<(Pki, Plan), PkiError> {
    let algorithm = cluster.pki.key_algorithm;
    let now = OffsetDateTime::now_utc();
    let mut report = Plan::default();
    let leaves: Vec<CertSpec> = catalog::catalog_of(cluster, &options.hosts);
    let mut needed: Vec<Authority> = vec![Authority::Cluster, Authority::FrontProxy];
    if matches!(cluster.etcd, EtcdTopology::Stacked { .. }) {
        needed.push(Authority::Etcd);
    }
    // Read and check, at once and in parallel, every recorded item this plan uses.
    let mut used: Vec<String> = Vec::new();
    for authority in &needed {
        used.extend(["crt", "key"].map(|extension| ca_path(*authority, extension)));
    }
    used.extend(["pki/sa.key".to_owned(), "pki/sa.pub".to_owned()]);
    for leaf in &leaves {
        used.extend(["key", "crt", "json"].map(|extension| leaf_path(leaf, extension)));
    }
    state.load(used.iter().map(String::as_str))?;

    // 1. What exists. The CAs' keys and the service-account key are parsed in parallel: an RSA
    // key's parse checks the key, which costs about a millisecond.
    let mut key_paths: Vec<String> = needed.iter().map(|a| ca_path(*a, "key")).collect();
    key_paths.push("pki/sa.key".to_owned());
    let mut cluster_keys: Vec<Option<Key>> = key_paths
        .par_iter()
        .map(|path| {
            state
                .read_text(path)?
                .map(|pem| load_key(&pem, path))
                .transpose()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<Result<_, PkiError>>()?;
    let sa_key = cluster_keys.pop().flatten();
    let mut ca_state = BTreeMap::new();
    for (authority, key) in needed.iter().zip(cluster_keys) {
        let cert = state.read_text(&ca_path(*authority, "crt"))?;
        ca_state.insert(*authority, (cert, key));
    }
    let loaded_keys: Vec<Option<Key>> = leaves
        .par_iter()
        .map(|leaf| {
            let path = leaf_path(leaf, "key");
            state
                .read_text(&path)?
                .map(|pem| load_key(&pem, &path))
                .transpose()
        })
        .collect::<Vec<_>>()
        // In leaf order, so the error reported is the first leaf's, whatever the threads did.
        .into_iter()
        .collect::<Result<_, PkiError>>()?;
    let mut leaf_keys: BTreeMap<String, Key> = BTreeMap::new();
    for (leaf, key) in leaves.iter().zip(loaded_keys) {
        let rotate = options
            .rotate_keys
            .iter()
            .any(|name| name == "all" || *name == leaf.id);
        if let Some(key) = key
            && key.algorithm == algorithm
            && !rotate
        {
            leaf_keys.insert(leaf.id.clone(), key);
        }
    }

    // 2. Generate every missing key at once, in parallel: the slow part of a cold build.
    let mut wanted: Vec<String> = Vec::new();
    for (authority, (cert, key)) in &ca_state {
        if cert.is_none() && key.is_none() {
            wanted.push(format!("ca:{authority}"));
        }
    }
    if sa_key.is_none() {
        wanted.push("sa".into());
    }
    let external: Vec<Authority> = ca_state
        .iter()
        .filter(|(_, (cert, key))| cert.is_some() && key.is_none())
        .map(|(authority, _)| *authority)
        .collect();
    for leaf in &leaves {
        if !leaf_keys.contains_key(&leaf.id) && !external.contains(&leaf.issuer) {
            wanted.push(leaf.id.clone());
        }
    }
    let mut generated = generate_keys(&wanted, algorithm)?;
    report.new_keys = wanted;

    // 3. CAs: a CA is never regenerated; a key without its certificate gets its certificate back.
    let mut authorities = BTreeMap::new();
    for (authority, (cert, key)) in ca_state {
        let key_file = ca_path(authority, "key");
        let cert_file = ca_path(authority, "crt");
        let key = match key {
            Some(key) => Some(key),
            None if cert.is_none() => {
                let key = generated
                    .remove(&format!("ca:{authority}"))
                    .expect("generated above");
                state.write(&key_file, key.to_pem(), 0o600);
                Some(key)
            }
            None => None,
        };
        let cert_pem = match (cert, &key) {
            (Some(cert), key) => {
                let inspected =
                    Inspected::parse(&cert).map_err(|source| PkiError::Certificate {
                        path: cert_file.clone(),
                        source,
                    })?;
                if !inspected.is_ca {
                    return Err(PkiError::NotACa { path: cert_file });
                }
                if let Some(key) = key
                    && !inspected.matches_key(key)
                {
                    return Err(PkiError::KeyMismatch {
                        key: key_file,
                        cert: cert_file,
                    });
                }
                cert
            }
            (None, Some(key)) => {
                let pem = self_signed_ca(authority, key, cluster.pki.ca_validity, now)?;
                state.write(&cert_file, pem.as_bytes(), 0o644);
                report
                    .issued
                    .push((authority.file().to_owned(), Reason::NewCa));
                pem
            }
            (None, None) => unreachable!("a CA without certificate and key got a key above"),
        };
        authorities.insert(authority, (cert_pem, key));
    }

    // During a CA rotation, consumers trust the old and the new CA; from phase 2 the new one signs.
    let rotations = rotation::load(state)?;
    let mut trust: BTreeMap<Authority, (String, bool)> = BTreeMap::new();
    for (authority, (cert_pem, key)) in &mut authorities {
        let Some(incoming) = rotations.authorities.get(authority) else {
            trust.insert(*authority, (cert_pem.clone(), false));
            continue;
        };
        trust.insert(
            *authority,
            (format!("{cert_pem}{}", incoming.cert_pem), true),
        );
        if incoming.phase >= 2 {
            cert_pem.clone_from(&incoming.cert_pem);
            *key = Some(load_key(
                &incoming.key_pem,
                &format!("pki/{}-next.key", authority.file()),
            )?);
        }
    }

    // 4. The service-account key pair.
    let sa_key = if let Some(key) = sa_key {
        key
    } else {
        let key = generated.remove("sa").expect("generated above");
        state.write("pki/sa.key", key.to_pem(), 0o600);
        key
    };
    let sa_public = sa_key.public_pem();
    if state.read_text("pki/sa.pub")?.as_deref() != Some(sa_public.as_str()) {
        state.write("pki/sa.pub", sa_public.as_bytes(), 0o644);
    }

    // 5. Leaves: decided and signed in parallel, staged in catalog order.
    let prepared: Vec<(CertSpec, Option<Key>, Option<Key>)> = leaves
        .into_iter()
        .map(|leaf| {
            let new_key = generated.remove(&leaf.id);
            let kept_key = leaf_keys.remove(&leaf.id);
            (leaf, new_key, kept_key)
        })
        .collect();
    let fingerprints: BTreeMap<Authority, String> = authorities
        .iter()
        .map(|(authority, (cert_pem, _))| (*authority, inspect::fingerprint(cert_pem)))
        .collect();
    let context = leaf::LeafContext {
        state,
        authorities: &authorities,
        fingerprints: &fingerprints,
        options,
        now,
        report: &report,
    };
    let outcomes: Vec<leaf::LeafOutcome> = prepared
        .into_par_iter()
        .map(|(leaf, new_key, kept_key)| leaf::plan_leaf(&context, leaf, new_key, kept_key))
        .collect::<Vec<_>>()
        // In leaf order, so the error reported is the first leaf's, whatever the threads did.
        .into_iter()
        .collect::<Result<_, PkiError>>()?;
    let mut certs = BTreeMap::new();
    for outcome in outcomes {
        if let Some(key_pem) = &outcome.new_key_pem {
            state.write(
                &leaf_path(&outcome.issued.spec, "key"),
                key_pem.as_bytes(),
                0o600,
            );
        }
        if let Some((reason, record)) = outcome.reissued {
            let leaf = &outcome.issued.spec;
            state.write(
                &leaf_path(leaf, "crt"),
                outcome.issued.cert_pem.as_bytes(),
                0o644,
            );
            state.write(&leaf_path(leaf, "json"), record.as_bytes(), 0o600);
            report.issued.push((leaf.id.clone(), reason));
        }
        certs.insert(outcome.issued.spec.id.clone(), outcome.issued);
    }

    let authorities = authorities
        .into_iter()
        .map(|(authority, (cert_pem, key))| {
            let (trust_pem, rotating) = trust
                .remove(&authority)
                .unwrap_or_else(|| (cert_pem.clone(), false));
            (
                authority,
                CaMaterial {
                    fingerprint: fingerprints[&authority].clone(),
                    cert_pem,
                    key_pem: key.map(|k| k.to_pem()),
                    trust_pem,
                    rotating,
                },
            )
        })
        .collect();
    Ok((
        Pki {
            authorities,
            certs,
            service_account_key: sa_key.to_pem(),
            service_account_public: sa_public,
            secrets: secrets::plan(state)?,
            rotations,
        },
        report,
    ))
}

/// Generates keys for `ids` in parallel; a progress bar appears on a terminal after a second.
fn generate_keys(
    ids: &[String],
    algorithm: KeyAlgorithm,
) -> Result<BTreeMap<String, Key>, PkiError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let bar = ProgressBar::with_draw_target(Some(ids.len() as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("generating {pos}/{len} {msg} keys {bar:30} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(algorithm.name());
    let start = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let keys = ids
        .par_iter()
        .map(|id| {
            let key = Key::generate(algorithm).map_err(PkiError::Generate);
            bar.inc(1);
            if terminal && bar.is_hidden() && start.elapsed() > Duration::from_secs(1) {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            key.map(|key| (id.clone(), key))
        })
        .collect::<Result<BTreeMap<_, _>, _>>();
    bar.finish_and_clear();
    keys
}

fn load_key(pem: &str, path: &str) -> Result<Key, PkiError> {
    Key::from_pem(pem).map_err(|source| PkiError::Key {
        path: path.to_owned(),
        source,
    })
}

/// State path of a CA file.
fn ca_path(authority: Authority, extension: &str) -> String {
    format!("pki/{}.{extension}", authority.file())
}

/// State path of a leaf file: cluster-wide leaves under `pki/`, host leaves under `hosts/<host>/`.
pub(crate) fn leaf_path(leaf: &CertSpec, extension: &str) -> String {
    match &leaf.host {
        Some(host) => format!("hosts/{host}/{}.{extension}", leaf.file),
        None => format!("pki/{}.{extension}", leaf.file),
    }
}

/// The issue record [`plan`] keeps beside a leaf, for a certificate that `kcompile adopt` takes
/// over from a running cluster: the next build reuses the certificate as long as the catalog asks
/// for the same one.
pub(crate) fn issue_record(leaf: &CertSpec, key: &Key, ca_pem: &str) -> String {
    let record = Record {
        spec: leaf.clone(),
        key_algorithm: key.algorithm,
        issuer_sha256: inspect::fingerprint(ca_pem),
    };
    serde_json::to_string_pretty(&record).unwrap_or_default()
}
