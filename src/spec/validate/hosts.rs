//! `hosts`: names, addresses, roles, labels and taints of each machine.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::Checker;
use crate::cluster::{Networking, Taint};
use crate::spec::names::{dns_subdomain_problem, is_label_value, is_qualified_name};
use crate::spec::source::{child, element};
use crate::spec::types::{Role, Spec};

/// A host as the `hosts` section places it: who it is, where, and what it runs. The endpoint,
/// load-balancer and etcd checks need only this; `components.rs` makes each whole
/// [`crate::cluster::Host`] from it once the versions are known.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    /// The host's name.
    pub(super) name: String,
    /// Its address.
    pub(super) address: IpAddr,
    /// Its roles.
    pub(super) roles: BTreeSet<Role>,
    /// Its node labels.
    pub(super) labels: BTreeMap<String, String>,
    /// Its node taints.
    pub(super) taints: Vec<Taint>,
}

impl Placed {
    /// Whether the host has `role`.
    pub(super) fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

impl Checker<'_> {
    /// The hosts as placed, before their component settings, which need the versions.
    pub(super) fn hosts(
        &mut self,
        spec: &Spec,
        networking: Option<&Networking>,
    ) -> Option<Vec<Placed>> {
        let Some(specs) = spec.hosts.as_ref().filter(|hosts| !hosts.is_empty()) else {
            self.error(
                "hosts",
                "the cluster has no hosts",
                "list the machines under `hosts:`, each with a name, an address and roles",
            );
            return None;
        };
        let mut hosts = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut addresses: BTreeMap<IpAddr, usize> = BTreeMap::new();
        let mut ok = true;
        for (index, host) in specs.iter().enumerate() {
            let path = element("hosts", index);
            let name = host.name.clone();
            let address = host.address.clone();
            let name = match name {
                None => {
                    self.error(
                        &path,
                        "host has no `name`",
                        "give each host its node name, e.g. `name: master01`",
                    );
                    None
                }
                Some(name) => {
                    let at = child(&path, "name");
                    if let Some(problem) = dns_subdomain_problem(&name) {
                        self.error(
                            &at,
                            format!("host name `{name}` {problem}"),
                            "node names are DNS-1123 subdomains: lower-case letters, digits, `-` and `.`",
                        );
                        None
                    } else if let Some(first) = names.insert(name.clone(), index) {
                        self.error(
                            &at,
                            format!("host name `{name}` is used twice"),
                            format!("hosts[{first}] already has it; node names must be unique"),
                        );
                        None
                    } else {
                        Some(name)
                    }
                }
            };
            let address = match address {
                None => {
                    self.error(
                        &path,
                        "host has no `address`",
                        "give each host its IP address, e.g. `address: 192.168.10.11`",
                    );
                    None
                }
                Some(text) => self.host_address(
                    &text,
                    &child(&path, "address"),
                    index,
                    &mut addresses,
                    networking,
                ),
            };
            let roles: Vec<Role> = host.roles.clone().unwrap_or_default();
            if roles.is_empty() {
                self.error(
                    &child(&path, "roles"),
                    "host has no roles",
                    "give it at least one of `control-plane`, `etcd`, `worker`",
                );
                ok = false;
            }
            let role_set: BTreeSet<Role> = roles.iter().copied().collect();
            if role_set.len() < roles.len() {
                self.warn(
                    &child(&path, "roles"),
                    "a role is listed twice",
                    "remove the duplicate",
                );
            }
            let labels = self.labels(host.labels.as_ref(), &child(&path, "labels"));
            let taints = self.taints(host, &path);
            match (name, address, labels, taints) {
                (Some(name), Some(address), Some(labels), Some(taints)) => hosts.push(Placed {
                    name,
                    address,
                    roles: role_set,
                    labels,
                    taints,
                }),
                _ => ok = false,
            }
        }
        if ok && !hosts.iter().any(|host| host.has(Role::ControlPlane)) {
            self.error(
                "hosts",
                "no host has the `control-plane` role",
                "a cluster needs at least one host with `roles: [control-plane, etcd]`",
            );
            return None;
        }
        ok.then_some(hosts)
    }

