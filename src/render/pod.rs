//! The shape every static pod shares, as kubeadm writes it: one container named after the
//! component, `kube-system`, host network, `system-node-critical`, seccomp `RuntimeDefault`, flags
//! sorted by name then value with `extraArgs` replacing defaults of the same name, hostPath
//! volumes sorted by name. kcompile adds two things: every absolute path a flag names is mounted,
//! and an annotation carrying the sha256 of every bundle file the pod mounts, so a renewed
//! certificate or a changed config changes the manifest and the kubelet restarts the pod.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, HostAlias, HostPathVolumeSource, Pod, PodSpec,
    Probe, ResourceRequirements, SeccompProfile, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use super::FileSet;
use super::security_context::Security;
use crate::cluster::{PodSettings, Resources};
use crate::component::Component;
use crate::digest::hex;
use crate::versions::KubeVersion;

/// The annotation that changes whenever a file the pod mounts changes.
pub const CONFIG_HASH: &str = "kcompile.io/config-hash";

/// A hostPath volume and where the container sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Volume name.
    pub name: String,
    /// Path on the host.
    pub host_path: String,
    /// Path in the container.
    pub mount_path: String,
    /// Read-only mount.
    pub read_only: bool,
    /// hostPath type (`DirectoryOrCreate`, `FileOrCreate`, `File`...).
    pub path_type: String,
}

impl Mount {
    /// A mount at the same path on host and container.
    pub fn same(name: &str, path: &str, read_only: bool, path_type: &str) -> Mount {
        Mount {
            name: name.to_owned(),
            host_path: path.to_owned(),
            mount_path: path.to_owned(),
            read_only,
            path_type: path_type.to_owned(),
        }
    }
}

/// Where the kubelet probes a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probes {
    /// Host to probe (empty: the pod IP, which is the host's with host networking).
    pub host: String,
    /// The port the component serves health on.
    pub port: u16,
    /// `HTTP` or `HTTPS`.
    pub scheme: &'static str,
    /// Liveness path.
    pub liveness: String,
    /// Readiness path, if the component has one.
    pub readiness: Option<String>,
    /// Startup path.
    pub startup: String,
}

/// Everything that makes one component's static pod.
#[derive(Debug, Clone)]
pub struct StaticPod<'a> {
    /// Which component.
    pub component: Component,
    /// Target Kubernetes version (probe shapes depend on it).
    pub version: KubeVersion,
    /// Default flags, without dashes; `settings.extra_args` replace those of the same name.
    pub args: Vec<(String, String)>,
    /// Default volumes; `settings.extra_volumes` replace those of the same name.
    pub mounts: Vec<Mount>,
    /// Health probes.
    pub probes: Option<Probes>,
    /// Annotations besides the config hash.
    pub annotations: BTreeMap<String, String>,
    /// How the container runs: kubeadm's way, privileged (kube-proxy) or rootless.
    pub security: Security,
    /// The host's settings for the component: image, extra args, volumes, env, resources.
    pub settings: &'a PodSettings,
}

