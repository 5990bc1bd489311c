//! Images: which ones each host runs, and what an image is called under `imageRepository`.
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
//! **Mirroring.** `imageRepository` renames every image kcompile chooses by default. The
//! Kubernetes images are `<imageRepository>/<name>:<tag>` as kubeadm names them. The load
//! balancer's come from other public registries; under a mirror each keeps the last component of
//! its public path and its tag, so one `imageRepository` serves them all:
//!
//! | public default (`imageRepository: registry.k8s.io`) | under `imageRepository: R` |
//! |---|---|
//! | `docker.io/library/haproxy:2.8` | `R/haproxy:2.8` |
//! | `docker.io/osixia/keepalived:2.0.20` | `R/keepalived:2.0.20` |
//! | `ghcr.io/kube-vip/kube-vip:v0.8.9` | `R/kube-vip:v0.8.9` |
//!
//! With the public repository (kubeadm's default, `registry.k8s.io`) the load-balancer images
//! keep their public names. An image the spec names itself (`apiServer.image`,
//! `loadBalancer.haproxyImage`, ...) is used as written.

use std::collections::BTreeMap;

use crate::cluster::{Cluster, EtcdTopology, Host};
use crate::component::Component;
use crate::render::load_balancer;
use crate::spec::Role;
use crate::versions::KubeVersion;
use crate::versions::coredns::coredns_tag;
use crate::versions::load_balancer as pins;
use crate::versions::pause::pause_tag;

/// kubeadm's default `imageRepository`, where the Kubernetes images are published. Under it the
/// load-balancer images keep their public names.
pub const PUBLIC_REPOSITORY: &str = "registry.k8s.io";

/// A load-balancer image kcompile runs unless the spec names another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancerImage {
    /// haproxy (`keepalived-haproxy`, `local-proxy`).
    Haproxy,
    /// keepalived (`keepalived-haproxy`).
    Keepalived,
    /// kube-vip (`kube-vip`).
    KubeVip,
}

impl LoadBalancerImage {
    /// Every load-balancer image.
    pub const ALL: [LoadBalancerImage; 3] = [
        LoadBalancerImage::Haproxy,
        LoadBalancerImage::Keepalived,
        LoadBalancerImage::KubeVip,
    ];

    /// Its public name: the image kcompile runs under the public repository.
    pub fn public(self) -> &'static str {
        match self {
            LoadBalancerImage::Haproxy => pins::HAPROXY,
            LoadBalancerImage::Keepalived => pins::KEEPALIVED,
            LoadBalancerImage::KubeVip => pins::KUBE_VIP,
        }
    }

    /// The `loadBalancer` field that names another image.
    pub fn spec_field(self) -> &'static str {
        match self {
            LoadBalancerImage::Haproxy => "haproxyImage",
            LoadBalancerImage::Keepalived => "keepalivedImage",
            LoadBalancerImage::KubeVip => "kubeVipImage",
        }
    }

    /// The name of the pod (and container) that runs it.
    pub fn pod(self) -> &'static str {
        match self {
            LoadBalancerImage::Haproxy => "haproxy",
            LoadBalancerImage::Keepalived => "keepalived",
            LoadBalancerImage::KubeVip => "kube-vip",
        }
    }

    /// The image kcompile runs by default under `repository`: the public name under the public
    /// repository, else `<repository>/<last path component>:<tag>` (see the module
    /// documentation).
    pub fn default_under(self, repository: &str) -> String {
        if repository == PUBLIC_REPOSITORY {
            return self.public().to_owned();
        }
        let public = self.public();
        let name = public.rsplit_once('/').map_or(public, |(_, name)| name);
        format!("{repository}/{name}")
    }
}

/// The image kcompile runs for `component` unless the spec names another: kubeadm's
/// `<repository>/<binary>:<version>`, and for etcd `<repository>/etcd:<etcd_tag>`.
pub fn component_default(
    repository: &str,
    component: Component,
    kube: KubeVersion,
    etcd_tag: &str,
) -> String {
    match component {
        Component::Etcd => format!("{repository}/etcd:{etcd_tag}"),
        other => format!("{repository}/{}:{kube}", other.binary()),
    }
}

/// The CoreDNS image under `repository` for a `kube` cluster: kubeadm's `GetDNSImage`, at the tag
/// kubeadm pins for the release ([`coredns_tag`]). Under the public repository CoreDNS lives one
/// level deeper (`registry.k8s.io/coredns/coredns`), under any other directly (`<repo>/coredns`).
pub fn coredns_image(repository: &str, kube: KubeVersion) -> String {
    let tag = coredns_tag(kube);
    if repository == PUBLIC_REPOSITORY {
        format!("{repository}/coredns/coredns:{tag}")
    } else {
        format!("{repository}/coredns:{tag}")
    }
}

/// The pause image a host of a `kube` cluster runs every pod's sandbox from, under `repository`
/// (the spec's `imageRepository`): `registry.k8s.io/pause:3.10.2`, at the tag kubeadm pins for the
/// release ([`pause_tag`]).
pub fn pause_image(repository: &str, kube: KubeVersion) -> String {
    format!("{repository}/pause:{}", pause_tag(kube))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_balancer_images_keep_their_public_names_under_the_public_repository() {
        for image in LoadBalancerImage::ALL {
            assert_eq!(image.default_under(PUBLIC_REPOSITORY), image.public());
        }
    }

    #[test]
    fn the_pause_image_is_the_tag_under_the_repository() {
        let v1_37 = KubeVersion::parse("v1.37.1").unwrap();
        assert_eq!(
            pause_image(PUBLIC_REPOSITORY, v1_37),
            "registry.k8s.io/pause:3.10.2"
        );
        let v1_33 = KubeVersion::parse("v1.33.0").unwrap();
        assert_eq!(
            pause_image("mirror.example.com:5000/k8s", v1_33),
            "mirror.example.com:5000/k8s/pause:3.10"
        );
    }

    #[test]
    fn coredns_is_one_level_deeper_only_under_the_public_repository() {
        let v1_37 = KubeVersion::parse("v1.37.1").unwrap();
        assert_eq!(
            coredns_image(PUBLIC_REPOSITORY, v1_37),
            "registry.k8s.io/coredns/coredns:v1.14.6"
        );
        assert_eq!(
            coredns_image("mirror.example.com:5000/k8s", v1_37),
            "mirror.example.com:5000/k8s/coredns:v1.14.6"
        );
    }

    #[test]
    fn under_a_mirror_a_load_balancer_image_keeps_its_last_path_component_and_tag() {
        let mirror = "mirror.example.com:5000/k8s";
        assert_eq!(
            LoadBalancerImage::Haproxy.default_under(mirror),
            "mirror.example.com:5000/k8s/haproxy:2.8"
        );
        assert_eq!(
            LoadBalancerImage::Keepalived.default_under(mirror),
            "mirror.example.com:5000/k8s/keepalived:2.0.20"
        );
        assert_eq!(
            LoadBalancerImage::KubeVip.default_under(mirror),
            "mirror.example.com:5000/k8s/kube-vip:v0.8.9"
        );
    }
}
