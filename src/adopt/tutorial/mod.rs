//! A tutorial-style host, as Kelsey Hightower's "Kubernetes The Hard Way" builds one (its cfssl
//! era, up to commit 79a3f79b27bd28f82f071bb877a266c2e62ee506, "Update to Kubernetes 1.21.0":
//! `docs/04-certificate-authority.md` to `docs/09-bootstrapping-kubernetes-workers.md`): etcd and
//! the control plane run as systemd services from binaries (`etc/systemd/system/*.service`, the
//! flags in `ExecStart=`), the files carry cfssl's names (`ca.pem`, `ca-key.pem`,
//! `kubernetes.pem`, `service-account-key.pem`, `<worker>.pem`) under `/var/lib/kubernetes/`,
//! `/etc/etcd/`, `/var/lib/kubelet/` and `/var/lib/kube-proxy/`, one CA signs everything, and
//! the controllers run no kubelet.
//!
//! [`read_host`] reads such a host into the same [`HostFiles`] a kubeadm host gives (a unit in
//! place of each static pod, with the image kcompile will run in its place), [`location`] says
//! where it keeps each certificate of kcompile's catalog, [`import_authorities`] stages its CA
//! and service-account key, [`amend`] carries what the spec needs beyond kubeadm's shape,
//! [`switch::explain`] gives the reasons of the changes that differ from a kubeadm host's, and
//! [`switch::cutover`] lists what an operator does on each host to switch from the units to kcompile's
//! static pods, one host at a time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

use super::AdoptError;
use super::host::{HostFiles, read_text as text};
use super::spec::Discovered;
use super::systemd::exec_start;
use crate::component::Component;
use crate::pki::inspect::Inspected;
use crate::pki::keys::Key;
use crate::root::Root;
use crate::spec::{KubeProxySpec, KubeletSpec};
use crate::state::Transaction;
use crate::verify::material::{text_at, yaml};

pub mod switch;

/// The units that run a component in place of kubeadm's static pods.
pub const UNITS: [(Component, &str); 5] = [
    (Component::Etcd, "etc/systemd/system/etcd.service"),
    (
        Component::ApiServer,
        "etc/systemd/system/kube-apiserver.service",
    ),
    (
        Component::ControllerManager,
        "etc/systemd/system/kube-controller-manager.service",
    ),
    (
        Component::Scheduler,
        "etc/systemd/system/kube-scheduler.service",
    ),
    (
        Component::KubeProxy,
        "etc/systemd/system/kube-proxy.service",
    ),
];
/// The kubelet's unit.
pub const KUBELET_UNIT: &str = "etc/systemd/system/kubelet.service";
/// The kubelet's configuration, where the tutorial writes it.
pub const KUBELET_CONFIG: &str = "var/lib/kubelet/kubelet-config.yaml";
/// The kubelet's kubeconfig, where the tutorial writes it.
pub const KUBELET_KUBECONFIG: &str = "var/lib/kubelet/kubeconfig";

/// The scheduler configuration fields kcompile writes itself (its kubeconfig, leader election
/// on): a tutorial's file that sets nothing else is what kcompile renders.
const SCHEDULER_OWNED: [&str; 4] = ["apiVersion", "kind", "clientConnection", "leaderElection"];
/// The kube-proxy configuration fields kcompile writes itself or takes from spec fields.
const PROXY_OWNED: [&str; 5] = [
    "apiVersion",
    "kind",
    "clientConnection",
    "mode",
    "clusterCIDR",
];
/// The kubelet configuration fields kcompile writes itself or takes from spec fields.
const KUBELET_OWNED: [&str; 9] = [
    "apiVersion",
    "kind",
    "authentication",
    "authorization",
    "clusterDomain",
    "clusterDNS",
    "tlsCertFile",
    "tlsPrivateKeyFile",
    "podCIDR",
];

