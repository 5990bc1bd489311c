//! No secret leaves through `diff` or `verify` (nor `preflight` and `images`, which read the same
//! root and spec), whatever valid form the machine's files take.
//!
//! The keepalived HA example (ECDSA keys, encryption at rest, a VRRP password, TLS bootstrap for
//! the bootstrap token Secret) is built for `cp1`; then the secret-bearing files on its root are
//! rewritten in other valid forms — JSON with tabs, folded and literal block scalars, quoted keys,
//! flow style, extra fields, aliases, several documents, a `List`, an OIDC auth-provider, an exec
//! plugin's env and args, `stringData` and `data`, `auth_pass` after a tab or in quotes, haproxy's
//! `stats auth`, keys re-wrapped, swapped or truncated, a kubeconfig cut short — and every output
//! of `diff` (text, `--stat`, `--name-only`, `-o json`, `--color always`, with and without a
//! fingerprint key) and of `verify` (`--root`, and a tar of the same files) is searched for every
//! 8-byte window of every secret, raw, in base64 (at each of the three alignments, as a secret
//! embedded in a longer base64 value is) and in hex. Secrets: each private key's scalar and the
//! part of its PEM body that encodes it, the encryption key, the bootstrap token's secret, the VRRP
//! password, the fingerprint key, and the OIDC, exec and haproxy values planted here; with the
//! offline oracles: the sha256 of the VRRP password and of keepalived.conf, and the keepalived
//! pod's config hash.
//!
//! `adopt` (text, `-o json`, and refused) of a kubeadm cluster, and of a tutorial-style one
//! (`common/tutorial_cluster.rs`), prints no window of any private key or encryption key the
//! cluster holds, and the spec it writes holds none.

use crate::common::{self, Spec};

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{run_kcompile, text};
use sec1::der::Decode;
use sha2::{Digest, Sha256};

/// Values planted on the machine only; random, so no window of them is anything else.
const OIDC_CLIENT_SECRET: &str = "Qx7vN2pLm9RtW4sZ";
const OIDC_ID_TOKEN: &str = "Zk3wPq8sYtHn5Ue1";
const OIDC_REFRESH_TOKEN: &str = "Vb6nHj4kLr2xC7dA";
const EXEC_ENV: &str = "Yu9eLs2vBn6mK3pQ";
const EXEC_ARG: &str = "Tg5mWq1zXc8bR2nF";
const HAPROXY_PASSWORD: &str = "Hs4pXw7nQe2rT9kM";
const STALE_CONFIG_HASH: &str =
    "sha256:5d1f0c9e8b7a69584736251403f2e1d0c9b8a79685746352413021f0e9d8c7b6";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The example with TLS bootstrap, its state, and cp1's bundle written to `pristine/`.
struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec::example("ha-keepalived").set("kubelet.tlsBootstrap", true);
        fs::write(dir.path().join("cluster.yaml"), spec.yaml()).unwrap();
        let cluster = Cluster { dir };
        // Every host's keys in the state (a build of one host issues only that host's), and cp1's
        // bundle as the pristine tree.
        let output = cluster.run(&["build", "--all", "--out", "all"]);
        assert!(output.status.success(), "{}", text(&output));
        let output = cluster.run(&["build", "--host", "cp1", "--out", "pristine"]);
        assert!(output.status.success(), "{}", text(&output));
        for path in [
            "etc/kubernetes/addons/bootstrap.yaml",
            "etc/keepalived/keepalived.conf",
            "etc/kubernetes/encryption-config.yaml",
        ] {
            assert!(cluster.pristine(path).exists(), "the bundle has {path}");
        }
        cluster
    }

    fn run(&self, args: &[&str]) -> Output {
        run_kcompile(self.dir.path(), args)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn pristine(&self, relative: &str) -> PathBuf {
        self.path("pristine").join(relative)
    }

    fn state(&self, relative: &str) -> String {
        fs::read_to_string(self.path("cluster.state").join(relative)).unwrap()
    }

    /// The bootstrap token `<id>.<secret>`: the first line of its state file (the second holds
    /// its expiry).
    fn token(&self) -> String {
        let file = self.state("secrets/bootstrap-token");
        file.lines().next().unwrap().to_owned()
    }

    /// A copy of the pristine bundle, to plant forms in.
    fn root(&self, name: &str) -> Root {
        let root = self.path(name);
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(self.path("pristine"))
            .arg(&root)
            .status()
            .unwrap();
        assert!(status.success());
        Root { root }
    }

    /// Every secret (and offline oracle), as bytes.
    fn secrets(&self) -> Vec<(String, Vec<u8>)> {
        let mut secrets = Vec::new();
        for entry in walkdir::WalkDir::new(self.path("cluster.state")) {
            let entry = entry.unwrap();
            if entry.path().extension().is_none_or(|e| e != "key") {
                continue;
            }
            let name = entry.path().display().to_string();
            let pem_text = fs::read_to_string(entry.path()).unwrap();
            let block = pem::parse(&pem_text).unwrap();
            let scalar = match block.tag() {
                "EC PRIVATE KEY" => sec1::EcPrivateKey::from_der(block.contents())
                    .unwrap()
                    .private_key
                    .to_vec(),
                tag => panic!("{name}: an ECDSA cluster has `{tag}`"),
            };
            secrets.push((format!("{name} (scalar)"), scalar));
            // The PEM body's characters that encode only the scalar (bytes 9 to 39 of the
            // SEC1 DER: `MHcCAQEEI…` before, the curve's OID after, both public).
            let first_line = pem_text.lines().nth(1).unwrap();
            assert!(
                first_line.starts_with("MHcCAQEEI"),
                "{name}: a P-256 SEC1 key"
            );
            secrets.push((
                format!("{name} (PEM body)"),
                first_line.as_bytes()[12..52].to_vec(),
            ));
        }
        assert!(
            secrets.len() >= 80,
            "the state holds every host's keys: {}",
            secrets.len()
        );
        let encryption = self.state("secrets/encryption-key");
        let encryption = encryption.trim();
        secrets.push(("encryption key".into(), encryption.as_bytes().to_vec()));
        secrets.push((
            "encryption key (bytes)".into(),
            STANDARD.decode(encryption).unwrap(),
        ));
        let token = self.token();
        let (_, token_secret) = token.split_once('.').unwrap();
        assert_eq!(token_secret.len(), 16);
        secrets.push(("bootstrap token secret".into(), token_secret.into()));
        let vrrp = self.state("secrets/vrrp-password");
        let vrrp = vrrp.trim();
        assert_eq!(vrrp.len(), 8);
        secrets.push(("VRRP password".into(), vrrp.into()));
        secrets.push((
            "sha256 of the VRRP password".into(),
            sha256_hex(vrrp.as_bytes()).into(),
        ));
        let keepalived = fs::read(self.pristine("etc/keepalived/keepalived.conf")).unwrap();
        assert!(String::from_utf8_lossy(&keepalived).contains(vrrp));
        secrets.push((
            "sha256 of keepalived.conf".into(),
            sha256_hex(&keepalived).into(),
        ));
        let pod =
            fs::read_to_string(self.pristine("etc/kubernetes/manifests/keepalived.yaml")).unwrap();
        let hash = pod
            .lines()
            .find_map(|l| l.trim().strip_prefix("kcompile.io/config-hash: sha256:"))
            .expect("the keepalived pod has a config hash");
        secrets.push(("keepalived pod config hash".into(), hash.into()));
        secrets.push((
            "stale config hash".into(),
            STALE_CONFIG_HASH["sha256:".len()..].into(),
        ));
        let fingerprint_key = self.state("secrets/fingerprint-key");
        let fingerprint_key = fingerprint_key.trim();
        secrets.push(("fingerprint key".into(), fingerprint_key.into()));
        secrets.push((
            "fingerprint key (bytes)".into(),
            STANDARD.decode(fingerprint_key).unwrap(),
        ));
        for (name, value) in [
            ("OIDC client-secret", OIDC_CLIENT_SECRET),
            ("OIDC id-token", OIDC_ID_TOKEN),
            ("OIDC refresh-token", OIDC_REFRESH_TOKEN),
            ("exec env value", EXEC_ENV),
            ("exec arg value", EXEC_ARG),
            ("haproxy stats password", HAPROXY_PASSWORD),
        ] {
            secrets.push((name.into(), value.into()));
        }
        secrets
    }

    fn diff(&self, root: &Root, extra: &[&str]) -> Output {
        let mut args = vec![
            "diff",
            "--host",
            "cp1",
            "--root",
            root.root.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Every output of `diff`, `verify`, `preflight` and `images` for `root`, by what produced it.
    fn outputs(&self, root: &Root) -> Vec<(String, Output)> {
        let mut outputs = Vec::new();
        for extra in [
            &["--color", "never"][..],
            &["--stat"],
            &["--name-only"],
            &["-o", "json"],
            &["--color", "always"],
        ] {
            let output = self.diff(root, extra);
            assert_eq!(
                output.status.code(),
                Some(1),
                "diff {extra:?} finds the changes:\n{}",
                text(&output)
            );
            outputs.push((format!("diff {}", extra.join(" ")), output));
        }
        let verify = self.run(&["verify", "--root", root.root.to_str().unwrap()]);
        assert!(
            matches!(verify.status.code(), Some(0 | 1)),
            "{}",
            text(&verify)
        );
        outputs.push(("verify --root".into(), verify));
        let tar = self.path(&format!(
            "{}.tar",
            root.root.file_name().unwrap().to_string_lossy()
        ));
        let status = std::process::Command::new("tar")
            .arg("-C")
            .arg(&root.root)
            .arg("-cf")
            .arg(&tar)
            .arg("etc")
            .arg("var")
            .status()
            .unwrap();
        assert!(status.success());
        let verify = self.run(&["verify", tar.to_str().unwrap()]);
        assert!(
            matches!(verify.status.code(), Some(0 | 1)),
            "{}",
            text(&verify)
        );
        outputs.push(("verify TAR".into(), verify));
        for extra in [&[][..], &["-o", "json"]] {
            let mut args = vec![
                "preflight",
                "--host",
                "cp1",
                "--root",
                root.root.to_str().unwrap(),
            ];
            args.extend_from_slice(extra);
            let preflight = self.run(&args);
            assert!(
                matches!(preflight.status.code(), Some(0 | 1)),
                "{}",
                text(&preflight)
            );
            outputs.push((format!("preflight {}", extra.join(" ")), preflight));
            let mut args = vec!["images"];
            args.extend_from_slice(extra);
            let images = self.run(&args);
            assert!(images.status.success(), "{}", text(&images));
            outputs.push((format!("images {}", extra.join(" ")), images));
        }
        outputs
    }
}

/// A host root to plant forms in.
struct Root {
    root: PathBuf,
}

impl Root {
    fn read(&self, relative: &str) -> String {
        fs::read_to_string(self.root.join(relative)).unwrap()
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        fs::write(self.root.join(relative), contents).unwrap();
    }

    /// Rewrites the kubeconfig at `relative` with its server and the `user:` body `body` makes
    /// of its parts (indented by four spaces).
    fn rewrite_user(&self, relative: &str, body: impl FnOnce(&Kubeconfig) -> String) {
        let kubeconfig = self.kubeconfig(relative);
        self.write(
            relative,
            kubeconfig.yaml_with(&kubeconfig.server, &body(&kubeconfig)),
        );
    }

    /// A kubeconfig's parts as kcompile wrote them.
    fn kubeconfig(&self, relative: &str) -> Kubeconfig {
        let value: serde_json::Value = serde_saphyr::from_str(&self.read(relative)).unwrap();
        let field = |pointer: &str| value.pointer(pointer).unwrap().as_str().unwrap().to_owned();
        Kubeconfig {
            ca: field("/clusters/0/cluster/certificate-authority-data"),
            server: field("/clusters/0/cluster/server"),
            cluster: field("/clusters/0/name"),
            user: field("/users/0/name"),
            cert: field("/users/0/user/client-certificate-data"),
            key: field("/users/0/user/client-key-data"),
        }
    }
}

struct Kubeconfig {
    ca: String,
    server: String,
    cluster: String,
    user: String,
    cert: String,
    key: String,
}

impl Kubeconfig {
    /// JSON, indented with tabs, with fields kcompile does not write.
    fn json(&self) -> String {
        let Kubeconfig {
            ca,
            server,
            cluster,
            user,
            cert,
            key,
        } = self;
        format!(
            "{{\n\t\"kind\": \"Config\",\n\t\"apiVersion\": \"v1\",\n\t\"preferences\": {{}},\n\t\"clusters\": [{{\"name\": \"{cluster}\", \"cluster\": {{\"server\": \"{server}\", \"certificate-authority-data\": \"{ca}\", \"tls-server-name\": \"kubernetes\"}}}}],\n\t\"contexts\": [{{\"name\": \"{user}@{cluster}\", \"context\": {{\"cluster\": \"{cluster}\", \"user\": \"{user}\"}}}}],\n\t\"current-context\": \"{user}@{cluster}\",\n\t\"users\": [{{\"name\": \"{user}\", \"user\": {{\"client-certificate-data\": \"{cert}\", \"client-key-data\": \"{key}\"}}}}]\n}}\n"
        )
    }

    /// YAML with the given `user:` body (already indented by four spaces) and server.
    fn yaml_with(&self, server: &str, user_body: &str) -> String {
        let Kubeconfig {
            ca, cluster, user, ..
        } = self;
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: {user}\n  name: {user}@{cluster}\ncurrent-context: {user}@{cluster}\nusers:\n- name: {user}\n  user:\n{user_body}"
        )
    }
}

/// `text` wrapped at `width` characters.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    text.as_bytes()
        .chunks(width)
        .map(|c| format!("{indent}{}\n", std::str::from_utf8(c).unwrap()))
        .collect()
}

