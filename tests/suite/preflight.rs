//! `kcompile preflight` on prepared roots: a tree laid out like a machine ready for
//! examples/single-node.yaml's `node01` passes every check (exit 0); each check is then broken in
//! a copy, and the finding's severity, message and the exit code are checked (1 for an error, 0
//! for a warning), and the JSON. Last, a run on this machine's real `/`, which asserts only what
//! holds on any machine: it runs, every check reports, and the exit code follows the errors.

use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::common::{self, Spec};
use serde_json::Value;
use tempfile::TempDir;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CHECKS: [&str; 12] = [
    "swap",
    "ip-forward",
    "kernel-modules",
    "cgroups",
    "cgroup-driver",
    "runtime-socket",
    "ports",
    "kubelet-version",
    "hostname",
    "address",
    "resolv-conf",
    "kubeadm-drop-in",
];
const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

/// A spec and a machine root for its host `node01` (192.168.56.10, Kubernetes v1.37.1).
struct Machine {
    dir: TempDir,
}

impl Machine {
    /// A machine on which every check passes.
    fn ready() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        fs::copy(
            Path::new(ROOT).join("examples/single-node.yaml"),
            dir.path().join("cluster.yaml"),
        )
        .unwrap();
        let machine = Machine { dir };
        machine.write(
            "proc/swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
        );
        machine.write("proc/sys/net/ipv4/ip_forward", "1\n");
        machine.write(
            "proc/modules",
            "br_netfilter 32768 0 - Live 0x0000000000000000\noverlay 151552 0 - Live 0x0000000000000000\n",
        );
        machine.write(
            "sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        );
        machine.write(
            "etc/containerd/config.toml",
            "version = 3\n\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
        );
        machine.write("proc/1/comm", "systemd\n");
        machine.socket("run/containerd/containerd.sock");
        machine.write("proc/net/tcp", TCP_HEADER);
        machine.write("proc/net/tcp6", TCP_HEADER);
        machine.write("usr/bin/kubelet", "\x7fELF (not run: the root is not /)");
        machine.dpkg("1.37.1-1.1");
        machine.write("etc/hostname", "node01\n");
        machine.write(
            "proc/net/fib_trie",
            "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 192.168.56.0\n        /24 link UNICAST\n     |-- 192.168.56.10\n        /32 host LOCAL\n",
        );
        machine.write("etc/resolv.conf", "nameserver 192.168.56.1\nsearch lab\n");
        machine
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join("root").join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn remove(&self, relative: &str) {
        fs::remove_file(self.path(relative)).unwrap();
    }

    fn link(&self, relative: &str, target: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&path);
        symlink(target, path).unwrap();
    }

    fn socket(&self, relative: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        // The socket file stays when the listener is dropped: what a stat sees.
        drop(UnixListener::bind(path).unwrap());
    }

    fn dpkg(&self, version: &str) {
        self.write(
            "var/lib/dpkg/status",
            &format!(
                "Package: kubeadm\nStatus: install ok installed\nVersion: 1.30.0-1.1\n\n\
                 Package: kubelet\nStatus: install ok installed\nVersion: {version}\n\n"
            ),
        );
    }

    /// Edits the spec (`cluster.yaml`).
    fn edit_spec(&self, edit: impl FnOnce(Spec) -> Spec) {
        Spec::edit_file(&self.dir.path().join("cluster.yaml"), edit);
    }