/// What a tutorial-style host holds beyond the kubeadm shape [`HostFiles`] describes.
#[derive(Debug, Clone, Default)]
pub struct Tutorial {
    /// Each unit that runs a component, with the program it starts.
    pub units: Vec<(Component, &'static str, String)>,
    /// The kubelet's program, when the host runs a kubelet.
    pub kubelet_binary: Option<String>,
    /// The node address, with the file it was read from.
    pub address: Option<(String, IpAddr)>,
    /// The scheduler's `--config` file and its contents.
    pub scheduler_config: Option<(String, Value)>,
    /// kube-proxy's `--config` file and its contents.
    pub proxy_config: Option<(String, Value)>,
}

/// Whether the host copied to `root` runs its components from systemd units the tutorial's way
/// and holds none of kubeadm's marks (its apiserver manifest, its kubelet flags file); looked up
/// through [`Root`], so a link never leads out of the copy.
pub fn is_tutorial(root: &Path) -> bool {
    let Ok(root) = Root::open(root) else {
        return false;
    };
    let has = |file: &str| {
        root.stat(file)
            .ok()
            .flatten()
            .is_some_and(|found| found.kind == crate::root::Kind::File)
    };
    UNITS.iter().any(|(_, unit)| has(unit))
        && !has("etc/kubernetes/manifests/kube-apiserver.yaml")
        && !has(super::host::KUBEADM_FLAGS)
}

/// Reads a tutorial-style host. `version` is the Kubernetes release its binaries run (a copy of
/// its files cannot tell): the image kcompile runs in each unit's place.
pub fn read_host(name: &str, path: &Path, version: Option<&str>) -> Result<HostFiles, AdoptError> {
    let mut host = HostFiles::read(name, path)?;
    let mut tutorial = Tutorial::default();
    for (component, unit) in UNITS {
        let Some(text) = text(&host.root, name, unit)? else {
            continue;
        };
        let command = exec_start(&text).ok_or_else(|| AdoptError::Unsupported {
            file: host.file(unit),
            what: "no ExecStart= command".into(),
        })?;
        let image = if component == Component::Etcd {
            command.binary.clone()
        } else {
            let version = version.ok_or_else(|| AdoptError::Unsupported {
                file: host.file(unit),
                what: format!(
                    "it runs {} from the host, whose release a copy of its files cannot tell: pass --kubernetes-version with what `{} --version` prints",
                    command.binary,
                    command.binary.rsplit('/').next().unwrap_or_default()
                ),
            })?;
            format!("registry.k8s.io/{}:{version}", component.binary())
        };
        tutorial
            .units
            .push((component, unit, command.binary.clone()));
        host.pods.insert(
            component,
            super::host::Pod {
                file: unit,
                image,
                flags: command.flags,
                volumes: Vec::new(),
            },
        );
    }
    if let Some(text) = text(&host.root, name, KUBELET_UNIT)? {
        tutorial.kubelet_binary = exec_start(&text).map(|command| command.binary);
    }
    let config_file = host
        .kubelet_flag("config")
        .map_or(KUBELET_CONFIG.to_owned(), relative);
    if let Some(text) = text(&host.root, name, &config_file)? {
        host.kubelet_config = Some(parse(&host, &config_file, &text)?);
    }
    let kubeconfig = host
        .kubelet_flag("kubeconfig")
        .map_or(KUBELET_KUBECONFIG.to_owned(), relative);
    if let Some(text) = text(&host.root, name, &kubeconfig)? {
        let value = parse(&host, &kubeconfig, &text)?;
        host.server = text_at(&value, "/clusters/0/cluster/server");
    }
    for (component, slot) in [
        (Component::Scheduler, &mut tutorial.scheduler_config),
        (Component::KubeProxy, &mut tutorial.proxy_config),
    ] {
        let Some(file) = host
            .pods
            .get(&component)
            .and_then(|pod| pod.flag("config"))
            .map(relative)
        else {
            continue;
        };
        let text = text(&host.root, name, &file)?.ok_or_else(|| AdoptError::Unreadable {
            file: host.file(&file),
            reason:
                "absent, though its unit passes it with --config: fetch it with the host's files"
                    .into(),
        })?;
        *slot = Some((file.clone(), parse(&host, &file, &text)?));
    }
    if !host.pods.contains_key(&Component::ApiServer) && host.kubelet_flag("node-ip").is_none() {
        tutorial.address = Some(node_address(&host)?);
    }
    host.tutorial = Some(tutorial);
    Ok(host)
}

/// A worker's address: the one private IP address among its kubelet certificate's SANs (the
/// tutorial puts the node's internal and external addresses there, and the kubelet serves on it).
fn node_address(host: &HostFiles) -> Result<(String, IpAddr), AdoptError> {
    let file = serving_pair(host).0;
    let pem = text(&host.root, &host.name, &file)?.ok_or_else(|| AdoptError::Unsupported {
        file: host.file(&file),
        what: "absent: the node's address is read from the kubelet's certificate (or pass --node-ip in its unit)".into(),
    })?;
    let cert = Inspected::parse(&pem).map_err(|e| AdoptError::Unreadable {
        file: host.file(&file),
        reason: e.to_string(),
    })?;
    let private: Vec<IpAddr> = cert
        .sans
        .iter()
        .filter_map(|san| san.strip_prefix("IP:"))
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => v4.is_private(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
        })
        .collect();
    match private.as_slice() {
        [one] => Ok((file, *one)),
        _ => Err(AdoptError::Unsupported {
            file: host.file(&file),
            what: format!(
                "no node address: its SANs hold {} private IP addresses, not one; add --node-ip=ADDRESS to the kubelet's unit and fetch the host again",
                private.len()
            ),
        }),
    }
}

