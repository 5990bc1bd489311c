//! Rotations in phases: after each phase the apiserver's and controller-manager's flags and the
//! encryption config are what that phase needs, and `kcompile diff` against the previous phase's
//! files shows only those changes.

use std::path::{Path, PathBuf};

use crate::common;
use predicates::prelude::*;
use serde_json::Value;

struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ha-3-masters.yaml"),
            dir.path().join("cluster.yaml"),
        )
        .unwrap();
        let cluster = Cluster { dir };
        cluster.build();
        cluster
    }

    fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        common::kcompile(self.dir.path()).args(args).assert()
    }

    fn build(&self) {
        self.run(&["build", "--all", "--out", "roots"]).success();
    }

    fn root(&self, host: &str) -> PathBuf {
        self.dir.path().join("roots").join(host)
    }

    /// The paths `diff` reports for `host` against the files of the last build.
    fn changed(&self, host: &str) -> Vec<String> {
        let root = self.root(host);
        let output = common::kcompile(self.dir.path())
            .args([
                "diff",
                "--host",
                host,
                "--root",
                root.to_str().unwrap(),
                "--name-only",
            ])
            .output()
            .unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn flags(&self, host: &str, pod: &str, flag: &str) -> Vec<String> {
        let text = std::fs::read_to_string(
            self.root(host)
                .join(format!("etc/kubernetes/manifests/{pod}.yaml")),
        )
        .unwrap();
        let pod: Value = serde_saphyr::from_str(&text).unwrap();
        pod["spec"]["containers"][0]["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|arg| {
                arg.as_str()
                    .unwrap()
                    .strip_prefix(&format!("--{flag}="))
                    .map(str::to_owned)
            })
            .collect()
    }

    fn state(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join("cluster.state").join(path)).unwrap()
    }
}

fn sorted(mut paths: Vec<String>) -> Vec<String> {
    paths.sort();
    paths
}

const PKI: &str = "/etc/kubernetes/pki";

#[test]
fn service_account_key_rotates_in_three_phases() {
    let cluster = Cluster::new();
    let old_key = cluster.state("pki/sa.key");

    cluster
        .run(&["rotate", "sa-key", "--phase", "1"])
        .success()
        .stderr(predicate::str::contains(
            "phase 1: apiservers also accept tokens signed by the new key",
        ));
    assert_eq!(
        cluster.changed("master01"),
        sorted(vec![
            "etc/kubernetes/kcompile/MANIFEST".into(),
            "etc/kubernetes/manifests/kube-apiserver.yaml".into(),
            "etc/kubernetes/pki/sa-next.pub".into()
        ])
    );
    assert!(
        cluster.changed("worker01").is_empty(),
        "workers are not involved"
    );
    cluster.build();
    assert_eq!(
        cluster.flags("master01", "kube-apiserver", "service-account-key-file"),
        [format!("{PKI}/sa-next.pub"), format!("{PKI}/sa.pub")]
    );
    assert_eq!(
        cluster.flags(
            "master01",
            "kube-apiserver",
            "service-account-signing-key-file"
        ),
        [format!("{PKI}/sa.key")]
    );
    assert_eq!(
        cluster.flags(
            "master01",
            "kube-controller-manager",
            "service-account-private-key-file"
        ),
        [format!("{PKI}/sa.key")]
    );

    cluster.run(&["rotate", "sa-key", "--phase", "2"]).success();
    // The spec is hardened, so rootless: the signing key both components read is now sa-next.key
    // (0640 to the shared group), and sa.key, which no pod reads any more, goes back to 0600 root;
    // the ownership list changes with them.
    assert_eq!(
        cluster.changed("master02"),
        sorted(vec![
            "etc/kubernetes/kcompile/MANIFEST".into(),
            "etc/kubernetes/kcompile/rootless-tmpfiles.conf".into(),
            "etc/kubernetes/manifests/kube-apiserver.yaml".into(),
            "etc/kubernetes/manifests/kube-controller-manager.yaml".into(),
            "etc/kubernetes/pki/sa-next.key".into(),
            "etc/kubernetes/pki/sa.key".into(),
        ])
    );
    cluster.build();
    assert_eq!(
        cluster
            .flags("master01", "kube-apiserver", "service-account-key-file")
            .len(),
        2,
        "both keys still verify"
    );
    assert_eq!(
        cluster.flags(
            "master01",
            "kube-apiserver",
            "service-account-signing-key-file"
        ),
        [format!("{PKI}/sa-next.key")]
    );
    assert_eq!(
        cluster.flags(
            "master01",
            "kube-controller-manager",
            "service-account-private-key-file"
        ),
        [format!("{PKI}/sa-next.key")]
    );
    let new_key = std::fs::read(
        cluster
            .root("master01")
            .join("etc/kubernetes/pki/sa-next.key"),
    )
    .unwrap();

    cluster
        .run(&["rotate", "sa-key", "--phase", "3", "--acknowledge"])
        .success();
    assert_eq!(
        cluster.changed("master03"),
        sorted(vec![
            "etc/kubernetes/kcompile/MANIFEST".into(),
            "etc/kubernetes/kcompile/rootless-tmpfiles.conf".into(),
            "etc/kubernetes/manifests/kube-apiserver.yaml".into(),
            "etc/kubernetes/manifests/kube-controller-manager.yaml".into(),
            "etc/kubernetes/pki/sa-next.key".into(),
            "etc/kubernetes/pki/sa-next.pub".into(),
            "etc/kubernetes/pki/sa.key".into(),
            "etc/kubernetes/pki/sa.pub".into(),
        ])
    );
    cluster.build();
    assert_eq!(
        cluster.flags("master01", "kube-apiserver", "service-account-key-file"),
        [format!("{PKI}/sa.pub")]
    );
    assert_eq!(
        cluster.state("pki/sa.key"),
        new_key,
        "the new key took the old one's place"
    );
    // The tree sink prunes what the previous build wrote and this one no longer produces.
    assert_eq!(cluster.changed("master01"), Vec::<String>::new());
    assert!(
        !cluster
            .root("master01")
            .join("etc/kubernetes/pki/sa-next.key")
            .exists()
    );
    let retired = std::fs::read_dir(cluster.dir.path().join("cluster.state/retired/pki"))
        .unwrap()
        .count();
    assert!(retired >= 2, "the old key pair is kept under retired/");
    let kept = std::fs::read_dir(cluster.dir.path().join("cluster.state/retired/pki"))
        .unwrap()
        .any(|entry| std::fs::read(entry.unwrap().path()).unwrap() == old_key);
    assert!(kept, "no key is lost");
}

