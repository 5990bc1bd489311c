//! How each static pod runs: kubeadm's shape (root, the runtime's default capabilities), or, with
//! `rootless` on, as the component's own user with every capability dropped, no privilege
//! escalation, a read-only root filesystem and seccomp `RuntimeDefault`. The files a rootless
//! component reads are given to it ([`assign_owners`]) and the directories it writes are created
//! for it by systemd-tmpfiles ([`tmpfiles`]).
//!
//! kube-proxy is the documented exception (docs/hardening.md): it stays root and privileged, as
//! kubeadm runs it, because it writes the host's `/proc/sys` (conntrack limits, `route_localnet`),
//! which a container runtime mounts read-only in every container that is not privileged.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Capabilities, Pod, PodSecurityContext, SeccompProfile, SecurityContext,
};

use super::{FileSet, SECRET};
use crate::cluster::{Cluster, Host, Identity, Rootless};
use crate::component::Component;

/// Mode of a secret two rootless components read: owner root, group the shared group.
pub const SHARED_SECRET: u32 = 0o640;

/// Mode of a directory a rootless component writes (the etcd data dir, the audit log dir).
pub const DATA_DIRECTORY: u32 = 0o700;

/// How a static pod's container runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// As kubeadm writes it: the image's user (root), the runtime's default capabilities.
    Kubeadm,
    /// Privileged, as kubeadm runs kube-proxy.
    Privileged,
    /// As `user`, with every capability dropped, no privilege escalation, a read-only root
    /// filesystem; `supplemental_groups` are the groups of the shared files it reads.
    Rootless {
        /// The uid and gid it runs as.
        user: Identity,
        /// Supplemental groups (the shared group, when it reads a shared file).
        supplemental_groups: Vec<u32>,
    },
}

impl Security {
    /// The container's `securityContext`.
    pub fn container(&self) -> Option<SecurityContext> {
        match self {
            Security::Kubeadm => None,
            Security::Privileged => Some(SecurityContext {
                privileged: Some(true),
                ..SecurityContext::default()
            }),
            Security::Rootless { user, .. } => Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    add: None,
                }),
                privileged: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_group: Some(i64::from(user.gid)),
                run_as_non_root: Some(true),
                run_as_user: Some(i64::from(user.uid)),
                ..SecurityContext::default()
            }),
        }
    }

    /// Sets the pod-level fields on `pod` (whose `securityContext` already names seccomp
    /// `RuntimeDefault`): for a rootless pod the user, group and supplemental groups; for a
    /// rootless or privileged pod no service-account token (a static pod has none to mount).
    pub fn apply_to_pod(&self, pod: &mut Pod) {
        if *self == Security::Privileged
            && let Some(spec) = pod.spec.as_mut()
        {
            spec.automount_service_account_token = Some(false);
        }
        let Security::Rootless {
            user,
            supplemental_groups,
        } = self
        else {
            return;
        };
        let Some(spec) = pod.spec.as_mut() else {
            return;
        };
        spec.automount_service_account_token = Some(false);
        let context = spec
            .security_context
            .get_or_insert_with(PodSecurityContext::default);
        context.run_as_non_root = Some(true);
        context.run_as_user = Some(i64::from(user.uid));
        context.run_as_group = Some(i64::from(user.gid));
        context.supplemental_groups = (!supplemental_groups.is_empty())
            .then(|| supplemental_groups.iter().map(|g| i64::from(*g)).collect());
        context.seccomp_profile = Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        });
    }
}

