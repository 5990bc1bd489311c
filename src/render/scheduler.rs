//! kube-scheduler.yaml: kubeadm's flags and probes (`/livez` and `/readyz` from v1.34), and a
//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`) when the spec configures the
//! scheduler: then `--config` replaces the flags the file covers, and the deprecated flags the
//! scheduler ignores next to `--config` (`--profiling=false` of the hardened profile among them)
//! are written into the file.

use serde_json::{Map, Number, Value, json};

use super::merge_json;
use super::pod::{Mount, Probes, StaticPod};
use super::{KUBERNETES, yaml};
use crate::cluster::{Cluster, Host};
use crate::component::Component;

/// Where the `KubeSchedulerConfiguration` goes.
pub const SCHEDULER_CONFIG: &str = "/etc/kubernetes/scheduler-config.yaml";

/// The type of a configuration field a deprecated flag sets.
#[derive(Debug, Clone, Copy)]
enum FieldType {
    /// Go `strconv.ParseBool`: `1 t T TRUE true True`, `0 f F FALSE false False`.
    Bool,
    /// A string, as written.
    Text,
    /// A float (`float32` in the scheduler).
    Float,
    /// An integer (`int32` in the scheduler).
    Integer,
}

/// The deprecated flags kube-scheduler applies only without `--config` (`ApplyTo` calls
/// `ApplyDeprecated` only when `ConfigFile` is empty: kubernetes/kubernetes
/// cmd/kube-scheduler/app/options/options.go, `ApplyDeprecated`, read at 7a7c0d87), and the
/// `KubeSchedulerConfiguration` field each one sets. Leader election flags are applied with
/// `--config` too, so they are not here.
const IGNORED_NEXT_TO_CONFIG: [(&str, &[&str], FieldType); 6] = [
    ("profiling", &["enableProfiling"], FieldType::Bool),
    (
        "contention-profiling",
        &["enableContentionProfiling"],
        FieldType::Bool,
    ),
    (
        "kubeconfig",
        &["clientConnection", "kubeconfig"],
        FieldType::Text,
    ),
    (
        "kube-api-content-type",
        &["clientConnection", "contentType"],
        FieldType::Text,
    ),
    (
        "kube-api-qps",
        &["clientConnection", "qps"],
        FieldType::Float,
    ),
    (
        "kube-api-burst",
        &["clientConnection", "burst"],
        FieldType::Integer,
    ),
];

/// The `KubeSchedulerConfiguration` for `host`, when the spec has `scheduler.config`: kcompile's
/// fields, then the host's deprecated flags that `--config` would make the scheduler ignore (so
/// the hardened profile's `--profiling=false` becomes `enableProfiling: false`), then the spec's
/// fields.
pub fn config(cluster: &Cluster, host: &Host) -> Option<String> {
    let fields = cluster.scheduler_config.as_ref()?;
    let mut config = json!({
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": format!("{KUBERNETES}/scheduler.conf")},
        "leaderElection": {"leaderElect": true},
    });
    for (flag, path, field_type) in IGNORED_NEXT_TO_CONFIG {
        let Some(value) = host
            .scheduler
            .extra_args
            .get(flag)
            .and_then(|text| typed(text, field_type))
        else {
            continue;
        };
        merge_json(&mut config, nested(path, value));
    }
    let overrides: Map<String, Value> =
        fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    merge_json(&mut config, Value::Object(overrides));
    Some(yaml(&config))
}

/// A flag's value as the configuration field's type; `None` when it does not parse (the scheduler
/// then refuses the flag itself at start).
fn typed(text: &str, field_type: FieldType) -> Option<Value> {
    match field_type {
        FieldType::Bool => match text {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(Value::Bool(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(Value::Bool(false)),
            _ => None,
        },
        FieldType::Text => Some(Value::String(text.to_owned())),
        FieldType::Float => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number),
        FieldType::Integer => text.parse::<i32>().ok().map(Value::from),
    }
}

/// `{"a": {"b": value}}` for the path `["a", "b"]`.
fn nested(path: &[&str], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, key| {
        Value::Object(Map::from_iter([((*key).to_owned(), inner)]))
    })
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
        // The file holds the kubeconfig and leader election, and the deprecated flags the
        // scheduler ignores next to --config (they stay on the command line too, where they do
        // nothing but where CIS scanners look for them).
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
        annotations: std::collections::BTreeMap::default(),
        security: super::security_context::Security::Kubeadm,
        settings: &host.scheduler,
    }
}
