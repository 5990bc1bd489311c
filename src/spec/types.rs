//! The cluster spec as the user writes it: plain serde types, every field optional so that profiles
//! can layer under it, unknown fields rejected. Values that need checking beyond their YAML type
//! (addresses, subnets, versions, durations) stay strings here and are parsed by validation, which
//! can then say what is wrong with them at their line and column.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

pub use crate::cluster::{
    AnonymousAuth, CaTrust, ContainerRuntime, EncryptionProvider, EtcdBootstrap, EtcdServers,
    HostPathType, KeyAlgorithm, LoadBalancerKind, ProxyMode, Role, TaintEffect,
};

/// The API version every spec and profile declares.
pub const API_VERSION: &str = "kcompile.io/v1alpha1";

/// One cluster spec (`kind: Cluster`) or one profile (`kind: Profile`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// Always `kcompile.io/v1alpha1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `Cluster` for a spec, `Profile` for a profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The cluster name (kubeconfig cluster name, controller-manager `--cluster-name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The profiles this spec builds on, lowest first; the spec's own values win.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    /// Target Kubernetes version, `vMAJOR.MINOR.PATCH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Registry and path prefix of every control-plane image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// The address clients use to reach the apiservers (a VIP or a DNS name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<EndpointSpec>,
    /// Service and pod address ranges and the cluster DNS domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networking: Option<NetworkingSpec>,
    /// A load balancer kcompile runs in front of the apiservers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSpec>,
    /// Key algorithm, validity periods and extra SANs of the PKI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pki: Option<PkiSpec>,
    /// Encryption of resources at rest in etcd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionSpec>,
    /// The apiserver's audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSpec>,
    /// The aggregation layer (front-proxy) settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<AggregationSpec>,
    /// etcd: its version, stacked or external, and its pod settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdSpec>,
    /// kube-apiserver settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ApiServerSpec>,
    /// kube-controller-manager settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<ComponentSpec>,
    /// kube-scheduler settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerSpec>,
    /// kube-proxy settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_proxy: Option<KubeProxySpec>,
    /// kubelet settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<KubeletSpec>,
    /// What every host needs beyond Kubernetes: the container runtime's configuration, registry
    /// mirrors, the hosts' CA trust layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeSpec>,
    /// The control plane's own users: etcd, kube-apiserver, kube-controller-manager and
    /// kube-scheduler run as non-root users with every capability dropped, and the files they read
    /// are owned by them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootless: Option<RootlessSpec>,
    /// The machines of the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<HostSpec>>,
}

/// Where clients reach the apiservers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointSpec {
    /// An IP address or a DNS name, without a trailing dot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The TCP port; default 6443.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// Address ranges of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkingSpec {
    /// Service CIDR (comma-separated when dual-stack arrives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<String>,
    /// Pod CIDR (comma-separated when dual-stack arrives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<String>,
    /// The cluster DNS domain, without a trailing dot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    /// The cluster DNS service IP; default the 10th address of the service subnet.
    #[serde(rename = "clusterDNS", skip_serializing_if = "Option::is_none")]
    pub cluster_dns: Option<String>,
}

/// PKI settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PkiSpec {
    /// Algorithm of every key, `sa.key` included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Validity of the three CAs, e.g. `87600h` or `3650d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_validity: Option<String>,
    /// Validity of every leaf certificate, e.g. `8760h` or `365d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_validity: Option<String>,
    /// Extra DNS names and IPs of the apiserver serving certificate.
    #[serde(rename = "apiServerCertSANs", skip_serializing_if = "Option::is_none")]
    pub api_server_cert_sans: Option<Vec<String>>,
    /// Extra DNS names and IPs of the etcd server and peer certificates.
    #[serde(rename = "etcdCertSANs", skip_serializing_if = "Option::is_none")]
    pub etcd_cert_sans: Option<Vec<String>>,
}

/// Encryption at rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EncryptionSpec {
    /// Write an `EncryptionConfiguration` and pass it to the apiserver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The provider that encrypts new writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<EncryptionProvider>,
    /// The resources to encrypt (`secrets`, `configmaps`, `deployments.apps`, `*.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// Absolute path of the `EncryptionConfiguration` on the control planes; default
    /// `/etc/kubernetes/encryption-config.yaml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
}

/// The apiserver's audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditSpec {
    /// Write an audit policy and turn the audit log on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A policy file (relative to the spec) instead of the built-in policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_file: Option<String>,
    /// Absolute path of the policy on the control planes; default
    /// `/etc/kubernetes/audit-policy.yaml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_path: Option<String>,
    /// Where the apiserver writes the log, on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_path: Option<String>,
    /// Days to keep old log files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
    /// Number of old log files to keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backups: Option<u32>,
    /// Size in megabytes at which a log file is rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u32>,
}

/// The aggregation layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AggregationSpec {
    /// The CN of the front-proxy client certificate the apiserver presents to extension servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_common_name: Option<String>,
    /// `--requestheader-allowed-names`: client CNs allowed to assert a user through headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_names: Option<Vec<String>>,
}