/// Every 8-byte window of a secret: raw, base64 at three alignments, hex.
fn windows(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut encodings = vec![secret.to_vec()];
    for skip in 0..3 {
        if secret.len() > skip + 6 {
            let encoded = STANDARD.encode(&secret[skip..]);
            // The last group depends on what follows the secret in a longer value.
            let stable = if skip == 0 {
                encoded.len()
            } else {
                encoded.len().saturating_sub(4)
            };
            encodings.push(encoded.as_bytes()[..stable].to_vec());
        }
    }
    encodings.push(
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into_bytes(),
    );
    let mut windows = Vec::new();
    for encoded in encodings {
        for window in encoded.windows(8) {
            windows.push(window.to_vec());
        }
    }
    windows
}

/// Every window of every secret, with the secret's name.
struct Windows(std::collections::HashMap<Vec<u8>, String>);

impl Windows {
    fn of(secrets: &[(String, Vec<u8>)]) -> Windows {
        let mut all = std::collections::HashMap::new();
        for (name, secret) in secrets {
            for window in windows(secret) {
                all.entry(window).or_insert_with(|| name.clone());
            }
        }
        Windows(all)
    }

    fn assert_absent(&self, label: &str, output: &[u8]) {
        for (at, window) in output.windows(8).enumerate() {
            if let Some(name) = self.0.get(window) {
                let context = String::from_utf8_lossy(
                    &output[at.saturating_sub(120)..(at + 120).min(output.len())],
                );
                panic!(
                    "{label}: 8 bytes of the {name} (`{}`) leaked:\n…{context}…",
                    String::from_utf8_lossy(window)
                );
            }
        }
    }

