//! Rendering: a cluster, its PKI material and one host to that host's files. Pure: no clock, no
//! randomness, no file system; the same inputs give the same bytes.

pub mod addons;
pub mod apiserver;
pub mod audit;
pub mod containerd;
pub mod controller_manager;
pub mod coredns;
pub mod encryption;
pub mod etcd;
mod files;
pub mod kube_proxy;
pub mod kubeconfig;
pub mod kubelet;
pub mod load_balancer;
pub mod node;
pub mod pod;
pub mod scheduler;
pub mod security_context;

use crate::cluster::Authority;
use crate::cluster::Role;
use crate::cluster::{Cluster, EndpointHost, Host, Rootless};
use crate::component::Component;
use crate::etcd_membership::Membership;
use crate::pki::catalog::joins_by_bootstrap;
use crate::pki::{Issued, Pki};
pub use files::{DIRECTORY, File, FileSet, PUBLIC, SECRET, is_owned_directory};
use kubeconfig::{Credentials, Kubeconfig};
use pod::Mount;

/// The PKI directory on a host.
pub const PKI: &str = "/etc/kubernetes/pki";
/// Where kubeconfigs, configs and manifests live on a host.
pub const KUBERNETES: &str = "/etc/kubernetes";
/// Static pod manifests.
pub const MANIFESTS: &str = "/etc/kubernetes/manifests";
/// Where the kubelet keeps its serving certificate (the kubelet's own `--cert-dir` default).
pub const KUBELET_PKI: &str = "/var/lib/kubelet/pki";
/// The `KubeletConfiguration`.
pub const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";
/// The kubelet's systemd unit.
pub const KUBELET_UNIT: &str = "/etc/systemd/system/kubelet.service";
/// The `KubeProxyConfiguration`.
pub const KUBE_PROXY_CONFIG: &str = "/var/lib/kube-proxy/config.conf";
/// The `EncryptionConfiguration`, unless `encryption.configPath` names another path.
pub const ENCRYPTION_CONFIG: &str = "/etc/kubernetes/encryption-config.yaml";
/// The kubeconfig a TLS-bootstrapping kubelet starts with (the kubelet writes kubelet.conf).
pub const BOOTSTRAP_KUBECONFIG: &str = "/etc/kubernetes/bootstrap-kubelet.conf";
/// The audit policy, unless `audit.policyPath` names another path.
pub const AUDIT_POLICY: &str = "/etc/kubernetes/audit-policy.yaml";
/// The apiserver's `AuthenticationConfiguration` (anonymous access to health endpoints only).
pub const AUTHENTICATION_CONFIG: &str = "/etc/kubernetes/authentication-config.yaml";

/// Every file `host` needs. A host receives only what its roles use: workers get the cluster CA
/// certificate, their own kubelet credentials and kube-proxy's, and nothing else. `members` says
/// how an etcd member starts (forms the cluster or joins it).
pub fn host_files(cluster: &Cluster, pki: &Pki, members: &Membership, host: &Host) -> FileSet {
    let mut files = FileSet::default();
    pki_files(&mut files, pki, host);
    kubeconfigs(&mut files, cluster, pki, host);
    configs(&mut files, cluster, pki, host);
    manifests(&mut files, cluster, pki, members, host);
    if let Some(text) = security_context::tmpfiles(cluster, host, &files) {
        files.add(security_context::TMPFILES, text, PUBLIC);
    }
    files
}

