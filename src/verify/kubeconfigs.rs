//! Kubeconfigs: each one's client certificate matches its key, chains to the CA the apiserver
//! checks clients with, and carries the CN/O Kubernetes RBAC expects of its user (kubelet,
//! controller-manager, scheduler, kube-proxy, admin); its CA signed the apiserver's certificate
//! when the apiserver runs here; and its server's host is recorded for the SAN check.

use std::collections::BTreeMap;

use super::material::{self, Kubeconfig, Source, chains_to, url_host};
use super::usages::Need;
use super::{Check, relative, subject};
use crate::component::Component;
use crate::pki::inspect::Inspected;

/// Where the kubelet keeps its current client certificate and key (one file, a link to the
/// newest dated one).
const KUBELET_CLIENT: &str = "var/lib/kubelet/pki/kubelet-client-current.pem";
/// Where kubeadm and kcompile put a TLS-bootstrap kubelet's bootstrap kubeconfig.
const BOOTSTRAP_KUBECONFIG: &str = "/etc/kubernetes/bootstrap-kubelet.conf";

/// Who uses a kubeconfig, which decides the identity its certificate must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Kubelet,
    ControllerManager,
    Scheduler,
    KubeProxy,
    Admin,
    SuperAdmin,
    Other,
}

impl Role {
    /// The role kubeadm's file name implies.
    fn by_name(path: &str) -> Role {
        match path.rsplit('/').next().unwrap_or_default() {
            "kubelet.conf" => Role::Kubelet,
            "controller-manager.conf" => Role::ControllerManager,
            "scheduler.conf" => Role::Scheduler,
            "kube-proxy.conf" | "kubeconfig.conf" => Role::KubeProxy,
            "admin.conf" => Role::Admin,
            "super-admin.conf" => Role::SuperAdmin,
            _ => Role::Other,
        }
    }
}

