//! kube-scheduler.yaml: kubeadm's flags and probes (`/livez` and `/readyz` from v1.34), and a
//! KubeSchedulerConfiguration (`kubescheduler.config.k8s.io/v1`) when the spec configures the
//! scheduler: then `--config` replaces the flags the file covers.

use serde_json::{Value, json};

use super::pod::{Mount, Probes, StaticPod};
use super::{KUBERNETES, yaml};
use crate::cluster::{Cluster, Host};
use crate::component::Component;
use crate::spec::merge_json;

/// Where the KubeSchedulerConfiguration goes.
pub const SCHEDULER_CONFIG: &str = "/etc/kubernetes/scheduler-config.yaml";

/// The KubeSchedulerConfiguration, when the spec has `scheduler.config`.
pub fn config(cluster: &Cluster) -> Option<String> {
    let fields = cluster.scheduler_config.as_ref()?;
    let mut config = json!({
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": format!("{KUBERNETES}/scheduler.conf")},
        "leaderElection": {"leaderElect": true},
    });
    let overrides: serde_json::Map<String, Value> =
        fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    merge_json(&mut config, Value::Object(overrides));
    Some(yaml(&config))
}

/// The scheduler's static pod for `host`.
pub fn pod<'a>(cluster: &Cluster, host: &'a Host) -> StaticPod<'a> {
    let kubeconfig = format!("{KUBERNETES}/scheduler.conf");
    let mut args: Vec<(String, String)> = vec![
        ("authentication-kubeconfig".into(), kubeconfig.clone()),
        ("authorization-kubeconfig".into(), kubeconfig.clone()),
        ("bind-address".into(), "127.0.0.1".into()),
    ];
    let mut mounts = vec![Mount::same("kubeconfig", &kubeconfig, true, "FileOrCreate")];
    if cluster.scheduler_config.is_some() {
        // The file holds the kubeconfig and leader election; the scheduler ignores those flags
        // next to --config.
        args.push(("config".into(), SCHEDULER_CONFIG.into()));
        mounts.push(Mount::same(
            "scheduler-config",
            SCHEDULER_CONFIG,
            true,
            "File",
        ));
    } else {
        args.push(("kubeconfig".into(), kubeconfig.clone()));
        args.push(("leader-elect".into(), "true".into()));
    }
    let modern = cluster.kubernetes_version.minor >= 34;
    StaticPod {
        component: Component::Scheduler,
        version: cluster.kubernetes_version,
        args,
        mounts,
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
