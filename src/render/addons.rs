//! Cluster objects the control plane needs once, which kubeadm creates during `init` and kcompile
//! writes as manifests under `/etc/kubernetes/addons/` on the first control-plane host, for the
//! operator to apply once the apiserver answers:
//! `kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply -f /etc/kubernetes/addons/`.

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::yaml;
use crate::cluster::Cluster;

/// Where the addons go.
pub const ADDONS: &str = "/etc/kubernetes/addons";

/// The RBAC bindings: `kubeadm:cluster-admins` gives admin.conf's group cluster-admin; from
/// v1.37, where the apiserver's kubelet client certificate has no group, its user is bound to
/// `system:kubelet-api-admin` instead.
pub fn rbac(cluster: &Cluster) -> String {
    let mut bindings = vec![binding(
        "kubeadm:cluster-admins",
        "cluster-admin",
        "Group",
        "kubeadm:cluster-admins",
    )];
    if cluster.kubernetes_version.minor >= 37 {
        bindings.push(binding(
            "kubeadm:kube-apiserver-kubelet-client",
            "system:kubelet-api-admin",
            "User",
            "kube-apiserver-kubelet-client",
        ));
    }
    bindings.iter().map(yaml).collect::<Vec<_>>().join("---\n")
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