impl Check<'_> {
    /// Checks every kubeconfig of the host.
    pub(super) fn kubeconfigs(&mut self) {
        for (path, role) in self.kubeconfig_roles() {
            let Some(bytes) = self.tree.get(&path) else {
                continue;
            };
            match material::kubeconfig(&String::from_utf8_lossy(bytes)) {
                Ok(config) => self.kubeconfig(&path, role, &config),
                Err(error) => self.error(&path, format!("cannot be used: {error}")),
            }
        }
    }

    /// The kubeconfigs: `etc/kubernetes/*.conf` and every file a component names as its
    /// kubeconfig; the consumer decides the role, else kubeadm's file name.
    fn kubeconfig_roles(&self) -> BTreeMap<String, Role> {
        let mut roles = BTreeMap::new();
        for path in self.tree.files.keys() {
            let top_level = path
                .strip_prefix("etc/kubernetes/")
                .is_some_and(|name| !name.contains('/') && name.ends_with(".conf"));
            if top_level || path == "var/lib/kube-proxy/kubeconfig.conf" {
                roles.insert(path.clone(), Role::by_name(path));
            }
        }
        let consumers = [
            (Component::ControllerManager, Role::ControllerManager),
            (Component::Scheduler, Role::Scheduler),
            (Component::KubeProxy, Role::KubeProxy),
        ];
        let mut named: Vec<(String, Role)> = Vec::new();
        for (component, role) in consumers {
            if let Some(file) = self.pod(component) {
                for flag in [
                    "kubeconfig",
                    "authentication-kubeconfig",
                    "authorization-kubeconfig",
                ] {
                    if let Some(value) = file.pod.flag(flag) {
                        named.push((file.pod.host_path(value), role));
                    }
                }
            }
        }
        if let Some((_, config)) = &self.proxy_config
            && let Some(path) = material::text_at(config, "/clientConnection/kubeconfig")
        {
            named.push((path, Role::KubeProxy));
        }
        if let Some((_, flags)) = &self.kubelet_flags
            && let Some(path) = super::flag_value(flags, "kubeconfig")
        {
            named.push((path, Role::Kubelet));
        }
        for (path, role) in named {
            let path = relative(&path);
            if self.tree.files.contains_key(&path) {
                roles.insert(path, role);
            }
        }
        roles
    }

    fn kubeconfig(&mut self, path: &str, role: Role, config: &Kubeconfig) {
        let dir = format!("/{}", path.rsplit_once('/').map_or("", |(dir, _)| dir));
        if let Some(host) = config.server.as_deref().and_then(url_host) {
            self.dialed.push((host, path.to_owned()));
        }
        if config.insecure {
            self.warn(
                path,
                "insecure-skip-tls-verify is true: the apiserver's certificate is not checked, so \
                 anyone between this client and the apiserver can impersonate it; set \
                 certificate-authority-data instead",
            );
        }
        let ca = if let Some(source) = &config.ca {
            self.source_certs(path, &dir, source)
        } else {
            if !config.insecure {
                self.warn(
                    path,
                    "has no certificate-authority: clients check the apiserver against the \
                     system's CAs, which did not sign a kubeadm or kcompile certificate",
                );
            }
            None
        };
        if let Some(ca) = &ca {
            self.serving_cert_trusted(path, ca);
        }
        let Some(cert_source) = &config.client_cert else {
            return;
        };
        if role == Role::Kubelet && self.bootstrapping(path, &dir, cert_source) {
            return;
        }
        let Some(client) = self.source_certs(path, &dir, cert_source) else {
            return;
        };
        if let Some(key_source) = &config.client_key
            && let Some(public) = self.source_key(path, &dir, key_source)
            && public != client[0].public_key
        {
            self.error(
                path,
                format!(
                    "the client certificate ({}) does not match the client key: the apiserver \
                     rejects the connection; put back the pair that belongs together",
                    client[0].subject
                ),
            );
        }
        self.client_trusted(path, &client, ca.as_deref());
        self.expect_usage(path, "the client certificate", &client[0], Need::Connect);
        self.identity(path, role, &client[0]);
    }

    /// A TLS-bootstrap kubelet before its first start: `kubelet.conf` names a client certificate
    /// file that does not exist yet, and a bootstrap kubeconfig is there for the kubelet to ask
    /// for one. That is a warning (the identity is checked once the certificate exists), not an
    /// error; without a bootstrap kubeconfig the missing file is an error, as for any client.
    fn bootstrapping(&mut self, path: &str, dir: &str, source: &Source) -> bool {
        let Source::File(field, file) = source else {
            return false;
        };
        let file = resolve(dir, file);
        if self.tree.get(&relative(&file)).is_some() {
            return false;
        }
        let named = self
            .kubelet_flags
            .as_ref()
            .and_then(|(_, flags)| super::flag_value(flags, "bootstrap-kubeconfig"))
            .or_else(|| super::flag_value(&self.kubeadm_flags, "bootstrap-kubeconfig"));
        let bootstrap = named.unwrap_or_else(|| BOOTSTRAP_KUBECONFIG.to_owned());
        if self.tree.get(&relative(&bootstrap)).is_none() {
            return false;
        }
        self.warn(
            path,
            format!(
                "{field} names {file}, which does not exist yet: the kubelet asks the cluster for \
                 a client certificate with {bootstrap} at its next start (TLS bootstrap); run \
                 verify again after it has joined to check that certificate"
            ),
        );
        true
    }

    /// The client certificate the kubelet keeps on disk (`kubelet-client-current.pem`, which it
    /// uses over `kubelet.conf`'s own when it rotates certificates) carries this node's identity
    /// too, when `kubelet.conf` does not already name it.
    pub(super) fn kubelet_client_on_disk(&mut self) {
        let named = self.kubeconfig_roles().into_iter().any(|(path, role)| {
            role == Role::Kubelet
                && self.tree.get(&path).is_some_and(|bytes| {
                    material::kubeconfig(&String::from_utf8_lossy(bytes)).is_ok_and(|config| {
                        matches!(&config.client_cert,
                            Some(Source::File(_, file)) if relative(file) == KUBELET_CLIENT)
                    })
                })
        });
        if named {
            return;
        }
        let Some(certs) = self.certs_at(KUBELET_CLIENT) else {
            return;
        };
        self.expect_usage(
            KUBELET_CLIENT,
            "the kubelet's client certificate",
            &certs[0],
            Need::Connect,
        );
        self.identity(KUBELET_CLIENT, Role::Kubelet, &certs[0]);
    }

    /// The client certificate chains to the apiserver's `--client-ca-file` when the apiserver
    /// runs here, else to the kubeconfig's own CA (the cluster CA in every kubeadm layout).
    fn client_trusted(&mut self, path: &str, client: &[Inspected], ca: Option<&[Inspected]>) {
        let api_ca = self
            .pod(Component::ApiServer)
            .and_then(|a| a.pod.flag("client-ca-file").map(|v| a.pod.host_path(v)));
        let (bundle, what) = match api_ca {
            Some(file) => match self.certs_at(&file) {
                Some(bundle) => {
                    let shown = self.tree.display(&relative(&file));
                    (bundle, format!("kube-apiserver's --client-ca-file {shown}"))
                }
                None => return,
            },
            None => match ca {
                Some(bundle) => (
                    bundle.to_vec(),
                    "the kubeconfig's certificate-authority".to_owned(),
                ),
                None => return,
            },
        };
        if !chains_to(client, &bundle) {
            self.error(
                path,
                format!(
                    "the client certificate ({}, issued by {}) does not chain to {what} ({}): the \
                     apiserver rejects it; reissue it from the cluster CA",
                    client[0].subject,
                    client[0].issuer,
                    subject(&bundle)
                ),
            );
        }
    }

    /// When the apiserver runs here, the kubeconfig's CA signed its serving certificate.
    fn serving_cert_trusted(&mut self, path: &str, ca: &[Inspected]) {
        let Some(api) = self.pod(Component::ApiServer) else {
            return;
        };
        let Some(serving) = api.pod.flag("tls-cert-file").map(|v| api.pod.host_path(v)) else {
            return;
        };
        let Some(certs) = self.certs_at(&serving) else {
            return;
        };
        if !chains_to(&certs, ca) {
            let shown = self.tree.display(&relative(&serving));
            self.error(
                path,
                format!(
                    "its certificate-authority ({}) did not sign the apiserver's certificate \
                     {shown} (issued by {}): clients using this kubeconfig refuse the apiserver; \
                     embed the CA that issued it",
                    subject(ca),
                    certs[0].issuer
                ),
            );
        }
    }

    /// The CN/O the authorizers expect of the kubeconfig's user.
    fn identity(&mut self, path: &str, role: Role, cert: &Inspected) {
        let organizations = material::organizations(cert);
        let in_group = |group: &str| organizations.iter().any(|o| o == group);
        let cn = cert.common_name.as_str();
        let problem = match role {
            Role::Kubelet => {
                let node = self.node_name();
                let (expected, known) = match &node {
                    Some((name, from)) => (
                        format!("system:node:{name}"),
                        format!(" (this node is `{name}`: {from})"),
                    ),
                    None => ("system:node:<node name>".to_owned(), String::new()),
                };
                let cn_ok = match &node {
                    Some(_) => cn == expected,
                    None => cn.starts_with("system:node:"),
                };
                (!cn_ok || !in_group("system:nodes")).then(|| {
                    format!(
                        "the kubelet's client certificate has {}; the Node authorizer and \
                         NodeRestriction admit only CN={expected} with O=system:nodes{known}: the \
                         kubelet is forbidden to register its node and read its pods' secrets, or \
                         acts as another node; reissue it",
                        cert.subject
                    )
                })
            }
            Role::ControllerManager => user(
                cn,
                "system:kube-controller-manager",
                "the controller-manager",
            ),
            Role::Scheduler => user(cn, "system:kube-scheduler", "the scheduler"),
            Role::KubeProxy => user(cn, "system:kube-proxy", "kube-proxy"),
            Role::Admin => (!in_group("kubeadm:cluster-admins") && !in_group("system:masters"))
                .then(|| {
                    format!(
                        "the admin certificate has {}; cluster-admin is bound to the group \
                     kubeadm:cluster-admins (or system:masters): this kubeconfig is forbidden \
                     everything; reissue it with O=kubeadm:cluster-admins",
                        cert.subject
                    )
                }),
            Role::SuperAdmin => (!in_group("system:masters")).then(|| {
                format!(
                    "the super-admin certificate has {}; only O=system:masters bypasses RBAC: \
                     reissue it with O=system:masters",
                    cert.subject
                )
            }),
            Role::Other => None,
        };
        if let Some(problem) = problem {
            self.error(path, problem);
        }
    }

    /// Certificates of a kubeconfig field (embedded or a file).
    fn source_certs(&mut self, path: &str, dir: &str, source: &Source) -> Option<Vec<Inspected>> {
        match source {
            Source::Data(field, bytes) => match material::certificates(bytes) {
                Ok(certs) => {
                    for cert in &certs {
                        self.register(path, field, cert);
                    }
                    Some(certs)
                }
                Err(error) => {
                    self.error(path, format!("{field} is not a valid certificate: {error}"));
                    None
                }
            },
            Source::File(field, file) => {
                let file = resolve(dir, file);
                let found = self.certs_at(&file);
                if found.is_none() {
                    self.missing(path, field, &file);
                }
                found
            }
        }
    }

    /// The public half of a kubeconfig's client key (embedded or a file).
    fn source_key(&mut self, path: &str, dir: &str, source: &Source) -> Option<Vec<u8>> {
        match source {
            Source::Data(field, bytes) => match material::private_key(bytes) {
                Ok(public) => Some(public),
                Err(error) => {
                    self.error(
                        path,
                        format!("{field} is not a usable private key: {error}"),
                    );
                    None
                }
            },
            Source::File(field, file) => {
                let file = resolve(dir, file);
                let found = self.key_at(&file);
                if found.is_none() {
                    self.missing(path, field, &file);
                }
                found
            }
        }
    }

    /// A file a kubeconfig names that is absent (only where `verify` reads).
    fn missing(&mut self, path: &str, field: &str, file: &str) {
        let rel = relative(file);
        if super::tree::managed(&rel) && self.tree.get(&rel).is_none() {
            self.error(
                path,
                format!("{field} names {file}, which does not exist: the client cannot connect"),
            );
        }
    }
}

/// `expected` as the certificate's CN, for a component RBAC knows by user name.
fn user(cn: &str, expected: &str, who: &str) -> Option<String> {
    (cn != expected).then(|| {
        format!(
            "{who}'s client certificate has CN={cn}; RBAC grants {who}'s permissions to the user \
             {expected}: it is forbidden everything; reissue it with CN={expected}"
        )
    })
}

/// A kubeconfig file path: absolute, or relative to the kubeconfig's directory.
fn resolve(dir: &str, file: &str) -> String {
    if file.starts_with('/') {
        file.to_owned()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    }
}