/// Certificates and keys, by role.
fn pki_files(files: &mut FileSet, pki: &Pki, host: &Host) {
    let cluster_ca = &pki.authorities[&Authority::Cluster];
    let mut pair = |dir: &str, file: &str, as_name: &str| {
        if let Some(issued) = pki.leaf(Some(&host.name), file) {
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
    pair(KUBELET_PKI, "kubelet-serving", "kubelet");
    if host.has(Role::ControlPlane) {
        for file in [
            "apiserver",
            "apiserver-kubelet-client",
            "apiserver-etcd-client",
            "front-proxy-client",
        ] {
            pair(PKI, file, file);
        }
    }
    if host.has(Role::Etcd) {
        for file in ["etcd/server", "etcd/peer", "etcd/healthcheck-client"] {
            pair(PKI, file, file);
        }
    }
    files.add(
        format!("{PKI}/ca.crt"),
        cluster_ca.trust_pem.as_bytes(),
        PUBLIC,
    );
    if host.has(Role::ControlPlane) {
        // The controller-manager signs kubelet certificate renewals with the CA key. The etcd and
        // front-proxy CA keys never leave the state dir: nothing on a host signs with them.
        // While the cluster CA rotates, ca.crt is a bundle of two: the signing pair gets files of
        // its own.
        if let Some(key) = &cluster_ca.key_pem {
            let (cert, key_file) = signing_files(pki);
            if cluster_ca.rotating {
                files.add(cert, cluster_ca.cert_pem.as_bytes(), PUBLIC);
            }
            files.add(key_file, key.as_bytes(), SECRET);
        }
        let front_proxy = &pki.authorities[&Authority::FrontProxy];
        files.add(
            format!("{PKI}/front-proxy-ca.crt"),
            front_proxy.trust_pem.as_bytes(),
            PUBLIC,
        );
        files.add(
            format!("{PKI}/sa.key"),
            pki.service_account_key.as_bytes(),
            SECRET,
        );
        files.add(
            format!("{PKI}/sa.pub"),
            pki.service_account_public.as_bytes(),
            PUBLIC,
        );
        if let Some((key, public)) = &pki.rotations.service_account_next {
            files.add(format!("{PKI}/sa-next.pub"), public.as_bytes(), PUBLIC);
            if pki.rotations.service_account_phase >= 2 {
                files.add(format!("{PKI}/sa-next.key"), key.as_bytes(), SECRET);
            }
        }
    }
    if let Some(etcd_ca) = pki.authorities.get(&Authority::Etcd)
        && (host.has(Role::ControlPlane) || host.has(Role::Etcd))
    {
        files.add(
            format!("{PKI}/etcd/ca.crt"),
            etcd_ca.trust_pem.as_bytes(),
            PUBLIC,
        );
    }
}

/// Kubeconfigs, each with the server it dials: the control-plane endpoint for admins, workers and
/// kube-proxy, the local apiserver for control-plane components and control-plane kubelets
/// (kubeadm's `ControlPlaneKubeletLocalMode`), the local proxy on 127.0.0.1 for the kubelet and
/// kube-proxy of hosts that run one (`loadBalancer.kind: local-proxy`).
fn kubeconfigs(files: &mut FileSet, cluster: &Cluster, pki: &Pki, host: &Host) {
    let cluster_ca = &pki.authorities[&Authority::Cluster];
    let local = format!("https://{}:{}", host.address, cluster.api_server_port);
    let shared = shared_server(cluster);
    let mut write = |file: &str, issued: Option<&Issued>, server: &str| {
        if let Some(issued) = issued {
            let text = Kubeconfig {
                cluster: &cluster.name,
                server,
                ca_pem: &cluster_ca.trust_pem,
                user: &issued.spec.common_name,
                credentials: Credentials::Certificate {
                    cert_pem: &issued.cert_pem,
                    key_pem: &issued.key_pem,
                },
            }
            .render();
            files.add(format!("{KUBERNETES}/{file}"), text, SECRET);
        }
    };
    let name = Some(host.name.as_str());
    if host.has(Role::ControlPlane) {
        write("admin.conf", pki.leaf(None, "admin"), &shared);
        // As kubeadm: only the first control-plane host gets the break-glass super-admin.
        if cluster.is_first_control_plane(host) {
            write("super-admin.conf", pki.leaf(None, "super-admin"), &shared);
        }
        write(
            "controller-manager.conf",
            pki.leaf(name, "controller-manager"),
            &local,
        );
        write("scheduler.conf", pki.leaf(name, "scheduler"), &local);
    }
    // With a local proxy (`loadBalancer.kind: local-proxy`), a host without an apiserver dials
    // it on 127.0.0.1; its kube-proxy too.
    let local_proxy = load_balancer::local_proxy_server(cluster, host);
    let node_server = if host.has(Role::ControlPlane) {
        &local
    } else {
        local_proxy.as_ref().unwrap_or(&shared)
    };
    write(
        "kubelet.conf",
        pki.leaf(name, "kubelet-client"),
        node_server,
    );
    // kube-proxy dials the shared endpoint, as kubeadm's DaemonSet does (the local proxy where
    // there is one); on a control plane without an endpoint, its own apiserver rather than the
    // first control plane's.
    let proxy_server = match (&local_proxy, &cluster.control_plane_endpoint) {
        (Some(proxy), _) => proxy,
        (None, None) if host.has(Role::ControlPlane) => &local,
        (None, _) => &shared,
    };
    write(
        "kube-proxy.conf",
        pki.leaf(name, "kube-proxy"),
        proxy_server,
    );
    if joins_by_bootstrap(host) {
        let bearer = pki.secrets.bootstrap_token.bearer();
        let text = Kubeconfig {
            cluster: &cluster.name,
            server: node_server,
            ca_pem: &cluster_ca.trust_pem,
            user: "tls-bootstrap-token-user",
            credentials: Credentials::Token(&bearer),
        }
        .render();
        files.add(BOOTSTRAP_KUBECONFIG, text, SECRET);
    }
}

/// The encryption config, audit policy, kube-proxy and kubelet configs, the kubelet unit.
fn configs(files: &mut FileSet, cluster: &Cluster, pki: &Pki, host: &Host) {
    if host.has(Role::ControlPlane) {
        if let Some(encryption) = &cluster.encryption {
            files.add(
                &encryption.config_path,
                encryption::config(
                    encryption,
                    &encryption_keys(pki),
                    pki.secrets.adopted_encryption.as_ref(),
                ),
                SECRET,
            );
        }
        if let Some(audit) = &cluster.audit {
            files.add(&audit.policy_path, audit::policy(audit), SECRET);
        }
        if let Some(config) = scheduler::config(cluster, host) {
            files.add(scheduler::SCHEDULER_CONFIG, config, PUBLIC);
        }
        if cluster.anonymous_auth == crate::cluster::AnonymousAuth::HealthOnly {
            files.add(
                AUTHENTICATION_CONFIG,
                apiserver::authentication_config(cluster),
                PUBLIC,
            );
        }
    }
    if let Some(mode) = cluster.kube_proxy {
        files.add(
            KUBE_PROXY_CONFIG,
            kube_proxy::config(cluster, host, mode),
            PUBLIC,
        );
    }
    if cluster.is_first_control_plane(host) {
        if cluster.hosts.iter().any(joins_by_bootstrap) {
            files.add(
                format!("{}/bootstrap.yaml", addons::ADDONS),
                addons::bootstrap(&pki.secrets.bootstrap_token),
                SECRET,
            );
        }
        files.add(
            format!("{}/rbac.yaml", addons::ADDONS),
            addons::rbac(cluster),
            PUBLIC,
        );
        if cluster.hosts.iter().any(kubelet::rotates_certificates) {
            files.add(
                format!("{}/{}", addons::ADDONS, addons::CERTIFICATE_ROTATION),
                addons::node_certificate_rotation(),
                PUBLIC,
            );
        }
        files.add(
            format!("{}/{}", addons::ADDONS, coredns::FILE),
            coredns::manifests(cluster),
            PUBLIC,
        );
    }
    files.add(KUBELET_CONFIG, kubelet::config(cluster, host), PUBLIC);
    let tmpfiles = security_context::runs_rootless(cluster, host)
        .then(|| format!("/{}", security_context::TMPFILES));
    files.add(
        KUBELET_UNIT,
        kubelet::unit(host, tmpfiles.as_deref()),
        PUBLIC,
    );
    load_balancer::configs(files, cluster, &pki.secrets, host);
    node::files(files, cluster, host);
}

/// The static pods, rendered last: each one's config hash covers the files it mounts.
fn manifests(files: &mut FileSet, cluster: &Cluster, pki: &Pki, members: &Membership, host: &Host) {
    let signing = pki.authorities[&Authority::Cluster]
        .key_pem
        .is_some()
        .then(|| signing_files(pki));
    let mut pods = Vec::new();
    if host.has(Role::Etcd) {
        let start = members.start(cluster, host);
        pods.extend(etcd::pod(cluster, host, &pki.secrets.etcd_token, &start));
    }
    if host.has(Role::ControlPlane) {
        let service_account = ServiceAccountFiles::of(pki);
        pods.push(apiserver::pod(cluster, host, &service_account));
        pods.push(controller_manager::pod(
            cluster,
            host,
            signing,
            &service_account,
        ));
        pods.push(scheduler::pod(cluster, host));
    }
    if cluster.kube_proxy.is_some() {
        pods.push(kube_proxy::pod(cluster, host));
    }
    if let Some(rootless) = &cluster.rootless {
        run_rootless(files, rootless, &mut pods);
    }
    let rendered: Vec<(String, String)> = pods
        .iter()
        .map(|pod| {
            (
                format!("{MANIFESTS}/{}.yaml", pod.component.binary()),
                pod.render(files),
            )
        })
        .collect();
    for (path, text) in rendered {
        files.add(path, text, SECRET);
    }
    for (path, text) in load_balancer::pods(files, cluster, host) {
        files.add(path, text, SECRET);
    }
}

/// Gives each rootless component's pod its user and the files it reads (`security_context`).
fn run_rootless(files: &mut FileSet, rootless: &Rootless, pods: &mut [pod::StaticPod<'_>]) {
    let reads: Vec<(Component, Vec<String>)> = pods
        .iter()
        .filter(|pod| rootless.identity(pod.component).is_some())
        .map(|pod| (pod.component, pod.read_files(files)))
        .collect();
    let sharing = security_context::assign_owners(files, rootless, &reads);
    for pod in pods {
        if let Some(user) = rootless.identity(pod.component) {
            pod.security = security_context::Security::Rootless {
                user,
                supplemental_groups: sharing
                    .contains(&pod.component)
                    .then_some(rootless.shared_group)
                    .into_iter()
                    .collect(),
            };
        }
    }
}

/// The certificate and key files the controller-manager signs kubelet certificates with:
/// `ca.crt`/`ca.key`, or `ca-signing.crt`/`ca-signing.key` while the cluster CA rotates (then
/// `ca.crt` holds the old and the new CA).
pub fn signing_files(pki: &Pki) -> (String, String) {
    if pki.authorities[&Authority::Cluster].rotating {
        (
            format!("{PKI}/ca-signing.crt"),
            format!("{PKI}/ca-signing.key"),
        )
    } else {
        (format!("{PKI}/ca.crt"), format!("{PKI}/ca.key"))
    }
}

/// Which service-account key files the apiserver verifies with and which key signs, by the phase
/// of a service-account key rotation.
pub struct ServiceAccountFiles {
    /// `--service-account-key-file` values (public keys that verify).
    pub verifying: Vec<String>,
    /// The private key that signs (apiserver `--service-account-signing-key-file`,
    /// controller-manager `--service-account-private-key-file`).
    pub signing: String,
}

impl ServiceAccountFiles {
    /// The files for the state's rotation phase.
    pub fn of(pki: &Pki) -> ServiceAccountFiles {
        let phase = pki.rotations.service_account_phase;
        let mut verifying = vec![format!("{PKI}/sa.pub")];
        if phase >= 1 {
            verifying.push(format!("{PKI}/sa-next.pub"));
        }
        let signing = if phase >= 2 { "sa-next.key" } else { "sa.key" };
        ServiceAccountFiles {
            verifying,
            signing: format!("{PKI}/{signing}"),
        }
    }
}

/// The encryption keys, the one that encrypts first, by the phase of an encryption key rotation.
fn encryption_keys(pki: &Pki) -> Vec<String> {
    let current = pki.secrets.encryption_key.clone();
    match (
        &pki.rotations.encryption_next,
        pki.rotations.encryption_phase,
    ) {
        (Some(next), 1) => vec![current, next.clone()],
        (Some(next), _) => vec![next.clone(), current],
        (None, _) => vec![current],
    }
}

/// The host's CA trust directories, mounted read-only into the apiserver and the
/// controller-manager (kubeadm adds those that exist on the machine it runs on; kcompile, which
/// does not run there, mounts those of the host's family, `node.caTrust` or the host's own, created
/// empty if absent).
/// RHEL-family hosts add `/etc/pki/ca-trust` and `/etc/pki/tls/certs`, where `/etc/ssl/certs`
/// links point, named as kubeadm names them: kubernetes/kubernetes
/// `cmd/kubeadm/app/phases/controlplane/volumes.go` (store id 151246112),
/// `caCertsExtraVolumePaths` and the `/`→`-` volume names of `getHostPathVolumesForTheControlPlane`.
pub fn ca_trust_mounts(cluster: &Cluster, host: &Host) -> Vec<Mount> {
    let mut mounts = vec![
        Mount::same("ca-certs", "/etc/ssl/certs", true, "DirectoryOrCreate"),
        Mount::same(
            "etc-ca-certificates",
            "/etc/ca-certificates",
            true,
            "DirectoryOrCreate",
        ),
        Mount::same(
            "usr-local-share-ca-certificates",
            "/usr/local/share/ca-certificates",
            true,
            "DirectoryOrCreate",
        ),
        Mount::same(
            "usr-share-ca-certificates",
            "/usr/share/ca-certificates",
            true,
            "DirectoryOrCreate",
        ),
    ];
    if cluster.node.of(&host.name).ca_trust == crate::cluster::CaTrust::Rhel {
        mounts.push(Mount::same(
            "etc-pki-ca-trust",
            "/etc/pki/ca-trust",
            true,
            "DirectoryOrCreate",
        ));
        mounts.push(Mount::same(
            "etc-pki-tls-certs",
            "/etc/pki/tls/certs",
            true,
            "DirectoryOrCreate",
        ));
    }
    mounts
}

/// Merges `top` over `base` the way profiles layer (`spec::layer::overlay`, which also records
/// where each value came from): mappings key by key, a new key after the existing ones, everything
/// else replaced. The component configs (kubelet, kube-proxy, scheduler) take the user's fields
/// this way over the ones kcompile generates.
pub fn merge_json(base: &mut serde_json::Value, top: serde_json::Value) {
    match (base, top) {
        (serde_json::Value::Object(base), serde_json::Value::Object(top)) => {
            for (key, value) in top {
                match base.get_mut(&key) {
                    Some(existing) => merge_json(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

/// YAML as Kubernetes tools write it: long strings (base64 credentials) stay on one line.
pub fn yaml<T: serde::Serialize>(value: &T) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    let mut text = serde_saphyr::to_string_with_options(value, options).unwrap_or_default();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The server admins and workers dial: the control-plane endpoint, else the first control plane.
pub fn shared_server(cluster: &Cluster) -> String {
    if let Some(endpoint) = &cluster.control_plane_endpoint {
        let host = match &endpoint.host {
            EndpointHost::Ip(ip) => ip.to_string(),
            EndpointHost::Dns(name) => name.clone(),
        };
        format!("https://{host}:{}", endpoint.port)
    } else {
        let first = cluster.first_control_plane();
        let address = first.map_or_else(|| "127.0.0.1".to_owned(), |host| host.address.to_string());
        format!("https://{address}:{}", cluster.api_server_port)
    }
}
