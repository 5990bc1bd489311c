//! kube-controller-manager.yaml: kubeadm's flags; node CIDRs from the pod subnet; the cluster CA
//! key for signing kubelet certificates (left out in external-CA mode).

use super::pod::{Mount, Probes, StaticPod};
use super::{KUBERNETES, PKI, ServiceAccountFiles, ca_trust_mounts};
use crate::cluster::{Cluster, Host};
use crate::component::Component;

/// Where the flexvolume plugins live (kubeadm mounts it read-write).
const FLEXVOLUME_DIR: &str = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec";

/// The controller-manager's static pod for `host`. `signs` says whether the cluster CA key is
/// present (it is not in external-CA mode).
pub fn pod<'a>(
    cluster: &Cluster,
    host: &'a Host,
    signs: bool,
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
    if signs {
        args.push(("cluster-signing-cert-file", format!("{PKI}/ca.crt")));
        args.push(("cluster-signing-key-file", format!("{PKI}/ca.key")));
    }
    let mut mounts = ca_trust_mounts();
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
        annotations: Default::default(),
        privileged: false,
        settings: &host.controller_manager,
    }
}
