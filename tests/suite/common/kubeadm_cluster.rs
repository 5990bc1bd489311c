//! A kubeadm v1.33 cluster made for tests, the way kubeadm makes one: CAs, leaves and
//! kubeconfigs by openssl (RSA 2048, PKCS#1 leaf keys, kubeadm's subjects and SANs), static pods
//! from `tests/kubeadm-host/` (kubeadm v1.33's generators, cited in its README) for three stacked
//! control planes joined one after the other and two workers, with `--profiling=false`,
//! `--event-ttl=4h`, encryption at rest (`ENCRYPTION_CONFIG`, two aescbc keys), an audit policy
//! and log at non-default paths (`AUDIT_POLICY`), hostPath volumes
//! of its own and an extra SAN on the apiservers. Never made by
//! kcompile's renderer. Used by `adopt.rs`.

// Each including crate uses only some of its items.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const VIP: &str = "192.168.56.100";
pub const EXTRA_SAN: &str = "api.cluster.example.test";
pub const CONTROL_PLANES: [(&str, &str); 3] = [
    ("cp-1", "192.168.56.21"),
    ("cp-2", "192.168.56.22"),
    ("cp-3", "192.168.56.23"),
];
pub const WORKERS: [(&str, &str); 2] = [("node-1", "192.168.56.31"), ("node-2", "192.168.56.32")];
/// Where the cluster's `EncryptionConfiguration` lives (not kcompile's path).
pub const ENCRYPTION_CONFIG: &str = "etc/kubernetes/enc/enc.yaml";
/// The cluster's encryption keys (name, base64 of 32 bytes), the one that encrypts first: test
/// data, fixed so that a test can look for them.
pub const ENCRYPTION_KEYS: [(&str, &str); 2] = [
    ("key2", "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="),
    ("key1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
];

/// Where the cluster's audit policy lives (not kcompile's path).
pub const AUDIT_POLICY: &str = "etc/kubernetes/audit/policy.yaml";

/// The cluster's audit policy, as a site writes one by hand (with a comment and its own
/// quoting, so that only a byte-for-byte copy matches it): metadata of every request.
pub const AUDIT_POLICY_TEXT: &str = "# Log every request's metadata.\napiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages:\n  - \"RequestReceived\"\nrules:\n  - level: Metadata\n";

/// The `EncryptionConfiguration` of a cluster whose key was rotated once by hand, as the
/// Kubernetes documentation "Encrypting Confidential Data at Rest" shows it: aescbc with the new
/// key first, the old one second, `identity` last.
pub fn encryption_config() -> String {
    let keys: String = ENCRYPTION_KEYS
        .iter()
        .map(|(name, secret)| {
            format!("              - name: {name}\n                secret: {secret}\n")
        })
        .collect();
    format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n      - aescbc:\n          keys:\n{keys}      - identity: {{}}\n"
    )
}

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubeadm-host")
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Process::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn write(path: &Path, contents: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A CA as kubeadm makes it (`pkiutil.NewCertificateAuthority`): RSA 2048, the key PKCS#1 as
/// kubeadm's `keyutil.MarshalPrivateKeyToPEM` writes it, CN as kubeadm names it.
fn ca(pki: &Path, file: &str, cn: &str) {
    let key = format!("{file}.key");
    openssl(pki, &["genrsa", "-traditional", "-out", &key, "2048"]);
    openssl(
        pki,
        &[
            "req",
            "-x509",
            "-key",
            &key,
            "-days",
            "3650",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment",
            "-out",
            &format!("{file}.crt"),
        ],
    );
}

/// A leaf signed by `issuer` (`ca`, `front-proxy-ca`, `etcd/ca` under `pki`), written as
/// `dir/file.{crt,key}` with a PKCS#1 key, as kubeadm writes leaf keys.
fn leaf(
    pki: &Path,
    dir: &Path,
    file: &str,
    issuer: &str,
    subject: &str,
    usage: &str,
    sans: &[String],
) {
    std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
    let key = dir.join(format!("{file}.key"));
    let csr = dir.join(format!("{file}.csr"));
    let crt = dir.join(format!("{file}.crt"));
    let ext = dir.join(format!("{file}.ext"));
    openssl(
        pki,
        &[
            "genrsa",
            "-traditional",
            "-out",
            key.to_str().unwrap(),
            "2048",
        ],
    );
    openssl(
        pki,
        &[
            "req",
            "-new",
            "-key",
            key.to_str().unwrap(),
            "-subj",
            subject,
            "-out",
            csr.to_str().unwrap(),
        ],
    );
    let mut extensions = format!(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"
    );
    if !sans.is_empty() {
        extensions.push_str(&format!("subjectAltName={}\n", sans.join(",")));
    }
    write(&ext, extensions);
    openssl(
        pki,
        &[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            &format!("{issuer}.crt"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-CAcreateserial",
            "-days",
            "365",
            "-extfile",
            ext.to_str().unwrap(),
            "-out",
            crt.to_str().unwrap(),
        ],
    );
    std::fs::remove_file(csr).unwrap();
    std::fs::remove_file(ext).unwrap();
}

/// A kubeconfig as kubeadm's `kubeconfig` phase writes it: cluster `kubernetes`, the CA and the
/// client pair embedded.
fn kubeconfig(ca_pem: &str, server: &str, user: &str, cert: &str, key: &str) -> String {
    let b64 = |text: &str| STANDARD.encode(text);
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: {user}\n  name: {user}@kubernetes\ncurrent-context: {user}@kubernetes\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(ca_pem),
        b64(cert),
        b64(key)
    )
}

/// The kubelet's kubeconfig after its client certificate rotated (kubeadm's `kubelet.conf` once the
/// kubelet has started): it points at `kubelet-client-current.pem`.
fn kubelet_kubeconfig(ca_pem: &str, server: &str, node: &str) -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: system:node:{node}\n  name: system:node:{node}@kubernetes\ncurrent-context: system:node:{node}@kubernetes\nkind: Config\npreferences: {{}}\nusers:\n- name: system:node:{node}\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n",
        STANDARD.encode(ca_pem)
    )
}

