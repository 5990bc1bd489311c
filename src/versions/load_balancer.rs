//! The load-balancer images kcompile pins: what runs under the public repository unless the spec
//! names another image (`super::images::LoadBalancerImage` maps them under a mirror).

/// haproxy (`keepalived-haproxy`, `local-proxy`).
pub const HAPROXY: &str = "docker.io/library/haproxy:2.8";

/// keepalived (`keepalived-haproxy`).
pub const KEEPALIVED: &str = "docker.io/osixia/keepalived:2.0.20";

/// kube-vip (`kube-vip`).
pub const KUBE_VIP: &str = "ghcr.io/kube-vip/kube-vip:v0.8.9";
