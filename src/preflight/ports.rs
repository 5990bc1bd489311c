//! The TCP ports the host's components listen on must be free, as kubeadm's `PortOpenCheck`
//! ("Port N is in use"), or held by that very component (a live node being re-checked). Listening
//! sockets come from `/proc/net/tcp` and `/proc/net/tcp6` (state `0A`, LISTEN); a socket's owner
//! from the `socket:[inode]` links under `/proc/PID/fd` and that process's `/proc/PID/comm`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Bundle, Check, Finding, Machine};
use crate::cluster::EtcdTopology;
use crate::cluster::{LoadBalancerKind, Role};
use crate::etcd_membership::{CLIENT_PORT, PEER_PORT};
use crate::render::{etcd, kube_proxy, load_balancer};

/// A port a component of the host listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The TCP port.
    pub port: u16,
    /// The component (`kube-apiserver`).
    pub component: &'static str,
    /// Its process name as `/proc/PID/comm` shows it (at most 15 bytes: `kube-controller`).
    pub comm: &'static str,
}

/// The ports `bundle`'s host will listen on.
pub fn expected(bundle: &Bundle<'_>) -> Vec<Binding> {
    let (cluster, host) = (bundle.cluster, bundle.host);
    let mut bindings = Vec::new();
    let mut bind = |port: Option<u16>, component: &'static str, comm: &'static str| {
        if let Some(port) = port.filter(|port| *port != 0) {
            bindings.push(Binding {
                port,
                component,
                comm,
            });
        }
    };
    let kubelet_port = |field: &str, default: u16| {
        bundle
            .kubelet(field)
            .and_then(Value::as_u64)
            .map_or(Some(default), |port| u16::try_from(port).ok())
    };
    bind(kubelet_port("port", 10250), "kubelet", "kubelet");
    bind(kubelet_port("healthzPort", 10248), "kubelet", "kubelet");
    if let Some(mode) = cluster.kube_proxy {
        let config: Value =
            serde_saphyr::from_str(&kube_proxy::config(cluster, host, mode)).unwrap_or(Value::Null);
        for field in ["healthzBindAddress", "metricsBindAddress"] {
            let port = config
                .get(field)
                .and_then(Value::as_str)
                .and_then(|address| address.rsplit_once(':'))
                .and_then(|(_, port)| port.parse().ok());
            bind(port, "kube-proxy", "kube-proxy");
        }
    }
    if host.has(Role::Etcd) && matches!(cluster.etcd, EtcdTopology::Stacked { .. }) {
        for port in [CLIENT_PORT, PEER_PORT, etcd::METRICS_PORT] {
            bind(Some(port), "etcd", "etcd");
        }
    }
    if host.has(Role::ControlPlane) {
        let secure_port = |args: &BTreeMap<String, String>, default: u16| {
            args.get("secure-port")
                .map_or(Some(default), |port| port.parse().ok())
        };
        bind(
            Some(cluster.api_server_port),
            "kube-apiserver",
            "kube-apiserver",
        );
        bind(
            secure_port(&host.controller_manager.extra_args, 10257),
            "kube-controller-manager",
            "kube-controller",
        );
        bind(
            secure_port(&host.scheduler.extra_args, 10259),
            "kube-scheduler",
            "kube-scheduler",
        );
    }
    if let Some(lb) = &cluster.load_balancer {
        match lb.kind {
            LoadBalancerKind::KeepalivedHaproxy if host.has(Role::ControlPlane) => {
                let port = cluster
                    .control_plane_endpoint
                    .as_ref()
                    .map(|endpoint| endpoint.port);
                bind(port, "haproxy", "haproxy");
            }
            LoadBalancerKind::KubeVip if host.has(Role::ControlPlane) => {
                bind(Some(2112), "kube-vip", "kube-vip");
            }
            LoadBalancerKind::LocalProxy if load_balancer::runs_local_proxy(cluster, host) => {
                bind(Some(lb.local_port), "haproxy", "haproxy");
            }
            _ => {}
        }
    }
    bindings
}

/// A process holding a socket.
struct Owner {
    pid: String,
    comm: String,
}

