//! kube-controller-manager.yaml: kubeadm's flags; node CIDRs from the pod subnet; the cluster CA
//! key for signing kubelet certificates (left out in external-CA mode).

use super::pod::{Mount, Probes, StaticPod};
use super::{KUBERNETES, PKI, ServiceAccountFiles, ca_trust_mounts};
use crate::cluster::{Cluster, Host};
use crate::component::Component;

/// Where the flexvolume plugins live (kubeadm mounts it read-write).
const FLEXVOLUME_DIR: &str = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec";

/// The controller-manager's static pod for `host`. `signing` names the cluster CA certificate and
/// key it signs kubelet certificates with (`None` in external-CA mode, where the key is absent).
pub fn pod<'a>(
    cluster: &Cluster,
    host: &'a Host,
    signing: Option<(String, String)>,
    service_account: &ServiceAccountFiles,
) -> StaticPod<'a> {
    let kubeconfig = format!("{KUBERNETES}/controller-manager.conf");
    let join = |nets: &[ipnet::IpNet]| {
        nets.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut args: Vec<(&str, String)> = vec![
        ("allocate-node-cidrs", "true".into()),
        ("authentication-kubeconfig", kubeconfig.clone()),
        ("authorization-kubeconfig", kubeconfig.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("client-ca-file", format!("{PKI}/ca.crt")),
        ("cluster-cidr", join(&cluster.networking.pod_subnets)),
        ("cluster-name", cluster.name.clone()),
        ("controllers", "*,bootstrapsigner,tokencleaner".into()),
        ("kubeconfig", kubeconfig.clone()),
        ("leader-elect", "true".into()),
        (
            "requestheader-client-ca-file",
            format!("{PKI}/front-proxy-ca.crt"),
        ),
        ("root-ca-file", format!("{PKI}/ca.crt")),
        (
            "service-account-private-key-file",
            service_account.signing.clone(),
        ),
        (
            "service-cluster-ip-range",
            join(&cluster.networking.service_subnets),
        ),
        ("use-service-account-credentials", "true".into()),
    ];
    if let Some((cert, key)) = signing {
        args.push(("cluster-signing-cert-file", cert));
        args.push(("cluster-signing-key-file", key));
    }
    let mut mounts = ca_trust_mounts(cluster, host);
    mounts.push(Mount::same("k8s-certs", PKI, true, "DirectoryOrCreate"));
    mounts.push(Mount::same("kubeconfig", &kubeconfig, true, "FileOrCreate"));
    mounts.push(Mount::same(
        "flexvolume-dir",
        FLEXVOLUME_DIR,
        false,
        "DirectoryOrCreate",
    ));
    StaticPod {
        component: Component::ControllerManager,
        version: cluster.kubernetes_version,
        args: args
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        mounts,
        probes: Some(Probes {
            host: "127.0.0.1".into(),
            port: 10257,
            scheme: "HTTPS",
            liveness: "/healthz".into(),
            readiness: None,
            startup: "/healthz".into(),
        }),
        annotations: std::collections::BTreeMap::default(),
        security: super::security_context::Security::Kubeadm,
        settings: &host.controller_manager,
    }
}
