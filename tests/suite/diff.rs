//! `kcompile diff` against real roots: an unpacked bundle diffs clean; a new SAN, a new flag and a
//! minor upgrade show exactly the files and restarts they cause; removals and stray files are
//! found; secrets never appear; bad roots fail clearly.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine;

use crate::common::{self, Spec};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ha-3-masters.yaml");

struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    /// A copy of the HA example with its state, and master01's bundle unpacked into `root`.
    fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(EXAMPLE, dir.path().join("cluster.yaml")).unwrap();
        let cluster = Cluster { dir };
        let tar = cluster.kcompile(&["build", "--host", "master01"]);
        assert!(tar.status.success());
        std::fs::create_dir(cluster.root()).unwrap();
        let mut child = std::process::Command::new("tar")
            .args(["-xpf", "-", "-C"])
            .arg(cluster.root())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &tar.stdout).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        cluster
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn kcompile(&self, args: &[&str]) -> Output {
        common::run_kcompile(self.dir.path(), args)
    }

    fn diff(&self, extra: &[&str]) -> Output {
        let root = self.root();
        let mut args = vec![
            "diff",
            "--host",
            "master01",
            "--root",
            root.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.kcompile(&args)
    }

    /// Edits the spec (`cluster.yaml`).
    fn edit(&self, edit: impl FnOnce(Spec) -> Spec) {
        Spec::edit_file(&self.dir.path().join("cluster.yaml"), edit);
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn an_unpacked_bundle_diffs_clean() {
    let cluster = Cluster::new();
    let output = cluster.diff(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("master01: 0 to add, 0 to change, 0 to remove, "),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "only the summary: {text}");
}

#[test]
fn a_copied_out_tree_diffs_clean() {
    let cluster = Cluster::new();
    assert!(
        cluster
            .kcompile(&["build", "--host", "master01", "--out", "tree"])
            .status
            .success()
    );
    let copy = cluster.dir.path().join("copy");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(cluster.dir.path().join("tree"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let output = cluster.kcompile(&[
        "diff",
        "--host",
        "master01",
        "--root",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

/// Every private key of the state dir, as PEM body lines and as the base64 kubeconfigs embed.
fn key_material(state: &Path) -> Vec<String> {
    let mut material = Vec::new();
    for entry in walkdir::WalkDir::new(state).into_iter().map(|e| e.unwrap()) {
        if entry.path().extension().is_some_and(|e| e == "key") {
            let pem = std::fs::read_to_string(entry.path()).unwrap();
            material.extend(
                pem.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                    .map(str::to_owned),
            );
            material.push(base64::engine::general_purpose::STANDARD.encode(&pem));
        }
    }
    assert!(material.len() > 40);
    material
}

fn assert_no_secrets(text: &str, keys: &[String]) {
    assert!(
        !text.contains("PRIVATE KEY"),
        "a key header leaked:\n{text}"
    );
    for key in keys {
        assert!(!text.contains(key.as_str()), "key material leaked: {key}");
    }
}

#[test]
fn a_san_a_flag_and_an_upgrade_show_their_files_and_restarts() {
    let cluster = Cluster::new();
    cluster.edit(|spec| {
        spec.push("pki.apiServerCertSANs", "api2.prod.example.com")
            .set("apiServer.extraArgs.audit-log-compress", true)
            .set("kubernetesVersion", "v1.37.1")
    });
    let output = cluster.diff(&["--color", "never"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("~ ") || l.starts_with("+ ") || l.starts_with("- "))
        .collect();
    let paths: Vec<&str> = changed
        .iter()
        .map(|l| l[2..].split([':', ' ']).next().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "etc/kubernetes/addons/coredns.yaml",
            "etc/kubernetes/kcompile/MANIFEST",
            "etc/kubernetes/manifests/etcd.yaml",
            "etc/kubernetes/manifests/kube-apiserver.yaml",
            "etc/kubernetes/manifests/kube-controller-manager.yaml",
            "etc/kubernetes/manifests/kube-proxy.yaml",
            "etc/kubernetes/manifests/kube-scheduler.yaml",
            "etc/kubernetes/pki/apiserver.crt",
        ],
        "{text}"
    );
    assert!(text.contains("~ etc/kubernetes/manifests/kube-apiserver.yaml: image registry.k8s.io/kube-apiserver:v1.36.3 → registry.k8s.io/kube-apiserver:v1.37.1; flags +audit-log-compress"), "{text}");
    assert!(text.contains("~ etc/kubernetes/manifests/etcd.yaml: image registry.k8s.io/etcd:3.6.9-0 → registry.k8s.io/etcd:3.7.0-0"), "{text}");
    assert!(
        text.contains("    SANs: +DNS:api2.prod.example.com\n"),
        "{text}"
    );
    assert!(text.contains("    key: unchanged\n"), "{text}");
    for component in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-proxy",
        "kube-scheduler",
    ] {
        assert!(
            text.contains(&format!("restart: {component} restarts (manifest changed)")),
            "{component}: {text}"
        );
    }
    assert!(
        !text.contains("restart: kubelet"),
        "the kubelet's files did not change: {text}"
    );
    assert!(
        text.ends_with("master01: 0 to add, 8 to change, 0 to remove, 35 unchanged.\n")
            || text.contains(", 8 to change, 0 to remove"),
        "{text}"
    );
    assert_no_secrets(
        &text,
        &key_material(&cluster.dir.path().join("cluster.state")),
    );
    // JSON for tools says the same.
    let json: serde_json::Value =
        serde_json::from_slice(&cluster.diff(&["-o", "json"]).stdout).unwrap();
    assert_eq!(json["formatVersion"], 1);
    assert_eq!(json["summary"]["change"], 8);
    assert_eq!(json["restarts"].as_array().unwrap().len(), 5);
}

#[test]
fn new_keys_show_as_fingerprints_only() {
    let cluster = Cluster::new();
    assert!(
        cluster
            .kcompile(&["certs", "renew", "--new-key", "admin", "master01/apiserver"])
            .status
            .success()
    );
    let output = cluster.diff(&[]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("~ etc/kubernetes/pki/apiserver.key: changed (hmac:"),
        "{text}"
    );
    assert!(text.contains("~ etc/kubernetes/admin.conf"), "{text}");
    assert!(text.contains("client-key-data: <hmac:"), "{text}");
    assert!(text.contains("    key: changed\n"), "{text}");
    assert_no_secrets(
        &text,
        &key_material(&cluster.dir.path().join("cluster.state")),
    );
}

#[test]
fn removed_and_unknown_files_are_reported() {
    let cluster = Cluster::new();
    cluster.edit(|spec| spec.set("encryption.enabled", false));
    std::fs::write(
        cluster
            .root()
            .join("etc/kubernetes/manifests/kube-apiserver.yaml.bak"),
        "old",
    )
    .unwrap();
    std::fs::write(
        cluster.root().join("etc/kubernetes/manifests/.swp"),
        "editor",
    )
    .unwrap();
    let text = stdout(&cluster.diff(&[]));
    assert!(
        text.contains("- etc/kubernetes/encryption-config.yaml\n"),
        "{text}"
    );
    assert!(text.contains("? etc/kubernetes/manifests/kube-apiserver.yaml.bak: in the static pod directory: the kubelet runs every file there"), "{text}");
    assert!(
        !text.contains(".swp"),
        "dot files are ignored by the kubelet: {text}"
    );
    assert!(
        text.contains("1 to remove") && text.contains("1 unknown"),
        "{text}"
    );
    let names = stdout(&cluster.diff(&["--name-only"]));
    assert!(names.lines().all(|l| !l.contains(' ')), "{names}");
    assert!(
        names
            .lines()
            .any(|l| l == "etc/kubernetes/encryption-config.yaml"),
        "{names}"
    );
    let stat = stdout(&cluster.diff(&["--stat"]));
    assert!(
        stat.contains("~ etc/kubernetes/manifests/kube-apiserver.yaml | +"),
        "{stat}"
    );
}

#[test]
fn colors_follow_the_choice() {
    let cluster = Cluster::new();
    cluster.edit(|spec| spec.set("apiServer.extraArgs.event-ttl", "5h"));
    assert!(stdout(&cluster.diff(&["--color", "always"])).contains("\x1b["));
    assert!(!stdout(&cluster.diff(&["--color", "never"])).contains("\x1b["));
    assert!(
        !stdout(&cluster.diff(&[])).contains("\x1b["),
        "auto is off when stdout is not a terminal"
    );
}

#[test]
fn bad_roots_fail_or_warn_clearly() {
    let cluster = Cluster::new();
    let missing = cluster.kcompile(&["diff", "--host", "master01", "--root", "no/such/root"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read the root `no/such/root`")
    );

    // A directory where kcompile writes a file.
    let conf = cluster.root().join("etc/kubernetes/admin.conf");
    std::fs::remove_file(&conf).unwrap();
    std::fs::create_dir(&conf).unwrap();
    let output = cluster.diff(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("admin.conf` is a directory"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir(&conf).unwrap();

    // A symlink out of the root is not followed; a corrupt MANIFEST is a warning.
    let outside = cluster.dir.path().join("outside.conf");
    std::fs::write(&outside, "not yours").unwrap();
    std::os::unix::fs::symlink(&outside, &conf).unwrap();
    std::fs::write(
        cluster.root().join("etc/kubernetes/kcompile/MANIFEST"),
        "garbage\n",
    )
    .unwrap();
    let output = cluster.diff(&[]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("warning: `etc/kubernetes/admin.conf` is a symlink pointing outside the root: not followed"), "{text}");
    assert!(
        text.contains("warning: the MANIFEST on the machine is corrupt (line 1:"),
        "{text}"
    );
    assert!(!text.contains("not yours"));
}

#[test]
fn the_tar_leaves_system_directories_alone() {
    let cluster = Cluster::new();
    let tar = cluster.kcompile(&["build", "--host", "worker01"]);
    let mut child = std::process::Command::new("tar")
        .args(["-tvf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &tar.stdout).unwrap();
    drop(child.stdin.take());
    let listing = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let dirs: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with('d'))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert!(dirs.contains(&"etc/kubernetes/"), "{listing}");
    for system in [
        "etc/",
        "var/",
        "var/lib/",
        "etc/systemd/",
        "etc/systemd/system/",
    ] {
        assert!(
            !dirs.contains(&system),
            "unpacking at / would reset {system}: {listing}"
        );
    }
    assert!(
        listing.lines().all(|l| l.contains(" root/root ")),
        "{listing}"
    );
}

#[test]
fn diff_needs_an_existing_state_dir() {
    let cluster = Cluster::new();
    let root = cluster.root();
    let output = cluster.kcompile(&[
        "diff",
        "--host",
        "master01",
        "--root",
        root.to_str().unwrap(),
        "--state",
        "elsewhere",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("error: state dir: there is no state dir `elsewhere`")
    );
    assert!(
        !cluster.dir.path().join("elsewhere").exists(),
        "diff creates no PKI"
    );
}

/// diff reads the state while the spec loads; its errors still come in the order of a sequential
/// run: a broken spec, then an unknown host, then the state.
#[test]
fn spec_and_host_errors_come_before_a_missing_state() {
    let cluster = Cluster::new();
    let root = cluster.root();
    let diff = |host: &str| {
        cluster.kcompile(&[
            "diff",
            "--host",
            host,
            "--root",
            root.to_str().unwrap(),
            "--state",
            "elsewhere",
        ])
    };
    let unknown = diff("nosuch");
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("error: the spec has no host `nosuch`") && !stderr.contains("state dir"),
        "{stderr}"
    );
    cluster.edit(|spec| spec.set("kubernetesVersion", "v9.99.0"));
    let broken = diff("master01");
    assert_eq!(broken.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("error: `v9.99.0` is not a Kubernetes version")
            && stderr.contains("error: the spec has 1 error")
            && !stderr.contains("state dir"),
        "{stderr}"
    );
    assert!(!cluster.dir.path().join("elsewhere").exists());
}
