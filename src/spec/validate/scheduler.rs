//! `scheduler.config`: the `KubeSchedulerConfiguration`, with the fields kcompile derives refused.

use std::collections::BTreeMap;

use super::Checker;
use crate::spec::component_config::ConfigKind;
use crate::spec::source::child;
use crate::spec::types::Spec;
use crate::versions::KubeVersion;

impl Checker<'_> {
    pub(super) fn scheduler_config(
        &mut self,
        spec: &Spec,
        kube: KubeVersion,
    ) -> Option<BTreeMap<String, serde_json::Value>> {
        let config = spec.scheduler.as_ref()?.config.clone()?;
        let owned = |field: &str| matches!(field, "apiVersion" | "kind" | "clientConnection");
        self.component_config(
            ConfigKind::Scheduler,
            kube,
            &config,
            "scheduler.config",
            owned,
        );
        for field in config.keys() {
            let hint = match field.as_str() {
                "apiVersion" | "kind" => {
                    "kcompile writes `kubescheduler.config.k8s.io/v1` KubeSchedulerConfiguration"
                }
                "clientConnection" => {
                    "the scheduler's kubeconfig is /etc/kubernetes/scheduler.conf, which kcompile writes"
                }
                _ => continue,
            };
            self.error_at_key(
                &child("scheduler.config", field),
                format!("kcompile sets KubeSchedulerConfiguration `{field}` itself"),
                hint,
            );
        }
        Some(config)
    }
}
