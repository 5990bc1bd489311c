//! `kcompile verify` on compiled hosts: every host of every example passes (as a tree and as a
//! tar), and each planted fault — a SAN removed, a client certificate from the wrong CA, an
//! unmounted or removed flag, the front-proxy CA or the service-account key replaced by the
//! cluster CA's — fails with a message that names it; unreadable inputs exit 2, without a panic.
//!
//! The same on a control plane laid out as `kubeadm init` leaves it (`tests/kubeadm-host/`, its
//! PKI made by openssl): it passes, and five classes of fault are found in it and in kcompile's
//! bundles alike — a private key or other secret readable by others, an extended key usage that
//! does not fit how the certificate is used, a kubelet client identity that is not this node's,
//! etcd certificates whose SANs miss an advertised or listened URL, and a static pod field the
//! Pod schema does not have. TLS-bootstrap workers pass, before and after they join.

use crate::common::{self, Spec};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use base64::Engine;
use common::run_kcompile;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

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
    let output = run_kcompile(dir, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    if tar {
        args.truncate(args.len() - 2);
        args.extend(["--out", "tar", "--format", "tar"]);
        let output = run_kcompile(dir, &args);
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
        Host::copy_of(&ha().join("out").join(name), name)
    }

    /// A private copy of the kubeadm-made control plane ([`kubeadm`]).
    fn kubeadm() -> Host {
        Host::copy_of(kubeadm_host(), "cp-1")
    }

    fn copy_of(template: &Path, name: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        copy_tree(template, &root);
        Host { _dir: dir, root }
    }

    fn chmod(&self, relative: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.path(relative), std::fs::Permissions::from_mode(mode))
            .unwrap();
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
        run_kcompile(&self.root, &["verify", "--root", root])
    }
}