/// The kubeadm release a cluster is made as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// `kubeadm init` and every `kubeadm join` at v1.33.
    V1_33,
    /// Initialised at v1.33, then upgraded (`kubeadm upgrade apply` v1.34, then v1.35, and
    /// `kubeadm upgrade node` on the others). The static pods come from the later generator
    /// (`getEtcdCommand` in cmd/kubeadm/app/phases/etcd/local.go, read at commit 0009808f5c66:
    /// etcd 3.6's `--feature-gates=InitialCorruptCheck=true` and `--watch-progress-notify-interval`
    /// in place of the `experimental-*` names; kubeadm sorts the flags), with the etcd image kubeadm
    /// pins for v1.35 (`3.6.6-0`, `src/versions/releases.tsv`). An upgrade leaves the replaced
    /// manifests under `/etc/kubernetes/tmp/kubeadm-backup-manifests-<date>-<time>/` (kubeadm's
    /// upgrade documentation, "kubeadm upgrade apply"). `super-admin.conf` is on the first control
    /// plane only (kubeadm writes it at `init`, never at `join`; `../shared/reference/kubeadm.md`).
    /// The kubelet's flags lack `--pod-infra-container-image`, which the v1.35 kubelet no longer
    /// has (`src/versions/upstream/kk-removals.tsv`).
    V1_35Upgraded,
}

/// Every release the adopt tests run on.
pub const RELEASES: [Release; 2] = [Release::V1_33, Release::V1_35Upgraded];

/// Where an upgrade left the manifests it replaced.
pub const UPGRADE_BACKUP: &str = "etc/kubernetes/tmp/kubeadm-backup-manifests-2026-01-12-10-00-00";

