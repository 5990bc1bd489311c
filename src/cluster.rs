//! The resolved, validated cluster: every default applied, every string parsed, every derived value
//! (the kubernetes service IP, the cluster DNS IP, etcd members, per-host component settings)
//! computed once. Everything after this point takes a `Cluster` and cannot fail on bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

mod authority;
mod choices;

use crate::component::Component;
use crate::versions::{EtcdVersion, KubeVersion};
pub use authority::Authority;
pub use choices::{
    AnonymousAuth, CaTrust, ContainerRuntime, EncryptionProvider, EtcdBootstrap, EtcdServers,
    HostPathType, KeyAlgorithm, LoadBalancerKind, ProxyMode, Role, TaintEffect,
};

/// A cluster ready to compile.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// The cluster name.
    pub name: String,
    /// Target Kubernetes release.
    pub kubernetes_version: KubeVersion,
    /// etcd release (image tag).
    pub etcd_version: EtcdVersion,
    /// Registry prefix of the default images.
    pub image_repository: String,
    /// Where clients reach the apiservers; `None` for a single control plane without one.
    pub control_plane_endpoint: Option<Endpoint>,
    /// The port every apiserver listens on.
    pub api_server_port: u16,
    /// The load balancer kcompile runs, if any.
    pub load_balancer: Option<LoadBalancer>,
    /// Anonymous access to the apiserver.
    pub anonymous_auth: AnonymousAuth,
    /// Address ranges and DNS.
    pub networking: Networking,
    /// PKI settings.
    pub pki: PkiSettings,
    /// Stacked or external etcd.
    pub etcd: EtcdTopology,
    /// Encryption at rest, when on.
    pub encryption: Option<Encryption>,
    /// The audit log, when on.
    pub audit: Option<Audit>,
    /// The aggregation layer.
    pub aggregation: Aggregation,
    /// `KubeSchedulerConfiguration` fields, when the spec configures the scheduler.
    pub scheduler_config: Option<BTreeMap<String, serde_json::Value>>,
    /// kube-proxy mode, when kcompile runs kube-proxy.
    pub kube_proxy: Option<ProxyMode>,
    /// kube-proxy runs outside kcompile (kubeadm's DaemonSet): kcompile renders none, and the
    /// apiserver reaches services through it.
    pub kube_proxy_external: bool,
    /// `KubeProxyConfiguration` fields the spec sets (`kubeProxy.config`), merged over kcompile's.
    pub kube_proxy_config: BTreeMap<String, serde_json::Value>,
    /// The container runtime, registry mirrors and CA trust layout of every host.
    pub node: Node,
    /// The control plane's own users, when it runs rootless (`rootless.enabled`).
    pub rootless: Option<Rootless>,
    /// Hosts, in spec order.
    pub hosts: Vec<Host>,
}

/// A numeric user and group a process runs as and owns files as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Identity {
    /// root, who owns every file no rootless component reads.
    pub const ROOT: Identity = Identity { uid: 0, gid: 0 };
}

/// The rootless control plane: the user each of etcd, kube-apiserver, kube-controller-manager and
/// kube-scheduler runs as, and the group of files two of them read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rootless {
    /// etcd's user and group.
    pub etcd: Identity,
    /// kube-apiserver's user and group.
    pub api_server: Identity,
    /// kube-controller-manager's user and group.
    pub controller_manager: Identity,
    /// kube-scheduler's user and group.
    pub scheduler: Identity,
    /// The group of a file two rootless components read; each of them has it as a supplemental
    /// group.
    pub shared_group: u32,
}

impl Rootless {
    /// The user `component` runs as; `None` for those that stay root (kube-proxy programs the
    /// node's network, the kubelet runs under systemd).
    pub fn identity(&self, component: Component) -> Option<Identity> {
        match component {
            Component::Etcd => Some(self.etcd),
            Component::ApiServer => Some(self.api_server),
            Component::ControllerManager => Some(self.controller_manager),
            Component::Scheduler => Some(self.scheduler),
            Component::KubeProxy | Component::Kubelet => None,
        }
    }
}

