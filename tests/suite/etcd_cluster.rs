//! A real three-member etcd cluster run with the flags kcompile compiles.
//!
//! Three network namespaces get the three control-plane addresses of a test spec, joined by a full
//! mesh of veth pairs (nothing is added to the root namespace, so no firewall or bridge-netfilter
//! setting of the machine is in the way). In each, the installed etcd runs with the `command:` of
//! that host's compiled `etcd.yaml`; only certificate and data paths are rewritten into the test's
//! temp dir. Flags the installed etcd does not know are listed in the output, never silently
//! dropped, and none may be dropped when the installed etcd is of the minor kcompile rendered for.
//! A probe path the installed etcd is too old to serve (`/livez`, `/readyz` before 3.5.11) is
//! reported, and etcd's `/health` must answer in its place.
//! Then etcdctl, with the `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile` and `--etcd-servers`
//! of master01's compiled `kube-apiserver.yaml`, must find all three members healthy and listed,
//! and every HTTP probe of the etcd manifest must answer 200 inside its namespace.
//!
//! With the hardened profile the control plane runs rootless: each etcd runs as the `runAsUser` and
//! `runAsGroup` of its manifest (`setpriv`), reading the bundle's files with the bundle's owners
//! (`--out` as root chowns them), from a data dir that the bundle's tmpfiles.d file creates
//! (`systemd-tmpfiles --create --root`). A second test runs one member as its manifest's user with
//! its `server.key` given to another uid (still 0600): etcdctl, with the apiserver's etcd client
//! flags, must not get a healthy answer, and etcd's log must show the permission error on the key
//! (etcd 3.5.1 loads the key when it opens its client listener and exits; a release that loads it
//! at each TLS handshake fails the handshake instead: the test accepts either).
//!
//! Needs root and `ip netns` (fails, saying why, without them) and etcd, etcdctl and curl
//! (`.ci/install-etcd.sh` installs them; the test fails without them). Every etcd is killed by its
//! PID and every namespace and link removed afterwards, also when the test fails.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Run, Spec, Test, netns};
use netns::{
    Guard, add_namespace, apiserver_etcd_client, connect, flag, flags, in_namespace, read_pod,
    require_etcd, rewrite, start_etcd_as, text, unknown_flags,
};

/// The control-plane hosts of the test spec: name and address, in a private /24.
const HOSTS: [(&str, &str); 3] = [
    ("master01", "10.213.7.11"),
    ("master02", "10.213.7.12"),
    ("master03", "10.213.7.13"),
];

/// How long the cluster may take to form.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The compiled files.

/// The test spec, for a Kubernetes/etcd pair whose etcd flags suit the installed etcd best.
/// Returns the spec and the etcd release it names.
fn spec(installed: (u32, u32, u32), members: &[(&str, &str)]) -> (String, (u32, u32, u32)) {
    let (kubernetes, etcd, rendered) = match (installed.0, installed.1) {
        (3, 7..) => ("v1.37.1", "3.7.0-0", (3, 7, 0)),
        (3, 6) => ("v1.36.3", "3.6.9-0", (3, 6, 9)),
        // etcd 3.4 and 3.5: the 3.5 flag set, the oldest kcompile renders (Kubernetes v1.33).
        _ => ("v1.33.5", "3.5.24-0", (3, 5, 24)),
    };
    let hosts: String = members
        .iter()
        .map(|(name, address)| {
            format!("  - name: {name}\n    address: {address}\n    roles: [control-plane, etcd]\n")
        })
        .collect();
    let text = format!(
        "apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: etcd-test
profiles: [kubeadm, hardened]
kubernetesVersion: {kubernetes}
controlPlaneEndpoint:
  host: 10.213.7.10
  port: 6443
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
  dnsDomain: cluster.local
pki:
  keyAlgorithm: ECDSA-P256
etcd:
  version: {etcd}
hosts:
{hosts}"
    );
    (text, rendered)
}

