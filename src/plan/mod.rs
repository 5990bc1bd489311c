//! `kcompile plan`: the order in which to roll a build out over the whole cluster. Each host's new
//! bundle is compared with the files it has (its root under `--roots DIR`, read by
//! [`crate::diff::compare`]); every changed file falls to the component that reads it, and the
//! components go in waves: etcd members one by one, apiservers (and the load balancer in front of
//! them) one by one, then controller-managers and schedulers, then kubelets and kube-proxies
//! (control planes one by one, then the workers). A wave lists the files to install on its host,
//! what restarts, and the commands to run before and after it: the etcd membership steps, the
//! addons to apply before the first apiserver, the kubelet release to install, the health check.
//!
//! Each host is compared with one source, which the plan names ([`Source`]): its root under
//! `--roots DIR` (`DIR/<host>/`, fetched from the host, or the `--out` tree of the previous
//! build), or, without `--roots`, the MANIFEST of its last build as the state records it
//! ([`crate::bundle::built`], [`crate::diff::compare_with_build`]). A host the state records no
//! build of is compared with nothing: every file of it is new, and the plan says so.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cluster::Role;
use crate::diff::{Action, Report};

/// The kinds of wave, in rollout order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// An etcd member.
    Etcd,
    /// A kube-apiserver and the load balancer in front of the apiservers.
    ApiServer,
    /// A kube-controller-manager and a kube-scheduler.
    Controllers,
    /// A kubelet and a kube-proxy (and whatever else the host gets).
    Node,
}

impl Phase {
    /// Its name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Etcd => "etcd",
            Phase::ApiServer => "apiserver",
            Phase::Controllers => "controller-manager and scheduler",
            Phase::Node => "kubelet and kube-proxy",
        }
    }

    /// The phase of a changed file (a path under the host's root).
    fn of_file(path: &str) -> Phase {
        let file = path.rsplit('/').next().unwrap_or(path);
        if path == "etc/kubernetes/manifests/etcd.yaml"
            || (path.starts_with("etc/kubernetes/pki/etcd/") && file != "ca.crt")
        {
            return Phase::Etcd;
        }
        if matches!(
            path,
            "etc/kubernetes/manifests/kube-controller-manager.yaml"
                | "etc/kubernetes/manifests/kube-scheduler.yaml"
                | "etc/kubernetes/controller-manager.conf"
                | "etc/kubernetes/scheduler.conf"
                | "etc/kubernetes/scheduler-config.yaml"
        ) {
            return Phase::Controllers;
        }
        if path.starts_with("etc/kubernetes/manifests/kube-proxy")
            || path.starts_with("var/lib/")
            || path.starts_with("etc/systemd/")
            || matches!(
                file,
                "kubelet.conf" | "kube-proxy.conf" | "bootstrap-kubelet.conf" | "MANIFEST"
            )
            || path.starts_with("etc/kubernetes/addons/")
        {
            return Phase::Node;
        }
        // The apiserver's certificates, keys, configs, the CAs it trusts, admin kubeconfigs and
        // the load balancer's manifests and configs.
        Phase::ApiServer
    }

    /// The phase of a component that restarts.
    fn of_component(component: &str) -> Phase {
        match component {
            "etcd" => Phase::Etcd,
            "kube-controller-manager" | "kube-scheduler" => Phase::Controllers,
            "kubelet" | "kube-proxy" => Phase::Node,
            _ => Phase::ApiServer,
        }
    }
}

/// What a host's new bundle was compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "against", rename_all = "kebab-case")]
pub enum Source {
    /// Its root under `--roots DIR`.
    Root {
        /// The root's path.
        path: String,
    },
    /// Its last build as the state records it (`built/<host>/MANIFEST`).
    LastBuild {
        /// When the state recorded it (RFC 3339, UTC).
        since: String,
    },
    /// Nothing: the state records no build of the host (never built, or last built by a kcompile
    /// that kept no record), so every file is new.
    NeverBuilt,
}

