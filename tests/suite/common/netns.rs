//! Real etcd members in network namespaces, shared by `etcd_cluster.rs` and `etcd_membership.rs`:
//! the cleanup guard (every namespace, link and etcd registered before it is made, each process
//! ended by its PID), `ip` through `nsenter`, the installed etcd, and the compiled flags of a
//! bundle's pods with their paths rewritten into the test's temp dir.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::MutexGuard;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// Where the installer puts a newer etcd than Debian's.
pub const INSTALLED_ETCD_DIR: &str = "/opt/kcompile-etcd/bin";

// ---------------------------------------------------------------------------------------------
// Cleanup: everything the test creates is registered here before it is created.

#[derive(Default)]
pub struct Guard {
    /// Every namespace, removed last.
    pub namespaces: Vec<String>,
    /// (namespace, link) of every veth end.
    pub links: Vec<(String, String)>,
    /// (host, etcd process, log file).
    pub members: Vec<(String, Child, PathBuf)>,
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
pub fn ip_command(args: &[&str]) -> Command {
    if let ["-n", namespace, rest @ ..] = args {
        let mut command = in_netns(namespace);
        command.arg("ip").args(rest);
        command
    } else {
        let mut command = Command::new("ip");
        command.args(args);
        command
    }
}

/// A command that runs its program in network namespace `namespace` (`nsenter` execs it: the
/// child's PID is the program's).
pub fn in_netns(namespace: &str) -> Command {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net=/run/netns/{namespace}"))
        .arg("--");
    command
}

/// Runs `ip ARGS`, ignoring the outcome (cleanup of what may not exist).
pub fn quiet(args: &[&str]) {
    let _ = ip_command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `ip ARGS` and panics when it fails.
pub fn ip(args: &[&str]) {
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

/// Why the test cannot run here, when it cannot: not root, or no usable `ip netns`. The calling
/// test is one of the heavy ones: from here to its end it holds [`super::heavy`].
pub fn missing_precondition(pid: u32) -> Option<String> {
    hold_heavy_until_the_test_ends();
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
    // The tests share a process, so the probe's name is unique to this call, not just to `pid`.
    #[expect(
        clippy::items_after_statements,
        reason = "the counter is this function's alone"
    )]
    static PROBES: AtomicUsize = AtomicUsize::new(0);
    let probe = format!(
        "kc-etcd-{pid}-probe{}",
        PROBES.fetch_add(1, Ordering::Relaxed)
    );
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

/// Takes [`super::heavy`] for the rest of the calling test: each test runs in a thread of its own,
/// and the guard kept in a thread-local is dropped when that thread ends, passed or failed.
fn hold_heavy_until_the_test_ends() {
    thread_local! {
        static HELD: RefCell<Option<MutexGuard<'static, ()>>> = const { RefCell::new(None) };
    }
    HELD.with(|held| {
        if held.borrow().is_none() {
            *held.borrow_mut() = Some(super::heavy());
        }
    });
}

/// The etcd and etcdctl the test runs, and the etcd's version.
#[expect(clippy::struct_field_names, reason = "`etcd` is the binary's name")]
pub struct Etcd {
    /// The etcd binary.
    pub etcd: PathBuf,
    /// The etcdctl beside it.
    pub etcdctl: PathBuf,
    /// Its version.
    pub version: (u32, u32, u32),
}

pub fn etcd_version(etcd: &Path) -> Option<(u32, u32, u32)> {
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
pub fn find_etcd() -> Option<Etcd> {
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

/// What a test of `module` that runs real etcd in network namespaces needs (root, `ip netns`,
/// etcd and etcdctl), or a failure that says what is missing: such a test never passes by
/// skipping its check.
pub fn require_etcd(module: &str, pid: u32) -> Etcd {
    if let Some(reason) = missing_precondition(pid) {
        panic!(
            "{module} cannot run: {reason}; it needs root and network namespaces (run the tests as root, as README says)"
        );
    }
    find_etcd().expect(
        "no etcd and etcdctl found (in $KCOMPILE_ETCD_DIR, /opt/kcompile-etcd/bin or $PATH): \
         run `sudo bash .ci/install-etcd.sh` to install them",
    )
}

// ---------------------------------------------------------------------------------------------
// The compiled files.

pub fn read_pod(out: &Path, host: &str, name: &str) -> Value {
    let path = out
        .join(host)
        .join("etc/kubernetes/manifests")
        .join(format!("{name}.yaml"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `--name=value` flags of a pod's container command, in order, without the program.
pub fn flags(pod: &Value) -> Vec<(String, String)> {
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

pub fn flag<'a>(flags: &'a [(String, String)], name: &str) -> &'a str {
    flags
        .iter()
        .find(|(flag, _)| flag == name)
        .map_or_else(|| panic!("no --{name} flag"), |(_, value)| value.as_str())
}

/// A path on the host mapped into that host's compiled tree (it must be there).
pub fn host_file(out: &Path, host: &str, path: &str) -> String {
    let local = out.join(host).join(path.trim_start_matches('/'));
    assert!(
        local.is_file(),
        "{host}: {path} is named by a flag but not in the bundle"
    );
    local.to_string_lossy().into_owned()
}

/// The etcd client flags of `host`'s compiled kube-apiserver (under `out`) as etcdctl flags
/// (`--cacert`, `--cert`, `--key` mapped into its tree, `--endpoints`), and its servers.
pub fn apiserver_etcd_client(out: &Path, host: &str) -> (Vec<String>, Vec<String>) {
    let apiserver = flags(&read_pod(out, host, "kube-apiserver"));
    let servers = flag(&apiserver, "etcd-servers");
    let args = vec![
        format!(
            "--cacert={}",
            host_file(out, host, flag(&apiserver, "etcd-cafile"))
        ),
        format!(
            "--cert={}",
            host_file(out, host, flag(&apiserver, "etcd-certfile"))
        ),
        format!(
            "--key={}",
            host_file(out, host, flag(&apiserver, "etcd-keyfile"))
        ),
        format!("--endpoints={servers}"),
    ];
    (args, servers.split(',').map(str::to_owned).collect())
}

/// Rewrites certificate paths into the host's compiled tree and the data dir into `data`; every
/// other value is kept as compiled.
pub fn rewrite(
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

pub fn args(flags: &[(String, String)]) -> Vec<String> {
    flags
        .iter()
        .map(|(name, value)| format!("--{name}={value}"))
        .collect()
}

/// Asks the installed etcd which flags it does not know: etcd parses every flag before it acts on
/// `--version`, and stops at the first it does not define. Returns (flag, etcd's message).
pub fn unknown_flags(etcd: &Path, flags: &[(String, String)]) -> Vec<(String, String)> {
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

pub fn in_namespace(namespace: &str, program: &Path, args: &[String]) -> Output {
    in_netns(namespace)
        .arg(program)
        .args(args)
        .env("ETCDCTL_API", "3")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Makes network namespace `namespace` (registered in `guard` first), with loopback up.
pub fn add_namespace(guard: &mut Guard, namespace: &str) {
    guard.namespaces.push(namespace.to_owned());
    quiet(&["netns", "del", namespace]); // a leftover of a killed run with the same PID
    ip(&["netns", "add", namespace]);
    ip(&["-n", namespace, "link", "set", "lo", "up"]);
}

/// Joins two namespaces by a veth pair named `<tag>a` / `<tag>b` (at most 15 characters), each
/// end with its own /32 address and a route to the other's.
pub fn connect(guard: &mut Guard, tag: &str, a: (&str, &str), b: (&str, &str)) {
    let (end_a, end_b) = (format!("{tag}a"), format!("{tag}b"));
    guard.links.push((a.0.to_owned(), end_a.clone()));
    guard.links.push((b.0.to_owned(), end_b.clone()));
    ip(&[
        "link", "add", &end_a, "netns", a.0, "type", "veth", "peer", "name", &end_b, "netns", b.0,
    ]);
    for (namespace, end, own, other) in [(a.0, &end_a, a.1, b.1), (b.0, &end_b, b.1, a.1)] {
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

/// Starts `etcd` with `flags` in `namespace`, logging to `log`; registered in `guard` as `host`.
pub fn start_etcd(
    guard: &mut Guard,
    etcd: &Path,
    namespace: &str,
    host: &str,
    flags: &[(String, String)],
    log: PathBuf,
) {
    start_etcd_as(guard, etcd, namespace, host, flags, log, None);
}

/// [`start_etcd`], as the numeric user and group `user` (through `setpriv`, with no
/// supplementary groups) when given.
pub fn start_etcd_as(
    guard: &mut Guard,
    etcd: &Path,
    namespace: &str,
    host: &str,
    flags: &[(String, String)],
    log: PathBuf,
    user: Option<(i64, i64)>,
) {
    let file = fs::File::create(&log).unwrap();
    let mut command = in_netns(namespace);
    if let Some((uid, gid)) = user {
        command
            .arg("setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups")
            .arg("--");
    }
    let child = command
        .arg(etcd)
        .args(args(flags))
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    eprintln!("started etcd {host} in {namespace} (pid {})", child.id());
    guard.members.push((host.to_owned(), child, log));
}

/// Stops the etcd of `host` (killed by its PID) and forgets it.
pub fn stop_etcd(guard: &mut Guard, host: &str) {
    let index = guard
        .members
        .iter()
        .position(|(name, _, _)| name == host)
        .unwrap_or_else(|| panic!("no etcd of {host} runs"));
    let (_, mut child, _) = guard.members.remove(index);
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!("stopped etcd {host} (pid {})", child.id());
}