    fn assert_outputs_clean(&self, outputs: &[(String, Output)]) {
        for (label, output) in outputs {
            self.assert_absent(label, &output.stdout);
            self.assert_absent(label, &output.stderr);
        }
    }
}

fn stdout_of(outputs: &[(String, Output)], label: &str) -> String {
    let (_, output) = outputs.iter().find(|(l, _)| l == label).unwrap();
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Round one: a form of every secret-bearing file, each readable by its consumer.
fn plant_first_forms(cluster: &Cluster, root: &Root) {
    let vrrp = cluster.state("secrets/vrrp-password").trim().to_owned();
    let token = cluster.token();
    let (token_id, token_secret) = token.split_once('.').unwrap();
    let encryption = cluster.state("secrets/encryption-key").trim().to_owned();

    // 1. admin.conf: JSON, tabs, extra fields.
    let admin = root.kubeconfig("etc/kubernetes/admin.conf");
    root.write("etc/kubernetes/admin.conf", admin.json());

    // 2. controller-manager.conf: folded client-key-data, literal (wrapped) certificate.
    root.rewrite_user("etc/kubernetes/controller-manager.conf", |cm| {
        format!(
            "    client-certificate-data: |\n{}    client-key-data: >-\n      {}\n",
            wrap(&cm.cert, 76, "      "),
            cm.key
        )
    });

    // 3. scheduler.conf: quoted keys, single-quoted values, a tab, and a new server (shown).
    let scheduler = root.kubeconfig("etc/kubernetes/scheduler.conf");
    let body = format!(
        "    \"client-certificate-data\": '{}'\n    \"client-key-data\":\t'{}'\n",
        scheduler.cert, scheduler.key
    );
    root.write(
        "etc/kubernetes/scheduler.conf",
        scheduler.yaml_with("https://192.168.10.99:8443", &body),
    );

    // 4. super-admin.conf: flow style on one line.
    let sa = root.kubeconfig("etc/kubernetes/super-admin.conf");
    root.write(
        "etc/kubernetes/super-admin.conf",
        format!(
            "{{apiVersion: v1, kind: Config, clusters: [{{name: {c}, cluster: {{server: '{s}', certificate-authority-data: {ca}}}}}], contexts: [{{name: ctx, context: {{cluster: {c}, user: {u}}}}}], current-context: ctx, users: [{{name: {u}, user: {{client-certificate-data: {cert}, client-key-data: {key}}}}}]}}\n",
            c = sa.cluster,
            s = sa.server,
            ca = sa.ca,
            u = sa.user,
            cert = sa.cert,
            key = sa.key
        ),
    );

    // 5. kubelet.conf: a second user with an OIDC auth-provider.
    root.rewrite_user("etc/kubernetes/kubelet.conf", |kubelet| {
        format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n- name: oidc\n  user:\n    auth-provider:\n      name: oidc\n      config:\n        client-id: kubernetes\n        client-secret: {OIDC_CLIENT_SECRET}\n        id-token: {OIDC_ID_TOKEN}\n        idp-issuer-url: https://dex.example.com\n        refresh-token: \"{OIDC_REFRESH_TOKEN}\"\n",
        kubelet.cert, kubelet.key
        )
    });

    // 6. kube-proxy.conf: an exec credential plugin with env values and a token argument.
    root.rewrite_user("etc/kubernetes/kube-proxy.conf", |proxy| {
        format!(
        "    client-key-data: {}\n    client-certificate-data: {}\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /usr/local/bin/get-token\n      args: [\"--cluster=lab\", \"--token={EXEC_ARG}\"]\n      env:\n      - name: HELPER_SETTING\n        value: {EXEC_ENV}\n      interactiveMode: Never\n",
        proxy.key, proxy.cert
        )
    });

    // 7. encryption-config.yaml: JSON with extra fields.
    let key_name = root
        .read("etc/kubernetes/encryption-config.yaml")
        .lines()
        .find_map(|l| l.trim().strip_prefix("- name: ").map(str::to_owned))
        .unwrap();
    root.write(
        "etc/kubernetes/encryption-config.yaml",
        format!(
            "{{\"kind\":\"EncryptionConfiguration\",\"apiVersion\":\"apiserver.config.k8s.io/v1\",\"resources\":[{{\"resources\":[\"secrets\"],\"providers\":[{{\"secretbox\":{{\"keys\":[{{\"name\":\"{key_name}\",\"secret\":\"{encryption}\"}}]}}}},{{\"identity\":{{}}}}]}}]}}\n"
        ),
    );

    // 8. bootstrap.yaml: the Secret as JSON with quoted keys and `data` besides `stringData`.
    let bootstrap = root.read("etc/kubernetes/addons/bootstrap.yaml");
    let (_, bindings) = bootstrap.split_once("---\n").unwrap();
    root.write(
        "etc/kubernetes/addons/bootstrap.yaml",
        format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"type\": \"bootstrap.kubernetes.io/token\",\n \"metadata\": {{\"name\": \"bootstrap-token-{token_id}\", \"namespace\": \"kube-system\"}},\n \"stringData\": {{\"token-id\": \"{token_id}\", \"token-secret\": \"{token_secret}\", \"usage-bootstrap-authentication\": \"true\"}},\n \"data\": {{\"token-secret\": \"{}\"}}}}\n---\n{bindings}",
            STANDARD.encode(token_secret)
        ),
    );

    // 9. keepalived.conf: tabs, the authentication block on one line, a comment naming the
    //    password.
    let keepalived = root.read("etc/keepalived/keepalived.conf");
    let line = format!("        auth_pass {vrrp}\n");
    assert!(keepalived.contains(&line));
    let keepalived = keepalived
        .replace(&line, &format!("\t\tauth_pass\t{vrrp}\t! was {vrrp}\n"))
        .replace(
            "    authentication {\n",
            "    authentication {\n\t\t# shared\n",
        );
    root.write("etc/keepalived/keepalived.conf", keepalived);

    // 10. haproxy.cfg: a stats listener with a password.
    let mut haproxy = root.read("etc/haproxy/haproxy.cfg");
    haproxy.push_str(&format!(
        "\nlisten stats\n    bind 127.0.0.1:8404\n    stats enable\n    stats auth admin:{HAPROXY_PASSWORD}\n"
    ));
    root.write("etc/haproxy/haproxy.cfg", haproxy);

    // 11. apiserver.key: the same key, re-wrapped with CRLF line ends.
    let key = root.read("etc/kubernetes/pki/apiserver.key");
    root.write(
        "etc/kubernetes/pki/apiserver.key",
        key.replace('\n', "\r\n"),
    );

    // 12. front-proxy-client.key: another host's key.
    let other = cluster.state("hosts/cp2/front-proxy-client.key");
    root.write("etc/kubernetes/pki/front-proxy-client.key", other);

    // 13. kubelet.key: cut short.
    let key = root.read("var/lib/kubelet/pki/kubelet.key");
    root.write("var/lib/kubelet/pki/kubelet.key", &key[..key.len() / 2]);

    // 14. The keepalived pod: a stale config hash and a comment.
    let pod = root.read("etc/kubernetes/manifests/keepalived.yaml");
    let hash = pod
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("kcompile.io/config-hash: ")
                .map(str::to_owned)
        })
        .unwrap();
    root.write(
        "etc/kubernetes/manifests/keepalived.yaml",
        pod.replace(&hash, STALE_CONFIG_HASH) + "# edited by hand\n",
    );
}