/// One host and what it was compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compared {
    /// The host.
    pub host: String,
    /// What its new bundle was compared with.
    #[serde(flatten)]
    pub source: Source,
}

/// What one host does in one wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostStep {
    /// The host.
    pub host: String,
    /// Files to install, add or remove (paths under the root), with their action.
    pub files: Vec<FileStep>,
    /// Components that restart, start or stop, and why.
    pub restarts: Vec<crate::diff::Restart>,
}

/// A file a wave installs or removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileStep {
    /// Path under the host's root.
    pub path: String,
    /// `add`, `change` or `remove`.
    pub action: &'static str,
}

/// One wave: hosts rolled together (one, except the workers' kubelets), with the commands around.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    /// What the wave rolls.
    pub phase: Phase,
    /// The hosts and what each does.
    pub hosts: Vec<HostStep>,
    /// Commands to run before it.
    pub before: Vec<String>,
    /// Commands to run after it (checks, confirmations) before the next wave.
    pub after: Vec<String>,
}

/// The whole rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// What each host (in spec order) was compared with.
    pub compared: Vec<Compared>,
    /// The waves, in order.
    pub waves: Vec<Wave>,
    /// Hosts whose only change is their MANIFEST (its header names the spec's sha256): nothing
    /// restarts; install it with any later rollout.
    pub manifest_only: Vec<String>,
    /// Hosts with nothing to change.
    pub unchanged: Vec<String>,
    /// Things to look at before rolling out (from the comparisons and the membership).
    pub warnings: Vec<String>,
}

/// What [`plan`] needs from a host besides its comparison.
#[derive(Debug, Clone)]
pub struct HostInput<'a> {
    /// The host.
    pub host: &'a crate::cluster::Host,
    /// Its comparison with its root.
    pub report: Report,
    /// The Kubernetes release its root's (or recorded) MANIFEST names, if it has one.
    pub built_for: Option<String>,
    /// What it was compared with.
    pub source: Source,
}

/// Etcd membership steps around the waves, from [`crate::etcd_steps`].
#[derive(Debug, Clone, Default)]
pub struct MembershipSteps {
    /// Steps before every wave (members leaving, one paragraph each).
    pub leaving: Vec<String>,
    /// Steps around the etcd wave of a joining member: (host, before, after).
    pub joining: Vec<(String, String, String)>,
}

