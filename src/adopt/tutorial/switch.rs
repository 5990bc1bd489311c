//! The switch of a tutorial host from its systemd units to kcompile's static pods: the reasons of
//! the changes that differ from a kubeadm host's ([`explain`]) and what an operator does on each
//! host, one host at a time ([`cutover`]).

use serde::Serialize;

use super::{Location, location};
use crate::adopt::changes::{Planned, is_key_material};
use crate::adopt::host::HostFiles;
use crate::component::Component;
use crate::diff::Action;
use crate::render::FileSet;
use crate::spec::Role;

/// Rewrites the reasons of a tutorial host's changes where they differ from a kubeadm host's: a
/// certificate kept byte for byte that moves to kcompile's path, the service-account public
/// key, the new front-proxy CA, each static pod that replaces a unit.
pub fn explain(
    changes: &mut [Planned],
    host: &HostFiles,
    bundle: &FileSet,
    not_kept: &[(String, String)],
) {
    let Some(tutorial) = &host.tutorial else {
        return;
    };
    let held: Vec<(String, Vec<u8>)> = held_key_material(host);
    for change in changes.iter_mut().filter(|change| change.host == host.name) {
        if change.action == Action::Unknown {
            continue;
        }
        let path = change.path.as_str();
        if let Some((component, unit, _)) = tutorial.units.iter().find(|(component, _, _)| {
            path == format!("etc/kubernetes/manifests/{}.yaml", component.binary())
        }) {
            change.reason = format!(
                "replaces the systemd unit {unit} with a static pod that runs {} with the same flags (kcompile's paths for its certificates and kubeconfig); the unit must be stopped and disabled at the cut-over (see cutover)",
                component.binary()
            );
            continue;
        }
        if path.starts_with("etc/kubernetes/manifests/") {
            change.reason = "a static pod kcompile runs on every host; the host ran no such unit: it starts when the kubelet does".into();
            continue;
        }
        if path.starts_with("etc/systemd/system/kubelet.service")
            && tutorial.kubelet_binary.is_none()
        {
            change.reason = "kcompile's kubelet unit: the host runs no kubelet yet (the tutorial's controllers have none); install the binary at kubelet.binaryPath before the cut-over".into();
            continue;
        }
        if let Some(id) = kubeconfig_certificate(&host.name, path) {
            if let Some((_, why)) = not_kept.iter().find(|(known, _)| *known == id) {
                change.reason = format!(
                    "the kubeconfig in kcompile's form, with a certificate kcompile issues because the cluster's is not kept: {why}"
                );
            } else if let Location::Embedded(from) =
                location(host, id.rsplit('/').next().unwrap_or_default())
            {
                change.reason = format!(
                    "the kubeconfig at kcompile's path, in its form (cluster, user and context names), embedding the same certificate and key as the cluster's {from}"
                );
            }
            continue;
        }
        if !is_key_material(path) || path.ends_with("encryption-config.yaml") {
            continue;
        }
        let bytes = bundle.files.get(path).map(|file| file.bytes.as_slice());
        if let Some((from, _)) = held.iter().find(|(_, held)| Some(held.as_slice()) == bytes) {
            change.reason = format!(
                "kept: the cluster's {from}, byte for byte, at kcompile's path (the static pods name it there; the old file stays)"
            );
        } else if path.ends_with("pki/sa.pub") {
            change.reason = "the public half of the cluster's service-account key, as kcompile names it (tokens it signed still verify)".into();
        } else if path.contains("front-proxy-ca.") {
            change.reason = "a new CA: the cluster has no aggregation layer (front-proxy) CA; kcompile's kube-apiserver needs one for --requestheader-client-ca-file".into();
        }
    }
}

/// The catalog id of the certificate a kubeconfig kcompile writes embeds (`worker-0/kube-proxy`).
fn kubeconfig_certificate(host: &str, path: &str) -> Option<String> {
    let file = path
        .strip_prefix("etc/kubernetes/")?
        .strip_suffix(".conf")?;
    Some(match file {
        "admin" | "super-admin" => file.to_owned(),
        "controller-manager" | "scheduler" | "kube-proxy" => format!("{host}/{file}"),
        "kubelet" => format!("{host}/kubelet-client"),
        _ => return None,
    })
}

