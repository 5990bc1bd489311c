//! The machine as the host: its name, its address, and the resolver its pods will get.

use std::net::{IpAddr, Ipv6Addr};

use super::{Bundle, Check, Finding, Machine};

/// The kubelet's default `resolvConf`.
const DEFAULT_RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's full resolver list (not the 127.0.0.53 stub).
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// The machine's host name (`/etc/hostname`, else `/proc/sys/kernel/hostname`) should be the
/// host's: the kubelet registers the node as the host's name (`--hostname-override`) either way,
/// but logs, tools and kubeadm's `HostnameCheck` go by the machine's.
pub fn hostname(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let mut found = None;
    for path in ["etc/hostname", "proc/sys/kernel/hostname"] {
        match machine.text(path) {
            Ok(Some(text)) => {
                let name = text
                    .lines()
                    .map(str::trim)
                    .find(|line| !line.is_empty() && !line.starts_with('#'))
                    .unwrap_or_default()
                    .to_owned();
                if !name.is_empty() {
                    found = Some((name, path));
                    break;
                }
            }
            Ok(None) => {}
            Err(error) => return vec![Finding::unreadable(Check::Hostname, &error)],
        }
    }
    let expected = &bundle.host.name;
    match found {
        None => vec![Finding::warning(
            Check::Hostname,
            "not checked: neither /etc/hostname nor /proc/sys/kernel/hostname names the machine",
            format!("`hostnamectl set-hostname {expected}`"),
        )],
        Some((name, path)) if name == *expected => vec![Finding::ok(
            Check::Hostname,
            format!("the machine is `{name}` (/{path})"),
        )],
        Some((name, path)) => vec![Finding::warning(
            Check::Hostname,
            format!(
                "the machine is `{name}` (/{path}), the host `{expected}`: the node registers \
                 as `{expected}` (--hostname-override), tools on the machine see `{name}`"
            ),
            format!(
                "`hostnamectl set-hostname {expected}`, or check that this is the right machine"
            ),
        )],
    }
}

/// The host's address must be on one of the machine's interfaces: etcd and the apiserver bind
/// it, the kubelet registers it (`--node-ip`). IPv4 from the kernel's local routes
/// (`/proc/net/fib_trie`), IPv6 from `/proc/net/if_inet6`, also on `/`.
pub fn address(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let address = bundle.host.address;
    let (path, local) = match address {
        IpAddr::V4(_) => (
            "proc/net/fib_trie",
            machine
                .text("proc/net/fib_trie")
                .map(|text| text.map(|text| local_ipv4(&text).contains(&address))),
        ),
        IpAddr::V6(_) => (
            "proc/net/if_inet6",
            machine
                .text("proc/net/if_inet6")
                .map(|text| text.map(|text| local_ipv6(&text).contains(&address))),
        ),
    };
    match local {
        Ok(Some(true)) => vec![Finding::ok(
            Check::Address,
            format!("{address} is on an interface (/{path})"),
        )],
        Ok(Some(false)) => vec![Finding::error(
            Check::Address,
            format!(
                "the host's address {address} is on no interface of this machine (/{path}): \
                 its components bind it and the node registers it"
            ),
            "add the address to an interface, or check that this is the right machine and \
             the spec's `hosts[].address`",
        )],
        Ok(None) => vec![Finding::warning(
            Check::Address,
            format!("not checked: /{path} is absent (no /proc under the root?)"),
            format!("check `ip addr` on the machine for {address}"),
        )],
        Err(error) => vec![Finding::unreadable(Check::Address, &error)],
    }
}

/// The local IPv4 addresses of a `/proc/net/fib_trie`: each `|-- A` leaf followed by a
/// `/32 host LOCAL` line.
fn local_ipv4(text: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    let mut last = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(leaf) = line.strip_prefix("|-- ") {
            last = leaf.trim().parse::<IpAddr>().ok();
        } else if line.starts_with("/32 host LOCAL") {
            found.extend(last);
        }
    }
    found
}

/// The addresses of a `/proc/net/if_inet6`: 32 hex digits first on each line.
fn local_ipv6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let hex = line.split_whitespace().next()?;
            let bits = u128::from_str_radix(hex, 16).ok()?;
            (hex.len() == 32).then(|| IpAddr::V6(Ipv6Addr::from(bits)))
        })
        .collect()
}

/// Pods get the kubelet's `resolvConf` (default `/etc/resolv.conf`). A loopback nameserver
/// there (systemd-resolved's stub, 127.0.0.53) is unreachable from a pod, and CoreDNS, which
/// forwards to it, loops; kubeadm points the kubelet at `/run/systemd/resolve/resolv.conf`
/// when it finds systemd-resolved.
pub fn resolv_conf(machine: &Machine, bundle: &Bundle<'_>) -> Vec<Finding> {
    let configured = bundle
        .kubelet("resolvConf")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(DEFAULT_RESOLV_CONF)
        .to_owned();
    if configured.is_empty() {
        return vec![Finding::ok(
            Check::ResolvConf,
            "the kubelet gives pods no host resolver (resolvConf is empty)",
        )];
    }
    let path = configured.trim_start_matches('/');
    let hint =
        format!("set the kubelet's resolvConf to {RESOLVED_UPSTREAM} (kubelet.config.resolvConf)");
    let text = match machine.text(path) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return vec![Finding::error(
                Check::ResolvConf,
                format!("{configured} (the kubelet's resolvConf) does not exist"),
                "create it, or set the kubelet's resolvConf to the machine's resolver file",
            )];
        }
        Err(error) if error.is_link() => {
            // A prepared root may hold /etc/resolv.conf as a link to a file it lacks: the
            // link's own target still tells systemd-resolved's stub.
            return match machine.root.read_link(path) {
                Ok(Some(target)) if target.ends_with("stub-resolv.conf") => {
                    vec![Finding::error(
                        Check::ResolvConf,
                        format!(
                            "{configured} (the kubelet's resolvConf) is systemd-resolved's stub \
                             (→ {target}, nameserver 127.0.0.53): pods cannot reach it and \
                             CoreDNS loops"
                        ),
                        hint,
                    )]
                }
                _ => vec![Finding::unreadable(Check::ResolvConf, &error)],
            };
        }
        Err(error) => return vec![Finding::unreadable(Check::ResolvConf, &error)],
    };
    let loopback: Vec<IpAddr> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|address| address.parse::<IpAddr>().ok())
        .filter(IpAddr::is_loopback)
        .collect();
    match loopback.first() {
        None => vec![Finding::ok(
            Check::ResolvConf,
            format!("{configured} (the kubelet's resolvConf) has no loopback nameserver"),
        )],
        Some(address) => {
            let whose = if address.to_string() == "127.0.0.53" {
                ", systemd-resolved's stub"
            } else {
                ""
            };
            vec![Finding::error(
                Check::ResolvConf,
                format!(
                    "{configured} (the kubelet's resolvConf) names nameserver {address}{whose}: \
                     pods cannot reach a loopback resolver and CoreDNS loops"
                ),
                hint,
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses_come_from_the_kernel_tables() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.11\n        /32 host LOCAL\n     |-- 10.0.0.255\n        /32 link BROADCAST\n";
        assert_eq!(
            local_ipv4(trie),
            vec!["10.0.0.11".parse::<IpAddr>().unwrap()]
        );
        let inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n";
        assert_eq!(local_ipv6(inet6), vec!["::1".parse::<IpAddr>().unwrap()]);
    }
}
