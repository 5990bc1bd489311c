//! Kernel checks: swap, IPv4 forwarding, the modules the node needs, cgroup v2.

use super::{Bundle, Check, Finding, Machine};
use crate::cluster::ProxyMode;

/// `/proc/swaps`: a header line, then one line per active swap device.
const SWAPS: &str = "proc/swaps";
/// The IPv4 forwarding switch kubeadm's `FileContentCheck` reads.
const IP_FORWARD: &str = "proc/sys/net/ipv4/ip_forward";
/// Loaded modules, one per line, name first.
const MODULES: &str = "proc/modules";
/// One directory per module the kernel knows loaded or built in (when it has parameters).
const SYS_MODULE: &str = "sys/module";
/// Present only on the unified (v2) cgroup hierarchy.
const CGROUP_CONTROLLERS: &str = "sys/fs/cgroup/cgroup.controllers";

/// Swap: the kubelet refuses to start with swap on unless `failSwapOn: false` (its default is
/// true); kubeadm's `SwapCheck` warns whenever `/proc/swaps` lists a device.
pub fn swap(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let text = match machine.text(SWAPS) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return vec![Finding::warning(
                Check::Swap,
                format!("not checked: /{SWAPS} is absent (no /proc under the root?)"),
                "check `swapon --show` on the machine",
            )];
        }
        Err(error) => return vec![Finding::unreadable(Check::Swap, &error)],
    };
    let devices: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    if devices.is_empty() {
        return vec![Finding::ok(
            Check::Swap,
            format!("no swap is on (/{SWAPS})"),
        )];
    }
    let fail_swap_on = bundle
        .kubelet("failSwapOn")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true);
    let listed = devices.join(", ");
    if fail_swap_on {
        vec![Finding::error(
            Check::Swap,
            format!(
                "swap is on ({listed}): the kubelet, with failSwapOn true (its default), refuses to start"
            ),
            "`swapoff -a` and remove the swap entries of /etc/fstab, or set `failSwapOn: false` \
             (and `memorySwap`) in kubelet.config",
        )]
    } else {
        vec![Finding::warning(
            Check::Swap,
            format!(
                "swap is on ({listed}) and the kubelet is set to run with it (failSwapOn: false)"
            ),
            "swap is supported on cgroup v2 only; see https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory",
        )]
    }
}

/// IPv4 forwarding, as kubeadm's `FileContentCheck` of `/proc/sys/net/ipv4/ip_forward`: pods'
/// traffic leaves through the host only with it on.
pub fn ip_forward(machine: &Machine) -> Vec<Finding> {
    let hint = "`sysctl -w net.ipv4.ip_forward=1` and keep it in /etc/sysctl.d/";
    match machine.text(IP_FORWARD) {
        Ok(Some(text)) if text.trim() == "1" => {
            vec![Finding::ok(Check::IpForward, format!("/{IP_FORWARD} is 1"))]
        }
        Ok(Some(text)) => vec![Finding::error(
            Check::IpForward,
            format!(
                "/{IP_FORWARD} contents are not set to 1 (it holds `{}`)",
                text.trim()
            ),
            hint,
        )],
        Ok(None) => vec![Finding::error(
            Check::IpForward,
            format!("/{IP_FORWARD} does not exist"),
            hint,
        )],
        Err(error) => vec![Finding::unreadable(Check::IpForward, &error)],
    }
}

/// The modules the node needs: `br_netfilter` (bridged pod traffic through iptables) and
/// `overlay` (the runtime's overlayfs snapshotter) are warnings when missing; the IPVS modules
/// are errors when kube-proxy runs in IPVS mode.
pub fn modules(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let loaded_list = match machine.text(MODULES) {
        Ok(text) => text.unwrap_or_default(),
        Err(error) => return vec![Finding::unreadable(Check::KernelModules, &error)],
    };
    let sys_modules = match machine.root.names(SYS_MODULE) {
        Ok(names) => names,
        Err(error) => return vec![Finding::unreadable(Check::KernelModules, &error)],
    };
    if loaded_list.is_empty() && sys_modules.is_empty() {
        return vec![Finding::warning(
            Check::KernelModules,
            format!("not checked: neither /{MODULES} nor /{SYS_MODULE} is there"),
            "check `lsmod` on the machine",
        )];
    }
    let loaded = |name: &str| {
        sys_modules.iter().any(|known| known == name)
            || loaded_list
                .lines()
                .any(|line| line.split_whitespace().next() == Some(name))
    };
    let mut findings = Vec::new();
    let mut present = Vec::new();
    for name in ["br_netfilter", "overlay"] {
        if loaded(name) {
            present.push(name);
        } else {
            findings.push(Finding::warning(
                Check::KernelModules,
                format!("module {name} is not loaded"),
                format!("`modprobe {name}` and list it in /etc/modules-load.d/"),
            ));
        }
    }
    if bundle.cluster.kube_proxy == Some(ProxyMode::Ipvs) {
        for name in ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"] {
            if loaded(name) {
                present.push(name);
            } else {
                findings.push(Finding::error(
                    Check::KernelModules,
                    format!("module {name} is not loaded, and kube-proxy runs in IPVS mode"),
                    format!("`modprobe {name}` and list it in /etc/modules-load.d/"),
                ));
            }
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            Check::KernelModules,
            format!("loaded: {}", present.join(", ")),
        ));
    }
    findings
}

/// cgroup v2: the kubelet's cgroup v1 support is in maintenance mode and deprecated.
pub fn cgroups(machine: &Machine) -> Vec<Finding> {
    match machine.root.stat(CGROUP_CONTROLLERS) {
        Ok(Some(_)) => vec![Finding::ok(
            Check::Cgroups,
            format!("cgroup v2 (/{CGROUP_CONTROLLERS})"),
        )],
        Ok(None) => match machine.root.names("sys/fs/cgroup") {
            Ok(names) if names.is_empty() => vec![Finding::warning(
                Check::Cgroups,
                "not checked: /sys/fs/cgroup is empty or absent (no /sys under the root?)",
                "check `stat -fc %T /sys/fs/cgroup` on the machine (cgroup2fs for v2)",
            )],
            Ok(_) => vec![Finding::warning(
                Check::Cgroups,
                format!(
                    "cgroup v1 (no /{CGROUP_CONTROLLERS}): the kubelet's cgroup v1 support is deprecated"
                ),
                "boot with the unified hierarchy (systemd.unified_cgroup_hierarchy=1) or a distribution that uses it",
            )],
            Err(error) => vec![Finding::unreadable(Check::Cgroups, &error)],
        },
        Err(error) => vec![Finding::unreadable(Check::Cgroups, &error)],
    }
}