/// Every certificate and key file a tutorial host holds, by its path.
fn held_key_material(host: &HostFiles) -> Vec<(String, Vec<u8>)> {
    let mut held = Vec::new();
    for dir in ["var/lib/kubernetes", "etc/etcd", "var/lib/kubelet"] {
        for name in host.root.names(dir).unwrap_or_default() {
            let path = format!("{dir}/{name}");
            if !name.ends_with(".pem") {
                continue;
            }
            if let Ok(Some(bytes)) = host.root.read(&path) {
                held.push((path, bytes));
            }
        }
    }
    held
}

/// One thing an operator does on a host to switch it to kcompile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The wave: hosts go one at a time, in this order.
    pub wave: usize,
    /// The host.
    pub host: String,
    /// What to do, in order.
    pub actions: Vec<String>,
}

/// The cut-over, one host per wave: the controllers first (each waits for its etcd member and
/// kube-apiserver to be healthy before the next, so quorum and the load balancer keep serving),
/// then the workers.
pub fn cutover(hosts: &[HostFiles], first_control_plane: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut ordered: Vec<&HostFiles> = hosts
        .iter()
        .filter(|host| host.tutorial.is_some())
        .collect();
    ordered.sort_by_key(|host| !host.roles().contains(&Role::ControlPlane));
    for host in ordered {
        let Some(tutorial) = &host.tutorial else {
            continue;
        };
        let units: Vec<String> = tutorial
            .units
            .iter()
            .map(|(_, unit, _)| unit.rsplit('/').next().unwrap_or_default().to_owned())
            .collect();
        let mut actions = Vec::new();
        if steps.is_empty() && host.name == first_control_plane {
            actions.push("before any host: apply the RBAC objects of etc/kubernetes/addons/ from this host's bundle with the cluster's admin.kubeconfig".to_owned());
        }
        if tutorial.kubelet_binary.is_none() {
            actions.push("install containerd, runc, the CNI plugins and the kubelet binary at kubelet.binaryPath: the tutorial's controllers run none, kcompile's static pods need them".to_owned());
        }
        actions.push(format!(
            "kcompile build --host {} --out / (writes kcompile's files; the tutorial's stay where they are)",
            host.name
        ));
        if !units.is_empty() {
            let why = if host.pods.contains_key(&Component::Etcd) {
                "frees the ports, and etcd's data dir, for the static pods that take the same flags"
            } else {
                "frees the ports for the static pods that take the same flags"
            };
            actions.push(format!(
                "systemctl disable --now {} ({why})",
                units.join(" ")
            ));
        }
        actions.push("systemctl daemon-reload && systemctl enable kubelet && systemctl restart kubelet (the kubelet starts the static pods)".to_owned());
        if host.pods.contains_key(&Component::Etcd) {
            actions.push("wait until `etcdctl endpoint health` passes for this member and the cluster has all members before the next host".to_owned());
        }
        if host.pods.contains_key(&Component::ApiServer) {
            actions.push("wait until this kube-apiserver answers /readyz through the load balancer before the next host".to_owned());
        }
        if !units.is_empty() {
            actions.push(format!(
                "to roll this host back: move the static pods' manifests out of etc/kubernetes/manifests/ (the kubelet stops them), then `systemctl enable --now {}`",
                units.join(" ")
            ));
            actions.push(format!(
                "once every host has switched: remove {} from etc/systemd/system/; the tutorial's certificates and kubeconfigs under var/lib/kubernetes/, etc/etcd/ and var/lib/kube-proxy/ are no longer read",
                units.join(" ")
            ));
        }
        steps.push(Step {
            wave: steps.len() + 1,
            host: host.name.clone(),
            actions,
        });
    }
    steps
}
