//! The cluster objects kcompile writes under `/etc/kubernetes/addons/` of the first control plane:
//! CoreDNS, the RBAC bindings, node certificate auto-approval and the bootstrap token Secret.
//!
//! - for every supported minor, every addon passes `kubernetes-validate --strict` against that
//!   minor's schemas and `kubectl` reads it offline (a discovery cache stands in for a cluster),
//!   and CoreDNS runs the image kubeadm pins for that minor;
//! - the DNS Service's clusterIP is every kubelet's `clusterDNS`, the Corefile serves the cluster
//!   domain, and the image follows `imageRepository` as kubeadm's `GetDNSImage` does;
//! - `kubeadm:node-autoapprove-certificate-rotation` is written whenever a kubelet rotates its
//!   certificates, with or without TLS bootstrap, and only then;
//! - the token Secret carries the expiry recorded in the state when the token was made, a build is
//!   the same a second later, a token from an earlier kcompile (no expiry) keeps working, and
//!   `kcompile token create` gives the next build a fresh token; its errors say what is wrong.
//!
//! kubernetes-validate and kubectl are installed by `.ci/install*.sh`; without them these tests
//! fail.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use crate::common::{Spec, run_kcompile, text};
use kcompile::versions::{NEWEST_MINOR, OLDEST_MINOR};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The CoreDNS tag kubeadm pins per minor (src/versions/coredns.tsv, cited there).
const COREDNS: [(u32, &str); 5] = [
    (33, "v1.12.0"),
    (34, "v1.12.1"),
    (35, "v1.13.1"),
    (36, "v1.14.2"),
    (37, "v1.14.6"),
];

/// The HA example, the spec these tests edit.
fn spec() -> Spec {
    Spec::example("ha-3-masters")
}

/// The HA example with TLS bootstrap for the workers.
fn tls_bootstrap() -> Spec {
    spec().set("kubelet.tlsBootstrap", true)
}

/// Writes `spec` to `dir/cluster.yaml` and builds every host to `dir/out`.
fn build(dir: &Path, spec: &Spec) -> PathBuf {
    std::fs::write(dir.join("cluster.yaml"), spec.yaml()).unwrap();
    let output = run_kcompile(dir, &["build", "--all", "--out", "out"]);
    assert!(output.status.success(), "{}", text(&output));
    dir.join("out")
}

fn addons(out: &Path) -> PathBuf {
    out.join("master01/etc/kubernetes/addons")
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap()
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

fn object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {objects:?}"))
}

/// A kubectl discovery cache for the API groups the addons use, so kubectl maps their kinds
/// without a cluster (it reads `<cache>/discovery/<server>/…` while the files are fresh).
fn discovery_cache(dir: &Path) {
    let base = dir.join("discovery/127.0.0.1_1");
    let group = |name: &str, version: &str| {
        serde_json::json!({"name": name, "versions": [{"groupVersion": version, "version": "v1"}],
                           "preferredVersion": {"groupVersion": version, "version": "v1"}})
    };
    let groups = serde_json::json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        group("", "v1"),
        group("apps", "apps/v1"),
        group("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1"),
    ]});
    // Per group version: (plural, kind, namespaced).
    #[expect(
        clippy::items_after_statements,
        reason = "the type belongs to the table below"
    )]
    type Resources<'a> = &'a [(&'a str, &'a str, bool)];
    let resources: [(&str, Resources); 3] = [
        (
            "v1",
            &[
                ("secrets", "Secret", true),
                ("serviceaccounts", "ServiceAccount", true),
                ("configmaps", "ConfigMap", true),
                ("services", "Service", true),
            ],
        ),
        ("apps/v1", &[("deployments", "Deployment", true)]),
        (
            "rbac.authorization.k8s.io/v1",
            &[
                ("clusterroles", "ClusterRole", false),
                ("clusterrolebindings", "ClusterRoleBinding", false),
            ],
        ),
    ];
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("servergroups.json"), groups.to_string()).unwrap();
    for (group_version, kinds) in resources {
        let dir = base.join(group_version);
        std::fs::create_dir_all(&dir).unwrap();
        let list: Vec<Value> = kinds
            .iter()
            .map(|(plural, kind, namespaced)| {
                serde_json::json!({"name": plural, "singularName": kind.to_lowercase(),
                                   "namespaced": namespaced, "kind": kind,
                                   "verbs": ["create", "get", "list"]})
            })
            .collect();
        let list = serde_json::json!({"kind": "APIResourceList", "apiVersion": "v1",
                                      "groupVersion": group_version, "resources": list});
        std::fs::write(dir.join("serverresources.json"), list.to_string()).unwrap();
    }
}