fn encryption_key_names(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("etc/kubernetes/encryption-config.yaml")).unwrap();
    let config: Value = serde_saphyr::from_str(&text).unwrap();
    config["resources"][0]["providers"][0]["secretbox"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn encryption_key_rotates_in_three_phases() {
    let cluster = Cluster::new();
    let [old] = <[String; 1]>::try_from(encryption_key_names(&cluster.root("master01"))).unwrap();
    let expected = sorted(vec![
        "etc/kubernetes/encryption-config.yaml".into(),
        "etc/kubernetes/kcompile/MANIFEST".into(),
        "etc/kubernetes/manifests/kube-apiserver.yaml".into(),
    ]);

    cluster
        .run(&["rotate", "encryption-key", "--phase", "1"])
        .success();
    assert_eq!(cluster.changed("master01"), expected);
    cluster.build();
    let names = encryption_key_names(&cluster.root("master01"));
    assert_eq!(names[0], old, "the old key still encrypts");
    let new = names[1].clone();
    assert_ne!(new, old);

    cluster
        .run(&["rotate", "encryption-key", "--phase", "2"])
        .success()
        .stderr(predicate::str::contains(
            "kubectl get secrets -A -o json | kubectl replace -f -",
        ));
    assert_eq!(cluster.changed("master02"), expected);
    cluster.build();
    assert_eq!(
        encryption_key_names(&cluster.root("master01")),
        [new.clone(), old.clone()],
        "the new key encrypts, the old one still decrypts"
    );

    cluster
        .run(&["rotate", "encryption-key", "--phase", "3", "--acknowledge"])
        .success();
    assert_eq!(cluster.changed("master03"), expected);
    cluster.build();
    assert_eq!(
        encryption_key_names(&cluster.root("master01")),
        [new],
        "the old key is gone, the new one keeps its name"
    );
}

#[test]
fn phases_go_in_order() {
    let cluster = Cluster::new();
    cluster
        .run(&["rotate", "sa-key", "--phase", "2"])
        .code(2)
        .stderr(predicate::str::contains(
            "error: state dir: the sa-key rotation is at phase 0; the next phase is 1",
        ));
    cluster.run(&["rotate", "sa-key", "--phase", "1"]).success();
    cluster
        .run(&["rotate", "sa-key", "--phase", "1"])
        .success()
        .stderr(predicate::str::contains("already at phase 1"));
    cluster
        .run(&["rotate", "sa-key", "--phase", "3", "--acknowledge"])
        .code(2)
        .stderr(predicate::str::contains("the next phase is 2"));
    cluster.run(&["rotate", "sa-key", "--phase", "4"]).code(2);
}

fn certificates_in(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

fn openssl_verify(ca: &Path, cert: &Path) -> bool {
    std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .arg(cert)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn cluster_ca_rotates_through_a_trust_bundle() {
    let cluster = Cluster::new();
    let pki = |host: &str, file: &str| cluster.root(host).join("etc/kubernetes/pki").join(file);
    let old_ca = cluster.state("pki/ca.crt");
    let apiserver_key = cluster.state("hosts/master01/apiserver.key");

    // Phase 1: every consumer trusts both CAs; nothing is reissued yet.
    cluster
        .run(&["rotate", "cluster-ca", "--phase", "1"])
        .success();
    let worker = cluster.changed("worker01");
    for path in [
        "etc/kubernetes/kubelet.conf",
        "etc/kubernetes/kube-proxy.conf",
        "etc/kubernetes/pki/ca.crt",
    ] {
        assert!(
            worker.iter().any(|p| p == path),
            "{path} changes on workers: {worker:?}"
        );
    }
    cluster
        .run(&["build", "--all", "--out", "roots"])
        .success()
        .stderr(predicate::str::is_match("(?m)^issued ").unwrap().not());
    assert_eq!(certificates_in(&pki("master01", "ca.crt")), 2);
    assert!(
        pki("master01", "ca-signing.key").exists(),
        "the signing pair gets its own files"
    );
    assert_eq!(
        cluster.flags(
            "master01",
            "kube-controller-manager",
            "cluster-signing-cert-file"
        ),
        [format!("{PKI}/ca-signing.crt")]
    );
    assert!(openssl_verify(
        &pki("master01", "ca.crt"),
        &pki("master01", "apiserver.crt")
    ));

    // Phase 2: the new CA signs; the build reissues every certificate of the cluster CA, keeping keys.
    cluster
        .run(&["rotate", "cluster-ca", "--phase", "2"])
        .success();
    let output = common::kcompile(cluster.dir.path())
        .args(["build", "--all", "--out", "roots"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("issued master01/apiserver (CA changed)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("etcd/server"),
        "the etcd CA's certificates stay: {stderr}"
    );
    assert_eq!(
        cluster.state("hosts/master01/apiserver.key"),
        apiserver_key,
        "keys are kept"
    );
    let new_ca = cluster.dir.path().join("cluster.state/pki/ca-next.crt");
    assert!(
        openssl_verify(&new_ca, &pki("master01", "apiserver.crt")),
        "signed by the new CA alone"
    );
    assert!(
        openssl_verify(
            &pki("master01", "ca.crt"),
            &pki("master01", "apiserver.crt")
        ),
        "the bundle still verifies"
    );

    // Phase 3: only the new CA is trusted; nothing is reissued.
    cluster
        .run(&["rotate", "cluster-ca", "--phase", "3", "--acknowledge"])
        .success();
    cluster
        .run(&["build", "--all", "--out", "roots"])
        .success()
        .stderr(predicate::str::is_match("(?m)^issued ").unwrap().not());
    assert_eq!(certificates_in(&pki("master01", "ca.crt")), 1);
    assert_ne!(std::fs::read(pki("master01", "ca.crt")).unwrap(), old_ca);
    assert_eq!(
        cluster.flags(
            "master01",
            "kube-controller-manager",
            "cluster-signing-cert-file"
        ),
        [format!("{PKI}/ca.crt")]
    );
    assert!(pki("master01", "ca.key").exists());
    let retired = cluster.dir.path().join("cluster.state/retired/pki");
    let old_ca_file = std::fs::read_dir(&retired)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ca.crt.")
        })
        .expect("the old CA is kept under retired/");
    assert_eq!(std::fs::read(&old_ca_file).unwrap(), old_ca);
    assert!(
        !openssl_verify(&old_ca_file, &pki("master01", "apiserver.crt")),
        "the old CA signs nothing in use"
    );
    // Every host checks out against its own files.
    for host in ["master01", "worker01"] {
        cluster
            .run(&["verify", "--root", cluster.root(host).to_str().unwrap()])
            .success();
    }
}

#[test]
fn etcd_and_front_proxy_cas_rotate_and_every_phase_verifies() {
    let cluster = Cluster::new();
    for (ca, reissued) in [
        ("etcd-ca", "issued master01/etcd/peer (CA changed)"),
        (
            "front-proxy-ca",
            "issued master01/front-proxy-client (CA changed)",
        ),
    ] {
        for phase in ["1", "2", "3"] {
            cluster
                .run(&["rotate", ca, "--phase", phase, "--acknowledge"])
                .success();
            let build = cluster.run(&["build", "--all", "--out", "roots"]).success();
            if phase == "2" {
                build.stderr(predicate::str::contains(reissued));
            } else {
                build.stderr(predicate::str::is_match("(?m)^issued ").unwrap().not());
            }
            for host in ["master01", "master03", "worker02"] {
                cluster
                    .run(&["verify", "--root", cluster.root(host).to_str().unwrap()])
                    .success();
            }
        }
    }
    cluster
        .run(&["rotate", "cluster-ca", "--phase", "3", "--acknowledge"])
        .code(2)
        .stderr(predicate::str::contains(
            "the cluster-ca rotation is at phase 0; the next phase is 1",
        ));
}
