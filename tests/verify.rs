//! `kcompile verify` on compiled hosts: every host of every example passes (as a tree and as a
//! tar), and each planted fault — a SAN removed, a client certificate from the wrong CA, an
//! unmounted or removed flag, the front-proxy CA or the service-account key replaced by the
//! cluster CA's — fails with a message that names it; unreadable inputs exit 2, without a panic.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use assert_cmd::Command;
use base64::Engine;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

fn kcompile(dir: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("kcompile")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Builds every host of `example` under `dir/out/<host>/` (and `--format tar` under `dir/tar/`).
fn build(dir: &Path, example: &Path, tar: bool) {
    let example = example.to_str().unwrap();
    let mut args = vec!["build", "-f", example, "--state", "state", "--all"];
    args.extend(["--out", "out"]);
    let output = kcompile(dir, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    if tar {
        args.truncate(args.len() - 2);
        args.extend(["--out", "tar", "--format", "tar"]);
        let output = kcompile(dir, &args);
        assert!(output.status.success(), "{}", stderr(&output));
    }
}

/// The HA example, built once for every fault test.
fn ha() -> &'static Path {
    static BUILT: OnceLock<tempfile::TempDir> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            build(
                dir.path(),
                &Path::new(EXAMPLES).join("ha-3-masters.yaml"),
                false,
            );
            dir
        })
        .path()
}

/// A private copy of one HA host's tree, to plant a fault in.
struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Host {
    fn copy(name: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        copy_tree(&ha().join("out").join(name), &root);
        Host { _dir: dir, root }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.path(relative), contents).unwrap();
    }

    /// Copies a file of another HA host over one of this host.
    fn take_from(&self, other: &str, relative: &str) {
        std::fs::copy(
            ha().join("out").join(other).join(relative),
            self.path(relative),
        )
        .unwrap();
    }

    /// Adds a flag to a static pod's command, after its first flag.
    fn add_flag(&self, pod: &str, flag: &str) {
        let path = format!("etc/kubernetes/manifests/{pod}.yaml");
        let text = self.read(&path);
        let binary = format!("    - {pod}\n");
        assert!(text.contains(&binary), "{path} runs {pod}");
        self.write(
            &path,
            text.replacen(&binary, &format!("{binary}    - {flag}\n"), 1),
        );
    }

    /// The PEM of a kubeconfig's embedded `field` (`client-certificate-data`).
    fn embedded(&self, kubeconfig: &str, field: &str) -> Vec<u8> {
        let text = self.read(kubeconfig);
        let line = text
            .lines()
            .find_map(|line| line.trim().strip_prefix(&format!("{field}: ")))
            .unwrap_or_else(|| panic!("{kubeconfig} has {field}"));
        base64::engine::general_purpose::STANDARD
            .decode(line.trim())
            .unwrap()
    }

    fn verify(&self) -> Output {
        let root = self.root.to_str().unwrap();
        kcompile(&self.root, &["verify", "--root", root])
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Asserts exit 1 and an error line naming `file` that contains every one of `words`.
fn fails_with(output: &Output, file: &str, words: &[&str]) {
    let text = stdout(output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(output));
    let found = text.lines().any(|line| {
        line.starts_with("error: ")
            && line.contains(file)
            && words.iter().all(|word| line.contains(word))
    });
    assert!(found, "no error on {file} with {words:?}:\n{text}");
    assert!(!stderr(output).contains("panicked"), "{}", stderr(output));
}

#[test]
fn every_host_of_every_example_passes() {
    let mut examples: Vec<PathBuf> = std::fs::read_dir(EXAMPLES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "{examples:?}");
    for (index, example) in examples.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let with_tar = index == 0;
        build(dir.path(), example, with_tar);
        let mut hosts = 0;
        for entry in std::fs::read_dir(dir.path().join("out")).unwrap() {
            let root = entry.unwrap().path();
            let output = kcompile(dir.path(), &["verify", "--root", root.to_str().unwrap()]);
            let text = stdout(&output);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}: {text}{}",
                root.display(),
                stderr(&output)
            );
            assert!(
                text.contains("\n0 errors, ") || text.starts_with("0 errors, "),
                "{text}"
            );
            hosts += 1;
        }
        assert!(hosts > 0, "{}", example.display());
        if with_tar {
            let tar = std::fs::read_dir(dir.path().join("tar"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            let output = kcompile(dir.path(), &["verify", tar.to_str().unwrap()]);
            let text = stdout(&output);
            assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
            assert!(text.starts_with("0 errors, "), "{text}");
        }
    }
}