impl Release {
    /// The Kubernetes version its static pods run.
    pub fn version(self) -> &'static str {
        match self {
            Release::V1_33 => "v1.33.0",
            Release::V1_35Upgraded => "v1.35.0",
        }
    }

    /// A v1.33 manifest (`tests/kubeadm-host/`) as this release's generator writes it.
    fn manifest(self, text: &str) -> String {
        match self {
            Release::V1_33 => text.to_owned(),
            Release::V1_35Upgraded => {
                let text = text
                    .replace(":v1.33.0", ":v1.35.0")
                    .replace("etcd:3.5.24-0", "etcd:3.6.6-0")
                    .replace(
                        "    - --experimental-initial-corrupt-check=true\n",
                        "    - --feature-gates=InitialCorruptCheck=true\n",
                    );
                let last = "    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n";
                match text.split_once("    - --experimental-watch-progress-notify-interval=5s\n") {
                    Some((before, after)) => format!(
                        "{before}{}",
                        after.replacen(
                            last,
                            &format!("{last}    - --watch-progress-notify-interval=5s\n"),
                            1
                        )
                    ),
                    None => text,
                }
            }
        }
    }
}

/// A kubeadm v1.33 cluster under `roots/<host>/`.
pub fn kubeadm_cluster(roots: &Path) {
    kubeadm_cluster_at(roots, Release::V1_33);
}

