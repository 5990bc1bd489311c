//! The layered spec to a [`Cluster`]: every value parsed and checked, every rule that spans fields
//! (subnets that overlap, etcd quorum, SANs, flags the target version removed) enforced, each
//! finding reported at the line and column of the layer that wrote the value.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::component_config::{self, ConfigKind};
use super::diagnostic::{Diagnostic, Severity};
use super::layer::Layered;
use super::names::{
    dns_subdomain_problem, is_dns_label, is_label_value, is_qualified_name, is_quantity,
    parse_duration, parse_san,
};
use super::source::{child, element};
use super::types::{
    API_VERSION, ArgValue, ComponentSpec, EnvSpec, KubeletSpec, ResourcesSpec, Role, Spec,
    VolumeSpec,
};
use crate::cluster::{
    Aggregation, Audit, Cluster, Encryption, Endpoint, EndpointHost, EtcdTopology, Host,
    KubeletSettings, LoadBalancer, Networking, PkiSettings, PodSettings, Taint, Volume,
};
use crate::component::Component;
use crate::images::{LoadBalancerImage, PUBLIC_REPOSITORY, component_default};
use crate::spec::{LoadBalancerKind, ProxyMode};
use crate::versions::{
    DEFAULT_KUBERNETES_VERSION, EtcdVersion, FlagStatus, GateStatus, KubeVersion, flag_status,
    gate_status,
};

/// Validates the layered spec. On success, the cluster and any warnings; otherwise every error
/// and warning found, in source order.
pub fn validate(
    layered: &Layered,
    spec_dir: &Path,
) -> Result<(Cluster, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut checker = Checker {
        layered,
        diagnostics: Vec::new(),
    };
    let cluster = checker.cluster(&layered.spec, spec_dir);
    let mut diagnostics = checker.diagnostics;
    diagnostics
        .sort_by(|a, b| (a.severity, &a.file, a.position).cmp(&(b.severity, &b.file, b.position)));
    diagnostics.dedup();
    match cluster {
        Some(cluster) if !diagnostics.iter().any(Diagnostic::is_error) => {
            Ok((cluster, diagnostics))
        }
        _ => Err(diagnostics),
    }
}

struct Checker<'a> {
    layered: &'a Layered,
    diagnostics: Vec<Diagnostic>,
}

/// A pod component's settings as any of the spec's component types holds them.
struct PodFields<'a> {
    image: Option<&'a String>,
    extra_args: Option<&'a BTreeMap<String, ArgValue>>,
    extra_volumes: Option<&'a Vec<VolumeSpec>>,
    extra_env: Option<&'a Vec<EnvSpec>>,
    resources: Option<&'a ResourcesSpec>,
}

impl<'a> From<&'a ComponentSpec> for PodFields<'a> {
    fn from(spec: &'a ComponentSpec) -> Self {
        PodFields {
            image: spec.image.as_ref(),
            extra_args: spec.extra_args.as_ref(),
            extra_volumes: spec.extra_volumes.as_ref(),
            extra_env: spec.extra_env.as_ref(),
            resources: spec.resources.as_ref(),
        }
    }
}