#[test]
fn the_summary_counts_certificates_and_pods() {
    let host = Host::copy("master01");
    let output = host.verify();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let summary = text.lines().last().unwrap();
    assert!(summary.starts_with("0 errors, 0 warnings ("), "{summary}");
    assert!(
        summary.contains("certificates, 5 pods checked)"),
        "{summary}"
    );
}

#[test]
fn a_san_missing_from_the_apiserver_certificate_is_named() {
    let host = Host::copy("master01");
    // master02's certificate lacks master01's address.
    host.take_from("master02", "etc/kubernetes/pki/apiserver.crt");
    host.take_from("master02", "etc/kubernetes/pki/apiserver.key");
    fails_with(
        &host.verify(),
        "pki/apiserver.crt",
        &["lacks the SAN IP:10.0.0.11", "--advertise-address"],
    );
}

#[test]
fn a_front_proxy_client_signed_by_the_cluster_ca_is_refused() {
    let host = Host::copy("master01");
    let cert = host.embedded("etc/kubernetes/admin.conf", "client-certificate-data");
    let key = host.embedded("etc/kubernetes/admin.conf", "client-key-data");
    host.write("etc/kubernetes/pki/front-proxy-client.crt", cert);
    host.write("etc/kubernetes/pki/front-proxy-client.key", key);
    let output = host.verify();
    fails_with(
        &output,
        "pki/front-proxy-client.crt",
        &[
            "--proxy-client-cert-file",
            "does not chain to --requestheader-client-ca-file",
        ],
    );
    fails_with(
        &output,
        "pki/front-proxy-client.crt",
        &["CN=kubernetes-admin", "--requestheader-allowed-names"],
    );
}

#[test]
fn an_etcd_client_certificate_from_the_cluster_ca_is_refused() {
    let host = Host::copy("master01");
    let cert = host.embedded("etc/kubernetes/admin.conf", "client-certificate-data");
    let key = host.embedded("etc/kubernetes/admin.conf", "client-key-data");
    host.write("etc/kubernetes/pki/apiserver-etcd-client.crt", cert);
    host.write("etc/kubernetes/pki/apiserver-etcd-client.key", key);
    fails_with(
        &host.verify(),
        "pki/apiserver-etcd-client.crt",
        &["--etcd-certfile", "does not chain to --etcd-cafile"],
    );
}

#[test]
fn an_unmounted_flag_path_is_found() {
    let host = Host::copy("master01");
    host.add_flag(
        "kube-apiserver",
        "--admission-control-config-file=/opt/x.yaml",
    );
    fails_with(
        &host.verify(),
        "manifests/kube-apiserver.yaml",
        &["--admission-control-config-file=/opt/x.yaml", "not mounted"],
    );
}

#[test]
fn a_mounted_but_missing_file_is_found() {
    let host = Host::copy("master01");
    std::fs::remove_file(host.path("etc/kubernetes/encryption-config.yaml")).unwrap();
    fails_with(
        &host.verify(),
        "manifests/kube-apiserver.yaml",
        &["--encryption-provider-config", "does not exist"],
    );
}

#[test]
fn a_removed_flag_names_the_version_that_removed_it() {
    let host = Host::copy("master01");
    host.add_flag("kube-apiserver", "--insecure-port=0");
    fails_with(
        &host.verify(),
        "manifests/kube-apiserver.yaml",
        &["--insecure-port", "removed in v1.24"],
    );
}

