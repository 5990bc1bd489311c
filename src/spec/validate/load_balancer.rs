//! `controlPlaneEndpoint` and `loadBalancer`: where clients reach the apiservers and what keeps that address up.

use std::net::IpAddr;

use super::hosts::Placed;
use super::{Checker, image_problem};
use crate::cluster::{Endpoint, EndpointHost, LoadBalancer, Networking, Resources};
use crate::spec::LoadBalancerKind;
use crate::spec::names::parse_san;
use crate::spec::types::{ResourcesSpec, Role, Spec};
use crate::versions::images::{LoadBalancerImage, PUBLIC_REPOSITORY};

impl Checker<'_> {
    pub(super) fn endpoint(
        &mut self,
        spec: &Spec,
        hosts: Option<&[Placed]>,
        networking: Option<&Networking>,
    ) -> Option<Option<Endpoint>> {
        let control_planes = hosts
            .into_iter()
            .flatten()
            .filter(|host| host.has(Role::ControlPlane))
            .count();
        let Some(endpoint) = &spec.control_plane_endpoint else {
            if control_planes > 1 {
                self.error(
                    "hosts",
                    format!("{control_planes} control-plane hosts but no `controlPlaneEndpoint`"),
                    "set `controlPlaneEndpoint` to a VIP or DNS name that balances across the apiservers; kubelets and admins need one address that survives a host",
                );
                return None;
            }
            return Some(None);
        };
        let text = self.required(endpoint.host.as_ref(), "controlPlaneEndpoint.host")?;
        let port = endpoint.port.unwrap_or(6443);
        if port == 0 {
            self.error(
                "controlPlaneEndpoint.port",
                "port 0 is not a port",
                "the apiservers listen on 6443 by default",
            );
            return None;
        }
        let host = match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_loopback() || ip.is_unspecified() => {
                self.error(
                    "controlPlaneEndpoint.host",
                    format!("control-plane endpoint {ip} is not reachable from other hosts"),
                    "kubelets and kube-proxy on every host dial this address; use a VIP, a DNS name or a control-plane host's address",
                );
                return None;
            }
            Ok(ip) => {
                if let Some(net) = networking
                    && let Some(range) = net
                        .service_subnets
                        .iter()
                        .chain(&net.pod_subnets)
                        .find(|range| range.contains(&ip))
                {
                    self.error(
                        "controlPlaneEndpoint.host",
                        format!("control-plane endpoint {ip} is inside the cluster range {range}"),
                        "the endpoint must be reachable from hosts before the cluster network exists",
                    );
                    return None;
                }
                if control_planes > 1
                    && hosts
                        .into_iter()
                        .flatten()
                        .any(|host| host.has(Role::ControlPlane) && host.address == ip)
                {
                    self.warn(
                        "controlPlaneEndpoint.host",
                        format!("the endpoint {ip} is one control-plane host's own address"),
                        "if that host goes down, kubelets and admins lose the apiserver; use a VIP or a DNS name",
                    );
                }
                EndpointHost::Ip(ip)
            }
            Err(_) => match parse_san(text) {
                Ok(_) if !text.contains('*') => EndpointHost::Dns(text.clone()),
                Ok(_) => {
                    self.error(
                        "controlPlaneEndpoint.host",
                        "an endpoint cannot be a wildcard",
                        "write one DNS name or IP",
                    );
                    return None;
                }
                Err((message, hint)) => {
                    let message = message.replacen("SAN", "endpoint", 1);
                    let hint = if text.contains("://") {
                        "write the host alone, without a scheme: `api.example.com`".to_owned()
                    } else if text.contains(':') {
                        "put the port under `controlPlaneEndpoint.port`".to_owned()
                    } else {
                        hint
                    };
                    self.error("controlPlaneEndpoint.host", message, hint);
                    return None;
                }
            },
        };
        Some(Some(Endpoint { host, port }))
    }

    pub(super) fn load_balancer(
        &mut self,
        spec: &Spec,
        hosts: Option<&[Placed]>,
        endpoint: Option<&Option<Endpoint>>,
        api_port: Option<u16>,
        repository: Option<&str>,
    ) -> Option<Option<LoadBalancer>> {
        let Some(lb) = spec
            .load_balancer
            .as_ref()
            .filter(|lb| lb.names_a_load_balancer())
        else {
            return Some(None);
        };
        let kind = *self.required(lb.kind.as_ref(), "loadBalancer.kind")?;
        let interface = lb.interface.clone().unwrap_or_default();
        let vip = kind != LoadBalancerKind::LocalProxy;
        if vip {
            match endpoint {
                Some(Some(Endpoint {
                    host: EndpointHost::Ip(ip),
                    port,
                })) => {
                    if hosts.into_iter().flatten().any(|host| host.address == *ip) {
                        self.error(
                            "controlPlaneEndpoint.host",
                            format!("the VIP {ip} is a host's own address"),
                            "the load balancer moves the VIP between control-plane hosts; pick a free address in their subnet",
                        );
                    }
                    if kind == LoadBalancerKind::KeepalivedHaproxy && Some(*port) == api_port {
                        self.error(
                            "controlPlaneEndpoint.port",
                            format!("haproxy and the apiserver would both listen on port {port}"),
                            "haproxy runs on the control-plane hosts: give the endpoint another port, e.g. 8443 (the Kubernetes HA guide's choice)",
                        );
                    }
                    if kind == LoadBalancerKind::KubeVip && Some(*port) != api_port {
                        self.error(
                            "controlPlaneEndpoint.port",
                            format!("kube-vip forwards nothing: clients reach the apiserver's own port {}, not {port}", api_port.unwrap_or(6443)),
                            "set `controlPlaneEndpoint.port` to `apiServer.bindPort`",
                        );
                    }
                }
                Some(Some(_)) => self.error(
                    "controlPlaneEndpoint.host",
                    "a VIP load balancer needs an IP address as the control-plane endpoint",
                    "set `controlPlaneEndpoint.host` to the virtual IP",
                ),
                Some(None) => self.error(
                    "loadBalancer",
                    "a VIP load balancer needs `controlPlaneEndpoint`",
                    "set `controlPlaneEndpoint.host` to the virtual IP and its port",
                ),
                None => {}
            }
            if interface.is_empty() {
                self.error(
                    "loadBalancer",
                    "`loadBalancer.interface` is not set",
                    "name the network interface that holds the VIP on the control-plane hosts, e.g. `eth0`",
                );
            } else if interface.len() > 15 || interface.contains(['/', ' ']) {
                self.error(
                    "loadBalancer.interface",
                    format!("`{interface}` is not a network interface name"),
                    "e.g. `eth0`, `ens18`",
                );
            }
        }
        let virtual_router_id = lb.virtual_router_id.unwrap_or(51);
        if virtual_router_id == 0 {
            self.error(
                "loadBalancer.virtualRouterId",
                "virtual router id 0 is reserved",
                "use 1-255, unique on the network segment",
            );
        }
        let local_port = lb.local_port.unwrap_or(6443);
        if local_port == 0 {
            self.error(
                "loadBalancer.localPort",
                "port 0 is not a port",
                "the default is 6443",
            );
        }
        // Defaults follow `imageRepository` (crate::images documents the mapping); an image the
        // spec names outside a mirror is used as written, with a warning.
        let repository = repository.unwrap_or(PUBLIC_REPOSITORY);
        let mut image = |which: LoadBalancerImage, value: &Option<String>| match value {
            Some(image) => {
                let path = format!("loadBalancer.{}", which.spec_field());
                if let Some(problem) = image_problem(image) {
                    self.error(
                        &path,
                        format!("image `{image}` {problem}"),
                        "write a full image reference",
                    );
                } else if repository != PUBLIC_REPOSITORY
                    && !image.starts_with(&format!("{repository}/"))
                {
                    self.warn(
                        &path,
                        format!("image `{image}` is not under imageRepository `{repository}`"),
                        format!(
                            "hosts that pull only from the mirror cannot pull it; copy it there \
                             or drop the field to run `{}`",
                            which.default_under(repository)
                        ),
                    );
                }
                image.clone()
            }
            None => which.default_under(repository),
        };
        let haproxy_image = image(LoadBalancerImage::Haproxy, &lb.haproxy_image);
        let keepalived_image = image(LoadBalancerImage::Keepalived, &lb.keepalived_image);
        let kube_vip_image = image(LoadBalancerImage::KubeVip, &lb.kube_vip_image);
        let mut resources = |field: &str, spec: Option<&ResourcesSpec>| {
            let mut resources = Resources::default();
            self.resources(spec, &format!("loadBalancer.{field}"), &mut resources);
            resources
        };
        let haproxy_resources = resources("haproxyResources", lb.haproxy_resources.as_ref());
        let keepalived_resources =
            resources("keepalivedResources", lb.keepalived_resources.as_ref());
        let kube_vip_resources = resources("kubeVipResources", lb.kube_vip_resources.as_ref());
        Some(Some(LoadBalancer {
            kind,
            interface,
            virtual_router_id,
            local_port,
            haproxy_image,
            keepalived_image,
            kube_vip_image,
            haproxy_resources,
            keepalived_resources,
            kube_vip_resources,
        }))
    }
}
