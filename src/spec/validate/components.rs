//! Each host's components: the cluster's pod and kubelet settings, then the host's overrides,
//! with images, volumes, environment, resources and component configs checked.

use std::collections::BTreeMap;

use super::hosts::Placed;
use super::{Checker, image_problem};
use crate::cluster::{Host, KubeletSettings, PodSettings, Resources, Volume};
use crate::component::Component;
use crate::spec::component_config::{self, ConfigKind};
use crate::spec::diagnostic::Severity;
use crate::spec::names::{is_dns_label, is_quantity};
use crate::spec::source::{child, element};
use crate::spec::types::{
    ArgValue, ComponentSpec, EnvSpec, KubeletSpec, ResourcesSpec, Spec, VolumeSpec,
};
use crate::versions::images::component_default;
use crate::versions::{EtcdVersion, KubeVersion};

impl Checker<'_> {
    /// Makes each host whole, once: its placement (`hosts.rs`) and its component settings, the
    /// cluster's, then the host's overrides.
    pub(super) fn host_components(
        &mut self,
        spec: &Spec,
        hosts: Option<Vec<Placed>>,
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
                    .map_or(PodFields::from(&EMPTY), PodFields::from),
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

        let host_specs = spec.hosts.clone().unwrap_or_default();
        let mut whole = Vec::new();
        for (index, (placed, host_spec)) in hosts?.into_iter().zip(&host_specs).enumerate() {
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
            let etcd = take(Component::Etcd, &overrides.etcd);
            let api_server = take(Component::ApiServer, &overrides.api_server);
            let controller_manager =
                take(Component::ControllerManager, &overrides.controller_manager);
            let scheduler = take(Component::Scheduler, &overrides.scheduler);
            let kube_proxy = take(Component::KubeProxy, &overrides.kube_proxy);
            let mut host_kubelet = kubelet.clone();
            if let Some(over) = &overrides.kubelet {
                let path = child(&prefix, "kubelet");
                self.apply_kubelet(&mut host_kubelet, over, &path, kube, etcd_version);
            }
            let Placed {
                name,
                address,
                roles,
                labels,
                taints,
            } = placed;
            whole.push(Host {
                name,
                address,
                roles,
                labels,
                taints,
                etcd,
                api_server,
                controller_manager,
                scheduler,
                kube_proxy,
                kubelet: host_kubelet,
            });
        }
        Some(whole)
    }

    pub(super) fn apply_pod(
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
            settings.image.clone_from(image);
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
        self.resources(
            fields.resources,
            &child(path, "resources"),
            &mut settings.resources,
        );
    }

    /// Checks `spec` (at `path`) and writes its requests and limits over `resources`, key by key.
    pub(super) fn resources(
        &mut self,
        spec: Option<&ResourcesSpec>,
        path: &str,
        resources: &mut Resources,
    ) {
        let Some(spec) = spec else {
            return;
        };
        for (kind, list, target) in [
            ("requests", &spec.requests, &mut resources.requests),
            ("limits", &spec.limits, &mut resources.limits),
        ] {
            for (name, quantity) in list.iter().flatten() {
                let at = child(&child(path, kind), name);
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

    pub(super) fn apply_kubelet(
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
            settings.binary_path.clone_from(binary);
        }
        if let Some(endpoint) = &spec.container_runtime_endpoint {
            if !(endpoint.starts_with("unix:///") || endpoint.starts_with("npipe://")) {
                self.error(
                    &child(path, "containerRuntimeEndpoint"),
                    format!("`{endpoint}` is not a CRI endpoint URL"),
                    "write `unix:///run/containerd/containerd.sock` or `unix:///var/run/crio/crio.sock`",
                );
            }
            settings.container_runtime_endpoint.clone_from(endpoint);
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
    pub(super) fn component_config(
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

    pub(super) fn volume(&mut self, volume: &VolumeSpec, at: &str) -> Option<Volume> {
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

    pub(super) fn env(&mut self, env: Option<&Vec<EnvSpec>>, path: &str) -> Vec<(String, String)> {
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

/// A pod component's settings as any of the spec's component types holds them.
pub(super) struct PodFields<'a> {
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

pub(super) static EMPTY: ComponentSpec = ComponentSpec {
    image: None,
    extra_args: None,
    extra_volumes: None,
    extra_env: None,
    resources: None,
};

/// `KubeletConfiguration` fields kcompile derives, with where they come from.
pub fn owned_kubelet_config_field(field: &str) -> Option<&'static str> {
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