#[test]
fn an_etcd_flag_no_release_registers_is_refused() {
    let host = Host::copy("master01");
    host.add_flag("etcd", "--wait-cluster-ready-timeout=30s");
    fails_with(
        &host.verify(),
        "manifests/etcd.yaml",
        &["--wait-cluster-ready-timeout", "no release registers it"],
    );
}

#[test]
fn a_feature_gate_newer_than_the_host_names_the_version_that_added_it() {
    let host = Host::copy("master01");
    host.add_flag("kube-apiserver", "--feature-gates=EtcdRangeStream=true");
    fails_with(
        &host.verify(),
        "manifests/kube-apiserver.yaml",
        &["feature gate EtcdRangeStream", "arrived in v1.37"],
    );
}

#[test]
fn a_misspelled_flag_gets_a_suggestion() {
    let host = Host::copy("master01");
    host.add_flag("kube-apiserver", "--audit-log-maxage2=3");
    fails_with(
        &host.verify(),
        "manifests/kube-apiserver.yaml",
        &["--audit-log-maxage2", "did you mean"],
    );
}

#[test]
fn the_cluster_ca_as_front_proxy_ca_is_refused() {
    let host = Host::copy("master01");
    let ca = host.read("etc/kubernetes/pki/ca.crt");
    host.write("etc/kubernetes/pki/front-proxy-ca.crt", ca);
    fails_with(
        &host.verify(),
        "pki/front-proxy-ca.crt",
        &["front-proxy CA", "is the cluster CA"],
    );
}

#[test]
fn the_cluster_ca_key_as_service_account_key_is_refused() {
    let host = Host::copy("master01");
    let key = host.read("etc/kubernetes/pki/ca.key");
    host.write("etc/kubernetes/pki/sa.key", key);
    let output = host.verify();
    fails_with(
        &output,
        "pki/sa.key",
        &["private key of the CA", "pki/ca.crt"],
    );
    fails_with(&output, "pki/sa.key", &["--service-account-key-file"]);
}

#[test]
fn a_kubeconfig_with_the_wrong_identity_is_refused() {
    let host = Host::copy("master01");
    let scheduler = host.read("etc/kubernetes/scheduler.conf");
    host.write("etc/kubernetes/controller-manager.conf", scheduler);
    fails_with(
        &host.verify(),
        "controller-manager.conf",
        &["CN=system:kube-scheduler", "system:kube-controller-manager"],
    );
}

#[test]
fn an_etcd_peer_certificate_for_another_member_is_refused() {
    let host = Host::copy("master01");
    host.take_from("master02", "etc/kubernetes/pki/etcd/peer.crt");
    host.take_from("master02", "etc/kubernetes/pki/etcd/peer.key");
    fails_with(
        &host.verify(),
        "pki/etcd/peer.crt",
        &["lacks the SAN IP:10.0.0.11", "--initial-cluster"],
    );
}

#[test]
fn a_certificate_that_does_not_match_its_key_is_found() {
    let host = Host::copy("master01");
    host.take_from("master02", "etc/kubernetes/pki/apiserver.key");
    fails_with(
        &host.verify(),
        "pki/apiserver.crt",
        &["does not match its key"],
    );
}

