//! `kubeProxy`: the mode and the `KubeProxyConfiguration`, with the fields kcompile derives refused.

use std::collections::BTreeMap;

use super::Checker;
use crate::spec::ProxyMode;
use crate::spec::component_config::ConfigKind;
use crate::spec::source::child;
use crate::spec::types::Spec;
use crate::versions::KubeVersion;

impl Checker<'_> {
    pub(super) fn kube_proxy(
        &mut self,
        spec: &Spec,
        kube: Option<KubeVersion>,
    ) -> Option<Option<ProxyMode>> {
        let proxy = spec.kube_proxy.clone().unwrap_or_default();
        if !proxy.enabled.unwrap_or(true) {
            return Some(None);
        }
        if proxy.external.unwrap_or(false) {
            self.error(
                "kubeProxy.external",
                "kube-proxy cannot be run both by kcompile (`enabled: true`) and outside it",
                "for a kube-proxy kcompile does not run (kubeadm's DaemonSet), set `kubeProxy.enabled: false`",
            );
            return None;
        }
        let mode = *self.required(proxy.mode.as_ref(), "kubeProxy.mode")?;
        if mode == ProxyMode::Ipvs
            && let Some(kube) = kube
            && kube.minor >= 35
        {
            self.warn(
                "kubeProxy.mode",
                format!("ipvs mode is deprecated since v1.35 (target {kube})"),
                "use `nftables` (GA since v1.33) or `iptables`",
            );
        }
        Some(Some(mode))
    }

    /// `kubeProxy.config`, with the fields kcompile derives refused.
    pub(super) fn kube_proxy_config(
        &mut self,
        spec: &Spec,
        kube: KubeVersion,
    ) -> BTreeMap<String, serde_json::Value> {
        let config = spec.kube_proxy.as_ref().and_then(|p| p.config.clone());
        let config = config.unwrap_or_default();
        let owned = |field: &str| owned_kube_proxy_config_field(field).is_some();
        for field in config.keys() {
            if let Some(hint) = owned_kube_proxy_config_field(field) {
                let at = child("kubeProxy.config", field);
                let message = format!("kcompile sets KubeProxyConfiguration `{field}` itself");
                self.error_at_key(&at, message, hint);
            }
        }
        self.component_config(
            ConfigKind::KubeProxy,
            kube,
            &config,
            "kubeProxy.config",
            owned,
        );
        config
    }
}

/// `KubeProxyConfiguration` fields kcompile derives, with where they come from.
pub(super) fn owned_kube_proxy_config_field(field: &str) -> Option<&'static str> {
    match field {
        "apiVersion" | "kind" => {
            Some("kcompile writes `kubeproxy.config.k8s.io/v1alpha1` KubeProxyConfiguration")
        }
        "mode" => Some("set `kubeProxy.mode`"),
        "clusterCIDR" => Some("set `networking.podSubnet`"),
        "hostnameOverride" => Some("kcompile sets each host's node name"),
        "clientConnection" => Some(
            "kube-proxy's kubeconfig is /etc/kubernetes/kube-proxy.conf, which kcompile writes",
        ),
        "healthzBindAddress" => {
            Some("the pod's probes ask 127.0.0.1:10256, where kcompile binds the health server")
        }
        _ => None,
    }
}
