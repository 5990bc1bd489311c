//! Files the control planes' kube-apiservers name by flag (the `EncryptionConfiguration`, the
//! audit policy): every control plane must name the same path and hold the same bytes there, so
//! that the spec can carry the path and kcompile write the file as it is.

use super::AdoptError;
use super::host::HostFiles;
use crate::component::Component;

/// A file the apiservers name, as the first control plane holds it.
#[derive(Debug, Clone)]
pub struct Referenced {
    /// Its absolute path on the hosts, as the flag names it.
    pub path: String,
    /// `host/path` of the first control plane's copy, as messages name it.
    pub file: String,
    /// Its text.
    pub text: String,
}

/// The file the kube-apiservers name with `--flag`, if they do; `what` names it in messages
/// (`EncryptionConfiguration`).
pub fn read(hosts: &[HostFiles], flag: &str, what: &str) -> Result<Option<Referenced>, AdoptError> {
    let mut found: Option<Referenced> = None;
    for host in hosts {
        let Some(apiserver) = host.pods.get(&Component::ApiServer) else {
            continue;
        };
        let Some(path) = apiserver.flag(flag) else {
            if found.is_some() {
                return Err(unsupported(
                    host,
                    apiserver.file,
                    &format!(
                        "this control plane's kube-apiserver has no --{flag} and another's has one: adopt a cluster whose control planes agree"
                    ),
                ));
            }
            continue;
        };
        if let Some(first) = &found
            && first.path != path
        {
            return Err(unsupported(
                host,
                apiserver.file,
                &format!(
                    "--{flag}={path}, while {} names {}: kcompile writes the {what} at one path on every control plane; make them agree first",
                    first.file, first.path
                ),
            ));
        }
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
                    "absent, though the kube-apiserver's --{flag} names {path}: fetch it with the host's files"
                ),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| AdoptError::Unreadable {
            file: host.file(relative),
            reason: "not UTF-8 text".into(),
        })?;
        match &found {
            Some(first) if first.text != text => {
                return Err(unsupported(
                    host,
                    relative,
                    &format!(
                        "differs from the first control plane's {what}: adopt a cluster whose control planes hold the same one"
                    ),
                ));
            }
            Some(_) => {}
            None => {
                found = Some(Referenced {
                    path: path.to_owned(),
                    file: host.file(relative),
                    text,
                });
            }
        }
    }
    Ok(found)
}

fn unsupported(host: &HostFiles, file: &str, what: &str) -> AdoptError {
    AdoptError::Unsupported {
        file: host.file(file),
        what: what.to_owned(),
    }
}
