//! The cluster's audit log: the policy the kube-apiservers name with `--audit-policy-file` (every
//! control plane's alike, [`super::referenced`]), kept byte for byte in a file beside the spec
//! (`audit.policyFile`) and written back at the path the cluster had (`audit.policyPath`), and the
//! log settings of its flags (`audit.logPath`, `maxAge`, `maxBackups`, `maxSize`).

use super::AdoptError;
use super::host::HostFiles;
use super::referenced::Referenced;
use crate::component::Component;
use crate::spec::AuditSpec;

/// The cluster's audit settings.
pub struct ClusterAudit {
    /// The policy, as the first control plane holds it.
    pub policy: Referenced,
    /// The spec's `audit` section; `policyFile` names `policy_file`.
    pub spec: AuditSpec,
    /// Log settings the cluster leaves to the apiserver's defaults, which kcompile sets (each a
    /// flag the cluster did not pass), with the flag's name.
    pub added: Vec<&'static str>,
}

/// The audit settings of the first control plane's kube-apiserver, if it audits with a policy
/// file; `policy_file` is where the spec keeps the policy (relative to the spec).
pub fn read(hosts: &[HostFiles], policy_file: &str) -> Result<Option<ClusterAudit>, AdoptError> {
    let Some(policy) = super::referenced::read(hosts, "audit-policy-file", "audit policy")? else {
        return Ok(None);
    };
    let Some((host, apiserver)) = hosts
        .iter()
        .find_map(|host| host.pods.get(&Component::ApiServer).map(|pod| (host, pod)))
    else {
        return Ok(None);
    };
    let Some(log_path) = apiserver.flag("audit-log-path") else {
        return Err(AdoptError::Unsupported {
            file: host.file(apiserver.file),
            what: "--audit-policy-file without --audit-log-path (a webhook backend only): kcompile writes the audit log to a file; add --audit-log-path on every control plane first".into(),
        });
    };
    let mut added = Vec::new();
    let mut number = |flag: &'static str| -> Result<Option<u32>, AdoptError> {
        match apiserver.flag(flag) {
            None => {
                added.push(flag);
                Ok(None)
            }
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|_| AdoptError::Unsupported {
                    file: host.file(apiserver.file),
                    what: format!("--{flag}={value} is not a whole number of at least 0"),
                }),
        }
    };
    let spec = AuditSpec {
        enabled: Some(true),
        policy_file: Some(policy_file.to_owned()),
        policy_path: Some(policy.path.clone()),
        log_path: Some(log_path.to_owned()),
        max_age: number("audit-log-maxage")?,
        max_backups: number("audit-log-maxbackup")?,
        max_size: number("audit-log-maxsize")?,
    };
    Ok(Some(ClusterAudit {
        policy,
        spec,
        added,
    }))
}
