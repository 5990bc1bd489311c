//! Trust: every certificate a component uses chains to the CA its peer trusts, every key matches
//! its certificate, the front-proxy CA is not the cluster CA (the tutorials' mistake), and the
//! service-account signing key is no CA's key and is among the keys the apiserver verifies with.

use std::collections::BTreeSet;

use super::material::chains_to;
use super::{Check, PodFile, relative, subject};
use crate::component::Component;
use crate::pki::inspect::Inspected;

/// Certificate and key flags that go together, per component.
const KEY_FLAGS: [(Component, &str, &str); 9] = [
    (
        Component::ApiServer,
        "tls-cert-file",
        "tls-private-key-file",
    ),
    (
        Component::ApiServer,
        "kubelet-client-certificate",
        "kubelet-client-key",
    ),
    (
        Component::ApiServer,
        "proxy-client-cert-file",
        "proxy-client-key-file",
    ),
    (Component::ApiServer, "etcd-certfile", "etcd-keyfile"),
    (Component::Etcd, "cert-file", "key-file"),
    (Component::Etcd, "peer-cert-file", "peer-key-file"),
    (
        Component::ControllerManager,
        "cluster-signing-cert-file",
        "cluster-signing-key-file",
    ),
    (
        Component::ControllerManager,
        "tls-cert-file",
        "tls-private-key-file",
    ),
    (
        Component::Scheduler,
        "tls-cert-file",
        "tls-private-key-file",
    ),
];

/// Where kubeadm keeps the CAs.
const CA_FILES: [&str; 3] = [
    "etc/kubernetes/pki/ca.crt",
    "etc/kubernetes/pki/etcd/ca.crt",
    "etc/kubernetes/pki/front-proxy-ca.crt",
];

/// Flags that name a CA bundle, per component.
const CA_FLAGS: [(Component, &str); 11] = [
    (Component::ApiServer, "client-ca-file"),
    (Component::ApiServer, "requestheader-client-ca-file"),
    (Component::ApiServer, "etcd-cafile"),
    (Component::ApiServer, "kubelet-certificate-authority"),
    (Component::Etcd, "trusted-ca-file"),
    (Component::Etcd, "peer-trusted-ca-file"),
    (Component::ControllerManager, "root-ca-file"),
    (Component::ControllerManager, "cluster-signing-cert-file"),
    (Component::ControllerManager, "client-ca-file"),
    (Component::ControllerManager, "requestheader-client-ca-file"),
    (Component::Scheduler, "client-ca-file"),
];

/// A certificate in a chain check: its host path and what names it.
struct End<'a> {
    path: String,
    what: &'a str,
}

