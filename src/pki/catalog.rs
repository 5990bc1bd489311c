//! The certificate catalog, as data: for a cluster, every CA and every leaf certificate with its
//! issuer, subject, SANs, usage, validity, and the host it belongs to. Subjects and SANs follow
//! kubeadm for the target version; the kubelet serving certificates are kcompile's addition.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cluster::{Authority, Cluster, EndpointHost, EtcdTopology, Host, San};
use crate::cluster::{LoadBalancerKind, Role};
use crate::versions::KubeletClientAccess;

use super::HostScope;

/// Extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Usage {
    /// TLS server.
    Server,
    /// TLS client.
    Client,
    /// Both (etcd members are servers to clients and clients to peers).
    ServerAndClient,
}

/// One leaf certificate to issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertSpec {
    /// Where it lives in the state and how `certs` names it: `admin`, `master01/apiserver`.
    pub id: String,
    /// File name without extension: `apiserver`, `etcd/server`, `kubelet-client`.
    pub file: String,
    /// The host it belongs to; `None` for cluster-wide certificates (admin, super-admin).
    pub host: Option<String>,
    /// Its CA.
    pub issuer: Authority,
    /// Subject CN.
    pub common_name: String,
    /// Subject O (RBAC groups).
    pub organizations: Vec<String>,
    /// SANs, as `DNS:name` and `IP:address`.
    pub sans: Vec<String>,
    /// Extended key usage.
    pub usage: Usage,
    /// Validity, in seconds.
    pub validity_seconds: u64,
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => write!(f, "DNS:{name}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// Every leaf certificate of the cluster, hosts in spec order.
pub fn catalog(cluster: &Cluster) -> Vec<CertSpec> {
    catalog_of(cluster, &HostScope::All)
}

/// The cluster-wide leaves and those of the hosts in `scope`, hosts in spec order: what a plan
/// for those hosts uses (`diff --host` of one host of a thousand makes one host's leaves).
pub fn catalog_of(cluster: &Cluster, scope: &HostScope) -> Vec<CertSpec> {
    let validity = cluster.pki.certificate_validity;
    let mut certs = vec![
        leaf(
            "admin",
            None,
            Authority::Cluster,
            "kubernetes-admin",
            &["kubeadm:cluster-admins"],
            Usage::Client,
            &Vec::new(),
            validity,
        ),
        leaf(
            "super-admin",
            None,
            Authority::Cluster,
            "kubernetes-super-admin",
            &["system:masters"],
            Usage::Client,
            &Vec::new(),
            validity,
        ),
    ];
    let stacked = matches!(cluster.etcd, EtcdTopology::Stacked { .. });
    for host in cluster
        .hosts
        .iter()
        .filter(|host| scope.includes(Some(&host.name)))
    {
        let on = Some(host);
        if host.has(Role::ControlPlane) {
            // kubeadm #138957 (v1.37.0, v1.36.1, v1.35.5, v1.34.8, v1.33.12) drops the group and
            // binds the CN to system:kubelet-api-admin instead (render::addons::rbac).
            let kubelet_client_groups: &[&str] =
                match cluster.kubernetes_version.kubelet_client_access() {
                    KubeletClientAccess::ClusterAdminsGroup => &["kubeadm:cluster-admins"],
                    KubeletClientAccess::KubeletApiAdminRole => &[],
                };
            certs.push(leaf(
                "apiserver",
                on,
                Authority::Cluster,
                "kube-apiserver",
                &[],
                Usage::Server,
                &apiserver_sans(cluster, host),
                validity,
            ));
            certs.push(leaf(
                "apiserver-kubelet-client",
                on,
                Authority::Cluster,
                "kube-apiserver-kubelet-client",
                kubelet_client_groups,
                Usage::Client,
                &Vec::new(),
                validity,
            ));
            if stacked {
                certs.push(leaf(
                    "apiserver-etcd-client",
                    on,
                    Authority::Etcd,
                    "kube-apiserver-etcd-client",
                    &[],
                    Usage::Client,
                    &Vec::new(),
                    validity,
                ));
            }
            certs.push(leaf(
                "front-proxy-client",
                on,
                Authority::FrontProxy,
                &cluster.aggregation.client_common_name,
                &[],
                Usage::Client,
                &Vec::new(),
                validity,
            ));
            certs.push(leaf(
                "controller-manager",
                on,
                Authority::Cluster,
                "system:kube-controller-manager",
                &[],
                Usage::Client,
                &Vec::new(),
                validity,
            ));
            certs.push(leaf(
                "scheduler",
                on,
                Authority::Cluster,
                "system:kube-scheduler",
                &[],
                Usage::Client,
                &Vec::new(),
                validity,
            ));
        }
        if host.has(Role::Etcd) && stacked {
            let sans = etcd_sans(cluster, host);
            certs.push(leaf(
                "etcd/server",
                on,
                Authority::Etcd,
                &host.name,
                &[],
                Usage::ServerAndClient,
                &sans.clone(),
                validity,
            ));
            certs.push(leaf(
                "etcd/peer",
                on,
                Authority::Etcd,
                &host.name,
                &[],
                Usage::ServerAndClient,
                &sans,
                validity,
            ));
            certs.push(leaf(
                "etcd/healthcheck-client",
                on,
                Authority::Etcd,
                "kube-etcd-healthcheck-client",
                &[],
                Usage::Client,
                &Vec::new(),
                validity,
            ));
        }
        let node = format!("system:node:{}", host.name);
        // A worker that joins by TLS bootstrap asks the cluster for its client certificate.
        if !joins_by_bootstrap(host) {
            certs.push(leaf(
                "kubelet-client",
                on,
                Authority::Cluster,
                &node,
                &["system:nodes"],
                Usage::Client,
                &Vec::new(),
                validity,
            ));
        }
        let serving = dedup(vec![San::Dns(host.name.clone()), San::Ip(host.address)]);
        certs.push(leaf(
            "kubelet-serving",
            on,
            Authority::Cluster,
            &node,
            &["system:nodes"],
            Usage::Server,
            &serving,
            validity,
        ));
        if cluster.kube_proxy.is_some() {
            certs.push(leaf(
                "kube-proxy",
                on,
                Authority::Cluster,
                "system:kube-proxy",
                &[],
                Usage::Client,
                &Vec::new(),
                validity,
            ));
        }
    }
    certs
}

/// Whether `host` joins by TLS bootstrap: a worker (not a control plane) whose kubelet asks for it.
pub fn joins_by_bootstrap(host: &Host) -> bool {
    host.kubelet.tls_bootstrap && !host.has(Role::ControlPlane)
}

#[allow(clippy::too_many_arguments)]
fn leaf(
    file: &str,
    host: Option<&Host>,
    issuer: Authority,
    common_name: &str,
    organizations: &[&str],
    usage: Usage,
    sans: &[San],
    validity: Duration,
) -> CertSpec {
    CertSpec {
        id: match host {
            Some(host) => format!("{}/{file}", host.name),
            None => file.to_owned(),
        },
        file: file.to_owned(),
        host: host.map(|host| host.name.clone()),
        issuer,
        common_name: common_name.to_owned(),
        organizations: organizations.iter().map(|o| (*o).to_owned()).collect(),
        sans: sans.iter().map(San::to_string).collect(),
        usage,
        validity_seconds: validity.as_secs(),
    }
}

/// kubeadm's apiserver SANs (`GetAPIServerAltNames`), 127.0.0.1 behind a local proxy, plus the
/// spec's extra SANs.
fn apiserver_sans(cluster: &Cluster, host: &Host) -> Vec<San> {
    let domain = &cluster.networking.dns_domain;
    let mut sans = vec![
        San::Dns(host.name.clone()),
        San::Dns("kubernetes".into()),
        San::Dns("kubernetes.default".into()),
        San::Dns("kubernetes.default.svc".into()),
        San::Dns(format!("kubernetes.default.svc.{domain}")),
        San::Ip(cluster.networking.kubernetes_service_ip),
        San::Ip(host.address),
    ];
    if let Some(endpoint) = &cluster.control_plane_endpoint {
        sans.push(match &endpoint.host {
            EndpointHost::Ip(ip) => San::Ip(*ip),
            EndpointHost::Dns(name) => San::Dns(name.clone()),
        });
    }
    // Kubelets and kube-proxies behind a local proxy dial https://127.0.0.1:<localPort>.
    if cluster
        .load_balancer
        .as_ref()
        .is_some_and(|lb| lb.kind == LoadBalancerKind::LocalProxy)
    {
        sans.push(San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    sans.extend(cluster.pki.api_server_sans.iter().cloned());
    dedup(sans)
}

/// kubeadm's etcd server and peer SANs plus the spec's extra etcd SANs.
fn etcd_sans(cluster: &Cluster, host: &Host) -> Vec<San> {
    let mut sans = vec![
        San::Dns(host.name.clone()),
        San::Dns("localhost".into()),
        San::Ip(host.address),
        San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    sans.extend(cluster.pki.etcd_sans.iter().cloned());
    dedup(sans)
}

/// As kubeadm's `RemoveDuplicateAltNames`: DNS names deduplicated and sorted, IPs deduplicated in
/// their order.
fn dedup(sans: Vec<San>) -> Vec<San> {
    let mut dns: Vec<San> = sans
        .iter()
        .filter(|s| matches!(s, San::Dns(_)))
        .cloned()
        .collect();
    dns.sort();
    dns.dedup();
    let mut ips: Vec<San> = Vec::new();
    for san in sans.into_iter().filter(|s| matches!(s, San::Ip(_))) {
        if !ips.contains(&san) {
            ips.push(san);
        }
    }
    dns.extend(ips);
    dns
}