/// kubectl reads `file` offline: every object, as `kubectl create --dry-run=client` prints it.
fn kubectl_reads(cache: &Path, file: &Path) -> Vec<Value> {
    let output = Process::new("kubectl")
        .args(["--server", "http://127.0.0.1:1", "--cache-dir"])
        .arg(cache)
        .args([
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "json",
            "-f",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("kubectl is installed (.ci/install.sh)");
    assert!(
        output.status.success(),
        "kubectl create --dry-run=client -f {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    // One JSON object per input object, or a List of them.
    serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .flat_map(|value| match value["kind"].as_str() {
            Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![value],
        })
        .collect()
}

#[test]
fn every_addon_passes_the_schemas_and_kubectl_for_every_version() {
    let temp = tempfile::tempdir().unwrap();
    let cache = temp.path().join("kube-cache");
    discovery_cache(&cache);
    for minor in OLDEST_MINOR..=NEWEST_MINOR {
        let dir = temp.path().join(format!("v1.{minor}"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = build(
            &dir,
            &tls_bootstrap().set("kubernetesVersion", format!("v1.{minor}.0")),
        );
        let addons = addons(&out);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&addons)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "bootstrap.yaml",
                "coredns.yaml",
                "node-certificate-rotation.yaml",
                "rbac.yaml"
            ],
            "v1.{minor}"
        );
        let schema = format!("1.{minor}");
        let validated = Process::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", &schema])
            .args(&files)
            .output()
            .expect("kubernetes-validate is installed (.ci/install-python-tools.sh)");
        let report = String::from_utf8_lossy(&validated.stdout);
        assert!(
            validated.status.success() && validated.stderr.is_empty(),
            "v1.{minor}: {report}{}",
            String::from_utf8_lossy(&validated.stderr)
        );
        for file in &files {
            let objects = documents(file);
            let passed = report
                .lines()
                .filter(|line| {
                    line.starts_with(&format!("INFO {} passed ", file.display()))
                        && line.ends_with(&format!(" against version {schema}"))
                })
                .count();
            assert_eq!(
                passed,
                objects.len(),
                "v1.{minor} {}: {report}",
                file.display()
            );
            let read = kubectl_reads(&cache, file);
            let kinds = |objects: &[Value]| -> Vec<String> {
                objects.iter().map(|o| o["kind"].to_string()).collect()
            };
            assert_eq!(kinds(&read), kinds(&objects), "{}", file.display());
        }
        let coredns = documents(&addons.join("coredns.yaml"));
        let image =
            &object(&coredns, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"];
        let pinned = COREDNS.iter().find(|(m, _)| *m == minor).unwrap().1;
        assert_eq!(
            *image,
            format!("registry.k8s.io/coredns/coredns:{pinned}"),
            "v1.{minor}"
        );
    }
}

#[test]
fn the_dns_service_is_at_every_kubelets_cluster_dns_and_serves_the_cluster_domain() {
    let temp = tempfile::tempdir().unwrap();
    let out = build(
        temp.path(),
        &spec()
            .set("networking.serviceSubnet", "10.200.0.0/16")
            .set("networking.clusterDNS", "10.200.0.53")
            .set("networking.dnsDomain", "corp.internal")
            .set("kubernetesVersion", "v1.37.0")
            .set("imageRepository", "mirror.example.com/k8s"),
    );
    let coredns = documents(&addons(&out).join("coredns.yaml"));
    let kinds: Vec<&str> = coredns
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "Service"
        ]
    );
    let service = object(&coredns, "Service");
    assert_eq!(service["metadata"]["name"], "kube-dns");
    for host in ["master01", "master02", "master03", "worker01", "worker02"] {
        let config: Value = serde_saphyr::from_str(
            &std::fs::read_to_string(out.join(host).join("var/lib/kubelet/config.yaml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            service["spec"]["clusterIP"], config["clusterDNS"][0],
            "{host}: the DNS Service is where the kubelet sends pods"
        );
        assert_eq!(config["clusterDomain"], "corp.internal");
    }
    assert_eq!(service["spec"]["clusterIP"], "10.200.0.53");
    let corefile = object(&coredns, "ConfigMap")["data"]["Corefile"]
        .as_str()
        .unwrap();
    assert!(
        corefile.contains("kubernetes corp.internal in-addr.arpa ip6.arpa {"),
        "{corefile}"
    );
    assert!(
        corefile.contains("disable success corp.internal"),
        "{corefile}"
    );
    // kubeadm's GetDNSImage: `<repo>/coredns` for a repository other than registry.k8s.io.
    assert_eq!(
        object(&coredns, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"],
        "mirror.example.com/k8s/coredns:v1.14.6"
    );
    assert!(
        !out.join("master02/etc/kubernetes/addons").exists(),
        "addons go to the first control plane only"
    );
}

#[test]
fn node_certificate_rotation_is_approved_whenever_kubelets_rotate() {
    let rotation = |spec: Spec| -> (bool, bool) {
        let temp = tempfile::tempdir().unwrap();
        let addons = addons(&build(temp.path(), &spec));
        let file = addons.join("node-certificate-rotation.yaml");
        if file.exists() {
            let binding = &documents(&file)[0];
            assert_eq!(
                binding["metadata"]["name"],
                "kubeadm:node-autoapprove-certificate-rotation"
            );
            assert_eq!(
                binding["roleRef"]["name"],
                "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
            );
            assert_eq!(binding["subjects"][0]["kind"], "Group");
            assert_eq!(binding["subjects"][0]["name"], "system:nodes");
        }
        (file.exists(), addons.join("bootstrap.yaml").exists())
    };
    assert_eq!(
        rotation(spec()),
        (true, false),
        "issued kubelet certificates rotate too: their renewals need approving"
    );
    assert_eq!(rotation(tls_bootstrap()), (true, true));
    let off = spec().set("kubelet.config.rotateCertificates", false);
    assert_eq!(rotation(off.clone()), (false, false), "no kubelet rotates");
    assert_eq!(
        rotation(off.set("hosts.3.overrides.kubelet.config.rotateCertificates", true)),
        (true, false),
        "one kubelet rotates"
    );
    let flag_off = spec().set("kubelet.extraArgs.rotate-certificates", false);
    assert_eq!(rotation(flag_off), (false, false), "the flag wins");
}

/// The token file of the state and its second line's expiry.
fn state_token(dir: &Path) -> (String, Option<String>) {
    let text = std::fs::read_to_string(dir.join("cluster.state/secrets/bootstrap-token")).unwrap();
    let mut lines = text.lines();
    let token = lines.next().unwrap().to_owned();
    let expiry = lines
        .next()
        .map(|line| line.strip_prefix("expiration: ").unwrap().to_owned());
    (token, expiry)
}

/// Replaces the state's token file with `text` as an earlier kcompile (or a crafted state) would
/// have recorded it: the inventory's sha256 follows, so the ledger holds.
fn record_token_file(dir: &Path, text: &str) {
    let state = dir.join("cluster.state");
    std::fs::write(state.join("secrets/bootstrap-token"), text).unwrap();
    let inventory_path = state.join("inventory.json");
    let mut inventory: Value =
        serde_json::from_str(&std::fs::read_to_string(&inventory_path).unwrap()).unwrap();
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    inventory["items"]["secrets/bootstrap-token"]["sha256"] = Value::String(digest);
    std::fs::write(&inventory_path, inventory.to_string()).unwrap();
}

fn token_secret(out: &Path) -> Value {
    object(&documents(&addons(out).join("bootstrap.yaml")), "Secret").clone()
}

fn worker_token(out: &Path) -> String {
    let kubeconfig: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(out.join("worker01/etc/kubernetes/bootstrap-kubelet.conf"))
            .unwrap(),
    )
    .unwrap();
    kubeconfig["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_token_secret_expires_when_the_state_says_and_builds_stay_the_same() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let before = time::OffsetDateTime::now_utc();
    let out = build(dir, &tls_bootstrap());
    let (token, expiry) = state_token(dir);
    let expiry = expiry.expect("a new token records its expiry");
    let at = time::OffsetDateTime::parse(&expiry, &time::format_description::well_known::Rfc3339)
        .unwrap();
    let ttl = at - before;
    assert!(
        ttl >= time::Duration::hours(24) - time::Duration::seconds(1)
            && ttl <= time::Duration::hours(24) + time::Duration::minutes(5),
        "kubeadm's default TTL, 24h: {expiry}"
    );
    let secret = token_secret(&out);
    assert_eq!(secret["stringData"]["expiration"], expiry.as_str());
    let (id, _) = token.split_once('.').unwrap();
    assert_eq!(secret["metadata"]["name"], format!("bootstrap-token-{id}"));
    assert_eq!(worker_token(&out), token);

    // A second later, the same bytes: the expiry comes from the state, not the clock.
    let first = std::fs::read(addons(&out).join("bootstrap.yaml")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = run_kcompile(dir, &["build", "--host", "master01", "--out", "again"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        std::fs::read(dir.join("again/etc/kubernetes/addons/bootstrap.yaml")).unwrap(),
        first
    );
}

#[test]
fn a_token_from_an_earlier_kcompile_keeps_working_until_replaced() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    build(dir, &tls_bootstrap());
    let legacy = "abcdef.0123456789abcdef";
    record_token_file(dir, &format!("{legacy}\n"));
    let check = run_kcompile(dir, &["state", "check"]);
    assert!(check.status.success(), "{}", text(&check));
    let out = run_kcompile(dir, &["build", "--all", "--out", "legacy"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = dir.join("legacy");
    let secret = token_secret(&out);
    assert_eq!(secret["stringData"]["token-id"], "abcdef");
    assert!(
        secret["stringData"].get("expiration").is_none(),
        "a token recorded without an expiry never expires: {secret}"
    );
    assert_eq!(worker_token(&out), legacy);
    let list = run_kcompile(dir, &["token", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("abcdef  never "), "{listed}");
    assert!(!listed.contains("0123456789abcdef"), "{listed}");

    // `token create` replaces it with one that expires; the next build uses the new one.
    let create = run_kcompile(dir, &["token", "create", "--ttl", "2h"]);
    assert!(create.status.success(), "{}", text(&create));
    let (token, expiry) = state_token(dir);
    assert_ne!(token, legacy);
    let expiry = expiry.expect("a created token expires");
    assert!(
        text(&create).contains(&format!(
            "bootstrap token {} created, expires {expiry}",
            token.split_once('.').unwrap().0
        )),
        "{}",
        text(&create)
    );
    assert!(
        text(&create).contains("next: `kcompile build"),
        "{}",
        text(&create)
    );
    let rebuilt = run_kcompile(dir, &["build", "--all", "--out", "rebuilt"]);
    assert!(rebuilt.status.success(), "{}", text(&rebuilt));
    let out = dir.join("rebuilt");
    assert_eq!(
        token_secret(&out)["stringData"]["expiration"],
        expiry.as_str()
    );
    assert_eq!(worker_token(&out), token);
    let retired: Vec<_> = std::fs::read_dir(dir.join("cluster.state/retired/secrets"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(
        retired,
        [format!("{legacy}\n")],
        "the old token is kept, retired"
    );
}

#[test]
fn a_build_warns_when_the_workers_token_has_expired() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    build(dir, &tls_bootstrap());
    record_token_file(
        dir,
        "abcdef.0123456789abcdef\nexpiration: 2020-01-01T00:00:00Z\n",
    );
    let output = run_kcompile(dir, &["build", "--all", "--out", "expired"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(
            "warning: bootstrap token abcdef expired at 2020-01-01T00:00:00Z: workers that have not joined yet cannot; `kcompile token create` makes a fresh one"
        ),
        "{}",
        text(&output)
    );
    let secret = token_secret(&dir.join("expired"));
    assert_eq!(secret["stringData"]["expiration"], "2020-01-01T00:00:00Z");
    let list = run_kcompile(dir, &["token", "list"]);
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("(expired)"),
        "{}",
        text(&list)
    );
}

#[test]
fn token_create_refuses_a_missing_state_and_a_bad_ttl() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let output = run_kcompile(dir, &["token", "create"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: state dir: there is no state dir `cluster.state`; `kcompile build` creates one (name another with --state)\n"
    );
    assert!(!dir.join("cluster.state").exists(), "nothing created");
    let output = run_kcompile(dir, &["token", "list", "--state", "elsewhere"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("there is no state dir `elsewhere`"));

    build(dir, &tls_bootstrap());
    let before = state_token(dir);
    for (ttl, message) in [
        (
            "soon",
            "error: invalid value 'soon' for '--ttl <DURATION>': write hours, minutes, seconds or days (`24h`, `30m`, `7d`), or `0` for a token that never expires\n",
        ),
        (
            "36501d",
            "error: invalid value '36501d' for '--ttl <DURATION>': at most 100 years (`36500d`)\n",
        ),
    ] {
        let output = run_kcompile(dir, &["token", "create", "--ttl", ttl]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with(message), "{stderr}");
        assert_eq!(state_token(dir), before, "the state is unchanged");
    }
    let output = run_kcompile(dir, &["token", "create", "--ttl", "0"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("created, expires never"),
        "{}",
        text(&output)
    );
    assert_eq!(
        state_token(dir).1,
        None,
        "`--ttl 0` never expires, as kubeadm's"
    );
}
