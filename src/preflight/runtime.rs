//! The container runtime and the kubelet: the runtime's socket and cgroup driver against the
//! kubelet config of the bundle, the installed kubelet's version against `kubernetesVersion`, and
//! a kubeadm package drop-in that would override the bundle's kubelet unit.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Bundle, Check, Finding, Machine};
use crate::root::Kind;

/// Where containerd's configuration lives: `config.toml` and the drop-ins it imports.
const CONTAINERD_DIR: &str = "etc/containerd";
/// The kubeadm package drop-in (deb and rpm), by the unit directories systemd reads, the
/// overriding one first (a file of the same name in an earlier directory wins).
const KUBEADM_DROP_INS: [&str; 4] = [
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "run/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
];
/// dpkg's database: a `Package: kubelet` stanza names the installed version.
const DPKG_STATUS: &str = "var/lib/dpkg/status";
/// How long `kubelet --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The runtime's socket: the kubelet config's `containerRuntimeEndpoint` must be a Unix socket.
pub fn socket(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let endpoint = bundle.host.kubelet.container_runtime_endpoint.as_str();
    let Some(path) = endpoint.strip_prefix("unix://") else {
        return vec![Finding::warning(
            Check::RuntimeSocket,
            format!("not checked: `{endpoint}` is not a unix:// endpoint"),
            "check that the runtime answers there (`crictl --runtime-endpoint ... info`)",
        )];
    };
    match machine.root.stat(path) {
        Ok(Some(metadata)) if metadata.kind == Kind::Socket => vec![Finding::ok(
            Check::RuntimeSocket,
            format!("{path} is a socket"),
        )],
        Ok(Some(metadata)) => vec![Finding::error(
            Check::RuntimeSocket,
            format!(
                "{path} (containerRuntimeEndpoint) is {}, not a socket",
                metadata.kind.describe()
            ),
            "start the container runtime, or set kubelet.containerRuntimeEndpoint to its socket",
        )],
        Ok(None) => vec![Finding::error(
            Check::RuntimeSocket,
            format!("nothing at {path} (containerRuntimeEndpoint): the runtime is not running"),
            "install and start containerd (`systemctl enable --now containerd`), or set \
             kubelet.containerRuntimeEndpoint to its socket",
        )],
        Err(error) => vec![Finding::unreadable(Check::RuntimeSocket, &error)],
    }
}

