//! The `node` section: the container runtime kcompile configures on every host, registry mirrors
//! and the hosts' CA trust layout, checked and resolved to [`Node`]. The runtime must serve the
//! socket the kubelets dial, so an endpoint elsewhere is refused here rather than found on a host
//! whose kubelet cannot reach its runtime.

use std::collections::BTreeMap;

use super::source::{child, element};
use super::types::{CaTrust, ContainerRuntime, Spec};
use crate::cluster::{HostNode, Node};

/// The socket containerd serves by default (`defaults.DefaultAddress`), as a CRI endpoint.
pub const CONTAINERD_ENDPOINT: &str = "unix:///run/containerd/containerd.sock";

/// The same socket through `/var/run`, a link to `/run` on every systemd distribution.
const CONTAINERD_ENDPOINT_VAR_RUN: &str = "unix:///var/run/containerd/containerd.sock";

/// One thing wrong with the `node` section, at a spec path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProblem {
    /// The spec path of the value.
    pub path: String,
    /// Whether the problem is the key itself (a registry name) rather than its value.
    pub on_key: bool,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// The `node` section resolved, or every problem with it.
pub fn settings(spec: &Spec) -> Result<Node, Vec<NodeProblem>> {
    let node = spec.node.clone().unwrap_or_default();
    let container_runtime = node
        .container_runtime
        .unwrap_or(ContainerRuntime::Containerd2);
    let ca_trust = node.ca_trust.unwrap_or(CaTrust::Debian);
    let mut hosts = BTreeMap::new();
    for host in spec.hosts.iter().flatten() {
        if let (Some(name), Some(own)) = (&host.name, &host.node) {
            let settings = HostNode {
                container_runtime: own.container_runtime.unwrap_or(container_runtime),
                ca_trust: own.ca_trust.unwrap_or(ca_trust),
            };
            hosts.insert(name.clone(), settings);
        }
    }
    let mut problems = Vec::new();
    endpoint_problems(spec, container_runtime, &mut problems);
    let registry_mirrors = node.registry_mirrors.unwrap_or_default();
    for (registry, mirrors) in &registry_mirrors {
        let path = child("node.registryMirrors", registry);
        if let Some(problem) = registry_problem(registry) {
            problems.push(NodeProblem {
                path: path.clone(),
                on_key: true,
                message: format!("registry `{registry}` {problem}"),
                hint: "name the registry as images do, `host[:port]` (`docker.io`, `registry.k8s.io`, `harbor.example.com:5000`), or `_default` for every registry".into(),
            });
        }
        if mirrors.is_empty() {
            problems.push(NodeProblem {
                path: path.clone(),
                on_key: true,
                message: format!("registry `{registry}` has no mirrors"),
                hint: "list at least one mirror URL, or remove the registry".into(),
            });
        }
        for (index, mirror) in mirrors.iter().enumerate() {
            if let Some(problem) = mirror_problem(mirror) {
                problems.push(NodeProblem {
                    path: element(&path, index),
                    on_key: false,
                    message: format!("mirror `{mirror}` {problem}"),
                    hint: "write the mirror's URL, `https://host[:port][/path]`".into(),
                });
            }
        }
    }
    let every_host_unmanaged = spec.hosts.iter().flatten().all(|host| {
        let own = host.node.as_ref().and_then(|own| own.container_runtime);
        own.unwrap_or(container_runtime) == ContainerRuntime::None
    });
    if every_host_unmanaged && !registry_mirrors.is_empty() {
        problems.push(NodeProblem {
            path: "node.registryMirrors".into(),
            on_key: true,
            message: "registry mirrors are set but no host's `containerRuntime` is a containerd"
                .into(),
            hint: "kcompile writes mirrors into containerd's configuration: choose `containerd-2` or `containerd-1`, or configure the mirrors where the runtime is managed".into(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Node {
        container_runtime,
        registry_mirrors,
        ca_trust,
        hosts,
    })
}

/// Every kubelet endpoint that a host whose runtime kcompile configures would dial, and that is
/// not containerd's socket: a host's own endpoint (`hosts[].overrides.kubelet`) where it sets
/// one, else the cluster's (reported once).
fn endpoint_problems(spec: &Spec, cluster: ContainerRuntime, problems: &mut Vec<NodeProblem>) {
    let cluster_endpoint = spec
        .kubelet
        .as_ref()
        .and_then(|kubelet| kubelet.container_runtime_endpoint.as_ref());
    let mut reported: BTreeMap<String, &String> = BTreeMap::new();
    let hosts: Vec<_> = spec.hosts.iter().flatten().collect();
    if hosts.is_empty()
        && cluster != ContainerRuntime::None
        && let Some(endpoint) = cluster_endpoint
    {
        reported.insert("kubelet.containerRuntimeEndpoint".into(), endpoint);
    }
    for (index, host) in hosts.into_iter().enumerate() {
        let own_runtime = host.node.as_ref().and_then(|own| own.container_runtime);
        if own_runtime.unwrap_or(cluster) == ContainerRuntime::None {
            continue;
        }
        let own_endpoint = host
            .overrides
            .as_ref()
            .and_then(|overrides| overrides.kubelet.as_ref())
            .and_then(|kubelet| kubelet.container_runtime_endpoint.as_ref());
        match (own_endpoint, cluster_endpoint) {
            (Some(endpoint), _) => {
                let path = child(
                    &child(&child(&element("hosts", index), "overrides"), "kubelet"),
                    "containerRuntimeEndpoint",
                );
                reported.insert(path, endpoint);
            }
            (None, Some(endpoint)) => {
                reported.insert("kubelet.containerRuntimeEndpoint".into(), endpoint);
            }
            (None, None) => {}
        }
    }
    for (path, endpoint) in reported {
        if endpoint != CONTAINERD_ENDPOINT && endpoint != CONTAINERD_ENDPOINT_VAR_RUN {
            problems.push(NodeProblem {
                path,
                on_key: false,
                message: format!(
                    "the kubelet dials `{endpoint}`, but kcompile configures containerd, which serves `{CONTAINERD_ENDPOINT}`"
                ),
                hint: format!(
                    "use `{CONTAINERD_ENDPOINT}`, or set `containerRuntime: none` (in `node`, or in the host's `node`) where another runtime (CRI-O) is managed elsewhere"
                ),
            });
        }
    }
}

/// Why `registry` is not a registry host as an image reference names it.
fn registry_problem(registry: &str) -> Option<&'static str> {
    if registry == "_default" {
        return None;
    }
    if registry.contains("://") {
        return Some("is a URL, not a registry name");
    }
    if registry.is_empty() || registry.contains(['/', '\\', ' ']) || registry.starts_with('.') {
        return Some("is not a registry host name");
    }
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    if port.is_some_and(|port| !matches!(port.parse::<u16>(), Ok(number) if number != 0)) {
        return Some("has a port that is not a port number");
    }
    if host.is_empty() || host.split('.').any(str::is_empty) {
        return Some("is not a registry host name");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if !host.chars().all(allowed) {
        return Some("is not a registry host name");
    }
    None
}

/// Why `mirror` is not an http(s) URL containerd can use as a registry host.
fn mirror_problem(mirror: &str) -> Option<&'static str> {
    let Some(rest) = mirror
        .strip_prefix("https://")
        .or_else(|| mirror.strip_prefix("http://"))
    else {
        return Some("is not an http:// or https:// URL");
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || registry_problem(host).is_some() {
        return Some("has no valid host");
    }
    if mirror.contains(['"', '\'', '\\', ' ', '[', ']']) {
        return Some("holds a quote, a bracket, a backslash or a space");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{mirror_problem, registry_problem};

    #[test]
    fn registries_are_host_names_with_an_optional_port() {
        for good in [
            "docker.io",
            "registry.k8s.io",
            "harbor.example.com:5000",
            "_default",
        ] {
            assert_eq!(registry_problem(good), None, "{good}");
        }
        assert_eq!(
            registry_problem("https://docker.io"),
            Some("is a URL, not a registry name")
        );
        assert_eq!(
            registry_problem("docker.io/library"),
            Some("is not a registry host name")
        );
        assert_eq!(
            registry_problem("harbor:0"),
            Some("has a port that is not a port number")
        );
    }

    #[test]
    fn mirrors_are_http_urls() {
        assert_eq!(mirror_problem("https://mirror.example.com/v2"), None);
        assert_eq!(mirror_problem("http://10.0.0.5:5000"), None);
        assert_eq!(
            mirror_problem("mirror.example.com"),
            Some("is not an http:// or https:// URL")
        );
        assert_eq!(mirror_problem("https://"), Some("has no valid host"));
    }
}