    /// `kcompile preflight --host node01 --root ROOT [-o json]`: (exit code, stdout, stderr).
    fn preflight(&self, json: bool) -> (i32, String, String) {
        let mut command = common::kcompile(self.dir.path());
        command
            .args([
                "preflight",
                "-f",
                "cluster.yaml",
                "--host",
                "node01",
                "--root",
            ])
            .arg(self.dir.path().join("root"));
        if json {
            command.args(["-o", "json"]);
        }
        let output = command.output().unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    /// Runs preflight and checks that `line` is one of its lines and the exit code is `code`.
    fn expect(&self, code: i32, line: &str) -> String {
        let (status, stdout, stderr) = self.preflight(false);
        assert!(
            stdout.lines().any(|found| found.starts_with(line)),
            "no line starting `{line}` in:\n{stdout}{stderr}"
        );
        assert_eq!(status, code, "exit code, with:\n{stdout}");
        stdout
    }
}

#[test]
fn a_ready_machine_passes_every_check() {
    let machine = Machine::ready();
    let (status, stdout, stderr) = machine.preflight(false);
    assert_eq!(status, 0, "{stdout}{stderr}");
    for check in CHECKS {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with(&format!("ok: {check}: "))),
            "{check} passes:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("warning:") && !stdout.contains("error:"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("0 errors, 0 warnings\n"),
        "a summary last:\n{stdout}"
    );
    assert!(stdout.contains("ok: kubelet-version: v1.37.1 (/var/lib/dpkg/status)"));
    assert!(stdout.contains("ok: address: 192.168.56.10 is on an interface"));
}

#[test]
fn swap_on_stops_the_kubelet_unless_it_is_set_to_run_with_it() {
    let machine = Machine::ready();
    machine.write(
        "proc/swaps",
        "Filename\tType\tSize\tUsed\tPriority\n/swapfile                               file\t\t1048572\t\t0\t\t-2\n",
    );
    machine.expect(
        1,
        "error: swap: swap is on (/swapfile): the kubelet, with failSwapOn true (its default), refuses to start",
    );
    machine.edit_spec(|spec| spec.set("kubelet.config.failSwapOn", false));
    machine.expect(
        0,
        "warning: swap: swap is on (/swapfile) and the kubelet is set to run with it",
    );
}

#[test]
fn forwarding_off_or_absent_is_an_error() {
    let machine = Machine::ready();
    machine.write("proc/sys/net/ipv4/ip_forward", "0\n");
    machine.expect(
        1,
        "error: ip-forward: /proc/sys/net/ipv4/ip_forward contents are not set to 1 (it holds `0`)",
    );
    machine.remove("proc/sys/net/ipv4/ip_forward");
    machine.expect(
        1,
        "error: ip-forward: /proc/sys/net/ipv4/ip_forward does not exist",
    );
}

#[test]
fn missing_modules_are_warnings_and_ipvs_modules_errors_in_ipvs_mode() {
    let machine = Machine::ready();
    machine.write("proc/modules", "overlay 151552 0 - Live 0x0\n");
    machine.expect(
        0,
        "warning: kernel-modules: module br_netfilter is not loaded",
    );
    // /sys/module counts too (a module built into the kernel).
    fs::create_dir_all(machine.path("sys/module/br_netfilter")).unwrap();
    machine.expect(0, "ok: kernel-modules: loaded: br_netfilter, overlay");
    machine.edit_spec(|spec| spec.set("kubeProxy.mode", "ipvs"));
    machine.expect(
        1,
        "error: kernel-modules: module ip_vs is not loaded, and kube-proxy runs in IPVS mode",
    );
}

#[test]
fn cgroup_v1_is_a_warning() {
    let machine = Machine::ready();
    machine.remove("sys/fs/cgroup/cgroup.controllers");
    fs::create_dir_all(machine.path("sys/fs/cgroup/memory")).unwrap();
    machine.write(
        "sys/fs/cgroup/memory/memory.limit_in_bytes",
        "9223372036854771712\n",
    );
    machine.expect(
        0,
        "warning: cgroups: cgroup v1 (no /sys/fs/cgroup/cgroup.controllers)",
    );
}

