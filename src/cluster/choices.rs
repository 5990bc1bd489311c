//! The closed choices a spec makes and the cluster model keeps (roles, key algorithms, runtimes,
//! ...): defined once here, below both, so `spec` reads them into a [`super::Cluster`] without
//! `cluster` importing `spec`. Their serde names are the spec's spellings.

use serde::{Deserialize, Serialize};

/// Key algorithm of every key kcompile generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSA with a 2048-bit modulus (kubeadm's default).
    #[serde(rename = "RSA-2048")]
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    #[serde(rename = "RSA-3072")]
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    #[serde(rename = "RSA-4096")]
    Rsa4096,
    /// ECDSA on the NIST P-256 curve.
    #[serde(rename = "ECDSA-P256")]
    EcdsaP256,
    /// ECDSA on the NIST P-384 curve.
    #[serde(rename = "ECDSA-P384")]
    EcdsaP384,
}

impl KeyAlgorithm {
    /// Its name as the spec writes it (`ECDSA-P256`).
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "RSA-2048",
            KeyAlgorithm::Rsa3072 => "RSA-3072",
            KeyAlgorithm::Rsa4096 => "RSA-4096",
            KeyAlgorithm::EcdsaP256 => "ECDSA-P256",
            KeyAlgorithm::EcdsaP384 => "ECDSA-P384",
        }
    }
}

/// Encryption providers for secrets at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncryptionProvider {
    /// XSalsa20 and Poly1305 (recommended local provider).
    Secretbox,
    /// AES-GCM with a random nonce; rotate keys every 200k writes.
    Aesgcm,
    /// AES-CBC with PKCS#7 padding (weak against padding oracles; not recommended).
    Aescbc,
}

/// Who may reach the apiserver without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnonymousAuth {
    /// The apiserver's default: anonymous requests reach authorization.
    Enabled,
    /// Only `/livez`, `/readyz` and `/healthz`, through an `AuthenticationConfiguration` (the kubelet
    /// probes them without credentials).
    HealthOnly,
    /// `--anonymous-auth=false`: health probes need credentials too.
    Disabled,
}

/// How the members of a stacked etcd first form the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EtcdBootstrap {
    /// Every member starts with `--initial-cluster-state=new` and the whole member list, all at
    /// once (they wait for each other until a quorum is up).
    #[default]
    Static,
    /// The first member starts alone as a one-member cluster; each other one joins it afterwards
    /// (`etcdctl member add`, then `--initial-cluster-state=existing`).
    Sequential,
}

/// Which etcd members a stacked control plane's kube-apiserver dials (`--etcd-servers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EtcdServers {
    /// Every member, `https://ADDRESS:2379` of each host with role `etcd`: an apiserver keeps
    /// working while its own host's member is down.
    #[default]
    Members,
    /// The member on the apiserver's own host only, `https://127.0.0.1:2379`, as kubeadm sets it
    /// (every control plane must then run a member).
    Local,
}

impl EtcdBootstrap {
    /// Its name in the spec and in the state.
    pub fn name(self) -> &'static str {
        match self {
            EtcdBootstrap::Static => "static",
            EtcdBootstrap::Sequential => "sequential",
        }
    }
}

/// kube-proxy modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    /// iptables rules (the default).
    Iptables,
    /// IPVS (deprecated since v1.35).
    Ipvs,
    /// nftables rules (GA since v1.33).
    Nftables,
}

/// The container runtime kcompile configures on every host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerRuntime {
    /// containerd 2.x: a drop-in (`config version 3`) under `/etc/containerd/conf.d/`, imported by
    /// a root `/etc/containerd/config.toml` that only names the imports.
    #[serde(rename = "containerd-2")]
    Containerd2,
    /// containerd 1.x (1.6, 1.7): a whole `/etc/containerd/config.toml` (`version = 2`), since 1.x
    /// imports replace whole plugin sections.
    #[serde(rename = "containerd-1")]
    Containerd1,
    /// Managed elsewhere: kcompile writes no runtime files.
    None,
}

/// Where a host's distribution keeps its CA trust store, which the apiserver and the
/// controller-manager mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaTrust {
    /// Debian, Ubuntu: `/etc/ssl/certs`, `/etc/ca-certificates`, `/usr/share/ca-certificates`,
    /// `/usr/local/share/ca-certificates`.
    Debian,
    /// RHEL, Fedora, Rocky, Alma: the Debian paths plus `/etc/pki/ca-trust` and
    /// `/etc/pki/tls/certs`, as kubeadm mounts where they exist.
    Rhel,
}

/// How the control-plane endpoint survives the loss of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerKind {
    /// keepalived holds the VIP, haproxy balances to every apiserver (static pods on each
    /// control-plane host).
    KeepalivedHaproxy,
    /// kube-vip holds the VIP in ARP mode (a static pod on each control-plane host).
    KubeVip,
    /// haproxy on every other host listens on 127.0.0.1 and balances to every apiserver.
    LocalProxy,
}

/// Kubernetes hostPath volume types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum HostPathType {
    DirectoryOrCreate,
    Directory,
    FileOrCreate,
    File,
    Socket,
    CharDevice,
    BlockDevice,
}

/// What a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// apiserver, controller-manager and scheduler.
    ControlPlane,
    /// A stacked etcd member.
    Etcd,
    /// Runs workloads.
    Worker,
}

/// Taint effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}