/// Gives every bundle file a rootless component reads to that component. `reads` lists, per
/// rootless component, its user and the paths (relative to the host's root) it reads. A secret
/// (mode 0600) one component reads becomes that component's, 0600; a secret two read stays root's
/// with the shared group, 0640. Public files (0644) stay root's: everyone may read them. Returns
/// the components that read a shared secret (they need the shared group).
pub fn assign_owners(
    files: &mut FileSet,
    rootless: &Rootless,
    reads: &[(Component, Vec<String>)],
) -> BTreeSet<Component> {
    let mut readers: BTreeMap<&str, BTreeSet<Component>> = BTreeMap::new();
    for (component, paths) in reads {
        for path in paths {
            readers.entry(path.as_str()).or_default().insert(*component);
        }
    }
    let mut sharing = BTreeSet::new();
    for (path, components) in readers {
        let secret = files
            .files
            .get(path)
            .is_some_and(|file| file.mode & 0o077 == 0);
        if !secret {
            continue;
        }
        let owners: Vec<Identity> = components
            .iter()
            .filter_map(|component| rootless.identity(*component))
            .collect();
        match owners.as_slice() {
            [] => {}
            [one] => files.set_owner(path, *one, SECRET),
            _ => {
                let shared = Identity {
                    uid: 0,
                    gid: rootless.shared_group,
                };
                files.set_owner(path, shared, SHARED_SECRET);
                sharing.extend(components);
            }
        }
    }
    sharing
}

/// The directories each rootless component writes on `host`, with its user: etcd's data dir, the
/// apiserver's audit log dir.
pub fn written_directories(
    cluster: &Cluster,
    host: &Host,
    rootless: &Rootless,
) -> Vec<(String, Identity)> {
    let mut dirs = Vec::new();
    if let (true, crate::cluster::EtcdTopology::Stacked { data_dir, .. }) =
        (host.has(crate::cluster::Role::Etcd), &cluster.etcd)
    {
        dirs.push((data_dir.clone(), rootless.etcd));
    }
    let audit_dir = cluster
        .audit
        .as_ref()
        .and_then(|audit| audit.log_path.rsplit_once('/'))
        .map(|(dir, _)| dir)
        .filter(|dir| !dir.is_empty());
    if let (true, Some(dir)) = (host.has(crate::cluster::Role::ControlPlane), audit_dir) {
        dirs.push((dir.to_owned(), rootless.api_server));
    }
    dirs
}

/// Where the systemd-tmpfiles configuration goes: under a directory kcompile owns, so a host
/// that stops running a rootless component loses it; the kubelet unit names it.
pub const TMPFILES: &str = "etc/kubernetes/kcompile/rootless-tmpfiles.conf";

/// Whether `host` runs a rootless component, and so gets the [`TMPFILES`] file.
pub fn runs_rootless(cluster: &Cluster, host: &Host) -> bool {
    cluster.rootless.is_some()
        && (host.has(crate::cluster::Role::Etcd) || host.has(crate::cluster::Role::ControlPlane))
}

/// The systemd-tmpfiles configuration of a host that runs a rootless component: each directory a
/// rootless component writes, created owned by it with mode 0700, with what a root-run component
/// left there given to it (`Z`: recursive owner change, modes kept); then every bundle file a
/// rootless component reads, given its owner and mode (`z`), so that a sink that cannot carry
/// owners (cloud-init, a copy by a user other than root) still leaves them right once the kubelet
/// unit has run it. `None` for a host that runs none.
pub fn tmpfiles(cluster: &Cluster, host: &Host, files: &FileSet) -> Option<String> {
    let rootless = cluster
        .rootless
        .as_ref()
        .filter(|_| runs_rootless(cluster, host))?;
    let mut text = String::from(
        "# Written by kcompile: the directories the rootless control plane writes and the files it\n\
         # reads, with their owners. The kubelet unit applies it before the kubelet starts.\n",
    );
    for (dir, owner) in written_directories(cluster, host, rootless) {
        text.push_str(&format!(
            "d {dir} {DATA_DIRECTORY:04o} {uid} {gid} -\nZ {dir} - {uid} {gid} -\n",
            uid = owner.uid,
            gid = owner.gid
        ));
    }
    for (path, file) in &files.files {
        if file.owner != Identity::ROOT {
            text.push_str(&format!(
                "z /{path} {mode:04o} {uid} {gid} -\n",
                mode = file.mode,
                uid = file.owner.uid,
                gid = file.owner.gid
            ));
        }
    }
    Some(text)
}
