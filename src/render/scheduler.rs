//! kube-scheduler.yaml: kubeadm's flags and probes (`/livez` and `/readyz` from v1.34).

use super::KUBERNETES;
use super::pod::{Mount, Probes, StaticPod};
use crate::cluster::{Cluster, Host};
use crate::component::Component;

/// The scheduler's static pod for `host`.
pub fn pod<'a>(cluster: &Cluster, host: &'a Host) -> StaticPod<'a> {
    let kubeconfig = format!("{KUBERNETES}/scheduler.conf");
    let args = [
        ("authentication-kubeconfig", kubeconfig.clone()),
        ("authorization-kubeconfig", kubeconfig.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("kubeconfig", kubeconfig.clone()),
        ("leader-elect", "true".into()),
    ];
    let modern = cluster.kubernetes_version.minor >= 34;
    StaticPod {
        component: Component::Scheduler,
        version: cluster.kubernetes_version,
        args: args
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        mounts: vec![Mount::same("kubeconfig", &kubeconfig, true, "FileOrCreate")],
        probes: Some(Probes {
            host: "127.0.0.1".into(),
            port: 10259,
            scheme: "HTTPS",
            liveness: if modern { "/livez" } else { "/healthz" }.into(),
            readiness: modern.then(|| "/readyz".to_owned()),
            startup: if modern { "/livez" } else { "/healthz" }.into(),
        }),
        annotations: Default::default(),
        privileged: false,
        settings: &host.scheduler,
    }
}
