//! The cluster's `EncryptionConfiguration`: the file the first control plane's kube-apiserver names
//! with `--encryption-provider-config`, which every control plane must hold alike. Its keys, their
//! names and their order are kept ([`crate::pki::adopted_encryption`]); the key it encrypts with
//! becomes the state's encryption key.

use super::AdoptError;
use super::host::HostFiles;
use crate::component::Component;
use crate::pki::adopted_encryption::{AdoptedEncryption, CurrentKey};
use crate::verify::material::yaml;

/// The adopted configuration and the key it encrypts with, if the cluster encrypts at rest.
pub fn read(hosts: &[HostFiles]) -> Result<Option<(AdoptedEncryption, CurrentKey)>, AdoptError> {
    let mut found: Option<(String, String)> = None;
    for host in hosts {
        let Some(apiserver) = host.pods.get(&Component::ApiServer) else {
            continue;
        };
        let Some(path) = apiserver.flag("encryption-provider-config") else {
            if found.is_some() {
                return Err(unsupported(
                    host,
                    apiserver.file,
                    "this control plane's kube-apiserver has no --encryption-provider-config and another's has one: adopt a cluster whose control planes agree",
                ));
            }
            continue;
        };
        let relative = path.trim_start_matches('/');
        let bytes = host
            .root
            .read(relative)
            .map_err(|e| AdoptError::Unreadable {
                file: host.file(relative),
                reason: e.reason(),
            })?
            .ok_or_else(|| AdoptError::Unreadable {
                file: host.file(relative),
                reason: format!(
                    "absent, though the kube-apiserver's --encryption-provider-config names {path}: fetch it with the host's files"
                ),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| AdoptError::Unreadable {
            file: host.file(relative),
            reason: "not UTF-8 text".into(),
        })?;
        match &found {
            Some((_, first)) if first != &text => {
                return Err(unsupported(
                    host,
                    relative,
                    "differs from the first control plane's EncryptionConfiguration: adopt a cluster whose control planes hold the same one",
                ));
            }
            Some(_) => {}
            None => found = Some((host.file(relative), text)),
        }
    }
    let Some((file, text)) = found else {
        return Ok(None);
    };
    let config = yaml(&text).map_err(|e| AdoptError::Unreadable {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    AdoptedEncryption::from_config(&config)
        .map(Some)
        .map_err(|e| AdoptError::Unsupported {
            file,
            what: e.to_string(),
        })
}

fn unsupported(host: &HostFiles, file: &str, what: &str) -> AdoptError {
    AdoptError::Unsupported {
        file: host.file(file),
        what: what.to_owned(),
    }
}
