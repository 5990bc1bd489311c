//! Names: the SANs of each serving certificate cover every name its clients dial (the apiserver's
//! kubeconfig servers, advertise address, service IP and `kubernetes.default.svc`; etcd's
//! advertised and listened-on client URLs, its advertised peer URLs and its own entry in
//! `--initial-cluster`; the kubelet's node IP).

use std::collections::BTreeMap;

use super::material::{covers, url_host};
use super::{Check, relative};
use crate::component::Component;

/// Which clients dial a host name: host → who, in words.
type Dialed = BTreeMap<String, Vec<String>>;

impl Check<'_> {
    /// The apiserver's serving certificate covers what its clients dial.
    pub(super) fn apiserver_names(&mut self) {
        let Some(api) = self.pod(Component::ApiServer) else {
            return;
        };
        let pod = &api.pod;
        let Some(cert) = pod.flag("tls-cert-file").map(|v| pod.host_path(v)) else {
            return;
        };
        let mut dialed = Dialed::new();
        let mut add = |host: String, who: String| dialed.entry(host).or_default().push(who);
        add(
            "kubernetes.default.svc".into(),
            "in-cluster clients (kubernetes.default.svc)".into(),
        );
        if let Some(address) = pod.flag("advertise-address") {
            add(address.to_owned(), "--advertise-address".into());
        }
        for range in pod
            .flag("service-cluster-ip-range")
            .unwrap_or_default()
            .split(',')
        {
            if let Some(ip) = first_ip(range) {
                add(
                    ip,
                    "pods, through the kubernetes service IP (first of --service-cluster-ip-range)"
                        .into(),
                );
            }
        }
        for (host, file) in self.dialed.clone() {
            let shown = file.rsplit('/').next().unwrap_or(&file).to_owned();
            add(host, shown);
        }
        self.expect_names(
            &cert,
            "the apiserver certificate (--tls-cert-file)",
            &dialed,
        );
    }

    /// etcd's serving certificate covers its advertised client URLs and the local endpoints the
    /// apiserver dials; its peer certificate covers its own peer URLs.
    pub(super) fn etcd_names(&mut self) {
        let Some(etcd) = self.pod(Component::Etcd) else {
            return;
        };
        let pod = &etcd.pod;
        let hosts = |flag: &str| -> Vec<String> {
            pod.flag(flag)
                .unwrap_or_default()
                .split(',')
                .filter_map(url_host)
                .collect()
        };
        if let Some(cert) = pod.flag("cert-file").map(|v| pod.host_path(v)) {
            let mut dialed = Dialed::new();
            let advertised = hosts("advertise-client-urls");
            for host in &advertised {
                dialed
                    .entry(host.clone())
                    .or_default()
                    .push("--advertise-client-urls".into());
            }
            let listened = hosts("listen-client-urls");
            // Clients on the host dial the addresses etcd serves TLS on (`127.0.0.1` for the
            // apiserver and etcdctl); a wildcard address is no name anyone dials, and a plain
            // `http://` listener serves no certificate.
            let served: Vec<String> = pod
                .flag("listen-client-urls")
                .unwrap_or_default()
                .split(',')
                .filter(|url| url.trim().starts_with("https://"))
                .filter_map(url_host)
                .filter(|host| !unspecified(host))
                .collect();
            for host in &served {
                dialed
                    .entry(host.clone())
                    .or_default()
                    .push("a client of --listen-client-urls".into());
            }
            let mut local = listened;
            local.extend(advertised);
            local.extend(["127.0.0.1", "::1", "localhost"].map(str::to_owned));
            if let Some(api) = self.pod(Component::ApiServer) {
                for url in api.pod.flag("etcd-servers").unwrap_or_default().split(',') {
                    if let Some(host) = url_host(url).filter(|h| local.contains(h)) {
                        dialed
                            .entry(host)
                            .or_default()
                            .push("kube-apiserver's --etcd-servers".into());
                    }
                }
            }
            self.expect_names(&cert, "etcd's server certificate (--cert-file)", &dialed);
        }
        let Some(cert) = pod.flag("peer-cert-file").map(|v| pod.host_path(v)) else {
            return;
        };
        let name = pod.flag("name").unwrap_or("default");
        let mut dialed = Dialed::new();
        if let Some(cluster) = pod.flag("initial-cluster") {
            let own: Vec<&str> = cluster
                .split(',')
                .filter_map(|entry| entry.split_once('='))
                .filter(|(member, _)| member.trim() == name)
                .map(|(_, url)| url)
                .collect();
            if own.is_empty() {
                let path = etcd.path.clone();
                self.error(
                    &path,
                    format!(
                        "--name={name} has no entry in --initial-cluster={cluster}: etcd refuses \
                         to start; add `{name}=https://<this host>:2380`"
                    ),
                );
            }
            for host in own.into_iter().filter_map(url_host) {
                dialed
                    .entry(host)
                    .or_default()
                    .push(format!("its own entry `{name}` in --initial-cluster"));
            }
        }
        for host in hosts("initial-advertise-peer-urls") {
            dialed
                .entry(host)
                .or_default()
                .push("--initial-advertise-peer-urls".into());
        }
        self.expect_names(&cert, "etcd's peer certificate (--peer-cert-file)", &dialed);
    }

    /// The kubelet's serving certificate covers its node IP, which the apiserver dials.
    pub(super) fn kubelet_serving(&mut self) {
        let Some((cert, _)) = self.kubelet_serving_pair() else {
            return;
        };
        let node_ip = self
            .kubelet_flags
            .as_ref()
            .and_then(|(_, flags)| super::flag_value(flags, "node-ip"));
        let mut dialed = Dialed::new();
        for ip in node_ip
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
        {
            dialed
                .entry(ip.to_owned())
                .or_default()
                .push("the apiserver (at the kubelet's --node-ip)".into());
        }
        self.expect_names(
            &format!("/{cert}"),
            "the kubelet's serving certificate (tlsCertFile)",
            &dialed,
        );
    }

    /// Reports every dialed name the certificate at `path` does not cover.
    fn expect_names(&mut self, path: &str, what: &str, dialed: &Dialed) {
        let Some(certs) = self.certs_at(path) else {
            return;
        };
        let cert = &certs[0];
        for (host, who) in dialed {
            if covers(cert, host) {
                continue;
            }
            let san = if host.parse::<std::net::IpAddr>().is_ok() {
                format!("IP:{host}")
            } else {
                format!("DNS:{host}")
            };
            let verb = if who.len() == 1 { "dials" } else { "dial" };
            self.error(
                &relative(path),
                format!(
                    "{what} lacks the SAN {san}, which {} {verb}: TLS verification fails for \
                     them; its SANs are {}; reissue it with {san}",
                    who.join(", "),
                    if cert.sans.is_empty() {
                        "none".to_owned()
                    } else {
                        cert.sans.join(", ")
                    },
                ),
            );
        }
    }
}

/// Whether a listen address is the wildcard (`0.0.0.0`, `::`), which no client dials.
fn unspecified(host: &str) -> bool {
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
}

/// The first address of a CIDR (the kubernetes service IP of a service range).
fn first_ip(range: &str) -> Option<String> {
    let net: ipnet::IpNet = range.trim().parse().ok()?;
    let ip = match net {
        ipnet::IpNet::V4(net) => {
            std::net::IpAddr::from((u32::from(net.network())).checked_add(1)?.to_be_bytes())
        }
        ipnet::IpNet::V6(net) => {
            std::net::IpAddr::from((u128::from(net.network())).checked_add(1)?.to_be_bytes())
        }
    };
    Some(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ips() {
        assert_eq!(first_ip("10.96.0.0/12").as_deref(), Some("10.96.0.1"));
        assert_eq!(
            first_ip("fd00:10:96::/112").as_deref(),
            Some("fd00:10:96::1")
        );
        assert_eq!(first_ip("nonsense"), None);
    }
}
