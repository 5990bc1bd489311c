//! The layered spec to a [`Cluster`]: every value parsed and checked, every rule that spans fields
//! (subnets that overlap, etcd quorum, SANs, flags the target version removed) enforced, each
//! finding reported at the line and column of the layer that wrote the value.

mod api_server;
mod components;
mod etcd;
mod flags;
mod hosts;
mod kube_proxy;
mod load_balancer;
mod networking;
mod pki;
mod scheduler;
mod versions;

pub use components::owned_kubelet_config_field;

use super::diagnostic::{Diagnostic, Severity};
use super::input::NamedFiles;
use super::layer::Layered;
use super::names::dns_subdomain_problem;
use super::source::{child, element};
use super::types::{API_VERSION, Spec};
use crate::cluster::Cluster;

/// Validates the layered spec. On success, the cluster and any warnings; otherwise every error
/// and warning found, in source order.
pub fn validate(
    layered: &Layered,
    files: &NamedFiles,
) -> Result<(Cluster, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut checker = Checker {
        layered,
        diagnostics: Vec::new(),
    };
    let cluster = checker.cluster(&layered.spec, files);
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
            .find(|path| spec.map().contains(path))
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

    fn cluster(&mut self, spec: &Spec, files: &NamedFiles) -> Option<Cluster> {
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
        let audit = self.audit(spec, files);
        let aggregation = self.aggregation(spec);
        let kube_proxy = self.kube_proxy(spec, kubernetes_version);
        let hosts = self.hosts(spec, networking.as_ref());
        let endpoint = self.endpoint(spec, hosts.as_deref(), networking.as_ref());
        let load_balancer = self.load_balancer(
            spec,
            hosts.as_deref(),
            endpoint.as_ref(),
            api_server_port.copied(),
            image_repository.as_deref(),
        );
        let etcd = self.etcd(spec, hosts.as_deref());
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
            kube_proxy_external: spec
                .kube_proxy
                .as_ref()
                .and_then(|proxy| proxy.external)
                .unwrap_or(false),
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
}

/// Why `image` is not an image reference or repository, if it is not.
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
