//! What each image kcompile runs by default is called under `imageRepository`: the Kubernetes
//! images, CoreDNS, the pause image and the load balancer's, at the tags pinned in this module's
//! siblings ([`super::coredns`], [`super::pause`], [`super::load_balancer`]).
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

use super::KubeVersion;
use super::coredns::coredns_tag;
use super::load_balancer as pins;
use super::pause::pause_tag;
use crate::component::Component;

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
