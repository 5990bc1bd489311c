//! Images: which ones each host runs.
//!
//! A host runs the images of its static pods (etcd on stacked members; the apiserver,
//! controller-manager and scheduler on control planes; kube-proxy everywhere when it runs; the
//! load balancer's haproxy, keepalived or kube-vip where its kind puts them), the pause image
//! every pod's sandbox starts from ([`pause_image`]), and on the first control plane,
//! where the addon is written, CoreDNS ([`coredns_image`], the image the addon's Deployment
//! names). [`host_images`] lists them for
//! `kcompile images` (pre-pulling with `crictl pull`, filling a mirror); `tests/suite/images.rs` checks
//! the list against every rendered manifest.
//!
//! What each image is called under `imageRepository` is [`crate::versions::images`].

use std::collections::BTreeMap;

use crate::cluster::Role;
use crate::cluster::{Cluster, EtcdTopology, Host};
use crate::component::Component;
use crate::render::load_balancer;
use crate::versions::images::{
    LoadBalancerImage, PUBLIC_REPOSITORY, component_default, coredns_image, pause_image,
};

/// One image a host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The full reference the runtime pulls (`registry.k8s.io/kube-apiserver:v1.37.1`).
    pub reference: String,
    /// What runs it: pod names (`kube-apiserver`, `haproxy`) and `pause` for the pod sandbox.
    pub runs: Vec<&'static str>,
    /// When the image is kcompile's default renamed under a mirror: the public image it is a
    /// copy of (what to copy into the mirror). `None` under the public repository, and for an
    /// image the spec names itself.
    pub copy_of: Option<String>,
}

/// Every image `host` runs, sorted by reference, each once.
pub fn host_images(cluster: &Cluster, host: &Host) -> Vec<Image> {
    let repository = cluster.image_repository.as_str();
    let kube = cluster.kubernetes_version;
    let etcd_tag = cluster.etcd_version.tag.as_str();
    let mut images: BTreeMap<String, Image> = BTreeMap::new();
    let mut add = |runs: &'static str, reference: &str, default: Option<(String, String)>| {
        let copy_of = default
            .filter(|(mirrored, public)| mirrored == reference && public != reference)
            .map(|(_, public)| public);
        let image = images.entry(reference.to_owned()).or_insert_with(|| Image {
            reference: reference.to_owned(),
            runs: Vec::new(),
            copy_of: None,
        });
        image.runs.push(runs);
        if image.copy_of.is_none() {
            image.copy_of = copy_of;
        }
    };
    let component = |component: Component| {
        Some((
            component_default(repository, component, kube, etcd_tag),
            component_default(PUBLIC_REPOSITORY, component, kube, etcd_tag),
        ))
    };
    if host.has(Role::Etcd) && matches!(cluster.etcd, EtcdTopology::Stacked { .. }) {
        add("etcd", &host.etcd.image, component(Component::Etcd));
    }
    if host.has(Role::ControlPlane) {
        for (settings, which) in [
            (&host.api_server, Component::ApiServer),
            (&host.controller_manager, Component::ControllerManager),
            (&host.scheduler, Component::Scheduler),
        ] {
            add(which.binary(), &settings.image, component(which));
        }
    }
    if cluster.kube_proxy.is_some() {
        add(
            Component::KubeProxy.binary(),
            &host.kube_proxy.image,
            component(Component::KubeProxy),
        );
    }
    for (pod, reference) in load_balancer::images(cluster, host) {
        let default = LoadBalancerImage::ALL
            .into_iter()
            .find(|image| image.pod() == pod)
            .map(|image| (image.default_under(repository), image.public().to_owned()));
        add(pod, &reference, default);
    }
    if cluster.is_first_control_plane(host) {
        add(
            "coredns",
            &coredns_image(repository, kube),
            Some((
                coredns_image(repository, kube),
                coredns_image(PUBLIC_REPOSITORY, kube),
            )),
        );
    }
    add(
        "pause",
        &pause_image(repository, kube),
        Some((
            pause_image(repository, kube),
            pause_image(PUBLIC_REPOSITORY, kube),
        )),
    );
    images.into_values().collect()
}

/// `kcompile images` as text: one image per line, sorted, each once; every host's, or `hosts`'.
pub fn render_text<'h>(cluster: &Cluster, hosts: impl IntoIterator<Item = &'h Host>) -> String {
    let mut all: Vec<String> = hosts
        .into_iter()
        .flat_map(|host| host_images(cluster, host))
        .map(|image| image.reference)
        .collect();
    all.sort();
    all.dedup();
    all.iter().map(|image| format!("{image}\n")).collect()
}

/// `kcompile images -o json` (`formatVersion` 1): `{"formatVersion": 1, "imageRepository": R,
/// "images": [every reference, sorted], "hosts": [{"host": NAME, "images": [{"image": REF,
/// "runs": [POD, ...], "copyOf": PUBLIC (only for a default renamed under a mirror)}]}]}`.
/// Fields are only ever added within a version.
pub fn render_json<'h>(cluster: &Cluster, hosts: impl IntoIterator<Item = &'h Host>) -> String {
    let mut all = Vec::new();
    let hosts: Vec<serde_json::Value> = hosts
        .into_iter()
        .map(|host| {
            let images: Vec<serde_json::Value> = host_images(cluster, host)
                .into_iter()
                .map(|image| {
                    all.push(image.reference.clone());
                    let mut value = serde_json::json!({
                        "image": image.reference,
                        "runs": image.runs,
                    });
                    if let Some(public) = image.copy_of {
                        value["copyOf"] = serde_json::Value::String(public);
                    }
                    value
                })
                .collect();
            serde_json::json!({"host": host.name, "images": images})
        })
        .collect();
    all.sort();
    all.dedup();
    crate::json::document(&serde_json::json!({
        "imageRepository": cluster.image_repository,
        "images": all,
        "hosts": hosts,
    }))
}
