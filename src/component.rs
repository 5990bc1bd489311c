//! The Kubernetes components kcompile configures, their binaries, and the flags the compiler owns
//! (a user who sets one in `extraArgs` is sent to the spec field that drives it).

use std::fmt;

/// A component that takes command-line flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// etcd (stacked members).
    Etcd,
    /// kube-apiserver.
    ApiServer,
    /// kube-controller-manager.
    ControllerManager,
    /// kube-scheduler.
    Scheduler,
    /// kube-proxy.
    KubeProxy,
    /// kubelet.
    Kubelet,
}

impl Component {
    /// Every component, in the order they start.
    pub const ALL: [Component; 6] = [
        Component::Etcd,
        Component::ApiServer,
        Component::ControllerManager,
        Component::Scheduler,
        Component::KubeProxy,
        Component::Kubelet,
    ];

    /// The binary (and image) name.
    pub fn binary(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::ApiServer => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::KubeProxy => "kube-proxy",
            Component::Kubelet => "kubelet",
        }
    }

    /// The spec key that configures it.
    pub fn spec_key(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::ApiServer => "apiServer",
            Component::ControllerManager => "controllerManager",
            Component::Scheduler => "scheduler",
            Component::KubeProxy => "kubeProxy",
            Component::Kubelet => "kubelet",
        }
    }

    /// If kcompile sets `flag` itself, what to use instead of `extraArgs`.
    pub fn owned_flag_hint(self, flag: &str) -> Option<&'static str> {
        const CERTS: &str = "kcompile issues every certificate and key and sets their paths itself; \
                             bring your own CA through the state dir";
        const KUBECONFIG: &str = "kcompile writes and mounts this kubeconfig itself";
        #[expect(clippy::match_same_arms, reason = "one arm per component and cause")]
        let hint = match (self, flag) {
            (
                Component::ApiServer,
                "client-ca-file"
                | "etcd-cafile"
                | "etcd-certfile"
                | "etcd-keyfile"
                | "kubelet-client-certificate"
                | "kubelet-client-key"
                | "kubelet-certificate-authority"
                | "proxy-client-cert-file"
                | "proxy-client-key-file"
                | "requestheader-client-ca-file"
                | "service-account-key-file"
                | "service-account-signing-key-file"
                | "tls-cert-file"
                | "tls-private-key-file",
            ) => CERTS,
            (Component::ApiServer, "advertise-address") => "set the host's `address`",
            (Component::ApiServer, "etcd-servers") => {
                "stacked etcd members are the hosts with role `etcd`; for an external cluster set \
                 `etcd.external.endpoints`"
            }
            (Component::ApiServer, "secure-port") => "set `apiServer.bindPort`",
            (Component::ApiServer | Component::ControllerManager, "service-cluster-ip-range") => {
                "set `networking.serviceSubnet`"
            }
            (Component::ApiServer, "requestheader-allowed-names") => {
                "set `aggregation.allowedNames`"
            }
            (Component::ApiServer, "encryption-provider-config") => "set `encryption`",
            (Component::ApiServer, "anonymous-auth" | "authentication-config") => {
                "set `apiServer.anonymousAuth` (`enabled`, `health-only`, `disabled`)"
            }
            (Component::ApiServer, "audit-policy-file") => "set `audit.policyFile`",
            (Component::ApiServer, "audit-log-path") => "set `audit.logPath`",
            (Component::ApiServer, "audit-log-maxage") => "set `audit.maxAge`",
            (Component::ApiServer, "audit-log-maxbackup") => "set `audit.maxBackups`",
            (Component::ApiServer, "audit-log-maxsize") => "set `audit.maxSize`",
            (
                Component::ControllerManager,
                "client-ca-file"
                | "cluster-signing-cert-file"
                | "cluster-signing-key-file"
                | "requestheader-client-ca-file"
                | "root-ca-file"
                | "service-account-private-key-file",
            ) => CERTS,
            (
                Component::ControllerManager | Component::Scheduler,
                "kubeconfig" | "authentication-kubeconfig" | "authorization-kubeconfig",
            ) => KUBECONFIG,
            (Component::ControllerManager | Component::KubeProxy, "cluster-cidr") => {
                "set `networking.podSubnet`"
            }
            (Component::ControllerManager, "cluster-name") => "set `name`",
            (Component::Scheduler, "config") => {
                "set `scheduler.config`: kcompile writes the KubeSchedulerConfiguration and passes it with --config"
            }
            (
                Component::Etcd,
                "cert-file"
                | "key-file"
                | "peer-cert-file"
                | "peer-key-file"
                | "trusted-ca-file"
                | "peer-trusted-ca-file",
            ) => CERTS,
            (
                Component::Etcd,
                "name"
                | "initial-cluster"
                | "initial-cluster-token"
                | "initial-cluster-state"
                | "advertise-client-urls"
                | "initial-advertise-peer-urls"
                | "listen-client-urls"
                | "listen-peer-urls",
            ) => {
                "kcompile derives etcd membership from the hosts with role `etcd` and their addresses"
            }
            (Component::Etcd, "data-dir") => "set `etcd.dataDir`",
            (Component::KubeProxy, "config") => {
                "kcompile writes the KubeProxyConfiguration; set `kubeProxy` fields"
            }
            (Component::KubeProxy, "kubeconfig") => KUBECONFIG,
            (Component::KubeProxy, "proxy-mode") => "set `kubeProxy.mode`",
            (Component::KubeProxy | Component::Kubelet, "hostname-override") => {
                "the node name is the host's `name`"
            }
            (Component::Kubelet, "config") => {
                "kcompile writes the KubeletConfiguration; put fields in `kubelet.config`"
            }
            (Component::Kubelet, "kubeconfig" | "bootstrap-kubeconfig") => KUBECONFIG,
            (Component::Kubelet, "node-ip") => "set the host's `address`",
            (Component::Kubelet, "container-runtime-endpoint") => {
                "set `kubelet.containerRuntimeEndpoint`"
            }
            (Component::Kubelet, "tls-cert-file" | "tls-private-key-file" | "client-ca-file") => {
                CERTS
            }
            (Component::Kubelet, "cluster-dns") => "set `networking.clusterDNS`",
            (Component::Kubelet, "cluster-domain") => "set `networking.dnsDomain`",
            (Component::Kubelet, "node-labels") => "set the host's `labels`",
            (Component::Kubelet, "register-with-taints") => "set the host's `taints`",
            _ => return None,
        };
        Some(hint)
    }

    /// Whether `flag` is one kcompile sets by default that a user may deliberately replace in
    /// `extraArgs` (the rest it sets are owned: [`Component::owned_flag_hint`]). Every flag kcompile
    /// renders is one or the other; a test renders every example to hold this.
    #[expect(
        clippy::match_same_arms,
        reason = "one arm per reason a flag is overridable, each with its comment"
    )]
    pub fn overridable_default(self, flag: &str) -> bool {
        match (self, flag) {
            // kubeadm's apiserver defaults, which kubeadm lets `extraArgs` replace too: the
            // authorizers and admission plugins (a site adds webhooks or plugins), privileged pods
            // (a site forbids them), bootstrap tokens (a site joins nodes another way), how the
            // apiserver reaches kubelets, the front proxy's header names (an aggregated API server
            // may expect others), and the service-account issuer (a public OIDC issuer URL).
            (
                Component::ApiServer,
                "authorization-mode"
                | "enable-admission-plugins"
                | "allow-privileged"
                | "enable-bootstrap-token-auth"
                | "kubelet-preferred-address-types"
                | "requestheader-extra-headers-prefix"
                | "requestheader-group-headers"
                | "requestheader-username-headers"
                | "service-account-issuer",
            ) => true,
            // Routing to endpoints is kcompile's default when kube-proxy is off; a site may want it
            // with kube-proxy on too.
            (Component::ApiServer, "enable-aggregator-routing") => true,
            // kubeadm's controller-manager defaults: node CIDR allocation (off when the network
            // plugin allocates), the controller list (a site disables some), per-controller
            // service accounts.
            (
                Component::ControllerManager,
                "allocate-node-cidrs" | "controllers" | "use-service-account-credentials",
            ) => true,
            // Where the controller-manager and scheduler serve and whether they elect a leader:
            // kubeadm's defaults, which a single-replica or metrics-scraping site may change.
            (
                Component::ControllerManager | Component::Scheduler,
                "bind-address" | "leader-elect",
            ) => true,
            // Profile defaults (`profiles/hardened.yaml`): a later layer or the user's own
            // `extraArgs` may choose otherwise, as docs/spec.md says profiles work.
            (
                Component::ApiServer,
                "profiling" | "service-account-lookup" | "tls-min-version" | "tls-cipher-suites",
            )
            | (
                Component::ControllerManager,
                "profiling" | "terminated-pod-gc-threshold" | "tls-min-version",
            )
            | (Component::Scheduler, "profiling" | "tls-min-version")
            | (Component::Etcd, "cipher-suites") => true,
            // kubeadm's etcd defaults: mutual TLS on both ports (kcompile issues the client and
            // peer certificates either way), the snapshot interval, the metrics listener (a site
            // scrapes it from elsewhere), and the corruption check and progress notifications
            // (flags on etcd 3.6 and later, `experimental-*` names before).
            (
                Component::Etcd,
                "client-cert-auth"
                | "peer-client-cert-auth"
                | "snapshot-count"
                | "listen-metrics-urls"
                | "feature-gates"
                | "watch-progress-notify-interval"
                | "experimental-initial-corrupt-check"
                | "experimental-watch-progress-notify-interval",
            ) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary())
    }
}
