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
//! Needs root and `ip netns` (fails, saying why, without them) and etcd, etcdctl and curl
//! (`.ci/install-etcd.sh` installs them; the test fails without them). Every etcd is killed by its
//! PID and every namespace and link removed afterwards, also when the test fails.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The control-plane hosts of the test spec: name and address, in a private /24.
const HOSTS: [(&str, &str); 3] = [
    ("master01", "10.213.7.11"),
    ("master02", "10.213.7.12"),
    ("master03", "10.213.7.13"),
];

/// How long the cluster may take to form.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the installer puts a newer etcd than Debian's.
const INSTALLED_ETCD_DIR: &str = "/opt/kcompile-etcd/bin";

// ---------------------------------------------------------------------------------------------
// Cleanup: everything the test creates is registered here before it is created.

#[derive(Default)]
struct Guard {
    namespaces: Vec<String>,
    /// (namespace, link) of every veth end.
    links: Vec<(String, String)>,
    /// (host, etcd process, log file).
    members: Vec<(String, Child, PathBuf)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (host, _, log) in &self.members {
                let text = fs::read_to_string(log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                eprintln!("--- last lines of {host}'s etcd log ---");
                for line in &lines[lines.len().saturating_sub(15)..] {
                    eprintln!("{}", line.chars().take(400).collect::<String>());
                }
            }
        }
        for (host, child, _) in &mut self.members {
            if let Err(e) = child.kill() {
                eprintln!("cleanup: kill etcd of {host} (pid {}): {e}", child.id());
            }
            let _ = child.wait();
        }
        // Anything else still running in our namespaces (an etcdctl or curl cut short) was started
        // by this test: end it by its PID.
        for namespace in &self.namespaces {
            if let Ok(out) = Command::new("ip")
                .args(["netns", "pids", namespace])
                .output()
            {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).output();
                }
            }
        }
        for (namespace, link) in &self.links {
            quiet(&["-n", namespace, "link", "del", link]);
        }
        for namespace in &self.namespaces {
            quiet(&["netns", "del", namespace]);
        }
        let left: Vec<&String> = self
            .namespaces
            .iter()
            .filter(|namespace| Path::new("/run/netns").join(namespace).exists())
            .collect();
        if !left.is_empty() {
            eprintln!("cleanup: namespaces still present: {left:?}");
        }
    }
}

/// `ip ARGS`, with `-n NAMESPACE` run through `nsenter --net` instead: `ip -n` and `ip netns exec`
/// remount `/` as a slave first, which fails in a chroot (a fresh machine's test run); entering
/// only the network namespace needs nothing of the mount tree.
fn ip_command(args: &[&str]) -> Command {
    match args {
        ["-n", namespace, rest @ ..] => {
            let mut command = in_netns(namespace);
            command.arg("ip").args(rest);
            command
        }
        _ => {
            let mut command = Command::new("ip");
            command.args(args);
            command
        }
    }
}

/// A command that runs its program in network namespace `namespace` (`nsenter` execs it: the
/// child's PID is the program's).
fn in_netns(namespace: &str) -> Command {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net=/run/netns/{namespace}"))
        .arg("--");
    command
}