/// A kubeadm cluster of `release` under `roots/<host>/`.
pub fn kubeadm_cluster_at(roots: &Path, release: Release) {
    let shared = roots.join(".pki");
    let pki = shared.as_path();
    std::fs::create_dir_all(pki.join("etcd")).unwrap();
    ca(pki, "ca", "kubernetes");
    ca(pki, "front-proxy-ca", "front-proxy-ca");
    ca(pki, "etcd/ca", "etcd-ca");
    openssl(pki, &["genrsa", "-traditional", "-out", "sa.key", "2048"]);
    openssl(pki, &["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
    let ca_pem = read(&pki.join("ca.crt"));
    let server = format!("https://{VIP}:6443");
    let members: Vec<String> = CONTROL_PLANES
        .iter()
        .map(|(name, ip)| format!("{name}=https://{ip}:2380"))
        .collect();
    for (index, (name, ip)) in CONTROL_PLANES.iter().enumerate() {
        let root = roots.join(name);
        let kpki = root.join("etc/kubernetes/pki");
        std::fs::create_dir_all(kpki.join("etcd")).unwrap();
        for file in [
            "ca.crt",
            "ca.key",
            "front-proxy-ca.crt",
            "front-proxy-ca.key",
            "etcd/ca.crt",
            "etcd/ca.key",
            "sa.key",
            "sa.pub",
        ] {
            std::fs::copy(pki.join(file), kpki.join(file)).unwrap();
        }
        let apiserver_sans = [
            format!("DNS:{name}"),
            "DNS:kubernetes".into(),
            "DNS:kubernetes.default".into(),
            "DNS:kubernetes.default.svc".into(),
            "DNS:kubernetes.default.svc.cluster.local".into(),
            format!("DNS:{EXTRA_SAN}"),
            "IP:10.96.0.1".into(),
            format!("IP:{ip}"),
            format!("IP:{VIP}"),
        ];
        leaf(
            pki,
            &kpki,
            "apiserver",
            "ca",
            "/CN=kube-apiserver",
            "serverAuth",
            &apiserver_sans,
        );
        leaf(
            pki,
            &kpki,
            "apiserver-kubelet-client",
            "ca",
            "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client",
            "clientAuth",
            &[],
        );
        leaf(
            pki,
            &kpki,
            "apiserver-etcd-client",
            "etcd/ca",
            "/CN=kube-apiserver-etcd-client",
            "clientAuth",
            &[],
        );
        leaf(
            pki,
            &kpki,
            "front-proxy-client",
            "front-proxy-ca",
            "/CN=front-proxy-client",
            "clientAuth",
            &[],
        );
        let etcd_sans = [
            format!("DNS:{name}"),
            "DNS:localhost".into(),
            format!("IP:{ip}"),
            "IP:127.0.0.1".into(),
            "IP:0:0:0:0:0:0:0:1".into(),
        ];
        leaf(
            pki,
            &kpki,
            "etcd/server",
            "etcd/ca",
            &format!("/CN={name}"),
            "serverAuth,clientAuth",
            &etcd_sans,
        );
        leaf(
            pki,
            &kpki,
            "etcd/peer",
            "etcd/ca",
            &format!("/CN={name}"),
            "serverAuth,clientAuth",
            &etcd_sans,
        );
        leaf(
            pki,
            &kpki,
            "etcd/healthcheck-client",
            "etcd/ca",
            "/CN=kube-etcd-healthcheck-client",
            "clientAuth",
            &[],
        );
        let scratch = roots.join(".scratch").join(name);
        for (conf, subject, user) in [
            (
                "admin",
                "/O=kubeadm:cluster-admins/CN=kubernetes-admin",
                "kubernetes-admin",
            ),
            (
                "super-admin",
                "/O=system:masters/CN=kubernetes-super-admin",
                "kubernetes-super-admin",
            ),
            (
                "controller-manager",
                "/CN=system:kube-controller-manager",
                "system:kube-controller-manager",
            ),
            (
                "scheduler",
                "/CN=system:kube-scheduler",
                "system:kube-scheduler",
            ),
        ] {
            if conf == "super-admin" && release == Release::V1_35Upgraded && index > 0 {
                continue;
            }
            leaf(pki, &scratch, conf, "ca", subject, "clientAuth", &[]);
            // kubeadm points the control-plane components at their own apiserver.
            let own = if conf == "admin" || conf == "super-admin" {
                server.clone()
            } else {
                format!("https://{ip}:6443")
            };
            write(
                &root.join(format!("etc/kubernetes/{conf}.conf")),
                kubeconfig(
                    &ca_pem,
                    &own,
                    user,
                    &read(&scratch.join(format!("{conf}.crt"))),
                    &read(&scratch.join(format!("{conf}.key"))),
                ),
            );
        }
        kubelet_files(pki, roots, name, ip, &server, release);
        // Readable by root alone, as a file holding keys should be; the policy as written.
        write(&root.join(ENCRYPTION_CONFIG), encryption_config());
        std::fs::set_permissions(
            root.join(ENCRYPTION_CONFIG),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        write(&root.join(AUDIT_POLICY), AUDIT_POLICY_TEXT);
        for manifest in [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            let base = read(&template().join(format!("etc/kubernetes/manifests/{manifest}.yaml")))
                .replace("192.168.56.21", ip)
                .replace("cp-1", name);
            let joined = match manifest {
                // kubeadm join: the member list up to this one, and `existing`.
                "etcd" if index > 0 => base.replace(
                    &format!("--initial-cluster={name}=https://{ip}:2380"),
                    &format!(
                        "--initial-cluster={}\n    - --initial-cluster-state=existing",
                        members[..=index].join(",")
                    ),
                ),
                "kube-apiserver" => with_extras(&base),
                _ => base.clone(),
            };
            let text = match release {
                Release::V1_33 => joined,
                Release::V1_35Upgraded => {
                    write(
                        &root.join(UPGRADE_BACKUP).join(format!("{manifest}.yaml")),
                        &joined,
                    );
                    // `kubeadm upgrade` writes every member's etcd pod as `init` does, with no
                    // member list (`CreateLocalEtcdStaticPodManifestFile` in
                    // cmd/kubeadm/app/phases/etcd/local.go: "used by init ... or by kubeadm
                    // upgrade ... (and the --initial-cluster flag have no impact)").
                    let upgraded = release.manifest(&base);
                    if manifest == "kube-apiserver" {
                        with_extras(&upgraded)
                    } else {
                        upgraded
                    }
                }
            };
            // kubeadm writes static pods readable by root alone (`WriteStaticPodToDisk` in
            // cmd/kubeadm/app/util/staticpod/utils.go: `os.WriteFile(filename, serialized, 0600)`).
            let path = root.join(format!("etc/kubernetes/manifests/{manifest}.yaml"));
            write(&path, text);
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
    }
    for (name, ip) in WORKERS {
        let root = roots.join(name);
        std::fs::create_dir_all(root.join("etc/kubernetes/pki")).unwrap();
        std::fs::copy(pki.join("ca.crt"), root.join("etc/kubernetes/pki/ca.crt")).unwrap();
        kubelet_files(pki, roots, name, ip, &server, release);
    }
    std::fs::remove_dir_all(roots.join(".scratch")).unwrap();
    std::fs::remove_dir_all(shared).unwrap();
}

/// The apiserver with `--profiling=false`, `--event-ttl=4h`, encryption at rest and hostPath
/// volumes of its own (kubeadm's `apiServer.extraArgs` and `extraVolumes`; kubeadm sorts the
/// flags).
fn with_extras(text: &str) -> String {
    text.replace(
        "    - --authorization-mode=",
        "    - --audit-log-maxage=7\n    - --audit-log-maxbackup=5\n    - --audit-log-maxsize=50\n    - --audit-log-path=/var/log/kubernetes/audit/audit.log\n    - --audit-policy-file=/etc/kubernetes/audit/policy.yaml\n    - --authorization-mode=",
    )
    .replace(
        "    - --etcd-cafile=",
        "    - --encryption-provider-config=/etc/kubernetes/enc/enc.yaml\n    - --event-ttl=4h\n    - --etcd-cafile=",
    )
    .replace(
        "    - --proxy-client-cert-file=",
        "    - --profiling=false\n    - --proxy-client-cert-file=",
    )
    .replace(
        "    volumeMounts:\n",
        "    volumeMounts:\n    - mountPath: /etc/kubernetes/audit\n      name: audit\n      readOnly: true\n    - mountPath: /var/log/kubernetes/audit\n      name: audit-log\n    - mountPath: /etc/kubernetes/enc\n      name: enc\n      readOnly: true\n    - mountPath: /etc/kubernetes/webhooks\n      name: webhooks\n      readOnly: true\n",
    )
    .replace(
        "  volumes:\n",
        "  volumes:\n  - hostPath:\n      path: /etc/kubernetes/audit\n      type: DirectoryOrCreate\n    name: audit\n  - hostPath:\n      path: /var/log/kubernetes/audit\n      type: DirectoryOrCreate\n    name: audit-log\n  - hostPath:\n      path: /etc/kubernetes/enc\n      type: DirectoryOrCreate\n    name: enc\n  - hostPath:\n      path: /etc/kubernetes/webhooks\n      type: DirectoryOrCreate\n    name: webhooks\n",
    )
}

/// The kubelet's files on any kubeadm node: kubeadm-flags.env with `--node-ip` (kubeadm's
/// `nodeRegistration.kubeletExtraArgs`), config.yaml, kubelet.conf pointing at the rotated client
/// pair, and the kubelet's self-signed serving certificate.
fn kubelet_files(pki: &Path, roots: &Path, name: &str, ip: &str, server: &str, release: Release) {
    let root = roots.join(name);
    let scratch = roots.join(".scratch").join(name);
    leaf(
        pki,
        &scratch,
        "kubelet-client",
        "ca",
        &format!("/O=system:nodes/CN=system:node:{name}"),
        "clientAuth",
        &[],
    );
    write(
        &root.join("var/lib/kubelet/pki/kubelet-client-current.pem"),
        read(&scratch.join("kubelet-client.crt")) + &read(&scratch.join("kubelet-client.key")),
    );
    let kubelet_pki = root.join("var/lib/kubelet/pki");
    openssl(
        &kubelet_pki,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "365",
            "-subj",
            &format!("/CN={name}@1700000000"),
            "-addext",
            &format!("subjectAltName=DNS:{name}"),
            "-keyout",
            "kubelet.key",
            "-out",
            "kubelet.crt",
        ],
    );
    write(
        &root.join("etc/kubernetes/kubelet.conf"),
        kubelet_kubeconfig(&read(&pki.join("ca.crt")), server, name),
    );
    let pause = match release {
        Release::V1_33 => " --pod-infra-container-image=registry.k8s.io/pause:3.10",
        Release::V1_35Upgraded => "",
    };
    write(
        &root.join("var/lib/kubelet/kubeadm-flags.env"),
        format!(
            "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --node-ip={ip}{pause}\"\n"
        ),
    );
    std::fs::copy(
        template().join("var/lib/kubelet/config.yaml"),
        root.join("var/lib/kubelet/config.yaml"),
    )
    .unwrap();
}