/// How a Kubernetes component pod is run; shared by the control-plane components. The components
/// with fields of their own (apiServer, etcd, scheduler, kubeProxy) repeat these five fields
/// instead of flattening this struct: serde cannot reject unknown fields through `flatten`, and a
/// misspelt field must be an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentSpec {
    /// A full image reference replacing `<imageRepository>/<component>:<version>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Flags without leading dashes; each replaces the default of the same name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<BTreeMap<String, ArgValue>>,
    /// Extra hostPath volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<VolumeSpec>>,
    /// Extra environment variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_env: Option<Vec<EnvSpec>>,
    /// Resource requests and limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
}

/// kube-apiserver: a component plus its port and anonymous access.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServerSpec {
    /// The port each apiserver listens on (`--secure-port`); default 6443.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
    /// Anonymous access: `enabled`, `health-only`, `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_auth: Option<AnonymousAuth>,
    /// See [`ComponentSpec::image`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// See [`ComponentSpec::extra_args`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<BTreeMap<String, ArgValue>>,
    /// See [`ComponentSpec::extra_volumes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<VolumeSpec>>,
    /// See [`ComponentSpec::extra_env`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_env: Option<Vec<EnvSpec>>,
    /// See [`ComponentSpec::resources`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
}

/// kube-scheduler: a component plus its `KubeSchedulerConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SchedulerSpec {
    /// Fields of a `KubeSchedulerConfiguration` (`profiles`, `percentageOfNodesToScore`, ...); when
    /// set, kcompile writes the file and passes it with `--config`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// See [`ComponentSpec::image`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// See [`ComponentSpec::extra_args`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<BTreeMap<String, ArgValue>>,
    /// See [`ComponentSpec::extra_volumes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<VolumeSpec>>,
    /// See [`ComponentSpec::extra_env`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_env: Option<Vec<EnvSpec>>,
    /// See [`ComponentSpec::resources`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
}

/// etcd: version, topology and pod settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EtcdSpec {
    /// etcd image tag, e.g. `3.6.6-0`; default the one kubeadm pins for the Kubernetes minor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Data directory of stacked members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// How the stacked members first form the cluster: `static` (default) or `sequential`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<EtcdBootstrap>,
    /// Which stacked members each apiserver dials: `members` (default, every one) or `local`
    /// (its own host's, as kubeadm does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server_endpoints: Option<EtcdServers>,
    /// An etcd cluster kcompile does not run; when set, no host may have the `etcd` role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalEtcdSpec>,
    /// See [`ComponentSpec::image`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// See [`ComponentSpec::extra_args`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<BTreeMap<String, ArgValue>>,
    /// See [`ComponentSpec::extra_volumes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<VolumeSpec>>,
    /// See [`ComponentSpec::extra_env`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_env: Option<Vec<EnvSpec>>,
    /// See [`ComponentSpec::resources`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
}

/// An external etcd cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalEtcdSpec {
    /// Client URLs, `https://host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<String>>,
    /// Path on the control-plane hosts of the etcd CA certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Path on the control-plane hosts of the apiserver's etcd client certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Path on the control-plane hosts of the apiserver's etcd client key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
}

/// kube-proxy: mode and pod settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeProxySpec {
    /// Run kube-proxy (off when the network plugin replaces it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// kube-proxy runs, but not by kcompile (kubeadm's DaemonSet): with `enabled: false`, the
    /// apiserver still reaches services through it and gets no `--enable-aggregator-routing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    /// The proxy mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ProxyMode>,
    /// Fields merged over the generated `KubeProxyConfiguration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// See [`ComponentSpec::image`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// See [`ComponentSpec::extra_args`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<BTreeMap<String, ArgValue>>,
    /// See [`ComponentSpec::extra_volumes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<VolumeSpec>>,
    /// See [`ComponentSpec::extra_env`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_env: Option<Vec<EnvSpec>>,
    /// See [`ComponentSpec::resources`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
}

/// kubelet: binary, runtime, configuration overrides. It runs under systemd, not in a pod, so it
/// has no image, volumes or resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeletSpec {
    /// Path of the kubelet binary on the hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_path: Option<String>,
    /// CRI socket, `unix:///run/containerd/containerd.sock`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_runtime_endpoint: Option<String>,
    /// Fields merged over the generated `KubeletConfiguration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// Command-line flags, without leading dashes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<BTreeMap<String, ArgValue>>,
    /// `Environment=` lines of the systemd unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_env: Option<Vec<EnvSpec>>,
    /// Join workers by TLS bootstrap (a bootstrap token) instead of an issued client certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_bootstrap: Option<bool>,
}

/// Node setup beyond Kubernetes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSpec {
    /// `containerd-2` (default), `containerd-1` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_runtime: Option<ContainerRuntime>,
    /// Mirrors per registry host (`docker.io: [https://mirror.example.com]`), tried in order before
    /// the registry itself; written as containerd `hosts.toml` files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_mirrors: Option<BTreeMap<String, Vec<String>>>,
    /// `debian` (default) or `rhel`: which CA trust directories the control plane mounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_trust: Option<CaTrust>,
}