impl Checker<'_> {
    fn report(
        &mut self,
        severity: Severity,
        path: &str,
        on_key: bool,
        message: String,
        hint: Option<String>,
    ) {
        let diagnostic = self
            .layered
            .diagnostic(severity, path, on_key, message, hint);
        self.diagnostics.push(diagnostic);
    }

    /// The first of `paths` that the spec itself wrote (so an error about two values lands on the
    /// one the user chose), or the first.
    fn written_by_spec<'p>(&self, paths: &[&'p str]) -> &'p str {
        let spec = self.layered.spec_layer();
        paths
            .iter()
            .find(|path| spec.map.contains(path))
            .unwrap_or(&paths[0])
    }

    fn error(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.report(
            Severity::Error,
            path,
            false,
            message.into(),
            Some(hint.into()),
        );
    }

    /// Reports the `node` section's problems (`spec/node.rs`).
    fn node_problems(&mut self, problems: Vec<super::node::NodeProblem>) {
        for problem in problems {
            let severity = Severity::Error;
            let (path, on_key) = (&problem.path, problem.on_key);
            self.report(severity, path, on_key, problem.message, Some(problem.hint));
        }
    }

    /// Reports the `rootless` section's problems (`spec/rootless.rs`).
    fn rootless_problems(&mut self, problems: Vec<super::rootless::RootlessProblem>) {
        for problem in problems {
            self.error(&problem.path, problem.message, problem.hint);
        }
    }

    fn error_at_key(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.report(
            Severity::Error,
            path,
            true,
            message.into(),
            Some(hint.into()),
        );
    }

    fn warn(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.report(
            Severity::Warning,
            path,
            false,
            message.into(),
            Some(hint.into()),
        );
    }

    /// A value the layers must provide; reports it missing otherwise.
    fn required<'v, T>(&mut self, value: Option<&'v T>, path: &str) -> Option<&'v T> {
        if value.is_none() {
            self.error(
                path,
                format!("`{path}` is not set"),
                "set it in the spec, or build on the `kubeadm` profile, which sets a default",
            );
        }
        value
    }

    fn cluster(&mut self, spec: &Spec, spec_dir: &Path) -> Option<Cluster> {
        let merged = self.layered.merged.clone();
        self.control_characters(&merged, "");
        self.header(spec);
        let name = self.cluster_name(spec);
        let kubernetes_version = self.kubernetes_version(spec);
        let etcd_version = kubernetes_version.and_then(|kube| self.etcd_version(spec, kube));
        let image_repository = self.image_repository(spec);
        let networking = self.networking(spec);
        let pki = self.pki(spec);
        let api_server_port = self.required(
            spec.api_server.as_ref().and_then(|a| a.bind_port.as_ref()),
            "apiServer.bindPort",
        );
        if api_server_port == Some(&0) {
            self.error(
                "apiServer.bindPort",
                "port 0 is not a port",
                "kubeadm's default is 6443",
            );
        }
        let encryption = self.encryption(spec);
        let audit = self.audit(spec, spec_dir);
        let aggregation = self.aggregation(spec);
        let kube_proxy = self.kube_proxy(spec, kubernetes_version);
        let hosts = self.hosts(spec, networking.as_ref());
        let endpoint = self.endpoint(spec, &hosts, networking.as_ref());
        let load_balancer = self.load_balancer(
            spec,
            &hosts,
            endpoint.as_ref(),
            api_server_port.copied(),
            image_repository.as_deref(),
        );
        let etcd = self.etcd(spec, &hosts);
        let node = super::node::settings(spec).map_err(|problems| self.node_problems(problems));
        let rootless = super::rootless::settings(spec, api_server_port.copied())
            .map_err(|problems| self.rootless_problems(problems));

        let (kube, etcd_version) = (kubernetes_version?, etcd_version?);
        let image_repository = image_repository?;
        let hosts = self.host_components(spec, hosts, kube, &etcd_version, &image_repository);
        Some(Cluster {
            name: name?,
            kubernetes_version: kube,
            etcd_version,
            image_repository,
            control_plane_endpoint: endpoint?,
            load_balancer: load_balancer?,
            scheduler_config: self.scheduler_config(spec, kube),
            api_server_port: *api_server_port?,
            anonymous_auth: spec
                .api_server
                .as_ref()
                .and_then(|a| a.anonymous_auth)
                .unwrap_or(crate::spec::AnonymousAuth::Enabled),
            networking: networking?,
            pki: pki?,
            etcd: etcd?,
            encryption: encryption?,
            audit: audit?,
            aggregation: aggregation?,
            kube_proxy_config: self.kube_proxy_config(spec, kube),
            kube_proxy: kube_proxy?,
            node: node.ok()?,
            rootless: rootless.ok()?,
            hosts: hosts?,
        })
    }

    /// Refuses a control character (a line break, an escape) in any key or value: every value
    /// lands in a unit file, a flag, a path or a YAML file on the host, where a line break starts a
    /// new directive and an escape byte reaches whoever reads the file.
    fn control_characters(&mut self, value: &serde_json::Value, path: &str) {
        let problem = |text: &str| {
            text.chars().find(|c| c.is_control()).map(|c| {
                let name = match c {
                    '\n' | '\r' => "a line break",
                    '\t' => "a tab",
                    '\u{1b}' => "an escape character",
                    '\0' => "a NUL byte",
                    _ => "a control character",
                };
                format!(
                    "{name} ({}) is not allowed here: values are written into unit files, flags and paths, where it would start a new directive or reach a terminal",
                    c.escape_default()
                )
            })
        };
        match value {
            serde_json::Value::String(text) => {
                if let Some(message) = problem(text) {
                    self.error(
                        path,
                        message,
                        "write the value on one line, without control characters",
                    );
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.control_characters(item, &element(path, index));
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let at = child(path, key);
                    if let Some(message) = problem(key) {
                        self.error_at_key(&at, message, "write the key without control characters");
                    }
                    self.control_characters(item, &at);
                }
            }
            _ => {}
        }
    }

    fn header(&mut self, spec: &Spec) {
        match spec.api_version.as_deref() {
            Some(API_VERSION) => {}
            Some(other) => self.error(
                "apiVersion",
                format!("unknown apiVersion `{other}`"),
                format!("write `apiVersion: {API_VERSION}`"),
            ),
            None => self.error(
                "apiVersion",
                "the spec has no apiVersion",
                format!("start the spec with `apiVersion: {API_VERSION}` and `kind: Cluster`"),
            ),
        }
        match spec.kind.as_deref() {
            Some("Cluster") => {}
            Some("Profile") => self.error(
                "kind",
                "this is a profile, not a cluster spec",
                "a spec has `kind: Cluster` and names profiles under `profiles:`",
            ),
            Some(other) => self.error(
                "kind",
                format!("unknown kind `{other}`"),
                "write `kind: Cluster`",
            ),
            None => self.error("kind", "the spec has no kind", "write `kind: Cluster`"),
        }
        let profiles = spec.profiles.clone().unwrap_or_default();
        for (index, name) in profiles.iter().enumerate() {
            if profiles[..index].contains(name) {
                self.warn(
                    &element("profiles", index),
                    format!("profile `{name}` is named twice"),
                    "each profile is applied once, at its first place",
                );
            }
        }
    }

    fn cluster_name(&mut self, spec: &Spec) -> Option<String> {
        let name = self.required(spec.name.as_ref(), "name")?;
        if let Some(problem) = dns_subdomain_problem(name) {
            self.error(
                "name",
                format!("cluster name `{name}` {problem}"),
                "use a DNS-1123 name such as `prod-eu1`",
            );
            return None;
        }
        Some(name.clone())
    }

    fn kubernetes_version(&mut self, spec: &Spec) -> Option<KubeVersion> {
        let text = spec
            .kubernetes_version
            .as_deref()
            .unwrap_or(DEFAULT_KUBERNETES_VERSION);
        KubeVersion::parse(text)
            .map_err(|e| self.error("kubernetesVersion", e.message, e.hint))
            .ok()
    }

    fn etcd_version(&mut self, spec: &Spec, kube: KubeVersion) -> Option<EtcdVersion> {
        let text = spec
            .etcd
            .as_ref()
            .and_then(|etcd| etcd.version.as_deref())
            .unwrap_or(kube.pinned_etcd());
        EtcdVersion::parse(text, kube)
            .map_err(|e| self.error("etcd.version", e.message, e.hint))
            .ok()
    }

    fn image_repository(&mut self, spec: &Spec) -> Option<String> {
        let repository = self.required(spec.image_repository.as_ref(), "imageRepository")?;
        if let Some(problem) = image_problem(repository) {
            self.error(
                "imageRepository",
                format!("image repository `{repository}` {problem}"),
                "write a registry and path, e.g. `registry.example.com:5000/k8s`",
            );
            return None;
        }
        if repository.ends_with('/') {
            self.error(
                "imageRepository",
                format!("image repository `{repository}` ends with `/`"),
                format!("write `{}`", repository.trim_end_matches('/')),
            );
            return None;
        }
        Some(repository.clone())
    }

    fn networking(&mut self, spec: &Spec) -> Option<Networking> {
        let net = spec.networking.clone().unwrap_or_default();
        let service = self.subnets(net.service_subnet.as_ref(), "networking.serviceSubnet");
        let pod = self.subnets(net.pod_subnet.as_ref(), "networking.podSubnet");
        let domain = self
            .required(net.dns_domain.as_ref(), "networking.dnsDomain")
            .cloned();
        if let Some(domain) = &domain
            && let Some(problem) = dns_subdomain_problem(domain)
        {
            let hint = if domain.ends_with('.') {
                format!(
                    "write `{}`; a trailing dot ends up in SANs such as `kubernetes.default.svc.{domain}`, which Go's x509 rejects",
                    domain.trim_end_matches('.')
                )
            } else {
                "write a DNS name such as `cluster.local`".into()
            };
            self.error(
                "networking.dnsDomain",
                format!("DNS domain `{domain}` {problem}"),
                hint,
            );
        }
        let (service, pod) = (service?, pod?);
        if let Some(service_net) = service.first() {
            if service_net.prefix_len() < 12 {
                self.error(
                    "networking.serviceSubnet",
                    format!("service subnet {service_net} is larger than /12"),
                    "kube-apiserver refuses IPv4 service ranges larger than /12 (2^20 addresses)",
                );
            }
            if service_net.prefix_len() > 28 {
                self.error(
                    "networking.serviceSubnet",
                    format!("service subnet {service_net} is too small"),
                    "the cluster DNS IP is its 10th address; use at least a /28",
                );
            }
        }
        if let (Some(service_net), Some(pod_net)) = (service.first(), pod.first()) {
            if service_net.contains(pod_net) || pod_net.contains(service_net) {
                let at =
                    self.written_by_spec(&["networking.podSubnet", "networking.serviceSubnet"]);
                self.error(
                    at,
                    format!("pod subnet {pod_net} overlaps the service subnet {service_net}"),
                    "pods and services need separate ranges, e.g. podSubnet 10.244.0.0/16 with serviceSubnet 10.96.0.0/12",
                );
            }
            if pod_net.prefix_len() > 24 {
                self.error(
                    "networking.podSubnet",
                    format!("pod subnet {pod_net} is smaller than the /24 each node gets"),
                    "the controller-manager hands every node a /24 of the pod subnet; use /16 or larger",
                );
            }
        }
        let service_net = *service.first()?;
        let kubernetes_service_ip = service_net.hosts().next()?;
        let cluster_dns = match net.cluster_dns.as_deref() {
            None => service_net.hosts().nth(9)?,
            Some(text) => match text.parse::<IpAddr>() {
                Ok(ip) if !service_net.contains(&ip) => {
                    self.error(
                        "networking.clusterDNS",
                        format!("cluster DNS IP {ip} is outside the service subnet {service_net}"),
                        "the DNS service gets its ClusterIP from the service subnet; kubeadm uses its 10th address",
                    );
                    return None;
                }
                Ok(ip) if ip == service_net.network() || ip == service_net.broadcast() => {
                    self.error(
                        "networking.clusterDNS",
                        format!("cluster DNS IP {ip} is the network or broadcast address of {service_net}"),
                        format!("the service IP allocator never hands it out; kubeadm uses {}", service_net.hosts().nth(9)?),
                    );
                    return None;
                }
                Ok(ip) if ip == kubernetes_service_ip => {
                    self.error(
                        "networking.clusterDNS",
                        format!("cluster DNS IP {ip} is the `kubernetes` service's IP"),
                        "the first address of the service subnet belongs to the apiserver service; kubeadm uses the 10th",
                    );
                    return None;
                }
                Ok(ip) => ip,
                Err(_) => {
                    self.error(
                        "networking.clusterDNS",
                        format!("`{text}` is not an IP address"),
                        format!("e.g. `{}`", service_net.hosts().nth(9)?),
                    );
                    return None;
                }
            },
        };
        Some(Networking {
            service_subnets: service,
            pod_subnets: pod,
            dns_domain: domain?,
            cluster_dns,
            kubernetes_service_ip,
        })
    }

    fn subnets(&mut self, text: Option<&String>, path: &str) -> Option<Vec<IpNet>> {
        let text = self.required(text, path)?;
        let mut nets = Vec::new();
        for part in text.split(',').map(str::trim) {
            let net = match part.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => {
                    let hint = if part.parse::<IpAddr>().is_ok() {
                        format!("add the prefix length, e.g. `{part}/16`")
                    } else {
                        "write a CIDR such as `10.96.0.0/12`".to_owned()
                    };
                    self.error(path, format!("`{part}` is not a CIDR"), hint);
                    return None;
                }
            };
            if net.addr() != net.network() {
                self.error(
                    path,
                    format!("{net} has host bits set"),
                    format!("did you mean `{}`?", net.trunc()),
                );
                return None;
            }
            if let IpNet::V6(_) = net {
                self.error(
                    path,
                    format!("{net} is IPv6; kcompile compiles IPv4 clusters for now"),
                    "dual-stack is planned; use an IPv4 range",
                );
                return None;
            }
            nets.push(net);
        }
        if nets.len() > 1 {
            self.error(
                path,
                format!(
                    "`{text}` lists {} ranges; dual-stack is not supported yet",
                    nets.len()
                ),
                "give one IPv4 range",
            );
            return None;
        }
        Some(nets)
    }

    fn pki(&mut self, spec: &Spec) -> Option<PkiSettings> {
        let pki = spec.pki.clone().unwrap_or_default();
        let key_algorithm = self
            .required(pki.key_algorithm.as_ref(), "pki.keyAlgorithm")
            .copied();
        let ca_validity = self.duration(pki.ca_validity.as_ref(), "pki.caValidity");
        let certificate_validity =
            self.duration(pki.certificate_validity.as_ref(), "pki.certificateValidity");
        if let (Some(ca), Some(leaf)) = (ca_validity, certificate_validity)
            && leaf > ca
        {
            self.error(
                "pki.certificateValidity",
                "leaf certificates would outlive their CA",
                "a certificate is useless once its CA expires; make caValidity longer than certificateValidity",
            );
        }
        let api_server_sans = self.sans(pki.api_server_cert_sans.as_ref(), "pki.apiServerCertSANs");
        let etcd_sans = self.sans(pki.etcd_cert_sans.as_ref(), "pki.etcdCertSANs");
        Some(PkiSettings {
            key_algorithm: key_algorithm?,
            ca_validity: ca_validity?,
            certificate_validity: certificate_validity?,
            api_server_sans: api_server_sans?,
            etcd_sans: etcd_sans?,
        })
    }

    fn duration(&mut self, text: Option<&String>, path: &str) -> Option<std::time::Duration> {
        let text = self.required(text, path)?;
        match parse_duration(text) {
            Some(duration) if duration > super::names::MAX_DURATION => {
                self.error(
                    path,
                    format!("`{text}` is longer than kcompile allows (100 years, `36500d`)"),
                    "kubeadm uses 10 years (`87600h`) for CAs and 1 year (`8760h`) for certificates",
                );
                None
            }
            Some(duration) if !duration.is_zero() => Some(duration),
            Some(_) => {
                self.error(path, "a validity of zero", "e.g. `8760h` (one year)");
                None
            }
            None => {
                self.error(
                    path,
                    format!("`{text}` is not a duration"),
                    "write hours, minutes, seconds or days: `8760h`, `8760h0m0s`, `365d`",
                );
                None
            }
        }
    }

    fn sans(&mut self, list: Option<&Vec<String>>, path: &str) -> Option<Vec<crate::cluster::San>> {
        let mut sans = Vec::new();
        let mut ok = true;
        for (index, text) in list.into_iter().flatten().enumerate() {
            let at = element(path, index);
            match parse_san(text) {
                Ok(san) if sans.contains(&san) => {
                    self.warn(
                        &at,
                        format!("SAN `{text}` is listed twice"),
                        "remove the duplicate",
                    );
                }
                Ok(san) => sans.push(san),
                Err((message, hint)) => {
                    self.error(&at, message, hint);
                    ok = false;
                }
            }
        }
        ok.then_some(sans)
    }

    fn encryption(&mut self, spec: &Spec) -> Option<Option<Encryption>> {
        let encryption = spec.encryption.clone().unwrap_or_default();
        if !encryption.enabled.unwrap_or(false) {
            return Some(None);
        }
        let provider = *self.required(encryption.provider.as_ref(), "encryption.provider")?;
        let resources = encryption.resources.unwrap_or_default();
        if resources.is_empty() {
            self.error(
                "encryption.resources",
                "encryption is enabled but no resource is listed",
                "list at least `secrets`",
            );
            return None;
        }
        for (index, resource) in resources.iter().enumerate() {
            let valid = !resource.is_empty()
                && resource.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'*')
                });
            if !valid {
                self.error(
                    &element("encryption.resources", index),
                    format!("`{resource}` is not a resource name"),
                    "write `resource` or `resource.group` in lower case, e.g. `secrets`, `deployments.apps`, `*.*`",
                );
            }
        }
        if provider == crate::spec::EncryptionProvider::Aescbc {
            self.warn(
                "encryption.provider",
                "aescbc is vulnerable to padding-oracle attacks",
                "Kubernetes recommends `secretbox` (or a KMS v2 provider)",
            );
        }
        Some(Some(Encryption {
            provider,
            resources,
        }))
    }

    fn audit(&mut self, spec: &Spec, spec_dir: &Path) -> Option<Option<Audit>> {
        let audit = spec.audit.clone().unwrap_or_default();
        if !audit.enabled.unwrap_or(false) {
            if audit.policy_file.is_some()
                && self.layered.layer_of("audit.policyFile").label == "spec"
            {
                self.warn(
                    "audit.policyFile",
                    "audit is disabled, so this policy file is ignored",
                    "set `audit.enabled: true`",
                );
            }
            return Some(None);
        }
        let log_path = self
            .required(audit.log_path.as_ref(), "audit.logPath")?
            .clone();
        if !log_path.starts_with('/') && log_path != "-" {
            self.error(
                "audit.logPath",
                format!("audit log path `{log_path}` is not absolute"),
                "write an absolute path on the host, e.g. `/var/log/kubernetes/audit/audit.log`",
            );
        }
        let policy = match audit.policy_file {
            None => None,
            Some(file) => {
                let path = spec_dir.join(&file);
                match read_audit_policy(&path) {
                    Ok(text) => Some(text),
                    Err(problem) => {
                        self.error(
                            "audit.policyFile",
                            format!("audit policy file `{}` {problem}", path.display()),
                            "the path is relative to the spec's directory; leave it out for the built-in policy",
                        );
                        return None;
                    }
                }
            }
        };
        Some(Some(Audit {
            policy,
            log_path,
            max_age: *self.required(audit.max_age.as_ref(), "audit.maxAge")?,
            max_backups: *self.required(audit.max_backups.as_ref(), "audit.maxBackups")?,
            max_size: *self.required(audit.max_size.as_ref(), "audit.maxSize")?,
        }))
    }

    fn aggregation(&mut self, spec: &Spec) -> Option<Aggregation> {
        let aggregation = spec.aggregation.clone().unwrap_or_default();
        let client = self
            .required(
                aggregation.client_common_name.as_ref(),
                "aggregation.clientCommonName",
            )?
            .clone();
        if client.trim().is_empty() {
            self.error(
                "aggregation.clientCommonName",
                "the front-proxy client CN is empty",
                "kubeadm uses `front-proxy-client`",
            );
            return None;
        }
        let allowed = aggregation.allowed_names.unwrap_or_default();
        if allowed.is_empty() {
            self.warn(
                "aggregation.allowedNames",
                "no allowed names: any certificate the front-proxy CA signs may assert any user",
                format!("list the front-proxy client CN: `allowedNames: [{client}]`"),
            );
        } else if !allowed.contains(&client) {
            self.error(
                "aggregation.allowedNames",
                format!(
                    "requestheader allowed names [{}] do not include the front-proxy client CN `{client}`",
                    allowed.join(", ")
                ),
                format!(
                    "add `{client}`; otherwise every request through the aggregation layer (metrics, custom APIs) is refused"
                ),
            );
        }
        Some(Aggregation {
            client_common_name: client,
            allowed_names: allowed,
        })
    }

    fn kube_proxy(&mut self, spec: &Spec, kube: Option<KubeVersion>) -> Option<Option<ProxyMode>> {
        let proxy = spec.kube_proxy.clone().unwrap_or_default();
        if !proxy.enabled.unwrap_or(true) {
            return Some(None);
        }
        let mode = *self.required(proxy.mode.as_ref(), "kubeProxy.mode")?;
        if mode == ProxyMode::Ipvs
            && let Some(kube) = kube
            && kube.minor >= 35
        {
            self.warn(
                "kubeProxy.mode",
                format!("ipvs mode is deprecated since v1.35 (target {kube})"),
                "use `nftables` (GA since v1.33) or `iptables`",
            );
        }
        Some(Some(mode))
    }

    /// `kubeProxy.config`, with the fields kcompile derives refused.
    fn kube_proxy_config(
        &mut self,
        spec: &Spec,
        kube: KubeVersion,
    ) -> BTreeMap<String, serde_json::Value> {
        let config = spec.kube_proxy.as_ref().and_then(|p| p.config.clone());
        let config = config.unwrap_or_default();
        let owned = |field: &str| owned_kube_proxy_config_field(field).is_some();
        for field in config.keys() {
            if let Some(hint) = owned_kube_proxy_config_field(field) {
                let at = child("kubeProxy.config", field);
                let message = format!("kcompile sets KubeProxyConfiguration `{field}` itself");
                self.error_at_key(&at, message, hint);
            }
        }
        self.component_config(
            ConfigKind::KubeProxy,
            kube,
            &config,
            "kubeProxy.config",
            owned,
        );
        config
    }

    /// Hosts without their component settings, which need the versions.
    fn hosts(&mut self, spec: &Spec, networking: Option<&Networking>) -> Option<Vec<Host>> {
        let Some(specs) = spec.hosts.as_ref().filter(|hosts| !hosts.is_empty()) else {
            self.error(
                "hosts",
                "the cluster has no hosts",
                "list the machines under `hosts:`, each with a name, an address and roles",
            );
            return None;
        };
        let mut hosts = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut addresses: BTreeMap<IpAddr, usize> = BTreeMap::new();
        let mut ok = true;
        for (index, host) in specs.iter().enumerate() {
            let path = element("hosts", index);
            let name = host.name.clone();
            let address = host.address.clone();
            let name = match name {
                None => {
                    self.error(
                        &path,
                        "host has no `name`",
                        "give each host its node name, e.g. `name: master01`",
                    );
                    None
                }
                Some(name) => {
                    let at = child(&path, "name");
                    if let Some(problem) = dns_subdomain_problem(&name) {
                        self.error(
                            &at,
                            format!("host name `{name}` {problem}"),
                            "node names are DNS-1123 subdomains: lower-case letters, digits, `-` and `.`",
                        );
                        None
                    } else if let Some(first) = names.insert(name.clone(), index) {
                        self.error(
                            &at,
                            format!("host name `{name}` is used twice"),
                            format!("hosts[{first}] already has it; node names must be unique"),
                        );
                        None
                    } else {
                        Some(name)
                    }
                }
            };
            let address = match address {
                None => {
                    self.error(
                        &path,
                        "host has no `address`",
                        "give each host its IP address, e.g. `address: 192.168.10.11`",
                    );
                    None
                }
                Some(text) => self.host_address(
                    &text,
                    &child(&path, "address"),
                    index,
                    &mut addresses,
                    networking,
                ),
            };
            let roles: Vec<Role> = host.roles.clone().unwrap_or_default();
            if roles.is_empty() {
                self.error(
                    &child(&path, "roles"),
                    "host has no roles",
                    "give it at least one of `control-plane`, `etcd`, `worker`",
                );
                ok = false;
            }
            let role_set: BTreeSet<Role> = roles.iter().copied().collect();
            if role_set.len() < roles.len() {
                self.warn(
                    &child(&path, "roles"),
                    "a role is listed twice",
                    "remove the duplicate",
                );
            }
            let labels = self.labels(host.labels.as_ref(), &child(&path, "labels"));
            let taints = self.taints(host, &path);
            match (name, address, labels, taints) {
                (Some(name), Some(address), Some(labels), Some(taints)) => hosts.push(Host {
                    name,
                    address,
                    roles: role_set,
                    labels,
                    taints,
                    etcd: PodSettings::default(),
                    api_server: PodSettings::default(),
                    controller_manager: PodSettings::default(),
                    scheduler: PodSettings::default(),
                    kube_proxy: PodSettings::default(),
                    kubelet: KubeletSettings::default(),
                }),
                _ => ok = false,
            }
        }
        if ok && !hosts.iter().any(|host| host.has(Role::ControlPlane)) {
            self.error(
                "hosts",
                "no host has the `control-plane` role",
                "a cluster needs at least one host with `roles: [control-plane, etcd]`",
            );
            return None;
        }
        ok.then_some(hosts)
    }

    fn host_address(
        &mut self,
        text: &str,
        at: &str,
        index: usize,
        seen: &mut BTreeMap<IpAddr, usize>,
        networking: Option<&Networking>,
    ) -> Option<IpAddr> {
        let Ok(address) = text.parse::<IpAddr>() else {
            let hint = if text.contains('/') {
                format!(
                    "write the address without a prefix length: `{}`",
                    text.split('/').next().unwrap_or(text)
                )
            } else {
                "write the host's IPv4 address, e.g. `192.168.10.11`".into()
            };
            self.error(at, format!("`{text}` is not an IP address"), hint);
            return None;
        };
        let broadcast = matches!(address, IpAddr::V4(v4) if v4.is_broadcast());
        if address.is_unspecified() || address.is_loopback() || address.is_multicast() || broadcast
        {
            self.error(
                at,
                format!("{address} cannot be a host address"),
                "use the address other hosts reach this one on",
            );
            return None;
        }
        if address.is_ipv6() {
            self.error(
                at,
                format!("{address} is IPv6; kcompile compiles IPv4 clusters for now"),
                "use the host's IPv4 address",
            );
            return None;
        }
        if let Some(first) = seen.insert(address, index) {
            self.error(
                at,
                format!("address {address} is used twice"),
                format!("hosts[{first}] already has it; every host needs its own address"),
            );
            return None;
        }
        if let Some(net) = networking {
            for (kind, subnet) in [("service", &net.service_subnets), ("pod", &net.pod_subnets)] {
                if let Some(range) = subnet.iter().find(|range| range.contains(&address)) {
                    self.error(
                        at,
                        format!("host address {address} is inside the {kind} subnet {range}"),
                        "host, service and pod ranges must not overlap, or traffic to the host is routed into the cluster",
                    );
                    return None;
                }
            }
        }
        Some(address)
    }

    fn labels(
        &mut self,
        labels: Option<&BTreeMap<String, String>>,
        path: &str,
    ) -> Option<BTreeMap<String, String>> {
        let labels = labels.cloned().unwrap_or_default();
        let mut ok = true;
        for (key, value) in &labels {
            let at = child(path, key);
            if !is_qualified_name(key) {
                self.error_at_key(
                    &at,
                    format!("`{key}` is not a valid label key"),
                    "a key is `[prefix/]name`: a DNS prefix and a name of up to 63 letters, digits, `-`, `_`, `.`",
                );
                ok = false;
            } else if let Some(hint) = restricted_node_label(key) {
                self.error_at_key(
                    &at,
                    format!("the kubelet may not set label `{key}` on its own node"),
                    hint,
                );
                ok = false;
            }
            if !is_label_value(value) {
                self.error(
                    &at,
                    format!("`{value}` is not a valid label value"),
                    "up to 63 letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit",
                );
                ok = false;
            }
        }
        ok.then_some(labels)
    }

    fn taints(&mut self, host: &super::types::HostSpec, path: &str) -> Option<Vec<Taint>> {
        let mut taints = Vec::new();
        let mut ok = true;
        for (index, taint) in host.taints.iter().flatten().enumerate() {
            let at = element(&child(path, "taints"), index);
            let key = taint.key.clone().unwrap_or_default();
            if !is_qualified_name(&key) {
                self.error(
                    &at,
                    format!("`{key}` is not a valid taint key"),
                    "e.g. `dedicated` or `example.com/gpu`",
                );
                ok = false;
            }
            let value = taint.value.clone().unwrap_or_default();
            if !is_label_value(&value) {
                self.error(
                    &child(&at, "value"),
                    format!("`{value}` is not a valid taint value"),
                    "up to 63 letters, digits, `-`, `_`, `.`",
                );
                ok = false;
            }
            match taint.effect {
                Some(effect) => taints.push(Taint { key, value, effect }),
                None => {
                    self.error(
                        &at,
                        "taint has no `effect`",
                        "`NoSchedule`, `PreferNoSchedule` or `NoExecute`",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(taints)
    }

    fn endpoint(
        &mut self,
        spec: &Spec,
        hosts: &Option<Vec<Host>>,
        networking: Option<&Networking>,
    ) -> Option<Option<Endpoint>> {
        let control_planes = hosts
            .iter()
            .flatten()
            .filter(|host| host.has(Role::ControlPlane))
            .count();
        let Some(endpoint) = &spec.control_plane_endpoint else {
            if control_planes > 1 {
                self.error(
                    "hosts",
                    format!("{control_planes} control-plane hosts but no `controlPlaneEndpoint`"),
                    "set `controlPlaneEndpoint` to a VIP or DNS name that balances across the apiservers; kubelets and admins need one address that survives a host",
                );
                return None;
            }
            return Some(None);
        };
        let text = self.required(endpoint.host.as_ref(), "controlPlaneEndpoint.host")?;
        let port = endpoint.port.unwrap_or(6443);
        if port == 0 {
            self.error(
                "controlPlaneEndpoint.port",
                "port 0 is not a port",
                "the apiservers listen on 6443 by default",
            );
            return None;
        }
        let host = match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_loopback() || ip.is_unspecified() => {
                self.error(
                    "controlPlaneEndpoint.host",
                    format!("control-plane endpoint {ip} is not reachable from other hosts"),
                    "kubelets and kube-proxy on every host dial this address; use a VIP, a DNS name or a control-plane host's address",
                );
                return None;
            }
            Ok(ip) => {
                if let Some(net) = networking
                    && let Some(range) = net
                        .service_subnets
                        .iter()
                        .chain(&net.pod_subnets)
                        .find(|range| range.contains(&ip))
                {
                    self.error(
                        "controlPlaneEndpoint.host",
                        format!("control-plane endpoint {ip} is inside the cluster range {range}"),
                        "the endpoint must be reachable from hosts before the cluster network exists",
                    );
                    return None;
                }
                if control_planes > 1
                    && hosts
                        .iter()
                        .flatten()
                        .any(|host| host.has(Role::ControlPlane) && host.address == ip)
                {
                    self.warn(
                        "controlPlaneEndpoint.host",
                        format!("the endpoint {ip} is one control-plane host's own address"),
                        "if that host goes down, kubelets and admins lose the apiserver; use a VIP or a DNS name",
                    );
                }
                EndpointHost::Ip(ip)
            }
            Err(_) => match parse_san(text) {
                Ok(_) if !text.contains('*') => EndpointHost::Dns(text.clone()),
                Ok(_) => {
                    self.error(
                        "controlPlaneEndpoint.host",
                        "an endpoint cannot be a wildcard",
                        "write one DNS name or IP",
                    );
                    return None;
                }
                Err((message, hint)) => {
                    let message = message.replacen("SAN", "endpoint", 1);
                    let hint = if text.contains("://") {
                        "write the host alone, without a scheme: `api.example.com`".to_owned()
                    } else if text.contains(':') {
                        "put the port under `controlPlaneEndpoint.port`".to_owned()
                    } else {
                        hint
                    };
                    self.error("controlPlaneEndpoint.host", message, hint);
                    return None;
                }
            },
        };
        Some(Some(Endpoint { host, port }))
    }

    fn scheduler_config(
        &mut self,
        spec: &Spec,
        kube: KubeVersion,
    ) -> Option<BTreeMap<String, serde_json::Value>> {
        let config = spec.scheduler.as_ref()?.config.clone()?;
        let owned = |field: &str| matches!(field, "apiVersion" | "kind" | "clientConnection");
        self.component_config(
            ConfigKind::Scheduler,
            kube,
            &config,
            "scheduler.config",
            owned,
        );
        for field in config.keys() {
            let hint = match field.as_str() {
                "apiVersion" | "kind" => {
                    "kcompile writes `kubescheduler.config.k8s.io/v1` KubeSchedulerConfiguration"
                }
                "clientConnection" => {
                    "the scheduler's kubeconfig is /etc/kubernetes/scheduler.conf, which kcompile writes"
                }
                _ => continue,
            };
            self.error_at_key(
                &child("scheduler.config", field),
                format!("kcompile sets KubeSchedulerConfiguration `{field}` itself"),
                hint,
            );
        }
        Some(config)
    }

    fn load_balancer(
        &mut self,
        spec: &Spec,
        hosts: &Option<Vec<Host>>,
        endpoint: Option<&Option<Endpoint>>,
        api_port: Option<u16>,
        repository: Option<&str>,
    ) -> Option<Option<LoadBalancer>> {
        let Some(lb) = &spec.load_balancer else {
            return Some(None);
        };
        let kind = *self.required(lb.kind.as_ref(), "loadBalancer.kind")?;
        let interface = lb.interface.clone().unwrap_or_default();
        let vip = kind != LoadBalancerKind::LocalProxy;
        if vip {
            match endpoint {
                Some(Some(Endpoint {
                    host: EndpointHost::Ip(ip),
                    port,
                })) => {
                    if hosts.iter().flatten().any(|host| host.address == *ip) {
                        self.error(
                            "controlPlaneEndpoint.host",
                            format!("the VIP {ip} is a host's own address"),
                            "the load balancer moves the VIP between control-plane hosts; pick a free address in their subnet",
                        );
                    }
                    if kind == LoadBalancerKind::KeepalivedHaproxy && Some(*port) == api_port {
                        self.error(
                            "controlPlaneEndpoint.port",
                            format!("haproxy and the apiserver would both listen on port {port}"),
                            "haproxy runs on the control-plane hosts: give the endpoint another port, e.g. 8443 (the Kubernetes HA guide's choice)",
                        );
                    }
                    if kind == LoadBalancerKind::KubeVip && Some(*port) != api_port {
                        self.error(
                            "controlPlaneEndpoint.port",
                            format!("kube-vip forwards nothing: clients reach the apiserver's own port {}, not {port}", api_port.unwrap_or(6443)),
                            "set `controlPlaneEndpoint.port` to `apiServer.bindPort`",
                        );
                    }
                }
                Some(Some(_)) => self.error(
                    "controlPlaneEndpoint.host",
                    "a VIP load balancer needs an IP address as the control-plane endpoint",
                    "set `controlPlaneEndpoint.host` to the virtual IP",
                ),
                Some(None) => self.error(
                    "loadBalancer",
                    "a VIP load balancer needs `controlPlaneEndpoint`",
                    "set `controlPlaneEndpoint.host` to the virtual IP and its port",
                ),
                None => {}
            }
            if interface.is_empty() {
                self.error(
                    "loadBalancer",
                    "`loadBalancer.interface` is not set",
                    "name the network interface that holds the VIP on the control-plane hosts, e.g. `eth0`",
                );
            } else if interface.len() > 15 || interface.contains(['/', ' ']) {
                self.error(
                    "loadBalancer.interface",
                    format!("`{interface}` is not a network interface name"),
                    "e.g. `eth0`, `ens18`",
                );
            }
        }
        let virtual_router_id = lb.virtual_router_id.unwrap_or(51);
        if virtual_router_id == 0 {
            self.error(
                "loadBalancer.virtualRouterId",
                "virtual router id 0 is reserved",
                "use 1-255, unique on the network segment",
            );
        }
        let local_port = lb.local_port.unwrap_or(6443);
        if local_port == 0 {
            self.error(
                "loadBalancer.localPort",
                "port 0 is not a port",
                "the default is 6443",
            );
        }
        // Defaults follow `imageRepository` (crate::images documents the mapping); an image the
        // spec names outside a mirror is used as written, with a warning.
        let repository = repository.unwrap_or(PUBLIC_REPOSITORY);
        let mut image = |which: LoadBalancerImage, value: &Option<String>| match value {
            Some(image) => {
                let path = format!("loadBalancer.{}", which.spec_field());
                if let Some(problem) = image_problem(image) {
                    self.error(
                        &path,
                        format!("image `{image}` {problem}"),
                        "write a full image reference",
                    );
                } else if repository != PUBLIC_REPOSITORY
                    && !image.starts_with(&format!("{repository}/"))
                {
                    self.warn(
                        &path,
                        format!("image `{image}` is not under imageRepository `{repository}`"),
                        format!(
                            "hosts that pull only from the mirror cannot pull it; copy it there \
                             or drop the field to run `{}`",
                            which.default_under(repository)
                        ),
                    );
                }
                image.clone()
            }
            None => which.default_under(repository),
        };
        Some(Some(LoadBalancer {
            kind,
            interface,
            virtual_router_id,
            local_port,
            haproxy_image: image(LoadBalancerImage::Haproxy, &lb.haproxy_image),
            keepalived_image: image(LoadBalancerImage::Keepalived, &lb.keepalived_image),
            kube_vip_image: image(LoadBalancerImage::KubeVip, &lb.kube_vip_image),
        }))
    }

    fn etcd(&mut self, spec: &Spec, hosts: &Option<Vec<Host>>) -> Option<EtcdTopology> {
        let etcd = spec.etcd.clone().unwrap_or_default();
        let members: Vec<&Host> = hosts
            .iter()
            .flatten()
            .filter(|host| host.has(Role::Etcd))
            .collect();
        if let Some(external) = etcd.external {
            if let Some(problem) = super::etcd::bootstrap_with_external(etcd.bootstrap) {
                self.error(problem.path, problem.message, problem.hint);
            }
            if let Some(host) = members.first() {
                let index = hosts
                    .iter()
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
        Some(EtcdTopology::Stacked {
            data_dir,
            bootstrap,
        })
    }

    /// Resolves every host's component settings: the cluster's, then the host's overrides.
    fn host_components(
        &mut self,
        spec: &Spec,
        hosts: Option<Vec<Host>>,
        kube: KubeVersion,
        etcd_version: &EtcdVersion,
        repository: &str,
    ) -> Option<Vec<Host>> {
        let etcd = spec.etcd.clone().unwrap_or_default();
        let api = spec.api_server.clone().unwrap_or_default();
        let proxy = spec.kube_proxy.clone().unwrap_or_default();
        let scheduler = spec.scheduler.clone().unwrap_or_default();
        let cluster_level: [(Component, PodFields); 5] = [
            (
                Component::Etcd,
                PodFields {
                    image: etcd.image.as_ref(),
                    extra_args: etcd.extra_args.as_ref(),
                    extra_volumes: etcd.extra_volumes.as_ref(),
                    extra_env: etcd.extra_env.as_ref(),
                    resources: etcd.resources.as_ref(),
                },
            ),
            (
                Component::ApiServer,
                PodFields {
                    image: api.image.as_ref(),
                    extra_args: api.extra_args.as_ref(),
                    extra_volumes: api.extra_volumes.as_ref(),
                    extra_env: api.extra_env.as_ref(),
                    resources: api.resources.as_ref(),
                },
            ),
            (
                Component::ControllerManager,
                spec.controller_manager
                    .as_ref()
                    .map(PodFields::from)
                    .unwrap_or(PodFields::from(&EMPTY)),
            ),
            (
                Component::Scheduler,
                PodFields {
                    image: scheduler.image.as_ref(),
                    extra_args: scheduler.extra_args.as_ref(),
                    extra_volumes: scheduler.extra_volumes.as_ref(),
                    extra_env: scheduler.extra_env.as_ref(),
                    resources: scheduler.resources.as_ref(),
                },
            ),
            (
                Component::KubeProxy,
                PodFields {
                    image: proxy.image.as_ref(),
                    extra_args: proxy.extra_args.as_ref(),
                    extra_volumes: proxy.extra_volumes.as_ref(),
                    extra_env: proxy.extra_env.as_ref(),
                    resources: proxy.resources.as_ref(),
                },
            ),
        ];
        let mut base = BTreeMap::new();
        for (component, fields) in &cluster_level {
            let default_image = component_default(repository, *component, kube, &etcd_version.tag);
            let mut settings = PodSettings {
                image: default_image,
                ..PodSettings::default()
            };
            self.apply_pod(
                &mut settings,
                fields,
                *component,
                component.spec_key(),
                kube,
                etcd_version,
            );
            base.insert(*component, settings);
        }
        let kubelet_spec = spec.kubelet.clone().unwrap_or_default();
        let mut kubelet = KubeletSettings::default();
        self.apply_kubelet(&mut kubelet, &kubelet_spec, "kubelet", kube, etcd_version);
        if kubelet.binary_path.is_empty() {
            self.required::<String>(None, "kubelet.binaryPath");
        }
        if kubelet.container_runtime_endpoint.is_empty() {
            self.required::<String>(None, "kubelet.containerRuntimeEndpoint");
        }

        let mut hosts = hosts?;
        let host_specs = spec.hosts.clone().unwrap_or_default();
        for (index, (host, host_spec)) in hosts.iter_mut().zip(&host_specs).enumerate() {
            let overrides = host_spec.overrides.clone().unwrap_or_default();
            let prefix = child(&element("hosts", index), "overrides");
            let mut take = |component: Component, over: &Option<ComponentSpec>| {
                let mut settings = base[&component].clone();
                if let Some(over) = over {
                    let path = child(&prefix, component.spec_key());
                    self.apply_pod(
                        &mut settings,
                        &PodFields::from(over),
                        component,
                        &path,
                        kube,
                        etcd_version,
                    );
                }
                settings
            };
            host.etcd = take(Component::Etcd, &overrides.etcd);
            host.api_server = take(Component::ApiServer, &overrides.api_server);
            host.controller_manager =
                take(Component::ControllerManager, &overrides.controller_manager);
            host.scheduler = take(Component::Scheduler, &overrides.scheduler);
            host.kube_proxy = take(Component::KubeProxy, &overrides.kube_proxy);
            host.kubelet = kubelet.clone();
            if let Some(over) = &overrides.kubelet {
                let path = child(&prefix, "kubelet");
                self.apply_kubelet(&mut host.kubelet, over, &path, kube, etcd_version);
            }
        }
        Some(hosts)
    }

    fn apply_pod(
        &mut self,
        settings: &mut PodSettings,
        fields: &PodFields,
        component: Component,
        path: &str,
        kube: KubeVersion,
        etcd: &EtcdVersion,
    ) {
        if let Some(image) = fields.image {
            if let Some(problem) = image_problem(image) {
                self.error(
                    &child(path, "image"),
                    format!("image `{image}` {problem}"),
                    format!(
                        "write a full reference, e.g. `registry.example.com/{}:{kube}`",
                        component.binary()
                    ),
                );
            }
            settings.image = image.clone();
        }
        let args_path = child(path, "extraArgs");
        for (flag, value) in fields.extra_args.into_iter().flatten() {
            self.check_flag(
                component,
                flag,
                &value.0,
                &child(&args_path, flag),
                kube,
                etcd,
            );
            settings.extra_args.insert(flag.clone(), value.0.clone());
        }
        let volumes_path = child(path, "extraVolumes");
        for (index, volume) in fields.extra_volumes.into_iter().flatten().enumerate() {
            if let Some(volume) = self.volume(volume, &element(&volumes_path, index)) {
                settings
                    .extra_volumes
                    .retain(|known| known.name != volume.name);
                settings.extra_volumes.push(volume);
            }
        }
        let env_path = child(path, "extraEnv");
        let env = self.env(fields.extra_env, &env_path);
        for (name, value) in env {
            settings.extra_env.retain(|(known, _)| *known != name);
            settings.extra_env.push((name, value));
        }
        if let Some(resources) = fields.resources {
            let resources_path = child(path, "resources");
            for (kind, list, target) in [
                ("requests", &resources.requests, &mut settings.requests),
                ("limits", &resources.limits, &mut settings.limits),
            ] {
                for (name, quantity) in list.iter().flatten() {
                    let at = child(&child(&resources_path, kind), name);
                    if !is_quantity(&quantity.0) {
                        self.error(
                            &at,
                            format!("`{}` is not a resource quantity", quantity.0),
                            "e.g. `250m` CPU or `512Mi` memory",
                        );
                    }
                    if !matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage")
                        && !name.starts_with("hugepages-")
                        && !name.contains('/')
                    {
                        self.error_at_key(
                            &at,
                            format!("unknown resource `{name}`"),
                            "use `cpu`, `memory`, `ephemeral-storage`, `hugepages-<size>` or a domain-prefixed extended resource",
                        );
                    }
                    target.insert(name.clone(), quantity.0.clone());
                }
            }
        }
    }

    fn apply_kubelet(
        &mut self,
        settings: &mut KubeletSettings,
        spec: &KubeletSpec,
        path: &str,
        kube: KubeVersion,
        etcd: &EtcdVersion,
    ) {
        if let Some(binary) = &spec.binary_path {
            if !binary.starts_with('/') {
                self.error(
                    &child(path, "binaryPath"),
                    format!("kubelet binary path `{binary}` is not absolute"),
                    "systemd needs an absolute ExecStart path, e.g. `/usr/bin/kubelet`",
                );
            }
            settings.binary_path = binary.clone();
        }
        if let Some(endpoint) = &spec.container_runtime_endpoint {
            if !(endpoint.starts_with("unix:///") || endpoint.starts_with("npipe://")) {
                self.error(
                    &child(path, "containerRuntimeEndpoint"),
                    format!("`{endpoint}` is not a CRI endpoint URL"),
                    "write `unix:///run/containerd/containerd.sock` or `unix:///var/run/crio/crio.sock`",
                );
            }
            settings.container_runtime_endpoint = endpoint.clone();
        }
        if let Some(config) = &spec.config {
            let owned = |field: &str| owned_kubelet_config_field(field).is_some();
            self.component_config(
                ConfigKind::Kubelet,
                kube,
                config,
                &child(path, "config"),
                owned,
            );
        }
        for (field, value) in spec.config.iter().flatten() {
            let at = child(&child(path, "config"), field);
            if let Some(hint) = owned_kubelet_config_field(field) {
                self.error_at_key(
                    &at,
                    format!("kcompile sets KubeletConfiguration `{field}` itself"),
                    hint,
                );
            }
            settings.config.insert(field.clone(), value.clone());
        }
        let args_path = child(path, "extraArgs");
        for (flag, value) in spec.extra_args.iter().flatten() {
            self.check_flag(
                Component::Kubelet,
                flag,
                &value.0,
                &child(&args_path, flag),
                kube,
                etcd,
            );
            settings.extra_args.insert(flag.clone(), value.0.clone());
        }
        for (name, value) in self.env(spec.extra_env.as_ref(), &child(path, "extraEnv")) {
            settings.extra_env.retain(|(known, _)| *known != name);
            settings.extra_env.push((name, value));
        }
        if let Some(bootstrap) = spec.tls_bootstrap {
            settings.tls_bootstrap = bootstrap;
        }
    }

    /// Reports what [`component_config::check`] finds in a component config at `path`.
    fn component_config(
        &mut self,
        kind: ConfigKind,
        kube: KubeVersion,
        config: &BTreeMap<String, serde_json::Value>,
        path: &str,
        owned: impl Fn(&str) -> bool,
    ) {
        for problem in component_config::check(kind, kube, config, path, owned) {
            let hint = Some(problem.hint);
            self.report(
                Severity::Error,
                &problem.path,
                problem.on_key,
                problem.message,
                hint,
            );
        }
    }

    fn check_flag(
        &mut self,
        component: Component,
        flag: &str,
        value: &str,
        at: &str,
        kube: KubeVersion,
        etcd: &EtcdVersion,
    ) {
        let bare = flag.trim_start_matches('-');
        if bare != flag {
            self.error_at_key(
                at,
                format!("flag `{flag}` is written with dashes"),
                format!("write the name without them: `{bare}: {value}`"),
            );
            return;
        }
        if let Some((name, _)) = flag.split_once('=') {
            self.error_at_key(
                at,
                format!("flag `{flag}` has its value in the name"),
                format!("write `{name}: <value>`"),
            );
            return;
        }
        if let Some(hint) = component.owned_flag_hint(flag) {
            self.error_at_key(
                at,
                format!("kcompile sets {component} `--{flag}` itself"),
                hint,
            );
            return;
        }
        let target = if component == Component::Etcd {
            format!("etcd {}", etcd.tag)
        } else {
            kube.to_string()
        };
        match flag_status(component, flag, kube, etcd) {
            FlagStatus::Known => {}
            FlagStatus::Removed { version, hint } => {
                let hint = if hint.is_empty() {
                    "remove it".into()
                } else {
                    hint
                };
                self.error_at_key(
                    at,
                    format!(
                        "{component} flag `--{flag}` was removed in {version} (target {target})"
                    ),
                    hint,
                );
                return;
            }
            FlagStatus::TooNew { version } => {
                self.error_at_key(
                    at,
                    format!(
                        "{component} flag `--{flag}` arrived in {version}; the target is {target}"
                    ),
                    format!("raise the target version to {version} or remove the flag"),
                );
                return;
            }
            // A name close to a known flag is a typo; any other unknown name may be a flag newer
            // than kcompile's table, so it only warns.
            FlagStatus::Unknown {
                suggestion: Some(close),
            } => {
                self.error_at_key(
                    at,
                    format!("{component} has no flag `--{flag}` in {target}"),
                    format!("did you mean `{close}`?"),
                );
                return;
            }
            FlagStatus::Unregistered => {
                self.error_at_key(
                    at,
                    format!("{component} has no flag `--{flag}` in {target}"),
                    format!(
                        "no {} release kcompile knows registers it; `{} --help` lists the flags",
                        component.binary(),
                        component.binary()
                    ),
                );
                return;
            }
            FlagStatus::Unknown { suggestion: None } => {
                self.report(
                    Severity::Warning,
                    at,
                    true,
                    format!("{component} flag `--{flag}` is not in kcompile's table for {target}"),
                    Some(format!(
                        "check the spelling with `{} --help`; the component refuses to start on an unknown flag",
                        component.binary()
                    )),
                );
                return;
            }
        }
        if flag == "feature-gates" && component != Component::Etcd {
            self.feature_gates(value, at, kube);
        }
        if component == Component::ApiServer && flag == "enable-admission-plugins" {
            for plugin in value.split(',').map(str::trim) {
                if let Some((removed, hint)) = removed_admission_plugin(plugin)
                    && kube.minor >= removed
                {
                    self.error(
                        at,
                        format!("admission plugin `{plugin}` was removed in v1.{removed} (target {kube})"),
                        hint,
                    );
                }
            }
        }
        if component == Component::ApiServer
            && flag == "authorization-mode"
            && value.split(',').any(|mode| mode.trim() == "AlwaysAllow")
        {
            self.warn(
                at,
                "authorization mode AlwaysAllow lets every authenticated request do anything",
                "use `Node,RBAC` (kubeadm's default)",
            );
        }
    }

    fn feature_gates(&mut self, value: &str, at: &str, kube: KubeVersion) {
        for pair in value
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let Some((gate, setting)) = pair.split_once('=') else {
                self.error(
                    at,
                    format!("feature gate `{pair}` has no value"),
                    format!("write `{pair}=true`"),
                );
                continue;
            };
            if !matches!(
                setting.trim().to_ascii_lowercase().as_str(),
                "true" | "false"
            ) {
                self.error(
                    at,
                    format!("feature gate `{gate}` is set to `{setting}`"),
                    "a gate is `true` or `false`",
                );
            }
            match gate_status(gate.trim(), kube) {
                GateStatus::Known => {}
                GateStatus::Removed { version, hint } => self.error(
                    at,
                    format!("feature gate `{gate}` was removed {version} (target {kube})"),
                    if hint.is_empty() {
                        "remove it".to_owned()
                    } else {
                        hint
                    },
                ),
                GateStatus::TooNew { version } => self.error(
                    at,
                    format!("feature gate `{gate}` arrived in {version}; the target is {kube}"),
                    format!("raise the target version to {version} or remove the gate"),
                ),
                GateStatus::Unknown {
                    suggestion: Some(close),
                } => self.error(
                    at,
                    format!("unknown feature gate `{gate}` for {kube}"),
                    format!("did you mean `{close}`?"),
                ),
                GateStatus::Unknown { suggestion: None } => self.warn(
                    at,
                    format!("feature gate `{gate}` is not in kcompile's table for {kube}"),
                    "check the spelling against the Kubernetes feature-gates reference",
                ),
            }
        }
    }

    fn volume(&mut self, volume: &VolumeSpec, at: &str) -> Option<Volume> {
        let name = volume.name.clone().unwrap_or_default();
        let mut ok = true;
        if !is_dns_label(&name) {
            self.error(
                &child(at, "name"),
                format!("volume name `{name}` is not a DNS-1123 label"),
                "e.g. `audit-webhook`",
            );
            ok = false;
        }
        for (field, value) in [
            ("hostPath", &volume.host_path),
            ("mountPath", &volume.mount_path),
        ] {
            match value {
                Some(path) if path.starts_with('/') => {}
                Some(path) => {
                    self.error(
                        &child(at, field),
                        format!("`{path}` is not an absolute path"),
                        "volumes mount absolute paths",
                    );
                    ok = false;
                }
                None => {
                    self.error(
                        at,
                        format!("volume `{name}` has no `{field}`"),
                        "give both `hostPath` and `mountPath`",
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| Volume {
            name,
            host_path: volume.host_path.clone().unwrap_or_default(),
            mount_path: volume.mount_path.clone().unwrap_or_default(),
            read_only: volume.read_only.unwrap_or(true),
            path_type: volume.path_type,
        })
    }

    fn env(&mut self, env: Option<&Vec<EnvSpec>>, path: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (index, var) in env.into_iter().flatten().enumerate() {
            let at = element(path, index);
            let name = var.name.clone().unwrap_or_default();
            if name.is_empty() || name.contains('=') || name.chars().any(char::is_whitespace) {
                self.error(
                    &at,
                    format!("`{name}` is not an environment variable name"),
                    "e.g. `HTTPS_PROXY`",
                );
                continue;
            }
            if out.iter().any(|(known, _)| *known == name) {
                self.error(
                    &at,
                    format!("environment variable `{name}` is set twice"),
                    "keep one",
                );
                continue;
            }
            out.push((name, var.value.clone().unwrap_or_default()));
        }
        out
    }
}

static EMPTY: ComponentSpec = ComponentSpec {
    image: None,
    extra_args: None,
    extra_volumes: None,
    extra_env: None,
    resources: None,
};

/// Why `image` is not an image reference or repository, if it is not.
/// Largest audit policy file kcompile reads: real policies are a few kilobytes.
const MAX_POLICY_FILE: u64 = 1 << 20;

/// Reads an audit policy file named by the spec: a regular file (never a FIFO or device, which
/// could block or never end), at most [`MAX_POLICY_FILE`] bytes, holding an `audit.k8s.io/v1`
/// Policy. Its text goes to every control plane verbatim, so nothing else may pass.
fn read_audit_policy(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
    if !metadata.is_file() {
        return Err("is not a regular file".into());
    }
    if metadata.len() > MAX_POLICY_FILE {
        return Err(format!(
            "is {} bytes; an audit policy is at most 1 MiB",
            metadata.len()
        ));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    let value: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|_| "is not YAML".to_owned())?;
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    if field("apiVersion") != Some("audit.k8s.io/v1") || field("kind") != Some("Policy") {
        return Err(
            "is not an audit policy (`apiVersion: audit.k8s.io/v1`, `kind: Policy`)".into(),
        );
    }
    if !value.get("rules").is_some_and(serde_json::Value::is_array) {
        return Err("has no `rules` list; the apiserver refuses a policy without one".into());
    }
    Ok(text)
}

fn image_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() {
        Some("is empty")
    } else if image.contains("://") {
        Some("has a URL scheme; images are named without one")
    } else if image.chars().any(char::is_whitespace) {
        Some("contains whitespace")
    } else {
        None
    }
}

/// Labels under `kubernetes.io` / `k8s.io` that the NodeRestriction admission plugin refuses to
/// let a kubelet set on itself (the kubelet then fails to start).
fn restricted_node_label(key: &str) -> Option<String> {
    let (prefix, _) = key.rsplit_once('/')?;
    let restricted_domain = ["kubernetes.io", "k8s.io"]
        .iter()
        .any(|domain| prefix == *domain || prefix.ends_with(&format!(".{domain}")));
    let allowed_prefix = ["kubelet.kubernetes.io", "node.kubernetes.io"]
        .iter()
        .any(|allowed| prefix == *allowed || prefix.ends_with(&format!(".{allowed}")));
    let allowed_key = matches!(
        key,
        "kubernetes.io/hostname"
            | "kubernetes.io/arch"
            | "kubernetes.io/os"
            | "beta.kubernetes.io/instance-type"
            | "beta.kubernetes.io/arch"
            | "beta.kubernetes.io/os"
            | "failure-domain.beta.kubernetes.io/region"
            | "failure-domain.beta.kubernetes.io/zone"
            | "topology.kubernetes.io/region"
            | "topology.kubernetes.io/zone"
    );
    (restricted_domain && !allowed_prefix && !allowed_key).then(|| {
        if prefix == "node-role.kubernetes.io" {
            "the kubelet refuses to start with it (NodeRestriction); apply role labels with `kubectl label node` after the node joins".to_owned()
        } else {
            "NodeRestriction allows only `kubelet.kubernetes.io/`, `node.kubernetes.io/` and a few well-known `kubernetes.io` labels; use your own prefix".to_owned()
        }
    })
}

/// Admission plugins kube-apiserver no longer knows: the minor that removed each, and what to use.
fn removed_admission_plugin(plugin: &str) -> Option<(u32, &'static str)> {
    match plugin {
        "PodSecurityPolicy" => Some((
            25,
            "use Pod Security Admission (the `PodSecurity` plugin, on by default) with namespace labels",
        )),
        "SecurityContextDeny" => Some((30, "use Pod Security Admission's `restricted` level")),
        "DenyEscalatingExec" | "DenyExecOnPrivileged" => Some((
            21,
            "use Pod Security Admission or a validating admission policy",
        )),
        "Initializers" => Some((14, "use admission webhooks")),
        _ => None,
    }
}

/// KubeletConfiguration fields kcompile derives, with where they come from.
fn owned_kubelet_config_field(field: &str) -> Option<&'static str> {
    match field {
        "apiVersion" | "kind" => {
            Some("kcompile writes the right apiVersion and kind for the target version")
        }
        "staticPodPath" => {
            Some("static pods live in /etc/kubernetes/manifests, where kcompile writes them")
        }
        "clusterDNS" => Some("set `networking.clusterDNS`"),
        "clusterDomain" => Some("set `networking.dnsDomain`"),
        "tlsCertFile" | "tlsPrivateKeyFile" => {
            Some("kcompile issues the kubelet serving certificate and sets its paths")
        }
        "containerRuntimeEndpoint" => Some("set `kubelet.containerRuntimeEndpoint`"),
        "authentication" => Some(
            "kcompile sets x509 client CA, webhook authn and anonymous off; the hardened profile documents each",
        ),
        _ => None,
    }
}

/// KubeProxyConfiguration fields kcompile derives, with where they come from.
fn owned_kube_proxy_config_field(field: &str) -> Option<&'static str> {
    match field {
        "apiVersion" | "kind" => {
            Some("kcompile writes `kubeproxy.config.k8s.io/v1alpha1` KubeProxyConfiguration")
        }
        "mode" => Some("set `kubeProxy.mode`"),
        "clusterCIDR" => Some("set `networking.podSubnet`"),
        "hostnameOverride" => Some("kcompile sets each host's node name"),
        "clientConnection" => Some(
            "kube-proxy's kubeconfig is /etc/kubernetes/kube-proxy.conf, which kcompile writes",
        ),
        "healthzBindAddress" => {
            Some("the pod's probes ask 127.0.0.1:10256, where kcompile binds the health server")
        }
        _ => None,
    }
}