/// What every host needs beyond Kubernetes (`node` in the spec, and each host's `node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The runtime kcompile configures, or none.
    pub container_runtime: ContainerRuntime,
    /// Mirror URLs per registry host, in the order containerd tries them.
    pub registry_mirrors: BTreeMap<String, Vec<String>>,
    /// Which CA trust directories the apiserver and the controller-manager mount.
    pub ca_trust: CaTrust,
    /// Hosts whose own `node` replaces the runtime or the CA trust, by host name.
    pub hosts: BTreeMap<String, HostNode>,
}

/// One host's node settings, where they differ from the cluster's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostNode {
    /// The host's runtime.
    pub container_runtime: ContainerRuntime,
    /// The host's CA trust layout.
    pub ca_trust: CaTrust,
}

impl Node {
    /// The runtime and CA trust of the host named `host`.
    pub fn of(&self, host: &str) -> HostNode {
        self.hosts.get(host).copied().unwrap_or(HostNode {
            container_runtime: self.container_runtime,
            ca_trust: self.ca_trust,
        })
    }
}

/// A host name or IP and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// An IP address or a DNS name.
    pub host: EndpointHost,
    /// TCP port.
    pub port: u16,
}

/// The host part of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointHost {
    /// An IP address (goes into IP SANs).
    Ip(IpAddr),
    /// A DNS name (goes into DNS SANs).
    Dns(String),
}

/// A load balancer in front of the apiservers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    /// Which kind.
    pub kind: LoadBalancerKind,
    /// Interface holding the VIP (keepalived, kube-vip).
    pub interface: String,
    /// VRRP virtual router id (keepalived).
    pub virtual_router_id: u8,
    /// Local proxy port on 127.0.0.1 (local-proxy).
    pub local_port: u16,
    /// haproxy image.
    pub haproxy_image: String,
    /// keepalived image.
    pub keepalived_image: String,
    /// kube-vip image.
    pub kube_vip_image: String,
    /// Requests and limits of the haproxy container.
    pub haproxy_resources: Resources,
    /// Requests and limits of the keepalived container.
    pub keepalived_resources: Resources,
    /// Requests and limits of the kube-vip container.
    pub kube_vip_resources: Resources,
}

/// Resource requests and limits of one container, as Kubernetes quantities by resource name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resources {
    /// Resource requests.
    pub requests: BTreeMap<String, String>,
    /// Resource limits.
    pub limits: BTreeMap<String, String>,
}

/// Address ranges and DNS of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networking {
    /// Service CIDRs (one per IP family; IPv4 only for now).
    pub service_subnets: Vec<IpNet>,
    /// Pod CIDRs (one per IP family; IPv4 only for now).
    pub pod_subnets: Vec<IpNet>,
    /// The cluster DNS domain.
    pub dns_domain: String,
    /// The cluster DNS service IP.
    pub cluster_dns: IpAddr,
    /// The `kubernetes` service IP: the first address of the service subnet.
    pub kubernetes_service_ip: IpAddr,
}

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum San {
    /// A DNS name (possibly `*.` wildcard).
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

/// PKI settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiSettings {
    /// Algorithm of every key.
    pub key_algorithm: KeyAlgorithm,
    /// CA validity.
    pub ca_validity: Duration,
    /// Leaf validity.
    pub certificate_validity: Duration,
    /// Extra apiserver SANs.
    pub api_server_sans: Vec<San>,
    /// Extra etcd server and peer SANs.
    pub etcd_sans: Vec<San>,
}

/// Where etcd runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdTopology {
    /// Members on the hosts with role `etcd`.
    Stacked {
        /// Data directory on each member.
        data_dir: String,
        /// How the members first form the cluster.
        bootstrap: EtcdBootstrap,
        /// Which members each apiserver dials.
        servers: EtcdServers,
    },
    /// A cluster kcompile does not manage.
    External {
        /// Client URLs.
        endpoints: Vec<String>,
        /// CA certificate path on the control-plane hosts.
        ca_file: String,
        /// Client certificate path on the control-plane hosts.
        cert_file: String,
        /// Client key path on the control-plane hosts.
        key_file: String,
    },
}

