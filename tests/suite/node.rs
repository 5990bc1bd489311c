//! The node files (issue 12): kernel settings, the container runtime's configuration, crictl and
//! the kubelet drop-in, checked against real tools and upstream data.
//!
//! - Golden files per profile under `tests/golden/node/<case>/<host>/` (`KCOMPILE_BLESS=1`
//!   rewrites them): `kubeadm`, `hardened`, and `containerd-1` (containerd 1.x, RHEL CA trust,
//!   registry mirrors, kube-proxy in IPVS mode, `cgroupfs`).
//! - The sysctl values for `protectKernelDefaults: true` are exactly the kubelet's
//!   (`src/versions/node/kernel_tunables.tsv`, from its `setupKernelTunables`).
//! - The containerd 1.x configuration is read by Debian's containerd (1.6):
//!   `containerd --config FILE config dump` must show the cgroup driver and sandbox image intended.
//! - No containerd 2.x binary can be installed here (Debian 12 ships 1.6), so the 2.x drop-in and
//!   root config are checked against the keys and config versions read from containerd's own
//!   source at v2.0.0 and v2.3.4 (`src/versions/node/containerd_keys.tsv`,
//!   `scripts/node/containerd_keys.py`).
//! - Every TOML file is parsed by a real parser (CPython's `tomllib`).
//! - systemd's own lookup (`systemd-analyze cat-config`) picks kcompile's `10-kubeadm.conf` over
//!   the kubeadm package's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use crate::common::{self, Spec};
use serde_json::Value;

const HOSTS: [&str; 2] = ["master01", "worker01"];

/// A node file (relative to a host's root).
fn is_node_file(path: &str) -> bool {
    path.starts_with("etc/sysctl.d/")
        || path.starts_with("etc/modules-load.d/")
        || path.starts_with("etc/containerd/")
        || path.starts_with("etc/systemd/system/kubelet.service.d/")
        || path == "etc/crictl.yaml"
}

/// `examples/ha-3-masters.yaml` with `profiles` (a YAML list) and the top-level fields of `extra`
/// (a YAML mapping) set.
fn spec(profiles: &str, extra: &str) -> Spec {
    Spec::example("ha-3-masters")
        .set_yaml("profiles", profiles)
        .merge_yaml(extra)
}

/// Builds `host` of `spec` in a fresh directory; returns the directory (kept alive) and the root.
fn build(spec: &Spec, host: &str) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("cluster.yaml"), spec.yaml()).unwrap();
    common::kcompile(temp.path())
        .args(["build", "--host", host, "--out", host])
        .assert()
        .success();
    let root = temp.path().join(host);
    (temp, root)
}

/// Every file under `root`, relative, sorted.
fn files(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy();
                found.push(relative.into_owned());
            }
        }
    }
    found.sort();
    found
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A TOML file parsed by CPython's `tomllib`, as JSON.
fn parse_toml(path: &Path) -> Value {
    let output = Process::new("python3")
        .args([
            "-c",
            "import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], 'rb'))))",
        ])
        .arg(path)
        .output()
        .expect("python3 (3.11 or later, for tomllib) must be installed: .ci/install.sh");
    assert!(
        output.status.success(),
        "{} is not valid TOML: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The `/`-joined key path of every leaf of a parsed TOML document.
fn leaf_keys(value: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}/{key}")
                };
                leaf_keys(child, &path, out);
            }
        }
        leaf => out.push((prefix.to_owned(), leaf.clone())),
    }
}

/// The rows of a kcompile TSV table, comments skipped.
fn table(name: &str) -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/versions/node")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

/// The cases the golden files cover: name, profiles, spec additions.
fn cases() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("kubeadm", "[kubeadm]", ""),
        ("hardened", "[kubeadm, hardened]", ""),
        (
            "containerd-1",
            "[kubeadm]",
            "kubeProxy:\n  mode: ipvs\nkubelet:\n  config:\n    cgroupDriver: cgroupfs\nnode:\n  containerRuntime: containerd-1\n  caTrust: rhel\n  registryMirrors:\n    docker.io: [https://mirror.example.com, http://10.0.0.5:5000]\n    registry.k8s.io: [https://k8s-mirror.example.com]\n",
        ),
    ]
}

