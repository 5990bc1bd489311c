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
        let config_path = self.config_file_path(
            encryption.config_path.as_ref(),
            "encryption.configPath",
            crate::render::ENCRYPTION_CONFIG,
        )?;
        Some(Some(Encryption {
            provider,
            resources,
            config_path,
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
        let policy_path = self.config_file_path(
            audit.policy_path.as_ref(),
            "audit.policyPath",
            crate::render::AUDIT_POLICY,
        )?;
        let encryption_path = spec
            .encryption
            .as_ref()
            .filter(|encryption| encryption.enabled.unwrap_or(false))
            .and_then(|encryption| encryption.config_path.as_deref())
            .unwrap_or(crate::render::ENCRYPTION_CONFIG);
        if policy_path == encryption_path {
            self.error(
                "audit.policyPath",
                format!("`{policy_path}` is also where the EncryptionConfiguration is written"),
                "give the audit policy and `encryption.configPath` different paths",
            );
            return None;
        }
        Some(Some(Audit {
            policy,
            policy_path,
            log_path,
            max_age: *self.required(audit.max_age.as_ref(), "audit.maxAge")?,
            max_backups: *self.required(audit.max_backups.as_ref(), "audit.maxBackups")?,
            max_size: *self.required(audit.max_size.as_ref(), "audit.maxSize")?,
        }))
    }

    /// A file kcompile writes on the control planes at a path the spec may choose (an adopted
    /// cluster's): absolute, in plain form, outside the directories whose every file kcompile
    /// manages (a file among the static pods would run as one, one among the certificates would
    /// be taken for one).
    fn config_file_path(
        &mut self,
        value: Option<&String>,
        at: &str,
        default: &str,
    ) -> Option<String> {
        let Some(path) = value else {
            return Some(default.to_owned());
        };
        let plain = path.starts_with('/')
            && !path.ends_with('/')
            && path
                .split('/')
                .skip(1)
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !plain {
            self.error(
                at,
                format!("`{path}` is not an absolute path to a file"),
                format!("write the file's path on the control planes, e.g. `{default}`"),
            );
            return None;
        }
        let managed = [crate::render::MANIFESTS, crate::render::PKI]
            .into_iter()
            .find(|dir| path.starts_with(&format!("{dir}/")));
        if let Some(dir) = managed {
            self.error(
                at,
                format!(
                    "`{path}` is inside {dir}, whose files kcompile writes for their own purpose"
                ),
                format!("keep it elsewhere, e.g. `{default}`"),
            );
            return None;
        }
        Some(path.clone())
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
