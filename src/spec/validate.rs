//! The layered spec to a [`Cluster`]: every value parsed and checked, every rule that spans fields
//! (subnets that overlap, etcd quorum, SANs, flags the target version removed) enforced, each
//! finding reported at the line and column of the layer that wrote the value.

mod api_server;
mod etcd;
mod hosts;
mod kube_proxy;
mod load_balancer;
mod networking;
mod pki;
mod scheduler;
use std::collections::BTreeMap;
use std::path::Path;

use super::component_config::{self, ConfigKind};
use super::diagnostic::{Diagnostic, Severity};
use super::layer::Layered;
use super::names::{dns_subdomain_problem, is_dns_label, is_quantity};
use super::source::{child, element};
use super::types::{
    API_VERSION, ArgValue, ComponentSpec, EnvSpec, KubeletSpec, ResourcesSpec, Spec, VolumeSpec,
};
use crate::cluster::{Cluster, Host, KubeletSettings, PodSettings, Volume};
use crate::component::Component;
use crate::images::component_default;
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
