//! `kcompile adopt` on kubeadm-style clusters (`common/kubeadm_cluster.rs`: three stacked control
//! planes and two workers, made at kubeadm v1.33, and made at v1.33 then upgraded to v1.35; extra
//! flags, extra volumes, an extra SAN, encryption at rest and an audit policy at non-default
//! paths). Then `kcompile diff -o json` of every host must list exactly the
//! changes `adopt` reported, none of them a certificate or key the cluster already had.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::kubeadm_cluster::{
    AUDIT_POLICY, AUDIT_POLICY_TEXT, CONTROL_PLANES, ENCRYPTION_CONFIG, ENCRYPTION_KEYS, EXTRA_SAN,
    RELEASES, Release, WORKERS, encryption_config, kubeadm_cluster, kubeadm_cluster_at, read,
    write,
};
use serde_json::Value;

use crate::common::adopted::{json, triples};
use crate::common::run_kcompile;

#[test]
fn a_kubeadm_v1_33_cluster_is_adopted_and_diff_shows_exactly_the_reported_changes() {
    adopted_and_diffed(RELEASES[0]);
}

#[test]
fn a_kubeadm_cluster_upgraded_to_v1_35_is_adopted_and_diff_shows_exactly_the_reported_changes() {
    adopted_and_diffed(RELEASES[1]);
}

/// Makes a cluster of `release`, adopts it, and compares what adopt reported with what `diff` of
/// every host shows.
fn adopted_and_diffed(release: Release) {
    let temp = tempfile::tempdir().unwrap();
    let roots = temp.path().join("roots");
    kubeadm_cluster_at(&roots, release);
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
    assert!(
        spec.contains(&format!("kubernetesVersion: {}", release.version())),
        "{release:?}: the version is carried:\n{spec}"
    );
    for carried in [
        // The paths of the files the apiservers name, and the audit log settings.
        "configPath: /etc/kubernetes/enc/enc.yaml",
        "policyPath: /etc/kubernetes/audit/policy.yaml",
        "policyFile: cluster.audit-policy.yaml",
        "logPath: /var/log/kubernetes/audit/audit.log",
        "maxAge: 7",
        "maxBackups: 5",
        "maxSize: 50",
        // kubeadm's --etcd-servers and its kube-proxy DaemonSet.
        "apiServerEndpoints: local",
        "external: true",
        // The kubelet's configuration.
        "cgroupDriver: systemd",
    ] {
        assert!(spec.contains(carried), "`{carried}` is carried:\n{spec}");
    }
    assert_eq!(
        read(&temp.path().join("cluster.audit-policy.yaml")),
        AUDIT_POLICY_TEXT,
        "the audit policy is kept byte for byte"
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
        let reason = change["reason"].as_str().unwrap();
        assert!(!reason.is_empty(), "{change}");
        // Every flag a static pod changes is one kcompile adds on purpose, with its reason.
        assert!(
            !reason.contains("which adopt does not intend"),
            "no flag of the cluster changes: {change}"
        );
    }
    for (host, path, action) in &reported {
        assert_ne!(
            path, ENCRYPTION_CONFIG,
            "{host}: the EncryptionConfiguration stays as it is ({action})"
        );
        if path == AUDIT_POLICY {
            assert!(
                listing.contains(&format!("{host}\"/\"{AUDIT_POLICY}\": \"the cluster's audit policy, as it was; mode 0644 → 0600")),
                "{host}: only the policy's mode changes:\n{listing}"
            );
        }
    }
    eprintln!("{listing}");
}

/// Copies the pristine cluster `from` to `to` (modes kept).
fn copy_tree(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp is installed");
    assert!(status.success());
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = read(path);
    assert!(text.contains(from), "{}: no `{from}`", path.display());
    write(path, text.replace(from, to));
}

fn apiserver(dir: &Path, host: &str) -> std::path::PathBuf {
    dir.join("roots")
        .join(host)
        .join("etc/kubernetes/manifests/kube-apiserver.yaml")
}

/// One refusal: what is done to a copy of the cluster (in the test's directory, the roots under
/// `roots/`), and what adopt must say.
type Refusal = (&'static str, fn(&Path), &'static str);