/// Orders `hosts` (spec order) into waves for the target release `kubernetes`, whose apiservers
/// listen on `api_server_port`.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the caller builds the inputs for this call"
)]
pub fn plan(
    hosts: Vec<HostInput<'_>>,
    kubernetes: &str,
    api_server_port: u16,
    membership: &MembershipSteps,
    warnings: Vec<String>,
) -> Plan {
    let mut waves = Vec::new();
    let mut unchanged = Vec::new();
    let mut manifest_only = Vec::new();
    let mut warnings = warnings;
    let mut per_phase: Vec<(Phase, &HostInput<'_>, HostStep)> = Vec::new();
    let compared = hosts
        .iter()
        .map(|input| Compared {
            host: input.host.name.clone(),
            source: input.source.clone(),
        })
        .collect();
    for input in &hosts {
        for warning in &input.report.warnings {
            warnings.push(format!("{}: {warning}", input.host.name));
        }
        let steps = split(input);
        if steps.is_empty() {
            unchanged.push(input.host.name.clone());
        }
        let bookkeeping = matches!(steps.as_slice(), [(_, only)] if only.restarts.is_empty()
            && only.files.iter().all(|file| file.path == crate::bundle::manifest::PATH));
        if bookkeeping {
            manifest_only.push(input.host.name.clone());
            continue;
        }
        per_phase.extend(steps.into_iter().map(|(phase, step)| (phase, input, step)));
    }
    let addons_change = per_phase.iter().any(|(_, _, step)| {
        step.files
            .iter()
            .any(|file| file.path.starts_with("etc/kubernetes/addons/"))
    });
    let kubelet_release = hosts.iter().any(|input| {
        input
            .built_for
            .as_deref()
            .is_some_and(|built| built != kubernetes)
    });
    for phase in [
        Phase::Etcd,
        Phase::ApiServer,
        Phase::Controllers,
        Phase::Node,
    ] {
        let mut workers = Vec::new();
        for (_, input, step) in per_phase.iter().filter(|(p, _, _)| *p == phase) {
            let host = &input.host.name;
            let mut before = Vec::new();
            let mut after = Vec::new();
            match phase {
                Phase::Etcd => {
                    if let Some((_, add, confirm)) =
                        membership.joining.iter().find(|(name, _, _)| name == host)
                    {
                        before.push(add.clone());
                        after.push(confirm.clone());
                    } else {
                        after.push(format!(
                            "on {host}: wait until `etcdctl endpoint health --cluster` reports every member healthy"
                        ));
                    }
                }
                Phase::ApiServer => after.push(format!(
                    "on {host}: wait until `curl -sk https://{}:{api_server_port}/readyz` answers ok",
                    input.host.address
                )),
                Phase::Controllers => {}
                Phase::Node => {
                    if !input.host.has(Role::ControlPlane) {
                        workers.push(step.clone());
                        continue;
                    }
                    if kubelet_release {
                        before.push(format!(
                            "on {host}: install the kubelet of Kubernetes {kubernetes} (at the unit's path), then systemctl restart kubelet"
                        ));
                    }
                    after.push(format!("kubectl get node {host}   # Ready"));
                }
            }
            waves.push(Wave {
                phase,
                hosts: vec![step.clone()],
                before,
                after,
            });
        }
        if !workers.is_empty() {
            let mut before = vec!["drain each worker before its kubelet changes: kubectl drain NODE --ignore-daemonsets".to_owned()];
            if kubelet_release {
                before.push(format!(
                    "install the kubelet of Kubernetes {kubernetes} on each worker (at the unit's path), then systemctl restart kubelet"
                ));
            }
            waves.push(Wave {
                phase,
                hosts: workers,
                before,
                after: vec![
                    "kubectl uncordon NODE for each drained worker, once it is Ready".into(),
                ],
            });
        }
    }
    // The leaving members go first of all; the addons go in before the first apiserver.
    if let Some(first) = waves.first_mut() {
        let mut before: Vec<String> = membership.leaving.clone();
        before.append(&mut first.before);
        first.before = before;
    } else if !membership.leaving.is_empty() {
        waves.push(Wave {
            phase: Phase::Etcd,
            hosts: Vec::new(),
            before: membership.leaving.clone(),
            after: Vec::new(),
        });
    }
    if addons_change
        && let Some(first) = waves.iter_mut().find(|wave| wave.phase >= Phase::ApiServer)
    {
        first.before.push(
            "on the first control plane: kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /etc/kubernetes/addons/ (its files come with that host's node wave; apply them from the new bundle)"
                .into(),
        );
    }
    Plan {
        compared,
        waves,
        manifest_only,
        unchanged,
        warnings,
    }
}

/// A host's changed files and restarts, split by phase.
fn split(input: &HostInput<'_>) -> Vec<(Phase, HostStep)> {
    let mut steps: Vec<(Phase, HostStep)> = Vec::new();
    let host = &input.host.name;
    for change in &input.report.changes {
        let action = match change.action {
            Action::Add => "add",
            Action::Change => "change",
            Action::Remove => "remove",
            _ => continue,
        };
        step(&mut steps, host, Phase::of_file(&change.path))
            .files
            .push(FileStep {
                path: change.path.clone(),
                action,
            });
    }
    for restart in &input.report.restarts {
        step(&mut steps, host, Phase::of_component(&restart.component))
            .restarts
            .push(restart.clone());
    }
    steps.sort_by_key(|(phase, _)| *phase);
    // A wave that would only rewrite the MANIFEST changes nothing that runs: it rides with the
    // last wave of the host.
    if steps.len() > 1
        && let Some(position) = steps.iter().position(|(_, step)| {
            step.restarts.is_empty()
                && step
                    .files
                    .iter()
                    .all(|file| file.path == crate::bundle::manifest::PATH)
        })
    {
        let (_, lone) = steps.remove(position);
        if let Some((_, last)) = steps.last_mut() {
            last.files.extend(lone.files);
        }
    }
    steps
}

/// The step of `phase` in `steps`, made empty if there is none yet.
fn step<'s>(steps: &'s mut Vec<(Phase, HostStep)>, host: &str, phase: Phase) -> &'s mut HostStep {
    let index = if let Some(index) = steps.iter().position(|(p, _)| *p == phase) {
        index
    } else {
        steps.push((
            phase,
            HostStep {
                host: host.to_owned(),
                files: Vec::new(),
                restarts: Vec::new(),
            },
        ));
        steps.len() - 1
    };
    &mut steps[index].1
}

