//! `kcompile validate --show-resolved`: the spec after its profiles and kcompile's computed defaults,
//! as YAML that validates again, each value that the spec did not write marked with where it came
//! from (`# profile kubeadm`, `# kcompile default`). Every image default is shown, after
//! `imageRepository` (the pause image has no spec field: `kcompile images` lists it).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::layer::Layered;
use super::source::{child, element};
use crate::cluster::{Cluster, EtcdTopology};
use crate::component::Component;
use crate::versions::images::{LoadBalancerImage, component_default};

/// Renders the resolved spec.
pub fn render(layered: &Layered, cluster: &Cluster) -> String {
    let mut spec = layered.spec.clone();
    let mut origins = layered.origins.clone();
    let computed = layered.layers.len();
    let mut labels: Vec<&str> = layered
        .layers
        .iter()
        .map(|layer| layer.label.as_str())
        .collect();
    labels.push("kcompile default");

    let mut fill = |slot: &mut Option<String>, path: &str, value: String| {
        if slot.is_none() {
            *slot = Some(value);
            origins.insert(path.to_owned(), computed);
        }
    };
    fill(
        &mut spec.kubernetes_version,
        "kubernetesVersion",
        cluster.kubernetes_version.to_string(),
    );
    let etcd = spec.etcd.get_or_insert_with(Default::default);
    fill(
        &mut etcd.version,
        "etcd.version",
        cluster.etcd_version.tag.clone(),
    );
    let networking = spec.networking.get_or_insert_with(Default::default);
    fill(
        &mut networking.cluster_dns,
        "networking.clusterDNS",
        cluster.networking.cluster_dns.to_string(),
    );
    // Every image default, after `imageRepository` (crate::images): the components the cluster
    // runs, and the load balancer's when the spec has one.
    let repository = cluster.image_repository.as_str();
    let kube = cluster.kubernetes_version;
    let default = |component: Component| {
        component_default(repository, component, kube, &cluster.etcd_version.tag)
    };
    if matches!(cluster.etcd, EtcdTopology::Stacked { .. }) {
        let etcd = spec.etcd.get_or_insert_with(Default::default);
        fill(&mut etcd.image, "etcd.image", default(Component::Etcd));
    }
    let api_server = spec.api_server.get_or_insert_with(Default::default);
    fill(
        &mut api_server.image,
        "apiServer.image",
        default(Component::ApiServer),
    );
    let controller_manager = spec.controller_manager.get_or_insert_with(Default::default);
    fill(
        &mut controller_manager.image,
        "controllerManager.image",
        default(Component::ControllerManager),
    );
    let scheduler = spec.scheduler.get_or_insert_with(Default::default);
    fill(
        &mut scheduler.image,
        "scheduler.image",
        default(Component::Scheduler),
    );
    if cluster.kube_proxy.is_some() {
        let kube_proxy = spec.kube_proxy.get_or_insert_with(Default::default);
        fill(
            &mut kube_proxy.image,
            "kubeProxy.image",
            default(Component::KubeProxy),
        );
    }
    if cluster.load_balancer.is_none() {
        // A profile's resources for load-balancer pods the cluster does not run.
        spec.load_balancer = None;
    }
    if let Some(load_balancer) = spec.load_balancer.as_mut() {
        for image in LoadBalancerImage::ALL {
            let slot = match image {
                LoadBalancerImage::Haproxy => &mut load_balancer.haproxy_image,
                LoadBalancerImage::Keepalived => &mut load_balancer.keepalived_image,
                LoadBalancerImage::KubeVip => &mut load_balancer.kube_vip_image,
            };
            fill(
                slot,
                &format!("loadBalancer.{}", image.spec_field()),
                image.default_under(repository),
            );
        }
    }
    // Through the typed spec, so fields come out in the order docs/spec.md lists them.
    let merged = serde_json::to_value(&spec).unwrap_or_default();

    let mut out =
        String::from("# The resolved spec: values without a comment come from the spec itself.\n");
    let printer = Printer {
        origins: &origins,
        labels: &labels,
        spec: computed - 1,
    };
    if let Value::Object(fields) = &merged {
        printer.object(&mut out, fields, "", 0, false);
    }
    out
}

struct Printer<'a> {
    origins: &'a BTreeMap<String, usize>,
    labels: &'a [&'a str],
    spec: usize,
}

impl Printer<'_> {
    /// The one layer that wrote `path` and everything under it, if there is one.
    fn sole_origin(&self, path: &str) -> Option<usize> {
        let mut layers = self
            .origins
            .range(path.to_owned()..)
            .take_while(|(known, _)| known.starts_with(path))
            .filter(|(known, _)| {
                known.len() == path.len() || matches!(known.as_bytes()[path.len()], b'.' | b'[')
            })
            .map(|(_, layer)| *layer);
        let first = layers.next()?;
        layers.all(|layer| layer == first).then_some(first)
    }

    /// ` # label` when `path` came wholly from a layer other than the spec.
    fn comment(&self, path: &str, quiet: bool) -> String {
        match self.sole_origin(path) {
            Some(layer) if !quiet && layer != self.spec => format!("  # {}", self.labels[layer]),
            _ => String::new(),
        }
    }

    fn object(
        &self,
        out: &mut String,
        fields: &serde_json::Map<String, Value>,
        path: &str,
        indent: usize,
        quiet: bool,
    ) {
        let pad = " ".repeat(indent);
        for (key, value) in fields {
            let at = child(path, key);
            let comment = self.comment(&at, quiet);
            let inner_quiet = quiet || !comment.is_empty();
            let key = scalar(&Value::String(key.clone()));
            match value {
                Value::Object(inner) if !inner.is_empty() => {
                    let _ = writeln!(out, "{pad}{key}:{comment}");
                    self.object(out, inner, &at, indent + 2, inner_quiet);
                }
                Value::Array(items) if !items.is_empty() => {
                    let _ = writeln!(out, "{pad}{key}:{comment}");
                    self.array(out, items, &at, indent + 2, inner_quiet);
                }
                leaf => {
                    let _ = writeln!(out, "{pad}{key}: {}{comment}", scalar(leaf));
                }
            }
        }
    }

    fn array(&self, out: &mut String, items: &[Value], path: &str, indent: usize, quiet: bool) {
        let pad = " ".repeat(indent);
        for (index, item) in items.iter().enumerate() {
            let at = element(path, index);
            match item {
                Value::Object(fields) if !fields.is_empty() => {
                    let mut block = String::new();
                    self.object(&mut block, fields, &at, indent + 2, quiet);
                    let _ = write!(out, "{pad}- {}", &block[indent + 2..]);
                }
                Value::Array(inner) if !inner.is_empty() => {
                    let _ = writeln!(out, "{pad}-");
                    self.array(out, inner, &at, indent + 2, quiet);
                }
                leaf => {
                    let _ = writeln!(out, "{pad}- {}", scalar(leaf));
                }
            }
        }
    }
}

/// One scalar (or empty collection) as YAML, quoted where YAML would misread it.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(_) => {
            let text = serde_saphyr::to_string(value).unwrap_or_default();
            let text = text.trim_end_matches('\n');
            if text.contains('\n') {
                serde_json::to_string(value).unwrap_or_default()
            } else {
                text.to_owned()
            }
        }
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
        other => other.to_string(),
    }
}
