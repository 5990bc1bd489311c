//! Extended key usages fit how each certificate is used: a certificate a component serves
//! (`--tls-cert-file`, etcd's `--cert-file`, the kubelet's `tlsCertFile`) lists `serverAuth`, one
//! it presents as a client (a kubeconfig's, `--kubelet-client-certificate`, `--etcd-certfile`,
//! `--proxy-client-cert-file`) lists `clientAuth`, and etcd's peer certificate, which members both
//! serve and present to each other, lists both. Go's TLS refuses a certificate whose EKU
//! extension lacks the usage (`x509: certificate specifies an incompatible key usage`); one
//! without the extension is good for any use.

use super::material::extended_usages;
use super::{Check, relative};
use crate::component::Component;
use crate::pki::inspect::Inspected;

/// What a certificate is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// Served to TLS clients: `serverAuth`.
    Serve,
    /// Presented to a TLS server: `clientAuth`.
    Connect,
    /// Both (etcd peers): `serverAuth` and `clientAuth`.
    Both,
}

/// Certificate flags, per component, and what each is used for.
const FLAG_USES: [(Component, &str, Need); 8] = [
    (Component::ApiServer, "tls-cert-file", Need::Serve),
    (
        Component::ApiServer,
        "kubelet-client-certificate",
        Need::Connect,
    ),
    (
        Component::ApiServer,
        "proxy-client-cert-file",
        Need::Connect,
    ),
    (Component::ApiServer, "etcd-certfile", Need::Connect),
    (Component::Etcd, "cert-file", Need::Serve),
    (Component::Etcd, "peer-cert-file", Need::Both),
    (Component::ControllerManager, "tls-cert-file", Need::Serve),
    (Component::Scheduler, "tls-cert-file", Need::Serve),
];

impl Check<'_> {
    /// The certificates the static pods and the kubelet serve or present have the extended key
    /// usages for it (kubeconfigs' client certificates are checked with the kubeconfigs).
    pub(super) fn usages(&mut self) {
        let mut uses: Vec<(String, String, Need)> = Vec::new();
        for (component, flag, need) in FLAG_USES {
            let Some(file) = self.pod(component) else {
                continue;
            };
            if let Some(value) = file.pod.flag(flag) {
                uses.push((
                    relative(&file.pod.host_path(value)),
                    format!("{component}'s --{flag}"),
                    need,
                ));
            }
        }
        if let Some((cert, _)) = self.kubelet_serving_pair() {
            uses.push((cert, "the kubelet's tlsCertFile".to_owned(), Need::Serve));
        }
        let unit_cert = self
            .kubelet_flags
            .as_ref()
            .and_then(|(_, flags)| super::flag_value(flags, "tls-cert-file"));
        if let Some(cert) = unit_cert {
            uses.push((
                relative(&cert),
                "the kubelet's --tls-cert-file".to_owned(),
                Need::Serve,
            ));
        }
        for (path, what, need) in uses {
            if let Some(certs) = self.certs_at(&path) {
                self.expect_usage(&path, &what, &certs[0], need);
            }
        }
    }

    /// Reports at `file` when `cert`, used as `need` says, lacks the extended key usage for it.
    pub(super) fn expect_usage(&mut self, file: &str, what: &str, cert: &Inspected, need: Need) {
        let Some(usages) = extended_usages(cert) else {
            return;
        };
        let listed = if usages.listed.is_empty() {
            "empty".to_owned()
        } else {
            usages.listed.join(", ")
        };
        let subject = &cert.subject;
        let problem = match need {
            Need::Serve if !usages.server => Some(format!(
                "{what} ({subject}) is served to TLS clients, but its extended key usage is \
                 {listed}, without serverAuth: every client refuses it (`x509: certificate \
                 specifies an incompatible key usage`); reissue it with serverAuth"
            )),
            Need::Connect if !usages.client => Some(format!(
                "{what} ({subject}) is presented as a client certificate, but its extended key \
                 usage is {listed}, without clientAuth: the server refuses it (`x509: \
                 certificate specifies an incompatible key usage`); reissue it with clientAuth"
            )),
            Need::Both if !usages.server || !usages.client => Some(format!(
                "{what} ({subject}) is served to the other members and presented to them as a \
                 client, so it needs serverAuth and clientAuth; its extended key usage is \
                 {listed}: the members refuse each other's connections; reissue it with both"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            self.error(file, problem);
        }
    }
}