/// Where a tutorial host keeps a certificate of kcompile's catalog (`leaf` is its file name,
/// `apiserver`, `etcd/peer`): the files its units name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A certificate file and its key file.
    Pair {
        /// The certificate, relative to the root.
        cert: String,
        /// Its key.
        key: String,
    },
    /// A kubeconfig that embeds the pair.
    Embedded(String),
    /// The tutorial does not keep one, and why.
    NotKept(&'static str),
}

/// Where `host` keeps the catalog leaf `file`.
pub fn location(host: &HostFiles, file: &str) -> Location {
    let pair = |component: Component, cert: &str, key: &str| {
        let pod = host.pods.get(&component);
        match (
            pod.and_then(|pod| pod.flag(cert)),
            pod.and_then(|pod| pod.flag(key)),
        ) {
            (Some(cert), Some(key)) => Location::Pair {
                cert: relative(cert),
                key: relative(key),
            },
            _ => Location::NotKept("its unit names no such certificate"),
        }
    };
    let embedded = |component: Component| {
        let configured = match component {
            Component::Scheduler => host
                .tutorial
                .as_ref()
                .and_then(|t| t.scheduler_config.as_ref()),
            _ => host.tutorial.as_ref().and_then(|t| t.proxy_config.as_ref()),
        }
        .and_then(|(_, config)| text_at(config, "/clientConnection/kubeconfig"));
        let flagged = host
            .pods
            .get(&component)
            .and_then(|pod| pod.flag("kubeconfig"))
            .map(str::to_owned);
        flagged
            .or(configured)
            .map_or(Location::NotKept("its unit names no kubeconfig"), |file| {
                Location::Embedded(relative(&file))
            })
    };
    match file {
        "apiserver" => pair(
            Component::ApiServer,
            "tls-cert-file",
            "tls-private-key-file",
        ),
        "apiserver-kubelet-client" => pair(
            Component::ApiServer,
            "kubelet-client-certificate",
            "kubelet-client-key",
        ),
        "apiserver-etcd-client" => pair(Component::ApiServer, "etcd-certfile", "etcd-keyfile"),
        "front-proxy-client" => pair(
            Component::ApiServer,
            "proxy-client-cert-file",
            "proxy-client-key-file",
        ),
        "etcd/server" => pair(Component::Etcd, "cert-file", "key-file"),
        "etcd/peer" => pair(Component::Etcd, "peer-cert-file", "peer-key-file"),
        "etcd/healthcheck-client" => {
            Location::NotKept("the tutorial makes no etcd health-check client certificate")
        }
        "controller-manager" => embedded(Component::ControllerManager),
        "scheduler" => embedded(Component::Scheduler),
        "kube-proxy" => embedded(Component::KubeProxy),
        "kubelet-client"
            if host
                .tutorial
                .as_ref()
                .is_some_and(|t| t.kubelet_binary.is_some()) =>
        {
            Location::Embedded(
                host.kubelet_flag("kubeconfig")
                    .map_or(KUBELET_KUBECONFIG.to_owned(), relative),
            )
        }
        "kubelet-serving"
            if host
                .tutorial
                .as_ref()
                .is_some_and(|t| t.kubelet_binary.is_some()) =>
        {
            let (cert, key) = serving_pair(host);
            Location::Pair { cert, key }
        }
        "kubelet-client" | "kubelet-serving" => {
            Location::NotKept("the host runs no kubelet (the tutorial's controllers have none)")
        }
        "admin" | "super-admin" => Location::NotKept(
            "the tutorial keeps admin.kubeconfig in the home directory it was made in, for a user `admin` that is not kcompile's",
        ),
        _ => Location::NotKept("the tutorial makes no such certificate"),
    }
}

