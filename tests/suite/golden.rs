//! Golden files: the rendered text files of examples/ha-3-masters.yaml, for a control-plane host
//! and a worker, for every supported minor v1.33 to v1.37 and for v1.36.1, the first v1.36 patch
//! release with kubeadm #138957, under `tests/golden/<version>/`. They show, reviewed like code,
//! what differs between versions (probes and ports, the etcd flags, the apiserver-kubelet-client
//! subject and its RBAC binding: v1.36.0 against v1.36.1; the CoreDNS image). Values that change
//! with every state dir (the config hash, the etcd token, the encryption key, certificate serials)
//! are replaced by placeholders.
//! `KCOMPILE_BLESS=1 cargo test --test golden` rewrites them.

use std::path::{Path, PathBuf};

use crate::common::{self, Spec};

use x509_parser::prelude::{FromDer, X509Certificate};

const VERSIONS: [&str; 6] = [
    "v1.33.0", "v1.34.0", "v1.35.0", "v1.36.0", "v1.36.1", "v1.37.0",
];
const HOSTS: [&str; 2] = ["master01", "worker01"];

/// Text files whose golden copy is kept (paths relative to a host's root).
fn goldened(path: &str) -> bool {
    path.starts_with("etc/kubernetes/manifests/")
        || matches!(
            path,
            "etc/systemd/system/kubelet.service"
                | "var/lib/kubelet/config.yaml"
                | "var/lib/kube-proxy/config.conf"
                | "etc/kubernetes/encryption-config.yaml"
                | "etc/kubernetes/addons/rbac.yaml"
                | "etc/kubernetes/addons/coredns.yaml"
                | "etc/kubernetes/addons/node-certificate-rotation.yaml"
                | "etc/kubernetes/authentication-config.yaml"
                // The rootless control plane's directories and every file's owner and mode.
                | "etc/kubernetes/kcompile/rootless-tmpfiles.conf"
                // The sandbox (pause) image tag kubeadm pins per minor.
                | "etc/containerd/conf.d/99-kcompile.toml"
        )
}

fn filter(text: &str) -> String {
    text.lines()
        .map(|line| {
            if let Some((key, _)) = line.split_once("kcompile.io/config-hash: ") {
                format!("{key}kcompile.io/config-hash: [HASH]")
            } else if let Some((key, _)) = line.split_once("--initial-cluster-token=") {
                format!("{key}--initial-cluster-token=[TOKEN]")
            } else if let Some((key, _)) = line.split_once("secret: ") {
                format!("{key}secret: [KEY]")
            } else if let Some((key, _)) = line.split_once("name: key-") {
                format!("{key}name: key-[HASH]")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// One line per certificate in the host's PKI: file, subject, SANs (not keys, dates or serials).
fn certificate_subjects(root: &Path) -> String {
    let mut lines = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "crt") {
            continue;
        }
        let pem = pem::parse(std::fs::read(path).unwrap()).unwrap();
        let (_, cert) = X509Certificate::from_der(pem.contents()).unwrap();
        let sans = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|ext| {
                ext.value
                    .general_names
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        lines.push(format!(
            "{}: subject [{}] issuer [{}] sans [{sans}]",
            path.strip_prefix(root).unwrap().display(),
            cert.subject(),
            cert.issuer()
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn rendered_files_match_the_golden_files() {
    let bless = std::env::var_os("KCOMPILE_BLESS").is_some();
    let golden_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let example = Spec::example("ha-3-masters");
    assert!(
        example.get("kubernetesVersion").is_some(),
        "the example names its version"
    );
    let mut mismatches = Vec::new();
    for version in VERSIONS {
        let temp = tempfile::tempdir().unwrap();
        example
            .clone()
            .set("kubernetesVersion", version)
            .write(&temp.path().join("cluster.yaml"));
        for host in HOSTS {
            common::kcompile(temp.path())
                .args(["build", "--host", host, "--out", host])
                .assert()
                .success();
            let root = temp.path().join(host);
            let mut produced: Vec<(PathBuf, String)> = walkdir::WalkDir::new(&root)
                .sort_by_file_name()
                .into_iter()
                .map(|e| e.unwrap())
                .filter(|e| e.file_type().is_file())
                .filter_map(|e| {
                    let relative = e
                        .path()
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    goldened(&relative).then(|| {
                        (
                            PathBuf::from(relative),
                            filter(&std::fs::read_to_string(e.path()).unwrap()),
                        )
                    })
                })
                .collect();
            produced.push((
                PathBuf::from("certificates.txt"),
                certificate_subjects(&root),
            ));
            let golden_dir = golden_root.join(version).join(host);
            for (relative, text) in &produced {
                let golden = golden_dir.join(relative);
                if bless {
                    std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                    std::fs::write(&golden, text).unwrap();
                } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
                    mismatches.push(format!(
                        "{} differs (KCOMPILE_BLESS=1 rewrites it)",
                        golden.display()
                    ));
                }
            }
            // No golden file is left that the build no longer produces.
            if golden_dir.is_dir() {
                for entry in walkdir::WalkDir::new(&golden_dir)
                    .into_iter()
                    .map(|e| e.unwrap())
                    .filter(|e| e.file_type().is_file())
                {
                    let relative = entry.path().strip_prefix(&golden_dir).unwrap();
                    if !produced.iter().any(|(path, _)| path == relative) {
                        mismatches
                            .push(format!("{} is no longer produced", entry.path().display()));
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
