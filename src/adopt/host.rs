//! One host's files as `adopt` reads them from `DIR/<host>/`: which static pods it runs, with
//! their flags, images and hostPath volumes, and the kubelet's flags, configuration and API
//! server. Everything is read through [`Root`], so links never lead out of the copy.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::AdoptError;
use crate::component::Component;
use crate::root::Root;
use crate::spec::Role;
use crate::verify::material::{env_flags, flags, image_tag, text_at, unit_flags, yaml};

/// Static pod manifests, by component.
const MANIFESTS: [(Component, &str); 5] = [
    (Component::Etcd, "etc/kubernetes/manifests/etcd.yaml"),
    (
        Component::ApiServer,
        "etc/kubernetes/manifests/kube-apiserver.yaml",
    ),
    (
        Component::ControllerManager,
        "etc/kubernetes/manifests/kube-controller-manager.yaml",
    ),
    (
        Component::Scheduler,
        "etc/kubernetes/manifests/kube-scheduler.yaml",
    ),
    (
        Component::KubeProxy,
        "etc/kubernetes/manifests/kube-proxy.yaml",
    ),
];

/// Where kubeadm writes the kubelet's flags and configuration.
pub const KUBEADM_FLAGS: &str = "var/lib/kubelet/kubeadm-flags.env";
/// The kubelet's configuration file.
pub const KUBELET_CONFIG: &str = "var/lib/kubelet/config.yaml";
/// The kubelet's kubeconfig.
pub const KUBELET_KUBECONFIG: &str = "etc/kubernetes/kubelet.conf";
/// Unit files whose `ExecStart=` may carry kubelet flags (a tutorial's unit, or kcompile's).
const KUBELET_UNITS: [&str; 2] = [
    "etc/systemd/system/kubelet.service",
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
];

/// A hostPath volume of a static pod, with where the container mounts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Volume name.
    pub name: String,
    /// Path on the host.
    pub host_path: String,
    /// Path in the container.
    pub mount_path: String,
    /// Whether the mount is read-only.
    pub read_only: bool,
    /// The hostPath type, as written.
    pub path_type: Option<String>,
}

/// One static pod as the host runs it.
#[derive(Debug, Clone)]
pub struct Pod {
    /// The manifest, relative to the root.
    pub file: &'static str,
    /// The container image.
    pub image: String,
    /// Flags of the first container's command, in order.
    pub flags: Vec<(String, String)>,
    /// hostPath volumes with their mounts.
    pub volumes: Vec<Volume>,
}

impl Pod {
    /// The value of `--name`, if the pod passes it.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(flag, _)| flag == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One host's copied files.
pub struct HostFiles {
    /// The host name (its folder's name).
    pub name: String,
    /// The copy.
    pub root: Root,
    /// Its static pods.
    pub pods: BTreeMap<Component, Pod>,
    /// The kubelet's command-line flags (kubeadm-flags.env, then the unit), in order.
    pub kubelet_flags: Vec<(String, String)>,
    /// `var/lib/kubelet/config.yaml`, parsed.
    pub kubelet_config: Option<Value>,
    /// The server the kubelet's kubeconfig dials.
    pub server: Option<String>,
    /// What a tutorial-style host holds beyond this shape ([`super::tutorial`]).
    pub tutorial: Option<super::tutorial::Tutorial>,
}

impl HostFiles {
    /// `host/path` of one of its files, as messages name it.
    pub fn file(&self, path: &str) -> String {
        format!("{}/{path}", self.name)
    }

    /// Reads the host copied to `root`.
    pub fn read(name: &str, root: &std::path::Path) -> Result<HostFiles, AdoptError> {
        let root = Root::open(root).map_err(|e| AdoptError::Unreadable {
            file: root.display().to_string(),
            reason: e.reason(),
        })?;
        let mut pods = BTreeMap::new();
        for (component, file) in MANIFESTS {
            if let Some(text) = read_text(&root, name, file)? {
                pods.insert(component, parse_pod(name, file, &text)?);
            }
        }
        let mut kubelet_flags = Vec::new();
        if let Some(text) = read_text(&root, name, KUBEADM_FLAGS)? {
            kubelet_flags.extend(env_flags(&text));
        }
        for unit in KUBELET_UNITS {
            if let Some(text) = read_text(&root, name, unit)? {
                kubelet_flags.extend(unit_flags(&text));
            }
        }
        let kubelet_config = match read_text(&root, name, KUBELET_CONFIG)? {
            Some(text) => Some(yaml(&text).map_err(|reason| AdoptError::Unreadable {
                file: format!("{name}/{KUBELET_CONFIG}"),
                reason: reason.to_string(),
            })?),
            None => None,
        };
        let server = match read_text(&root, name, KUBELET_KUBECONFIG)? {
            Some(text) => {
                let value = yaml(&text).map_err(|reason| AdoptError::Unreadable {
                    file: format!("{name}/{KUBELET_KUBECONFIG}"),
                    reason: reason.to_string(),
                })?;
                text_at(&value, "/clusters/0/cluster/server")
            }
            None => None,
        };
        Ok(HostFiles {
            name: name.to_owned(),
            root,
            pods,
            kubelet_flags,
            kubelet_config,
            server,
            tutorial: None,
        })
    }