/// The kubelet's serving pair (its configuration's `tlsCertFile` and `tlsPrivateKeyFile`, else
/// the tutorial's `var/lib/kubelet/<host>.pem`).
fn serving_pair(host: &HostFiles) -> (String, String) {
    let field = |name: &str| {
        host.kubelet_config
            .as_ref()
            .and_then(|config| config.get(name))
            .and_then(Value::as_str)
            .map(relative)
    };
    (
        field("tlsCertFile").unwrap_or_else(|| format!("var/lib/kubelet/{}.pem", host.name)),
        field("tlsPrivateKeyFile")
            .unwrap_or_else(|| format!("var/lib/kubelet/{}-key.pem", host.name)),
    )
}

/// Stages the first controller's CA (also as the etcd CA: the tutorial's etcd trusts the one CA)
/// and service-account key pair, byte for byte. Returns the state paths staged.
pub fn import_authorities(
    state: &mut Transaction<'_>,
    first: &HostFiles,
) -> Result<Vec<String>, AdoptError> {
    let flag = |component: Component, name: &str| {
        first
            .pods
            .get(&component)
            .and_then(|pod| pod.flag(name))
            .map(relative)
    };
    let ca_file = flag(Component::ApiServer, "client-ca-file")
        .unwrap_or_else(|| "var/lib/kubernetes/ca.pem".into());
    let ca_key_file = flag(Component::ControllerManager, "cluster-signing-key-file")
        .unwrap_or_else(|| "var/lib/kubernetes/ca-key.pem".into());
    let ca_pem = required(
        first,
        &ca_file,
        "the cluster CA, which the kube-apiserver's --client-ca-file names",
    )?;
    let ca = Inspected::parse(&ca_pem).map_err(|e| AdoptError::Unreadable {
        file: first.file(&ca_file),
        reason: e.to_string(),
    })?;
    if !ca.is_ca {
        return Err(AdoptError::Unsupported {
            file: first.file(&ca_file),
            what: "not a CA certificate".into(),
        });
    }
    let ca_key_pem = required(
        first,
        &ca_key_file,
        "the cluster CA's key (the controller-manager's --cluster-signing-key-file): kcompile signs every certificate it issues with it",
    )?;
    let ca_key = Key::from_pem(&ca_key_pem).map_err(|e| AdoptError::Unreadable {
        file: first.file(&ca_key_file),
        reason: e.to_string(),
    })?;
    if !ca.matches_key(&ca_key) {
        return Err(AdoptError::Unsupported {
            file: first.file(&ca_key_file),
            what: format!("not the key of {ca_file}"),
        });
    }
    for name in ["trusted-ca-file", "peer-trusted-ca-file"] {
        let Some(file) = flag(Component::Etcd, name) else {
            continue;
        };
        let pem = required(first, &file, "the CA etcd trusts, which its unit names")?;
        let same =
            crate::pki::inspect::fingerprint(&pem) == crate::pki::inspect::fingerprint(&ca_pem);
        if !same {
            return Err(AdoptError::Unsupported {
                file: first.file(&file),
                what: format!(
                    "etcd's --{name} is not the cluster CA ({ca_file}): adopt takes over a tutorial cluster whose etcd trusts the one CA"
                ),
            });
        }
    }
    let mut staged = Vec::new();
    for (path, text, mode) in [
        ("pki/ca.crt", &ca_pem, 0o644),
        ("pki/ca.key", &ca_key_pem, 0o600),
        ("pki/etcd/ca.crt", &ca_pem, 0o644),
        ("pki/etcd/ca.key", &ca_key_pem, 0o600),
    ] {
        super::material::keep(state, path, text.clone(), mode)?;
    }
    staged.push(format!(
        "pki/ca.crt, pki/ca.key (from {})",
        first.file(&ca_file)
    ));
    staged.push(format!(
        "pki/etcd/ca.crt, pki/etcd/ca.key (the cluster CA from {}: the tutorial's etcd trusts it)",
        first.file(&ca_file)
    ));
    let sa_file = flag(
        Component::ControllerManager,
        "service-account-private-key-file",
    )
    .or_else(|| flag(Component::ApiServer, "service-account-signing-key-file"))
    .unwrap_or_else(|| "var/lib/kubernetes/service-account-key.pem".into());
    let sa_pem = required(first, &sa_file, "the service-account signing key")?;
    let sa = Key::from_pem(&sa_pem).map_err(|e| AdoptError::Unreadable {
        file: first.file(&sa_file),
        reason: e.to_string(),
    })?;
    if let Some(verifying) = flag(Component::ApiServer, "service-account-key-file") {
        let pem = required(first, &verifying, "the service-account verifying key")?;
        let matches = Inspected::parse(&pem).map_or_else(
            |_| pem.trim() == sa.public_pem().trim(),
            |cert| cert.matches_key(&sa),
        );
        if !matches {
            return Err(AdoptError::Unsupported {
                file: first.file(&verifying),
                what: format!(
                    "the kube-apiserver verifies service-account tokens with a key other than {sa_file}: kcompile keeps one signing key and verifies with it"
                ),
            });
        }
    }
    super::material::keep(state, "pki/sa.key", sa_pem, 0o600)?;
    super::material::keep(state, "pki/sa.pub", sa.public_pem(), 0o644)?;
    staged.push(format!(
        "pki/sa.key, pki/sa.pub (from {})",
        first.file(&sa_file)
    ));
    Ok(staged)
}

