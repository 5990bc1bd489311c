//! `extraArgs`: each flag checked against the target version's registered flags and gates, and
//! against the flags kcompile sets itself.

use super::Checker;
use crate::component::Component;
use crate::spec::diagnostic::Severity;
use crate::versions::{EtcdVersion, FlagStatus, GateStatus, KubeVersion, flag_status, gate_status};

impl Checker<'_> {
    pub(super) fn check_flag(
        &mut self,
        component: Component,
        flag: &str,
        value: &str,
        at: &str,
        kube: KubeVersion,
        etcd: &EtcdVersion,
    ) {
        let bare = flag.trim_start_matches('-');
        if bare != flag {
            self.error_at_key(
                at,
                format!("flag `{flag}` is written with dashes"),
                format!("write the name without them: `{bare}: {value}`"),
            );
            return;
        }
        if let Some((name, _)) = flag.split_once('=') {
            self.error_at_key(
                at,
                format!("flag `{flag}` has its value in the name"),
                format!("write `{name}: <value>`"),
            );
            return;
        }
        if let Some(hint) = component.owned_flag_hint(flag) {
            self.error_at_key(
                at,
                format!("kcompile sets {component} `--{flag}` itself"),
                hint,
            );
            return;
        }
        let target = if component == Component::Etcd {
            format!("etcd {}", etcd.tag)
        } else {
            kube.to_string()
        };
        match flag_status(component, flag, kube, etcd) {
            FlagStatus::Known => {}
            FlagStatus::Removed { version, hint } => {
                let hint = if hint.is_empty() {
                    "remove it".into()
                } else {
                    hint
                };
                self.error_at_key(
                    at,
                    format!(
                        "{component} flag `--{flag}` was removed in {version} (target {target})"
                    ),
                    hint,
                );
                return;
            }
            FlagStatus::TooNew { version } => {
                self.error_at_key(
                    at,
                    format!(
                        "{component} flag `--{flag}` arrived in {version}; the target is {target}"
                    ),
                    format!("raise the target version to {version} or remove the flag"),
                );
                return;
            }
            // A name close to a known flag is a typo; any other unknown name may be a flag newer
            // than kcompile's table, so it only warns.
            FlagStatus::Unknown {
                suggestion: Some(close),
            } => {
                self.error_at_key(
                    at,
                    format!("{component} has no flag `--{flag}` in {target}"),
                    format!("did you mean `{close}`?"),
                );
                return;
            }
            FlagStatus::Unregistered => {
                self.error_at_key(
                    at,
                    format!("{component} has no flag `--{flag}` in {target}"),
                    format!(
                        "no {} release kcompile knows registers it; `{} --help` lists the flags",
                        component.binary(),
                        component.binary()
                    ),
                );
                return;
            }
            FlagStatus::Unknown { suggestion: None } => {
                self.report(
                    Severity::Warning,
                    at,
                    true,
                    format!("{component} flag `--{flag}` is not in kcompile's table for {target}"),
                    Some(format!(
                        "check the spelling with `{} --help`; the component refuses to start on an unknown flag",
                        component.binary()
                    )),
                );
                return;
            }
        }
        if flag == "feature-gates" && component != Component::Etcd {
            self.feature_gates(value, at, kube);
        }
        if component == Component::ApiServer && flag == "enable-admission-plugins" {
            for plugin in value.split(',').map(str::trim) {
                if let Some((removed, hint)) = crate::versions::admission::removed_plugin(plugin)
                    && kube.minor >= removed
                {
                    self.error(
                        at,
                        format!("admission plugin `{plugin}` was removed in v1.{removed} (target {kube})"),
                        hint,
                    );
                }
            }
        }
        if component == Component::ApiServer
            && flag == "authorization-mode"
            && value.split(',').any(|mode| mode.trim() == "AlwaysAllow")
        {
            self.warn(
                at,
                "authorization mode AlwaysAllow lets every authenticated request do anything",
                "use `Node,RBAC` (kubeadm's default)",
            );
        }
    }

    pub(super) fn feature_gates(&mut self, value: &str, at: &str, kube: KubeVersion) {
        for pair in value
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let Some((gate, setting)) = pair.split_once('=') else {
                self.error(
                    at,
                    format!("feature gate `{pair}` has no value"),
                    format!("write `{pair}=true`"),
                );
                continue;
            };
            if !matches!(
                setting.trim().to_ascii_lowercase().as_str(),
                "true" | "false"
            ) {
                self.error(
                    at,
                    format!("feature gate `{gate}` is set to `{setting}`"),
                    "a gate is `true` or `false`",
                );
            }
            match gate_status(gate.trim(), kube) {
                GateStatus::Known => {}
                GateStatus::Removed { version, hint } => self.error(
                    at,
                    format!("feature gate `{gate}` was removed {version} (target {kube})"),
                    if hint.is_empty() {
                        "remove it".to_owned()
                    } else {
                        hint
                    },
                ),
                GateStatus::TooNew { version } => self.error(
                    at,
                    format!("feature gate `{gate}` arrived in {version}; the target is {kube}"),
                    format!("raise the target version to {version} or remove the gate"),
                ),
                GateStatus::Unknown {
                    suggestion: Some(close),
                } => self.error(
                    at,
                    format!("unknown feature gate `{gate}` for {kube}"),
                    format!("did you mean `{close}`?"),
                ),
                GateStatus::Unknown { suggestion: None } => self.warn(
                    at,
                    format!("feature gate `{gate}` is not in kcompile's table for {kube}"),
                    "check the spelling against the Kubernetes feature-gates reference",
                ),
            }
        }
    }
}