    /// The roles its static pods show: an apiserver makes a control plane, an etcd pod a member,
    /// neither a worker.
    pub fn roles(&self) -> Vec<Role> {
        let mut roles = Vec::new();
        if self.pods.contains_key(&Component::ApiServer) {
            roles.push(Role::ControlPlane);
        }
        if self.pods.contains_key(&Component::Etcd) {
            roles.push(Role::Etcd);
        }
        if roles.is_empty() {
            roles.push(Role::Worker);
        }
        roles
    }

    /// The node's address: the kubelet's `--node-ip`, else the apiserver's
    /// `--advertise-address`, else etcd's advertised client URL.
    pub fn address(&self) -> Result<IpAddr, AdoptError> {
        if let Some((_, address)) = self.tutorial.as_ref().and_then(|t| t.address.as_ref()) {
            return Ok(*address);
        }
        let candidates = [
            (
                KUBEADM_FLAGS,
                self.kubelet_flag("node-ip").map(str::to_owned),
            ),
            (
                "etc/kubernetes/manifests/kube-apiserver.yaml",
                self.pods
                    .get(&Component::ApiServer)
                    .and_then(|pod| pod.flag("advertise-address"))
                    .map(str::to_owned),
            ),
            (
                "etc/kubernetes/manifests/etcd.yaml",
                self.pods
                    .get(&Component::Etcd)
                    .and_then(|pod| pod.flag("advertise-client-urls"))
                    .and_then(url_host),
            ),
        ];
        for (file, value) in candidates {
            if let Some(value) = value {
                return value.parse().map_err(|_| AdoptError::Unsupported {
                    file: format!("{}/{file}", self.name),
                    what: format!("the node address `{value}` is not an IP address"),
                });
            }
        }
        Err(AdoptError::Unsupported {
            file: format!("{}/{KUBEADM_FLAGS}", self.name),
            what: "no node address: neither `--node-ip` nor an apiserver or etcd pod names one; add `--node-ip=ADDRESS` to the kubelet's flags (kubeadm's `nodeRegistration.kubeletExtraArgs`) and fetch the host again".into(),
        })
    }

    /// The value of a kubelet command-line flag.
    pub fn kubelet_flag(&self, name: &str) -> Option<&str> {
        self.kubelet_flags
            .iter()
            .rev()
            .find(|(flag, _)| flag == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The host of `https://10.0.0.1:2379` (the first URL of a list).
pub fn url_host(urls: &str) -> Option<String> {
    let url = urls.split(',').next()?;
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?,
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    Some(host.to_owned()).filter(|host| !host.is_empty())
}

/// The Kubernetes version of an image tag (`v1.33.4`).
pub fn version_of(pod: &Pod) -> Option<&str> {
    image_tag(&pod.image)
}

/// The text of `file` in `host`'s copy, if it has one; an error names `host/file`.
pub(super) fn read_text(root: &Root, host: &str, file: &str) -> Result<Option<String>, AdoptError> {
    let bytes = root.read(file).map_err(|e| AdoptError::Unreadable {
        file: format!("{host}/{file}"),
        reason: e.reason(),
    })?;
    bytes
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|_| AdoptError::Unreadable {
                file: format!("{host}/{file}"),
                reason: "not UTF-8 text".into(),
            })
        })
        .transpose()
}

fn parse_pod(host: &str, file: &'static str, text: &str) -> Result<Pod, AdoptError> {
    let unreadable = |reason: String| AdoptError::Unreadable {
        file: format!("{host}/{file}"),
        reason,
    };
    let value = yaml(text).map_err(|e| unreadable(e.to_string()))?;
    let container = value
        .pointer("/spec/containers/0")
        .ok_or_else(|| unreadable("no container".into()))?;
    let image = text_at(container, "/image").ok_or_else(|| unreadable("no image".into()))?;
    let words: Vec<&str> = ["command", "args"]
        .iter()
        .filter_map(|key| container.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mounts: BTreeMap<&str, (&str, bool)> = container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|mount| {
            Some((
                mount.get("name")?.as_str()?,
                (
                    mount.get("mountPath")?.as_str()?,
                    mount
                        .get("readOnly")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                ),
            ))
        })
        .collect();
    let volumes = value
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|volume| {
            let name = volume.get("name")?.as_str()?;
            let host_path = volume.pointer("/hostPath/path")?.as_str()?;
            let (mount_path, read_only) = mounts.get(name)?;
            Some(Volume {
                name: name.to_owned(),
                host_path: host_path.to_owned(),
                mount_path: (*mount_path).to_owned(),
                read_only: *read_only,
                path_type: text_at(volume, "/hostPath/type"),
            })
        })
        .collect();
    Ok(Pod {
        file,
        image,
        flags: flags(words.into_iter()),
        volumes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts_drop_scheme_port_and_brackets() {
        assert_eq!(
            url_host("https://10.0.0.1:2379,https://127.0.0.1:2379").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            url_host("https://[fd00::1]:2379").as_deref(),
            Some("fd00::1")
        );
        assert_eq!(url_host("https://:2379"), None);
    }
}
