//! The PKI and the kubeconfigs, checked with real tools: `openssl verify` for every certificate of
//! every bundle, Go's TLS stack (kubectl) against `openssl s_server` both ways, reuse byte for byte,
//! a new SAN that reissues only what it must, builds killed midway, least privilege per host, the
//! errors a user meets, and external-CA mode.
//!
//! Each test builds examples/ha-3-masters.yaml (ECDSA-P256 keys: fast) or a small inline spec into
//! its own temp dir, state dir included.

use crate::common::{self, KilledOnDrop, Spec, kcompile_in_repo as kcompile};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use predicates::prelude::*;
use rcgen::PublicKeyData;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ha-3-masters.yaml");
/// The example's control-plane hosts and their addresses.
const CONTROL_PLANES: [(&str, &str); 3] = [
    ("master01", "10.0.0.11"),
    ("master02", "10.0.0.12"),
    ("master03", "10.0.0.13"),
];
const WORKERS: [&str; 2] = ["worker01", "worker02"];
/// The example's controlPlaneEndpoint.
const ENDPOINT: &str = "https://10.0.0.100:6443";
const EXAMPLE_SAN: &str = "k8s-api.prod.example.com";
const NEW_SAN: &str = "k8s-api-2.prod.example.com";

const CA: &str = "etc/kubernetes/pki/ca.crt";
const ETCD_CA: &str = "etc/kubernetes/pki/etcd/ca.crt";
const FRONT_PROXY_CA: &str = "etc/kubernetes/pki/front-proxy-ca.crt";

// ---------------------------------------------------------------------------------------------
// Workspaces and builds

/// A temp dir with a spec (`cluster.yaml`), its state dir (`state/`) and build outputs.
struct Workspace {
    dir: TempDir,
}

impl Workspace {
    fn new(spec: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cluster.yaml"), spec).unwrap();
        Workspace { dir }
    }

    fn example() -> Workspace {
        Workspace::new(&example_spec())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spec(&self) -> PathBuf {
        self.path("cluster.yaml")
    }

    fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// `out/<host>` of the build that wrote `out`.
    fn host(&self, out: &str, host: &str) -> PathBuf {
        self.path(out).join(host)
    }

    /// Sets the spec's extra apiserver SANs.
    fn set_sans(&self, sans: &[&str]) {
        let spec = Spec::parse(&fs::read_to_string(self.spec()).unwrap());
        fs::write(self.spec(), spec.set("pki.apiServerCertSANs", sans).yaml()).unwrap();
    }

    /// `kcompile build -f cluster.yaml --state state`, run in the workspace.
    fn command(&self) -> Command {
        let mut command = kcompile();
        command.current_dir(self.dir.path());
        command
            .arg("build")
            .arg("-f")
            .arg(self.spec())
            .arg("--state")
            .arg(self.state());
        command
    }

    /// Builds every host into `out/`; the build must succeed. Returns its stderr.
    fn build(&self, out: &str) -> String {
        let output = self
            .command()
            .args(["--all", "--out"])
            .arg(self.path(out))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "build failed: {stderr}");
        stderr
    }

    /// Moves the cluster CA's key out of the state dir and forgets it: external-CA mode.
    fn move_ca_key_offline(&self) {
        fs::rename(self.state().join("pki/ca.key"), self.path("offline-ca.key")).unwrap();
        kcompile()
            .args(["state", "forget", "pki/ca.key", "--state"])
            .arg(self.state())
            .assert()
            .success()
            .stderr(predicate::str::contains("forgot `pki/ca.key`"));
    }

    /// The state dir's files, without the lock (it records the pid of the last build).
    fn state_files(&self) -> Tree {
        let mut files = tree(&self.state());
        files.remove("lock");
        files
    }
}

fn example_spec() -> String {
    fs::read_to_string(EXAMPLE).unwrap()
}

/// A spec with RSA-2048 keys: one control plane `cp01` and `workers` workers `w01`, `w02`…
fn rsa_spec(workers: usize) -> String {
    let mut spec = String::from(
        "apiVersion: kcompile.io/v1alpha1\nkind: Cluster\nname: rsa\nprofiles: [kubeadm]\n\
         kubernetesVersion: v1.36.3\npki:\n  keyAlgorithm: RSA-2048\nhosts:\n  \
         - name: cp01\n    address: 10.0.0.11\n    roles: [control-plane, etcd]\n",
    );
    for i in 1..=workers {
        spec += &format!("  - name: w{i:02}\n    address: 10.0.1.{i}\n    roles: [worker]\n");
    }
    spec
}

/// The `issued …` lines of a build's stderr.
fn issued_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("issued "))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// File trees

/// Files under a root: relative path → (bytes, permission bits).
type Tree = BTreeMap<String, (Vec<u8>, u32)>;

/// The relative paths of every file under `root` (none if it does not exist).
fn paths(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Every file under `root` but the INPUTS stamps (`common::bundle_files`).
fn tree(root: &Path) -> Tree {
    common::bundle_files(root)
}

/// Paths added, removed, or with other bytes or mode in `after`.
fn changed(before: &Tree, after: &Tree) -> BTreeSet<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .cloned()
        .collect()
}

/// Whether `path` (in a host's root, or under `out/<host>/`) is a kubeconfig:
/// `etc/kubernetes/*.conf`. (`var/lib/kube-proxy/config.conf` is kube-proxy's configuration.)
fn is_kubeconfig(path: &str) -> bool {
    path.rsplit_once('/').is_some_and(|(dir, name)| {
        (dir == "etc/kubernetes" || dir.ends_with("/etc/kubernetes")) && name.ends_with(".conf")
    })
}

// ---------------------------------------------------------------------------------------------
// openssl