#[test]
fn a_runtime_on_another_cgroup_driver_or_init_is_an_error() {
    let machine = Machine::ready();
    machine.write(
        "etc/containerd/config.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = false # the package's default\n",
    );
    machine.expect(
        1,
        "error: cgroup-driver: containerd uses cgroupfs (SystemdCgroup = false in /etc/containerd/config.toml), the kubelet systemd",
    );
    machine.write("etc/containerd/config.toml", "version = 2\n");
    machine.expect(
        1,
        "error: cgroup-driver: containerd uses cgroupfs (no SystemdCgroup in /etc/containerd/config.toml (runc's default: cgroupfs))",
    );
    // A drop-in under the config dir is read too, and overrides config.toml.
    machine.write(
        "etc/containerd/config.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n",
    );
    machine.write(
        "etc/containerd/conf.d/10-kcompile.toml",
        "[x]\nSystemdCgroup = true\n",
    );
    machine.expect(
        0,
        "ok: cgroup-driver: containerd and the kubelet both use systemd (SystemdCgroup = true in /etc/containerd/conf.d/10-kcompile.toml)",
    );
    machine.write("proc/1/comm", "init\n");
    machine.expect(
        1,
        "error: cgroup-driver: the kubelet uses the systemd cgroup driver, but PID 1 is `init`",
    );
    fs::remove_dir_all(machine.path("etc/containerd")).unwrap();
    machine.write("proc/1/comm", "systemd\n");
    machine.expect(
        0,
        "warning: cgroup-driver: not checked: no containerd configuration under /etc/containerd",
    );
}

#[test]
fn a_missing_runtime_socket_or_a_file_in_its_place_is_an_error() {
    let machine = Machine::ready();
    machine.remove("run/containerd/containerd.sock");
    machine.expect(
        1,
        "error: runtime-socket: nothing at /run/containerd/containerd.sock (containerRuntimeEndpoint): the runtime is not running",
    );
    machine.write("run/containerd/containerd.sock", "");
    machine.expect(
        1,
        "error: runtime-socket: /run/containerd/containerd.sock (containerRuntimeEndpoint) is a regular file, not a socket",
    );
}

#[test]
fn a_port_in_use_is_an_error_unless_the_hosts_own_component_holds_it() {
    let machine = Machine::ready();
    // 6443 = 0x192B, listening (0A), socket inode 4242; an established connection on 2379 is not
    // a listener.
    machine.write(
        "proc/net/tcp",
        &format!(
            "{TCP_HEADER}   0: 00000000:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:094B 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1\n"
        ),
    );
    machine.expect(1, "error: ports: Port 6443 is in use (kube-apiserver)");
    machine.write("proc/77/comm", "nginx\n");
    machine.link("proc/77/fd/0", "/dev/null");
    machine.link("proc/77/fd/3", "socket:[4242]");
    machine.expect(
        1,
        "error: ports: port 6443 (kube-apiserver) is in use by `nginx` (pid 77)",
    );
    machine.write("proc/77/comm", "kube-apiserver\n");
    let stdout = machine.expect(0, "ok: ports: ");
    assert!(
        stdout.contains("6443 held by this host's own kube-apiserver (pid 77)")
            && stdout.contains("2379 (etcd) free"),
        "{stdout}"
    );
    // IPv6 listeners count the same.
    machine.write("proc/net/tcp", TCP_HEADER);
    machine.write(
        "proc/net/tcp6",
        &format!(
            "{TCP_HEADER}   0: 00000000000000000000000000000000:280A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0\n"
        ),
    );
    machine.expect(1, "error: ports: Port 10250 is in use (kubelet)");
}

#[test]
fn the_kubelets_version_is_read_from_dpkg_under_another_root_and_never_run() {
    let machine = Machine::ready();
    machine.dpkg("1.36.4-1.1");
    machine.expect(
        0,
        "warning: kubelet-version: the kubelet is v1.36.4 (/var/lib/dpkg/status), the bundle is written for v1.37.1",
    );
    machine.dpkg("1.38.0-1.1");
    machine.expect(
        1,
        "error: kubelet-version: the kubelet version is higher than the control plane version (v1.38.0",
    );
    machine.dpkg("1.33.0-1.1");
    machine.expect(
        1,
        "error: kubelet-version: the kubelet (v1.33.0 from /var/lib/dpkg/status) is more than three minors older",
    );
    machine.remove("var/lib/dpkg/status");
    machine.expect(
        0,
        "warning: kubelet-version: not checked: the root is not /, so /usr/bin/kubelet is not run, and no package database",
    );
    machine.remove("usr/bin/kubelet");
    machine.expect(
        1,
        "error: kubelet-version: the kubelet binary /usr/bin/kubelet is not installed",
    );
}

