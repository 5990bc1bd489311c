//! `kcompile adopt --roots DIR`: take over a running kubeadm cluster. Each `DIR/<host>/` is a
//! copy of that host's `/etc/kubernetes`, `/var/lib/kubelet` and kubelet unit. Adopt reads them
//! ([`host`]), writes a spec that says what the cluster runs ([`spec`]), stages the material the
//! cluster already has into the state ([`material`]: CAs, service-account keys, every valid
//! leaf certificate with its key, the etcd members, the `EncryptionConfiguration`'s keys in order:
//! [`encryption`]), and lists every change a build would still
//! make, each with its reason ([`changes`]). What it cannot carry over is an error or a warning
//! naming the file, never dropped silently.

pub mod audit;
pub mod changes;
pub mod encryption;
pub mod host;
pub mod kubelet;
pub mod material;
pub mod referenced;
pub mod spec;
pub mod systemd;
pub mod tutorial;

use std::path::Path;

use host::HostFiles;

/// Why a cluster cannot be adopted.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The roots directory cannot be listed or holds no host.
    #[error("`{roots}`: {reason}")]
    NoHosts {
        /// The directory.
        roots: String,
        /// Why.
        reason: String,
    },
    /// A file cannot be read or parsed.
    #[error("{file}: cannot be read: {reason}")]
    Unreadable {
        /// `host/path` of the file.
        file: String,
        /// Why.
        reason: String,
    },
    /// A file holds something kcompile's model cannot express.
    #[error("{file}: cannot be adopted: {what}")]
    Unsupported {
        /// `host/path` of the file.
        file: String,
        /// What, and what to do.
        what: String,
    },
    /// The first control plane's CAs and service-account keys cannot be imported.
    #[error("{host}/etc/kubernetes/pki: {source}")]
    Import {
        /// The host they come from.
        host: String,
        /// Why.
        source: crate::pki::PkiError,
    },
    /// The state already holds other material at a path adopt would write.
    #[error("the state already holds a different `{path}`; adopt into a new state dir (--state)")]
    Different {
        /// The state path.
        path: String,
    },
    /// The state cannot be read.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// Every host of the roots directory, read: one folder per host, named after it, in name order
/// with control planes first (the first control plane is where the addons and CAs come from).
/// A host whose components run from systemd units is read the tutorial's way
/// ([`tutorial::read_host`]); `version` is then the release its binaries run.
pub fn read_roots(roots: &Path, version: Option<&str>) -> Result<Vec<HostFiles>, AdoptError> {
    let no_hosts = |reason: String| AdoptError::NoHosts {
        roots: roots.display().to_string(),
        reason,
    };
    let entries = std::fs::read_dir(roots).map_err(|e| no_hosts(e.to_string()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| no_hosts(e.to_string()))?;
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        if let (true, Some(name)) = (is_dir, entry.file_name().to_str())
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(no_hosts(
            "holds no host folder: fetch each host's /etc/kubernetes, /var/lib/kubelet and kubelet unit to DIR/<host>/"
                .into(),
        ));
    }
    let mut hosts = names
        .iter()
        .map(|name| {
            let root = roots.join(name);
            if tutorial::is_tutorial(&root) {
                tutorial::read_host(name, &root, version)
            } else {
                HostFiles::read(name, &root)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    hosts.sort_by_key(|host| !host.roles().contains(&crate::spec::Role::ControlPlane));
    if !hosts
        .first()
        .is_some_and(|host| host.roles().contains(&crate::spec::Role::ControlPlane))
    {
        return Err(no_hosts(
            "no host runs a kube-apiserver static pod (etc/kubernetes/manifests/kube-apiserver.yaml) or unit (etc/systemd/system/kube-apiserver.service): fetch at least one control plane".into(),
        ));
    }
    Ok(hosts)
}
