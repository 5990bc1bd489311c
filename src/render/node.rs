//! What a host needs beyond Kubernetes' own files, consistent with the kubelet config kcompile
//! writes: kernel settings (`/etc/sysctl.d/`, `/etc/modules-load.d/`), the container runtime's
//! configuration (`containerd.rs`) and `crictl.yaml` on the kubelet's socket, and a kubelet
//! drop-in that shadows the kubeadm package's `10-kubeadm.conf`.

use std::fmt::Write;

use serde_json::Value;

use super::containerd;
use super::{FileSet, PUBLIC};
use crate::cluster::{Cluster, Host};
use crate::cluster::{ContainerRuntime, ProxyMode};
use crate::versions::kernel_tunables;

/// Kernel parameters, named to sort after distribution defaults (`sysctl --system` and
/// systemd-sysctl apply files in name order; the last value of a key wins).
pub const SYSCTL_CONFIG: &str = "/etc/sysctl.d/99-kcompile-kubernetes.conf";
/// Kernel modules systemd-modules-load loads at boot (before systemd-sysctl, which needs
/// `br_netfilter` for the `net.bridge` keys).
pub const MODULES_CONFIG: &str = "/etc/modules-load.d/99-kcompile-kubernetes.conf";
/// crictl's configuration.
pub const CRICTL_CONFIG: &str = "/etc/crictl.yaml";
/// A drop-in named as the kubeadm package's (`/usr/lib/systemd/system/kubelet.service.d/
/// 10-kubeadm.conf`): systemd reads one drop-in per file name, the one in the directory of
/// highest priority, and `/etc/systemd/system` outranks `/usr/lib/systemd/system` (systemd.unit(5),
/// "drop-in files ... with the same name ... in a directory with higher priority override"). The
/// package's drop-in resets `ExecStart=` and would drop kcompile's flags.
pub const KUBEADM_DROP_IN: &str = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf";

/// Modules every host loads: `overlay` for containerd's default snapshotter, `br_netfilter` so
/// bridged pod traffic passes iptables (the `net.bridge.bridge-nf-call-*` keys exist only then).
const BASE_MODULES: [&str; 2] = ["overlay", "br_netfilter"];

/// The modules kube-proxy's IPVS mode needs: the IPVS core, the round-robin, weighted
/// round-robin and source-hashing schedulers, and connection tracking, for kernels from 4.19 on
/// (kubernetes/kubernetes `pkg/proxy/ipvs/util/ipvs.go`, `GetRequiredIPVSModules`, store ids
/// 109161971 and 27234639741).
const IPVS_MODULES: [&str; 5] = ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"];

/// Adds the node files of `host`.
pub fn files(files: &mut FileSet, cluster: &Cluster, host: &Host) {
    files.add(SYSCTL_CONFIG, sysctl(cluster, host), PUBLIC);
    files.add(MODULES_CONFIG, modules(cluster), PUBLIC);
    files.add(KUBEADM_DROP_IN, kubeadm_drop_in(), PUBLIC);
    if cluster.node.of(&host.name).container_runtime != ContainerRuntime::None {
        files.add(CRICTL_CONFIG, crictl(host), PUBLIC);
        containerd::files(files, cluster, host);
    }
}

/// A field of the host's `KubeletConfiguration` as the spec sets it (`kubelet.config` merged with
/// the host's overrides).
fn kubelet_field<'h>(host: &'h Host, field: &str) -> Option<&'h Value> {
    host.kubelet.config.get(field)
}

/// Whether the host's kubelet runs with `protectKernelDefaults: true`.
pub fn protects_kernel_defaults(host: &Host) -> bool {
    kubelet_field(host, "protectKernelDefaults") == Some(&Value::Bool(true))
}

/// Whether the host's kubelet uses the systemd cgroup driver (kcompile's default), so the runtime
/// must too.
pub fn systemd_cgroup(host: &Host) -> bool {
    kubelet_field(host, "cgroupDriver")
        .and_then(Value::as_str)
        .is_none_or(|driver| driver == "systemd")
}

/// `/etc/sysctl.d/99-kcompile-kubernetes.conf`.
fn sysctl(cluster: &Cluster, host: &Host) -> String {
    let mut text = String::from(
        "# Written by kcompile: kernel settings the kubelet, kube-proxy and pod networking need.\n\
         # Applied at boot by systemd-sysctl, now by `sysctl --system`.\n\
         net.ipv4.ip_forward = 1\n",
    );
    let ipv6 = cluster
        .networking
        .pod_subnets
        .iter()
        .chain(&cluster.networking.service_subnets)
        .any(|subnet| matches!(subnet, ipnet::IpNet::V6(_)));
    if ipv6 {
        text.push_str("net.ipv6.conf.all.forwarding = 1\n");
    }
    text.push_str(
        "net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n",
    );
    if protects_kernel_defaults(host) {
        text.push_str(
            "# protectKernelDefaults: true: the kubelet exits unless these hold (its\n\
             # setupKernelTunables; src/versions/node/kernel_tunables.tsv).\n",
        );
        for (key, value) in kernel_tunables() {
            let _ = writeln!(text, "{key} = {value}");
        }
    }
    text
}

/// `/etc/modules-load.d/99-kcompile-kubernetes.conf`.
fn modules(cluster: &Cluster) -> String {
    let mut text = String::from("# Written by kcompile: kernel modules loaded at boot.\n");
    for module in BASE_MODULES {
        let _ = writeln!(text, "{module}");
    }
    if cluster.kube_proxy == Some(ProxyMode::Ipvs) {
        text.push_str("# kube-proxy mode: ipvs\n");
        for module in IPVS_MODULES {
            let _ = writeln!(text, "{module}");
        }
    }
    text
}

/// `/etc/crictl.yaml`: crictl talks to the socket the kubelet dials.
fn crictl(host: &Host) -> String {
    let endpoint = &host.kubelet.container_runtime_endpoint;
    format!("runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\n")
}

/// The drop-in that shadows the kubeadm package's: comments only, so the unit stays as
/// `/etc/systemd/system/kubelet.service` defines it.
fn kubeadm_drop_in() -> String {
    "# Written by kcompile. Shadows the kubeadm package's drop-in of the same name\n\
     # (/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf), which resets ExecStart and\n\
     # would drop --node-ip, --hostname-override and --node-labels: kcompile's kubelet.service\n\
     # carries the whole command line. Intentionally empty.\n"
        .to_owned()
}