/// Encryption at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// The provider that writes.
    pub provider: EncryptionProvider,
    /// Resources to encrypt.
    pub resources: Vec<String>,
    /// Where the `EncryptionConfiguration` is written on the control planes.
    pub config_path: String,
}

/// The audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// The text of the spec's policy file; `None` for the built-in policy.
    pub policy: Option<String>,
    /// Log path on the host.
    pub log_path: String,
    /// Days to keep.
    pub max_age: u32,
    /// Files to keep.
    pub max_backups: u32,
    /// Megabytes per file.
    pub max_size: u32,
    /// Where the policy is written on the control planes.
    pub policy_path: String,
}

/// The aggregation layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    /// CN of the front-proxy client certificate.
    pub client_common_name: String,
    /// `--requestheader-allowed-names`.
    pub allowed_names: Vec<String>,
}

/// One machine, with its component settings resolved (cluster settings + its overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Node name.
    pub name: String,
    /// IP address.
    pub address: IpAddr,
    /// Roles.
    pub roles: BTreeSet<Role>,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<Taint>,
    /// etcd pod settings (stacked members).
    pub etcd: PodSettings,
    /// kube-apiserver pod settings.
    pub api_server: PodSettings,
    /// kube-controller-manager pod settings.
    pub controller_manager: PodSettings,
    /// kube-scheduler pod settings.
    pub scheduler: PodSettings,
    /// kube-proxy pod settings.
    pub kube_proxy: PodSettings,
    /// kubelet settings.
    pub kubelet: KubeletSettings,
}

impl Host {
    /// Whether the host has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// How one component's pod runs on one host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSettings {
    /// Full image reference.
    pub image: String,
    /// Flags (without dashes) that replace defaults of the same name.
    pub extra_args: BTreeMap<String, String>,
    /// Extra hostPath volumes.
    pub extra_volumes: Vec<Volume>,
    /// Extra environment.
    pub extra_env: Vec<(String, String)>,
    /// Resource requests and limits.
    pub resources: Resources,
}

/// A hostPath volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Host path.
    pub host_path: String,
    /// Container path.
    pub mount_path: String,
    /// Read-only mount.
    pub read_only: bool,
    /// hostPath type.
    pub path_type: Option<HostPathType>,
}

/// How the kubelet runs on one host.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KubeletSettings {
    /// Binary path.
    pub binary_path: String,
    /// CRI socket.
    pub container_runtime_endpoint: String,
    /// Fields merged over the generated `KubeletConfiguration`.
    pub config: BTreeMap<String, serde_json::Value>,
    /// Flags.
    pub extra_args: BTreeMap<String, String>,
    /// Unit environment.
    pub extra_env: Vec<(String, String)>,
    /// Join by TLS bootstrap (workers only): a bootstrap token instead of an issued client
    /// certificate.
    pub tls_bootstrap: bool,
}

impl Cluster {
    /// The hosts with `role`, in spec order.
    pub fn hosts_with(&self, role: Role) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(move |host| host.has(role))
    }

    /// The first control plane in spec order: the one that gets the break-glass
    /// `super-admin.conf` and the addons (`/etc/kubernetes/addons/`), as with kubeadm the host of
    /// `kubeadm init`, and whose address is the API server's without a load balancer.
    pub fn first_control_plane(&self) -> Option<&Host> {
        self.hosts_with(Role::ControlPlane).next()
    }

    /// Whether `host` is [the first control plane](Cluster::first_control_plane).
    pub fn is_first_control_plane(&self, host: &Host) -> bool {
        self.first_control_plane()
            .is_some_and(|first| first.name == host.name)
    }
}