#[test]
fn certificates_expiring_within_the_horizon_are_warnings() {
    let host = Host::copy("worker01");
    let root = host.root.to_str().unwrap();
    let output = kcompile(
        &host.root,
        &["verify", "--root", root, "--warn-within", "36500d"],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning: ") && l.contains("expires on")),
        "{text}"
    );
    let output = kcompile(
        &host.root,
        &["verify", "--root", root, "--warn-within", "soon"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn a_corrupt_certificate_is_an_error_that_names_it() {
    let host = Host::copy("master01");
    host.write(
        "etc/kubernetes/pki/etcd/server.crt",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    host.write("etc/kubernetes/pki/apiserver.crt", [0u8, 159, 146, 150]);
    let output = host.verify();
    fails_with(
        &output,
        "pki/etcd/server.crt",
        &["is not a valid certificate"],
    );
    fails_with(
        &output,
        "pki/apiserver.crt",
        &["is not a valid certificate"],
    );
}

#[test]
fn a_symlink_out_of_the_root_is_a_warning_and_not_followed() {
    let host = Host::copy("worker01");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("stolen.crt");
    std::fs::write(&target, "not a certificate").unwrap();
    std::os::unix::fs::symlink(&target, host.path("etc/kubernetes/pki/stolen.crt")).unwrap();
    std::os::unix::fs::symlink(outside.path(), host.path("etc/kubernetes/elsewhere")).unwrap();
    let output = host.verify();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for name in ["pki/stolen.crt", "etc/kubernetes/elsewhere"] {
        assert!(
            text.lines().any(|l| l.starts_with("warning: ")
                && l.contains(name)
                && l.contains("outside the root: not followed")),
            "{name}: {text}"
        );
    }
    assert!(!text.contains("not a valid certificate"), "{text}");
}

#[test]
fn a_missing_root_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = kcompile(dir.path(), &["verify", "--root", "no-such-root"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no-such-root"),
        "{}",
        stderr(&output)
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = kcompile(dir.path(), &["verify", "--root", empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("holds none of the files"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_file_that_is_not_a_tar_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("bundle.tar");
    std::fs::write(
        &fake,
        "this is not a tar archive, just a line of text\n".repeat(20),
    )
    .unwrap();
    let output = kcompile(dir.path(), &["verify", "bundle.tar"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("is not a tar archive"),
        "{}",
        stderr(&output)
    );
    let output = kcompile(dir.path(), &["verify", "missing.tar"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing.tar"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_backup_pod_and_a_corrupt_manifest_are_reported() {
    let host = Host::copy("master01");
    let pod = host.read("etc/kubernetes/manifests/kube-scheduler.yaml");
    host.write("etc/kubernetes/manifests/kube-scheduler.yaml.bak", pod);
    host.write("etc/kubernetes/kcompile/MANIFEST", "garbage line\n");
    let output = host.verify();
    fails_with(
        &output,
        "manifests/kube-scheduler.yaml.bak",
        &["a second kube-scheduler pod", "kube-scheduler.yaml"],
    );
    let text = stdout(&output);
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning: ") && l.contains("MANIFEST is corrupt")),
        "{text}"
    );
}

#[test]
fn json_output_has_every_finding_and_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    build(
        dir.path(),
        &Path::new(EXAMPLES).join("single-node.yaml"),
        false,
    );
    let root = dir.path().join("out/node01");
    let clean = kcompile(
        dir.path(),
        &["verify", "--root", "out/node01", "-o", "json"],
    );
    assert!(clean.status.success(), "{}", stderr(&clean));
    let report: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(report["formatVersion"], 1);
    assert_eq!(report["errors"], 0);
    assert!(report["certificates"].as_u64().unwrap() > 5);
    // A planted fault: the same finding in both formats, and the exit code follows it.
    std::fs::remove_file(root.join("etc/kubernetes/pki/front-proxy-ca.crt")).unwrap();
    let text = kcompile(dir.path(), &["verify", "--root", "out/node01"]);
    let json = kcompile(
        dir.path(),
        &["verify", "--root", "out/node01", "-o", "json"],
    );
    assert_eq!(json.status.code(), Some(1));
    assert_eq!(text.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(
        report["errors"].as_u64().unwrap() as usize,
        findings.iter().filter(|f| f["severity"] == "error").count()
    );
    for finding in findings {
        let line = format!(
            "{}: {}: {}",
            finding["severity"].as_str().unwrap(),
            finding["file"].as_str().unwrap(),
            finding["message"].as_str().unwrap()
        );
        assert!(stdout(&text).contains(&line), "{line}");
    }
}