#[test]
fn another_host_name_is_a_warning_and_a_missing_address_an_error() {
    let machine = Machine::ready();
    machine.write("etc/hostname", "localhost\n");
    machine.expect(
        0,
        "warning: hostname: the machine is `localhost` (/etc/hostname), the host `node01`",
    );
    machine.remove("etc/hostname");
    machine.write("proc/sys/kernel/hostname", "node01\n");
    machine.expect(
        0,
        "ok: hostname: the machine is `node01` (/proc/sys/kernel/hostname)",
    );
    machine.write(
        "proc/net/fib_trie",
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.2.15\n        /32 host LOCAL\n",
    );
    machine.expect(
        1,
        "error: address: the host's address 192.168.56.10 is on no interface of this machine (/proc/net/fib_trie)",
    );
}

#[test]
fn a_stub_resolver_is_an_error_while_the_kubelet_gives_pods_etc_resolv_conf() {
    let machine = Machine::ready();
    machine.write(
        "etc/resolv.conf",
        "# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\n",
    );
    machine.expect(
        1,
        "error: resolv-conf: /etc/resolv.conf (the kubelet's resolvConf) names nameserver 127.0.0.53, systemd-resolved's stub",
    );
    // As Ubuntu has it: a link to the stub file, here absent from the prepared root.
    machine.link("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
    machine.expect(
        1,
        "error: resolv-conf: /etc/resolv.conf (the kubelet's resolvConf) is systemd-resolved's stub (→ ../run/systemd/resolve/stub-resolv.conf",
    );
    machine.write(
        "run/systemd/resolve/resolv.conf",
        "nameserver 192.168.56.1\n",
    );
    machine.edit_spec(|spec| {
        spec.set(
            "kubelet.config.resolvConf",
            "/run/systemd/resolve/resolv.conf",
        )
    });
    machine.expect(
        0,
        "ok: resolv-conf: /run/systemd/resolve/resolv.conf (the kubelet's resolvConf) has no loopback nameserver",
    );
}

#[test]
fn a_leftover_kubeadm_drop_in_is_an_error_until_masked() {
    let machine = Machine::ready();
    machine.write(
        "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "[Service]\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n",
    );
    machine.expect(
        1,
        "error: kubeadm-drop-in: /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf is kubeadm's package drop-in",
    );
    machine.link(
        "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "/dev/null",
    );
    machine.expect(
        0,
        "ok: kubeadm-drop-in: /etc/systemd/system/kubelet.service.d/10-kubeadm.conf is masked (a link to /dev/null)",
    );
}

#[test]
fn json_has_a_format_version_and_every_check() {
    let machine = Machine::ready();
    machine.write("proc/sys/net/ipv4/ip_forward", "0\n");
    machine.write("etc/hostname", "other\n");
    let (status, stdout, _) = machine.preflight(true);
    assert_eq!(status, 1);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["formatVersion"], 1);
    assert_eq!(json["host"], "node01");
    assert_eq!(json["errors"], 1);
    assert_eq!(json["warnings"], 1);
    let findings = json["findings"].as_array().unwrap();
    for check in CHECKS {
        assert!(
            findings.iter().any(|finding| finding["check"] == check),
            "{check} reports"
        );
    }
    let error = findings
        .iter()
        .find(|finding| finding["severity"] == "error")
        .unwrap();
    assert_eq!(error["check"], "ip-forward");
    assert!(error["hint"].as_str().unwrap().contains("sysctl"));
    let ok = findings
        .iter()
        .find(|finding| finding["check"] == "swap")
        .unwrap();
    assert_eq!(ok["severity"], "ok");
    assert!(ok.get("hint").is_none(), "no hint on a passed check");
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let machine = Machine::ready();
    let output = common::kcompile(machine.dir.path())
        .args([
            "preflight",
            "-f",
            "cluster.yaml",
            "--host",
            "node02",
            "--root",
            "root",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("the spec has no host `node02`"));
    let output = common::kcompile(machine.dir.path())
        .args([
            "preflight",
            "-f",
            "cluster.yaml",
            "--host",
            "node01",
            "--root",
            "cluster.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the root `cluster.yaml` is not a directory"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// This machine is no Kubernetes node; what its checks find depends on it. What holds anywhere:
/// the run ends, every check reports, and the exit code is 1 exactly when an error is reported.
#[test]
fn the_real_root_is_read_and_every_check_reports() {
    let machine = Machine::ready();
    let output = common::kcompile(machine.dir.path())
        .args([
            "preflight",
            "-f",
            "cluster.yaml",
            "--host",
            "node01",
            "--root",
            "/",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    for check in CHECKS {
        assert!(
            findings.iter().any(|finding| finding["check"] == check),
            "{check} reports on /"
        );
    }
    let errors = json["errors"].as_u64().unwrap();
    assert_eq!(output.status.code(), Some(i32::from(errors > 0)));
    assert_eq!(json["root"], "/");
}

/// A hostile root: a FIFO where a /proc file is read, a file over the 4 MiB limit, a link out of
/// the root. Nothing hangs, nothing outside is read; each such check says it was not done.
#[test]
fn unreadable_machine_files_are_warnings_and_nothing_hangs_or_leaves_the_root() {
    let machine = Machine::ready();
    machine.remove("proc/swaps");
    let fifo = machine.path("proc/swaps");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    machine.write(
        "proc/net/tcp",
        &format!("{TCP_HEADER}{}", "x".repeat(5 << 20)),
    );
    machine.link("etc/resolv.conf", "/etc/shadow");
    let stdout = machine.expect(
        0,
        "warning: swap: not checked: `proc/swaps` is a named pipe, not a regular file",
    );
    assert!(
        stdout.contains("warning: ports: not checked: `proc/net/tcp` is 5242")
            && stdout.contains("bytes, more than the 4 MiB limit"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: resolv-conf: not checked: `etc/resolv.conf` is a symlink pointing outside the root"),
        "{stdout}"
    );
}

/// On `/` the kubelet binary is run for its version: `kubelet.binaryPath` points at stand-ins
/// that print a version or fail. Only the kubelet-version finding is asserted; the other checks
/// judge this machine.
#[test]
fn on_the_real_root_the_kubelet_binary_is_run_for_its_version() {
    use std::os::unix::fs::PermissionsExt;
    let machine = Machine::ready();
    let bin = machine.dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    for (name, script) in [
        ("kubelet-ok", "#!/bin/sh\necho 'Kubernetes v1.37.1'\n"),
        ("kubelet-old", "#!/bin/sh\necho 'Kubernetes v1.36.2'\n"),
        ("kubelet-broken", "#!/bin/sh\necho 'no' >&2\nexit 3\n"),
    ] {
        let path = bin.join(name);
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let finding = |name: &str| {
        let spec = fs::read_to_string(Path::new(ROOT).join("examples/single-node.yaml")).unwrap();
        let path = bin.join(name);
        fs::write(
            machine.dir.path().join("cluster.yaml"),
            format!("{spec}kubelet:\n  binaryPath: {}\n", path.display()),
        )
        .unwrap();
        let output = common::kcompile(machine.dir.path())
            .args([
                "preflight",
                "-f",
                "cluster.yaml",
                "--host",
                "node01",
                "--root",
                "/",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        stdout
            .lines()
            .find(|line| line.contains(": kubelet-version: "))
            .unwrap_or_else(|| panic!("a kubelet-version finding in:\n{stdout}"))
            .to_owned()
    };
    let ok = finding("kubelet-ok");
    assert!(
        ok.starts_with("ok: kubelet-version: v1.37.1 (`")
            && ok.ends_with("kubelet-ok --version`), the cluster's kubernetesVersion"),
        "{ok}"
    );
    let old = finding("kubelet-old");
    assert!(
        old.starts_with("warning: kubelet-version: the kubelet is v1.36.2 (`"),
        "{old}"
    );
    let broken = finding("kubelet-broken");
    assert!(
        broken.starts_with("error: kubelet-version: `")
            && broken.ends_with("kubelet-broken --version` failed: it exited with exit status: 3"),
        "{broken}"
    );
}