impl StaticPod<'_> {
    /// The final flags: defaults, then `extraArgs` replacing every default of the same name,
    /// sorted by name then value.
    pub fn flags(&self) -> Vec<(String, String)> {
        let mut flags: Vec<(String, String)> = self
            .args
            .iter()
            .filter(|(name, _)| !self.settings.extra_args.contains_key(name))
            .cloned()
            .chain(
                self.settings
                    .extra_args
                    .iter()
                    .map(|(n, v)| (n.clone(), v.clone())),
            )
            .collect();
        flags.sort();
        flags
    }

    /// The final volumes: defaults, `extraVolumes` (replacing by name, and replacing a default
    /// they already mount: the same host path at the same place, as writable), then a mount for
    /// every absolute path in a flag that no volume covers; sorted by name.
    pub fn mounts(&self) -> Vec<Mount> {
        let mut mounts: Vec<Mount> = self.mounts.clone();
        for extra in &self.settings.extra_volumes {
            mounts.retain(|mount| {
                mount.name != extra.name
                    && !(covers(&extra.mount_path, &mount.mount_path)
                        && mount
                            .mount_path
                            .strip_prefix(extra.mount_path.trim_end_matches('/'))
                            == mount
                                .host_path
                                .strip_prefix(extra.host_path.trim_end_matches('/'))
                        && (mount.read_only || !extra.read_only))
            });
            mounts.push(Mount {
                name: extra.name.clone(),
                host_path: extra.host_path.clone(),
                mount_path: extra.mount_path.clone(),
                read_only: extra.read_only,
                path_type: extra
                    .path_type
                    .map_or_else(String::new, |t| format!("{t:?}")),
            });
        }
        for (_, value) in self.flags() {
            for path in flag_paths(&value) {
                if !mounts.iter().any(|mount| covers(&mount.mount_path, path)) {
                    let file_like = path
                        .rsplit('/')
                        .next()
                        .is_some_and(|last| last.contains('.'));
                    let (dir, kind) = if file_like {
                        (path.to_owned(), "File")
                    } else {
                        (path.to_owned(), "DirectoryOrCreate")
                    };
                    mounts.push(Mount::same(&volume_name(&dir), &dir, true, kind));
                }
            }
        }
        mounts.sort_by(|a, b| a.name.cmp(&b.name));
        mounts.dedup_by(|a, b| a.name == b.name);
        mounts
    }

    /// The pod's YAML. `files` is the host's bundle so far: the sha256 of every file under a
    /// mounted host path goes into the config-hash annotation.
    pub fn render(&self, files: &FileSet) -> String {
        let name = self.component.binary();
        let mounts = self.mounts();
        let mut annotations = self.annotations.clone();
        annotations.insert(
            CONFIG_HASH.to_owned(),
            config_hash(&self.flags(), &mounts, files),
        );
        let mut command = vec![name.to_owned()];
        command.extend(
            self.flags()
                .into_iter()
                .map(|(flag, value)| kubelet_literal(&format!("--{flag}={value}"))),
        );
        let named_port = self.version.minor >= 34;
        let probe = |path: &str, initial_delay: Option<i32>, period: i32, failure: i32| {
            self.probes.as_ref().map(|probes| Probe {
                http_get: Some(HTTPGetAction {
                    host: Some(probes.host.clone()).filter(|h| !h.is_empty()),
                    path: Some(path.to_owned()),
                    port: if named_port {
                        IntOrString::String("probe-port".into())
                    } else {
                        IntOrString::Int(i32::from(probes.port))
                    },
                    scheme: Some(probes.scheme.to_owned()),
                    ..HTTPGetAction::default()
                }),
                initial_delay_seconds: initial_delay,
                period_seconds: Some(period),
                timeout_seconds: Some(15),
                failure_threshold: Some(failure),
                ..Probe::default()
            })
        };
        let probes = self.probes.as_ref();
        let container = Container {
            name: name.to_owned(),
            image: Some(self.settings.image.clone()),
            image_pull_policy: Some("IfNotPresent".into()),
            command: Some(command),
            env: (!self.settings.extra_env.is_empty()).then(|| {
                let mut env: Vec<_> = self.settings.extra_env.clone();
                env.sort();
                env.into_iter()
                    .map(|(name, value)| EnvVar {
                        name,
                        value: Some(kubelet_literal(&value)),
                        ..EnvVar::default()
                    })
                    .collect()
            }),
            ports: probes.filter(|_| named_port).map(|p| {
                vec![ContainerPort {
                    container_port: i32::from(p.port),
                    name: Some("probe-port".into()),
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                }]
            }),
            liveness_probe: probes.and_then(|p| probe(&p.liveness, Some(10), 10, 8)),
            readiness_probe: probes
                .and_then(|p| p.readiness.as_deref())
                .and_then(|path| probe(path, None, 1, 3)),
            startup_probe: probes.and_then(|p| probe(&p.startup, Some(10), 10, 24)),
            resources: requirements(&self.settings.resources),
            security_context: self.security.container(),
            ..Container::default()
        };
        let mut pod = node_critical_pod(name, container, &mounts, annotations, None);
        self.security.apply_to_pod(&mut pod);
        super::yaml(&pod)
    }

    /// The bundle files the pod reads (relative to the host's root): those its flags name and
    /// those mounted one by one.
    pub fn read_files(&self, files: &FileSet) -> Vec<String> {
        read_files(&self.flags(), &self.mounts(), files)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

/// The pod around one container that every kcompile static pod shares: `kube-system`, host
/// network, `system-node-critical`, seccomp `RuntimeDefault`, and a hostPath volume and mount for
/// each of `mounts`.
pub fn node_critical_pod(
    name: &str,
    mut container: Container,
    mounts: &[Mount],
    annotations: BTreeMap<String, String>,
    host_aliases: Option<Vec<HostAlias>>,
) -> Pod {
    container.volume_mounts = (!mounts.is_empty()).then(|| {
        mounts
            .iter()
            .map(|mount| VolumeMount {
                name: mount.name.clone(),
                mount_path: mount.mount_path.clone(),
                read_only: mount.read_only.then_some(true),
                ..VolumeMount::default()
            })
            .collect()
    });
    let volumes = mounts
        .iter()
        .map(|mount| Volume {
            name: mount.name.clone(),
            host_path: Some(HostPathVolumeSource {
                path: mount.host_path.clone(),
                type_: Some(mount.path_type.clone()).filter(|t| !t.is_empty()),
            }),
            ..Volume::default()
        })
        .collect();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("kube-system".into()),
            annotations: Some(annotations),
            labels: Some(BTreeMap::from([
                ("component".to_owned(), name.to_owned()),
                ("tier".to_owned(), "control-plane".to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            host_aliases,
            host_network: Some(true),
            priority: Some(2_000_001_000),
            priority_class_name: Some("system-node-critical".into()),
            security_context: Some(k8s_openapi::api::core::v1::PodSecurityContext {
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..SeccompProfile::default()
                }),
                ..Default::default()
            }),
            volumes: (!mounts.is_empty()).then_some(volumes),
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// A container's `resources`, or `None` when it names no request and no limit.
pub fn requirements(resources: &Resources) -> Option<ResourceRequirements> {
    let quantities = |map: &BTreeMap<String, String>| {
        (!map.is_empty()).then(|| {
            map.iter()
                .map(|(name, value)| (name.clone(), Quantity(value.clone())))
                .collect()
        })
    };
    let requirements = ResourceRequirements {
        requests: quantities(&resources.requests),
        limits: quantities(&resources.limits),
        ..ResourceRequirements::default()
    };
    (requirements.requests.is_some() || requirements.limits.is_some()).then_some(requirements)
}

/// The absolute paths in a flag value (`/a/b.crt`, or each path of `a=/x,b=/y` lists).
pub fn flag_paths(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(|part| part.rsplit_once('=').map_or(part, |(_, v)| v).trim())
        .filter(|part| part.starts_with('/') && !part.contains("://"))
        .collect()
}

/// Whether a mount at `mount_path` makes `path` visible in the container.
pub fn covers(mount_path: &str, path: &str) -> bool {
    let mount_path = mount_path.trim_end_matches('/');
    path == mount_path
        || path
            .strip_prefix(mount_path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A volume name for a path: `/etc/kubernetes/admission.yaml` → `etc-kubernetes-admission-yaml`.
fn volume_name(path: &str) -> String {
    let name: String = path
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    name[..name.len().min(63)].trim_end_matches('-').to_owned()
}

/// sha256 over the path and bytes of every bundle file the pod reads: those its `flags` name and
/// those mounted one by one. Other files in a mounted directory (another component's certificate
/// in `/etc/kubernetes/pki`) do not restart it when they change.
pub fn config_hash(flags: &[(String, String)], mounts: &[Mount], files: &FileSet) -> String {
    let mut hasher = Sha256::new();
    for path in read_files(flags, mounts, files) {
        hasher.update(format!("/{path}").as_bytes());
        hasher.update([0]);
        hasher.update(&files.files[path].bytes);
        hasher.update([0]);
    }
    format!("sha256:{}", hex(&hasher.finalize()))
}

/// The paths (relative to the host's root, sorted) of the bundle files a pod with these `flags`
/// and `mounts` reads: those a flag names and those mounted one by one.
pub fn read_files<'f>(
    flags: &[(String, String)],
    mounts: &[Mount],
    files: &'f FileSet,
) -> Vec<&'f str> {
    let named: Vec<&str> = flags
        .iter()
        .flat_map(|(_, value)| flag_paths(value))
        .collect();
    files
        .files
        .keys()
        .filter(|path| {
            let absolute = format!("/{path}");
            named.contains(&absolute.as_str())
                || mounts.iter().any(|mount| mount.host_path == absolute)
        })
        .map(String::as_str)
        .collect()
}

/// A command argument or env value the kubelet passes on unchanged: it expands `$(VAR)` and turns
/// `$$` into `$`, so every `$` is doubled.
fn kubelet_literal(text: &str) -> String {
    text.replace('$', "$$")
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollars_survive_the_kubelets_expansion() {
        use super::kubelet_literal;
        assert_eq!(kubelet_literal("--x=$(HOME)"), "--x=$$(HOME)");
        assert_eq!(kubelet_literal("--x=$$"), "--x=$$$$");
        assert_eq!(kubelet_literal("--v=2"), "--v=2");
    }

    use super::*;

    #[test]
    fn paths_in_flag_values() {
        assert_eq!(
            flag_paths("/etc/kubernetes/pki/ca.crt"),
            ["/etc/kubernetes/pki/ca.crt"]
        );
        assert_eq!(flag_paths("a=/x/y,b=/z"), ["/x/y", "/z"]);
        assert!(flag_paths("https://10.0.0.1:2379").is_empty());
        assert!(flag_paths("Node,RBAC").is_empty());
    }

    #[test]
    fn coverage_is_by_path_component() {
        assert!(covers("/etc/kubernetes/pki", "/etc/kubernetes/pki/ca.crt"));
        assert!(covers("/etc/kubernetes/pki", "/etc/kubernetes/pki"));
        assert!(!covers("/etc/kubernetes/pki", "/etc/kubernetes/pki2/x"));
    }

    #[test]
    fn volume_names_are_dns_labels() {
        assert_eq!(
            volume_name("/etc/kubernetes/admission.yaml"),
            "etc-kubernetes-admission-yaml"
        );
    }
}
