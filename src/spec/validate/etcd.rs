//! `etcd`: a stacked etcd (its members, data directory, bootstrap) or an external one.

use super::Checker;
use super::hosts::Placed;
use crate::cluster::{EtcdServers, EtcdTopology};
use crate::spec::source::{child, element};
use crate::spec::types::{Role, Spec};

impl Checker<'_> {
    pub(super) fn etcd(&mut self, spec: &Spec, hosts: Option<&[Placed]>) -> Option<EtcdTopology> {
        let etcd = spec.etcd.clone().unwrap_or_default();
        let members: Vec<&Placed> = hosts
            .into_iter()
            .flatten()
            .filter(|host| host.has(Role::Etcd))
            .collect();
        if let Some(external) = etcd.external {
            if etcd.api_server_endpoints.is_some() {
                self.error(
                    "etcd.apiServerEndpoints",
                    "chooses among stacked members, but `etcd.external` is set",
                    "with an external etcd cluster the apiserver dials `etcd.external.endpoints`; remove `apiServerEndpoints`",
                );
            }
            if let Some(problem) = crate::spec::etcd::bootstrap_with_external(etcd.bootstrap) {
                self.error(problem.path, problem.message, problem.hint);
            }
            if let Some(host) = members.first() {
                let index = hosts
                    .into_iter()
                    .flatten()
                    .position(|h| h.name == host.name)
                    .unwrap_or(0);
                self.error(
                    &child(&element("hosts", index), "roles"),
                    format!("host `{}` has role `etcd` but `etcd.external` is set", host.name),
                    "with an external etcd cluster no host runs a member; remove the `etcd` role or `etcd.external`",
                );
                return None;
            }
            let endpoints = external.endpoints.unwrap_or_default();
            if endpoints.is_empty() {
                self.error(
                    "etcd.external.endpoints",
                    "external etcd has no endpoints",
                    "list the client URLs, e.g. `https://10.0.0.5:2379`",
                );
                return None;
            }
            for (index, endpoint) in endpoints.iter().enumerate() {
                let at = element("etcd.external.endpoints", index);
                let Some(rest) = endpoint
                    .strip_prefix("https://")
                    .or_else(|| endpoint.strip_prefix("http://"))
                else {
                    self.error(
                        &at,
                        format!("`{endpoint}` is not an etcd URL"),
                        "write `https://HOST:2379`",
                    );
                    continue;
                };
                if rest.is_empty() || rest.contains(['/', ' ']) && !rest.ends_with('/') {
                    self.error(
                        &at,
                        format!("`{endpoint}` is not an etcd URL"),
                        "write `https://HOST:2379`",
                    );
                }
                if endpoint.starts_with("http://") {
                    self.warn(
                        &at,
                        format!("`{endpoint}` is plain HTTP"),
                        "the apiserver would send every object to etcd unencrypted; use https",
                    );
                }
            }
            let mut file = |field: &str, value: Option<String>| -> Option<String> {
                let at = format!("etcd.external.{field}");
                match value {
                    Some(path) if path.starts_with('/') => Some(path),
                    Some(path) => {
                        self.error(
                            &at,
                            format!("`{path}` is not an absolute path"),
                            "give the path on the control-plane hosts",
                        );
                        None
                    }
                    None => {
                        self.error(
                            "etcd.external",
                            format!("external etcd has no `{field}`"),
                            "the apiserver needs the etcd CA and a client certificate and key",
                        );
                        None
                    }
                }
            };
            let ca_file = file("caFile", external.ca_file);
            let cert_file = file("certFile", external.cert_file);
            let key_file = file("keyFile", external.key_file);
            return Some(EtcdTopology::External {
                endpoints,
                ca_file: ca_file?,
                cert_file: cert_file?,
                key_file: key_file?,
            });
        }
        if hosts.is_some() && members.is_empty() {
            self.error(
                "hosts",
                "no host has the `etcd` role and `etcd.external` is not set",
                "add `etcd` to the roles of the control-plane hosts (stacked etcd), or set `etcd.external`",
            );
            return None;
        }
        if members.len().is_multiple_of(2) && !members.is_empty() {
            self.warn(
                "hosts",
                format!(
                    "{} etcd members: an even count tolerates no more failures than {}",
                    members.len(),
                    members.len() - 1
                ),
                "use an odd number of etcd members (1, 3 or 5)",
            );
        }
        let data_dir = self
            .required(etcd.data_dir.as_ref(), "etcd.dataDir")?
            .clone();
        if !data_dir.starts_with('/') {
            self.error(
                "etcd.dataDir",
                format!("`{data_dir}` is not an absolute path"),
                "e.g. `/var/lib/etcd`",
            );
            return None;
        }
        let bootstrap = etcd.bootstrap.unwrap_or_default();
        let servers = etcd.api_server_endpoints.unwrap_or_default();
        if servers == EtcdServers::Local {
            let alone = hosts
                .into_iter()
                .flatten()
                .enumerate()
                .find(|(_, host)| host.has(Role::ControlPlane) && !host.has(Role::Etcd));
            if let Some((index, host)) = alone {
                self.error(
                    "etcd.apiServerEndpoints",
                    format!(
                        "`local` needs a member on every control plane, and `{}` (hosts[{index}]) has no role `etcd`",
                        host.name
                    ),
                    "give every control plane the `etcd` role, or use `members`",
                );
                return None;
            }
        }
        Some(EtcdTopology::Stacked {
            data_dir,
            bootstrap,
            servers,
        })
    }
}
