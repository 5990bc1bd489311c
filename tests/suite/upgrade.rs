//! Upgrades: one minor up changes images, flags and probes as the version needs and `diff` shows
//! it per host; skipping a minor or going back one is refused before anything is issued.

use crate::common;

use std::path::Path;

use common::{Spec, kcompile};
use predicates::prelude::*;

fn spec(dir: &Path, version: &str) {
    let spec = Spec::example("ha-3-masters").set("kubernetesVersion", version);
    std::fs::write(dir.join("cluster.yaml"), spec.yaml()).unwrap();
}

#[test]
fn one_minor_up_diffs_per_host() {
    let temp = tempfile::tempdir().unwrap();
    spec(temp.path(), "v1.36.3");
    kcompile(temp.path())
        .args(["build", "--all", "--out", "roots"])
        .assert()
        .success();
    spec(temp.path(), "v1.37.1");
    for host in ["master01", "master02", "master03", "worker01", "worker02"] {
        let root = format!("roots/{host}");
        let output = kcompile(temp.path())
            .args(["diff", "--host", host, "--root", &root, "--name-only"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{host}");
        let names = String::from_utf8(output.stdout).unwrap();
        let mut expected = vec![
            "etc/kubernetes/kcompile/MANIFEST",
            "etc/kubernetes/manifests/kube-proxy.yaml",
        ];
        if host.starts_with("master") {
            expected.extend([
                "etc/kubernetes/manifests/etcd.yaml",
                "etc/kubernetes/manifests/kube-apiserver.yaml",
                "etc/kubernetes/manifests/kube-controller-manager.yaml",
                "etc/kubernetes/manifests/kube-scheduler.yaml",
            ]);
        }
        // The apiserver's kubelet client certificate and its binding already changed at v1.36.1
        // (tests/releases.rs), so they do not change here.
        if host == "master01" {
            // The first control plane gets the CoreDNS image kubeadm pins for 1.37.
            expected.push("etc/kubernetes/addons/coredns.yaml");
        }
        expected.sort_unstable();
        let mut got: Vec<&str> = names.lines().collect();
        got.sort_unstable();
        assert_eq!(got, expected, "{host}");
        let full = kcompile(temp.path())
            .args(["diff", "--host", host, "--root", &root])
            .output()
            .unwrap();
        let text = String::from_utf8(full.stdout).unwrap();
        assert!(
            text.contains("kube-proxy:v1.36.3 → registry.k8s.io/kube-proxy:v1.37.1"),
            "{host}: {text}"
        );
        assert!(
            !text.contains("restart: kubelet"),
            "{host}: the kubelet's files do not change"
        );
    }
    kcompile(temp.path())
        .args(["build", "--all", "--out", "roots"])
        .assert()
        .success();
}

#[test]
fn skipping_a_minor_or_going_back_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    spec(temp.path(), "v1.35.4");
    kcompile(temp.path())
        .args(["build", "--host", "master01", "--out", "m"])
        .assert()
        .success();
    let state_before: Vec<_> = walkdir::WalkDir::new(temp.path().join("cluster.state"))
        .into_iter()
        .map(|e| e.unwrap().path().to_owned())
        .collect();
    spec(temp.path(), "v1.37.1");
    for command in [
        vec!["build", "--host", "master01", "--out", "m"],
        vec!["diff", "--host", "master01", "--root", "m"],
    ] {
        kcompile(temp.path())
            .args(&command)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "cluster.yaml:7:20: error: upgrading from v1.35.4 to v1.37.1 skips v1.36",
            ))
            .stderr(predicate::str::contains(
                "hint: Kubernetes upgrades one minor at a time",
            ));
    }
    let state_after: Vec<_> = walkdir::WalkDir::new(temp.path().join("cluster.state"))
        .into_iter()
        .map(|e| e.unwrap().path().to_owned())
        .collect();
    assert_eq!(state_before, state_after, "nothing was issued");
    spec(temp.path(), "v1.34.0");
    kcompile(temp.path())
        .args(["build", "--host", "master01", "--out", "m"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: the cluster was last built for v1.35.4; v1.34.0 is a downgrade",
        ));
    spec(temp.path(), "v1.36.0");
    kcompile(temp.path())
        .args(["build", "--host", "master01", "--out", "m"])
        .assert()
        .success();
}
