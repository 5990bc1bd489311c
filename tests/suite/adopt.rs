//! `kcompile adopt` on a kubeadm-style cluster (`common/kubeadm_cluster.rs`: three stacked control
//! planes and two workers, kubeadm v1.33, extra flags, an extra volume and an extra SAN). Then `kcompile diff -o json` of every host must list exactly the
//! changes `adopt` reported, none of them a certificate or key the cluster already had.

use std::collections::BTreeSet;

use crate::common::kubeadm_cluster::{
    CONTROL_PLANES, ENCRYPTION_CONFIG, ENCRYPTION_KEYS, EXTRA_SAN, WORKERS, encryption_config,
    kubeadm_cluster, read, write,
};
use serde_json::Value;

use crate::common::run_kcompile;

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// (host, path, action) of every change in a list of change objects.
fn triples(host: Option<&str>, changes: &Value) -> BTreeSet<(String, String, String)> {
    changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["action"] != "unchanged")
        .map(|change| {
            (
                host.map_or_else(
                    || change["host"].as_str().unwrap().to_owned(),
                    str::to_owned,
                ),
                change["path"].as_str().unwrap().to_owned(),
                change["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_kubeadm_cluster_is_adopted_and_diff_shows_exactly_the_reported_changes() {
    let temp = tempfile::tempdir().unwrap();
    let roots = temp.path().join("roots");
    kubeadm_cluster(&roots);
    let output = run_kcompile(
        temp.path(),
        &[
            "adopt",
            "--roots",
            "roots",
            "-f",
            "cluster.yaml",
            "-o",
            "json",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let adopted = json(&output);
    let spec = read(&temp.path().join("cluster.yaml"));
    assert!(
        spec.contains(EXTRA_SAN),
        "the extra SAN is carried:\n{spec}"
    );
    assert!(
        spec.contains("profiling: 'false'")
            || spec.contains("profiling: \"false\"")
            || spec.contains("profiling: false"),
        "--profiling=false is carried:\n{spec}"
    );
    assert!(
        spec.contains("event-ttl: 4h"),
        "--event-ttl is carried:\n{spec}"
    );
    assert!(
        spec.contains("/etc/kubernetes/webhooks"),
        "the extra volume is carried:\n{spec}"
    );
    assert!(
        spec.contains("provider: aescbc"),
        "encryption at rest is carried:\n{spec}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for (_, secret) in ENCRYPTION_KEYS {
        assert!(!stdout.contains(secret), "adopt prints no key: {stdout}");
        assert!(!spec.contains(secret), "the spec holds no key:\n{spec}");
    }
    let reported = triples(None, &adopted["changes"]);
    let mut diffed = BTreeSet::new();
    for (host, _) in CONTROL_PLANES.iter().chain(WORKERS.iter()) {
        let root = format!("roots/{host}");
        let output = run_kcompile(
            temp.path(),
            &[
                "diff",
                "--host",
                host,
                "--root",
                &root,
                "-f",
                "cluster.yaml",
                "-o",
                "json",
            ],
        );
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        diffed.extend(triples(Some(host), &json(&output)["changes"]));
        // Nothing the cluster has is issued again; only the kubelet's serving certificate,
        // self-signed by the kubelet, is replaced by one the cluster CA signs.
        let stderr = String::from_utf8_lossy(&output.stderr);
        for line in stderr
            .lines()
            .filter(|line| line.starts_with("a build would issue"))
        {
            assert!(line.contains("/kubelet-serving"), "{host}: {line}");
        }
    }
    assert_eq!(reported, diffed, "adopt lists exactly what diff shows");
    let listing: Vec<String> = adopted["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            format!(
                "{} {}/{}: {}",
                change["action"], change["host"], change["path"], change["reason"]
            )
        })
        .collect();
    let listing = listing.join("\n");
    for (host, path, action) in &reported {
        // kubeadm keeps the etcd CA key (and the other CA keys) on every control plane; kcompile
        // does not place it there, so it is listed as a file kcompile leaves alone.
        assert!(
            !path.starts_with("etc/kubernetes/pki/") || action == "unknown",
            "{host}: no CA, key or leaf of the cluster changes: {path} {action}\n{listing}"
        );
        if path.ends_with(".crt") || path.ends_with(".key") || path.ends_with(".pem") {
            assert!(
                action == "unknown"
                    || path == "var/lib/kubelet/pki/kubelet.crt"
                    || path == "var/lib/kubelet/pki/kubelet.key",
                "{host}: only the kubelet's self-signed serving pair is replaced: {path}\n{listing}"
            );
        }
    }
    for change in adopted["changes"].as_array().unwrap() {
        assert!(!change["reason"].as_str().unwrap().is_empty(), "{change}");
    }
    eprintln!("{listing}");
}

#[test]
fn what_adopt_cannot_take_over_stops_it_naming_the_file_and_writing_nothing() {
    let temp = tempfile::tempdir().unwrap();
    // No host at all.
    std::fs::create_dir_all(temp.path().join("empty")).unwrap();
    let output = run_kcompile(
        temp.path(),
        &["adopt", "--roots", "empty", "-f", "cluster.yaml"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("holds no host folder"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // An audit policy: not adopted yet, and never dropped.
    let roots = temp.path().join("roots");
    kubeadm_cluster(&roots);
    let manifest = roots.join("cp-1/etc/kubernetes/manifests/kube-apiserver.yaml");
    write(
        &manifest,
        read(&manifest).replace(
            "    - --etcd-cafile=",
            "    - --audit-policy-file=/etc/kubernetes/audit/policy.yaml\n    - --etcd-cafile=",
        ),
    );
    let output = run_kcompile(
        temp.path(),
        &["adopt", "--roots", "roots", "-f", "cluster.yaml"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cp-1/etc/kubernetes/manifests/kube-apiserver.yaml: cannot be adopted: --audit-policy-file=/etc/kubernetes/audit/policy.yaml"),
        "{stderr}"
    );
    assert!(
        !temp.path().join("cluster.yaml").exists(),
        "no spec is written"
    );
    assert!(
        !temp.path().join("cluster.state").exists(),
        "no state is written"
    );
    write(
        &manifest,
        read(&manifest).replace(
            "    - --audit-policy-file=/etc/kubernetes/audit/policy.yaml\n",
            "",
        ),
    );
    // An EncryptionConfiguration that does not encrypt with a local key (identity first), and one
    // that differs between control planes.
    let config = roots.join("cp-1").join(ENCRYPTION_CONFIG);
    write(
        &config,
        encryption_config().replace("      - aescbc:", "      - identity: {}\n      - aescbc:"),
    );
    let output = run_kcompile(
        temp.path(),
        &["adopt", "--roots", "roots", "-f", "cluster.yaml"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cp-2/etc/kubernetes/enc/enc.yaml: cannot be adopted: differs from the first control plane's EncryptionConfiguration"),
        "{stderr}"
    );
    for (name, _) in CONTROL_PLANES {
        let config = roots.join(name).join(ENCRYPTION_CONFIG);
        write(
            &config,
            encryption_config().replace("      - aescbc:", "      - identity: {}\n      - aescbc:"),
        );
    }
    let output = run_kcompile(
        temp.path(),
        &["adopt", "--roots", "roots", "-f", "cluster.yaml"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cp-1/etc/kubernetes/enc/enc.yaml: cannot be adopted: its first entry writes with `identity`"),
        "{stderr}"
    );
    for (_, secret) in ENCRYPTION_KEYS {
        assert!(!stderr.contains(secret), "no key in the message: {stderr}");
    }
    assert!(!temp.path().join("cluster.yaml").exists());
    assert!(!temp.path().join("cluster.state").exists());
    for (name, _) in CONTROL_PLANES {
        write(
            &roots.join(name).join(ENCRYPTION_CONFIG),
            encryption_config(),
        );
    }
    // A worker without a node address names the file to fix.
    let flags = roots.join("node-1/var/lib/kubelet/kubeadm-flags.env");
    write(&flags, read(&flags).replace("--node-ip=192.168.56.31 ", ""));
    write(
        &manifest,
        read(&manifest).replace(
            "    - --encryption-provider-config=/etc/kubernetes/enc/enc.yaml\n",
            "",
        ),
    );
    let output = run_kcompile(
        temp.path(),
        &["adopt", "--roots", "roots", "-f", "other.yaml"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "node-1/var/lib/kubelet/kubeadm-flags.env: cannot be adopted: no node address"
        ),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!temp.path().join("other.yaml").exists());
    // An existing spec is never overwritten.
    write(
        &flags,
        read(&flags).replace("--pod-infra", "--node-ip=192.168.56.31 --pod-infra"),
    );
    write(&temp.path().join("cluster.yaml"), "mine\n");
    let output = run_kcompile(
        temp.path(),
        &["adopt", "--roots", "roots", "-f", "cluster.yaml"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("`cluster.yaml` exists; adopt writes a new spec and never overwrites one"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(read(&temp.path().join("cluster.yaml")), "mine\n");
    assert!(
        !temp.path().join("cluster.state").exists(),
        "no state is written"
    );
}

/// The providers of a rendered `EncryptionConfiguration`'s first entry: (provider, key names).
fn providers(config: &str) -> Vec<(String, Vec<String>)> {
    let value: Value = serde_saphyr::from_str(config).unwrap();
    value["resources"][0]["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|provider| {
            let (kind, body) = provider.as_object().unwrap().iter().next().unwrap();
            let names = body["keys"].as_array().map_or_else(Vec::new, |keys| {
                keys.iter()
                    .map(|key| key["name"].as_str().unwrap().to_owned())
                    .collect()
            });
            (kind.clone(), names)
        })
        .collect()
}

#[test]
fn the_encryption_key_a_cluster_had_is_the_first_key_of_the_adopted_configuration() {
    let temp = tempfile::tempdir().unwrap();
    kubeadm_cluster(&temp.path().join("roots"));
    let output = run_kcompile(
        temp.path(),
        &["adopt", "--roots", "roots", "-f", "cluster.yaml"],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let build = |out: &str| {
        // Every host: a rotation's next phase waits for the last one to be built everywhere.
        let output = run_kcompile(temp.path(), &["build", "--all", "--out", out]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        read(
            &temp
                .path()
                .join(out)
                .join("cp-1/etc/kubernetes/encryption-config.yaml"),
        )
    };
    // Every key in its order, under its own name, the one that encrypted first: what the
    // cluster had.
    let config = build("out");
    let value: Value = serde_saphyr::from_str(&config).unwrap();
    let cluster: Value = serde_saphyr::from_str(&encryption_config()).unwrap();
    assert_eq!(
        value, cluster,
        "the adopted configuration is the cluster's:\n{config}"
    );
    // kcompile's rotation works on top: the incoming key reads second, then encrypts first; the
    // cluster's keys stay readable after it.
    for (phase, expected) in [
        ("1", ["key2", "new", "key1"]),
        ("2", ["new", "key2", "key1"]),
    ] {
        let output = run_kcompile(temp.path(), &["rotate", "encryption-key", "--phase", phase]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let config = build(&format!("phase{phase}"));
        let found = providers(&config);
        assert_eq!(found.len(), 2, "{config}");
        assert_eq!(found[0].0, "aescbc", "{config}");
        assert_eq!(found[1].0, "identity", "{config}");
        let names: Vec<&str> = found[0]
            .1
            .iter()
            .map(|name| {
                if name.starts_with("key-") {
                    "new"
                } else {
                    name.as_str()
                }
            })
            .collect();
        assert_eq!(names, expected, "phase {phase}:\n{config}");
    }
}
