//! etcd.yaml for a stacked member: kubeadm's flags for the etcd version (3.6 turned the
//! `--experimental-*` flags into plain flags and feature gates), `--initial-cluster` and
//! `--initial-cluster-state` as the member record says it starts (every member and `new` for a
//! cluster formed statically; the list after its join and `existing` for a member that joins),
//! the cluster token from the state.

use std::collections::BTreeMap;

use super::PKI;
use super::pod::{Mount, Probes, StaticPod};
use crate::cluster::{Cluster, EtcdTopology, Host};
use crate::component::Component;
use crate::etcd_membership::{CLIENT_PORT, MemberStart, PEER_PORT};

/// Metrics and health port (plain HTTP on loopback; kubeadm's constant).
pub const METRICS_PORT: u16 = 2381;

/// The etcd static pod for `host`, a stacked member starting as `start` says; `None` for an
/// external etcd.
pub fn pod<'a>(
    cluster: &Cluster,
    host: &'a Host,
    token: &str,
    start: &MemberStart,
) -> Option<StaticPod<'a>> {
    let EtcdTopology::Stacked { data_dir, .. } = &cluster.etcd else {
        return None;
    };
    let address = host.address;
    let etcd = format!("{PKI}/etcd");
    let mut args: Vec<(&str, String)> = vec![
        (
            "advertise-client-urls",
            format!("https://{address}:{CLIENT_PORT}"),
        ),
        ("cert-file", format!("{etcd}/server.crt")),
        ("client-cert-auth", "true".into()),
        ("data-dir", data_dir.clone()),
        (
            "initial-advertise-peer-urls",
            format!("https://{address}:{PEER_PORT}"),
        ),
        ("initial-cluster", start.initial_cluster.clone()),
        ("initial-cluster-state", start.state.flag().into()),
        ("initial-cluster-token", token.to_owned()),
        ("key-file", format!("{etcd}/server.key")),
        (
            "listen-client-urls",
            format!("https://127.0.0.1:{CLIENT_PORT},https://{address}:{CLIENT_PORT}"),
        ),
        (
            "listen-metrics-urls",
            format!("http://127.0.0.1:{METRICS_PORT}"),
        ),
        ("listen-peer-urls", format!("https://{address}:{PEER_PORT}")),
        ("name", host.name.clone()),
        ("peer-cert-file", format!("{etcd}/peer.crt")),
        ("peer-client-cert-auth", "true".into()),
        ("peer-key-file", format!("{etcd}/peer.key")),
        ("peer-trusted-ca-file", format!("{etcd}/ca.crt")),
        ("snapshot-count", "10000".into()),
        ("trusted-ca-file", format!("{etcd}/ca.crt")),
    ];
    // etcd 3.6 made the experimental flags plain flags and feature gates; 3.7 removed the old names.
    let modern = cluster.etcd_version.minor() >= (3, 6);
    if modern {
        args.push(("feature-gates", "InitialCorruptCheck=true".into()));
        args.push(("watch-progress-notify-interval", "5s".into()));
    } else {
        args.push(("experimental-initial-corrupt-check", "true".into()));
        args.push(("experimental-watch-progress-notify-interval", "5s".into()));
    }
    Some(StaticPod {
        component: Component::Etcd,
        version: cluster.kubernetes_version,
        args: args
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        mounts: vec![
            Mount::same("etcd-certs", &etcd, false, "DirectoryOrCreate"),
            Mount::same("etcd-data", data_dir, false, "DirectoryOrCreate"),
        ],
        probes: Some(Probes {
            host: "127.0.0.1".into(),
            port: METRICS_PORT,
            scheme: "HTTP",
            // `/livez` and `/readyz` exist from etcd 3.5.11; kcompile's oldest etcd is 3.5.24.
            liveness: "/livez".into(),
            readiness: Some("/readyz".into()),
            startup: "/readyz".into(),
        }),
        annotations: BTreeMap::from([(
            "kubeadm.kubernetes.io/etcd.advertise-client-urls".to_owned(),
            format!("https://{address}:{CLIENT_PORT}"),
        )]),
        security: super::security_context::Security::Kubeadm,
        settings: &host.etcd,
    })
}
