//! Patch releases: the table of releases kcompile knows (src/versions/releases.tsv) is what
//! scripts/releases.py makes of its saved reads; a patch release newer than the newest known is
//! refused; and kubeadm #138957 (v1.36.1) takes `O=kubeadm:cluster-admins` off the apiserver's
//! kubelet client certificate and binds its CN to `system:kubelet-api-admin`, which an existing
//! v1.36.0 cluster gets as a reissued certificate (same key) and a new binding.

use crate::common;

use std::path::Path;
use std::process::Command as Process;

use common::{Spec, kcompile};
use predicates::prelude::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn spec(dir: &Path, version: &str) {
    let spec = Spec::example("ha-3-masters").set("kubernetesVersion", version);
    std::fs::write(dir.join("cluster.yaml"), spec.yaml()).unwrap();
}

/// `openssl x509 -noout <what>` of a certificate file.
fn openssl_x509(cert: &Path, what: &str) -> String {
    let output = Process::new("openssl")
        .args(["x509", "-noout", what, "-in"])
        .arg(cert)
        .output()
        .expect("openssl is installed (.ci/install.sh)");
    assert!(
        output.status.success(),
        "openssl x509 {what} {}",
        cert.display()
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_release_table_is_what_the_script_makes_of_its_saved_reads() {
    let output = Process::new("python3")
        .arg(Path::new(ROOT).join("scripts/releases.py"))
        .output()
        .expect("python3 runs scripts/releases.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed =
        std::fs::read_to_string(Path::new(ROOT).join("src/versions/releases.tsv")).unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        committed,
        "src/versions/releases.tsv differs from `python3 scripts/releases.py`: regenerate it"
    );
}

/// The newest v1.36 patch release the table knows.
fn newest_v1_36() -> String {
    let table = std::fs::read_to_string(Path::new(ROOT).join("src/versions/releases.tsv")).unwrap();
    let patch = table
        .lines()
        .find_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            (columns.len() == 5 && columns[0] == "1.36" && columns[2] == "newest")
                .then(|| columns[1].to_owned())
        })
        .expect("releases.tsv has a newest row for 1.36");
    format!("v1.36.{patch}")
}

#[test]
fn validate_refuses_a_patch_release_newer_than_the_newest_known_and_names_it() {
    let temp = tempfile::tempdir().unwrap();
    spec(temp.path(), "v1.36.99");
    kcompile(temp.path())
        .args(["validate"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "cluster.yaml:7:20: error: Kubernetes v1.36.99 is newer than every v1.36 release kcompile knows",
        ))
        .stderr(predicate::str::contains(format!(
            "hint: the newest v1.36 release kcompile knows is {}",
            newest_v1_36()
        )));
    spec(temp.path(), &newest_v1_36());
    kcompile(temp.path()).args(["validate"]).assert().success();
}

#[test]
fn a_v1_36_0_cluster_moving_to_v1_36_1_gets_a_reissued_kubelet_client_certificate_and_the_new_binding()
 {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    spec(dir, "v1.36.0");
    kcompile(dir)
        .args(["build", "--all", "--out", "roots"])
        .assert()
        .success();
    let masters = ["master01", "master02", "master03"];
    let cert = |host: &str| {
        dir.join(format!(
            "roots/{host}/etc/kubernetes/pki/apiserver-kubelet-client.crt"
        ))
    };
    let rbac = dir.join("roots/master01/etc/kubernetes/addons/rbac.yaml");
    let mut keys_before = Vec::new();
    for host in masters {
        let subject = openssl_x509(&cert(host), "-subject");
        assert!(
            subject.contains("O = kubeadm:cluster-admins"),
            "{host} at v1.36.0: {subject}"
        );
        keys_before.push(openssl_x509(&cert(host), "-pubkey"));
    }
    assert!(
        !std::fs::read_to_string(&rbac)
            .unwrap()
            .contains("system:kubelet-api-admin")
    );

    spec(dir, "v1.36.1");
    // The preview says which certificates are reissued, and why; nothing else is.
    let preview = kcompile(dir)
        .args(["build", "--all", "--dry-run"])
        .output()
        .unwrap();
    assert!(preview.status.success());
    let stderr = String::from_utf8(preview.stderr).unwrap();
    let issued: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("would issue"))
        .collect();
    assert_eq!(
        issued,
        masters
            .map(|host| format!("would issue {host}/apiserver-kubelet-client (subject changed)")),
        "{stderr}"
    );
    assert!(
        stderr.contains("0 keys would be generated, 3 certificates to issue"),
        "{stderr}"
    );
    // diff shows, on the first control plane, the certificate and the binding among the changes.
    let names = kcompile(dir)
        .args([
            "diff",
            "--host",
            "master01",
            "--root",
            "roots/master01",
            "--name-only",
        ])
        .output()
        .unwrap();
    assert_eq!(names.status.code(), Some(1));
    let names = String::from_utf8(names.stdout).unwrap();
    for path in [
        "etc/kubernetes/pki/apiserver-kubelet-client.crt",
        "etc/kubernetes/addons/rbac.yaml",
    ] {
        assert!(
            names.lines().any(|line| line == path),
            "{path} not in {names}"
        );
    }
    let full = kcompile(dir)
        .args([
            "diff",
            "--host",
            "master01",
            "--root",
            "roots/master01",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(full.stdout).unwrap();
    assert!(
        text.contains("    subject: CN=kube-apiserver-kubelet-client, O=kubeadm:cluster-admins → CN=kube-apiserver-kubelet-client\n"),
        "{text}"
    );
    assert!(text.contains("    key: unchanged\n"), "{text}");

    kcompile(dir)
        .args(["build", "--all", "--out", "roots"])
        .assert()
        .success();
    for (host, key_before) in masters.iter().zip(&keys_before) {
        let subject = openssl_x509(&cert(host), "-subject");
        assert_eq!(
            subject.trim(),
            "subject=CN = kube-apiserver-kubelet-client",
            "{host} at v1.36.1"
        );
        assert_eq!(
            &openssl_x509(&cert(host), "-pubkey"),
            key_before,
            "{host} keeps its key"
        );
    }
    let rbac = std::fs::read_to_string(&rbac).unwrap();
    let binding = rbac
        .split("---\n")
        .find(|doc| doc.contains("system:kubelet-api-admin"))
        .expect("a binding to system:kubelet-api-admin");
    for line in [
        "kind: ClusterRoleBinding",
        "  name: kubeadm:apiserver-kubelet-client",
        "  kind: ClusterRole",
        "  name: system:kubelet-api-admin",
        "  kind: User",
        "  name: kube-apiserver-kubelet-client",
    ] {
        assert!(
            binding.lines().any(|l| l == line),
            "{line:?} not in {binding}"
        );
    }
    // A second build at v1.36.1 reissues nothing.
    kcompile(dir)
        .args(["build", "--all", "--dry-run"])
        .assert()
        .success()
        .stderr(predicate::str::contains("would issue").not());
}