impl Plan {
    /// The text form: one paragraph per wave.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for warning in &self.warnings {
            let _ = writeln!(text, "warning: {warning}");
        }
        self.render_sources(&mut text);
        if self.waves.is_empty() {
            text.push_str("nothing to roll out: every host has its files\n");
        }
        for (index, wave) in self.waves.iter().enumerate() {
            let hosts: Vec<&str> = wave.hosts.iter().map(|h| h.host.as_str()).collect();
            let _ = writeln!(
                text,
                "wave {}: {} on {}",
                index + 1,
                wave.phase.name(),
                if hosts.is_empty() {
                    "no host".to_owned()
                } else {
                    hosts.join(", ")
                }
            );
            for command in &wave.before {
                let _ = writeln!(text, "  before: {}", indent(command));
            }
            for step in &wave.hosts {
                for file in &step.files {
                    let _ = writeln!(text, "  {}: {} {}", step.host, file.action, file.path);
                }
                for restart in &step.restarts {
                    let _ = writeln!(
                        text,
                        "  {}: {} {}",
                        step.host, restart.component, restart.reason
                    );
                }
            }
            for command in &wave.after {
                let _ = writeln!(text, "  after: {}", indent(command));
            }
        }
        if !self.manifest_only.is_empty() {
            let _ = writeln!(
                text,
                "only the MANIFEST changes (nothing restarts): {}",
                self.manifest_only.join(", ")
            );
        }
        if !self.unchanged.is_empty() {
            let _ = writeln!(text, "unchanged: {}", self.unchanged.join(", "));
        }
        text
    }

    /// The lines that say what the hosts were compared with, one per kind of source.
    fn render_sources(&self, text: &mut String) {
        let mut roots = Vec::new();
        let mut built = Vec::new();
        let mut never = Vec::new();
        for compared in &self.compared {
            match &compared.source {
                Source::Root { path } => roots.push(format!("{} ({path})", compared.host)),
                Source::LastBuild { since } => {
                    built.push(format!("{} (recorded {since})", compared.host));
                }
                Source::NeverBuilt => never.push(compared.host.as_str()),
            }
        }
        if !roots.is_empty() {
            let _ = writeln!(text, "compared with their roots: {}", roots.join(", "));
        }
        if !built.is_empty() {
            let _ = writeln!(
                text,
                "compared with their last build as the state records it: {}",
                built.join(", ")
            );
        }
        if !never.is_empty() {
            let _ = writeln!(
                text,
                "never built (the state records no build of them; every file is new): {}",
                never.join(", ")
            );
        }
    }

    /// The JSON form ([`crate::json::document`], documented in docs/operations.md).
    pub fn render_json(&self) -> String {
        crate::json::document(self)
    }
}

/// A multi-line command indented under its `before:` / `after:` label.
fn indent(command: &str) -> String {
    command.replace('\n', "\n    ")
}