/// Runs `ip ARGS`, ignoring the outcome (cleanup of what may not exist).
fn quiet(args: &[&str]) {
    let _ = ip_command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `ip ARGS` and panics when it fails.
fn ip(args: &[&str]) {
    let out = ip_command(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Preconditions.

/// Why the test cannot run here, when it cannot: not root, or no usable `ip netns`.
fn missing_precondition(pid: u32) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("?");
    if euid != "0" {
        return Some(format!("not running as root (euid {euid})"));
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Err(e) => return Some(format!("`ip` cannot be run ({e}); install iproute2")),
        Ok(out) if !out.status.success() => {
            return Some(format!(
                "`ip netns list` fails: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(_) => {}
    }
    // Root in a container may still lack the right to make namespaces.
    let probe = format!("kc-etcd-{pid}-probe");
    let out = Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .unwrap();
    quiet(&["netns", "del", &probe]);
    if !out.status.success() {
        return Some(format!(
            "`ip netns add` fails: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    None
}

/// The etcd and etcdctl the test runs, and the etcd's version.
struct Etcd {
    etcd: PathBuf,
    etcdctl: PathBuf,
    version: (u32, u32, u32),
}

fn etcd_version(etcd: &Path) -> Option<(u32, u32, u32)> {
    let out = Command::new(etcd).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .find_map(|line| line.strip_prefix("etcd Version:"))?
        .trim();
    let numbers: Vec<u32> = version
        .split(['.', '-', '+'])
        .take(3)
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    Some((numbers[0], numbers[1], *numbers.get(2)?))
}

/// The etcd in `$KCOMPILE_ETCD_DIR` when that is set (to run the test with another etcd, e.g.
/// Debian's in /usr/bin), else the newest one in the installer's directory and `$PATH`.
fn find_etcd() -> Option<Etcd> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("KCOMPILE_ETCD_DIR") {
        dirs.push(dir.into());
    } else {
        dirs.push(INSTALLED_ETCD_DIR.into());
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        dirs.push("/usr/bin".into());
    }
    dirs.iter()
        .filter(|dir| dir.join("etcd").is_file() && dir.join("etcdctl").is_file())
        .filter_map(|dir| {
            Some(Etcd {
                version: etcd_version(&dir.join("etcd"))?,
                etcd: dir.join("etcd"),
                etcdctl: dir.join("etcdctl"),
            })
        })
        .max_by_key(|etcd| etcd.version)
}

// ---------------------------------------------------------------------------------------------
// The compiled files.

/// The test spec, for a Kubernetes/etcd pair whose etcd flags suit the installed etcd best.
/// Returns the spec and the etcd release it names.
fn spec(installed: (u32, u32, u32)) -> (String, (u32, u32, u32)) {
    let (kubernetes, etcd, rendered) = match (installed.0, installed.1) {
        (3, 7..) => ("v1.37.1", "3.7.0-0", (3, 7, 0)),
        (3, 6) => ("v1.36.3", "3.6.9-0", (3, 6, 9)),
        // etcd 3.4 and 3.5: the 3.5 flag set, the oldest kcompile renders (Kubernetes v1.33).
        _ => ("v1.33.5", "3.5.24-0", (3, 5, 24)),
    };
    let hosts: String = HOSTS
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

fn read_pod(out: &Path, host: &str, name: &str) -> Value {
    let path = out
        .join(host)
        .join("etc/kubernetes/manifests")
        .join(format!("{name}.yaml"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `--name=value` flags of a pod's container command, in order, without the program.
fn flags(pod: &Value) -> Vec<(String, String)> {
    let command = pod["spec"]["containers"][0]["command"]
        .as_array()
        .expect("the container has a command");
    command[1..]
        .iter()
        .map(|arg| {
            let arg = arg.as_str().expect("a command argument is a string");
            let (name, value) = arg
                .strip_prefix("--")
                .and_then(|flag| flag.split_once('='))
                .unwrap_or_else(|| panic!("`{arg}` is not a --name=value flag"));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn flag<'a>(flags: &'a [(String, String)], name: &str) -> &'a str {
    flags
        .iter()
        .find(|(flag, _)| flag == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no --{name} flag"))
}

/// A path on the host mapped into that host's compiled tree (it must be there).
fn host_file(out: &Path, host: &str, path: &str) -> String {
    let local = out.join(host).join(path.trim_start_matches('/'));
    assert!(
        local.is_file(),
        "{host}: {path} is named by a flag but not in the bundle"
    );
    local.to_string_lossy().into_owned()
}

/// Rewrites certificate paths into the host's compiled tree and the data dir into `data`; every
/// other value is kept as compiled.
fn rewrite(
    flags: &[(String, String)],
    out: &Path,
    host: &str,
    data: &Path,
) -> Vec<(String, String)> {
    flags
        .iter()
        .map(|(name, value)| {
            let value = if name == "data-dir" {
                data.to_string_lossy().into_owned()
            } else if value.starts_with("/etc/kubernetes/") {
                host_file(out, host, value)
            } else {
                assert!(
                    !value.starts_with('/'),
                    "{host}: --{name}={value} names a path the test does not know how to place"
                );
                value.clone()
            };
            (name.clone(), value)
        })
        .collect()
}

fn args(flags: &[(String, String)]) -> Vec<String> {
    flags
        .iter()
        .map(|(name, value)| format!("--{name}={value}"))
        .collect()
}

/// Asks the installed etcd which flags it does not know: etcd parses every flag before it acts on
/// `--version`, and stops at the first it does not define. Returns (flag, etcd's message).
fn unknown_flags(etcd: &Path, flags: &[(String, String)]) -> Vec<(String, String)> {
    let mut unknown = Vec::new();
    loop {
        let kept: Vec<(String, String)> = flags
            .iter()
            .filter(|(name, _)| !unknown.iter().any(|(u, _)| u == name))
            .cloned()
            .collect();
        let out = Command::new(etcd)
            .args(args(&kept))
            .arg("--version")
            .output()
            .unwrap();
        if out.status.success() {
            return unknown;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|line| line.contains("flag provided but not defined"))
            .unwrap_or_else(|| panic!("etcd rejects the compiled flags:\n{stderr}"));
        let name = line
            .rsplit_once(": ")
            .map(|(_, flag)| flag.trim().trim_start_matches('-').to_owned())
            .unwrap();
        assert!(
            kept.iter().any(|(flag, _)| *flag == name),
            "etcd names an unknown flag that is not ours: {line}"
        );
        unknown.push((name, line.trim().to_owned()));
    }
}

// ---------------------------------------------------------------------------------------------
// Running things inside a namespace.

fn in_namespace(namespace: &str, program: &Path, args: &[String]) -> Output {
    in_netns(namespace)
        .arg(program)
        .args(args)
        .env("ETCDCTL_API", "3")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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

// ---------------------------------------------------------------------------------------------

#[test]
fn compiled_etcd_flags_run_a_healthy_three_member_cluster() {
    let started = Instant::now();
    let pid = std::process::id();
    // A test that cannot run its real check fails; it never passes by skipping it.
    if let Some(reason) = missing_precondition(pid) {
        panic!(
            "etcd_cluster cannot run: {reason}; it needs root and network namespaces (run the tests as root, as README says)"
        );
    }
    let etcd = find_etcd().expect(
        "no etcd and etcdctl found (in $KCOMPILE_ETCD_DIR, /opt/kcompile-etcd/bin or $PATH): \
         run `sudo bash .ci/install-etcd.sh` to install them",
    );
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
    let temp = tempfile::tempdir().unwrap();
    let (spec, rendered) = spec(installed);
    fs::write(temp.path().join("cluster.yaml"), &spec).unwrap();
    assert_cmd::Command::cargo_bin("kcompile")
        .unwrap()
        .current_dir(temp.path())
        .args(["build", "-f", "cluster.yaml", "--state", "st", "--all"])
        .args(["--out", "out"])
        .assert()
        .success();
    let out = temp.path().join("out");
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
    fs::create_dir(temp.path().join("data")).unwrap();
    let member_flags: Vec<Vec<(String, String)>> = HOSTS
        .iter()
        .zip(&etcd_pods)
        .map(|((host, _), pod)| {
            let data = temp.path().join("data").join(host);
            rewrite(&flags(pod), &out, host, &data)
        })
        .collect();

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
        guard.namespaces.push(namespace.clone());
        quiet(&["netns", "del", namespace]); // a leftover of a killed run with the same PID
        ip(&["netns", "add", namespace]);
        ip(&["-n", namespace, "link", "set", "lo", "up"]);
    }
    for a in 0..HOSTS.len() {
        for b in a + 1..HOSTS.len() {
            let (end_a, end_b) = (format!("k{pid}-{a}{b}"), format!("k{pid}-{b}{a}"));
            let (ns_a, ns_b) = (&namespaces[a], &namespaces[b]);
            guard.links.push((ns_a.clone(), end_a.clone()));
            guard.links.push((ns_b.clone(), end_b.clone()));
            ip(&[
                "link", "add", &end_a, "netns", ns_a, "type", "veth", "peer", "name", &end_b,
                "netns", ns_b,
            ]);
            for (namespace, end, own, other) in [
                (ns_a, &end_a, HOSTS[a].1, HOSTS[b].1),
                (ns_b, &end_b, HOSTS[b].1, HOSTS[a].1),
            ] {
                ip(&[
                    "-n",
                    namespace,
                    "addr",
                    "add",
                    &format!("{own}/32"),
                    "dev",
                    end,
                ]);
                ip(&["-n", namespace, "link", "set", end, "up"]);
                ip(&[
                    "-n",
                    namespace,
                    "route",
                    "add",
                    &format!("{other}/32"),
                    "dev",
                    end,
                ]);
            }
        }
    }

    // One etcd per namespace.
    for (i, (host, _)) in HOSTS.iter().enumerate() {
        let log = temp.path().join(format!("{host}.log"));
        let file = File::create(&log).unwrap();
        let child = in_netns(&namespaces[i])
            .arg(&etcd.etcd)
            .args(args(&member_flags[i]))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        eprintln!(
            "started etcd {host} in {} (pid {})",
            namespaces[i],
            child.id()
        );
        guard.members.push((host.to_string(), child, log));
    }

    // etcdctl as the apiserver of master01 connects.
    let apiserver = flags(&read_pod(&out, "master01", "kube-apiserver"));
    let servers = flag(&apiserver, "etcd-servers");
    let client = [
        format!(
            "--cacert={}",
            host_file(&out, "master01", flag(&apiserver, "etcd-cafile"))
        ),
        format!(
            "--cert={}",
            host_file(&out, "master01", flag(&apiserver, "etcd-certfile"))
        ),
        format!(
            "--key={}",
            host_file(&out, "master01", flag(&apiserver, "etcd-keyfile"))
        ),
        format!("--endpoints={servers}"),
        "--dial-timeout=2s".to_owned(),
        "--command-timeout=5s".to_owned(),
    ];
    let etcdctl = |namespace: &str, command: &[&str]| {
        let mut all = client.to_vec();
        all.extend(command.iter().map(|arg| arg.to_string()));
        in_namespace(namespace, &etcd.etcdctl, &all)
    };
    for (_, address) in HOSTS {
        assert!(
            servers.contains(&format!("https://{address}:2379")),
            "--etcd-servers={servers} misses the member at {address}"
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