/// `spec` built (`--state st --all --out out`) in a fresh temp dir; the build must succeed.
fn compiled(spec: &Spec) -> Run {
    Test::new()
        .spec(spec)
        .args(["build", "-f", "cluster.yaml", "--state", "st", "--all"])
        .args(["--out", "out"])
        .run()
}

/// GET `url` inside `namespace` with curl: (status code, body).
fn http_get(namespace: &str, url: &str) -> (u32, String) {
    let curl = Path::new("curl");
    let out = in_namespace(
        namespace,
        curl,
        &[
            "-sS".into(),
            "--max-time".into(),
            "5".into(),
            "-w".into(),
            "\n%{http_code}".into(),
            url.into(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let code = code.trim().parse().unwrap_or(0);
    (code, body.to_owned())
}

/// The URL of an httpGet probe, its port resolved through the container's named ports.
fn probe_url(container: &Value, probe: &str) -> Option<(String, String)> {
    let get = &container[probe]["httpGet"];
    if get.is_null() {
        return None;
    }
    let port = match &get["port"] {
        Value::Number(port) => port.as_u64().unwrap(),
        Value::String(name) => container["ports"]
            .as_array()
            .and_then(|ports| ports.iter().find(|port| port["name"] == *name))
            .and_then(|port| port["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("{probe}: port `{name}` is not a named container port")),
        other => panic!("{probe}: port {other}"),
    };
    let scheme = get["scheme"].as_str().unwrap_or("HTTP").to_lowercase();
    let host = get["host"].as_str().expect("the probe names its host");
    let path = get["path"].as_str().unwrap_or("/");
    Some((
        format!("{scheme}://{host}:{port}{path}"),
        format!("{scheme}://{host}:{port}"),
    ))
}

/// The `runAsUser` and `runAsGroup` of a pod's container; a hardened etcd has both.
fn run_as(pod: &Value) -> (i64, i64) {
    let context = &pod["spec"]["containers"][0]["securityContext"];
    assert_eq!(
        context["runAsNonRoot"], true,
        "etcd does not run as non-root"
    );
    let uid = context["runAsUser"].as_i64().expect("runAsUser");
    let gid = context["runAsGroup"].as_i64().expect("runAsGroup");
    assert!(uid > 0 && gid > 0, "etcd runs as {uid}:{gid}");
    (uid, gid)
}

/// Applies `host`'s tmpfiles.d file from the bundle under `root` (`systemd-tmpfiles --create
/// --root`), and returns where it put `data_dir`, checking its owner and mode.
fn tmpfiles_root(out: &Path, host: &str, root: &Path, data_dir: &str) -> std::path::PathBuf {
    let conf = "etc/kubernetes/kcompile/rootless-tmpfiles.conf";
    fs::create_dir_all(root.join("etc/tmpfiles.d")).unwrap();
    fs::copy(
        out.join(host).join(conf),
        root.join("etc/tmpfiles.d/kcompile-rootless.conf"),
    )
    .unwrap();
    let status = Command::new("systemd-tmpfiles")
        .arg("--create")
        .arg(format!("--root={}", root.display()))
        .status()
        .expect("systemd-tmpfiles is missing: run `sudo bash .ci/install-etcd.sh`");
    assert!(status.success(), "systemd-tmpfiles --create: {status}");
    let data = root.join(data_dir.trim_start_matches('/'));
    let meta = fs::metadata(&data).unwrap_or_else(|e| panic!("{host}: {data_dir}: {e}"));
    assert_eq!(meta.mode() & 0o777, 0o700, "{host}: {data_dir} mode");
    data
}

// ---------------------------------------------------------------------------------------------

#[test]
fn compiled_etcd_flags_run_a_healthy_three_member_cluster() {
    let started = Instant::now();
    let pid = std::process::id();
    // A test that cannot run its real check fails; it never passes by skipping it.
    let etcd = require_etcd("etcd_cluster", pid);
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "curl is missing: run `sudo bash .ci/install-etcd.sh`"
    );
    let installed = etcd.version;
    eprintln!(
        "etcd: {} (version {}.{}.{}), etcdctl: {}",
        etcd.etcd.display(),
        installed.0,
        installed.1,
        installed.2,
        etcd.etcdctl.display()
    );

    // Compile the spec.
    let (spec, rendered) = spec(installed, &HOSTS);
    let temp = compiled(&Spec::parse(&spec));
    let out = temp.dir().join("out");
    eprintln!(
        "compiled for etcd {}.{}.{}: {}",
        rendered.0,
        rendered.1,
        rendered.2,
        spec.lines()
            .find(|line| line.starts_with("kubernetesVersion"))
            .unwrap()
    );

    // Each member's flags, paths rewritten.
    let etcd_pods: Vec<Value> = HOSTS
        .iter()
        .map(|(host, _)| read_pod(&out, host, "etcd"))
        .collect();
    // The rootless user of each member, from its manifest; the tmpfiles.d file of its bundle makes
    // its data dir under a root of its own. The etcd user must reach the files through the temp dir.
    fs::set_permissions(temp.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let users: Vec<(i64, i64)> = etcd_pods.iter().map(run_as).collect();
    let member_flags: Vec<Vec<(String, String)>> = HOSTS
        .iter()
        .zip(&etcd_pods)
        .map(|((host, _), pod)| {
            let root = temp.dir().join("roots").join(host);
            let data = tmpfiles_root(&out, host, &root, flag(&flags(pod), "data-dir"));
            rewrite(&flags(pod), &out, host, &data)
        })
        .collect();
    for ((host, _), (uid, gid)) in HOSTS.iter().zip(&users) {
        let key = out.join(host).join("etc/kubernetes/pki/etcd/server.key");
        let meta = fs::metadata(&key).unwrap();
        assert_eq!(
            (
                i64::from(meta.uid()),
                i64::from(meta.gid()),
                meta.mode() & 0o777
            ),
            (*uid, *gid, 0o600),
            "{host}: server.key is not the etcd user's, 0600"
        );
    }

    // Flags the installed etcd does not know: listed, then left out.
    let unknown = unknown_flags(&etcd.etcd, &member_flags[0]);
    if unknown.is_empty() {
        eprintln!("dropped flags: none (etcd {installed:?} knows every compiled flag)");
    }
    for (name, message) in &unknown {
        let value = flag(&member_flags[0], name);
        eprintln!("DROPPED flag --{name}={value}: unknown to the installed etcd ({message})");
    }
    assert!(
        unknown.is_empty() || (installed.0, installed.1) < (rendered.0, rendered.1),
        "etcd {installed:?} is of the minor kcompile rendered for ({rendered:?}) yet does not know {:?}",
        unknown.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    let member_flags: Vec<Vec<(String, String)>> = member_flags
        .into_iter()
        .map(|flags| {
            flags
                .into_iter()
                .filter(|(name, _)| !unknown.iter().any(|(u, _)| u == name))
                .collect()
        })
        .collect();

    // The network: three namespaces, a veth pair between each two.
    let mut guard = Guard::default();
    let namespaces: Vec<String> = (1..=HOSTS.len())
        .map(|i| format!("kc-etcd-{pid}-{i}"))
        .collect();
    for namespace in &namespaces {
        add_namespace(&mut guard, namespace);
    }
    for a in 0..HOSTS.len() {
        for b in a + 1..HOSTS.len() {
            connect(
                &mut guard,
                &format!("k{pid}-{a}{b}"),
                (&namespaces[a], HOSTS[a].1),
                (&namespaces[b], HOSTS[b].1),
            );
        }
    }

    // One etcd per namespace, as its manifest's user.
    for (i, (host, _)) in HOSTS.iter().enumerate() {
        start_etcd_as(
            &mut guard,
            &etcd.etcd,
            &namespaces[i],
            host,
            &member_flags[i],
            temp.dir().join(format!("{host}.log")),
            Some(users[i]),
        );
    }

    // etcdctl as the apiserver of master01 connects.
    let (mut client, servers) = apiserver_etcd_client(&out, "master01");
    client.extend([
        "--dial-timeout=2s".to_owned(),
        "--command-timeout=5s".to_owned(),
    ]);
    let etcdctl = |namespace: &str, command: &[&str]| {
        let mut all = client.clone();
        all.extend(command.iter().map(std::string::ToString::to_string));
        in_namespace(namespace, &etcd.etcdctl, &all)
    };
    for (_, address) in HOSTS {
        assert!(
            servers.contains(&format!("https://{address}:2379")),
            "--etcd-servers={servers:?} misses the member at {address}"
        );
    }

    // Wait until every member is healthy.
    let health = loop {
        for (host, child, _) in &mut guard.members {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("etcd {host} exited: {status}");
            }
        }
        let out = etcdctl(&namespaces[0], &["endpoint", "health", "--cluster"]);
        let report = text(&out);
        let healthy = report.matches(" is healthy").count();
        if out.status.success() && healthy == HOSTS.len() {
            break report;
        }
        assert!(
            started.elapsed() < FORM_TIMEOUT,
            "the cluster did not become healthy within {FORM_TIMEOUT:?}; last report:\n{report}"
        );
        sleep(Duration::from_millis(500));
    };
    eprintln!("etcdctl endpoint health --cluster:\n{}", health.trim_end());
    for (_, address) in HOSTS {
        assert!(
            health.contains(&format!("https://{address}:2379 is healthy")),
            "{address} is not reported healthy:\n{health}"
        );
    }

    let members = etcdctl(&namespaces[0], &["member", "list"]);
    let list = text(&members);
    eprintln!("etcdctl member list:\n{}", list.trim_end());
    assert!(members.status.success(), "member list failed:\n{list}");
    assert_eq!(list.lines().count(), HOSTS.len(), "{list}");
    for (host, address) in HOSTS {
        let line = list
            .lines()
            .find(|line| line.split(", ").nth(2) == Some(host))
            .unwrap_or_else(|| panic!("{host} is not a member:\n{list}"));
        for expected in [
            "started".to_owned(),
            format!("https://{address}:2380"),
            format!("https://{address}:2379"),
        ] {
            assert!(
                line.contains(&expected),
                "{host}: no {expected} in `{line}`"
            );
        }
    }

    // A write through one member is read, linearizably, through another.
    let key = format!("/kcompile/etcd-cluster-test/{pid}");
    let put = etcdctl(&namespaces[0], &["put", &key, "written-by-master01"]);
    assert!(put.status.success(), "put: {}", text(&put));
    let get = etcdctl(
        &namespaces[2],
        &[
            "--endpoints=https://10.213.7.13:2379",
            "get",
            "--print-value-only",
            &key,
        ],
    );
    assert_eq!(
        text(&get).trim(),
        "written-by-master01",
        "get through master03"
    );

    // The manifest's HTTP probes, inside each member's namespace.
    for (i, (host, _)) in HOSTS.iter().enumerate() {
        let container = &etcd_pods[i]["spec"]["containers"][0];
        assert!(
            !container["livenessProbe"]["httpGet"].is_null(),
            "{host}: etcd has no httpGet liveness probe"
        );
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            let Some((url, base)) = probe_url(container, probe) else {
                continue;
            };
            let (code, body) = http_get(&namespaces[i], &url);
            if code == 200 {
                assert!(
                    body.contains(r#""health":"true""#) || body.trim() == "ok",
                    "{host} {probe} {url}: 200 but body `{body}`"
                );
                eprintln!("{host} {probe} {url}: 200 {}", body.trim());
                continue;
            }
            // An etcd older than the release rendered for may lack the path (/livez and /readyz
            // arrived in 3.5.11): then its own health endpoint must answer, and the output says so.
            assert!(
                installed < rendered,
                "{host} {probe} {url} answered {code} `{}` on etcd {installed:?}",
                body.trim()
            );
            let fallback = format!("{base}/health");
            let (fallback_code, body) = http_get(&namespaces[i], &fallback);
            eprintln!(
                "{host} {probe} {url}: answered {code}, not served by etcd {installed:?}; \
                 {fallback} answered {fallback_code} {}",
                body.trim()
            );
            let code = fallback_code;
            assert!(
                code == 200 && body.contains(r#""health":"true""#),
                "{host}: {fallback} answered {code} `{}`",
                body.trim()
            );
        }
    }

    drop(guard);
    for namespace in &namespaces {
        assert!(
            !Path::new("/run/netns").join(namespace).exists(),
            "namespace {namespace} was not removed"
        );
    }
    eprintln!("etcd_cluster: done in {:.1?}", started.elapsed());
}

/// The uid `etcd_refuses_a_serving_key_owned_by_another_user` gives server.key: no rootless
/// component's.
const ANOTHER_USER: u32 = 64199;

#[test]
fn etcd_refuses_a_serving_key_owned_by_another_user() {
    let pid = std::process::id();
    let etcd = require_etcd("etcd_cluster", pid);
    // One member, so that its health needs no other.
    let member = [("master01", "10.213.8.11")];
    let (spec, _) = spec(etcd.version, &member);
    let temp = compiled(&Spec::parse(&spec).set("controlPlaneEndpoint.host", "10.213.8.10"));
    let out = temp.dir().join("out");
    fs::set_permissions(temp.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let pod = read_pod(&out, "master01", "etcd");
    let user = run_as(&pod);
    let root = temp.dir().join("roots/master01");
    let data = tmpfiles_root(&out, "master01", &root, flag(&flags(&pod), "data-dir"));
    let member_flags = rewrite(&flags(&pod), &out, "master01", &data);
    let unknown = unknown_flags(&etcd.etcd, &member_flags);
    let member_flags: Vec<(String, String)> = member_flags
        .into_iter()
        .filter(|(name, _)| !unknown.iter().any(|(u, _)| u == name))
        .collect();

    // The serving key belongs to another user, still 0600.
    let key = out.join("master01/etc/kubernetes/pki/etcd/server.key");
    std::os::unix::fs::chown(&key, Some(ANOTHER_USER), Some(ANOTHER_USER)).unwrap();
    let meta = fs::metadata(&key).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (ANOTHER_USER, 0o600),
        "server.key"
    );
    assert_ne!(i64::from(ANOTHER_USER), user.0, "etcd runs as another user");

    let mut guard = Guard::default();
    let namespace = format!("kc-etcdkey-{pid}");
    add_namespace(&mut guard, &namespace);
    netns::ip(&[
        "-n",
        &namespace,
        "addr",
        "add",
        "10.213.8.11/32",
        "dev",
        "lo",
    ]);
    let log = temp.dir().join("master01.log");
    start_etcd_as(
        &mut guard,
        &etcd.etcd,
        &namespace,
        "master01",
        &member_flags,
        log.clone(),
        Some(user),
    );

    // etcdctl with the apiserver's etcd client flags: refused, whether etcd read the key at start
    // (and exited) or reads it at each TLS handshake.
    let (mut client, _) = apiserver_etcd_client(&out, "master01");
    client.extend(
        [
            "--dial-timeout=2s",
            "--command-timeout=3s",
            "endpoint",
            "health",
        ]
        .map(str::to_owned),
    );
    let started = Instant::now();
    let denied = loop {
        let health = in_namespace(&namespace, &etcd.etcdctl, &client);
        assert!(
            !health.status.success(),
            "etcd served TLS with a key its user cannot read:\n{}",
            text(&health)
        );
        let logged = fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("permission denied") {
            break logged;
        }
        assert!(
            started.elapsed() < FORM_TIMEOUT,
            "etcd's log does not say permission denied; log:\n{logged}\netcdctl:\n{}",
            text(&health)
        );
        sleep(Duration::from_millis(500));
    };
    let line = denied
        .lines()
        .find(|line| line.contains("permission denied"))
        .unwrap_or_default();
    eprintln!("etcd: {line}");
    assert!(
        line.contains("server.key"),
        "etcd's permission error does not name server.key: {line}"
    );
    drop(guard);
    assert!(
        !Path::new("/run/netns").join(&namespace).exists(),
        "namespace {namespace} was not removed"
    );
}
