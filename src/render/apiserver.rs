//! kube-apiserver.yaml: kubeadm's flags for the version, plus what operators need and kubeadm
//! leaves out: encryption at rest, the audit log, `--kubelet-certificate-authority` (kcompile
//! issues the kubelet serving certificates), every etcd member in `--etcd-servers`.

use std::collections::BTreeMap;

use super::pod::{Mount, Probes, StaticPod};
use super::{AUTHENTICATION_CONFIG, PKI, ServiceAccountFiles, ca_trust_mounts, yaml};
use crate::cluster::{AnonymousAuth, Role};
use crate::cluster::{Cluster, EtcdServers, EtcdTopology, Host};
use crate::component::Component;

/// The apiserver's static pod for `host`.
pub fn pod<'a>(
    cluster: &Cluster,
    host: &'a Host,
    service_account: &ServiceAccountFiles,
) -> StaticPod<'a> {
    let address = host.address.to_string();
    let port = cluster.api_server_port;
    let mut args: Vec<(String, String)> = vec![
        ("advertise-address", address.clone()),
        ("allow-privileged", "true".into()),
        ("authorization-mode", "Node,RBAC".into()),
        ("client-ca-file", format!("{PKI}/ca.crt")),
        ("enable-admission-plugins", "NodeRestriction".into()),
        ("enable-bootstrap-token-auth", "true".into()),
        ("kubelet-certificate-authority", format!("{PKI}/ca.crt")),
        (
            "kubelet-client-certificate",
            format!("{PKI}/apiserver-kubelet-client.crt"),
        ),
        (
            "kubelet-client-key",
            format!("{PKI}/apiserver-kubelet-client.key"),
        ),
        (
            "kubelet-preferred-address-types",
            "InternalIP,ExternalIP,Hostname".into(),
        ),
        (
            "proxy-client-cert-file",
            format!("{PKI}/front-proxy-client.crt"),
        ),
        (
            "proxy-client-key-file",
            format!("{PKI}/front-proxy-client.key"),
        ),
        (
            "requestheader-allowed-names",
            cluster.aggregation.allowed_names.join(","),
        ),
        (
            "requestheader-client-ca-file",
            format!("{PKI}/front-proxy-ca.crt"),
        ),
        (
            "requestheader-extra-headers-prefix",
            "X-Remote-Extra-".into(),
        ),
        ("requestheader-group-headers", "X-Remote-Group".into()),
        ("requestheader-username-headers", "X-Remote-User".into()),
        ("secure-port", port.to_string()),
        (
            "service-account-issuer",
            format!(
                "https://kubernetes.default.svc.{}",
                cluster.networking.dns_domain
            ),
        ),
        (
            "service-account-signing-key-file",
            service_account.signing.clone(),
        ),
        (
            "service-cluster-ip-range",
            join(&cluster.networking.service_subnets),
        ),
        ("tls-cert-file", format!("{PKI}/apiserver.crt")),
        ("tls-private-key-file", format!("{PKI}/apiserver.key")),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    for file in &service_account.verifying {
        args.push(("service-account-key-file".to_owned(), file.clone()));
    }
    let mut mounts = ca_trust_mounts(cluster, host);
    mounts.push(Mount::same("k8s-certs", PKI, true, "DirectoryOrCreate"));

    match &cluster.etcd {
        EtcdTopology::Stacked { servers, .. } => {
            let servers: Vec<String> = match servers {
                EtcdServers::Members => cluster
                    .hosts_with(Role::Etcd)
                    .map(|member| format!("https://{}:2379", member.address))
                    .collect(),
                EtcdServers::Local => vec!["https://127.0.0.1:2379".to_owned()],
            };
            args.push(("etcd-cafile".into(), format!("{PKI}/etcd/ca.crt")));
            args.push((
                "etcd-certfile".into(),
                format!("{PKI}/apiserver-etcd-client.crt"),
            ));
            args.push((
                "etcd-keyfile".into(),
                format!("{PKI}/apiserver-etcd-client.key"),
            ));
            args.push(("etcd-servers".into(), servers.join(",")));
        }
        EtcdTopology::External {
            endpoints,
            ca_file,
            cert_file,
            key_file,
        } => {
            args.push(("etcd-cafile".into(), ca_file.clone()));
            args.push(("etcd-certfile".into(), cert_file.clone()));
            args.push(("etcd-keyfile".into(), key_file.clone()));
            args.push(("etcd-servers".into(), endpoints.join(",")));
        }
    }
    if let Some(encryption) = &cluster.encryption {
        args.push((
            "encryption-provider-config".into(),
            encryption.config_path.clone(),
        ));
        mounts.push(Mount::same(
            "encryption-config",
            &encryption.config_path,
            true,
            "File",
        ));
    }
    if let Some(audit) = &cluster.audit {
        args.push(("audit-policy-file".into(), audit.policy_path.clone()));
        args.push(("audit-log-path".into(), audit.log_path.clone()));
        args.push(("audit-log-maxage".into(), audit.max_age.to_string()));
        args.push(("audit-log-maxbackup".into(), audit.max_backups.to_string()));
        args.push(("audit-log-maxsize".into(), audit.max_size.to_string()));
        mounts.push(Mount::same(
            "audit-policy",
            &audit.policy_path,
            true,
            "File",
        ));
        if let Some((dir, _)) = audit
            .log_path
            .rsplit_once('/')
            .filter(|(dir, _)| !dir.is_empty())
        {
            mounts.push(Mount::same("audit-log", dir, false, "DirectoryOrCreate"));
        }
    }
    match cluster.anonymous_auth {
        AnonymousAuth::Enabled => {}
        AnonymousAuth::Disabled => args.push(("anonymous-auth".into(), "false".into())),
        AnonymousAuth::HealthOnly => {
            args.push((
                "authentication-config".into(),
                AUTHENTICATION_CONFIG.to_owned(),
            ));
            mounts.push(Mount::same(
                "authentication-config",
                AUTHENTICATION_CONFIG,
                true,
                "File",
            ));
        }
    }
    // Without kube-proxy the apiserver cannot reach service IPs: route to endpoints instead.
    if cluster.kube_proxy.is_none() && !cluster.kube_proxy_external {
        args.push(("enable-aggregator-routing".into(), "true".into()));
    }
    StaticPod {
        component: Component::ApiServer,
        version: cluster.kubernetes_version,
        args,
        mounts,
        probes: Some(Probes {
            host: address.clone(),
            port,
            scheme: "HTTPS",
            liveness: "/livez".into(),
            readiness: Some("/readyz".into()),
            startup: "/livez".into(),
        }),
        annotations: BTreeMap::from([(
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint".to_owned(),
            format!("{address}:{port}"),
        )]),
        security: super::security_context::Security::Kubeadm,
        settings: &host.api_server,
    }
}

fn join(nets: &[ipnet::IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The `AuthenticationConfiguration` that lets anonymous requests reach the health endpoints only
/// (`apiserver.config.k8s.io/v1` from v1.34, where structured authentication went GA).
pub fn authentication_config(cluster: &Cluster) -> String {
    let api_version = if cluster.kubernetes_version.minor >= 34 {
        "apiserver.config.k8s.io/v1"
    } else {
        "apiserver.config.k8s.io/v1beta1"
    };
    yaml(&serde_json::json!({
        "apiVersion": api_version,
        "kind": "AuthenticationConfiguration",
        "anonymous": {
            "enabled": true,
            "conditions": [{"path": "/livez"}, {"path": "/readyz"}, {"path": "/healthz"}],
        },
    }))
}