/// Runs `openssl args…` with `input` on stdin.
fn openssl(args: &[&str], input: &[u8]) -> Output {
    let mut child = Process::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// stdout of a successful `openssl args…`.
fn openssl_ok(args: &[&str], input: &[u8], what: &str) -> String {
    let output = openssl(args, input);
    assert!(
        output.status.success(),
        "{what}: openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The public half of a private key, as openssl prints it.
fn public_of_key(key_pem: &[u8], what: &str) -> String {
    openssl_ok(&["pkey", "-pubout"], key_pem, what)
}

/// The public key of a certificate, as openssl prints it.
fn public_of_cert(cert_pem: &[u8], what: &str) -> String {
    openssl_ok(&["x509", "-noout", "-pubkey"], cert_pem, what)
}

fn assert_key_matches(key_pem: &[u8], cert_pem: &[u8], what: &str) {
    assert_eq!(
        public_of_key(key_pem, what),
        public_of_cert(cert_pem, what),
        "{what}: the key is not the certificate's"
    );
}

/// `openssl verify -CAfile ca [-purpose purpose]` of a PEM certificate.
fn verify(ca: &Path, cert_pem: &[u8], purpose: Option<&str>) -> Result<(), String> {
    let ca = ca.to_str().unwrap();
    let mut args = vec!["verify", "-CAfile", ca];
    if let Some(purpose) = purpose {
        args.extend(["-purpose", purpose]);
    }
    let output = openssl(&args, cert_pem);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.contains(": OK") {
        Ok(())
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// What a certificate may be used for.
#[derive(Debug, Clone, Copy)]
enum Usage {
    Server,
    Client,
    ServerAndClient,
}

/// The certificate verifies against `ca` for its usage, and is refused for the other one.
fn assert_verifies(ca: &Path, cert_pem: &[u8], usage: Usage, what: &str) {
    let (server, client) = match usage {
        Usage::Server => (true, false),
        Usage::Client => (false, true),
        Usage::ServerAndClient => (true, true),
    };
    for (purpose, wanted) in [("sslserver", server), ("sslclient", client)] {
        let result = verify(ca, cert_pem, Some(purpose));
        assert_eq!(
            result.is_ok(),
            wanted,
            "{what}: `openssl verify -CAfile {} -purpose {purpose}` should {}: {result:?}",
            ca.display(),
            if wanted { "pass" } else { "fail" }
        );
    }
}

/// The SANs of a certificate, as `DNS:name` and `IP:address`.
fn sans(cert: &Path) -> BTreeSet<String> {
    let text = openssl_ok(
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            cert.to_str().unwrap(),
        ],
        b"",
        "SANs",
    );
    text.lines()
        .skip(1)
        .flat_map(|line| line.trim().split(", "))
        .map(|san| san.replace("IP Address:", "IP:"))
        .collect()
}

/// `CN = …, O = …`.
fn subject(cert: &Path) -> String {
    let text = openssl_ok(
        &["x509", "-noout", "-subject", "-in", cert.to_str().unwrap()],
        b"",
        "subject",
    );
    text.trim().trim_start_matches("subject=").to_owned()
}

// ---------------------------------------------------------------------------------------------
// Kubeconfigs

#[derive(Deserialize)]
struct KubeconfigFile {
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
}

#[derive(Deserialize)]
struct NamedCluster {
    cluster: ClusterEntry,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ClusterEntry {
    server: String,
    certificate_authority_data: String,
}

#[derive(Deserialize)]
struct NamedUser {
    user: UserEntry,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct UserEntry {
    client_certificate_data: String,
    client_key_data: String,
}

/// What a kubeconfig holds, decoded.
struct Kubeconfig {
    server: String,
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

fn kubeconfig(text: &[u8]) -> Kubeconfig {
    let file: KubeconfigFile = serde_saphyr::from_str(std::str::from_utf8(text).unwrap()).unwrap();
    assert_eq!((file.clusters.len(), file.users.len()), (1, 1));
    let decode = |data: &str| BASE64.decode(data.trim()).unwrap();
    let cluster = &file.clusters[0].cluster;
    let user = &file.users[0].user;
    Kubeconfig {
        server: cluster.server.clone(),
        ca_pem: decode(&cluster.certificate_authority_data),
        cert_pem: decode(&user.client_certificate_data),
        key_pem: decode(&user.client_key_data),
    }
}

// ---------------------------------------------------------------------------------------------
// One host's bundle

/// What a certificate file of a bundle is: a CA, or a leaf with its issuer and usage.
enum CertKind {
    Authority,
    Leaf(&'static str, Usage),
}

#[expect(clippy::match_same_arms, reason = "one arm per certificate file")]
fn cert_kind(path: &str) -> CertKind {
    use CertKind::{Authority, Leaf};
    match path {
        CA | ETCD_CA | FRONT_PROXY_CA => Authority,
        "etc/kubernetes/pki/apiserver.crt" => Leaf(CA, Usage::Server),
        "etc/kubernetes/pki/apiserver-kubelet-client.crt" => Leaf(CA, Usage::Client),
        "etc/kubernetes/pki/apiserver-etcd-client.crt" => Leaf(ETCD_CA, Usage::Client),
        "etc/kubernetes/pki/front-proxy-client.crt" => Leaf(FRONT_PROXY_CA, Usage::Client),
        "etc/kubernetes/pki/etcd/server.crt" | "etc/kubernetes/pki/etcd/peer.crt" => {
            Leaf(ETCD_CA, Usage::ServerAndClient)
        }
        "etc/kubernetes/pki/etcd/healthcheck-client.crt" => Leaf(ETCD_CA, Usage::Client),
        "var/lib/kubelet/pki/kubelet.crt" => Leaf(CA, Usage::Server),
        other => panic!("`{other}`: a certificate this test does not know; add it to cert_kind"),
    }
}

/// Files every host has, and those every control-plane host has too.
const EVERY_HOST: &[&str] = &[
    CA,
    "var/lib/kubelet/pki/kubelet.crt",
    "var/lib/kubelet/pki/kubelet.key",
    "etc/kubernetes/kubelet.conf",
    "etc/kubernetes/kube-proxy.conf",
];
const CONTROL_PLANE: &[&str] = &[
    "etc/kubernetes/pki/ca.key",
    "etc/kubernetes/pki/apiserver.crt",
    "etc/kubernetes/pki/apiserver.key",
    "etc/kubernetes/pki/apiserver-kubelet-client.crt",
    "etc/kubernetes/pki/apiserver-kubelet-client.key",
    "etc/kubernetes/pki/apiserver-etcd-client.crt",
    "etc/kubernetes/pki/apiserver-etcd-client.key",
    "etc/kubernetes/pki/front-proxy-client.crt",
    "etc/kubernetes/pki/front-proxy-client.key",
    FRONT_PROXY_CA,
    "etc/kubernetes/pki/sa.key",
    "etc/kubernetes/pki/sa.pub",
    ETCD_CA,
    "etc/kubernetes/pki/etcd/server.crt",
    "etc/kubernetes/pki/etcd/server.key",
    "etc/kubernetes/pki/etcd/peer.crt",
    "etc/kubernetes/pki/etcd/peer.key",
    "etc/kubernetes/pki/etcd/healthcheck-client.crt",
    "etc/kubernetes/pki/etcd/healthcheck-client.key",
    "etc/kubernetes/admin.conf",
    "etc/kubernetes/controller-manager.conf",
    "etc/kubernetes/scheduler.conf",
];

/// Every certificate of the host at `root` verifies against its issuer for its usage, every key
/// matches its certificate and is written as `key_tag`, and modes are 0600 for secrets, 0644 for
/// the rest.
fn check_bundle(root: &Path, control_plane: bool, key_tag: &str) {
    let files = tree(root);
    let host = root.display();
    let required = EVERY_HOST
        .iter()
        .chain(if control_plane { CONTROL_PLANE } else { &[] });
    for path in required {
        assert!(files.contains_key(*path), "{host}: no `{path}`");
    }
    let begin = format!("-----BEGIN {key_tag}-----\n");
    for (path, (bytes, mode)) in &files {
        let what = format!("{host}/{path}");
        let extension = path.rsplit('.').next().unwrap();
        match extension {
            "key" => {
                // Under rootless, sa.key is 0640 to the shared group (the apiserver and the
                // controller-manager both read it).
                let rootless_shared = path.ends_with("pki/sa.key") && *mode == 0o640;
                assert!(*mode == 0o600 || rootless_shared, "{what}: mode {mode:o}");
                assert!(
                    bytes.starts_with(begin.as_bytes()),
                    "{what}: not a {key_tag}"
                );
            }
            "pub" => {
                assert_eq!(*mode, 0o644, "{what}: mode {mode:o}");
                assert!(bytes.starts_with(b"-----BEGIN PUBLIC KEY-----\n"), "{what}");
                let key = &files[&path.replace(".pub", ".key")].0;
                let public = openssl_ok(&["pkey", "-pubin", "-pubout"], bytes, &what);
                assert_eq!(
                    public_of_key(key, &what),
                    public,
                    "{what}: not sa.key's half"
                );
            }
            "crt" => {
                assert_eq!(*mode, 0o644, "{what}: mode {mode:o}");
                let key = files.get(&path.replace(".crt", ".key"));
                match cert_kind(path) {
                    CertKind::Authority => {
                        verify(&root.join(path), bytes, None)
                            .unwrap_or_else(|e| panic!("{what}: not self-signed: {e}"));
                    }
                    CertKind::Leaf(issuer, usage) => {
                        assert_verifies(&root.join(issuer), bytes, usage, &what);
                        assert!(key.is_some(), "{what}: no key beside it");
                    }
                }
                if let Some((key, _)) = key {
                    assert_key_matches(key, bytes, &what);
                }
            }
            "conf" if is_kubeconfig(path) => {
                assert_eq!(*mode, 0o600, "{what}: mode {mode:o}");
                let config = kubeconfig(bytes);
                assert_eq!(config.ca_pem, files[CA].0, "{what}: not the cluster CA");
                assert_verifies(&root.join(CA), &config.cert_pem, Usage::Client, &what);
                assert!(
                    config.key_pem.starts_with(begin.as_bytes()),
                    "{what}: not a {key_tag}"
                );
                assert_key_matches(&config.key_pem, &config.cert_pem, &what);
            }
            _ => {}
        }
    }
    // The aggregation layer has its own CA: the cluster CA must not vouch for the proxy client.
    if let Some((front_proxy_client, _)) = files.get("etc/kubernetes/pki/front-proxy-client.crt") {
        assert!(
            verify(&root.join(CA), front_proxy_client, None).is_err(),
            "{host}: the front-proxy client verifies against the cluster CA"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes

// =============================================================================================
// 1. openssl verify, keys, modes, SANs, subjects

#[test]
fn every_certificate_verifies_against_its_issuer_and_every_key_matches() {
    let example = Workspace::example();
    example.build("out");
    for (host, _) in CONTROL_PLANES {
        check_bundle(&example.host("out", host), true, "EC PRIVATE KEY");
    }
    for host in WORKERS {
        check_bundle(&example.host("out", host), false, "EC PRIVATE KEY");
    }

    // kubeadm's apiserver SANs, the endpoint and the spec's extra SAN: exactly these.
    for (host, address) in CONTROL_PLANES {
        let cert = example
            .host("out", host)
            .join("etc/kubernetes/pki/apiserver.crt");
        let expected: BTreeSet<String> = [
            format!("DNS:{host}"),
            "DNS:kubernetes".into(),
            "DNS:kubernetes.default".into(),
            "DNS:kubernetes.default.svc".into(),
            "DNS:kubernetes.default.svc.cluster.local".into(),
            "DNS:k8s-api.prod.example.com".into(),
            "IP:10.96.0.1".into(),
            format!("IP:{address}"),
            "IP:10.0.0.100".into(),
        ]
        .into();
        assert_eq!(sans(&cert), expected, "{host}");
    }
    // From v1.36.1 (kubeadm #138957), kubeadm drops the group (an RBAC binding of the CN
    // replaces it); v1.36.0 still has it.
    let kubelet_client = "etc/kubernetes/pki/apiserver-kubelet-client.crt";
    assert_eq!(
        subject(&example.host("out", "master01").join(kubelet_client)),
        "CN = kube-apiserver-kubelet-client"
    );
    let before = Workspace::new(
        &Spec::example("ha-3-masters")
            .set("kubernetesVersion", "v1.36.0")
            .yaml(),
    );
    before.build("out");
    assert_eq!(
        subject(&before.host("out", "master01").join(kubelet_client)),
        "CN = kube-apiserver-kubelet-client, O = kubeadm:cluster-admins"
    );

    // RSA keys are PKCS#1, as kubeadm writes them.
    let rsa = Workspace::new(&rsa_spec(0));
    rsa.build("out");
    check_bundle(&rsa.host("out", "cp01"), true, "RSA PRIVATE KEY");
}

// =============================================================================================
// 2. Go's TLS stack, both ways

/// `openssl s_server` with the apiserver's certificate, requiring a client certificate signed by
/// the cluster CA; its status page echoes the client certificate it verified.
fn start_server(pki: &Path, log: &Path) -> (KilledOnDrop, u16) {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let file = |name: &str| pki.join(name).to_str().unwrap().to_owned();
        let mut server = KilledOnDrop(
            Process::new("openssl")
                .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
                .args([
                    "-cert",
                    &file("apiserver.crt"),
                    "-key",
                    &file("apiserver.key"),
                ])
                .args([
                    "-CAfile",
                    &file("ca.crt"),
                    "-Verify",
                    "1",
                    "-verify_return_error",
                ])
                .arg("-www")
                .stdin(Stdio::null())
                .stdout(fs::File::create(log).unwrap())
                .stderr(fs::File::create(log.with_extension("err")).unwrap())
                .spawn()
                .expect("openssl is installed"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if server.0.try_wait().unwrap().is_some() {
                break; // the port was taken meanwhile: try another one
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (server, port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.0.kill();
    }
    panic!(
        "openssl s_server did not start: {:?}",
        fs::read_to_string(log)
    );
}

/// `kubectl get --raw /healthz` against the local server, as `server_name`.
fn kubectl_healthz(kubeconfig: &Path, port: u16, server_name: &str, home: &Path) -> Output {
    Process::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--server", &format!("https://127.0.0.1:{port}")])
        .args(["--tls-server-name", server_name, "--request-timeout", "20s"])
        .args(["get", "--raw", "/healthz"])
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stdin(Stdio::null())
        .output()
        .expect("kubectl is installed")
}

#[test]
fn go_tls_accepts_the_certificates_both_ways() {
    let ws = Workspace::example();
    ws.build("out");
    let master01 = ws.host("out", "master01");
    let (_server, port) =
        start_server(&master01.join("etc/kubernetes/pki"), &ws.path("server.log"));

    let mut kubeconfigs: Vec<PathBuf> = [
        "admin.conf",
        "super-admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
        "kubelet.conf",
        "kube-proxy.conf",
    ]
    .iter()
    .map(|name| master01.join("etc/kubernetes").join(name))
    .collect();
    for name in ["kubelet.conf", "kube-proxy.conf"] {
        kubeconfigs.push(ws.host("out", "worker01").join("etc/kubernetes").join(name));
    }
    for path in &kubeconfigs {
        let output = kubectl_healthz(path, port, "kubernetes", ws.dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        for word in ["x509", "certificate", "tls:"] {
            assert!(!stderr.contains(word), "{}: {stderr}", path.display());
        }
        // The handshake completed with our client certificate: the server echoes it.
        let cert = String::from_utf8(kubeconfig(&fs::read(path).unwrap()).cert_pem).unwrap();
        assert!(
            stdout.contains(cert.trim()),
            "{}: the server did not see the client certificate (exit {:?}): {stderr}",
            path.display(),
            output.status.code()
        );
    }

    // Negative controls. The server's name is checked: the certificate is not for any name.
    let admin = master01.join("etc/kubernetes/admin.conf");
    let output = kubectl_healthz(&admin, port, "not-the-apiserver.example.com", ws.dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("x509"),
        "{stderr}"
    );
    // Another build has its own CA: its kubeconfig does not trust this server…
    let other = Workspace::example();
    other.build("out");
    let foreign = other
        .host("out", "master01")
        .join("etc/kubernetes/admin.conf");
    let output = kubectl_healthz(&foreign, port, "kubernetes", ws.dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("x509"),
        "{stderr}"
    );
    // …and with this cluster's CA but its own client certificate, the server refuses it.
    let foreign_text = fs::read_to_string(&foreign).unwrap();
    let ca_data = |out: &Path| BASE64.encode(fs::read(out.join(CA)).unwrap());
    let (theirs, ours) = (ca_data(&other.host("out", "master01")), ca_data(&master01));
    assert!(foreign_text.contains(&theirs));
    let mixed = ws.path("mixed.conf");
    fs::write(&mixed, foreign_text.replace(&theirs, &ours)).unwrap();
    let output = kubectl_healthz(&mixed, port, "kubernetes", ws.dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && (stderr.contains("tls:") || stderr.contains("certificate")),
        "a client certificate of another CA was accepted: {stderr}"
    );

    // The server each kubeconfig dials: the endpoint for admins and workers, the local apiserver
    // for control-plane components and control-plane kubelets.
    let server = |host: &str, name: &str| {
        let path = ws.host("out", host).join("etc/kubernetes").join(name);
        kubeconfig(&fs::read(&path).unwrap()).server
    };
    for (host, address) in CONTROL_PLANES {
        let local = format!("https://{address}:6443");
        assert_eq!(server(host, "admin.conf"), ENDPOINT, "{host}");
        assert_eq!(server(host, "controller-manager.conf"), local, "{host}");
        assert_eq!(server(host, "scheduler.conf"), local, "{host}");
        assert_eq!(server(host, "kubelet.conf"), local, "{host}");
    }
    assert_eq!(server("master01", "super-admin.conf"), ENDPOINT);
    for host in WORKERS {
        assert_eq!(server(host, "kubelet.conf"), ENDPOINT, "{host}");
        assert_eq!(server(host, "kube-proxy.conf"), ENDPOINT, "{host}");
    }
}

// =============================================================================================
// 3. Reuse

#[test]
fn a_second_build_reuses_everything_byte_for_byte() {
    let ws = Workspace::example();
    let first = ws.build("first");
    assert!(
        first.contains("48 keys generated, 47 certificates issued"),
        "{first}"
    );
    let state = ws.state_files();

    let second = ws.build("second");
    assert!(issued_lines(&second).is_empty(), "{second}");
    assert!(
        second.contains("0 keys generated, 0 certificates issued"),
        "{second}"
    );
    let (first_tree, second_tree) = (tree(&ws.path("first")), tree(&ws.path("second")));
    assert!(first_tree.len() > 50, "{}", first_tree.len());
    assert_eq!(changed(&first_tree, &second_tree), BTreeSet::new());
    assert_eq!(changed(&state, &ws.state_files()), BTreeSet::new());

    // The tar on stdout: the same bytes twice, and the tree's files with the tree's modes.
    let tar = || {
        let output = ws.command().args(["--host", "master01"]).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let (one, two) = (tar(), tar());
    assert_eq!(hex(&Sha256::digest(&one)), hex(&Sha256::digest(&two)));
    let mut archived = Tree::new();
    for entry in tar::Archive::new(one.as_slice()).entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mode = entry.header().mode().unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            archived.insert(
                format!("master01/{}", path.trim_start_matches("./")),
                (bytes, mode),
            );
        }
    }
    let tree_master01: Tree = first_tree
        .into_iter()
        .filter(|(path, _)| path.starts_with("master01/"))
        .collect();
    assert_eq!(changed(&tree_master01, &archived), BTreeSet::new());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// =============================================================================================
// 4. A new SAN reissues only the apiserver certificates

/// The bundles without what hashes other files: the MANIFEST (once the bundle has one) and each
/// pod's config-hash annotation. What is left must not change when only a certificate changes.
fn without_hashes(files: &Tree) -> Tree {
    files
        .iter()
        .filter(|(path, _)| !path.ends_with("/etc/kubernetes/kcompile/MANIFEST"))
        .map(|(path, (bytes, mode))| {
            let mut bytes = bytes.clone();
            if path.contains("/etc/kubernetes/manifests/") {
                let text = String::from_utf8(bytes).unwrap();
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|line| !line.contains("kcompile.io/config-hash:"))
                    .collect();
                bytes = lines.join("\n").into_bytes();
            }
            (path.clone(), (bytes, *mode))
        })
        .collect()
}

/// The files of the bundles that changed, pods (`etc/kubernetes/manifests/`) only.
fn changed_pods(before: &Tree, after: &Tree) -> BTreeSet<String> {
    changed(before, after)
        .into_iter()
        .filter(|path| path.contains("/etc/kubernetes/manifests/"))
        .collect()
}

#[test]
fn a_new_san_reissues_only_the_apiserver_certificates_with_the_same_keys() {
    let ws = Workspace::example();
    ws.build("before");
    let state_before = ws.state_files();
    ws.set_sans(&[EXAMPLE_SAN, NEW_SAN]);
    let stderr = ws.build("after");

    assert_eq!(
        issued_lines(&stderr),
        [
            "issued master01/apiserver (SANs changed)",
            "issued master02/apiserver (SANs changed)",
            "issued master03/apiserver (SANs changed)",
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("0 keys generated, 3 certificates issued"),
        "{stderr}"
    );

    let (before, after) = (tree(&ws.path("before")), tree(&ws.path("after")));
    let expected: BTreeSet<String> = CONTROL_PLANES
        .iter()
        .map(|(host, _)| format!("{host}/etc/kubernetes/pki/apiserver.crt"))
        .collect();
    assert_eq!(
        changed(&without_hashes(&before), &without_hashes(&after)),
        expected
    );
    // Each apiserver pod restarts with its new certificate: its config-hash changed.
    let pods = changed_pods(&before, &after);
    for (host, _) in CONTROL_PLANES {
        let pod = format!("{host}/etc/kubernetes/manifests/kube-apiserver.yaml");
        assert!(
            !before.contains_key(&pod) || pods.contains(&pod),
            "{pod} did not change"
        );
    }
    for (host, _) in CONTROL_PLANES {
        let pki = ws.host("after", host).join("etc/kubernetes/pki");
        let key = format!("{host}/etc/kubernetes/pki/apiserver.key");
        assert_eq!(before[&key], after[&key], "{key}: the key changed");
        assert!(sans(&pki.join("apiserver.crt")).contains(&format!("DNS:{NEW_SAN}")));
        let what = format!("{host} apiserver");
        let cert = fs::read(pki.join("apiserver.crt")).unwrap();
        assert_key_matches(&fs::read(pki.join("apiserver.key")).unwrap(), &cert, &what);
        assert_verifies(&pki.join("ca.crt"), &cert, Usage::Server, &what);
    }
    // In the state: the certificates, their issue records, the record of each host's build (every
    // MANIFEST lists new hashes) and the inventory, nothing else.
    let expected: BTreeSet<String> = CONTROL_PLANES
        .iter()
        .flat_map(|(host, _)| ["crt", "json"].map(|ext| format!("hosts/{host}/apiserver.{ext}")))
        .chain(
            ws.state_files()
                .keys()
                .filter(|path| path.starts_with("built/"))
                .cloned(),
        )
        .chain(["inventory.json".to_owned()])
        .collect();
    assert_eq!(changed(&state_before, &ws.state_files()), expected);
}

#[test]
fn a_new_san_restarts_only_the_apiserver_pods() {
    let ws = Workspace::example();
    ws.build("before");
    ws.set_sans(&[EXAMPLE_SAN, NEW_SAN]);
    ws.build("after");
    let (before, after) = (tree(&ws.path("before")), tree(&ws.path("after")));
    let expected: BTreeSet<String> = CONTROL_PLANES
        .iter()
        .map(|(host, _)| format!("{host}/etc/kubernetes/manifests/kube-apiserver.yaml"))
        .collect();
    assert_eq!(changed_pods(&before, &after), expected);
}

// =============================================================================================
// 5. A build killed midway loses nothing

/// Paths of the private keys in a state dir.
fn state_keys(state: &Path) -> Vec<String> {
    paths(state)
        .into_iter()
        .filter(|path| path.ends_with(".key"))
        .collect()
}

fn temp_files(files: &Tree) -> BTreeSet<String> {
    files
        .keys()
        .filter(|path| path.rsplit('/').next().unwrap().starts_with(".tmp-"))
        .cloned()
        .collect()
}

/// Every key and certificate of a state dir is whole, and every certificate is its key's. Done in
/// process (rcgen, x509-parser): a state dir holds too many files for one openssl run each.
fn assert_state_consistent(files: &Tree, when: &str) {
    for (path, (bytes, _)) in files {
        let what = format!("{when}: {path}");
        let text = std::str::from_utf8(bytes).unwrap();
        if path.ends_with(".key") {
            rcgen::KeyPair::from_pem(text).unwrap_or_else(|e| panic!("{what}: {e}"));
        } else if path.ends_with(".crt") {
            let der = pem::parse(text).unwrap_or_else(|e| panic!("{what}: {e}"));
            let (_, cert) = x509_parser::parse_x509_certificate(der.contents())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            if let Some((key, _)) = files.get(&path.replace(".crt", ".key")) {
                let key = rcgen::KeyPair::from_pem(std::str::from_utf8(key).unwrap()).unwrap();
                assert!(
                    cert.tbs_certificate.subject_pki.raw == key.subject_public_key_info(),
                    "{what}: the certificate is not its key's"
                );
            }
        }
    }
}

/// Starts `build --all --out out` and SIGKILLs it as soon as `ready(state)` holds; the build must
/// still be running then (it did not fail before the kill point).
fn kill_build_when(ws: &Workspace, when: &str, ready: impl Fn(&Path) -> bool) {
    let mut build = common::kcompile_process(ws.dir.path());
    build
        .arg("build")
        .arg("-f")
        .arg(ws.spec())
        .arg("--state")
        .arg(ws.state())
        .arg("--all")
        .arg("--out")
        .arg(ws.path("out"));
    common::kill_when(build, when, || ready(&ws.state()));
}

#[test]
fn a_build_killed_midway_loses_nothing() {
    const WORKERS: usize = 20;
    const KEYS: usize = 4 + 14 + 3 * WORKERS; // 3 CAs and sa, the control plane's, each worker's
    let ws = Workspace::new(&rsa_spec(WORKERS));
    // Keys and CA certificates seen after a kill: later builds must keep them byte for byte.
    let mut kept: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut leftovers = BTreeSet::new();
    let mut after_kill = |when: &str| {
        let files = tree(&ws.state());
        assert_state_consistent(&files, when);
        for (path, (bytes, _)) in &files {
            let is_ca = path.starts_with("pki/") && path.contains("ca.");
            if path.ends_with(".key") || is_ca {
                let first = kept.entry(path.clone()).or_insert_with(|| bytes.clone());
                assert!(first == bytes, "{when}: `{path}` changed after a kill");
            }
        }
        leftovers.extend(temp_files(&files));
        state_keys(&ws.state()).len()
    };

    // 1. While the keys are generated, before anything is written.
    let start = Instant::now();
    kill_build_when(&ws, "during key generation", |state| {
        state.join("lock").exists() && start.elapsed() > Duration::from_millis(300)
    });
    assert_eq!(after_kill("during key generation"), 0);
    // 2. As soon as the first key (a CA's) is on disk.
    kill_build_when(&ws, "after the first key", |state| {
        !state_keys(state).is_empty()
    });
    assert!(after_kill("after the first key") >= 1);
    // 3. Midway through the leaves.
    kill_build_when(&ws, "after 40 keys", |state| state_keys(state).len() >= 40);
    assert!(after_kill("after 40 keys") >= 40);

    // The next build completes (the killed builds' temp files trip it not), keeps every key and
    // CA seen above, leaves no temp file of its own, and its bundles verify.
    let stderr = ws.build("out");
    let files = ws.state_files();
    for (path, bytes) in &kept {
        assert!(
            files.get(path).map(|f| &f.0) == Some(bytes),
            "`{path}` was lost or replaced"
        );
    }
    assert_state_consistent(&files, "after the recovery build");
    assert_eq!(state_keys(&ws.state()).len(), KEYS, "{stderr}");
    let temp = temp_files(&files);
    assert!(
        temp.is_subset(&leftovers),
        "{temp:?} not from a killed build"
    );
    check_bundle(&ws.host("out", "cp01"), true, "RSA PRIVATE KEY");
    for host in ["w01", "w20"] {
        check_bundle(&ws.host("out", host), false, "RSA PRIVATE KEY");
    }
}

// =============================================================================================
// 6. Least privilege

#[test]
fn hosts_receive_only_their_own_keys() {
    let ws = Workspace::example();
    ws.build("out");
    // Every private key of every bundle (kubeconfigs' included) → where it is.
    let mut holders: BTreeMap<Vec<u8>, BTreeSet<String>> = BTreeMap::new();
    for (path, (bytes, _)) in tree(&ws.path("out")) {
        let key = if is_kubeconfig(&path) {
            kubeconfig(&bytes).key_pem
        } else if String::from_utf8_lossy(&bytes).contains("PRIVATE KEY-----") {
            bytes
        } else {
            continue;
        };
        holders.entry(key).or_default().insert(path);
    }
    let host_of = |path: &str| path.split('/').next().unwrap().to_owned();
    let state = ws.state_files();
    let state_key = |path: &str| state[path].0.clone();

    for worker in WORKERS {
        let files = paths(&ws.host("out", worker));
        for path in &files {
            let name = path.rsplit('/').next().unwrap();
            let forbidden = name.ends_with("ca.key")
                || name == "sa.key"
                || (path.contains("/etcd/") && name.ends_with(".key"))
                || name.starts_with("apiserver");
            assert!(!forbidden, "{worker} receives `{path}`");
        }
        // Its kubelet serving key, its kubelet client key and its kube-proxy key, held only here.
        let mine: Vec<(&Vec<u8>, &BTreeSet<String>)> = holders
            .iter()
            .filter(|(_, places)| places.iter().any(|p| host_of(p) == worker))
            .collect();
        let places: BTreeSet<String> = mine.iter().flat_map(|(_, p)| p.iter().cloned()).collect();
        let expected: BTreeSet<String> = [
            "etc/kubernetes/kube-proxy.conf",
            "etc/kubernetes/kubelet.conf",
            "var/lib/kubelet/pki/kubelet.key",
        ]
        .map(|path| format!("{worker}/{path}"))
        .into();
        assert_eq!(
            places, expected,
            "{worker}: keys elsewhere, or other keys here"
        );
        for (key, _) in &mine {
            for ca_key in [
                "pki/ca.key",
                "pki/etcd/ca.key",
                "pki/front-proxy-ca.key",
                "pki/sa.key",
            ] {
                assert_ne!(**key, state_key(ca_key), "{worker} holds {ca_key}");
            }
        }
    }

    // Control-plane hosts share the CA key, sa.key and the admin credentials, nothing else, and
    // never receive the front-proxy or etcd CA keys.
    for (key, places) in &holders {
        let hosts: BTreeSet<String> = places.iter().map(|p| host_of(p)).collect();
        if hosts.len() > 1 {
            let files: BTreeSet<&str> = places
                .iter()
                .map(|p| p.split_once('/').unwrap().1)
                .collect();
            assert!(
                files.is_subset(
                    &[
                        "etc/kubernetes/pki/ca.key",
                        "etc/kubernetes/pki/sa.key",
                        "etc/kubernetes/admin.conf"
                    ]
                    .into()
                ),
                "a key shared by several hosts: {places:?}"
            );
            assert!(hosts.iter().all(|h| h.starts_with("master")), "{places:?}");
        }
        for ca_key in ["pki/front-proxy-ca.key", "pki/etcd/ca.key"] {
            assert_ne!(*key, state_key(ca_key), "{ca_key} is in {places:?}");
        }
    }
    for (host, _) in CONTROL_PLANES {
        let pki = ws.host("out", host).join("etc/kubernetes/pki");
        assert!(
            pki.join("ca.key").exists(),
            "{host}: the controller-manager signs with it"
        );
        assert!(!pki.join("front-proxy-ca.key").exists(), "{host}");
        assert!(!pki.join("etcd/ca.key").exists(), "{host}");
    }

    // Only the first control plane has the break-glass super-admin.
    let with_super_admin: Vec<String> = paths(&ws.path("out"))
        .into_iter()
        .filter(|path| path.ends_with("/super-admin.conf"))
        .collect();
    assert_eq!(
        with_super_admin,
        ["master01/etc/kubernetes/super-admin.conf"]
    );
}

// =============================================================================================
// 7. Errors

#[test]
fn build_errors_exit_2_and_change_nothing() {
    let ws = Workspace::example();

    // An unknown host, with a did-you-mean; nothing is created.
    ws.command()
        .args(["--host", "master1"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "error: the spec has no host `master1`",
        ))
        .stderr(predicate::str::contains("did you mean `master01`?"));
    assert!(!ws.state().exists());

    // --all writes a tree: it needs --out.
    ws.command()
        .arg("--all")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--all needs --out DIR"));

    // A tar is not written to a terminal (`script` gives the build one).
    let script = format!(
        "'{}' build -f '{}' --state '{}' --host master01",
        common::KCOMPILE,
        ws.spec().display(),
        ws.state().display()
    );
    common::ensure_pseudo_terminals();
    match common::isolated("script", ws.dir.path())
        .args(["-qec", &script, "/dev/null"])
        .output()
    {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout);
            assert_eq!(output.status.code(), Some(2), "{text}");
            assert!(
                text.contains("refusing to write a tar archive to a terminal"),
                "{text}"
            );
            assert!(!ws.state().exists());
        }
        Err(error) => panic!("the terminal check needs `script` (Debian's bsdutils): {error}"),
    }

    // A state dir whose ca.key was replaced by another key: refused by the ledger, and the state
    // is left as it was.
    ws.build("out");
    let other_key = openssl_ok(
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
        b"",
        "a stranger key",
    );
    fs::write(ws.state().join("pki/ca.key"), &other_key).unwrap();
    let state = ws.state_files();
    ws.command()
        .args(["--all", "--out"])
        .arg(ws.path("out2"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("`pki/ca.key` (ca-key, recorded")
                .and(predicate::str::contains("is not what was recorded")),
        );
    ws.command()
        .args(["--host", "master01"])
        .assert()
        .code(2)
        .stdout("");
    assert!(!ws.path("out2").exists());
    assert_eq!(changed(&state, &ws.state_files()), BTreeSet::new());

    // A spec error: located, exit 2, and neither the named nor the default state dir appears.
    let broken = Workspace::new(
        &Spec::example("ha-3-masters")
            .set("networking.dnsDomain", "cluster.local.")
            .yaml(),
    );
    broken
        .command()
        .args(["--all", "--out"])
        .arg(broken.path("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: DNS domain `cluster.local.` ends with a dot",
        ))
        .stderr(predicate::str::contains("nothing was written"));
    kcompile()
        .current_dir(broken.dir.path())
        .args(["build", "-f", "cluster.yaml", "--all", "--out", "out"])
        .assert()
        .code(2);
    assert_eq!(paths(broken.dir.path()), ["cluster.yaml"]);
}

// =============================================================================================
// 8. External-CA mode

#[test]
fn without_the_ca_key_existing_leaves_are_used_and_nothing_is_signed() {
    let ws = Workspace::example();
    ws.build("first");
    ws.move_ca_key_offline();

    let stderr = ws.build("external");
    assert!(issued_lines(&stderr).is_empty(), "{stderr}");
    assert!(
        stderr.contains("0 keys generated, 0 certificates issued"),
        "{stderr}"
    );
    // The same bundles, without the CA key on the control planes (nor its line in the rootless
    // ownership list, which names every file the host has).
    let mut expected = tree(&ws.path("first"));
    let mut external = tree(&ws.path("external"));
    for (host, _) in CONTROL_PLANES {
        let ca_key = format!("{host}/etc/kubernetes/pki/ca.key");
        assert!(expected.remove(&ca_key).is_some(), "{ca_key}");
        let owners = format!("{host}/etc/kubernetes/kcompile/rootless-tmpfiles.conf");
        let (first, _) = expected.remove(&owners).expect("rootless-tmpfiles.conf");
        let (now, _) = external.remove(&owners).expect("rootless-tmpfiles.conf");
        let first = String::from_utf8(first).unwrap();
        let now = String::from_utf8(now).unwrap();
        let without_ca_key: Vec<&str> = first
            .lines()
            .filter(|line| !line.contains("/etc/kubernetes/pki/ca.key"))
            .collect();
        assert_eq!(now.lines().collect::<Vec<_>>(), without_ca_key, "{owners}");
    }
    let not_pods = |files: &Tree| -> Tree {
        without_hashes(files)
            .into_iter()
            .filter(|(path, _)| !path.contains("/etc/kubernetes/manifests/"))
            .collect()
    };
    assert_eq!(
        changed(&not_pods(&expected), &not_pods(&external)),
        BTreeSet::new()
    );
    // No pod names the CA key the hosts no longer have (the controller-manager stops signing).
    for (path, (bytes, _)) in &external {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("/etc/kubernetes/pki/ca.key"),
            "{path} names the CA key"
        );
    }

    // A new SAN needs a signature kcompile cannot make.
    let state = ws.state_files();
    ws.set_sans(&[EXAMPLE_SAN, NEW_SAN]);
    ws.command()
        .args(["--all", "--out"])
        .arg(ws.path("with-san"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("hosts/master01/apiserver.crt"))
        .stderr(predicate::str::contains(format!(
            "lacks SANs DNS:{NEW_SAN}"
        )));
    assert_eq!(changed(&state, &ws.state_files()), BTreeSet::new());
    assert!(!ws.path("with-san").exists());

    // A missing leaf too: the error says the CA has no key.
    ws.set_sans(&[EXAMPLE_SAN]);
    fs::remove_file(ws.state().join("hosts/worker01/kubelet-client.crt")).unwrap();
    kcompile()
        .args([
            "state",
            "forget",
            "hosts/worker01/kubelet-client.crt",
            "--state",
        ])
        .arg(ws.state())
        .assert()
        .success();
    ws.command()
        .args(["--all", "--out"])
        .arg(ws.path("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`pki/ca.crt` has no key to issue them (external CA mode)",
        ));
}

#[test]
fn external_ca_san_error_says_the_ca_has_no_key() {
    let ws = Workspace::example();
    ws.build("first");
    ws.move_ca_key_offline();
    ws.set_sans(&[EXAMPLE_SAN, NEW_SAN]);
    ws.command()
        .args(["--all", "--out"])
        .arg(ws.path("out"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("has no key").and(predicate::str::contains("external CA")),
        );
}
