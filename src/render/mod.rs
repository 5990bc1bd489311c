//! Rendering: a cluster, its PKI material and one host to that host's files. Pure: no clock, no
//! randomness, no file system; the same inputs give the same bytes.

pub mod kubeconfig;

use crate::bundle::{FileSet, PUBLIC, SECRET};
use crate::cluster::{Cluster, EndpointHost, Host};
use crate::pki::Pki;
use crate::pki::catalog::Authority;
use crate::spec::Role;
use kubeconfig::Kubeconfig;

/// Where the PKI lives on a host.
pub const PKI_DIR: &str = "etc/kubernetes/pki";
/// Where kubeconfigs live on a host.
pub const KUBERNETES_DIR: &str = "etc/kubernetes";
/// Where the kubelet keeps its serving certificate (the kubelet's own `--cert-dir` default).
pub const KUBELET_PKI_DIR: &str = "var/lib/kubelet/pki";

/// Every file `host` needs. A host receives only what its roles use: workers get the cluster CA
/// certificate, their own kubelet credentials and kube-proxy's, and nothing else.
pub fn host_files(cluster: &Cluster, pki: &Pki, host: &Host) -> FileSet {
    let mut files = FileSet::default();
    let cluster_ca = &pki.authorities[&Authority::Cluster];
    let name = host.name.as_str();
    let leaf = |files: &mut FileSet, file: &str, dir: &str, as_name: &str| {
        if let Some(issued) = pki.leaf(Some(name), file) {
            files.add(
                format!("{dir}/{as_name}.crt"),
                issued.cert_pem.as_bytes(),
                PUBLIC,
            );
            files.add(
                format!("{dir}/{as_name}.key"),
                issued.key_pem.as_bytes(),
                SECRET,
            );
        }
    };

    files.add(
        format!("{PKI_DIR}/ca.crt"),
        cluster_ca.cert_pem.as_bytes(),
        PUBLIC,
    );
    leaf(&mut files, "kubelet-serving", KUBELET_PKI_DIR, "kubelet");

    if host.has(Role::ControlPlane) {
        // The controller-manager signs kubelet client certificate renewals with the CA key.
        if let Some(key) = &cluster_ca.key_pem {
            files.add(format!("{PKI_DIR}/ca.key"), key.as_bytes(), SECRET);
        }
        for file in [
            "apiserver",
            "apiserver-kubelet-client",
            "apiserver-etcd-client",
            "front-proxy-client",
        ] {
            leaf(&mut files, file, PKI_DIR, file);
        }
        let front_proxy = &pki.authorities[&Authority::FrontProxy];
        files.add(
            format!("{PKI_DIR}/front-proxy-ca.crt"),
            front_proxy.cert_pem.as_bytes(),
            PUBLIC,
        );
        files.add(
            format!("{PKI_DIR}/sa.key"),
            pki.service_account_key.as_bytes(),
            SECRET,
        );
        files.add(
            format!("{PKI_DIR}/sa.pub"),
            pki.service_account_public.as_bytes(),
            PUBLIC,
        );
    }
    if let Some(etcd_ca) = pki.authorities.get(&Authority::Etcd)
        && (host.has(Role::ControlPlane) || host.has(Role::Etcd))
    {
        files.add(
            format!("{PKI_DIR}/etcd/ca.crt"),
            etcd_ca.cert_pem.as_bytes(),
            PUBLIC,
        );
    }
    if host.has(Role::Etcd) {
        for file in ["etcd/server", "etcd/peer", "etcd/healthcheck-client"] {
            leaf(&mut files, file, PKI_DIR, file);
        }
    }

    // Kubeconfigs, with the server each one dials.
    let local = format!("https://{}:{}", host.address, cluster.api_server_port);
    let shared = shared_server(cluster);
    let kubeconfig =
        |files: &mut FileSet, file: &str, issued: Option<&crate::pki::Issued>, server: &str| {
            if let Some(issued) = issued {
                let text = Kubeconfig {
                    cluster: &cluster.name,
                    server,
                    ca_pem: &cluster_ca.cert_pem,
                    user: &issued.spec.common_name,
                    cert_pem: &issued.cert_pem,
                    key_pem: &issued.key_pem,
                }
                .render();
                files.add(format!("{KUBERNETES_DIR}/{file}"), text, SECRET);
            }
        };
    if host.has(Role::ControlPlane) {
        kubeconfig(&mut files, "admin.conf", pki.leaf(None, "admin"), &shared);
        // As kubeadm: only the first control-plane host gets the break-glass super-admin.
        if cluster
            .hosts_with(Role::ControlPlane)
            .next()
            .is_some_and(|first| first.name == host.name)
        {
            kubeconfig(
                &mut files,
                "super-admin.conf",
                pki.leaf(None, "super-admin"),
                &shared,
            );
        }
        kubeconfig(
            &mut files,
            "controller-manager.conf",
            pki.leaf(Some(name), "controller-manager"),
            &local,
        );
        kubeconfig(
            &mut files,
            "scheduler.conf",
            pki.leaf(Some(name), "scheduler"),
            &local,
        );
    }
    // Control-plane kubelets talk to their own apiserver (kubeadm's ControlPlaneKubeletLocalMode).
    let node_server = if host.has(Role::ControlPlane) {
        &local
    } else {
        &shared
    };
    kubeconfig(
        &mut files,
        "kubelet.conf",
        pki.leaf(Some(name), "kubelet-client"),
        node_server,
    );
    kubeconfig(
        &mut files,
        "kube-proxy.conf",
        pki.leaf(Some(name), "kube-proxy"),
        node_server,
    );
    files
}

/// YAML as Kubernetes tools write it: long strings (base64 credentials) stay on one line.
pub fn yaml<T: serde::Serialize>(value: &T) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(value, options).unwrap_or_default()
}

/// The server admins and workers dial: the control-plane endpoint, else the first control plane.
pub fn shared_server(cluster: &Cluster) -> String {
    match &cluster.control_plane_endpoint {
        Some(endpoint) => {
            let host = match &endpoint.host {
                EndpointHost::Ip(ip) => ip.to_string(),
                EndpointHost::Dns(name) => name.clone(),
            };
            format!("https://{host}:{}", endpoint.port)
        }
        None => {
            let first = cluster.hosts_with(Role::ControlPlane).next();
            let address =
                first.map_or_else(|| "127.0.0.1".to_owned(), |host| host.address.to_string());
            format!("https://{address}:{}", cluster.api_server_port)
        }
    }
}
