//! kube-proxy as a static pod on every host that runs pods: its `KubeProxyConfiguration` (mode,
//! cluster CIDR, the kubelet's node name, bind, healthz and metrics addresses, then the spec's
//! `kubeProxy.config` merged over) and the pod.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::merge_json;
use super::pod::{Mount, Probes, StaticPod};
use super::{KUBE_PROXY_CONFIG, KUBERNETES, yaml};
use crate::cluster::ProxyMode;
use crate::cluster::{Cluster, Host};
use crate::component::Component;

/// kube-proxy's `KubeProxyConfiguration` for `host`, with the spec's `kubeProxy.config` merged over.
pub fn config(cluster: &Cluster, host: &Host, mode: ProxyMode) -> String {
    let cidrs: Vec<String> = cluster
        .networking
        .pod_subnets
        .iter()
        .map(ToString::to_string)
        .collect();
    let mode = match mode {
        ProxyMode::Iptables => "iptables",
        ProxyMode::Ipvs => "ipvs",
        ProxyMode::Nftables => "nftables",
    };
    let mut config = json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0",
        "clientConnection": {"kubeconfig": format!("{KUBERNETES}/kube-proxy.conf")},
        "clusterCIDR": cidrs.join(","),
        "healthzBindAddress": "0.0.0.0:10256",
        "hostnameOverride": host.name,
        "metricsBindAddress": "127.0.0.1:10249",
        "mode": mode,
    });
    let overrides: serde_json::Map<String, Value> = cluster
        .kube_proxy_config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merge_json(&mut config, Value::Object(overrides));
    yaml(&config)
}

/// The kube-proxy static pod for `host`.
pub fn pod<'a>(cluster: &Cluster, host: &'a Host) -> StaticPod<'a> {
    let config = KUBE_PROXY_CONFIG.to_owned();
    let config_dir = config
        .rsplit_once('/')
        .map_or("/", |(dir, _)| dir)
        .to_owned();
    let kubeconfig = format!("{KUBERNETES}/kube-proxy.conf");
    StaticPod {
        component: Component::KubeProxy,
        version: cluster.kubernetes_version,
        args: vec![
            ("config".to_owned(), config),
            ("hostname-override".to_owned(), host.name.clone()),
        ],
        mounts: vec![
            Mount::same("kube-proxy", &config_dir, true, "DirectoryOrCreate"),
            Mount::same("kubeconfig", &kubeconfig, true, "FileOrCreate"),
            Mount::same("lib-modules", "/lib/modules", true, "DirectoryOrCreate"),
            Mount::same("xtables-lock", "/run/xtables.lock", false, "FileOrCreate"),
        ],
        // kube-proxy's health server serves `/livez` (the proxier's rules are in sync) and
        // `/healthz` (that, and the node is not being deleted), since v1.28 (kubernetes/kubernetes
        // #116470; `ProxyHealthServer.Run` in pkg/proxy/healthcheck/proxy_health.go at
        // 0645f0e50ec848af731c8f5a33b86f9e1aa39879). Both probes ask `/livez`: a kube-proxy on a
        // node being drained is healthy and must be neither restarted nor reported unready.
        probes: Some(Probes {
            host: "127.0.0.1".into(),
            port: 10256,
            scheme: "HTTP",
            liveness: "/livez".into(),
            readiness: Some("/livez".into()),
            startup: "/livez".into(),
        }),
        annotations: BTreeMap::new(),
        security: super::security_context::Security::Privileged,
        settings: &host.kube_proxy,
    }
}
