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
    /// How the user authenticates.
    pub credentials: Credentials<'a>,
}

/// A kubeconfig user's credentials.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// A client certificate and its key (PEM).
    Certificate {
        /// PEM client certificate.
        cert_pem: &'a str,
        /// PEM client key.
        key_pem: &'a str,
    },
    /// A bearer token (a bootstrap token).
    Token(&'a str),
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
    #[serde(
        rename = "client-certificate-data",
        skip_serializing_if = "Option::is_none"
    )]
    client_certificate_data: Option<String>,
    #[serde(rename = "client-key-data", skip_serializing_if = "Option::is_none")]
    client_key_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
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
                user: match self.credentials {
                    Credentials::Certificate { cert_pem, key_pem } => UserEntry {
                        client_certificate_data: Some(STANDARD.encode(cert_pem)),
                        client_key_data: Some(STANDARD.encode(key_pem)),
                        token: None,
                    },
                    Credentials::Token(token) => UserEntry {
                        client_certificate_data: None,
                        client_key_data: None,
                        token: Some(token.to_owned()),
                    },
                },
            }],
        };
        super::yaml(&file)
    }
}