    pub(super) fn host_address(
        &mut self,
        text: &str,
        at: &str,
        index: usize,
        seen: &mut BTreeMap<IpAddr, usize>,
        networking: Option<&Networking>,
    ) -> Option<IpAddr> {
        let Ok(address) = text.parse::<IpAddr>() else {
            let hint = if text.contains('/') {
                format!(
                    "write the address without a prefix length: `{}`",
                    text.split('/').next().unwrap_or(text)
                )
            } else {
                "write the host's IPv4 address, e.g. `192.168.10.11`".into()
            };
            self.error(at, format!("`{text}` is not an IP address"), hint);
            return None;
        };
        let broadcast = matches!(address, IpAddr::V4(v4) if v4.is_broadcast());
        if address.is_unspecified() || address.is_loopback() || address.is_multicast() || broadcast
        {
            self.error(
                at,
                format!("{address} cannot be a host address"),
                "use the address other hosts reach this one on",
            );
            return None;
        }
        if address.is_ipv6() {
            self.error(
                at,
                format!("{address} is IPv6; kcompile compiles IPv4 clusters for now"),
                "use the host's IPv4 address",
            );
            return None;
        }
        if let Some(first) = seen.insert(address, index) {
            self.error(
                at,
                format!("address {address} is used twice"),
                format!("hosts[{first}] already has it; every host needs its own address"),
            );
            return None;
        }
        if let Some(net) = networking {
            for (kind, subnet) in [("service", &net.service_subnets), ("pod", &net.pod_subnets)] {
                if let Some(range) = subnet.iter().find(|range| range.contains(&address)) {
                    self.error(
                        at,
                        format!("host address {address} is inside the {kind} subnet {range}"),
                        "host, service and pod ranges must not overlap, or traffic to the host is routed into the cluster",
                    );
                    return None;
                }
            }
        }
        Some(address)
    }

    pub(super) fn labels(
        &mut self,
        labels: Option<&BTreeMap<String, String>>,
        path: &str,
    ) -> Option<BTreeMap<String, String>> {
        let labels = labels.cloned().unwrap_or_default();
        let mut ok = true;
        for (key, value) in &labels {
            let at = child(path, key);
            if !is_qualified_name(key) {
                self.error_at_key(
                    &at,
                    format!("`{key}` is not a valid label key"),
                    "a key is `[prefix/]name`: a DNS prefix and a name of up to 63 letters, digits, `-`, `_`, `.`",
                );
                ok = false;
            } else if let Some(hint) = restricted_node_label(key) {
                self.error_at_key(
                    &at,
                    format!("the kubelet may not set label `{key}` on its own node"),
                    hint,
                );
                ok = false;
            }
            if !is_label_value(value) {
                self.error(
                    &at,
                    format!("`{value}` is not a valid label value"),
                    "up to 63 letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit",
                );
                ok = false;
            }
        }
        ok.then_some(labels)
    }

    pub(super) fn taints(
        &mut self,
        host: &crate::spec::types::HostSpec,
        path: &str,
    ) -> Option<Vec<Taint>> {
        let mut taints = Vec::new();
        let mut ok = true;
        for (index, taint) in host.taints.iter().flatten().enumerate() {
            let at = element(&child(path, "taints"), index);
            let key = taint.key.clone().unwrap_or_default();
            if !is_qualified_name(&key) {
                self.error(
                    &at,
                    format!("`{key}` is not a valid taint key"),
                    "e.g. `dedicated` or `example.com/gpu`",
                );
                ok = false;
            }
            let value = taint.value.clone().unwrap_or_default();
            if !is_label_value(&value) {
                self.error(
                    &child(&at, "value"),
                    format!("`{value}` is not a valid taint value"),
                    "up to 63 letters, digits, `-`, `_`, `.`",
                );
                ok = false;
            }
            if let Some(effect) = taint.effect {
                taints.push(Taint { key, value, effect });
            } else {
                self.error(
                    &at,
                    "taint has no `effect`",
                    "`NoSchedule`, `PreferNoSchedule` or `NoExecute`",
                );
                ok = false;
            }
        }
        ok.then_some(taints)
    }
}

/// Labels under `kubernetes.io` / `k8s.io` that the `NodeRestriction` admission plugin refuses to
/// let a kubelet set on itself (the kubelet then fails to start).
pub(super) fn restricted_node_label(key: &str) -> Option<String> {
    let (prefix, _) = key.rsplit_once('/')?;
    let restricted_domain = ["kubernetes.io", "k8s.io"]
        .iter()
        .any(|domain| prefix == *domain || prefix.ends_with(&format!(".{domain}")));
    let allowed_prefix = ["kubelet.kubernetes.io", "node.kubernetes.io"]
        .iter()
        .any(|allowed| prefix == *allowed || prefix.ends_with(&format!(".{allowed}")));
    let allowed_key = matches!(
        key,
        "kubernetes.io/hostname"
            | "kubernetes.io/arch"
            | "kubernetes.io/os"
            | "beta.kubernetes.io/instance-type"
            | "beta.kubernetes.io/arch"
            | "beta.kubernetes.io/os"
            | "failure-domain.beta.kubernetes.io/region"
            | "failure-domain.beta.kubernetes.io/zone"
            | "topology.kubernetes.io/region"
            | "topology.kubernetes.io/zone"
    );
    (restricted_domain && !allowed_prefix && !allowed_key).then(|| {
        if prefix == "node-role.kubernetes.io" {
            "the kubelet refuses to start with it (NodeRestriction); apply role labels with `kubectl label node` after the node joins".to_owned()
        } else {
            "NodeRestriction allows only `kubelet.kubernetes.io/`, `node.kubernetes.io/` and a few well-known `kubernetes.io` labels; use your own prefix".to_owned()
        }
    })
}
