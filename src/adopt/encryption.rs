//! The cluster's `EncryptionConfiguration`: the file the kube-apiservers name with
//! `--encryption-provider-config`, which every control plane must hold alike
//! ([`super::referenced`]). Its keys, their names and their order are kept
//! ([`crate::pki::adopted_encryption`]); the key it encrypts with becomes the state's encryption
//! key, and its path is carried into the spec (`encryption.configPath`).

use super::AdoptError;
use super::host::HostFiles;
use crate::pki::adopted_encryption::{AdoptedEncryption, CurrentKey};
use crate::verify::material::yaml;

/// The cluster's encryption at rest: where the configuration lives, what it holds, and the key it
/// encrypts with.
pub struct ClusterEncryption {
    /// Its absolute path on the control planes.
    pub path: String,
    /// The configuration, keys in order.
    pub adopted: AdoptedEncryption,
    /// The key that encrypts new writes.
    pub current: CurrentKey,
}

/// The adopted configuration, if the cluster encrypts at rest.
pub fn read(hosts: &[HostFiles]) -> Result<Option<ClusterEncryption>, AdoptError> {
    let Some(found) = super::referenced::read(
        hosts,
        "encryption-provider-config",
        "EncryptionConfiguration",
    )?
    else {
        return Ok(None);
    };
    let config = yaml(&found.text).map_err(|e| AdoptError::Unreadable {
        file: found.file.clone(),
        reason: e.to_string(),
    })?;
    let (mut adopted, current) =
        AdoptedEncryption::from_config(&config).map_err(|e| AdoptError::Unsupported {
            file: found.file,
            what: e.to_string(),
        })?;
    adopted.text = Some(found.text);
    Ok(Some(ClusterEncryption {
        path: found.path,
        adopted,
        current,
    }))
}
