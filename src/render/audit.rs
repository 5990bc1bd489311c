//! audit-policy.yaml: the spec's policy file, or the built-in policy — the classic tutorial's
//! (itself GKE's) translated to `audit.k8s.io/v1`: no noise from health checks, leader election
//! and kube-proxy watches; metadata only for secrets, configmaps and token reviews; request bodies
//! for reads and request+response for writes to the core API groups.

use crate::cluster::Audit;

/// The built-in audit policy.
pub const DEFAULT_POLICY: &str = include_str!("audit-policy.yaml");

/// The policy the apiserver gets.
pub fn policy(audit: &Audit) -> String {
    audit
        .policy
        .clone()
        .unwrap_or_else(|| DEFAULT_POLICY.to_owned())
}
