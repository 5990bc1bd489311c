//! Worker join by TLS bootstrap: workers get a bootstrap kubeconfig with the state's token instead
//! of an issued client certificate; the first control plane gets the token Secret and the bindings
//! that let those kubelets ask for, and automatically receive, their certificates.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

fn build(dir: &Path) {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/ha-3-masters.yaml"
    ))
    .unwrap();
    let spec = spec.replacen("hosts:\n", "kubelet:\n  tlsBootstrap: true\nhosts:\n", 1);
    std::fs::write(dir.join("cluster.yaml"), spec).unwrap();
    Command::cargo_bin("kcompile")
        .unwrap()
        .current_dir(dir)
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
        [
            "Secret",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding"
        ]
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
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
        ]
    );
    // The objects pass the schema of their version where the validator is installed (CI has it).
    if let Ok(output) = Process::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.36"])
        .arg(&addons)
        .output()
    {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

/// A kubectl discovery cache for the two API groups the addons use, so kubectl maps their kinds
/// without a cluster (it reads `<cache>/discovery/<server>/…` while the files are fresh).
fn discovery_cache(dir: &Path) {
    let base = dir.join("discovery/127.0.0.1_1");
    let groups = r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[
        {"name":"","versions":[{"groupVersion":"v1","version":"v1"}],"preferredVersion":{"groupVersion":"v1","version":"v1"}},
        {"name":"rbac.authorization.k8s.io","versions":[{"groupVersion":"rbac.authorization.k8s.io/v1","version":"v1"}],
         "preferredVersion":{"groupVersion":"rbac.authorization.k8s.io/v1","version":"v1"}}]}"#;
    let resources = [
        ("v1", "secrets", "Secret", true),
        (
            "rbac.authorization.k8s.io/v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            false,
        ),
    ];
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("servergroups.json"), groups).unwrap();
    for (group_version, plural, kind, namespaced) in resources {
        let dir = base.join(group_version);
        std::fs::create_dir_all(&dir).unwrap();
        let list = serde_json::json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [{"name": plural, "singularName": kind.to_lowercase(), "namespaced": namespaced,
                           "kind": kind, "verbs": ["create", "get", "list"]}],
        });
        std::fs::write(dir.join("serverresources.json"), list.to_string()).unwrap();
    }
}

#[test]
fn kubectl_reads_the_addons_offline() {
    let temp = tempfile::tempdir().unwrap();
    build(temp.path());
    let cache = temp.path().join("kube-cache");
    discovery_cache(&cache);
    let addons = temp.path().join("out/master01/etc/kubernetes/addons");
    for (file, kinds) in [("bootstrap.yaml", 4), ("rbac.yaml", 1)] {
        let output = Process::new("kubectl")
            .args(["--server", "http://127.0.0.1:1", "--cache-dir"])
            .arg(&cache)
            .args([
                "create",
                "--dry-run=client",
                "--validate=false",
                "-o",
                "yaml",
                "-f",
            ])
            .arg(addons.join(file))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("kubectl is installed (.ci/run installs it)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            stdout.matches("\nkind: ").count() + usize::from(stdout.starts_with("kind: ")),
            kinds,
            "{file}: {stdout}"
        );
    }
}
