//! Static pods and the kubelet's flags: every absolute path a flag names is mounted into the
//! container and, for the files the host must provide, present; no flag or feature gate is
//! unknown to, or removed in, the version of the pod's image (the kubelet's version is the
//! MANIFEST's, or the control plane's image tag).

use super::material::image_tag;
use super::{Check, PodFile, relative};
use crate::component::Component;
use crate::render::pod::flag_paths;
use crate::versions::{
    EtcdVersion, FlagStatus, GateStatus, KubeVersion, NEWEST_MINOR, flag_status, gate_status,
};

/// Flags that name a path the component creates or writes (data, logs), not one the host
/// provides.
pub(super) const WRITTEN: [&str; 4] = ["audit-log-path", "log-file", "write-config-to", "cert-dir"];

/// The versions a component's flags are checked against.
struct Target {
    kube: KubeVersion,
    etcd: EtcdVersion,
    /// `kube-apiserver v1.36.3`, for messages.
    shown: String,
}

impl Check<'_> {
    /// Mounts, paths and flags of every static pod; then the kubelet's own flags.
    pub(super) fn pods(&mut self) {
        for file in self.pods.clone() {
            self.pod_paths(&file);
            if let Some(target) = self.pod_target(&file) {
                let component = file.pod.component.unwrap_or(Component::ApiServer);
                let flags = file.pod.flags.clone();
                self.flags(&file.path, component, &flags, &target);
            }
        }
        self.kubelet_flags();
    }

    /// Every absolute path in a flag is mounted; files the host provides exist.
    fn pod_paths(&mut self, file: &PodFile) {
        let pod = &file.pod;
        let binary: &str = match pod.component {
            Some(component) => component.binary(),
            None => &pod.name,
        };
        for (name, value) in &pod.flags {
            for path in flag_paths(value) {
                match pod.mount_for(path) {
                    None => self.error(
                        &file.path,
                        format!(
                            "--{name}={path} is not mounted: no volumeMount makes it visible in \
                             the {binary} container, which fails to start; add a hostPath volume \
                             and a volumeMount for it"
                        ),
                    ),
                    Some((_, None)) => {}
                    Some((_, Some(_))) => self.flag_path_present(file, name, path),
                }
            }
        }
    }

    fn flag_path_present(&mut self, file: &PodFile, name: &str, path: &str) {
        if WRITTEN.contains(&name) || name.ends_with("-dir") {
            return;
        }
        let host = file.pod.host_path(path);
        let rel = relative(&host);
        if super::tree::managed(&rel) && !self.tree.has(&rel) {
            let binary = file
                .pod
                .component
                .map_or("the component", Component::binary);
            self.error(
                &file.path,
                format!(
                    "--{name}={path} names {host}, which does not exist on the host: {binary} \
                     fails to start; put the file there or fix the flag"
                ),
            );
        }
    }

    /// The versions the pod's image tag names; a warning when it names none kcompile knows.
    fn pod_target(&mut self, file: &PodFile) -> Option<Target> {
        let pod = &file.pod;
        // Other pods (a load balancer, keepalived) have flags kcompile has no table for.
        let component = pod.component?;
        let Some(tag) = image_tag(&pod.image) else {
            self.warn(
                &file.path,
                format!(
                    "the image `{}` has no version tag: the flags are not checked against a version",
                    pod.image
                ),
            );
            return None;
        };
        if component == Component::Etcd {
            return self.etcd_target(file, tag);
        }
        match KubeVersion::parse(tag) {
            Ok(kube) => Some(Target {
                kube,
                etcd: etcd_of(kube.pinned_etcd()).unwrap_or_else(fallback_etcd),
                shown: format!("{component} {kube}"),
            }),
            Err(error) => {
                self.warn(
                    &file.path,
                    format!(
                        "flags not checked: {} ({}): {}",
                        error.message, pod.image, error.hint
                    ),
                );
                None
            }
        }
    }

    fn etcd_target(&mut self, file: &PodFile, tag: &str) -> Option<Target> {
        let Some(etcd) = etcd_of(tag) else {
            self.warn(
                &file.path,
                format!(
                    "the etcd image tag `{tag}` is not an etcd version: the flags are not checked"
                ),
            );
            return None;
        };
        let kube = self.host_version();
        if let Some(kube) = kube
            && let Err(error) = EtcdVersion::parse(tag, kube)
        {
            self.warn(&file.path, format!("{}: {}", error.message, error.hint));
        }
        Some(Target {
            kube: kube.unwrap_or(KubeVersion {
                minor: NEWEST_MINOR,
                patch: 0,
            }),
            shown: format!("etcd {tag}"),
            etcd,
        })
    }

    /// The host's Kubernetes version: the control plane's image tag, else the MANIFEST's.
    fn host_version(&self) -> Option<KubeVersion> {
        let from_pods = [
            Component::ApiServer,
            Component::ControllerManager,
            Component::Scheduler,
            Component::KubeProxy,
        ]
        .into_iter()
        .filter_map(|component| self.pod(component))
        .find_map(|file| image_tag(&file.pod.image).and_then(|t| KubeVersion::parse(t).ok()));
        from_pods.or_else(|| {
            self.header
                .as_ref()
                .and_then(|h| KubeVersion::parse(&h.kubernetes).ok())
        })
    }

    /// Every flag against the tables of `target`.
    fn flags(
        &mut self,
        path: &str,
        component: Component,
        flags: &[(String, String)],
        target: &Target,
    ) {
        for (name, value) in flags {
            let shown = &target.shown;
            match flag_status(component, name, target.kube, &target.etcd) {
                FlagStatus::Known => {}
                FlagStatus::Removed { version, hint } => self.error(
                    path,
                    format!(
                        "--{name} was removed in {version}; {shown} refuses to start with it: \
                         remove it{}",
                        if hint.is_empty() || hint == "-" {
                            String::new()
                        } else {
                            format!(" ({hint})")
                        }
                    ),
                ),
                FlagStatus::TooNew { version } => self.error(
                    path,
                    format!(
                        "--{name} arrived in {version}; {shown} does not know it and refuses to \
                         start: remove it or upgrade"
                    ),
                ),
                FlagStatus::Unknown {
                    suggestion: Some(close),
                } => self.error(
                    path,
                    format!("--{name} is not a flag of {shown}: did you mean --{close}?"),
                ),
                FlagStatus::Unregistered => self.error(
                    path,
                    format!(
                        "--{name} is not a flag of {shown}: no release registers it, and it \
                         refuses to start with it"
                    ),
                ),
                FlagStatus::Unknown { suggestion: None } => self.warn(
                    path,
                    format!(
                        "--{name} is not in kcompile's flag table for {shown}: check it against \
                         `{} --help`",
                        component.binary()
                    ),
                ),
            }
            if name == "feature-gates" && component != Component::Etcd {
                self.gates(path, value, target);
            }
        }
    }

    fn gates(&mut self, path: &str, value: &str, target: &Target) {
        for pair in value.split(',').filter(|p| !p.trim().is_empty()) {
            let gate = pair.split_once('=').map_or(pair, |(g, _)| g).trim();
            let kube = target.kube;
            match gate_status(gate, kube) {
                GateStatus::Known => {}
                GateStatus::Removed { version, hint } => self.error(
                    path,
                    format!(
                        "feature gate {gate} was removed {version}; {} refuses to start with it: {}",
                        target.shown,
                        if hint.is_empty() { "remove it" } else { &hint }
                    ),
                ),
                GateStatus::TooNew { version } => self.error(
                    path,
                    format!(
                        "feature gate {gate} arrived in {version}; {} does not know it and \
                         refuses to start: remove it or upgrade",
                        target.shown
                    ),
                ),
                GateStatus::Unknown {
                    suggestion: Some(close),
                } => self.error(
                    path,
                    format!(
                        "feature gate {gate} is unknown to {}: did you mean {close}?",
                        target.shown
                    ),
                ),
                GateStatus::Unknown { suggestion: None } => self.warn(
                    path,
                    format!(
                        "feature gate {gate} is not in kcompile's table for {kube}: check its spelling"
                    ),
                ),
            }
        }
    }

    /// The kubelet config's files exist; the kubelet unit's flags are known to the host's
    /// version when the files tell it.
    fn kubelet_flags(&mut self) {
        if let Some((config_path, config)) = self.kubelet_config.clone() {
            for field in [
                "/tlsCertFile",
                "/tlsPrivateKeyFile",
                "/authentication/x509/clientCAFile",
            ] {
                let Some(file) = super::material::text_at(&config, field) else {
                    continue;
                };
                let rel = relative(&file);
                if super::tree::managed(&rel) && !self.tree.has(&rel) {
                    let name = field.rsplit('/').next().unwrap_or(field);
                    self.error(
                        &config_path,
                        format!(
                            "{name} names {file}, which does not exist: the kubelet fails to start"
                        ),
                    );
                }
            }
        }
        let (Some((path, flags)), Some(kube)) = (self.kubelet_flags.clone(), self.host_version())
        else {
            return;
        };
        let target = Target {
            kube,
            etcd: etcd_of(kube.pinned_etcd()).unwrap_or_else(fallback_etcd),
            shown: format!("the kubelet {kube}"),
        };
        self.flags(&path, Component::Kubelet, &flags, &target);
    }
}

/// An etcd image tag as a version, without judging whether kcompile supports it.
fn etcd_of(tag: &str) -> Option<EtcdVersion> {
    let bare = tag.strip_prefix('v').unwrap_or(tag);
    let release = bare.split_once('-').map_or(bare, |(release, _)| release);
    let numbers: Vec<u32> = release
        .split('.')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    match numbers.as_slice() {
        &[major, minor, patch] => Some(EtcdVersion {
            number: (major, minor, patch),
            tag: tag.to_owned(),
        }),
        _ => None,
    }
}

fn fallback_etcd() -> EtcdVersion {
    EtcdVersion {
        number: (3, 6, 0),
        tag: "3.6.0-0".into(),
    }
}
