//! The apiserver's sections: encryption at rest, the audit log and the aggregation layer.

use super::Checker;
use crate::cluster::{Aggregation, Audit, Encryption};
use crate::spec::input::NamedFiles;
use crate::spec::source::element;
use crate::spec::types::Spec;

impl Checker<'_> {
    pub(super) fn encryption(&mut self, spec: &Spec) -> Option<Option<Encryption>> {
        let encryption = spec.encryption.clone().unwrap_or_default();
        if !encryption.enabled.unwrap_or(false) {
            return Some(None);
        }
        let provider = *self.required(encryption.provider.as_ref(), "encryption.provider")?;
        let resources = encryption.resources.unwrap_or_default();
        if resources.is_empty() {
            self.error(
                "encryption.resources",
                "encryption is enabled but no resource is listed",
                "list at least `secrets`",
            );
            return None;
        }
        for (index, resource) in resources.iter().enumerate() {
            let valid = !resource.is_empty()
                && resource.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'*')
                });
            if !valid {
                self.error(
                    &element("encryption.resources", index),
                    format!("`{resource}` is not a resource name"),
                    "write `resource` or `resource.group` in lower case, e.g. `secrets`, `deployments.apps`, `*.*`",
                );
            }
        }
        if provider == crate::spec::EncryptionProvider::Aescbc {
            self.warn(
                "encryption.provider",
                "aescbc is vulnerable to padding-oracle attacks",
                "Kubernetes recommends `secretbox` (or a KMS v2 provider)",
            );
        }
        Some(Some(Encryption {
            provider,
            resources,
        }))
    }

    pub(super) fn audit(&mut self, spec: &Spec, files: &NamedFiles) -> Option<Option<Audit>> {
        let audit = spec.audit.clone().unwrap_or_default();
        if !audit.enabled.unwrap_or(false) {
            if audit.policy_file.is_some()
                && self.layered.layer_of("audit.policyFile").label == "spec"
            {
                self.warn(
                    "audit.policyFile",
                    "audit is disabled, so this policy file is ignored",
                    "set `audit.enabled: true`",
                );
            }
            return Some(None);
        }
        let log_path = self
            .required(audit.log_path.as_ref(), "audit.logPath")?
            .clone();
        if !log_path.starts_with('/') && log_path != "-" {
            self.error(
                "audit.logPath",
                format!("audit log path `{log_path}` is not absolute"),
                "write an absolute path on the host, e.g. `/var/log/kubernetes/audit/audit.log`",
            );
        }
        let policy = match &files.audit_policy {
            None => None,
            Some((_, Ok(text))) => Some(text.clone()),
            Some((path, Err(problem))) => {
                self.error(
                    "audit.policyFile",
                    format!("audit policy file `{}` {problem}", path.display()),
                    "the path is relative to the spec's directory; leave it out for the built-in policy",
                );
                return None;
            }
        };
        Some(Some(Audit {
            policy,
            log_path,
            max_age: *self.required(audit.max_age.as_ref(), "audit.maxAge")?,
            max_backups: *self.required(audit.max_backups.as_ref(), "audit.maxBackups")?,
            max_size: *self.required(audit.max_size.as_ref(), "audit.maxSize")?,
        }))
    }

    pub(super) fn aggregation(&mut self, spec: &Spec) -> Option<Aggregation> {
        let aggregation = spec.aggregation.clone().unwrap_or_default();
        let client = self
            .required(
                aggregation.client_common_name.as_ref(),
                "aggregation.clientCommonName",
            )?
            .clone();
        if client.trim().is_empty() {
            self.error(
                "aggregation.clientCommonName",
                "the front-proxy client CN is empty",
                "kubeadm uses `front-proxy-client`",
            );
            return None;
        }
        let allowed = aggregation.allowed_names.unwrap_or_default();
        if allowed.is_empty() {
            self.warn(
                "aggregation.allowedNames",
                "no allowed names: any certificate the front-proxy CA signs may assert any user",
                format!("list the front-proxy client CN: `allowedNames: [{client}]`"),
            );
        } else if !allowed.contains(&client) {
            self.error(
                "aggregation.allowedNames",
                format!(
                    "requestheader allowed names [{}] do not include the front-proxy client CN `{client}`",
                    allowed.join(", ")
                ),
                format!(
                    "add `{client}`; otherwise every request through the aggregation layer (metrics, custom APIs) is refused"
                ),
            );
        }
        Some(Aggregation {
            client_common_name: client,
            allowed_names: allowed,
        })
    }
}