/// Copies a tree with its modes and owners; links stay links.
fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::MetadataExt;
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let metadata = entry.metadata().unwrap();
            std::os::unix::fs::chown(&target, Some(metadata.uid()), Some(metadata.gid())).unwrap();
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
            let output = run_kcompile(dir.path(), &["verify", "--root", root.to_str().unwrap()]);
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
            let output = run_kcompile(dir.path(), &["verify", tar.to_str().unwrap()]);
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
    let output = run_kcompile(
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
    let output = run_kcompile(
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
    let output = run_kcompile(dir.path(), &["verify", "--root", "no-such-root"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no-such-root"),
        "{}",
        stderr(&output)
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = run_kcompile(dir.path(), &["verify", "--root", empty.to_str().unwrap()]);
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
    let output = run_kcompile(dir.path(), &["verify", "bundle.tar"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("is not a tar archive"),
        "{}",
        stderr(&output)
    );
    let output = run_kcompile(dir.path(), &["verify", "missing.tar"]);
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
    let clean = run_kcompile(
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
    let text = run_kcompile(dir.path(), &["verify", "--root", "out/node01"]);
    let json = run_kcompile(
        dir.path(),
        &["verify", "--root", "out/node01", "-o", "json"],
    );
    assert_eq!(json.status.code(), Some(1));
    assert_eq!(text.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(
        usize::try_from(report["errors"].as_u64().unwrap()).unwrap(),
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

// ---------------------------------------------------------------------------------------------
// A kubeadm-made control plane, and the five classes of fault planted in it and in kcompile's
// own bundles: a private key readable by others, an extended key usage that does not fit, a
// kubelet client identity of another node, etcd SANs that miss a URL, a field the Pod schema
// lacks.

/// kubeadm's files besides its PKI and kubeconfigs (`tests/kubeadm-host/README.md`).
const KUBEADM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kubeadm-host");
/// The kubeadm host's node name and address.
const NODE: &str = "cp-1";
const NODE_IP: &str = "192.168.56.21";
/// The kubelet's dated client certificate and key, and the link to it that kubelet.conf names.
const KUBELET_DATED: &str = "var/lib/kubelet/pki/kubelet-client-2026-01-02-03-04-05.pem";
const KUBELET_CURRENT: &str = "var/lib/kubelet/pki/kubelet-client-current.pem";

fn openssl(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed (.ci/install.sh)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate and key made by openssl, as kubeadm makes them: an ECDSA P-256 key, the
/// subject, and (for a leaf) the extensions given, signed by the CA `ca` (`<ca>.crt` and
/// `<ca>.key` under `dir`); a CA when `ca` is `None`. Writes `<name>.crt` and `<name>.key`.
fn issue(dir: &Path, name: &str, ca: Option<&str>, subject: &str, extensions: &[&str]) {
    let config = dir.join("openssl.cnf");
    if !config.exists() {
        std::fs::write(&config, "[req]\ndistinguished_name = dn\n[dn]\n").unwrap();
    }
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    let mut args = vec![
        "req",
        "-x509",
        "-config",
        "openssl.cnf",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "365",
        "-subj",
        subject,
        "-keyout",
        &key,
        "-out",
        &crt,
    ];
    let (ca_crt, ca_key);
    match ca {
        Some(ca) => {
            ca_crt = format!("{ca}.crt");
            ca_key = format!("{ca}.key");
            args.extend(["-CA", &ca_crt, "-CAkey", &ca_key]);
            args.extend([
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "keyUsage=critical,digitalSignature,keyEncipherment",
            ]);
        }
        None => args.extend([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        ]),
    }
    for extension in extensions {
        args.extend(["-addext", extension]);
    }
    if let Some(parent) = Path::new(&crt).parent() {
        std::fs::create_dir_all(dir.join(parent)).unwrap();
    }
    openssl(dir, &args);
}

/// A kubeconfig as kubeadm writes one: the CA embedded, the client certificate and key embedded
/// (`Ok((cert, key))`) or named by path (`Err(path)`, as kubelet.conf names the kubelet's
/// rotating file).
fn kubeconfig(ca: &[u8], user: &str, client: Result<(&[u8], &[u8]), &str>) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let credentials = match client {
        Ok((cert, key)) => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(cert),
            b64(key)
        ),
        Err(path) => format!("    client-certificate: {path}\n    client-key: {path}\n"),
    };
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: \
         https://{NODE_IP}:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: \
         kubernetes\n    user: {user}\n  name: {user}@kubernetes\ncurrent-context: \
         {user}@kubernetes\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n\
         {credentials}",
        b64(ca)
    )
}

/// The kubeadm-made control plane `cp-1`, built once: kubeadm's manifests and kubelet files
/// (`tests/kubeadm-host/`), its PKI made by openssl with kubeadm's subjects, usages and SANs,
/// the kubeconfigs, the kubelet's self-signed serving certificate and its dated client
/// certificate behind `kubelet-client-current.pem`, `/etc/hostname`, and kubeadm's modes (keys,
/// kubeconfigs and manifests 0600).
fn kubeadm_host() -> &'static Path {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &BUILT
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("root");
            copy_tree(Path::new(KUBEADM), &root);
            std::fs::remove_file(root.join("README.md")).unwrap();
            build_kubeadm_pki(&root);
            (dir, root)
        })
        .1
}

fn build_kubeadm_pki(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let pki = root.join("etc/kubernetes/pki");
    std::fs::create_dir_all(pki.join("etcd")).unwrap();
    let server = "extendedKeyUsage=serverAuth";
    let client = "extendedKeyUsage=clientAuth";
    let both = "extendedKeyUsage=serverAuth,clientAuth";
    let apiserver_sans = format!(
        "subjectAltName=DNS:{NODE},DNS:kubernetes,DNS:kubernetes.default,\
         DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,\
         IP:{NODE_IP}"
    );
    let etcd_sans = format!(
        "subjectAltName=DNS:{NODE},DNS:localhost,IP:{NODE_IP},IP:127.0.0.1,IP:0:0:0:0:0:0:0:1"
    );
    issue(&pki, "ca", None, "/CN=kubernetes", &[]);
    issue(&pki, "front-proxy-ca", None, "/CN=front-proxy-ca", &[]);
    issue(&pki, "etcd/ca", None, "/CN=etcd-ca", &[]);
    issue(
        &pki,
        "apiserver",
        Some("ca"),
        "/CN=kube-apiserver",
        &[server, &apiserver_sans],
    );
    issue(
        &pki,
        "apiserver-kubelet-client",
        Some("ca"),
        "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client",
        &[client],
    );
    issue(
        &pki,
        "apiserver-etcd-client",
        Some("etcd/ca"),
        "/CN=kube-apiserver-etcd-client",
        &[client],
    );
    issue(
        &pki,
        "front-proxy-client",
        Some("front-proxy-ca"),
        "/CN=front-proxy-client",
        &[client],
    );
    issue(
        &pki,
        "etcd/server",
        Some("etcd/ca"),
        &format!("/CN={NODE}"),
        &[both, &etcd_sans],
    );
    issue(
        &pki,
        "etcd/peer",
        Some("etcd/ca"),
        &format!("/CN={NODE}"),
        &[both, &etcd_sans],
    );
    issue(
        &pki,
        "etcd/healthcheck-client",
        Some("etcd/ca"),
        "/CN=kube-etcd-healthcheck-client",
        &[client],
    );
    openssl(&pki, &["genrsa", "-traditional", "-out", "sa.key", "2048"]);
    openssl(&pki, &["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);

    // Kubeconfigs: client certificates from the cluster CA, issued in a scratch directory.
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path();
    std::fs::copy(pki.join("ca.crt"), work.join("ca.crt")).unwrap();
    std::fs::copy(pki.join("ca.key"), work.join("ca.key")).unwrap();
    let ca = std::fs::read(pki.join("ca.crt")).unwrap();
    for (file, user, subject) in [
        (
            "admin.conf",
            "kubernetes-admin",
            "/O=kubeadm:cluster-admins/CN=kubernetes-admin",
        ),
        (
            "super-admin.conf",
            "kubernetes-super-admin",
            "/O=system:masters/CN=kubernetes-super-admin",
        ),
        (
            "controller-manager.conf",
            "system:kube-controller-manager",
            "/CN=system:kube-controller-manager",
        ),
        (
            "scheduler.conf",
            "system:kube-scheduler",
            "/CN=system:kube-scheduler",
        ),
    ] {
        issue(work, user, Some("ca"), subject, &[client]);
        let cert = std::fs::read(work.join(format!("{user}.crt"))).unwrap();
        let key = std::fs::read(work.join(format!("{user}.key"))).unwrap();
        std::fs::write(
            root.join("etc/kubernetes").join(file),
            kubeconfig(&ca, user, Ok((&cert, &key))),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("etc/kubernetes/kubelet.conf"),
        kubeconfig(&ca, "default-auth", Err(&format!("/{KUBELET_CURRENT}"))),
    )
    .unwrap();
    kubelet_client(
        root,
        &format!("/O=system:nodes/CN=system:node:{NODE}"),
        client,
    );
    std::os::unix::fs::symlink(format!("/{KUBELET_DATED}"), root.join(KUBELET_CURRENT)).unwrap();

    // The kubelet's self-signed serving certificate: its own CA, the leaf then the CA in one file.
    issue(
        work,
        "kubelet-ca",
        None,
        &format!("/CN={NODE}-ca@1767323045"),
        &[],
    );
    issue(
        work,
        "kubelet",
        Some("kubelet-ca"),
        &format!("/CN={NODE}@1767323045"),
        &[server, &format!("subjectAltName=DNS:{NODE}")],
    );
    let mut serving = std::fs::read(work.join("kubelet.crt")).unwrap();
    serving.extend(std::fs::read(work.join("kubelet-ca.crt")).unwrap());
    let kubelet_pki = root.join("var/lib/kubelet/pki");
    std::fs::write(kubelet_pki.join("kubelet.crt"), serving).unwrap();
    std::fs::copy(work.join("kubelet.key"), kubelet_pki.join("kubelet.key")).unwrap();
    std::fs::write(root.join("etc/hostname"), format!("{NODE}\n")).unwrap();
    std::fs::remove_file(pki.join("openssl.cnf")).unwrap();

    // kubeadm's modes.
    for entry in walkdir(root) {
        let name = entry.to_string_lossy();
        let private = name.ends_with(".key")
            || name.ends_with(".conf")
            || name.contains("/manifests/")
            || name.ends_with(KUBELET_DATED);
        let mode = if private { 0o600 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Writes the kubelet's dated client certificate and key (one file), issued for `subject` by
/// the kubeadm host's cluster CA.
fn kubelet_client(root: &Path, subject: &str, usage: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let pki = root.join("etc/kubernetes/pki");
    std::fs::copy(pki.join("ca.crt"), scratch.path().join("ca.crt")).unwrap();
    std::fs::copy(pki.join("ca.key"), scratch.path().join("ca.key")).unwrap();
    issue(
        scratch.path(),
        "kubelet-client",
        Some("ca"),
        subject,
        &[usage],
    );
    let mut pem = std::fs::read(scratch.path().join("kubelet-client.crt")).unwrap();
    pem.extend(std::fs::read(scratch.path().join("kubelet-client.key")).unwrap());
    std::fs::create_dir_all(root.join("var/lib/kubelet/pki")).unwrap();
    std::fs::write(root.join(KUBELET_DATED), pem).unwrap();
}

/// Every regular file under `dir` (links not followed).
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files.extend(walkdir(&entry.path()));
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files
}

/// A certificate and key (PEM) issued by the CA at `ca_crt`/`ca_key` for `subject`, with
/// `extensions`.
fn issued(ca_crt: &Path, ca_key: &Path, subject: &str, extensions: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::copy(ca_crt, scratch.path().join("ca.crt")).unwrap();
    std::fs::copy(ca_key, scratch.path().join("ca.key")).unwrap();
    issue(scratch.path(), "leaf", Some("ca"), subject, extensions);
    (
        std::fs::read(scratch.path().join("leaf.crt")).unwrap(),
        std::fs::read(scratch.path().join("leaf.key")).unwrap(),
    )
}

impl Host {
    /// Replaces `pki/<name>.{crt,key}` with a certificate issued by the CA at `ca_crt`/`ca_key`
    /// (in the tree for kubeadm, in the state for kcompile) for `subject` with `extensions`.
    fn reissue(
        &self,
        name: &str,
        ca_crt: &Path,
        ca_key: &Path,
        subject: &str,
        extensions: &[&str],
    ) {
        let (cert, key) = issued(ca_crt, ca_key, subject, extensions);
        self.write(&format!("etc/kubernetes/pki/{name}.crt"), cert);
        self.write(&format!("etc/kubernetes/pki/{name}.key"), key);
    }

    /// As [`Host::reissue`], from the kubeadm host's own CA `ca` (`ca`, `etcd/ca`).
    fn reissue_kubeadm(&self, name: &str, ca: &str, subject: &str, extensions: &[&str]) {
        let pki = self.path("etc/kubernetes/pki");
        self.reissue(
            name,
            &pki.join(format!("{ca}.crt")),
            &pki.join(format!("{ca}.key")),
            subject,
            extensions,
        );
    }
}

/// Asserts exit 0 and no error.
fn passes(output: &Output) {
    let text = stdout(output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(output));
    assert!(!text.contains("error: "), "{text}");
}

#[test]
fn a_kubeadm_made_control_plane_passes() {
    let host = Host::kubeadm();
    let output = host.verify();
    passes(&output);
    let text = stdout(&output);
    assert!(text.ends_with("certificates, 4 pods checked)\n"), "{text}");
    // Only the version tables may warn (a pin kcompile moves); none of the checks of the files.
    for line in text.lines().filter(|l| l.starts_with("warning: ")) {
        assert!(line.contains("is not supported"), "{text}");
    }
}

/// Gives the file at `relative` of `host` to `uid:gid`.
fn chown(host: &Host, relative: &str, uid: u32, gid: u32) {
    std::os::unix::fs::chown(host.path(relative), Some(uid), Some(gid)).unwrap();
}

#[test]
fn a_rootless_pod_reads_exactly_the_files_its_flags_name() {
    // The hardened build passes as built (every_host_of_every_example_passes); its owners are
    // the rootless users: etcd 64101, kube-apiserver 64102, the shared group 64100.
    let host = Host::copy("master01");
    let key = "etc/kubernetes/pki/apiserver.key";
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(host.path(key)).unwrap());
    assert_eq!(
        owner, 64102,
        "the hardened build gives apiserver.key to kube-apiserver"
    );
    passes(&host.verify());

    // A key owned by another uid: kube-apiserver cannot read it, etcd can read a key it does
    // not mount.
    chown(&host, key, 64101, 64101);
    let output = host.verify();
    fails_with(
        &output,
        "pki/apiserver.key",
        &[
            "kube-apiserver runs as uid 64102, gid 64102, supplemental groups 64100 and cannot \
             read this file, which --tls-private-key-file names (owner 64101:64101, mode 0600)",
            "kube-apiserver fails to start; `chown 64102:64102 ",
        ],
    );
    fails_with(
        &output,
        "pki/apiserver.key",
        &[
            "holds a private key that etcd does not mount, yet etcd (uid 64101, gid 64101) can \
           read it as its owner (owner 64101:64101, mode 0600)",
        ],
    );

    // The shared key group-readable by the wrong group: neither of its readers has the group,
    // and kube-scheduler, whose group it is, can read a key it does not need.
    let host = Host::copy("master01");
    chown(&host, "etc/kubernetes/pki/sa.key", 0, 64104);
    let output = host.verify();
    for (binary, flag) in [
        ("kube-apiserver", "service-account-signing-key-file"),
        (
            "kube-controller-manager",
            "service-account-private-key-file",
        ),
    ] {
        fails_with(
            &output,
            "pki/sa.key",
            &[
                &format!("{binary} runs as"),
                &format!("cannot read this file, which --{flag} names (owner 0:64104, mode 0640)"),
            ],
        );
    }
    fails_with(
        &output,
        "pki/sa.key",
        &[
            "holds the service-account signing key that kube-scheduler does not mount, yet \
           kube-scheduler (uid 64104, gid 64104) can read it as its group",
        ],
    );
    let text = stdout(&output);
    assert!(text.contains("\n3 errors, "), "{text}");

    // The same in a bundle tar, whose headers carry the numeric owners.
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("master01.tar");
    let status = std::process::Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(&host.root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let output = run_kcompile(dir.path(), &["verify", tar.to_str().unwrap()]);
    fails_with(
        &output,
        "/etc/kubernetes/pki/sa.key",
        &["kube-scheduler (uid 64104, gid 64104) can read it as its group"],
    );
}

#[test]
fn a_private_key_readable_by_others_is_refused() {
    // kubeadm: sa.key and admin.conf world-readable, ca.key group-readable.
    let host = Host::kubeadm();
    host.chmod("etc/kubernetes/pki/sa.key", 0o644);
    host.chmod("etc/kubernetes/pki/ca.key", 0o640);
    host.chmod("etc/kubernetes/admin.conf", 0o644);
    host.chmod(KUBELET_DATED, 0o604);
    let output = host.verify();
    fails_with(
        &output,
        "pki/sa.key",
        &[
            "holds the service-account signing key and has mode 0644, readable by every user",
            "make it 0600 (`chmod 600 ",
        ],
    );
    fails_with(
        &output,
        "pki/ca.key",
        &["holds a private key and has mode 0640, readable by its group"],
    );
    fails_with(
        &output,
        "etc/kubernetes/admin.conf",
        &["holds a client key (client-key-data) and has mode 0644"],
    );
    // Through the link kubelet.conf names, and by its own name.
    fails_with(
        &output,
        "kubelet-client-current.pem",
        &["holds a private key", "mode 0604"],
    );
    // kcompile: the encryption config and an etcd key.
    let host = Host::copy("master01");
    host.chmod("etc/kubernetes/encryption-config.yaml", 0o644);
    host.chmod("etc/kubernetes/pki/etcd/peer.key", 0o660);
    let output = host.verify();
    fails_with(
        &output,
        "etc/kubernetes/encryption-config.yaml",
        &[
            "holds the encryption-at-rest keys and has mode 0644",
            "decrypt every Secret",
        ],
    );
    fails_with(
        &output,
        "pki/etcd/peer.key",
        &["holds a private key and has mode 0660"],
    );
    // The same from a tar of the tree: the modes come from its headers.
    let archive = host.root.with_extension("tar");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&host.root)
        .arg("-cf")
        .arg(&archive)
        .args(["etc", "var"])
        .status()
        .expect("tar is installed");
    assert!(status.success());
    fails_with(
        &run_kcompile(&host.root, &["verify", archive.to_str().unwrap()]),
        "/etc/kubernetes/pki/etcd/peer.key",
        &["holds a private key and has mode 0660"],
    );
    // The same findings in JSON, and the exit code follows them.
    let root = host.root.to_str().unwrap();
    let json = run_kcompile(&host.root, &["verify", "--root", root, "-o", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(report["findings"].as_array().unwrap().iter().any(|f| {
        f["severity"] == "error"
            && f["file"].as_str().unwrap().ends_with("pki/etcd/peer.key")
            && f["message"].as_str().unwrap().contains("mode 0660")
    }));
}

#[test]
fn a_client_only_certificate_served_and_a_server_only_one_presented_are_refused() {
    let host = Host::kubeadm();
    let sans = format!("subjectAltName=DNS:kubernetes.default.svc,IP:10.96.0.1,IP:{NODE_IP}");
    host.reissue_kubeadm(
        "apiserver",
        "ca",
        "/CN=kube-apiserver",
        &["extendedKeyUsage=clientAuth", &sans],
    );
    host.reissue_kubeadm(
        "apiserver-etcd-client",
        "etcd/ca",
        "/CN=kube-apiserver-etcd-client",
        &["extendedKeyUsage=serverAuth"],
    );
    let etcd_sans = format!("subjectAltName=DNS:localhost,IP:{NODE_IP},IP:127.0.0.1");
    host.reissue_kubeadm(
        "etcd/peer",
        "etcd/ca",
        &format!("/CN={NODE}"),
        &["extendedKeyUsage=serverAuth", &etcd_sans],
    );
    let output = host.verify();
    fails_with(
        &output,
        "pki/apiserver.crt",
        &[
            "kube-apiserver's --tls-cert-file (CN=kube-apiserver) is served to TLS clients",
            "extended key usage is clientAuth, without serverAuth",
            "incompatible key usage",
        ],
    );
    fails_with(
        &output,
        "pki/apiserver-etcd-client.crt",
        &[
            "--etcd-certfile",
            "presented as a client certificate",
            "without clientAuth",
        ],
    );
    fails_with(
        &output,
        "pki/etcd/peer.crt",
        &[
            "etcd's --peer-cert-file",
            "needs serverAuth and clientAuth",
            "is serverAuth",
        ],
    );
    // kcompile: the apiserver's serving certificate as its kubelet client certificate, and a
    // server-only certificate in a kubeconfig.
    let host = Host::copy("master01");
    std::fs::copy(
        host.path("etc/kubernetes/pki/apiserver.crt"),
        host.path("etc/kubernetes/pki/apiserver-kubelet-client.crt"),
    )
    .unwrap();
    std::fs::copy(
        host.path("etc/kubernetes/pki/apiserver.key"),
        host.path("etc/kubernetes/pki/apiserver-kubelet-client.key"),
    )
    .unwrap();
    let output = host.verify();
    fails_with(
        &output,
        "pki/apiserver-kubelet-client.crt",
        &[
            "kube-apiserver's --kubelet-client-certificate (CN=kube-apiserver)",
            "is serverAuth, without clientAuth",
        ],
    );
    let host = Host::copy("master01");
    let state = ha().join("state/pki");
    let (cert, key) = issued(
        &state.join("ca.crt"),
        &state.join("ca.key"),
        "/O=kubeadm:cluster-admins/CN=kubernetes-admin",
        &["extendedKeyUsage=serverAuth"],
    );
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let admin = host.read("etc/kubernetes/admin.conf");
    let old_cert = b64(&host.embedded("etc/kubernetes/admin.conf", "client-certificate-data"));
    let old_key = b64(&host.embedded("etc/kubernetes/admin.conf", "client-key-data"));
    host.write(
        "etc/kubernetes/admin.conf",
        admin
            .replace(&old_cert, &b64(&cert))
            .replace(&old_key, &b64(&key)),
    );
    fails_with(
        &host.verify(),
        "etc/kubernetes/admin.conf",
        &["the client certificate (", "without clientAuth"],
    );
}

#[test]
fn a_kubelet_client_certificate_of_another_node_is_refused() {
    // kubeadm: the node is named by /etc/hostname; the certificate is behind the link.
    let host = Host::kubeadm();
    kubelet_client(
        &host.root,
        "/O=system:nodes/CN=system:node:cp-2",
        "extendedKeyUsage=clientAuth",
    );
    fails_with(
        &host.verify(),
        "etc/kubernetes/kubelet.conf",
        &[
            "CN=system:node:cp-2",
            "admit only CN=system:node:cp-1 with O=system:nodes",
            "this node is `cp-1`: the host name in ",
        ],
    );
    // A hostname override in kubeadm's flags wins over /etc/hostname; O missing.
    let host = Host::kubeadm();
    host.write(
        "var/lib/kubelet/kubeadm-flags.env",
        "KUBELET_KUBEADM_ARGS=\"--hostname-override=cp-1.example.com\"\n",
    );
    kubelet_client(
        &host.root,
        "/O=system:nodes/CN=system:node:cp-1.example.com",
        "extendedKeyUsage=clientAuth",
    );
    passes(&host.verify());
    kubelet_client(
        &host.root,
        "/CN=system:node:cp-1.example.com",
        "extendedKeyUsage=clientAuth",
    );
    fails_with(
        &host.verify(),
        "etc/kubernetes/kubelet.conf",
        &[
            "--hostname-override in ",
            "kubeadm-flags.env",
            "O=system:nodes",
        ],
    );
    // kcompile: another master's kubelet.conf.
    let host = Host::copy("master01");
    host.take_from("master02", "etc/kubernetes/kubelet.conf");
    fails_with(
        &host.verify(),
        "etc/kubernetes/kubelet.conf",
        &[
            "CN=system:node:master02",
            "CN=system:node:master01",
            "this node is `master01`: --hostname-override in ",
        ],
    );
    // kcompile: a rotated certificate on disk, which the kubelet prefers, of another node.
    let host = Host::copy("master01");
    let mut pem = host.embedded("etc/kubernetes/kubelet.conf", "client-certificate-data");
    pem.extend(host.embedded("etc/kubernetes/kubelet.conf", "client-key-data"));
    let other = Host::copy("master02");
    let mut other_pem = other.embedded("etc/kubernetes/kubelet.conf", "client-certificate-data");
    other_pem.extend(other.embedded("etc/kubernetes/kubelet.conf", "client-key-data"));
    host.write(KUBELET_CURRENT, &pem);
    host.chmod(KUBELET_CURRENT, 0o600);
    passes(&host.verify());
    host.write(KUBELET_CURRENT, &other_pem);
    fails_with(
        &host.verify(),
        KUBELET_CURRENT,
        &["CN=system:node:master02"],
    );
}

#[test]
fn a_tls_bootstrap_kubelet_before_its_first_start_is_a_warning() {
    let host = Host::kubeadm();
    std::fs::remove_file(host.path(KUBELET_CURRENT)).unwrap();
    std::fs::remove_file(host.path(KUBELET_DATED)).unwrap();
    // Without a bootstrap kubeconfig the kubelet cannot connect: an error.
    fails_with(
        &host.verify(),
        "etc/kubernetes/kubelet.conf",
        &[
            "client-certificate names /var/lib/kubelet/pki/kubelet-client-current.pem, which does not exist",
        ],
    );
    let token = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://192.168.56.21:6443\n  \
                 name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: \
                 tls-bootstrap-token-user\n  name: b\ncurrent-context: b\nkind: Config\nusers:\n- \
                 name: tls-bootstrap-token-user\n  user:\n    token: abcdef.0123456789abcdef\n";
    host.write("etc/kubernetes/bootstrap-kubelet.conf", token);
    host.chmod("etc/kubernetes/bootstrap-kubelet.conf", 0o600);
    let output = host.verify();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("warning: ")
            && l.contains("kubelet.conf")
            && l.contains("does not exist yet: the kubelet asks the cluster for a client certificate with /etc/kubernetes/bootstrap-kubelet.conf at its next start")),
        "{text}"
    );
    // The bootstrap token is a secret too.
    host.chmod("etc/kubernetes/bootstrap-kubelet.conf", 0o644);
    fails_with(
        &host.verify(),
        "bootstrap-kubelet.conf",
        &["holds a bearer token and has mode 0644"],
    );
}

#[test]
fn etcd_certificates_that_miss_an_advertised_or_listened_url_are_refused() {
    // kubeadm: the server certificate without 127.0.0.1, the peer one without the node's IP.
    let host = Host::kubeadm();
    let both = "extendedKeyUsage=serverAuth,clientAuth";
    host.reissue_kubeadm(
        "etcd/server",
        "etcd/ca",
        &format!("/CN={NODE}"),
        &[both, &format!("subjectAltName=DNS:{NODE},IP:{NODE_IP}")],
    );
    host.reissue_kubeadm(
        "etcd/peer",
        "etcd/ca",
        &format!("/CN={NODE}"),
        &[both, "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    );
    let output = host.verify();
    fails_with(
        &output,
        "pki/etcd/server.crt",
        &[
            "lacks the SAN IP:127.0.0.1",
            "a client of --listen-client-urls",
        ],
    );
    fails_with(
        &output,
        "pki/etcd/peer.crt",
        &[
            &format!("lacks the SAN IP:{NODE_IP}"),
            "--initial-advertise-peer-urls",
        ],
    );
    // A wildcard listener and a plain-HTTP one need no SAN.
    let host = Host::kubeadm();
    let path = "etc/kubernetes/manifests/etcd.yaml";
    let text = host.read(path);
    let listen = format!("--listen-client-urls=https://127.0.0.1:2379,https://{NODE_IP}:2379");
    assert!(text.contains(&listen), "{text}");
    host.write(
        path,
        text.replace(
            &listen,
            "--listen-client-urls=https://0.0.0.0:2379,http://192.168.56.99:2379",
        ),
    );
    passes(&host.verify());
    // kcompile: a server certificate for another address, on a host where no apiserver dials it.
    let host = Host::copy("master01");
    let state = ha().join("state/pki/etcd");
    host.reissue(
        "etcd/server",
        &state.join("ca.crt"),
        &state.join("ca.key"),
        "/CN=master01",
        &[both, "subjectAltName=DNS:master01,IP:10.0.0.11"],
    );
    std::fs::remove_file(host.path("etc/kubernetes/manifests/kube-apiserver.yaml")).unwrap();
    fails_with(
        &host.verify(),
        "pki/etcd/server.crt",
        &["lacks the SAN IP:127.0.0.1, which a client of --listen-client-urls dials"],
    );
}

#[test]
fn a_static_pod_field_the_pod_schema_lacks_is_named_with_its_line() {
    // kubeadm: `readonly` for `readOnly` in a volume mount.
    let host = Host::kubeadm();
    let path = "etc/kubernetes/manifests/kube-apiserver.yaml";
    let text = host.read(path);
    let line = text
        .lines()
        .position(|l| l == "      readOnly: true")
        .unwrap()
        + 1;
    host.write(
        path,
        text.replacen("      readOnly: true", "      readonly: true", 1),
    );
    fails_with(
        &host.verify(),
        "manifests/kube-apiserver.yaml",
        &[
            &format!(
                "`spec.containers[0].volumeMounts[0].readonly` (line {line}) is not a field of a Pod"
            ),
            "the kubelet drops it",
        ],
    );
    // kcompile: a pod-level field inside the container.
    let host = Host::copy("master01");
    let path = "etc/kubernetes/manifests/kube-scheduler.yaml";
    let text = host.read(path);
    host.write(
        path,
        text.replacen("    image: ", "    priorityClassName: x\n    image: ", 1),
    );
    fails_with(
        &host.verify(),
        "manifests/kube-scheduler.yaml",
        &[
            "`spec.containers[0].priorityClassName`",
            "is not a field of a Pod",
        ],
    );
    // A value of the wrong type: the kubelet refuses the pod.
    let host = Host::copy("master01");
    let text = host.read(path);
    let line = text
        .lines()
        .position(|l| l == "  hostNetwork: true")
        .unwrap()
        + 1;
    host.write(
        path,
        text.replacen("  hostNetwork: true", "  hostNetwork: [yes]", 1),
    );
    fails_with(
        &host.verify(),
        "manifests/kube-scheduler.yaml",
        &[
            "the kubelet cannot decode this pod",
            &format!("the manifest at line {line}, column 16 does not fit the Pod schema"),
        ],
    );
}

#[test]
fn tls_bootstrap_bundles_pass_and_a_joined_worker_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    Spec::example("ha-3-masters")
        .set("kubelet.tlsBootstrap", true)
        .write(&dir.path().join("cluster.yaml"));
    let output = run_kcompile(dir.path(), &["build", "--all", "--out", "out"]);
    assert!(output.status.success(), "{}", stderr(&output));
    for entry in std::fs::read_dir(dir.path().join("out")).unwrap() {
        let root = entry.unwrap().path();
        let output = run_kcompile(dir.path(), &["verify", "--root", root.to_str().unwrap()]);
        passes(&output);
        assert!(
            stdout(&output).starts_with("0 errors, 0 warnings"),
            "{}",
            stdout(&output)
        );
    }
    // worker01 once the kubelet has written kubelet.conf, before its certificate is issued:
    // a warning; once issued, its identity is checked.
    let worker = Host::copy_of(&dir.path().join("out/worker01"), "worker01");
    let ca = std::fs::read(worker.path("etc/kubernetes/pki/ca.crt")).unwrap();
    worker.write(
        "etc/kubernetes/kubelet.conf",
        kubeconfig(&ca, "default-auth", Err(&format!("/{KUBELET_CURRENT}"))),
    );
    worker.chmod("etc/kubernetes/kubelet.conf", 0o600);
    let output = worker.verify();
    passes(&output);
    assert!(
        stdout(&output).lines().any(|l| l.starts_with("warning: ")
            && l.contains("kubelet.conf")
            && l.contains("does not exist yet")),
        "{}",
        stdout(&output)
    );
    let state = dir.path().join("cluster.state/pki");
    let (cert, key) = issued(
        &state.join("ca.crt"),
        &state.join("ca.key"),
        "/O=system:nodes/CN=system:node:worker02",
        &["extendedKeyUsage=clientAuth"],
    );
    worker.write(KUBELET_CURRENT, [cert, key].concat());
    worker.chmod(KUBELET_CURRENT, 0o600);
    fails_with(
        &worker.verify(),
        "etc/kubernetes/kubelet.conf",
        &[
            "CN=system:node:worker02",
            "admit only CN=system:node:worker01",
        ],
    );
}