impl Check<'_> {
    /// Every key matches its certificate; every certificate a flag names chains to the CA its
    /// consumer trusts.
    pub(super) fn chains(&mut self) {
        self.key_pairs();
        if let Some(api) = self.pod(Component::ApiServer) {
            self.apiserver_chains(&api);
        }
        if let Some(etcd) = self.pod(Component::Etcd) {
            self.etcd_chains(&etcd);
        }
        if let Some(kcm) = self.pod(Component::ControllerManager) {
            self.controller_manager_chains(&kcm);
        }
        self.kubelet_chain();
    }

    /// Certificate/key pairs named by flags, by the kubelet config, and side by side in the PKI
    /// directories (`x.crt` + `x.key`).
    fn key_pairs(&mut self) {
        let mut pairs: Vec<(String, String, String)> = Vec::new();
        for (component, cert_flag, key_flag) in KEY_FLAGS {
            let Some(file) = self.pod(component) else {
                continue;
            };
            if let (Some(cert), Some(key)) = (file.pod.flag(cert_flag), file.pod.flag(key_flag)) {
                pairs.push((
                    relative(&file.pod.host_path(cert)),
                    relative(&file.pod.host_path(key)),
                    format!("{component}'s --{cert_flag}"),
                ));
            }
        }
        if let Some((cert, key)) = self.kubelet_serving_pair() {
            pairs.push((cert, key, "the kubelet's tlsCertFile".to_owned()));
        }
        for path in self.tree.files.keys() {
            let in_pki =
                path.starts_with("etc/kubernetes/pki/") || path.starts_with("var/lib/kubelet/pki/");
            if let Some(stem) = path.strip_suffix(".crt").filter(|_| in_pki) {
                let key = format!("{stem}.key");
                if self.tree.files.contains_key(&key) {
                    pairs.push((path.clone(), key, "the certificate".to_owned()));
                }
            }
        }
        let mut done = BTreeSet::new();
        for (cert, key, what) in pairs {
            if done.insert((cert.clone(), key.clone())) {
                self.key_pair(&cert, &key, &what);
            }
        }
    }

    fn key_pair(&mut self, cert: &str, key: &str, what: &str) {
        let (Some(certs), Some(public)) = (self.certs_at(cert), self.key_at(key)) else {
            return;
        };
        if certs[0].public_key != public {
            let key_shown = self.tree.display(key);
            self.error(
                cert,
                format!(
                    "{what} ({}) does not match its key {key_shown}: TLS with this pair fails; \
                     reissue the certificate for this key, or put back the key it was issued for",
                    certs[0].subject
                ),
            );
        }
    }

    /// The kubelet config's serving certificate and key, as tree paths.
    pub(super) fn kubelet_serving_pair(&self) -> Option<(String, String)> {
        let (_, config) = self.kubelet_config.as_ref()?;
        let cert = super::material::text_at(config, "/tlsCertFile")?;
        let key = super::material::text_at(config, "/tlsPrivateKeyFile")?;
        Some((relative(&cert), relative(&key)))
    }

    fn apiserver_chains(&mut self, api: &PodFile) {
        let pod = &api.pod;
        let flag = |name: &str| pod.flag(name).map(|value| pod.host_path(value));
        let kubelet_ca = self
            .kubelet_config
            .as_ref()
            .and_then(|(_, c)| super::material::text_at(c, "/authentication/x509/clientCAFile"))
            .map(|path| {
                (
                    path,
                    "the kubelets' client CA (clientCAFile of the kubelet config)",
                )
            })
            .or_else(|| flag("client-ca-file").map(|path| (path, "--client-ca-file")));
        if let (Some(leaf), Some((ca, ca_what))) = (flag("kubelet-client-certificate"), kubelet_ca)
        {
            self.expect_chain(
                &End {
                    path: leaf,
                    what: "kube-apiserver's --kubelet-client-certificate",
                },
                &End {
                    path: ca,
                    what: ca_what,
                },
                "kubelets refuse the apiserver's connections for logs, exec and port-forward",
            );
        }
        if let (Some(leaf), Some(ca)) = (
            flag("proxy-client-cert-file"),
            flag("requestheader-client-ca-file"),
        ) {
            self.expect_chain(
                &End {
                    path: leaf.clone(),
                    what: "kube-apiserver's --proxy-client-cert-file",
                },
                &End {
                    path: ca,
                    what: "--requestheader-client-ca-file",
                },
                "aggregated API servers (metrics-server, …) reject the requests the apiserver proxies to them",
            );
            self.allowed_names(&leaf, pod.flag("requestheader-allowed-names"));
        }
        if let (Some(leaf), Some(ca)) = (flag("etcd-certfile"), flag("etcd-cafile")) {
            self.expect_chain(
                &End {
                    path: leaf,
                    what: "kube-apiserver's --etcd-certfile",
                },
                &End {
                    path: ca,
                    what: "--etcd-cafile",
                },
                "etcd refuses the apiserver's client certificate",
            );
        }
    }

    /// The front-proxy client's CN is one `--requestheader-allowed-names` accepts.
    fn allowed_names(&mut self, leaf: &str, allowed: Option<&str>) {
        let Some(allowed) = allowed.filter(|a| !a.trim().is_empty()) else {
            return;
        };
        let Some(certs) = self.certs_at(leaf) else {
            return;
        };
        let names: Vec<&str> = allowed.split(',').map(str::trim).collect();
        let cn = &certs[0].common_name;
        if !names.contains(&cn.as_str()) {
            self.error(
                leaf,
                format!(
                    "the front-proxy client certificate has CN={cn}, which \
                     --requestheader-allowed-names={allowed} does not accept: aggregated API \
                     servers refuse the apiserver's proxied requests; reissue it with CN={} or \
                     add `{cn}` to the allowed names",
                    names[0]
                ),
            );
        }
    }

    fn etcd_chains(&mut self, etcd: &PodFile) {
        let pod = &etcd.pod;
        let flag = |name: &str| pod.flag(name).map(|value| pod.host_path(value));
        if let (Some(leaf), Some(ca)) = (flag("cert-file"), flag("trusted-ca-file")) {
            self.expect_chain(
                &End {
                    path: leaf,
                    what: "etcd's --cert-file",
                },
                &End {
                    path: ca,
                    what: "--trusted-ca-file",
                },
                "etcd's clients (the apiserver, etcdctl) verify it against the etcd CA and refuse it",
            );
        }
        if let (Some(leaf), Some(ca)) = (flag("peer-cert-file"), flag("peer-trusted-ca-file")) {
            self.expect_chain(
                &End {
                    path: leaf,
                    what: "etcd's --peer-cert-file",
                },
                &End {
                    path: ca,
                    what: "--peer-trusted-ca-file",
                },
                "the other members refuse this member's peer connections",
            );
        }
        let Some(api) = self.pod(Component::ApiServer) else {
            return;
        };
        let api_flag = |name: &str| api.pod.flag(name).map(|value| api.pod.host_path(value));
        // The apiserver trusts etcd's serving certificate through --etcd-cafile, and etcd trusts
        // the apiserver's client certificate through --trusted-ca-file: when those are different
        // files, each side is checked against the other's.
        if let (Some(leaf), Some(ca)) = (flag("cert-file"), api_flag("etcd-cafile"))
            && Some(&ca) != flag("trusted-ca-file").as_ref()
        {
            self.expect_chain(
                &End {
                    path: leaf,
                    what: "etcd's --cert-file",
                },
                &End {
                    path: ca,
                    what: "kube-apiserver's --etcd-cafile",
                },
                "the apiserver refuses etcd's serving certificate",
            );
        }
        if let (Some(leaf), Some(ca)) = (api_flag("etcd-certfile"), flag("trusted-ca-file"))
            && Some(&ca) != api_flag("etcd-cafile").as_ref()
        {
            self.expect_chain(
                &End {
                    path: leaf,
                    what: "kube-apiserver's --etcd-certfile",
                },
                &End {
                    path: ca,
                    what: "etcd's --trusted-ca-file",
                },
                "etcd refuses the apiserver's client certificate",
            );
        }
    }

    fn controller_manager_chains(&mut self, kcm: &PodFile) {
        let pod = &kcm.pod;
        let flag = |name: &str| pod.flag(name).map(|value| pod.host_path(value));
        if let Some(signing) = flag("cluster-signing-cert-file")
            && let Some(certs) = self.certs_at(&signing)
        {
            if !certs[0].is_ca {
                self.error(
                    &relative(&signing),
                    format!(
                        "kube-controller-manager's --cluster-signing-cert-file ({}) is not a CA \
                         certificate: the certificates it signs for kubelets are not trusted; \
                         name the cluster CA (ca.crt)",
                        certs[0].subject
                    ),
                );
            }
            let client_ca = self
                .pod(Component::ApiServer)
                .and_then(|api| api.pod.flag("client-ca-file").map(|v| api.pod.host_path(v)));
            if let Some(client_ca) = client_ca {
                self.expect_chain(
                    &End {
                        path: signing,
                        what: "kube-controller-manager's --cluster-signing-cert-file",
                    },
                    &End {
                        path: client_ca,
                        what: "kube-apiserver's --client-ca-file",
                    },
                    "the client certificates it signs for kubelets (CSRs) are refused by the apiserver",
                );
            }
        }
        let api_cert = self
            .pod(Component::ApiServer)
            .and_then(|api| api.pod.flag("tls-cert-file").map(|v| api.pod.host_path(v)));
        if let (Some(leaf), Some(root_ca)) = (api_cert, flag("root-ca-file")) {
            self.expect_chain(
                &End {
                    path: leaf,
                    what: "kube-apiserver's --tls-cert-file",
                },
                &End {
                    path: root_ca,
                    what: "kube-controller-manager's --root-ca-file",
                },
                "pods verify the apiserver with the ca.crt the controller-manager puts into every \
                 service-account token, and refuse it",
            );
        }
    }

    /// The kubelet's serving certificate chains to the CA the apiserver checks it with.
    fn kubelet_chain(&mut self) {
        let Some((cert, _)) = self.kubelet_serving_pair() else {
            return;
        };
        let api = self.pod(Component::ApiServer);
        let from_api = api.as_ref().and_then(|a| {
            a.pod.flag("kubelet-certificate-authority").map(|v| {
                (
                    a.pod.host_path(v),
                    "kube-apiserver's --kubelet-certificate-authority",
                )
            })
        });
        let Some((ca, ca_what)) =
            from_api.or_else(|| self.cluster_ca().map(|path| (path, "the cluster CA")))
        else {
            return;
        };
        self.expect_chain(
            &End {
                path: cert,
                what: "the kubelet's tlsCertFile",
            },
            &End { path: ca, what: ca_what },
            "the apiserver refuses the kubelet's serving certificate for logs, exec and port-forward",
        );
    }

    /// The cluster CA's host path: the apiserver's `--client-ca-file`, the kubelet's clientCAFile,
    /// or kubeadm's `pki/ca.crt`.
    pub(super) fn cluster_ca(&self) -> Option<String> {
        let from_api = self
            .pod(Component::ApiServer)
            .and_then(|a| a.pod.flag("client-ca-file").map(|v| a.pod.host_path(v)));
        let from_kubelet = self
            .kubelet_config
            .as_ref()
            .and_then(|(_, c)| super::material::text_at(c, "/authentication/x509/clientCAFile"));
        let standard = self
            .tree
            .files
            .contains_key(CA_FILES[0])
            .then(|| format!("/{}", CA_FILES[0]));
        from_api.or(from_kubelet).or(standard)
    }

    /// Reports at `leaf` when its certificate does not chain to `ca`'s bundle.
    fn expect_chain(&mut self, leaf: &End, ca: &End, consequence: &str) {
        let (Some(leaf_certs), Some(bundle)) = (self.certs_at(&leaf.path), self.certs_at(&ca.path))
        else {
            return;
        };
        if chains_to(&leaf_certs, &bundle) {
            return;
        }
        let ca_shown = self.tree.display(&relative(&ca.path));
        self.error(
            &relative(&leaf.path),
            format!(
                "{} ({}, issued by {}) does not chain to {} {ca_shown} ({}): {consequence}; \
                 reissue it from that CA",
                leaf.what,
                leaf_certs[0].subject,
                leaf_certs[0].issuer,
                ca.what,
                subject(&bundle),
            ),
        );
    }

    /// The front-proxy (requestheader) CA is not the cluster CA: otherwise every client
    /// certificate the cluster CA signed can assert any user through request headers.
    pub(super) fn front_proxy_ca(&mut self) {
        let api = self.pod(Component::ApiServer);
        let (front, cluster) = match &api {
            Some(api) => {
                let flag = |name: &str| api.pod.flag(name).map(|v| api.pod.host_path(v));
                match (flag("requestheader-client-ca-file"), flag("client-ca-file")) {
                    (Some(front), Some(cluster)) => (front, cluster),
                    _ => return,
                }
            }
            None => (
                "/etc/kubernetes/pki/front-proxy-ca.crt".to_owned(),
                format!("/{}", CA_FILES[0]),
            ),
        };
        let (Some(front_certs), Some(cluster_certs)) =
            (self.certs_at(&front), self.certs_at(&cluster))
        else {
            return;
        };
        let how = if front == cluster {
            Some("the same file")
        } else if front_certs
            .iter()
            .any(|f| cluster_certs.iter().any(|c| c.der == f.der))
        {
            Some("the same certificate")
        } else if front_certs.iter().any(|f| {
            cluster_certs
                .iter()
                .any(|c| c.subject == f.subject && c.public_key == f.public_key)
        }) {
            Some("the same subject and key")
        } else {
            None
        };
        if let Some(how) = how {
            let cluster_shown = self.tree.display(&relative(&cluster));
            self.error(
                &relative(&front),
                format!(
                    "the front-proxy CA (--requestheader-client-ca-file) is the cluster CA \
                     {cluster_shown} ({how}): every client certificate the cluster CA signs — any \
                     kubelet's, any admin's — can then set X-Remote-User and act as any user; give \
                     the front-proxy a CA of its own (front-proxy-ca.crt) and reissue \
                     front-proxy-client from it"
                ),
            );
        }
    }

    /// The service-account signing key is no CA's key, and the apiserver verifies tokens with
    /// its public half.
    pub(super) fn service_account_keys(&mut self) {
        let api = self.pod(Component::ApiServer);
        let kcm = self.pod(Component::ControllerManager);
        let mut signing: Vec<(String, &str)> = Vec::new();
        let mut verifying: Vec<String> = Vec::new();
        if let Some(api) = &api {
            if let Some(value) = api.pod.flag("service-account-signing-key-file") {
                signing.push((
                    api.pod.host_path(value),
                    "kube-apiserver's --service-account-signing-key-file",
                ));
            }
            for value in api.pod.flag_values("service-account-key-file") {
                verifying.push(api.pod.host_path(value));
            }
        }
        if let Some(kcm) = &kcm
            && let Some(value) = kcm.pod.flag("service-account-private-key-file")
        {
            signing.push((
                kcm.pod.host_path(value),
                "kube-controller-manager's --service-account-private-key-file",
            ));
        }
        if signing.is_empty() && self.tree.files.contains_key("etc/kubernetes/pki/sa.key") {
            signing.push((
                "/etc/kubernetes/pki/sa.key".into(),
                "the service-account key",
            ));
        }
        if verifying.is_empty() && self.tree.files.contains_key("etc/kubernetes/pki/sa.pub") {
            verifying.push("/etc/kubernetes/pki/sa.pub".into());
        }
        let authorities = self.authorities();
        let mut done = BTreeSet::new();
        for (path, what) in signing {
            if !done.insert(relative(&path)) {
                continue;
            }
            let Some(public) = self.key_at(&path) else {
                continue;
            };
            for (ca_path, ca) in &authorities {
                if ca.public_key == public {
                    let ca_shown = self.tree.display(&relative(ca_path));
                    self.error(
                        &relative(&path),
                        format!(
                            "{what} is the private key of the CA {ca_shown} ({}): the key that \
                             signs service-account tokens must be a pair of its own (sa.key / \
                             sa.pub), or every place that holds it can also sign certificates; \
                             generate a new service-account key pair",
                            ca.subject
                        ),
                    );
                }
            }
            let publics: Vec<Vec<u8>> =
                verifying.iter().filter_map(|v| self.public_at(v)).collect();
            if !publics.is_empty() && !publics.contains(&public) {
                let shown: Vec<String> = verifying
                    .iter()
                    .map(|v| self.tree.display(&relative(v)))
                    .collect();
                self.error(
                    &relative(&path),
                    format!(
                        "{what} is not the private half of any --service-account-key-file ({}): \
                         the apiserver rejects every token signed with it; put back the matching \
                         pair",
                        shown.join(", ")
                    ),
                );
            }
        }
    }

    /// Every CA certificate the host names (kubeadm's files and the CA flags), with its path.
    fn authorities(&mut self) -> Vec<(String, Inspected)> {
        let mut paths: Vec<String> = CA_FILES.iter().map(|p| format!("/{p}")).collect();
        for (component, flag) in CA_FLAGS {
            if let Some(file) = self.pod(component)
                && let Some(value) = file.pod.flag(flag)
            {
                paths.push(file.pod.host_path(value));
            }
        }
        if let Some((_, config)) = &self.kubelet_config
            && let Some(path) =
                super::material::text_at(config, "/authentication/x509/clientCAFile")
        {
            paths.push(path);
        }
        let mut seen = BTreeSet::new();
        let mut certs_seen = BTreeSet::new();
        let mut authorities = Vec::new();
        for path in paths {
            if !seen.insert(relative(&path)) {
                continue;
            }
            for cert in self.certs_at(&path).unwrap_or_default() {
                let is_authority = cert.is_ca || cert.issued_by(&cert);
                if is_authority && certs_seen.insert(cert.der.clone()) {
                    authorities.push((path.clone(), cert));
                }
            }
        }
        authorities
    }
}