/// The runtime's cgroup driver must be the kubelet's (`cgroupDriver` of the bundle's kubelet
/// config): containerd's runc `SystemdCgroup`, whose default is false (cgroupfs).
pub fn cgroup_driver(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let kubelet_driver = bundle
        .kubelet("cgroupDriver")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("cgroupfs")
        .to_owned();
    let entries = match machine.root.walk(CONTAINERD_DIR, 3) {
        Ok(entries) => entries,
        Err(error) => return vec![Finding::unreadable(Check::CgroupDriver, &error)],
    };
    // config.toml first, then the drop-ins it imports, in name order: an imported file's
    // setting overrides the main file's, so the last one found is the one containerd uses.
    let main = format!("{CONTAINERD_DIR}/config.toml");
    let mut paths: Vec<&str> = entries
        .iter()
        .map(|entry| entry.path.as_str())
        .filter(|path| path.ends_with(".toml"))
        .collect();
    paths.sort_by_key(|path| (*path != main, *path));
    let mut configs = Vec::new();
    let mut settings: Vec<(String, bool)> = Vec::new();
    for path in paths {
        match machine.text(path) {
            Ok(Some(text)) => {
                configs.push(path.to_owned());
                for line in text.lines() {
                    let compact: String = line
                        .split('#')
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect();
                    if let Some(value) = compact.strip_prefix("SystemdCgroup=") {
                        settings.push((path.to_owned(), value == "true"));
                    }
                }
            }
            Ok(None) => {}
            Err(error) => return vec![Finding::unreadable(Check::CgroupDriver, &error)],
        }
    }
    if configs.is_empty() {
        return vec![Finding::warning(
            Check::CgroupDriver,
            format!("not checked: no containerd configuration under /{CONTAINERD_DIR}"),
            format!(
                "the runtime must use the kubelet's cgroup driver ({kubelet_driver}); for \
                 containerd set `SystemdCgroup = {}` in its runc options",
                kubelet_driver == "systemd"
            ),
        )];
    }
    let (runtime_systemd, whence) = match settings.last() {
        Some((path, systemd)) => (*systemd, format!("SystemdCgroup = {systemd} in /{path}")),
        None => (
            false,
            format!(
                "no SystemdCgroup in {} (runc's default: cgroupfs)",
                configs
                    .iter()
                    .map(|path| format!("/{path}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    let runtime_driver = if runtime_systemd {
        "systemd"
    } else {
        "cgroupfs"
    };
    let mut findings = Vec::new();
    if runtime_driver == kubelet_driver {
        findings.push(Finding::ok(
            Check::CgroupDriver,
            format!("containerd and the kubelet both use {kubelet_driver} ({whence})"),
        ));
    } else {
        findings.push(Finding::error(
            Check::CgroupDriver,
            format!(
                "containerd uses {runtime_driver} ({whence}), the kubelet {kubelet_driver}: \
                 pods would be placed in two cgroup trees"
            ),
            format!(
                "set `SystemdCgroup = {}` in containerd's runc options and restart it",
                kubelet_driver == "systemd"
            ),
        ));
    }
    if kubelet_driver == "systemd" {
        match machine.text("proc/1/comm") {
            Ok(Some(init)) if init.trim() != "systemd" => findings.push(Finding::error(
                Check::CgroupDriver,
                format!(
                    "the kubelet uses the systemd cgroup driver, but PID 1 is `{}`",
                    init.trim()
                ),
                "run the node under systemd, or set `cgroupDriver: cgroupfs` in kubelet.config \
                 and the runtime",
            )),
            Ok(_) => {}
            Err(error) => findings.push(Finding::unreadable(Check::CgroupDriver, &error)),
        }
    }
    findings
}

/// The installed kubelet against `kubernetesVersion`: newer than the control plane is an error,
/// as in kubeadm's `KubeletVersionCheck`; older than three minors is outside the supported skew;
/// another release within it is a warning (the bundle's kubelet config is written for the
/// cluster's release). The binary is run only when the root is `/`.
pub fn kubelet_version(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let binary = bundle.host.kubelet.binary_path.as_str();
    let relative = binary.trim_start_matches('/');
    match machine.root.stat(relative) {
        Ok(Some(metadata)) if metadata.kind == Kind::File => {}
        Ok(Some(metadata)) => {
            return vec![Finding::error(
                Check::KubeletVersion,
                format!(
                    "{binary} is {}, not the kubelet binary",
                    metadata.kind.describe()
                ),
                "install the kubelet there, or set kubelet.binaryPath",
            )];
        }
        Ok(None) => {
            return vec![Finding::error(
                Check::KubeletVersion,
                format!("the kubelet binary {binary} is not installed"),
                "install the kubelet of the cluster's release there, or set kubelet.binaryPath",
            )];
        }
        Err(error) => return vec![Finding::unreadable(Check::KubeletVersion, &error)],
    }
    let found = if machine.live {
        match run_version(binary) {
            Ok(text) => {
                parse_version(&text).map(|version| (version, format!("`{binary} --version`")))
            }
            Err(why) => {
                return vec![Finding::error(
                    Check::KubeletVersion,
                    format!("`{binary} --version` failed: {why}"),
                    "install a working kubelet of the cluster's release",
                )];
            }
        }
    } else {
        match dpkg_version(machine) {
            Ok(found) => found.map(|version| (version, format!("/{DPKG_STATUS}"))),
            Err(error) => return vec![Finding::unreadable(Check::KubeletVersion, &error)],
        }
    };
    let Some(((minor, patch), source)) = found else {
        return vec![Finding::warning(
            Check::KubeletVersion,
            if machine.live {
                format!("not checked: `{binary} --version` printed no version")
            } else {
                format!(
                    "not checked: the root is not /, so {binary} is not run, and no package \
                     database under the root (/{DPKG_STATUS}) names a kubelet version"
                )
            },
            "run `kubelet --version` on the machine",
        )];
    };
    let cluster = bundle.cluster.kubernetes_version;
    let found = format!("v1.{minor}.{patch}");
    if minor > cluster.minor {
        vec![Finding::error(
            Check::KubeletVersion,
            format!(
                "the kubelet version is higher than the control plane version ({found} from \
                 {source}, kubernetesVersion {cluster}): not a supported version skew"
            ),
            format!("install the kubelet of {cluster}"),
        )]
    } else if minor + 3 < cluster.minor {
        vec![Finding::error(
            Check::KubeletVersion,
            format!(
                "the kubelet ({found} from {source}) is more than three minors older than \
                 kubernetesVersion {cluster}"
            ),
            format!("install the kubelet of {cluster}"),
        )]
    } else if (minor, patch) == (cluster.minor, cluster.patch) {
        vec![Finding::ok(
            Check::KubeletVersion,
            format!("{found} ({source}), the cluster's kubernetesVersion"),
        )]
    } else {
        vec![Finding::warning(
            Check::KubeletVersion,
            format!("the kubelet is {found} ({source}), the bundle is written for {cluster}"),
            format!("install the kubelet of {cluster}"),
        )]
    }
}

/// `binary --version`'s output, the process killed after [`VERSION_TIMEOUT`].
fn run_version(binary: &str) -> Result<String, String> {
    let mut child = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(status)) => return Err(format!("it exited with {status}")),
            Ok(None) if started.elapsed() > VERSION_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "it did not finish within {} s",
                    VERSION_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => return Err(error.to_string()),
        }
    }
    let mut text = String::new();
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|error| error.to_string())?;
    }
    Ok(text)
}

