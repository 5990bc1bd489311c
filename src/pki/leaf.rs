//! Deciding one leaf: reuse the certificate the state holds, or sign a new one, and why
//! ([`Reason`]).

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::catalog::CertSpec;
use super::inspect::Inspected;
use super::keys::Key;
use super::sign::sign_leaf;
use super::{
    ExternalLeafProblem, IssueOptions, Issued, PkiError, Plan, Reason, Record, ca_path, leaf_path,
};
use crate::cluster::Authority;
use crate::state::Transaction;

/// What every leaf of a plan is decided against.
#[derive(Clone, Copy)]
pub(super) struct LeafContext<'t, 's> {
    /// The transaction the plan stages into (read only here).
    pub state: &'t Transaction<'s>,
    /// Each CA's certificate (PEM) and, unless it is external, its key.
    pub authorities: &'t BTreeMap<Authority, (String, Option<Key>)>,
    /// Each CA's certificate fingerprint ([`super::inspect::fingerprint`]), as issue records name it.
    pub fingerprints: &'t BTreeMap<Authority, String>,
    /// What the run asked for (renewals, the renewal window).
    pub options: &'t IssueOptions,
    /// The time the plan is made at.
    pub now: OffsetDateTime,
    /// The plan so far (which keys are new).
    pub report: &'t Plan,
}

/// What planning one leaf decided: its material, and whether it is (re)issued and why.
pub(super) struct LeafOutcome {
    pub issued: Issued,
    /// The PEM of a key generated for it, to stage.
    pub new_key_pem: Option<String>,
    /// Why it is (re)issued, and its new issue record (JSON), when it is.
    pub reissued: Option<(Reason, String)>,
}

/// Decides one leaf: reuse the certificate in the state, or sign a new one (with its new key, if
/// it has one). Reads the transaction but stages nothing, so leaves can be planned in parallel.
pub(super) fn plan_leaf(
    context: &LeafContext<'_, '_>,
    leaf: CertSpec,
    new_key: Option<Key>,
    kept_key: Option<Key>,
) -> Result<LeafOutcome, PkiError> {
    let LeafContext {
        state,
        authorities,
        fingerprints,
        options,
        now,
        report,
    } = *context;
    let (ca_pem, ca_key) = &authorities[&leaf.issuer];
    let cert_file = leaf_path(&leaf, "crt");
    let new_key_pem = new_key.as_ref().map(Key::to_pem);
    let existing = state.read_text(&cert_file)?;
    let Some(ca_key) = ca_key else {
        // External CA: the leaf must be there, signed by the CA, with the names it needs.
        let (Some(cert), Some(key)) = (existing, kept_key) else {
            return Err(PkiError::ExternalLeafMissing {
                cert: cert_file,
                ca: ca_path(leaf.issuer, "crt"),
            });
        };
        Inspected::parse(&cert)
            .map_err(ExternalLeafProblem::from)
            .and_then(|inspected| Ok(inspected.check_external(&leaf, ca_pem, &key)?))
            .map_err(|problem| PkiError::ExternalLeafUnusable {
                cert: cert_file.clone(),
                ca: ca_path(leaf.issuer, "crt"),
                problem,
            })?;
        return Ok(LeafOutcome {
            issued: Issued {
                spec: leaf,
                cert_pem: cert,
                key_pem: key.to_pem(),
            },
            new_key_pem,
            reissued: None,
        });
    };
    let key = new_key.or(kept_key).expect("kept or generated above");
    let desired = Record {
        spec: leaf.clone(),
        key_algorithm: key.algorithm,
        issuer_sha256: fingerprints[&leaf.issuer].clone(),
    };
    let recorded: Option<Record> = state
        .read_text(&leaf_path(&leaf, "json"))?
        .and_then(|text| serde_json::from_str(&text).ok());
    let reason = reissue_reason(
        &leaf,
        &desired,
        recorded.as_ref(),
        existing.as_deref(),
        &key,
        options,
        now,
        report,
    );
    let (cert_pem, reissued) = match (reason, existing) {
        (None, Some(cert)) => (cert, None),
        (reason, _) => {
            let pem = sign_leaf(&leaf, &key, ca_pem, ca_key, now)?;
            let record = serde_json::to_string_pretty(&desired).unwrap_or_default();
            (pem, Some((reason.unwrap_or(Reason::Missing), record)))
        }
    };
    Ok(LeafOutcome {
        issued: Issued {
            spec: leaf,
            cert_pem,
            key_pem: key.to_pem(),
        },
        new_key_pem,
        reissued,
    })
}

/// Why a leaf must be (re)issued, or `None` to reuse it.
#[allow(clippy::too_many_arguments)]
fn reissue_reason(
    leaf: &CertSpec,
    desired: &Record,
    recorded: Option<&Record>,
    existing: Option<&str>,
    key: &Key,
    options: &IssueOptions,
    now: OffsetDateTime,
    report: &Plan,
) -> Option<Reason> {
    let Some(existing) = existing else {
        return Some(Reason::Missing);
    };
    if report.new_keys.contains(&leaf.id) {
        return Some(Reason::NewKey);
    }
    let Ok(inspected) = Inspected::parse(existing) else {
        return Some(Reason::Unreadable);
    };
    if !inspected.matches_key(key) {
        return Some(Reason::KeyMismatch);
    }
    match recorded {
        None => return Some(Reason::NoRecord),
        Some(recorded) if recorded.issuer_sha256 != desired.issuer_sha256 => {
            return Some(Reason::CaChanged);
        }
        Some(recorded) if recorded.spec != desired.spec => {
            return Some(describe_change(&recorded.spec, &desired.spec));
        }
        Some(_) => {}
    }
    if options
        .renew
        .iter()
        .any(|name| name == "all" || *name == leaf.id)
    {
        return Some(Reason::RenewalAsked);
    }
    let window = time::Duration::try_from(options.renew_within).unwrap_or(time::Duration::ZERO);
    if now
        .checked_add(window)
        .is_none_or(|horizon| inspected.not_after <= horizon)
    {
        return Some(Reason::Expires(inspected.not_after));
    }
    None
}

fn describe_change(old: &CertSpec, new: &CertSpec) -> Reason {
    let mut changes = Vec::new();
    if old.sans != new.sans {
        changes.push("SANs");
    }
    if old.common_name != new.common_name || old.organizations != new.organizations {
        changes.push("subject");
    }
    if old.usage != new.usage {
        changes.push("usage");
    }
    if old.validity_seconds != new.validity_seconds {
        changes.push("validity");
    }
    if old.issuer != new.issuer {
        changes.push("issuer");
    }
    Reason::Changed(changes)
}
