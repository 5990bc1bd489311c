//! Every change a build would still make to an adopted host, each with its reason: what `adopt`
//! prints, and what `kcompile diff` of that host lists (both come from [`crate::diff::compare`]).

use std::fmt::Write as _;

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

/// What adopt knows about a cluster beyond one comparison, for the reasons.
pub struct Known<'a> {
    /// The catalog certificates adopt could not keep (`master01/kubelet-serving`) and why.
    pub not_kept: &'a [(String, String)],
    /// The host whose admin credentials the state kept (the first control plane).
    pub admin_from: &'a str,
    /// The `KubeletConfiguration` fields kcompile sets differently on this host
    /// ([`super::kubelet::set_differently`]).
    pub kubelet_fields: &'a [String],
    /// Where the cluster's `EncryptionConfiguration` is, relative to the root, if it has one.
    pub encryption_config: Option<&'a str>,
    /// Where the cluster's audit policy is, relative to the root, if it has one.
    pub audit_policy: Option<&'a str>,
}

/// Flags kcompile adds to a static pod on purpose, with why; every other flag of an adopted pod
/// is the cluster's own.
pub const DELIBERATE_FLAGS: [(&str, &str, &str); 3] = [
    (
        "etc/kubernetes/manifests/kube-apiserver.yaml",
        "kubelet-certificate-authority",
        "kcompile issues each kubelet's serving certificate from the cluster CA and has the apiserver verify it (kubeadm leaves the kubelet's self-signed one unverified); the kubelets' new serving certificates must be in place before the apiservers restart",
    ),
    (
        "etc/kubernetes/manifests/etcd.yaml",
        "initial-cluster-token",
        "kcompile names the etcd cluster in every member's flags so that a member it adds joins this one; a member that has data ignores it, so the running cluster is unchanged",
    ),
    (
        "etc/kubernetes/manifests/etcd.yaml",
        "initial-cluster-state",
        "kcompile states how every member first starts (kubeadm leaves it to etcd's default, `new`, on the first member, and on every member after `kubeadm upgrade`); a member that has data ignores it, so the running cluster is unchanged",
    ),
];

/// The changes of one host's comparison, each with its reason.
pub fn planned(report: &Report, known: &Known<'_>) -> Vec<Planned> {
    report
        .changes
        .iter()
        .filter(|change| change.action != Action::Unchanged)
        .map(|change| {
            let mut why = reason(
                &report.host,
                &change.path,
                change.action,
                &change.detail,
                known,
            );
            if let Some((old, new)) = &change.mode {
                let whose = if new == "0600" {
                    "kcompile keeps a file that holds secrets, or that only a root-run component reads, readable by root alone"
                } else {
                    "kcompile's mode for this file"
                };
                let _ = write!(why, "; mode {old} → {new}: {whose}");
            }
            Planned {
                host: report.host.clone(),
                path: change.path.clone(),
                action: change.action,
                reason: why,
            }
        })
        .collect()
}

/// The flags a pod summary (`flags +a ~b; volumes +c`) names as added, changed or removed.
fn summary_flags(summary: &str) -> Vec<&str> {
    summary
        .split("; ")
        .filter_map(|part| part.strip_prefix("flags "))
        .flat_map(str::split_whitespace)
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

fn reason(host: &str, path: &str, action: Action, detail: &Detail, known: &Known<'_>) -> String {
    let (not_kept, admin_from) = (known.not_kept, known.admin_from);
    if action == Action::Unknown && is_key_material(path) {
        return "kept on the host as it is: kcompile does not place this file there (each host gets only the keys its role needs), so a build leaves it alone; remove it once nothing on the host uses it".into();
    }
    if action == Action::Unknown {
        return "not kcompile's, in a directory kcompile manages: left as it is, and listed so it is looked at".into();
    }
    if Some(path) == known.encryption_config || path.ends_with("encryption-config.yaml") {
        if action == Action::Change && matches!(detail, Detail::None) {
            return "the cluster's EncryptionConfiguration, byte for byte at its own path".into();
        }
        return "the cluster's EncryptionConfiguration in kcompile's form: its current key first under its own name, then every other provider and key it had, in its order".into();
    }
    if is_key_material(path) {
        let id = certificate_id(host, path);
        let why = not_kept
            .iter()
            .find(|(known, _)| Some(known.as_str()) == id.as_deref())
            .map_or("kcompile issues it".to_owned(), |(_, why)| why.clone());
        return format!("a certificate kcompile issues, because the cluster's is not kept: {why}");
    }
    let (summary, why) = match detail {
        Detail::Text {
            summary: Some(summary),
            ..
        } => {
            let why: Vec<String> = summary_flags(summary)
                .into_iter()
                .map(|flag| {
                    let name = flag.trim_start_matches(['+', '~', '-']);
                    DELIBERATE_FLAGS
                        .iter()
                        .find(|(pod, known, _)| *pod == path && *known == name)
                        .map_or_else(
                            || format!("; {flag}: the cluster's own value differs, which adopt does not intend"),
                            |(_, _, why)| format!("; --{name}: {why}"),
                        )
                })
                .collect();
            (format!(" ({summary})"), why.concat())
        }
        _ => (String::new(), String::new()),
    };
    let summary = if path == "var/lib/kubelet/config.yaml" && !known.kubelet_fields.is_empty() {
        format!(
            " (fields kcompile sets itself, differently: {})",
            known.kubelet_fields.join(" ")
        )
    } else {
        summary
    };
    let what = if path.ends_with("kcompile/MANIFEST") {
        "kcompile's list of the files it manages on the host"
    } else if path.starts_with("etc/kubernetes/manifests/") {
        "the static pod in kcompile's form (the kcompile.io/config-hash annotation, kcompile's mounts and probes); the kubelet restarts it"
    } else if host != admin_from
        && (path == "etc/kubernetes/admin.conf" || path == "etc/kubernetes/super-admin.conf")
    {
        "the kubeconfig in kcompile's form, with the cluster's one admin credential (kept from the first control plane) in place of this host's own, which stays valid until it expires"
    } else if Some(path) == known.audit_policy {
        "the cluster's audit policy, as it was"
    } else if path == "etc/kubernetes/kubelet.conf" {
        "the kubeconfig in kcompile's form, with the kubelet's current client certificate and key embedded instead of named by path (the same pair)"
    } else if path.ends_with(".conf") && path.starts_with("etc/kubernetes/") {
        "the kubeconfig in kcompile's form (cluster and user names, the credentials embedded), with the same certificate and key"
    } else if path.starts_with("etc/systemd/system/kubelet.service") {
        "kcompile's kubelet unit and the drop-in that shadows kubeadm's; the kubelet restarts"
    } else if path == "var/lib/kubelet/config.yaml" {
        "kcompile's KubeletConfiguration, with every field of the cluster's that a spec can set (`kubelet.config`); the kubelet restarts"
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
    format!("{what}{summary}{why}")
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
