//! Parsing what `verify` reads, each file kind on its own and without judging it: certificates
//! and keys in PEM (several blocks per file, the kubelet's combined cert+key files), kubeconfigs,
//! static pods, the kubelet's and kube-proxy's configs, and the kubelet's systemd unit.
//!
//! An error says what is wrong and where (a line and column, a field name), never what the file
//! holds there: the YAML parser's own messages quote the lines around the error, the PEM and base64
//! decoders quote the byte they stumbled on, and in a kubeconfig or a key that is a secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::component::Component;
use crate::pki::inspect::{CertificateError, Inspected};
use crate::pki::keys::{Key, KeyError, pem_block};

/// Why a file `verify` reads cannot be parsed as what its path holds. No variant carries the
/// file's bytes: the messages say what and where, never what the file holds there.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// Not PEM (what is wrong with its framing).
    #[error("not PEM: {0}")]
    Pem(&'static str),
    /// PEM without the block kind asked for.
    #[error("it holds no {0}")]
    Missing(&'static str),
    /// A certificate block that is not X.509.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// A private key block kcompile cannot read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A `PUBLIC KEY` block that is not one.
    #[error("not a public key: {0}")]
    PublicKey(x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// Text that is not YAML, at this line and column if known.
    #[error("not YAML{}", at.map(|(line, column)| format!(" (line {line}, column {column})")).unwrap_or_default())]
    Yaml {
        /// Line and column.
        at: Option<(u64, u64)>,
    },
    /// A kubeconfig that is not YAML.
    #[error("not a kubeconfig: {0}")]
    KubeconfigYaml(Box<MaterialError>),
    /// YAML of another kind than the file should hold.
    #[error("{0}")]
    Kind(&'static str),
    /// A kubeconfig whose current context is not defined.
    #[error("current-context `{0}` is not among its contexts")]
    UnknownContext(String),
    /// A kubeconfig with no current context and several (or no) contexts.
    #[error("no current-context, and not exactly one context")]
    NoContext,
    /// A kubeconfig whose current context names a missing cluster.
    #[error("cluster `{0}` of the current context is missing")]
    MissingCluster(String),
    /// A kubeconfig `*-data` field that is not base64.
    #[error("{0} is not base64")]
    NotBase64(&'static str),
}

/// Every certificate of a PEM text, in order (a leaf first, then its intermediates).
pub fn certificates(bytes: &[u8]) -> Result<Vec<Inspected>, MaterialError> {
    let blocks = pem::parse_many(bytes).map_err(pem_error)?;
    let certs: Vec<Inspected> = blocks
        .iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(|block| Inspected::from_der(block.contents()))
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err(MaterialError::Missing("CERTIFICATE block"));
    }
    Ok(certs)
}

/// The public half of the private key in a PEM text (the first `… PRIVATE KEY` block).
pub fn private_key(bytes: &[u8]) -> Result<Vec<u8>, MaterialError> {
    let blocks = pem::parse_many(bytes).map_err(pem_error)?;
    let block = blocks
        .iter()
        .find(|block| block.tag().ends_with("PRIVATE KEY"))
        .ok_or(MaterialError::Missing("PRIVATE KEY block"))?;
    let key = Key::from_pem(&pem_block(block.tag(), block.contents().to_vec()))?;
    Ok(key.pair.public_key_raw().to_vec())
}

/// A public key from a `PUBLIC KEY` block, a certificate, or a private key (as `sa.pub`,
/// `--service-account-key-file`, accepts).
pub fn public_key(bytes: &[u8]) -> Result<Vec<u8>, MaterialError> {
    let blocks = pem::parse_many(bytes).map_err(pem_error)?;
    for block in &blocks {
        match block.tag() {
            "PUBLIC KEY" => {
                let (_, info) = SubjectPublicKeyInfo::from_der(block.contents())
                    .map_err(MaterialError::PublicKey)?;
                return Ok(info.subject_public_key.data.to_vec());
            }
            "RSA PUBLIC KEY" => return Ok(block.contents().to_vec()),
            "CERTIFICATE" => return Ok(Inspected::from_der(block.contents())?.public_key),
            tag if tag.ends_with("PRIVATE KEY") => return private_key(bytes),
            _ => {}
        }
    }
    Err(MaterialError::Missing(
        "public key, certificate or private key",
    ))
}

/// The subject's organizations (O=) of a certificate.
pub fn organizations(cert: &Inspected) -> Vec<String> {
    X509Certificate::from_der(&cert.der)
        .map(|(_, cert)| {
            cert.subject()
                .iter_organization()
                .filter_map(|o| o.as_str().ok().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The extended key usages a certificate lists (its EKU extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usages {
    /// `serverAuth` (or `anyExtendedKeyUsage`): TLS clients accept it from a server.
    pub server: bool,
    /// `clientAuth` (or `anyExtendedKeyUsage`): TLS servers accept it from a client.
    pub client: bool,
    /// Every usage listed, by its OpenSSL short name (`serverAuth`) or OID, for messages.
    pub listed: Vec<String>,
}

/// The extended key usages of a certificate; `None` when it has no EKU extension, which Go's TLS
/// (and OpenSSL) take as good for any use.
pub fn extended_usages(cert: &Inspected) -> Option<Usages> {
    let (_, parsed) = X509Certificate::from_der(&cert.der).ok()?;
    let extension = parsed.extended_key_usage().ok()??;
    let eku = extension.value;
    let mut listed = Vec::new();
    for (present, name) in [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ] {
        if present {
            listed.push(name.to_owned());
        }
    }
    listed.extend(eku.other.iter().map(ToString::to_string));
    Some(Usages {
        server: eku.any || eku.server_auth,
        client: eku.any || eku.client_auth,
        listed,
    })
}

/// Whether the first certificate of `leaf` (with the intermediates after it) chains to one of
/// `bundle`'s certificates.
pub fn chains_to(leaf: &[Inspected], bundle: &[Inspected]) -> bool {
    let Some(mut current) = leaf.first() else {
        return false;
    };
    for _ in 0..8 {
        if bundle
            .iter()
            .any(|ca| ca.der == current.der || current.issued_by(ca))
        {
            return true;
        }
        match leaf[1..]
            .iter()
            .find(|next| next.der != current.der && current.issued_by(next))
        {
            Some(next) => current = next,
            None => return false,
        }
    }
    false
}

/// Whether a certificate is valid for `host` as Go's `VerifyHostname` sees it: IPs against IP
/// SANs, names against DNS SANs (case-insensitive, `*.` matching one label).
pub fn covers(cert: &Inspected, host: &str) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return cert.sans.iter().any(|san| {
            san.strip_prefix("IP:")
                .and_then(|s| s.parse::<std::net::IpAddr>().ok())
                == Some(ip)
        });
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    cert.sans
        .iter()
        .filter_map(|san| san.strip_prefix("DNS:"))
        .map(str::to_ascii_lowercase)
        .any(|name| {
            name == host
                || name.strip_prefix("*.").is_some_and(|rest| {
                    host.split_once('.')
                        .is_some_and(|(label, tail)| !label.is_empty() && tail == rest)
                })
        })
}

/// The host of a URL (`https://10.0.0.1:6443` → `10.0.0.1`, `https://[::1]:2379` → `::1`).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority, |(host, _)| host)
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// Where a kubeconfig's certificate, key or CA comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Embedded (`…-data`), decoded; the field name for messages.
    Data(&'static str, Vec<u8>),
    /// A file path as written (relative to the kubeconfig's directory when not absolute).
    File(&'static str, String),
}

/// What `verify` needs of a kubeconfig: its current context's cluster and user.
#[derive(Debug, Clone, Default)]
pub struct Kubeconfig {
    /// The user name of the current context.
    pub user: String,
    /// The cluster's server URL.
    pub server: Option<String>,
    /// The CA clients trust.
    pub ca: Option<Source>,
    /// `insecure-skip-tls-verify: true`.
    pub insecure: bool,
    /// The client certificate.
    pub client_cert: Option<Source>,
    /// The client key.
    pub client_key: Option<Source>,
}

/// Parses a kubeconfig and picks its current context (or its only one).
pub fn kubeconfig(text: &str) -> Result<Kubeconfig, MaterialError> {
    let config: Value = serde_saphyr::from_str(text)
        .map_err(|e| MaterialError::KubeconfigYaml(Box::new(yaml_error(&e))))?;
    if config.get("kind").and_then(Value::as_str) != Some("Config") {
        return Err(MaterialError::Kind("not a kubeconfig: no `kind: Config`"));
    }
    let named = |list: &str, name: &str, field: &str| -> Option<Value> {
        config.get(list)?.as_array()?.iter().find_map(|item| {
            (item.get("name")?.as_str()? == name).then(|| item.get(field).cloned())?
        })
    };
    let contexts = config.get("contexts").and_then(Value::as_array);
    let current = config.get("current-context").and_then(Value::as_str);
    let context = match current.filter(|c| !c.is_empty()) {
        Some(name) => named("contexts", name, "context")
            .ok_or_else(|| MaterialError::UnknownContext(name.to_owned()))?,
        None => match contexts.map(Vec::as_slice) {
            Some([only]) => only.get("context").cloned().unwrap_or_default(),
            _ => return Err(MaterialError::NoContext),
        },
    };
    let text_of =
        |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let cluster_name = text_of(&context, "cluster").unwrap_or_default();
    let user = text_of(&context, "user").unwrap_or_default();
    let cluster = named("clusters", &cluster_name, "cluster")
        .ok_or_else(|| MaterialError::MissingCluster(cluster_name.clone()))?;
    let credentials = named("users", &user, "user").unwrap_or_default();
    Ok(Kubeconfig {
        server: text_of(&cluster, "server"),
        ca: source(&cluster, "certificate-authority")?,
        insecure: cluster
            .get("insecure-skip-tls-verify")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        client_cert: source(&credentials, "client-certificate")?,
        client_key: source(&credentials, "client-key")?,
        user,
    })
}

/// `field-data` (base64) or `field` (a path) of a kubeconfig section.
fn source(section: &Value, field: &'static str) -> Result<Option<Source>, MaterialError> {
    let data_field: &'static str = match field {
        "certificate-authority" => "certificate-authority-data",
        "client-certificate" => "client-certificate-data",
        _ => "client-key-data",
    };
    if let Some(data) = section.get(data_field).and_then(Value::as_str) {
        // The decoder's error quotes the offending byte: of a key, a secret.
        let cleaned: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = STANDARD
            .decode(cleaned)
            .map_err(|_| MaterialError::NotBase64(data_field))?;
        return Ok(Some(Source::Data(data_field, bytes)));
    }
    Ok(section
        .get(field)
        .and_then(Value::as_str)
        .filter(|path| !path.is_empty())
        .map(|path| Source::File(field, path.to_owned())))
}

/// A container's view of a static pod: what `verify` checks.
#[derive(Debug, Clone, Default)]
pub struct Pod {
    /// The container's name.
    pub name: String,
    /// Which component it runs, told by its name, command or image.
    pub component: Option<Component>,
    /// Its image.
    pub image: String,
    /// Its flags, in order, without dashes; a bare `--flag` has the value `true`.
    pub flags: Vec<(String, String)>,
    /// Its volume mounts: the path in the container, the hostPath it shows (`None` when the
    /// volume is not a hostPath or does not exist).
    pub mounts: Vec<(String, Option<String>)>,
    /// The user the container runs as, when its `securityContext` (the container's, else the
    /// pod's) names one; `None` is the image's user (root for the control-plane images).
    pub run_as: Option<RunAs>,
}

/// The user, group and supplemental groups a container's process has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// `runAsUser`.
    pub uid: u32,
    /// `runAsGroup` (0 when unset, as the runtime gives a user the image does not name).
    pub gid: u32,
    /// `supplementalGroups` and `fsGroup`.
    pub groups: Vec<u32>,
}

impl RunAs {
    /// Whether this process may read a file with `owner` (uid, gid) and permission bits `mode`,
    /// and by which bits: `Some("owner" | "group" | "others")`, `None` when it may not.
    pub fn reads(&self, owner: (u32, u32), mode: u32) -> Option<&'static str> {
        if self.uid == 0 {
            return Some("owner");
        }
        if self.uid == owner.0 {
            return (mode & 0o400 != 0).then_some("owner");
        }
        if (self.gid == owner.1 || self.groups.contains(&owner.1)) && mode & 0o040 != 0 {
            return Some("group");
        }
        (mode & 0o004 != 0).then_some("others")
    }
}

/// The process identity a pod's `securityContext` fields give its first container.
fn run_as(pod: &Value, container: &Value) -> Option<RunAs> {
    let id = |value: &Value, field: &str| {
        value
            .pointer(&format!("/securityContext/{field}"))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let spec = pod.get("spec")?;
    let field = |name: &str| id(container, name).or_else(|| id(spec, name));
    let uid = field("runAsUser")?;
    let mut groups: Vec<u32> = spec
        .pointer("/securityContext/supplementalGroups")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_u64)
                .filter_map(|n| u32::try_from(n).ok())
                .collect()
        })
        .unwrap_or_default();
    groups.extend(id(spec, "fsGroup"));
    Some(RunAs {
        uid,
        gid: field("runAsGroup").unwrap_or(0),
        groups,
    })
}

impl Pod {
    /// The first value of a flag.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(flag, _)| flag == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a flag (flags like `--service-account-key-file` repeat).
    pub fn flag_values(&self, name: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|(flag, _)| flag == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The mount that makes `path` visible in the container (the most specific one).
    pub fn mount_for(&self, path: &str) -> Option<&(String, Option<String>)> {
        self.mounts
            .iter()
            .filter(|(mount_path, _)| crate::render::pod::covers(mount_path, path))
            .max_by_key(|(mount_path, _)| mount_path.len())
    }

    /// The host path behind a container path (the path itself when nothing maps it).
    pub fn host_path(&self, path: &str) -> String {
        match self.mount_for(path) {
            Some((mount_path, Some(host))) => {
                let rest = &path[mount_path.trim_end_matches('/').len()..];
                format!("{}{rest}", host.trim_end_matches('/'))
            }
            _ => path.to_owned(),
        }
    }
}

/// Parses a static pod manifest (YAML or JSON).
pub fn pod(text: &str) -> Result<Pod, MaterialError> {
    let pod: Value = serde_saphyr::from_str(text).map_err(|e| yaml_error(&e))?;
    if pod.get("kind").and_then(Value::as_str) != Some("Pod") {
        return Err(MaterialError::Kind("not a Pod manifest (no `kind: Pod`)"));
    }
    let container = pod
        .pointer("/spec/containers/0")
        .ok_or(MaterialError::Kind("the pod has no container"))?;
    let strings = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let command = strings(container.get("command"));
    let args = strings(container.get("args"));
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let binary = command
        .first()
        .and_then(|c| c.rsplit('/').next())
        .unwrap_or_default();
    let image_name = image_repository(&image)
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let component = [name.as_str(), binary, image_name]
        .iter()
        .find_map(|candidate| component_named(candidate));
    let mut words: Vec<&String> = command.iter().skip(1).collect();
    words.extend(args.iter());
    let volumes: Vec<&Value> = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let mounts = container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .map(|mounts| {
            mounts
                .iter()
                .filter_map(|mount| {
                    let path = mount.get("mountPath")?.as_str()?.to_owned();
                    let volume = mount.get("name").and_then(Value::as_str);
                    let host = volumes
                        .iter()
                        .find(|v| v.get("name").and_then(Value::as_str) == volume)
                        .and_then(|v| v.pointer("/hostPath/path"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    Some((path, host))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Pod {
        name,
        component,
        image,
        flags: flags(words.iter().map(|w| w.as_str())),
        mounts,
        run_as: run_as(&pod, container),
    })
}

/// The component a binary, container or image is named for.
fn component_named(name: &str) -> Option<Component> {
    Component::ALL
        .into_iter()
        .find(|component| component.binary() == name)
}

/// `--name=value` / `--name value` / `--flag` words as (name, value) pairs.
pub fn flags<'a>(words: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    let words: Vec<&str> = words.collect();
    let mut flags = Vec::new();
    let mut index = 0;
    while index < words.len() {
        let word = words[index];
        index += 1;
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            continue;
        };
        if let Some((name, value)) = flag.split_once('=') {
            flags.push((name.to_owned(), value.to_owned()));
        } else {
            let next = words.get(index).copied();
            match next.filter(|n| !n.starts_with('-') && !n.starts_with('$')) {
                Some(value) => {
                    flags.push((flag.to_owned(), value.to_owned()));
                    index += 1;
                }
                None => flags.push((flag.to_owned(), "true".to_owned())),
            }
        }
    }
    flags
}

/// `registry.k8s.io/kube-apiserver:v1.36.3` → `registry.k8s.io/kube-apiserver`.
fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => image,
    }
}

/// The tag of an image reference (`v1.36.3`), if it has one.
pub fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image);
    image
        .rsplit_once(':')
        .map(|(_, tag)| tag)
        .filter(|tag| !tag.contains('/') && !tag.is_empty())
}

/// Reads a YAML (or JSON) document into a generic value.
pub fn yaml(text: &str) -> Result<Value, MaterialError> {
    serde_saphyr::from_str(text).map_err(|e| yaml_error(&e))
}

/// Where a YAML text stops parsing (`not YAML (line 3, column 5)`), without the parser's message:
/// it quotes the lines around the error, which in a kubeconfig hold its key.
fn yaml_error(error: &serde_saphyr::Error) -> MaterialError {
    MaterialError::Yaml {
        at: error.location().map(|at| (at.line(), at.column())),
    }
}

/// What is wrong with a PEM text, without the bytes or header lines the decoder quotes.
#[expect(clippy::needless_pass_by_value, reason = "a `map_err` callback")]
fn pem_error(error: pem::PemError) -> MaterialError {
    let what = match error {
        pem::PemError::MismatchedTags(..) => "its BEGIN and END lines do not match",
        pem::PemError::MalformedFraming => "its BEGIN or END line is malformed",
        pem::PemError::MissingBeginTag => "a BEGIN line is missing",
        pem::PemError::MissingEndTag => "an END line is missing",
        pem::PemError::MissingData => "a block is empty",
        pem::PemError::InvalidData(_) => "a block is not valid base64",
        pem::PemError::InvalidHeader(_) => "a header line is malformed",
        pem::PemError::NotUtf8(_) => "it is not text",
    };
    MaterialError::Pem(what)
}

/// A string at a `/`-separated pointer of a YAML value.
pub fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The flags of the `ExecStart=` lines of a systemd unit (continuation lines joined).
pub fn unit_flags(text: &str) -> Vec<(String, String)> {
    let joined = text.replace("\\\n", " ");
    let mut words = Vec::new();
    for line in joined.lines() {
        if let Some(command) = line.trim().strip_prefix("ExecStart=") {
            words.extend(command.split_whitespace().map(str::to_owned));
        }
    }
    flags(words.iter().map(String::as_str))
}

/// The flags of an environment file's variables (`KUBELET_KUBEADM_ARGS="--a=b --c=d"`, as
/// kubeadm writes `/var/lib/kubelet/kubeadm-flags.env`).
pub fn env_flags(text: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((_, value)) = line.split_once('=') {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            words.extend(value.split_whitespace().map(str::to_owned));
        }
    }
    flags(words.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("https://10.0.0.1:6443").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(url_host("https://[::1]:2379").as_deref(), Some("::1"));
        assert_eq!(
            url_host("https://api.example.com").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(url_host("https://lb:6443/path").as_deref(), Some("lb"));
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("registry.k8s.io/etcd:3.6.6-0"), Some("3.6.6-0"));
        assert_eq!(image_tag("localhost:5000/kube-apiserver"), None);
        assert_eq!(
            image_repository("localhost:5000/kube-apiserver:v1.36.3"),
            "localhost:5000/kube-apiserver"
        );
    }

    #[test]
    fn errors_never_quote_what_a_file_holds() {
        let secret = "MHcCAQEEIOi17s2cV1uKOVKYgbnMYraCZjGztzy";
        let broken = format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    client-key-data: {secret}\n   bad: : :\n"
        );
        let error = kubeconfig(&broken).unwrap_err().to_string();
        assert_eq!(error, "not a kubeconfig: not YAML (line 7, column 4)");
        let unquoted = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\nclusters: [{{name: k, cluster: {{server: s}}}}]\nusers: [{{name: u, user: {{client-key-data: \"{secret}!\"}}}}]\n"
        );
        let error = kubeconfig(&unquoted).unwrap_err().to_string();
        assert_eq!(error, "client-key-data is not base64");
        let pem =
            format!("-----BEGIN EC PRIVATE KEY-----\n{secret}!!\n-----END EC PRIVATE KEY-----\n");
        let error = private_key(pem.as_bytes()).unwrap_err().to_string();
        assert!(!error.contains("MHcC") && !error.contains('!'), "{error}");
        assert!(
            !yaml(&format!("a: [{secret}"))
                .unwrap_err()
                .to_string()
                .contains("MHcC")
        );
    }

    #[test]
    fn flag_words() {
        let parsed = flags(["--a=1", "--b", "2", "--c", "--d=x=y"].into_iter());
        assert_eq!(
            parsed,
            [("a", "1"), ("b", "2"), ("c", "true"), ("d", "x=y")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        let unit = "[Service]\nExecStart=/usr/bin/kubelet \\\n  --config=/c.yaml \\\n  --node-ip=10.0.0.1\n";
        assert_eq!(unit_flags(unit).len(), 2);
        let env = "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock --hostname-override=node-a\"\n";
        assert_eq!(
            env_flags(env)[1],
            ("hostname-override".to_owned(), "node-a".to_owned())
        );
    }
}