/// `(minor, patch)` of the first `v1.M.P` or `1.M.P` in `text` (`Kubernetes v1.37.1`,
/// `1.37.1-1.1`).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == '+')
        .find_map(|word| {
            let bare = word.strip_prefix('v').unwrap_or(word);
            let mut parts = bare.split('.');
            let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
            (major == "1" && parts.next().is_none())
                .then(|| Some((minor.parse().ok()?, patch.parse().ok()?)))
                .flatten()
        })
}

/// The kubelet version dpkg's database records as installed, if it names one.
fn dpkg_version(machine: &Machine) -> Result<Option<(u32, u32)>, crate::root::RootError> {
    let Some(status) = machine.text(DPKG_STATUS)? else {
        return Ok(None);
    };
    Ok(status.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|line| line.strip_prefix(name).map(str::trim))
        };
        (field("Package:") == Some("kubelet")
            && field("Status:").is_some_and(|status| status.ends_with("installed")))
        .then(|| field("Version:").and_then(parse_version))
        .flatten()
    }))
}

/// A kubeadm package drop-in (`10-kubeadm.conf`) resets the kubelet's `ExecStart` to its own,
/// dropping the bundle's `--node-ip`, `--hostname-override` and `--node-labels`. Masked (a link
/// to /dev/null, or an empty file of the same name in an overriding directory) it is harmless.
pub fn kubeadm_drop_in(machine: &Machine) -> Vec<Finding> {
    for path in KUBEADM_DROP_INS {
        match machine.root.read_link(path) {
            Ok(Some(target)) if target == "/dev/null" => {
                return vec![Finding::ok(
                    Check::KubeadmDropIn,
                    format!("/{path} is masked (a link to /dev/null)"),
                )];
            }
            Ok(_) => {}
            Err(error) => return vec![Finding::unreadable(Check::KubeadmDropIn, &error)],
        }
        match machine.text(path) {
            Ok(None) => {}
            Ok(Some(text)) if text.trim().is_empty() => {
                return vec![Finding::ok(
                    Check::KubeadmDropIn,
                    format!("/{path} is empty (masks the package's)"),
                )];
            }
            Ok(Some(text))
                if text.contains("KUBELET_KUBEADM_ARGS")
                    || text.contains("KUBELET_KUBECONFIG_ARGS") =>
            {
                return vec![Finding::error(
                    Check::KubeadmDropIn,
                    format!(
                        "/{path} is kubeadm's package drop-in: it resets ExecStart and drops the \
                         bundle's --node-ip, --hostname-override and --node-labels"
                    ),
                    "remove it, or mask it: `ln -sf /dev/null \
                     /etc/systemd/system/kubelet.service.d/10-kubeadm.conf`, then \
                     `systemctl daemon-reload`",
                )];
            }
            Ok(Some(_)) => {
                return vec![Finding::ok(
                    Check::KubeadmDropIn,
                    format!("/{path} is not kubeadm's (no KUBELET_KUBEADM_ARGS)"),
                )];
            }
            Err(error) if error.is_link() => {
                // A link out of a prepared root (to /dev/null) is what a mask looks like there.
                return vec![Finding::warning(
                    Check::KubeadmDropIn,
                    format!("not checked: {error}"),
                    "mask it with a link to /dev/null, or remove it",
                )];
            }
            Err(error) => return vec![Finding::unreadable(Check::KubeadmDropIn, &error)],
        }
    }
    vec![Finding::ok(
        Check::KubeadmDropIn,
        "no kubeadm package drop-in (10-kubeadm.conf)",
    )]
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_are_read_from_the_kubelet_and_from_dpkg() {
        assert_eq!(parse_version("Kubernetes v1.37.1\n"), Some((37, 1)));
        assert_eq!(parse_version("1.36.4-1.1"), Some((36, 4)));
        assert_eq!(parse_version("Kubernetes v2.0.0"), None);
        assert_eq!(parse_version("garbage"), None);
    }
}
