//! A host's leaves as the state holds them, when planning them would reuse every one unchanged:
//! what a warm `build --all --out` hashes into a host's inputs digest
//! ([`crate::bundle::inputs`]) to find the host's tree current without planning its leaves.
//!
//! A plan ([`super::plan`]) reuses a leaf when its certificate and key are in the state, the key
//! has the spec's algorithm and matches the certificate, the issue record is the one the catalog
//! asks for now (same subject, SANs, usage, validity, issuer fingerprint, key algorithm), and the
//! certificate is outside the renewal window. [`unchanged_leaves`] checks what a plan checks
//! without reading the keys: the record (which names the key's algorithm) and the expiry. That the
//! key matches the certificate and has the recorded algorithm is what the plan that last built
//! the host checked: a tree is current only when its stamp is the digest of exactly these
//! certificate and key bytes, and only a build that planned them writes a stamp. A host whose
//! leaves are not all reusable this way, or whose tree is not current, is planned in full.
//!
//! Every item read goes through the state's ledger checks (inventory sha256, secret modes).

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::catalog::CertSpec;
use super::inspect::Inspected;
use super::{IssueOptions, Issued, Pki, PkiError, Record, leaf_path};
use crate::cluster::Cluster;
use crate::state::Transaction;

/// The catalog's leaves of each host, by host name (cluster-wide leaves are left out).
pub fn host_leaves(cluster: &Cluster) -> BTreeMap<String, Vec<CertSpec>> {
    let mut by_host: BTreeMap<String, Vec<CertSpec>> = BTreeMap::new();
    for leaf in super::catalog(cluster) {
        if let Some(host) = leaf.host.clone() {
            by_host.entry(host).or_default().push(leaf);
        }
    }
    by_host
}

/// Reads and checks, at once and in parallel, the state items of `leaves` (certificate, key,
/// issue record of each).
pub fn load<'l>(
    state: &Transaction<'_>,
    leaves: impl IntoIterator<Item = &'l CertSpec>,
) -> Result<(), PkiError> {
    let paths: Vec<String> = leaves
        .into_iter()
        .flat_map(|leaf| ["crt", "key", "json"].map(|extension| leaf_path(leaf, extension)))
        .collect();
    state.load(paths.iter().map(String::as_str))?;
    Ok(())
}

/// `leaves` (one host's) as the state holds them, by id, when a plan with `options` would reuse
/// every one of them unchanged with the signing CAs of `pki` (see the module doc); `None` when
/// one would be (re)issued or needs a check only a full plan makes (an external CA, a renewal or
/// key rotation asked for).
pub fn unchanged_leaves(
    state: &Transaction<'_>,
    cluster: &Cluster,
    pki: &Pki,
    leaves: &[CertSpec],
    options: &IssueOptions,
    now: OffsetDateTime,
) -> Result<Option<BTreeMap<String, Issued>>, PkiError> {
    if !options.renew.is_empty() || !options.rotate_keys.is_empty() {
        return Ok(None);
    }
    let window = time::Duration::try_from(options.renew_within).unwrap_or(time::Duration::ZERO);
    let Some(horizon) = now.checked_add(window) else {
        return Ok(None);
    };
    let mut issued = BTreeMap::new();
    for leaf in leaves {
        let Some(ca) = pki.authorities.get(&leaf.issuer) else {
            return Ok(None);
        };
        if ca.key_pem.is_none() {
            return Ok(None);
        }
        let (Some(cert_pem), Some(key_pem), Some(record)) = (
            state.read_text(&leaf_path(leaf, "crt"))?,
            state.read_text(&leaf_path(leaf, "key"))?,
            state.read_text(&leaf_path(leaf, "json"))?,
        ) else {
            return Ok(None);
        };
        let desired = Record {
            spec: leaf.clone(),
            key_algorithm: cluster.pki.key_algorithm,
            issuer_sha256: ca.fingerprint.clone(),
        };
        if serde_json::from_str::<Record>(&record).ok().as_ref() != Some(&desired) {
            return Ok(None);
        }
        match Inspected::not_after(&cert_pem) {
            Some(not_after) if not_after > horizon => {}
            _ => return Ok(None),
        }
        issued.insert(
            leaf.id.clone(),
            Issued {
                spec: leaf.clone(),
                cert_pem,
                key_pem,
            },
        );
    }
    Ok(Some(issued))
}
