//! The material a running cluster already has, staged into the state so the next build keeps it:
//! the CAs and service-account keys (through [`crate::pki::import`]), every leaf certificate of
//! kcompile's catalog that the host holds, valid, signed by its CA and covering the names the
//! catalog asks for (with its key and issue record), the etcd members with their start flags, and
//! the `EncryptionConfiguration`'s keys in their order.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use super::AdoptError;
use super::host::HostFiles;
use crate::cluster::Cluster;
use crate::component::Component;
use crate::etcd_membership::{InitialClusterState, Member, Record, Status, client_url, peer_url};
use crate::pki::adopted_encryption;
use crate::pki::catalog::{CertSpec, catalog};
use crate::pki::inspect::Inspected;
use crate::pki::keys::Key;
use crate::spec::{EtcdBootstrap, Role};
use crate::state::Transaction;

/// What was staged, and what was not with why.
#[derive(Debug, Default)]
pub struct Staged {
    /// State files adopted (CAs, keys, leaves, the member record).
    pub adopted: Vec<String>,
    /// Catalog certificates the hosts do not hold in a form kcompile keeps, with why: a build
    /// issues them.
    pub not_kept: Vec<(String, String)>,
}

/// Stages everything `hosts` hold that `cluster` needs. The CAs come from the first control
/// plane.
pub fn stage(
    state: &mut Transaction<'_>,
    cluster: &Cluster,
    hosts: &[HostFiles],
    now: OffsetDateTime,
) -> Result<Staged, AdoptError> {
    let mut staged = Staged::default();
    let first = hosts.first().ok_or_else(|| AdoptError::NoHosts {
        roots: String::new(),
        reason: "no host to adopt from".into(),
    })?;
    if first.tutorial.is_some() {
        staged
            .adopted
            .extend(super::tutorial::import_authorities(state, first)?);
    } else {
        let imported =
            crate::pki::import::from_pki(state, &first.root.path().join("etc/kubernetes/pki"))
                .map_err(|source| AdoptError::Import {
                    host: first.name.clone(),
                    source,
                })?;
        staged.adopted.extend(imported.adopted);
    }
    for leaf in catalog(cluster) {
        let host = match &leaf.host {
            Some(name) => hosts.iter().find(|host| &host.name == name),
            None => Some(first),
        };
        let Some(host) = host else {
            staged
                .not_kept
                .push((leaf.id.clone(), "its host has no files".into()));
            continue;
        };
        let ca_path = format!("pki/{}.crt", leaf.issuer.file());
        let Some(ca_pem) = state.read_text(&ca_path)? else {
            staged
                .not_kept
                .push((leaf.id.clone(), format!("the cluster has no {ca_path}")));
            continue;
        };
        match found(host, &leaf) {
            Ok((file, cert, key)) => match fits(&leaf, &cert, &key, &ca_pem, now) {
                Ok(parsed) => {
                    let path = |extension| crate::pki::leaf_path(&leaf, extension);
                    let record = crate::pki::issue_record(&leaf, &parsed, &ca_pem);
                    keep(state, &path("crt"), cert, 0o644)?;
                    keep(state, &path("key"), key, 0o600)?;
                    keep(state, &path("json"), record, 0o644)?;
                    staged
                        .adopted
                        .push(format!("{} (from {}/{file})", path("crt"), host.name));
                }
                Err(why) => staged
                    .not_kept
                    .push((leaf.id.clone(), format!("{}/{file}: {why}", host.name))),
            },
            Err(why) => staged.not_kept.push((leaf.id.clone(), why.to_string())),
        }
    }
    if let Some(super::encryption::ClusterEncryption {
        adopted, current, ..
    }) = super::encryption::read(hosts)?
    {
        keep(
            state,
            "secrets/encryption-key",
            format!("{}\n", current.secret),
            0o600,
        )?;
        keep(state, adopted_encryption::PATH, adopted.to_json(), 0o600)?;
        staged.adopted.push(format!(
            "secrets/encryption-key (the cluster's key `{}`, which encrypts first)",
            current.name
        ));
        staged.adopted.push(adopted_encryption::PATH.to_owned());
    }
    if let Some(record) = members(cluster, hosts)? {
        let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
        keep(state, crate::etcd_membership::RECORD, text, 0o644)?;
        staged
            .adopted
            .push(crate::etcd_membership::RECORD.to_owned());
    }
    Ok(staged)
}

/// Stages `text` at `path` unless the state holds it already; refuses to replace anything else
/// there (a run of adopt interrupted after its commit is retried over its own state).
pub(super) fn keep(
    state: &mut Transaction<'_>,
    path: &str,
    text: String,
    mode: u32,
) -> Result<(), AdoptError> {
    match state.read_text(path)? {
        Some(existing) if existing == text => Ok(()),
        Some(_) => Err(AdoptError::Different {
            path: path.to_owned(),
        }),
        None => {
            state.write(path, text, mode);
            Ok(())
        }
    }
}

