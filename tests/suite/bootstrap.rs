//! Worker join by TLS bootstrap: workers get a bootstrap kubeconfig with the state's token instead
//! of an issued client certificate; the first control plane gets the token Secret and the bindings
//! that let those kubelets ask for, and automatically receive, their first certificate. The
//! schemas, kubectl's offline reading and the token's expiry are checked in tests/addons.rs.

use std::path::Path;

use crate::common::{self, Spec};
use serde_json::Value;

fn build(dir: &Path) {
    Spec::example("ha-3-masters")
        .set("kubelet.tlsBootstrap", true)
        .write(&dir.join("cluster.yaml"));
    common::kcompile(dir)
        .args(["build", "--all", "--out", "out"])
        .assert()
        .success();
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("---\n")
        .map(|doc| serde_saphyr::from_str(doc).unwrap())
        .collect()
}

#[test]
fn workers_join_with_a_bootstrap_token() {
    let temp = tempfile::tempdir().unwrap();
    build(temp.path());
    let out = temp.path().join("out");
    let worker = out.join("worker01/etc/kubernetes");
    assert!(
        !worker.join("kubelet.conf").exists(),
        "the kubelet writes kubelet.conf itself"
    );
    assert!(
        !temp
            .path()
            .join("cluster.state/hosts/worker01/kubelet-client.crt")
            .exists()
    );
    assert!(
        out.join("master01/etc/kubernetes/kubelet.conf").exists(),
        "control planes keep issued certificates"
    );

    let bootstrap: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(worker.join("bootstrap-kubelet.conf")).unwrap(),
    )
    .unwrap();
    let token = bootstrap["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (id, secret) = token.split_once('.').unwrap();
    let lower = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    assert!(
        id.len() == 6 && secret.len() == 16 && lower(id) && lower(secret),
        "`{token}` has the [a-z0-9]{{6}}.[a-z0-9]{{16}} form"
    );
    assert_eq!(
        bootstrap["clusters"][0]["cluster"]["server"],
        "https://10.0.0.100:6443"
    );
    let unit =
        std::fs::read_to_string(out.join("worker01/etc/systemd/system/kubelet.service")).unwrap();
    assert!(
        unit.contains("--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf"),
        "{unit}"
    );
    assert!(
        unit.contains("--kubeconfig=/etc/kubernetes/kubelet.conf"),
        "{unit}"
    );

    let addons = out.join("master01/etc/kubernetes/addons/bootstrap.yaml");
    assert!(
        !out.join("master02/etc/kubernetes/addons").exists(),
        "addons go to the first control plane only"
    );
    let objects = documents(&addons);
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["Secret", "ClusterRoleBinding", "ClusterRoleBinding"]
    );
    let data = &objects[0]["stringData"];
    assert_eq!(
        objects[0]["metadata"]["name"],
        format!("bootstrap-token-{id}")
    );
    assert_eq!(objects[0]["type"], "bootstrap.kubernetes.io/token");
    assert_eq!(
        (data["token-id"].as_str(), data["token-secret"].as_str()),
        (Some(id), Some(secret))
    );
    let roles: Vec<&str> = objects[1..]
        .iter()
        .map(|o| o["roleRef"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "system:node-bootstrapper",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        ]
    );
    // Renewals are approved by node-certificate-rotation.yaml, written whenever kubelets rotate
    // (tests/addons.rs); the Secret expires when the state says (tests/addons.rs too).
    assert!(data["expiration"].is_string(), "{data}");
}