/// The check.
pub fn check(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let bindings = expected(bundle);
    let mut listening: BTreeMap<u16, BTreeSet<u64>> = BTreeMap::new();
    let mut read_any = false;
    for table in ["proc/net/tcp", "proc/net/tcp6"] {
        match machine.text(table) {
            Ok(Some(text)) => {
                read_any = true;
                for (port, inode) in listeners(&text) {
                    listening.entry(port).or_default().insert(inode);
                }
            }
            Ok(None) => {}
            Err(error) => return vec![Finding::unreadable(Check::Ports, &error)],
        }
    }
    if !read_any {
        return vec![Finding::warning(
            Check::Ports,
            "not checked: neither /proc/net/tcp nor /proc/net/tcp6 is there (no /proc under the root?)",
            "check `ss -ltn` on the machine",
        )];
    }
    let wanted: BTreeSet<u64> = bindings
        .iter()
        .filter_map(|binding| listening.get(&binding.port))
        .flatten()
        .copied()
        .collect();
    let (owners, unreadable) = if wanted.is_empty() {
        (BTreeMap::new(), 0)
    } else {
        owners(machine, &wanted)
    };
    let mut findings = Vec::new();
    let mut fine = Vec::new();
    for binding in &bindings {
        let what = format!("port {} ({})", binding.port, binding.component);
        let Some(inodes) = listening.get(&binding.port) else {
            fine.push(format!("{} ({}) free", binding.port, binding.component));
            continue;
        };
        let holders: Vec<&Owner> = inodes
            .iter()
            .filter_map(|inode| owners.get(inode))
            .collect();
        if let Some(stranger) = holders.iter().find(|owner| owner.comm != binding.comm) {
            findings.push(Finding::error(
                Check::Ports,
                format!(
                    "{what} is in use by `{}` (pid {})",
                    stranger.comm, stranger.pid
                ),
                format!(
                    "stop it or move it: {} must listen on {}",
                    binding.component, binding.port
                ),
            ));
        } else if let Some(own) = holders.first() {
            fine.push(format!(
                "{} held by this host's own {} (pid {})",
                binding.port, binding.component, own.pid
            ));
        } else {
            let why = if unreadable > 0 {
                format!(
                    "; its owner is unknown ({unreadable} processes' /proc/PID/fd could not be read)"
                )
            } else {
                String::new()
            };
            findings.push(Finding::error(
                Check::Ports,
                format!("Port {} is in use ({}){why}", binding.port, binding.component),
                format!(
                    "see who holds it: `ss -ltnp 'sport = :{}'` (preflight as root names the owner)",
                    binding.port
                ),
            ));
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(Check::Ports, fine.join(", ")));
    }
    findings
}

/// `(port, socket inode)` of each listening socket of a `/proc/net/tcp{,6}` table.
pub fn listeners(table: &str) -> Vec<(u16, u64)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?.parse().ok()?;
            let (_, port) = local.rsplit_once(':')?;
            (*state == "0A").then_some(())?;
            Some((u16::from_str_radix(port, 16).ok()?, inode))
        })
        .collect()
}

/// The processes holding the sockets `wanted`, by inode, and how many processes' descriptors
/// could not be read (another user's, without privileges).
fn owners(machine: &Machine, wanted: &BTreeSet<u64>) -> (BTreeMap<u64, Owner>, usize) {
    let mut found = BTreeMap::new();
    let mut unreadable = 0;
    let pids: Vec<String> = machine
        .root
        .names("proc")
        .unwrap_or_default()
        .into_iter()
        .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    for pid in pids {
        let fd_dir = format!("proc/{pid}/fd");
        let Ok(fds) = machine.root.names(&fd_dir) else {
            unreadable += 1;
            continue;
        };
        for fd in fds {
            let Ok(Some(target)) = machine.root.read_link(&format!("{fd_dir}/{fd}")) else {
                continue;
            };
            let inode = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inode| inode.parse::<u64>().ok());
            if let Some(inode) = inode.filter(|inode| wanted.contains(inode)) {
                let comm = machine
                    .text(&format!("proc/{pid}/comm"))
                    .ok()
                    .flatten()
                    .map_or_else(|| "?".to_owned(), |comm| comm.trim().to_owned());
                found.insert(
                    inode,
                    Owner {
                        pid: pid.clone(),
                        comm,
                    },
                );
            }
        }
        if found.len() == wanted.len() {
            break;
        }
    }
    (found, unreadable)
}

#[cfg(test)]
mod tests {
    use super::listeners;

    #[test]
    fn only_listening_sockets_are_taken() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1A0B 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listeners(table), vec![(6443, 4242)]);
    }
}
