//! Kubeconfig files as kubeadm writes them: one cluster, one user, one context `<user>@<cluster>`,
//! credentials embedded as base64.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

/// What a kubeconfig holds.
#[derive(Debug, Clone, Copy)]
pub struct Kubeconfig<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// `https://host:port`.
    pub server: &'a str,
    /// PEM of the CA that signed the apiserver's certificate.
    pub ca_pem: &'a str,
    /// User name (the client certificate's CN).
    pub user: &'a str,
    /// PEM client certificate.
    pub cert_pem: &'a str,
    /// PEM client key.
    pub key_pem: &'a str,
}

#[derive(Serialize)]
struct File<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    clusters: [NamedCluster<'a>; 1],
    contexts: [NamedContext<'a>; 1],
    #[serde(rename = "current-context")]
    current_context: &'a str,
    kind: &'a str,
    users: [NamedUser<'a>; 1],
}

#[derive(Serialize)]
struct NamedCluster<'a> {
    cluster: ClusterEntry<'a>,
    name: &'a str,
}

#[derive(Serialize)]
struct ClusterEntry<'a> {
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: String,
    server: &'a str,
}

#[derive(Serialize)]
struct NamedContext<'a> {
    context: ContextEntry<'a>,
    name: &'a str,
}

#[derive(Serialize)]
struct ContextEntry<'a> {
    cluster: &'a str,
    user: &'a str,
}

#[derive(Serialize)]
struct NamedUser<'a> {
    name: &'a str,
    user: UserEntry,
}

#[derive(Serialize)]
struct UserEntry {
    #[serde(rename = "client-certificate-data")]
    client_certificate_data: String,
    #[serde(rename = "client-key-data")]
    client_key_data: String,
}

impl Kubeconfig<'_> {
    /// The kubeconfig's YAML.
    pub fn render(&self) -> String {
        let context = format!("{}@{}", self.user, self.cluster);
        let file = File {
            api_version: "v1",
            clusters: [NamedCluster {
                cluster: ClusterEntry {
                    certificate_authority_data: STANDARD.encode(self.ca_pem),
                    server: self.server,
                },
                name: self.cluster,
            }],
            contexts: [NamedContext {
                context: ContextEntry {
                    cluster: self.cluster,
                    user: self.user,
                },
                name: &context,
            }],
            current_context: &context,
            kind: "Config",
            users: [NamedUser {
                name: self.user,
                user: UserEntry {
                    client_certificate_data: STANDARD.encode(self.cert_pem),
                    client_key_data: STANDARD.encode(self.key_pem),
                },
            }],
        };
        super::yaml(&file)
    }
}