#[test]
fn node_files_match_the_golden_files_for_each_profile() {
    let bless = std::env::var_os("KCOMPILE_BLESS").is_some();
    let golden_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/node");
    let mut mismatches = Vec::new();
    for (case, profiles, extra) in cases() {
        let spec = spec(profiles, extra);
        for host in HOSTS {
            let (_temp, root) = build(&spec, host);
            let produced: Vec<String> = files(&root)
                .into_iter()
                .filter(|path| is_node_file(path))
                .collect();
            assert!(!produced.is_empty(), "{case}/{host}: no node files");
            let golden_dir = golden_root.join(case).join(host);
            for path in &produced {
                let text = read(&root, path);
                let golden = golden_dir.join(path);
                if bless {
                    std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                    std::fs::write(&golden, &text).unwrap();
                } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
                    mismatches.push(format!(
                        "{} differs (KCOMPILE_BLESS=1 rewrites it)",
                        golden.display()
                    ));
                }
            }
            if golden_dir.is_dir() {
                for path in files(&golden_dir) {
                    if !produced.contains(&path) {
                        mismatches.push(format!("{case}/{host}/{path} is no longer produced"));
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn sysctl_values_are_the_kubelets_when_it_protects_kernel_defaults() {
    let expected: Vec<String> = table("kernel_tunables.tsv")
        .iter()
        .map(|row| format!("{} = {}", row[0], row[1]))
        .collect();
    assert_eq!(expected.len(), 6, "setupKernelTunables checks six values");
    for host in HOSTS {
        let (_temp, root) = build(&spec("[kubeadm, hardened]", ""), host);
        let config = read(&root, "var/lib/kubelet/config.yaml");
        assert!(config.contains("protectKernelDefaults: true"), "{config}");
        let sysctl = read(&root, "etc/sysctl.d/99-kcompile-kubernetes.conf");
        let lines: BTreeSet<&str> = sysctl.lines().collect();
        for line in &expected {
            assert!(
                lines.contains(line.as_str()),
                "{host}: no `{line}`:\n{sysctl}"
            );
        }
        for line in [
            "net.ipv4.ip_forward = 1",
            "net.bridge.bridge-nf-call-iptables = 1",
            "net.bridge.bridge-nf-call-ip6tables = 1",
        ] {
            assert!(lines.contains(line), "{host}: no `{line}`");
        }
        // Every setting line is `key = value` and sysctl names each key once.
        let keys: Vec<&str> = sysctl
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| line.split_once(" = ").unwrap().0)
            .collect();
        let unique: BTreeSet<&&str> = keys.iter().collect();
        assert_eq!(keys.len(), unique.len(), "{sysctl}");
    }
    // Without protectKernelDefaults the kubelet sets those values itself: the file has none.
    let (_temp, root) = build(&spec("[kubeadm]", ""), "worker01");
    let sysctl = read(&root, "etc/sysctl.d/99-kcompile-kubernetes.conf");
    for line in &expected {
        assert!(!sysctl.contains(line.as_str()), "{sysctl}");
    }
    let modules = read(&root, "etc/modules-load.d/99-kcompile-kubernetes.conf");
    assert!(modules.contains("\noverlay\nbr_netfilter\n"), "{modules}");
    assert!(!modules.contains("ip_vs"), "{modules}");
}

#[test]
fn containerd_1_accepts_its_configuration_with_the_intended_driver_and_sandbox() {
    let cases = [
        ("", "registry.k8s.io/pause:3.10.2", true),
        (
            "kubelet:\n  config:\n    cgroupDriver: cgroupfs\n",
            "registry.k8s.io/pause:3.10.2",
            false,
        ),
        (
            "imageRepository: harbor.example.com:5000/k8s\n",
            "harbor.example.com:5000/k8s/pause:3.10.2",
            true,
        ),
    ];
    for (extra, sandbox, systemd) in cases {
        let extra = format!(
            "{extra}node:\n  containerRuntime: containerd-1\n  registryMirrors:\n    docker.io: [https://mirror.example.com]\n"
        );
        let spec = spec("[kubeadm]", &extra).set("kubernetesVersion", "v1.37.1");
        let (_temp, root) = build(&spec, "worker01");
        let config = root.join("etc/containerd/config.toml");
        let output = Process::new("containerd")
            .arg("--config")
            .arg(&config)
            .args(["config", "dump"])
            .output()
            .expect("containerd (Debian's package) must be installed: .ci/install-containerd.sh");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "containerd refused it: {stderr}");
        assert!(
            !stderr.contains("level=warning") && !stderr.contains("level=error"),
            "containerd complained: {stderr}"
        );
        // The dump is TOML too; parse it and read the merged values.
        let dumped = root.join("dump.toml");
        std::fs::write(&dumped, stdout.as_bytes()).unwrap();
        let dump = parse_toml(&dumped);
        let cri = &dump["plugins"]["io.containerd.grpc.v1.cri"];
        assert_eq!(cri["sandbox_image"], sandbox, "{extra}");
        assert_eq!(
            cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"], systemd,
            "{extra}"
        );
        assert_eq!(
            cri["containerd"]["runtimes"]["runc"]["runtime_type"],
            "io.containerd.runc.v2"
        );
        assert_eq!(cri["registry"]["config_path"], "/etc/containerd/certs.d");
        // The kubelet's cgroup driver is the one containerd got.
        let kubelet = read(&root, "var/lib/kubelet/config.yaml");
        let driver = if systemd { "systemd" } else { "cgroupfs" };
        assert!(
            kubelet.contains(&format!("cgroupDriver: {driver}")),
            "{kubelet}"
        );
    }
}

#[test]
fn containerd_2_configuration_uses_keys_and_versions_of_containerd_2_source() {
    // No containerd 2.x binary can be installed here (Debian 12 ships 1.6): the rendered TOML is
    // checked against the keys read from containerd's source at each 2.x tag instead.
    let rows = table("containerd_keys.tsv");
    let tags: BTreeSet<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(tags.len(), 2, "v2.0.0 and v2.3.4");
    let keys = |tag: &str, kind: &str| -> BTreeSet<String> {
        rows.iter()
            .filter(|row| row[0] == tag && row[2] == kind)
            .map(|row| row[3].clone())
            .collect()
    };
    let spec = spec(
        "[kubeadm, hardened]",
        "node:\n  registryMirrors:\n    docker.io: [https://mirror.example.com]\n",
    );
    let (_temp, root) = build(&spec, "master01");
    let root_config = parse_toml(&root.join("etc/containerd/config.toml"));
    let drop_in = parse_toml(&root.join("etc/containerd/conf.d/99-kcompile.toml"));
    let hosts = parse_toml(&root.join("etc/containerd/certs.d/docker.io/hosts.toml"));
    for tag in &tags {
        let highest: u64 = keys(tag, "config-version")
            .iter()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let config_keys = keys(tag, "config");
        for document in [&root_config, &drop_in] {
            let version = document["version"].as_u64().unwrap();
            assert!(
                version == 3 && version <= highest,
                "{tag} reads config versions up to {highest}; kcompile writes {version}"
            );
            let mut leaves = Vec::new();
            leaf_keys(document, "", &mut leaves);
            for (key, _) in &leaves {
                assert!(
                    config_keys.contains(key),
                    "{tag}: containerd has no config key `{key}`"
                );
            }
        }
        let mut leaves = Vec::new();
        leaf_keys(&hosts, "", &mut leaves);
        let host_keys = keys(tag, "hosts");
        for (key, _) in &leaves {
            let generic = match key.split_once('/') {
                Some(("host", rest)) => format!("host/*/{}", rest.rsplit('/').next().unwrap()),
                _ => key.clone(),
            };
            assert!(
                host_keys.contains(&generic),
                "{tag}: hosts.toml has no key `{key}`"
            );
        }
        assert!(
            keys(tag, "value").contains("runtime_type=io.containerd.runc.v2"),
            "{tag}"
        );
    }
    // The root config imports the drop-in's directory; the drop-in carries the settings.
    assert_eq!(
        root_config["imports"],
        serde_json::json!(["/etc/containerd/conf.d/*.toml"])
    );
    let images = &drop_in["plugins"]["io.containerd.cri.v1.images"];
    assert_eq!(
        images["pinned_images"]["sandbox"],
        "registry.k8s.io/pause:3.10.2"
    );
    assert_eq!(images["registry"]["config_path"], "/etc/containerd/certs.d");
    let runc =
        &drop_in["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"];
    assert_eq!(runc["options"]["SystemdCgroup"], true);
    assert_eq!(runc["runtime_type"], "io.containerd.runc.v2");
    assert_eq!(hosts["server"], "https://registry-1.docker.io");
    assert_eq!(
        hosts["host"]["https://mirror.example.com"]["capabilities"],
        serde_json::json!(["pull", "resolve"])
    );
}

#[test]
fn every_node_toml_parses_and_crictl_dials_the_kubelets_socket() {
    for (case, profiles, extra) in cases() {
        let spec = spec(profiles, extra);
        for host in HOSTS {
            let (_temp, root) = build(&spec, host);
            for path in files(&root) {
                if path.ends_with(".toml") {
                    parse_toml(&root.join(&path));
                }
            }
            let kubelet = read(&root, "var/lib/kubelet/config.yaml");
            let endpoint = kubelet
                .lines()
                .find_map(|line| line.strip_prefix("containerRuntimeEndpoint: "))
                .unwrap();
            assert_eq!(
                read(&root, "etc/crictl.yaml"),
                format!("runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\n"),
                "{case}/{host}"
            );
        }
    }
}

#[test]
fn a_runtime_managed_elsewhere_gets_no_runtime_files() {
    let spec = spec(
        "[kubeadm]",
        "kubelet:\n  containerRuntimeEndpoint: unix:///var/run/crio/crio.sock\nnode:\n  containerRuntime: none\n",
    );
    let (_temp, root) = build(&spec, "worker01");
    let all = files(&root);
    assert!(
        !all.iter()
            .any(|path| path.starts_with("etc/containerd/") || path == "etc/crictl.yaml"),
        "{all:?}"
    );
    // The kernel settings and the drop-in do not depend on the runtime.
    assert!(all.contains(&"etc/sysctl.d/99-kcompile-kubernetes.conf".to_owned()));
    assert!(all.contains(&"etc/systemd/system/kubelet.service.d/10-kubeadm.conf".to_owned()));
}

#[test]
fn rhel_hosts_mount_their_ca_trust_into_the_apiserver_and_controller_manager() {
    let rhel = spec("[kubeadm]", "node:\n  caTrust: rhel\n");
    let (_temp, root) = build(&rhel, "master01");
    for pod in ["kube-apiserver", "kube-controller-manager"] {
        let manifest = read(&root, &format!("etc/kubernetes/manifests/{pod}.yaml"));
        for (name, path) in [
            ("etc-pki-ca-trust", "/etc/pki/ca-trust"),
            ("etc-pki-tls-certs", "/etc/pki/tls/certs"),
        ] {
            assert!(manifest.contains(&format!("name: {name}")), "{pod}: {name}");
            assert!(manifest.contains(&format!("path: {path}")), "{pod}: {path}");
        }
    }
    let (_temp, root) = build(&spec("[kubeadm]", ""), "master01");
    let manifest = read(&root, "etc/kubernetes/manifests/kube-apiserver.yaml");
    assert!(
        !manifest.contains("/etc/pki"),
        "debian hosts mount no /etc/pki"
    );
}

#[test]
fn resolv_conf_reaches_the_kubelet_config_per_host() {
    let spec = spec("[kubeadm]", "").set(
        "hosts.3.overrides.kubelet.config.resolvConf",
        "/run/systemd/resolve/resolv.conf",
    );
    assert_eq!(spec.get("hosts.3.name"), Some(&Value::from("worker01")));
    let (_temp, root) = build(&spec, "worker01");
    let config = read(&root, "var/lib/kubelet/config.yaml");
    assert!(
        config.contains("resolvConf: /run/systemd/resolve/resolv.conf"),
        "{config}"
    );
    let (_temp, root) = build(&spec, "master01");
    assert!(!read(&root, "var/lib/kubelet/config.yaml").contains("resolvConf"));
}

#[test]
fn systemd_prefers_the_bundles_drop_in_over_the_kubeadm_packages() {
    let (_temp, root) = build(&spec("[kubeadm]", ""), "worker01");
    // The kubeadm package's drop-in, as the deb and rpm install it.
    let package = root.join("usr/lib/systemd/system/kubelet.service.d");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(
        package.join("10-kubeadm.conf"),
        "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n",
    )
    .unwrap();
    let output = Process::new("systemd-analyze")
        .arg(format!("--root={}", root.display()))
        .args([
            "cat-config",
            "systemd/system/kubelet.service.d/10-kubeadm.conf",
        ])
        .output()
        .expect(
            "systemd-analyze (Debian's systemd package) must be installed: .ci/install-systemd.sh",
        );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // cat-config heads each file it shows with `# <path>`: only the bundle's is shown.
    let shown: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with(&format!("# {}", root.display())))
        .collect();
    assert_eq!(
        shown,
        [format!(
            "# {}/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
            root.display()
        )],
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .all(|line| line.starts_with('#') || line.trim().is_empty()),
        "{stdout}"
    );
    // kcompile's drop-in holds no directive at all.
    let drop_in = read(
        &root,
        "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    );
    assert!(
        drop_in.lines().all(|line| line.starts_with('#')),
        "{drop_in}"
    );
}

#[test]
fn diff_shows_node_files_like_any_other() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(
        temp.path().join("cluster.yaml"),
        spec("[kubeadm]", "").yaml(),
    )
    .unwrap();
    let run = |args: &[&str]| common::kcompile(temp.path()).args(args).output().unwrap();
    assert!(
        run(&["build", "--host", "worker01", "--out", "root"])
            .status
            .success()
    );
    let unchanged = run(&[
        "diff",
        "--host",
        "worker01",
        "--root",
        "root",
        "--name-only",
    ]);
    assert_eq!(unchanged.status.code(), Some(0));
    std::fs::write(
        temp.path().join("cluster.yaml"),
        spec(
            "[kubeadm]",
            "node:\n  containerRuntime: containerd-1\n  registryMirrors:\n    docker.io: [https://mirror.example.com]\n",
        )
        .yaml(),
    )
    .unwrap();
    let changed = run(&["diff", "--host", "worker01", "--root", "root", "--stat"]);
    assert_eq!(changed.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&changed.stdout);
    for line in [
        "+ etc/containerd/certs.d/docker.io/hosts.toml",
        "- etc/containerd/conf.d/99-kcompile.toml",
        "~ etc/containerd/config.toml",
    ] {
        assert!(stdout.contains(line), "no `{line}` in:\n{stdout}");
    }
}

#[test]
fn a_host_can_keep_its_own_runtime_and_ca_trust() {
    // worker01 runs CRI-O managed elsewhere; master01 is a RHEL host; the rest keep the cluster's.
    let spec = spec("[kubeadm]", "")
        .set("hosts.3.node.containerRuntime", "none")
        .set(
            "hosts.3.overrides.kubelet.containerRuntimeEndpoint",
            "unix:///var/run/crio/crio.sock",
        )
        .set("hosts.0.node.caTrust", "rhel");
    assert_eq!(spec.get("hosts.0.name"), Some(&Value::from("master01")));
    assert_eq!(spec.get("hosts.3.name"), Some(&Value::from("worker01")));
    let (_temp, root) = build(&spec, "worker01");
    let all = files(&root);
    assert!(
        !all.iter()
            .any(|path| path.starts_with("etc/containerd/") || path == "etc/crictl.yaml"),
        "{all:?}"
    );
    assert!(read(&root, "var/lib/kubelet/config.yaml").contains("crio.sock"));
    let (_temp, root) = build(&spec, "worker02");
    assert!(files(&root).contains(&"etc/containerd/conf.d/99-kcompile.toml".to_owned()));
    let (_temp, root) = build(&spec, "master01");
    let manifest = read(&root, "etc/kubernetes/manifests/kube-apiserver.yaml");
    assert!(manifest.contains("path: /etc/pki/ca-trust"), "{manifest}");
    let (_temp, root) = build(&spec, "master02");
    let manifest = read(&root, "etc/kubernetes/manifests/kube-apiserver.yaml");
    assert!(!manifest.contains("/etc/pki"), "{manifest}");
}
