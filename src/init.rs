//! `kcompile init`: an annotated starter spec that validates as it is, for a chosen size and set of
//! profiles. Addresses are placeholders in 192.168.10.0/24 for the user to replace.

use std::fmt::Write;

use crate::versions::DEFAULT_KUBERNETES_VERSION;

/// What the starter spec should hold.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Cluster name.
    pub name: String,
    /// Profiles, lowest first.
    pub profiles: Vec<String>,
    /// Control-plane hosts (each also a stacked etcd member).
    pub control_planes: u8,
    /// Worker hosts.
    pub workers: u8,
}

/// The starter spec's text.
pub fn starter_spec(options: &InitOptions) -> String {
    let mut out = String::new();
    let profiles = options.profiles.join(", ");
    let _ = write!(
        out,
        "\
# A kcompile cluster spec. Every field is documented in docs/spec.md.
# Check it with `kcompile validate`; `kcompile validate --show-resolved` shows what the profiles add.
apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: {name}                       # the cluster's name (kubeconfigs, --cluster-name)
profiles: [{profiles}]             # layers of defaults under this spec, lowest first; this spec wins
kubernetesVersion: {version}       # v1.33.x to v1.37.x; etcd follows kubeadm's pin unless etcd.version is set
# imageRepository: registry.example.com/k8s   # an air-gapped mirror of registry.k8s.io
",
        name = options.name,
        version = DEFAULT_KUBERNETES_VERSION,
    );
    if options.control_planes > 1 {
        out.push_str(
            "\
controlPlaneEndpoint:              # one address for all apiservers: a VIP or a DNS name
  host: 192.168.10.10              # must not be one host's own address
  port: 6443
",
        );
    } else {
        out.push_str(
            "\
# controlPlaneEndpoint:            # needed once there is more than one control-plane host
#   host: k8s-api.example.com
#   port: 6443
",
        );
    }
    out.push_str(
        "\
networking:
  serviceSubnet: 10.96.0.0/12      # ClusterIPs; the first is the `kubernetes` service
  podSubnet: 10.244.0.0/16         # each node gets a /24 of it
  dnsDomain: cluster.local         # no trailing dot
pki:
  keyAlgorithm: ECDSA-P256         # RSA-2048 (kubeadm's default), RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384
  apiServerCertSANs: []            # extra names clients dial the apiserver by
encryption:
  enabled: true                    # encrypt secrets at rest in etcd
  provider: secretbox
audit:
  enabled: true                    # the built-in audit policy, rotated under /var/log/kubernetes/audit
# apiServer:
#   extraArgs:                     # flags without dashes; checked against the target version
#     event-ttl: 4h
hosts:
",
    );
    for index in 0..options.control_planes {
        let _ = write!(
            out,
            "  - name: master{number:02}
    address: 192.168.10.{address}
    roles: [control-plane, etcd]   # a stacked etcd member; keep their count odd
",
            number = index + 1,
            address = 11 + u32::from(index),
        );
    }
    for index in 0..options.workers {
        let _ = write!(
            out,
            "  - name: worker{number:02}
    address: 192.168.20.{address}
    roles: [worker]
",
            number = index + 1,
            address = 11 + u32::from(index),
        );
    }
    out
}
