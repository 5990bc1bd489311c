//! `validate` accepts every flag and gate the target release registers, hidden and deprecated ones
//! included, and refuses the same name at a release that does not register it: the other half of
//! the `flags-*` / `gates-*` cases in `tests/broken/`.

use crate::common;

/// Writes a one-host spec with `section.extraArgs` set to `args` and runs `validate` on it.
fn validate(kube: &str, section: &str, etcd: Option<&str>, args: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = format!(
        "apiVersion: kcompile.io/v1alpha1\nkind: Cluster\nname: lab\nkubernetesVersion: {kube}\n{section}:\n"
    );
    if let Some(etcd) = etcd {
        spec.push_str(&format!("  version: {etcd}\n"));
    }
    spec.push_str("  extraArgs:\n");
    for (flag, value) in args {
        spec.push_str(&format!("    {flag}: '{value}'\n"));
    }
    spec.push_str(
        "hosts:\n  - name: node01\n    address: 192.168.56.10\n    roles: [control-plane, etcd]\n",
    );
    std::fs::write(dir.path().join("cluster.yaml"), spec).unwrap();
    let output = common::kcompile(dir.path())
        .args(["validate", "-f", "cluster.yaml"])
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn etcd_flags_are_accepted_from_the_release_that_registers_them() {
    let newer = [
        ("max-learners", "2"),
        ("log-format", "json"),
        ("discovery-token", "lab"),
        ("discovery-endpoints", "https://10.0.0.1:2379"),
        ("experimental-warning-unary-request-duration", "300ms"),
    ];
    let (code, stderr) = validate("v1.36.0", "etcd", Some("3.6.9-0"), &newer);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    for (flag, value) in newer {
        let (code, stderr) = validate("v1.33.0", "etcd", Some("3.5.24-0"), &[(flag, value)]);
        assert_eq!(code, 2, "{flag} on etcd 3.5: {stderr}");
        assert!(
            stderr.contains(&format!("etcd flag `--{flag}` arrived in etcd 3.6")),
            "{stderr}"
        );
    }
    // Still registered by 3.7.0: `--snapshot-count` (not deprecated there) and `--max-snapshots`
    // (deprecated, to be removed in 3.8); `--discovery` still by 3.6.
    let (code, stderr) = validate(
        "v1.37.0",
        "etcd",
        Some("3.7.0-0"),
        &[("snapshot-count", "10000"), ("max-snapshots", "5")],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = validate(
        "v1.36.0",
        "etcd",
        Some("3.6.9-0"),
        &[("discovery", "https://discovery.etcd.io/abc")],
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn kubernetes_flags_are_accepted_where_registered_hidden_ones_included() {
    for section in ["apiServer", "controllerManager", "scheduler"] {
        let (code, stderr) = validate(
            "v1.35.0",
            section,
            None,
            &[("min-compatibility-version", "1.34")],
        );
        assert_eq!(code, 0, "{section}: {stderr}");
        let (code, stderr) = validate(
            "v1.34.0",
            section,
            None,
            &[("min-compatibility-version", "1.34")],
        );
        assert_eq!(code, 2, "{section}: {stderr}");
    }
    let cases: [(&str, &[(&str, &str)]); 3] = [
        (
            "apiServer",
            &[("audit-webhook-batch-initial-backoff", "10s")],
        ),
        (
            "controllerManager",
            &[
                ("allow-untagged-cloud", "true"),
                ("node-sync-period", "10s"),
            ],
        ),
        (
            "scheduler",
            &[("pod-max-in-unschedulable-pods-duration", "5m")],
        ),
    ];
    for kube in ["v1.33.0", "v1.37.0"] {
        for (section, args) in cases {
            let (code, stderr) = validate(kube, section, None, args);
            assert_eq!(code, 0, "{kube} {section}: {stderr}");
            assert!(!stderr.contains("warning"), "{kube} {section}: {stderr}");
        }
    }
    let (code, stderr) = validate(
        "v1.36.0",
        "controllerManager",
        None,
        &[("concurrent-service-syncs", "5")],
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn feature_gates_are_accepted_until_the_release_that_removed_them() {
    let (code, stderr) = validate(
        "v1.36.0",
        "apiServer",
        None,
        &[(
            "feature-gates",
            "SidecarContainers=true,ConsistentListFromCache=true,AnyVolumeDataSource=true",
        )],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// The removals read from the kubernetes/kubernetes release notes (`kk-removals.tsv`) refuse a name
/// only from the release that removed it: the accepted half of the `flags-kk-*` cases.
#[test]
fn kubernetes_only_names_are_accepted_until_the_release_notes_remove_them() {
    let (code, stderr) = validate(
        "v1.34.0",
        "kubelet",
        None,
        &[("pod-infra-container-image", "registry.k8s.io/pause:3.10")],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = validate(
        "v1.35.0",
        "kubelet",
        None,
        &[("pod-infra-container-image", "registry.k8s.io/pause:3.10")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("kubelet flag `--pod-infra-container-image` was removed in v1.35"),
        "{stderr}"
    );
    let (code, stderr) = validate(
        "v1.36.0",
        "kubelet",
        None,
        &[("feature-gates", "SidecarContainers=true")],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let (code, stderr) = validate(
        "v1.37.0",
        "kubeProxy",
        None,
        &[
            ("conntrack-min", "131072"),
            ("feature-gates", "SidecarContainers=false"),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("feature gate `SidecarContainers` was removed in v1.37"),
        "{stderr}"
    );
    assert!(!stderr.contains("conntrack-min"), "{stderr}");
}

/// `src/versions/upstream/kk-removals.tsv` is what `scripts/kk_changelog.py` makes of its saved
/// release-note reads (the offline `--check` mode; no mirrors needed).
#[test]
fn the_release_note_removals_are_what_the_script_makes_of_its_reads() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kk_changelog.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg("--check")
        .output()
        .expect("python3 runs scripts/kk_changelog.py");
    assert!(
        output.status.success(),
        "src/versions/upstream/kk-removals.tsv differs from `python3 scripts/kk_changelog.py`: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