/// Round two: other forms of the same files, and one that does not parse.
fn plant_second_forms(cluster: &Cluster, root: &Root) {
    let vrrp = cluster.state("secrets/vrrp-password").trim().to_owned();
    let token = cluster.token();
    let (token_id, token_secret) = token.split_once('.').unwrap();
    let encryption = cluster.state("secrets/encryption-key").trim().to_owned();

    // 1. admin.conf: JSON cut short in the middle of the key.
    let admin = root.kubeconfig("etc/kubernetes/admin.conf").json();
    let cut = admin.find("\"client-key-data\"").unwrap() + 40;
    root.write("etc/kubernetes/admin.conf", &admin[..cut]);

    // 2. controller-manager.conf: the key under an alias, a tab after the colon.
    let cm = root.kubeconfig("etc/kubernetes/controller-manager.conf");
    let text = cm.yaml_with(
        &cm.server,
        &format!(
            "    client-certificate-data: {}\n    client-key-data:\t*key\n",
            cm.cert
        ),
    );
    root.write(
        "etc/kubernetes/controller-manager.conf",
        format!("x-key: &key {}\n{text}", cm.key),
    );

    // 3. scheduler.conf: a literal block scalar wrapped at 64 columns.
    root.rewrite_user("etc/kubernetes/scheduler.conf", |scheduler| {
        format!(
            "    client-certificate-data: {}\n    client-key-data: |\n{}",
            scheduler.cert,
            wrap(&scheduler.key, 64, "      ")
        )
    });

    // 4. kubelet.conf: a token user beside the certificate one, flow style.
    root.rewrite_user("etc/kubernetes/kubelet.conf", |kubelet| {
        format!(
        "    {{client-certificate-data: {}, client-key-data: {}}}\n- {{name: bootstrap, user: {{token: \"{token}\"}}}}\n",
        kubelet.cert, kubelet.key
        )
    });

    // 5. kube-proxy.conf: exec env in flow style, the token as a separate argument.
    root.rewrite_user("etc/kubernetes/kube-proxy.conf", |proxy| {
        format!(
        "    client-key-data: \"{}\"\n    client-certificate-data: {}\n    exec: {{command: get-token, args: [--password, {EXEC_ARG}], env: [{{name: A, value: \"{EXEC_ENV}\"}}, {{name: B, value: {OIDC_ID_TOKEN}}}]}}\n",
        proxy.key, proxy.cert
        )
    });

    // 6. encryption-config.yaml: YAML flow style, quoted keys, a second provider.
    root.write(
        "etc/kubernetes/encryption-config.yaml",
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets, configmaps]\n    providers:\n      - \"aescbc\": {{\"keys\": [{{\"name\": \"old\", \"secret\": \"{encryption}\"}}]}}\n      - {{secretbox: {{keys: [{{name: new, \"secret\": '{encryption}'}}]}}}}\n      - identity: {{}}\n"
        ),
    );

    // 7. bootstrap.yaml: a List holding the Secret with `data` only.
    root.write(
        "etc/kubernetes/addons/bootstrap.yaml",
        format!(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: bootstrap-token-{token_id}\n    namespace: kube-system\n  type: bootstrap.kubernetes.io/token\n  data:\n    token-id: {}\n    token-secret: {}\n",
            STANDARD.encode(token_id),
            STANDARD.encode(token_secret)
        ),
    );

    // 8. keepalived.conf: the password quoted, with spaces around it.
    let keepalived = root.read("etc/keepalived/keepalived.conf");
    let keepalived = keepalived.replace(
        &format!("auth_pass {vrrp}\n"),
        &format!("auth_pass    \"{vrrp}\"   \n"),
    );
    root.write("etc/keepalived/keepalived.conf", keepalived);

    // 9. ca.key: the key with explanatory text before it and 48-column lines.
    let key = root.read("etc/kubernetes/pki/ca.key");
    let block = pem::parse(&key).unwrap();
    let body = STANDARD.encode(block.contents());
    root.write(
        "etc/kubernetes/pki/ca.key",
        format!(
            "-----BEGIN EC PRIVATE KEY-----\n{}-----END EC PRIVATE KEY-----\n",
            wrap(&body, 48, "")
        ),
    );
}

