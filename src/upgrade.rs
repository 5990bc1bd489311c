//! Upgrades one minor at a time: the state dir remembers the Kubernetes version of the last build,
//! and a spec that skips a minor (or goes back one) is refused before anything is issued or
//! written. The order to roll an upgrade out is in the README.

use serde::{Deserialize, Serialize};

use crate::state::{StateError, Transaction};
use crate::versions::KubeVersion;

/// Where the last build's version is kept in the state dir.
const RECORD: &str = "cluster.json";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    kubernetes_version: String,
}

/// The version the last build compiled, if any build has.
pub fn last_built(state: &Transaction<'_>) -> Result<Option<KubeVersion>, StateError> {
    let Some(text) = state.read_text(RECORD)? else {
        return Ok(None);
    };
    let record: Record =
        serde_json::from_str(&text).map_err(|e| StateError::malformed(RECORD, e))?;
    Ok(KubeVersion::parse(&record.kubernetes_version).ok())
}

/// Remembers `version` as the last one built.
pub fn record(state: &mut Transaction<'_>, version: KubeVersion) {
    let record = Record {
        kubernetes_version: version.to_string(),
    };
    let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
    state.write(RECORD, text, 0o600);
}

/// Why moving the cluster from `from` to `to` is refused (message, hint), if it is.
pub fn refusal(from: KubeVersion, to: KubeVersion) -> Option<(String, String)> {
    if to.minor > from.minor + 1 {
        let next = from.minor + 1;
        return Some((
            format!("upgrading from {from} to {to} skips v1.{next}"),
            format!(
                "Kubernetes upgrades one minor at a time: build and roll out v1.{next}.x first (etcd, apiservers one by one, controller-managers and schedulers, then kubelets and kube-proxies)"
            ),
        ));
    }
    if to.minor < from.minor {
        return Some((
            format!("the cluster was last built for {from}; {to} is a downgrade"),
            "Kubernetes does not support downgrading a minor: restore from an etcd backup instead"
                .into(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> KubeVersion {
        KubeVersion::parse(text).unwrap()
    }

    #[test]
    fn one_minor_at_a_time() {
        assert!(refusal(v("v1.36.3"), v("v1.37.1")).is_none());
        assert!(
            refusal(v("v1.36.3"), v("v1.36.0")).is_none(),
            "patch changes are free"
        );
        assert!(
            refusal(v("v1.35.4"), v("v1.37.1"))
                .unwrap()
                .0
                .contains("skips v1.36")
        );
        assert!(
            refusal(v("v1.37.0"), v("v1.36.4"))
                .unwrap()
                .0
                .contains("downgrade")
        );
    }
}