/// Carries into the spec what a tutorial cluster sets beyond kubeadm's shape: the kubelet's
/// program and configuration fields, kube-proxy's mode and configuration; and warns, naming the
/// file, about each setting kcompile does not carry.
pub fn amend(discovered: &mut Discovered, hosts: &[HostFiles]) {
    let tutorials: Vec<(&HostFiles, &Tutorial)> = hosts
        .iter()
        .filter_map(|host| host.tutorial.as_ref().map(|t| (host, t)))
        .collect();
    if tutorials.is_empty() {
        return;
    }
    let warnings = &mut discovered.warnings;
    let spec = &mut discovered.spec;
    let kubelet = spec.kubelet.get_or_insert_with(KubeletSpec::default);
    if let Some(binary) = tutorials.iter().find_map(|(_, t)| t.kubelet_binary.clone()) {
        kubelet.binary_path = Some(binary);
    }
    if let Some((host, config)) = hosts
        .iter()
        .find_map(|host| host.kubelet_config.as_ref().map(|config| (host, config)))
    {
        let file = host
            .kubelet_flag("config")
            .map_or(KUBELET_CONFIG.to_owned(), relative);
        let carried: BTreeMap<String, Value> = config
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(field, _)| !KUBELET_OWNED.contains(&field.as_str()))
            .map(|(field, value)| (field.clone(), value.clone()))
            .collect();
        kubelet.config = Some(carried).filter(|carried| !carried.is_empty());
        if config.get("podCIDR").is_some() {
            warnings.push(format!(
                "{}: podCIDR is not carried: the kubelet uses it only when it runs without an API server; the node's pod range stays the one its Node object has (and the tutorial's CNI bridge config keeps its own copy)",
                host.file(&file)
            ));
        }
        let anonymous = text_at(config, "/authentication/anonymous/enabled");
        let mode = text_at(config, "/authorization/mode");
        if anonymous.as_deref() == Some("true") || mode.as_deref().is_some_and(|m| m != "Webhook") {
            warnings.push(format!(
                "{}: its authentication/authorization differ from kcompile's (anonymous off, webhook authorization): the kubelets get kcompile's",
                host.file(&file)
            ));
        }
    }
    for (host, tutorial) in &tutorials {
        if let Some((file, config)) = &tutorial.scheduler_config {
            let extra: Vec<&String> = config
                .as_object()
                .into_iter()
                .flatten()
                .map(|(field, _)| field)
                .filter(|field| !SCHEDULER_OWNED.contains(&field.as_str()))
                .collect();
            let leader = text_at(config, "/leaderElection/leaderElect");
            if !extra.is_empty() || leader.as_deref() == Some("false") {
                warnings.push(format!(
                    "{}: only its kubeconfig and leader election are kcompile's; move {} into `scheduler.config` by hand",
                    host.file(file),
                    if extra.is_empty() { "leaderElection".to_owned() } else { extra.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ") }
                ));
            }
        }
        if let Some(pod) = host.pods.get(&Component::ApiServer) {
            let audit: Vec<String> = pod
                .flags
                .iter()
                .filter(|(flag, _)| flag.starts_with("audit-log-"))
                .map(|(flag, value)| format!("--{flag}={value}"))
                .collect();
            if !audit.is_empty() && pod.flag("audit-policy-file").is_none() {
                warnings.push(format!(
                    "{}: {} not carried: without --audit-policy-file the kube-apiserver logs no audit event, so the cluster has no audit log to keep; set `audit` in the spec to start one",
                    host.file(pod.file),
                    audit.join(" ")
                ));
            }
        }
        if let Some(pod) = host.pods.get(&Component::Etcd) {
            warnings.push(format!(
                "{}: etcd runs from {} whose release the copy cannot tell; kcompile's etcd image is the one its Kubernetes release pins: the member must run etcd 3.5 or later before the cut-over (etcd upgrades one minor at a time)",
                host.file(pod.file),
                pod.image
            ));
        }
    }
    if let Some((host, (file, config))) = tutorials
        .iter()
        .find_map(|(host, t)| t.proxy_config.as_ref().map(|c| (host, c)))
    {
        let proxy = spec.kube_proxy.get_or_insert_with(KubeProxySpec::default);
        proxy.mode = config
            .get("mode")
            .and_then(|mode| serde_json::from_value(mode.clone()).ok());
        let carried: BTreeMap<String, Value> = config
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(field, _)| !PROXY_OWNED.contains(&field.as_str()))
            .map(|(field, value)| (field.clone(), value.clone()))
            .collect();
        proxy.config = Some(carried).filter(|carried| !carried.is_empty());
        let pod_subnet = spec
            .networking
            .as_ref()
            .and_then(|networking| networking.pod_subnet.clone());
        if let Some(cidr) = config.get("clusterCIDR").and_then(Value::as_str)
            && pod_subnet.as_deref() != Some(cidr)
        {
            warnings.push(format!(
                "{}: clusterCIDR {cidr} differs from the controller-manager's --cluster-cidr; kcompile uses the one pod subnet",
                host.file(file)
            ));
        }
    }
    match tutorials.iter().find_map(|(host, _)| {
        host.pods
            .get(&Component::ApiServer)
            .and_then(|pod| pod.flag("requestheader-client-ca-file").map(|file| (host, pod, file)))
    }) {
        Some((host, pod, file)) => warnings.push(format!(
            "{}: its front-proxy CA ({file}) is not adopted: kcompile makes its own; extension API servers that trust the old one must be given the new front-proxy-ca.crt",
            host.file(pod.file)
        )),
        None => warnings.push(
            "the cluster has no aggregation layer (front-proxy) CA: kcompile makes one and adds the kube-apiserver's --requestheader-* and --proxy-client-* flags".into(),
        ),
    }
    warnings.push(
        "etc/kubernetes/addons/ on the first controller holds kcompile's CoreDNS and RBAC objects: apply the RBAC ones before the first kube-apiserver switches (kcompile's kube-apiserver-kubelet-client and kubernetes-admin need them); the tutorial's CoreDNS Deployment keeps running, apply kcompile's only to replace it".into(),
    );
}

fn relative(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

fn required(host: &HostFiles, file: &str, what: &str) -> Result<String, AdoptError> {
    text(&host.root, &host.name, file)?.ok_or_else(|| AdoptError::Unreadable {
        file: host.file(file),
        reason: format!("absent; it is {what}: fetch it with the host's files"),
    })
}

fn parse(host: &HostFiles, file: &str, text: &str) -> Result<Value, AdoptError> {
    yaml(text).map_err(|e| AdoptError::Unreadable {
        file: host.file(file),
        reason: e.to_string(),
    })
}
