//! The cluster's three certificate authorities, as kubeadm lays them out: the cluster CA, the
//! etcd CA and the aggregation layer's front-proxy CA. The PKI catalog names each certificate's
//! issuer by them, and the state names the CA files it keeps by them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the three certificate authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Authority {
    /// The cluster CA (`ca`): apiserver, kubelets, clients.
    Cluster,
    /// The etcd CA (`etcd/ca`): etcd members and their clients.
    Etcd,
    /// The aggregation layer's own CA (`front-proxy-ca`), never the cluster CA.
    FrontProxy,
}

impl Authority {
    /// Every authority.
    pub const ALL: [Authority; 3] = [Authority::Cluster, Authority::Etcd, Authority::FrontProxy];

    /// File name without extension, under the PKI directory.
    pub fn file(self) -> &'static str {
        match self {
            Authority::Cluster => "ca",
            Authority::Etcd => "etcd/ca",
            Authority::FrontProxy => "front-proxy-ca",
        }
    }

    /// The CA's common name (also its one DNS SAN, as kubeadm writes it).
    pub fn common_name(self) -> &'static str {
        match self {
            Authority::Cluster => "kubernetes",
            Authority::Etcd => "etcd-ca",
            Authority::FrontProxy => "front-proxy-ca",
        }
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Authority::Cluster => "ca",
            Authority::Etcd => "etcd-ca",
            Authority::FrontProxy => "front-proxy-ca",
        })
    }
}