const REFUSALS: [Refusal; 9] = [
    (
        "no host at all",
        |dir| {
            std::fs::remove_dir_all(dir.join("roots")).unwrap();
            std::fs::create_dir_all(dir.join("roots")).unwrap();
        },
        "holds no host folder",
    ),
    (
        "an EncryptionConfiguration that differs between control planes",
        |dir| {
            write(
                &dir.join("roots/cp-1").join(ENCRYPTION_CONFIG),
                encryption_config()
                    .replace("      - aescbc:", "      - identity: {}\n      - aescbc:"),
            );
        },
        "cp-2/etc/kubernetes/enc/enc.yaml: cannot be adopted: differs from the first control plane's EncryptionConfiguration",
    ),
    (
        "an EncryptionConfiguration that does not encrypt with a local key",
        |dir| {
            for (name, _) in CONTROL_PLANES {
                write(
                    &dir.join("roots").join(name).join(ENCRYPTION_CONFIG),
                    encryption_config()
                        .replace("      - aescbc:", "      - identity: {}\n      - aescbc:"),
                );
            }
        },
        "cp-1/etc/kubernetes/enc/enc.yaml: cannot be adopted: its first entry writes with `identity`",
    ),
    (
        "an audit policy that differs between control planes",
        |dir| {
            edit(
                &dir.join("roots/cp-2").join(AUDIT_POLICY),
                "level: Metadata",
                "level: Request",
            );
        },
        "cp-2/etc/kubernetes/audit/policy.yaml: cannot be adopted: differs from the first control plane's audit policy",
    ),
    (
        "an audit policy at another path on one control plane",
        |dir| {
            edit(
                &apiserver(dir, "cp-3"),
                "--audit-policy-file=/etc/kubernetes/audit/policy.yaml",
                "--audit-policy-file=/etc/kubernetes/audit/other.yaml",
            );
        },
        "cp-3/etc/kubernetes/manifests/kube-apiserver.yaml: cannot be adopted: --audit-policy-file=/etc/kubernetes/audit/other.yaml, while cp-1/etc/kubernetes/audit/policy.yaml names /etc/kubernetes/audit/policy.yaml",
    ),
    (
        "an audit policy without a log file",
        |dir| {
            for (name, _) in CONTROL_PLANES {
                edit(
                    &apiserver(dir, name),
                    "    - --audit-log-path=/var/log/kubernetes/audit/audit.log\n",
                    "",
                );
            }
        },
        "cp-1/etc/kubernetes/manifests/kube-apiserver.yaml: cannot be adopted: --audit-policy-file without --audit-log-path",
    ),
    (
        "a worker without a node address",
        |dir| {
            edit(
                &dir.join("roots/node-1/var/lib/kubelet/kubeadm-flags.env"),
                "--node-ip=192.168.56.31 ",
                "",
            );
        },
        "node-1/var/lib/kubelet/kubeadm-flags.env: cannot be adopted: no node address",
    ),
    (
        "an existing spec",
        |dir| write(&dir.join("cluster.yaml"), "mine\n"),
        "`cluster.yaml` exists; adopt writes a new spec and never overwrites one",
    ),
    (
        "another file where adopt keeps the audit policy",
        |dir| write(&dir.join("cluster.audit-policy.yaml"), "mine\n"),
        "`cluster.audit-policy.yaml` exists; adopt keeps the cluster's audit policy there and never overwrites a file",
    ),
];

#[test]
fn what_adopt_cannot_take_over_stops_it_naming_the_file_and_writing_nothing() {
    let pristine = tempfile::tempdir().unwrap();
    kubeadm_cluster(&pristine.path().join("roots"));
    for (case, setup, expected) in REFUSALS {
        let temp = tempfile::tempdir().unwrap();
        copy_tree(&pristine.path().join("roots"), temp.path());
        setup(temp.path());
        let before = read_dir_names(temp.path());
        let output = run_kcompile(
            temp.path(),
            &["adopt", "--roots", "roots", "-f", "cluster.yaml"],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{case}: {stderr}");
        assert!(stderr.contains(expected), "{case}: {stderr}");
        for (_, secret) in ENCRYPTION_KEYS {
            assert!(
                !stderr.contains(secret),
                "{case}: no key in the message: {stderr}"
            );
        }
        assert_eq!(
            read_dir_names(temp.path()),
            before,
            "{case}: nothing is written (no spec, policy or state)"
        );
    }
}

fn read_dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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
        read(&temp.path().join(out).join("cp-1").join(ENCRYPTION_CONFIG))
    };
    // Every key in its order, under its own name, the one that encrypted first: what the
    // cluster had, byte for byte, at its path.
    let config = build("out");
    assert_eq!(config, encryption_config(), "the cluster's file, as it was");
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