#[test]
fn no_secret_leaves_through_diff_or_verify() {
    let cluster = Cluster::new();
    let secrets = Windows::of(&cluster.secrets());

    let first = cluster.root("first");
    plant_first_forms(&cluster, &first);
    let outputs = cluster.outputs(&first);
    secrets.assert_outputs_clean(&outputs);
    let full = stdout_of(&outputs, "diff --color never");
    for expected in [
        // A non-secret change in a kubeconfig written differently is shown.
        "-    server: https://192.168.10.99:8443",
        "+    server: https://192.168.10.11:6443",
        // So are fields kcompile does not write, in a kubeconfig written as JSON.
        "-    tls-server-name: kubernetes",
        // Secrets show as keyed fingerprints, in any form.
        "client-key-data: <hmac:",
        "secret: <hmac:",
        "token-secret: <hmac:",
        "\t\tauth_pass\t<hmac:",
        "stats auth <hmac:",
        "client-secret: <hmac:",
        "value: <hmac:",
        "kcompile.io/config-hash: <hmac:",
        "# edited by hand",
        "~ etc/kubernetes/pki/apiserver.key: the same key, written differently",
        "~ etc/kubernetes/pki/front-proxy-client.key: changed (hmac:",
        "~ var/lib/kubelet/pki/kubelet.key: changed (unparseable), fingerprint withheld",
    ] {
        assert!(full.contains(expected), "`{expected}` in:\n{full}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&outputs, "diff -o json")).unwrap();
    assert!(json["summary"]["change"].as_u64().unwrap() >= 14, "{json}");

    // The MANIFEST, which hashes keepalived.conf and every key, is as private as they are.
    let manifest = cluster.pristine("etc/kubernetes/kcompile/MANIFEST");
    assert_eq!(
        fs::metadata(&manifest).unwrap().permissions().mode() & 0o7777,
        0o600,
        "the MANIFEST is 0600"
    );

    let second = cluster.root("second");
    plant_second_forms(&cluster, &second);
    let outputs = cluster.outputs(&second);
    secrets.assert_outputs_clean(&outputs);
    let full = stdout_of(&outputs, "diff --color never");
    for expected in [
        "~ etc/kubernetes/admin.conf: changed (unparseable), fingerprint withheld",
        "~ etc/kubernetes/pki/ca.key: the same key, written differently",
        "auth_pass    <hmac:",
        "token: <hmac:",
    ] {
        assert!(full.contains(expected), "`{expected}` in:\n{full}");
    }
    let verify = stdout_of(&outputs, "verify --root");
    assert!(
        verify.contains("admin.conf: cannot be used: not a kubeconfig"),
        "{verify}"
    );

    // Without a fingerprint key in the state, no fingerprint at all.
    let key = cluster.path("cluster.state/secrets/fingerprint-key");
    fs::rename(&key, cluster.path("fingerprint-key")).unwrap();
    let forget = cluster.run(&["state", "forget", "secrets/fingerprint-key"]);
    assert!(forget.status.success(), "{}", text(&forget));
    let withheld = cluster.diff(&first, &["--color", "never"]);
    let withheld_text = text(&withheld);
    secrets.assert_absent("diff without a key", withheld_text.as_bytes());
    assert!(!withheld_text.contains("hmac:"), "{withheld_text}");
    assert!(
        withheld_text.contains("client-key-data: <redacted>"),
        "{withheld_text}"
    );
    assert!(
        withheld_text
            .contains("front-proxy-client.key: changed (a different key), fingerprint withheld"),
        "{withheld_text}"
    );
    secrets.assert_absent(
        "diff -o json without a key",
        &cluster.diff(&first, &["-o", "json"]).stdout,
    );
}

/// `token create` and `token list` show the token id and expiry, never its secret (kubeadm prints
/// the whole token; kcompile keeps the secret for the files that need it, both 0600); the build
/// after it does not either, while the bundle it writes holds the new token.
#[test]
fn token_commands_never_print_a_token_secret() {
    let cluster = Cluster::new();
    let old = cluster.token();
    let create = cluster.run(&["token", "create", "--ttl", "1h"]);
    assert!(create.status.success(), "{}", text(&create));
    let new = cluster.token();
    assert_ne!(old, new);
    let list = cluster.run(&["token", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    let build = cluster.run(&["build", "--host", "cp1", "--out", "rebuilt"]);
    assert!(build.status.success(), "{}", text(&build));
    let secrets: Vec<(String, Vec<u8>)> = [("old", &old), ("new", &new)]
        .iter()
        .map(|(which, token)| {
            let (_, secret) = token.split_once('.').unwrap();
            (
                format!("the {which} token's secret"),
                secret.as_bytes().to_vec(),
            )
        })
        .collect();
    let windows = Windows::of(&secrets);
    for (label, output) in [
        ("token create", &create),
        ("token list", &list),
        ("build", &build),
    ] {
        windows.assert_absent(label, text(output).as_bytes());
    }
    let (new_id, _) = new.split_once('.').unwrap();
    let (old_id, _) = old.split_once('.').unwrap();
    assert!(text(&create).contains(&format!("bootstrap token {new_id} created, expires 20")));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(new_id) && listed.contains(old_id),
        "{listed}"
    );
    let bootstrap =
        fs::read_to_string(cluster.path("rebuilt/etc/kubernetes/addons/bootstrap.yaml")).unwrap();
    assert!(
        bootstrap.contains(&format!("bootstrap-token-{new_id}")),
        "{bootstrap}"
    );
}

/// The DER of every private key under `dir` (`*.key`, the key half of `*.pem`).
fn private_keys_under(dir: &std::path::Path, found: &mut Vec<(String, Vec<u8>)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            private_keys_under(&path, found);
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for block in pem::parse_many(&text).unwrap_or_default() {
            if block.tag().contains("PRIVATE KEY") {
                found.push((path.display().to_string(), block.contents().to_vec()));
            }
        }
    }
}

#[test]
fn adopt_prints_no_key_of_the_cluster_it_adopts() {
    use crate::common::kubeadm_cluster::{
        CONTROL_PLANES, ENCRYPTION_CONFIG, ENCRYPTION_KEYS, encryption_config, kubeadm_cluster,
    };
    let temp = tempfile::tempdir().unwrap();
    let roots = temp.path().join("roots");
    kubeadm_cluster(&roots);
    let mut secrets = Vec::new();
    private_keys_under(&roots, &mut secrets);
    for (name, secret) in ENCRYPTION_KEYS {
        secrets.push((
            format!("encryption key {name}"),
            STANDARD.decode(secret).unwrap(),
        ));
    }
    assert!(secrets.len() > 20, "the cluster's keys are found");
    let windows = Windows::of(&secrets);
    let run = |args: &[&str]| run_kcompile(temp.path(), args);
    let text_run = run(&["adopt", "--roots", "roots", "-f", "text.yaml"]);
    assert!(text_run.status.success(), "{}", text(&text_run));
    let json_run = run(&["adopt", "--roots", "roots", "-f", "json.yaml", "-o", "json"]);
    assert!(json_run.status.success(), "{}", text(&json_run));
    // Refused: an EncryptionConfiguration whose key is cut short.
    for (name, _) in CONTROL_PLANES {
        let (_, secret) = ENCRYPTION_KEYS[0];
        fs::write(
            roots.join(name).join(ENCRYPTION_CONFIG),
            encryption_config().replace(secret, &secret[..40]),
        )
        .unwrap();
    }
    let refused = run(&["adopt", "--roots", "roots", "-f", "refused.yaml"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains(
            "cp-1/etc/kubernetes/enc/enc.yaml: cannot be adopted: key 1 of provider `aescbc`"
        ),
        "{}",
        text(&refused)
    );
    windows.assert_outputs_clean(&[
        ("adopt".to_owned(), text_run),
        ("adopt -o json".to_owned(), json_run),
        ("adopt, refused".to_owned(), refused),
    ]);
    for spec in ["text.yaml", "json.yaml"] {
        windows.assert_absent(spec, &fs::read(temp.path().join(spec)).unwrap());
    }
}

#[test]
fn adopt_of_a_tutorial_cluster_prints_no_key_of_it() {
    use crate::common::tutorial_cluster::{
        CONTROLLERS, ENCRYPTION_CONFIG, ENCRYPTION_KEY, VERSION, encryption_config,
        tutorial_cluster,
    };
    let temp = tempfile::tempdir().unwrap();
    let roots = temp.path().join("roots");
    tutorial_cluster(&roots);
    let mut secrets = Vec::new();
    private_keys_under(&roots, &mut secrets);
    // The controller-manager's, scheduler's and kube-proxy's keys live only in their kubeconfigs.
    let mut kubeconfigs = vec![roots.join("worker-0/var/lib/kube-proxy/kubeconfig")];
    for (name, _) in CONTROLLERS {
        let lib = roots.join(name).join("var/lib/kubernetes");
        kubeconfigs.push(lib.join("kube-controller-manager.kubeconfig"));
        kubeconfigs.push(lib.join("kube-scheduler.kubeconfig"));
    }
    for kubeconfig in kubeconfigs {
        let text = fs::read_to_string(&kubeconfig).unwrap();
        let data = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("client-key-data: "))
            .unwrap();
        let pem = String::from_utf8(STANDARD.decode(data).unwrap()).unwrap();
        secrets.push((
            format!("key embedded in {}", kubeconfig.display()),
            pem::parse(&pem).unwrap().contents().to_vec(),
        ));
    }
    secrets.push((
        "encryption key key1".to_owned(),
        STANDARD.decode(ENCRYPTION_KEY).unwrap(),
    ));
    assert!(secrets.len() > 20, "the cluster's keys are found");
    let windows = Windows::of(&secrets);
    let adopt = |spec: &str, extra: &[&str]| {
        let mut args = vec![
            "adopt",
            "--roots",
            "roots",
            "--kubernetes-version",
            VERSION,
            "-f",
            spec,
        ];
        args.extend(extra);
        run_kcompile(temp.path(), &args)
    };
    let text_run = adopt("text.yaml", &[]);
    assert!(text_run.status.success(), "{}", text(&text_run));
    let json_run = adopt("json.yaml", &["-o", "json"]);
    assert!(json_run.status.success(), "{}", text(&json_run));
    // Refused: an encryption key cut short.
    for (name, _) in CONTROLLERS {
        fs::write(
            roots.join(name).join(ENCRYPTION_CONFIG),
            encryption_config().replace(ENCRYPTION_KEY, &ENCRYPTION_KEY[..40]),
        )
        .unwrap();
    }
    let refused = adopt("refused.yaml", &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains(
            "controller-0/var/lib/kubernetes/encryption-config.yaml: cannot be adopted: key 1 of provider `aescbc`"
        ),
        "{}",
        text(&refused)
    );
    windows.assert_outputs_clean(&[
        ("adopt".to_owned(), text_run),
        ("adopt -o json".to_owned(), json_run),
        ("adopt, refused".to_owned(), refused),
    ]);
    for spec in ["text.yaml", "json.yaml"] {
        windows.assert_absent(spec, &fs::read(temp.path().join(spec)).unwrap());
    }
}
