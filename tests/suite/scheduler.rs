//! A spec that configures the scheduler gets a `KubeSchedulerConfiguration`, passed with --config in
//! place of the flags it covers.

use crate::common;
use serde_json::Value;

#[test]
fn scheduler_config_is_written_and_passed() {
    let temp = tempfile::tempdir().unwrap();
    common::kcompile(temp.path())
        .args([
            "build",
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/single-node.yaml"),
        ])
        .args(["--state", "st", "--host", "node01", "--out", "root"])
        .assert()
        .success();
    let root = temp.path().join("root/etc/kubernetes");
    let config: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("scheduler-config.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["apiVersion"], "kubescheduler.config.k8s.io/v1");
    assert_eq!(
        config["clientConnection"]["kubeconfig"],
        "/etc/kubernetes/scheduler.conf"
    );
    assert_eq!(
        config["percentageOfNodesToScore"], 100,
        "the spec's field is merged in"
    );
    let pod: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("manifests/kube-scheduler.yaml")).unwrap(),
    )
    .unwrap();
    let command: Vec<&str> = pod["spec"]["containers"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        command.contains(&"--config=/etc/kubernetes/scheduler-config.yaml"),
        "{command:?}"
    );
    assert!(
        !command
            .iter()
            .any(|a| a.starts_with("--kubeconfig=") || a.starts_with("--leader-elect=")),
        "{command:?}"
    );
    let mounts = pod["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"] == "/etc/kubernetes/scheduler-config.yaml")
    );
}
