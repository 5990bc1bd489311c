//! `networking`: the service and pod subnets, the DNS domain and the cluster DNS address.

use std::net::IpAddr;

use ipnet::IpNet;

use super::Checker;
use crate::cluster::Networking;
use crate::spec::names::dns_subdomain_problem;
use crate::spec::types::Spec;

impl Checker<'_> {
    pub(super) fn networking(&mut self, spec: &Spec) -> Option<Networking> {
        let net = spec.networking.clone().unwrap_or_default();
        let service = self.subnets(net.service_subnet.as_ref(), "networking.serviceSubnet");
        let pod = self.subnets(net.pod_subnet.as_ref(), "networking.podSubnet");
        let domain = self
            .required(net.dns_domain.as_ref(), "networking.dnsDomain")
            .cloned();
        if let Some(domain) = &domain
            && let Some(problem) = dns_subdomain_problem(domain)
        {
            let hint = if domain.ends_with('.') {
                format!(
                    "write `{}`; a trailing dot ends up in SANs such as `kubernetes.default.svc.{domain}`, which Go's x509 rejects",
                    domain.trim_end_matches('.')
                )
            } else {
                "write a DNS name such as `cluster.local`".into()
            };
            self.error(
                "networking.dnsDomain",
                format!("DNS domain `{domain}` {problem}"),
                hint,
            );
        }
        let (service, pod) = (service?, pod?);
        if let Some(service_net) = service.first() {
            if service_net.prefix_len() < 12 {
                self.error(
                    "networking.serviceSubnet",
                    format!("service subnet {service_net} is larger than /12"),
                    "kube-apiserver refuses IPv4 service ranges larger than /12 (2^20 addresses)",
                );
            }
            if service_net.prefix_len() > 28 {
                self.error(
                    "networking.serviceSubnet",
                    format!("service subnet {service_net} is too small"),
                    "the cluster DNS IP is its 10th address; use at least a /28",
                );
            }
        }
        if let (Some(service_net), Some(pod_net)) = (service.first(), pod.first()) {
            if service_net.contains(pod_net) || pod_net.contains(service_net) {
                let at =
                    self.written_by_spec(&["networking.podSubnet", "networking.serviceSubnet"]);
                self.error(
                    at,
                    format!("pod subnet {pod_net} overlaps the service subnet {service_net}"),
                    "pods and services need separate ranges, e.g. podSubnet 10.244.0.0/16 with serviceSubnet 10.96.0.0/12",
                );
            }
            if pod_net.prefix_len() > 24 {
                self.error(
                    "networking.podSubnet",
                    format!("pod subnet {pod_net} is smaller than the /24 each node gets"),
                    "the controller-manager hands every node a /24 of the pod subnet; use /16 or larger",
                );
            }
        }
        let service_net = *service.first()?;
        let kubernetes_service_ip = service_net.hosts().next()?;
        let cluster_dns = match net.cluster_dns.as_deref() {
            None => service_net.hosts().nth(9)?,
            Some(text) => match text.parse::<IpAddr>() {
                Ok(ip) if !service_net.contains(&ip) => {
                    self.error(
                        "networking.clusterDNS",
                        format!("cluster DNS IP {ip} is outside the service subnet {service_net}"),
                        "the DNS service gets its ClusterIP from the service subnet; kubeadm uses its 10th address",
                    );
                    return None;
                }
                Ok(ip) if ip == service_net.network() || ip == service_net.broadcast() => {
                    self.error(
                        "networking.clusterDNS",
                        format!("cluster DNS IP {ip} is the network or broadcast address of {service_net}"),
                        format!("the service IP allocator never hands it out; kubeadm uses {}", service_net.hosts().nth(9)?),
                    );
                    return None;
                }
                Ok(ip) if ip == kubernetes_service_ip => {
                    self.error(
                        "networking.clusterDNS",
                        format!("cluster DNS IP {ip} is the `kubernetes` service's IP"),
                        "the first address of the service subnet belongs to the apiserver service; kubeadm uses the 10th",
                    );
                    return None;
                }
                Ok(ip) => ip,
                Err(_) => {
                    self.error(
                        "networking.clusterDNS",
                        format!("`{text}` is not an IP address"),
                        format!("e.g. `{}`", service_net.hosts().nth(9)?),
                    );
                    return None;
                }
            },
        };
        Some(Networking {
            service_subnets: service,
            pod_subnets: pod,
            dns_domain: domain?,
            cluster_dns,
            kubernetes_service_ip,
        })
    }

    pub(super) fn subnets(&mut self, text: Option<&String>, path: &str) -> Option<Vec<IpNet>> {
        let text = self.required(text, path)?;
        let mut nets = Vec::new();
        for part in text.split(',').map(str::trim) {
            let Ok(net) = part.parse::<IpNet>() else {
                let hint = if part.parse::<IpAddr>().is_ok() {
                    format!("add the prefix length, e.g. `{part}/16`")
                } else {
                    "write a CIDR such as `10.96.0.0/12`".to_owned()
                };
                self.error(path, format!("`{part}` is not a CIDR"), hint);
                return None;
            };
            if net.addr() != net.network() {
                self.error(
                    path,
                    format!("{net} has host bits set"),
                    format!("did you mean `{}`?", net.trunc()),
                );
                return None;
            }
            if let IpNet::V6(_) = net {
                self.error(
                    path,
                    format!("{net} is IPv6; kcompile compiles IPv4 clusters for now"),
                    "dual-stack is planned; use an IPv4 range",
                );
                return None;
            }
            nets.push(net);
        }
        if nets.len() > 1 {
            self.error(
                path,
                format!(
                    "`{text}` lists {} ranges; dual-stack is not supported yet",
                    nets.len()
                ),
                "give one IPv4 range",
            );
            return None;
        }
        Some(nets)
    }
}
