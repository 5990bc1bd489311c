//! Every change a build would still make to an adopted host, each with its reason: what `adopt`
//! prints, and what `kcompile diff` of that host lists (both come from [`crate::diff::compare`]).

use serde::Serialize;

use crate::diff::{Action, Detail, Report};

/// One file a build would change on a host, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    /// The host.
    pub host: String,
    /// The path, relative to the host's root.
    pub path: String,
    /// What happens to it.
    pub action: Action,
    /// Why kcompile makes this change.
    pub reason: String,
}

/// The changes of one host's comparison, each with its reason. `not_kept` names the catalog
/// certificates adopt could not keep (`master01/kubelet-serving`) and why.
/// `admin_from` is the host whose admin credentials the state kept (the first control plane).
pub fn planned(report: &Report, not_kept: &[(String, String)], admin_from: &str) -> Vec<Planned> {
    report
        .changes
        .iter()
        .filter(|change| change.action != Action::Unchanged)
        .map(|change| Planned {
            host: report.host.clone(),
            path: change.path.clone(),
            action: change.action,
            reason: reason(
                &report.host,
                &change.path,
                change.action,
                &change.detail,
                not_kept,
                admin_from,
            ),
        })
        .collect()
}

/// Whether a path holds a certificate, a private key or an encryption key.
pub fn is_key_material(path: &str) -> bool {
    path.ends_with(".crt")
        || path.ends_with(".key")
        || path.ends_with(".pem")
        || path.ends_with(".pub")
        || path.ends_with("encryption-config.yaml")
}

fn reason(
    host: &str,
    path: &str,
    action: Action,
    detail: &Detail,
    not_kept: &[(String, String)],
    admin_from: &str,
) -> String {
    if action == Action::Unknown && is_key_material(path) {
        return "kept on the host as it is: kcompile does not place this file there (each host gets only the keys its role needs), so a build leaves it alone; remove it once nothing on the host uses it".into();
    }
    if action == Action::Unknown {
        return "not kcompile's, in a directory kcompile manages: left as it is, and listed so it is looked at".into();
    }
    if path.ends_with("encryption-config.yaml") {
        return "the cluster's EncryptionConfiguration at kcompile's path: its current key first under its own name, then every other provider and key it had, in its order (the kube-apiserver's --encryption-provider-config names it; the old file stays)".into();
    }
    if is_key_material(path) {
        let id = certificate_id(host, path);
        let why = not_kept
            .iter()
            .find(|(known, _)| Some(known.as_str()) == id.as_deref())
            .map_or("kcompile issues it".to_owned(), |(_, why)| why.clone());
        return format!("a certificate kcompile issues, because the cluster's is not kept: {why}");
    }
    let summary = match detail {
        Detail::Text {
            summary: Some(summary),
            ..
        } => format!(" ({summary})"),
        _ => String::new(),
    };
    let what = if path.ends_with("kcompile/MANIFEST") {
        "kcompile's list of the files it manages on the host"
    } else if path.starts_with("etc/kubernetes/manifests/") {
        "the static pod in kcompile's form (the kcompile.io/config-hash annotation, kcompile's mounts and probes); the kubelet restarts it"
    } else if host != admin_from
        && (path == "etc/kubernetes/admin.conf" || path == "etc/kubernetes/super-admin.conf")
    {
        "the kubeconfig in kcompile's form, with the cluster's one admin credential (kept from the first control plane) in place of this host's own, which stays valid until it expires"
    } else if path == "etc/kubernetes/kubelet.conf" {
        "the kubeconfig in kcompile's form, with the kubelet's current client certificate and key embedded instead of named by path (the same pair)"
    } else if path.ends_with(".conf") && path.starts_with("etc/kubernetes/") {
        "the kubeconfig in kcompile's form (cluster and user names, the credentials embedded), with the same certificate and key"
    } else if path.starts_with("etc/systemd/system/kubelet.service") {
        "kcompile's kubelet unit and the drop-in that shadows kubeadm's; the kubelet restarts"
    } else if path == "var/lib/kubelet/config.yaml" {
        "kcompile's KubeletConfiguration; the kubelet restarts"
    } else if path.starts_with("var/lib/kube-proxy/") {
        "kcompile's KubeProxyConfiguration"
    } else if path.starts_with("etc/kubernetes/addons/") {
        "cluster objects kcompile applies (RBAC, CoreDNS), in kcompile's form"
    } else if path.starts_with("etc/containerd/")
        || path.starts_with("etc/sysctl.d/")
        || path.starts_with("etc/modules-load.d/")
        || path == "etc/crictl.yaml"
    {
        "kcompile's node settings (container runtime, kernel modules and sysctls)"
    } else {
        "a file kcompile writes"
    };
    format!("{what}{summary}")
}

/// The catalog id a key-material path belongs to (`master01/apiserver`), where there is one.
fn certificate_id(host: &str, path: &str) -> Option<String> {
    let file = path
        .strip_prefix("etc/kubernetes/pki/")
        .or_else(|| path.strip_prefix("var/lib/kubelet/pki/"))?;
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    let stem = match stem {
        "kubelet" => "kubelet-serving",
        other => other,
    };
    Some(format!("{host}/{stem}"))
}
