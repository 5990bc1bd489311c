//! Which releases the cluster runs and where their images come from: `kubernetesVersion`,
//! `etcd.version`, `imageRepository`.

use super::{Checker, image_problem};
use crate::spec::types::Spec;
use crate::versions::{DEFAULT_KUBERNETES_VERSION, EtcdVersion, KubeVersion};

impl Checker<'_> {
    pub(super) fn kubernetes_version(&mut self, spec: &Spec) -> Option<KubeVersion> {
        let text = spec
            .kubernetes_version
            .as_deref()
            .unwrap_or(DEFAULT_KUBERNETES_VERSION);
        KubeVersion::parse(text)
            .map_err(|e| self.error("kubernetesVersion", e.message, e.hint))
            .ok()
    }

    pub(super) fn etcd_version(&mut self, spec: &Spec, kube: KubeVersion) -> Option<EtcdVersion> {
        let text = spec
            .etcd
            .as_ref()
            .and_then(|etcd| etcd.version.as_deref())
            .unwrap_or(kube.pinned_etcd());
        EtcdVersion::parse(text, kube)
            .map_err(|e| self.error("etcd.version", e.message, e.hint))
            .ok()
    }

    pub(super) fn image_repository(&mut self, spec: &Spec) -> Option<String> {
        let repository = self.required(spec.image_repository.as_ref(), "imageRepository")?;
        if let Some(problem) = image_problem(repository) {
            self.error(
                "imageRepository",
                format!("image repository `{repository}` {problem}"),
                "write a registry and path, e.g. `registry.example.com:5000/k8s`",
            );
            return None;
        }
        if repository.ends_with('/') {
            self.error(
                "imageRepository",
                format!("image repository `{repository}` ends with `/`"),
                format!("write `{}`", repository.trim_end_matches('/')),
            );
            return None;
        }
        Some(repository.clone())
    }
}