/// Why a certificate a host holds is not kept (kcompile issues a new one).
#[derive(Debug, thiserror::Error)]
enum NotKept {
    /// The file is not there (`host/path`).
    #[error("{0} is absent")]
    Absent(String),
    /// The file cannot be read or parsed.
    #[error("{file}: {reason}")]
    Unreadable {
        /// `host/path`.
        file: String,
        /// Why.
        reason: String,
    },
    /// The file is not UTF-8 text.
    #[error("{0} is not text")]
    NotText(String),
    /// A certificate-and-key file holds no key.
    #[error("{0} holds no private key")]
    NoKey(String),
    /// A kubeconfig embeds no client certificate or key.
    #[error("{file} embeds no {field}")]
    NotEmbedded {
        /// `host/path`.
        file: String,
        /// The kubeconfig field.
        field: &'static str,
    },
    /// A kubeconfig's embedded field is not base64 PEM.
    #[error("{file}: {field} is not base64 PEM")]
    NotPem {
        /// `host/path`.
        file: String,
        /// The kubeconfig field.
        field: &'static str,
    },
    /// kcompile's catalog has a certificate kubeadm does not make.
    #[error("kubeadm keeps no `{0}` certificate")]
    NotKubeadms(String),
    /// A tutorial-style host keeps no such certificate ([`super::tutorial::location`]).
    #[error("{0}")]
    NotTutorials(&'static str),
    /// The certificate does not parse.
    #[error(transparent)]
    Certificate(#[from] crate::pki::inspect::CertificateError),
    /// The key does not parse.
    #[error("its key: {0}")]
    Key(crate::pki::keys::KeyError),
    /// The pair is not what the catalog asks for (its CA, key or SANs).
    #[error(transparent)]
    Mismatch(#[from] crate::pki::inspect::ExternalMismatch),
    /// Another common name.
    #[error("its CN is `{held}`, kcompile's is `{wanted}`")]
    CommonName {
        /// The certificate's.
        held: String,
        /// The catalog's.
        wanted: String,
    },
    /// An organization the catalog asks for is missing.
    #[error("its subject lacks O={0}")]
    Organization(String),
    /// Its validity has ended.
    #[error("it has expired")]
    Expired,
}

/// Where kubeadm keeps a catalog leaf on its host: the file, its certificate and its key.
fn found(host: &HostFiles, leaf: &CertSpec) -> Result<(String, String, String), NotKept> {
    let file = leaf.file.as_str();
    let pair = |crt: &str, key: &str| -> Result<(String, String, String), NotKept> {
        let cert = read(host, crt)?.ok_or_else(|| NotKept::Absent(host.file(crt)))?;
        let key = read(host, key)?.ok_or_else(|| NotKept::Absent(host.file(key)))?;
        Ok((crt.to_owned(), cert, key))
    };
    if host.tutorial.is_some() {
        return match super::tutorial::location(host, file) {
            super::tutorial::Location::Pair { cert, key } => pair(&cert, &key),
            super::tutorial::Location::Embedded(kubeconfig) => embedded(host, &kubeconfig),
            super::tutorial::Location::NotKept(why) => Err(NotKept::NotTutorials(why)),
        };
    }
    match file {
        "apiserver"
        | "apiserver-kubelet-client"
        | "apiserver-etcd-client"
        | "front-proxy-client"
        | "etcd/server"
        | "etcd/peer"
        | "etcd/healthcheck-client" => pair(
            &format!("etc/kubernetes/pki/{file}.crt"),
            &format!("etc/kubernetes/pki/{file}.key"),
        ),
        "admin" | "super-admin" | "controller-manager" | "scheduler" => {
            embedded(host, &format!("etc/kubernetes/{file}.conf"))
        }
        "kubelet-client" => {
            let current = "var/lib/kubelet/pki/kubelet-client-current.pem";
            match read(host, current)? {
                Some(both) => {
                    let (cert, key) =
                        split_key(&both).ok_or_else(|| NotKept::NoKey(host.file(current)))?;
                    Ok((current.to_owned(), cert, key))
                }
                None => embedded(host, super::host::KUBELET_KUBECONFIG),
            }
        }
        "kubelet-serving" => pair(
            "var/lib/kubelet/pki/kubelet.crt",
            "var/lib/kubelet/pki/kubelet.key",
        ),
        _ => Err(NotKept::NotKubeadms(file.to_owned())),
    }
}

/// A PEM text holding a certificate and a key (the kubelet's rotated client pair), split in two
/// texts, each byte for byte as written.
fn split_key(both: &str) -> Option<(String, String)> {
    let start = both.find("-----BEGIN ")?;
    let key_start = both[start..]
        .match_indices("-----BEGIN ")
        .map(|(at, _)| start + at)
        .find(|at| {
            both[*at..]
                .lines()
                .next()
                .is_some_and(|line| line.contains("PRIVATE KEY"))
        })?;
    let end_marker = "PRIVATE KEY-----";
    let key_end = both[key_start..]
        .match_indices("-----END ")
        .map(|(at, _)| key_start + at)
        .next()?;
    let key_end = key_end + both[key_end..].find(end_marker)? + end_marker.len();
    let key = format!("{}\n", &both[key_start..key_end]);
    let cert = format!("{}{}", &both[..key_start], &both[key_end..])
        .trim()
        .to_owned()
        + "\n";
    Some((cert, key))
}

/// The client certificate and key a kubeconfig embeds.
fn embedded(host: &HostFiles, file: &str) -> Result<(String, String, String), NotKept> {
    let text = read(host, file)?.ok_or_else(|| NotKept::Absent(host.file(file)))?;
    let value = crate::verify::material::yaml(&text).map_err(|e| NotKept::Unreadable {
        file: host.file(file),
        reason: e.to_string(),
    })?;
    let field = |name: &'static str| -> Result<String, NotKept> {
        let data = crate::verify::material::text_at(&value, &format!("/users/0/user/{name}"))
            .ok_or_else(|| NotKept::NotEmbedded {
                file: host.file(file),
                field: name,
            })?;
        STANDARD
            .decode(data.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| NotKept::NotPem {
                file: host.file(file),
                field: name,
            })
    };
    Ok((
        file.to_owned(),
        field("client-certificate-data")?,
        field("client-key-data")?,
    ))
}

/// The text of `file` on `host`, if it has one.
fn read(host: &HostFiles, file: &str) -> Result<Option<String>, NotKept> {
    host.root
        .read(file)
        .map_err(|e| NotKept::Unreadable {
            file: host.file(file),
            reason: e.reason().clone(),
        })?
        .map(|bytes| String::from_utf8(bytes).map_err(|_| NotKept::NotText(host.file(file))))
        .transpose()
}

/// Whether a held certificate and key are the catalog's `leaf`: its key, signed by its CA, its
/// subject, every SAN it asks for, and not expired. Returns the parsed key.
fn fits(
    leaf: &CertSpec,
    cert: &str,
    key: &str,
    ca_pem: &str,
    now: OffsetDateTime,
) -> Result<Key, NotKept> {
    let inspected = Inspected::parse(cert)?;
    let key = Key::from_pem(key).map_err(NotKept::Key)?;
    inspected.check_external(leaf, ca_pem, &key)?;
    if inspected.common_name != leaf.common_name {
        return Err(NotKept::CommonName {
            held: inspected.common_name,
            wanted: leaf.common_name.clone(),
        });
    }
    for organization in &leaf.organizations {
        if !inspected.subject.contains(&format!("O={organization}")) {
            return Err(NotKept::Organization(organization.clone()));
        }
    }
    if inspected.not_after <= now {
        return Err(NotKept::Expired);
    }
    Ok(key)
}

/// The members of a stacked etcd as their pods start them: the first with
/// `--initial-cluster-state=new` formed the cluster, the others joined (kubeadm's way).
fn members(cluster: &Cluster, hosts: &[HostFiles]) -> Result<Option<Record>, AdoptError> {
    let mut members = Vec::new();
    for host in &cluster.hosts {
        if !host.has(Role::Etcd) {
            continue;
        }
        let Some(pod) = hosts
            .iter()
            .find(|files| files.name == host.name)
            .and_then(|files| files.pods.get(&Component::Etcd))
        else {
            continue;
        };
        let unsupported = |what: String| AdoptError::Unsupported {
            file: format!("{}/{}", host.name, pod.file),
            what,
        };
        if pod.flag("name") != Some(host.name.as_str()) {
            return Err(unsupported(format!(
                "the member is named `{}`, not after its host `{}`",
                pod.flag("name").unwrap_or_default(),
                host.name
            )));
        }
        let state = match pod.flag("initial-cluster-state") {
            Some("existing") => InitialClusterState::Existing,
            _ => InitialClusterState::New,
        };
        members.push(Member {
            name: host.name.clone(),
            peer_url: peer_url(host),
            client_url: client_url(host),
            status: match state {
                InitialClusterState::New => Status::Bootstrapped,
                InitialClusterState::Existing => Status::Joined,
            },
            initial_cluster: pod
                .flag("initial-cluster")
                .ok_or_else(|| unsupported("it passes no --initial-cluster".into()))?
                .to_owned(),
            initial_cluster_state: state,
        });
    }
    if members.is_empty() {
        return Ok(None);
    }
    let sequential = members
        .iter()
        .any(|member| member.initial_cluster_state == InitialClusterState::Existing);
    Ok(Some(Record {
        format_version: crate::etcd_membership::FORMAT_VERSION,
        bootstrap: if sequential {
            EtcdBootstrap::Sequential
        } else {
            EtcdBootstrap::Static
        },
        members,
    }))
}
