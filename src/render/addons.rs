//! Cluster objects the control plane needs once, which kubeadm creates during `init` and kcompile
//! writes as manifests under `/etc/kubernetes/addons/` on the first control-plane host, for the
//! operator to apply once the apiserver answers:
//! `kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply -f /etc/kubernetes/addons/`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::yaml;
use crate::cluster::Cluster;
use crate::pki::tokens::BootstrapToken;
use crate::versions::KubeletClientAccess;

/// Where the addons go.
pub const ADDONS: &str = "/etc/kubernetes/addons";

/// The RBAC bindings: `kubeadm:cluster-admins` gives admin.conf's group cluster-admin; from the
/// releases that carry kubeadm #138957 (v1.37.0, v1.36.1, v1.35.5, v1.34.8, v1.33.12), where the
/// apiserver's kubelet client certificate has no group, `kubeadm:apiserver-kubelet-client` binds
/// its user to `system:kubelet-api-admin` instead, as kubeadm names it.
pub fn rbac(cluster: &Cluster) -> String {
    let mut bindings = vec![binding(
        "kubeadm:cluster-admins",
        "cluster-admin",
        "Group",
        "kubeadm:cluster-admins",
    )];
    match cluster.kubernetes_version.kubelet_client_access() {
        KubeletClientAccess::ClusterAdminsGroup => {}
        KubeletClientAccess::KubeletApiAdminRole => bindings.push(binding(
            "kubeadm:apiserver-kubelet-client",
            "system:kubelet-api-admin",
            "User",
            "kube-apiserver-kubelet-client",
        )),
    }
    bindings.iter().map(yaml).collect::<Vec<_>>().join("---\n")
}

/// The group a bootstrap token's kubelets authenticate as (kubeadm's).
pub const BOOTSTRAP_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

/// What TLS bootstrap needs: the bootstrap token Secret, with the expiry recorded in the state
/// (the apiserver refuses the token after it, and the controller-manager's token cleaner deletes
/// the Secret; a token from an earlier kcompile has none and never expires), and the bindings that
/// let its kubelets create certificate requests and have the first one approved.
pub fn bootstrap(token: &BootstrapToken) -> String {
    let mut data = BTreeMap::from([
        ("auth-extra-groups".to_owned(), BOOTSTRAP_GROUP.to_owned()),
        (
            "description".to_owned(),
            "kcompile: joins workers by TLS bootstrap".to_owned(),
        ),
        ("token-id".to_owned(), token.id().to_owned()),
        ("token-secret".to_owned(), token.secret().to_owned()),
        (
            "usage-bootstrap-authentication".to_owned(),
            "true".to_owned(),
        ),
        ("usage-bootstrap-signing".to_owned(), "true".to_owned()),
    ]);
    if let Some(expiration) = token.expiration_text() {
        data.insert("expiration".to_owned(), expiration);
    }
    let token_secret = Secret {
        metadata: ObjectMeta {
            name: Some(format!("bootstrap-token-{}", token.id())),
            namespace: Some("kube-system".into()),
            ..ObjectMeta::default()
        },
        type_: Some("bootstrap.kubernetes.io/token".into()),
        string_data: Some(data),
        ..Secret::default()
    };
    let bindings = [
        binding(
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            "Group",
            BOOTSTRAP_GROUP,
        ),
        binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "Group",
            BOOTSTRAP_GROUP,
        ),
    ];
    std::iter::once(yaml(&token_secret))
        .chain(bindings.iter().map(yaml))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Where [`node_certificate_rotation`] goes, under [`ADDONS`].
pub const CERTIFICATE_ROTATION: &str = "node-certificate-rotation.yaml";

/// `kubeadm:node-autoapprove-certificate-rotation`: the controller-manager approves the renewal
/// requests of every node's client certificate. Written whenever a kubelet rotates its
/// certificates ([`super::kubelet::rotates_certificates`]), however the kubelet joined.
pub fn node_certificate_rotation() -> String {
    yaml(&binding(
        "kubeadm:node-autoapprove-certificate-rotation",
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "Group",
        "system:nodes",
    ))
}

fn binding(name: &str, role: &str, kind: &str, subject: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.to_owned(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: kind.to_owned(),
            name: subject.to_owned(),
            namespace: None,
        }]),
    }
}