/// The control plane run as non-root users (`rootless`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RootlessSpec {
    /// Run etcd, kube-apiserver, kube-controller-manager and kube-scheduler as their own users
    /// (on in the `hardened` profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The group of files that two rootless components read (`sa.key`: the apiserver signs
    /// service-account tokens with it, the controller-manager too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_group: Option<u32>,
    /// etcd's user and group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<IdentitySpec>,
    /// kube-apiserver's user and group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<IdentitySpec>,
    /// kube-controller-manager's user and group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<IdentitySpec>,
    /// kube-scheduler's user and group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<IdentitySpec>,
}

/// A numeric user and group a component runs as.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentitySpec {
    /// The user id (not 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The group id (not 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// The load balancer in front of the apiservers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// `keepalived-haproxy`, `kube-vip` or `local-proxy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<LoadBalancerKind>,
    /// Network interface that holds the VIP (keepalived, kube-vip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// VRRP virtual router id, 1-255 (keepalived); default 51.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_router_id: Option<u8>,
    /// Port the local proxy listens on at 127.0.0.1 (local-proxy); default 6443.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_port: Option<u16>,
    /// haproxy image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub haproxy_image: Option<String>,
    /// keepalived image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalived_image: Option<String>,
    /// kube-vip image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_vip_image: Option<String>,
    /// Resource requests and limits of the haproxy container (`keepalived-haproxy`,
    /// `local-proxy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub haproxy_resources: Option<ResourcesSpec>,
    /// Resource requests and limits of the keepalived container (`keepalived-haproxy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalived_resources: Option<ResourcesSpec>,
    /// Resource requests and limits of the kube-vip container (`kube-vip`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_vip_resources: Option<ResourcesSpec>,
}

impl LoadBalancerSpec {
    /// Whether the section asks for a load balancer: it sets a field other than the pods'
    /// resources. A profile gives the load-balancer pods resources (`hardened` does) for the
    /// clusters that have one, without giving one to those that do not.
    pub fn names_a_load_balancer(&self) -> bool {
        self.kind.is_some()
            || self.interface.is_some()
            || self.virtual_router_id.is_some()
            || self.local_port.is_some()
            || self.haproxy_image.is_some()
            || self.keepalived_image.is_some()
            || self.kube_vip_image.is_some()
    }
}

/// A hostPath volume added to a pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeSpec {
    /// Volume name (DNS-1123 label); a default volume of the same name is replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Absolute path on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// Absolute path in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// Mount read-only (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// hostPath type, e.g. `DirectoryOrCreate`, `File`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_type: Option<HostPathType>,
}

/// An environment variable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvSpec {
    /// Variable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Variable value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Resource requests and limits, as Kubernetes quantities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourcesSpec {
    /// e.g. `{cpu: 250m, memory: 512Mi}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<BTreeMap<String, ArgValue>>,
    /// e.g. `{memory: 2Gi}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<BTreeMap<String, ArgValue>>,
}

/// One machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostSpec {
    /// Node name (DNS-1123 subdomain), also the etcd member name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The host's IP address: node IP, advertise address, etcd peer address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `control-plane`, `etcd`, `worker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    /// Node labels the kubelet registers with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Node taints the kubelet registers with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<TaintSpec>>,
    /// Component settings for this host only, merged over the cluster's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<HostOverridesSpec>,
    /// This host's container runtime and CA trust layout, over the cluster's `node`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<HostNodeSpec>,
}

/// A host's own node settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostNodeSpec {
    /// Replaces `node.containerRuntime` on this host (`none` where another tool manages it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_runtime: Option<ContainerRuntime>,
    /// Replaces `node.caTrust` on this host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_trust: Option<CaTrust>,
}

/// A node taint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaintSpec {
    /// Taint key (a qualified name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Taint value (may be empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
}

/// Per-host component settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostOverridesSpec {
    /// Merged over `etcd` (pod settings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<ComponentSpec>,
    /// Merged over `apiServer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ComponentSpec>,
    /// Merged over `controllerManager`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<ComponentSpec>,
    /// Merged over `scheduler`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<ComponentSpec>,
    /// Merged over `kubeProxy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_proxy: Option<ComponentSpec>,
    /// Merged over `kubelet`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<KubeletSpec>,
}

/// A flag value or quantity: YAML strings, numbers and booleans all become the string the
/// component reads, so `allow-privileged: true` and `v: 2` need no quotes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ArgValue(pub String);

impl<'de> Deserialize<'de> for ArgValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl serde::de::Visitor<'_> for Scalar {
            type Value = ArgValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ArgValue, E> {
                Ok(ArgValue(v.to_owned()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ArgValue, E> {
                Ok(ArgValue(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ArgValue, E> {
                Ok(ArgValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ArgValue, E> {
                Ok(ArgValue(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ArgValue, E> {
                Ok(ArgValue(v.to_string()))
            }
        }
        deserializer.deserialize_any(Scalar)
    }
}
