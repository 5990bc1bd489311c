//! `kcompile preflight`: checks a machine before its host's bundle is rolled out, as kubeadm's
//! preflight does (`cmd/kubeadm/app/preflight/checks.go` of kubernetes/kubernetes, read at
//! commit 00b6a4c7afdbd95d9ef5b5f3cada04ac15b0c135: `SwapCheck`, `FileContentCheck` on
//! `/proc/sys/net/ipv4/ip_forward`, `PortOpenCheck`, `KubeletVersionCheck`, `HostnameCheck`),
//! but against what this host's bundle will run: the ports of its own components, its kubelet's
//! cgroup driver, swap setting, runtime endpoint and `resolvConf`, its node name and address.
//!
//! Everything is read under `--root` through [`Root`] (regular files only, bounded, no link
//! followed out of the root; `/proc` as `root/mod.rs` describes), so a prepared tree tests every
//! check. One step needs the live machine and happens only when the root is `/`: running the
//! kubelet binary for its version (`--version`, killed after 10 s); under another root the
//! version comes from dpkg's database or is not checked, with a warning that says so. The
//! interfaces' addresses come from `/proc` on `/` too, so `ip` is never run. Every check reports, ok or
//! not: an error stops a rollout (exit 1), a warning does not.
//!
//! One file per group: [`kernel`] (swap, forwarding, modules, cgroups), [`runtime`] (the
//! runtime's socket and cgroup driver, the kubelet binary and a leftover kubeadm drop-in),
//! [`ports`], [`host`] (name, address, resolver).

pub mod host;
pub mod kernel;
pub mod ports;
pub mod runtime;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cluster::{Cluster, Host};
use crate::render;
use crate::root::{Root, RootError};

/// The checks, in the order they run and report.
pub const CHECKS: [Check; 12] = [
    Check::Swap,
    Check::IpForward,
    Check::KernelModules,
    Check::Cgroups,
    Check::CgroupDriver,
    Check::RuntimeSocket,
    Check::Ports,
    Check::KubeletVersion,
    Check::Hostname,
    Check::Address,
    Check::ResolvConf,
    Check::KubeadmDropIn,
];

/// One check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Swap is off, or the kubelet is set to run with it.
    Swap,
    /// IPv4 forwarding is on.
    IpForward,
    /// `br_netfilter` and `overlay` (and the IPVS modules with kube-proxy in IPVS mode) loaded.
    KernelModules,
    /// The unified cgroup hierarchy (cgroup v2).
    Cgroups,
    /// The runtime's cgroup driver is the kubelet's.
    CgroupDriver,
    /// The kubelet's `containerRuntimeEndpoint` is a socket.
    RuntimeSocket,
    /// The ports the host's components bind are free, or held by those components.
    Ports,
    /// The kubelet binary is the cluster's version.
    KubeletVersion,
    /// The machine's host name is the host's name.
    Hostname,
    /// The host's address is on one of the machine's interfaces.
    Address,
    /// No loopback stub resolver while the kubelet gives pods `/etc/resolv.conf`.
    ResolvConf,
    /// No kubeadm package drop-in overrides the kubelet unit.
    KubeadmDropIn,
}

impl Check {
    /// Its name in the report (`ip-forward`).
    pub fn name(self) -> &'static str {
        match self {
            Check::Swap => "swap",
            Check::IpForward => "ip-forward",
            Check::KernelModules => "kernel-modules",
            Check::Cgroups => "cgroups",
            Check::CgroupDriver => "cgroup-driver",
            Check::RuntimeSocket => "runtime-socket",
            Check::Ports => "ports",
            Check::KubeletVersion => "kubelet-version",
            Check::Hostname => "hostname",
            Check::Address => "address",
            Check::ResolvConf => "resolv-conf",
            Check::KubeadmDropIn => "kubeadm-drop-in",
        }
    }
}

/// How a finding weighs. Not [`crate::severity::Severity`]: a preflight report also lists the
/// checks that passed (`Ok`), sorts worst last, and names each level in its `-o json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The check passed.
    Ok,
    /// Worth a look; the rollout can go on.
    Warning,
    /// The host's components would fail on this machine.
    Error,
}

impl Severity {
    /// `ok`, `warning` or `error`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check.
    pub check: Check,
    /// How it weighs.
    pub severity: Severity,
    /// What was found (values from the machine are shown as found: print through `shown`).
    pub message: String,
    /// What to do, for warnings and errors.
    pub hint: Option<String>,
}

impl Finding {
    /// A passed check.
    pub fn ok(check: Check, message: impl Into<String>) -> Finding {
        Finding {
            check,
            severity: Severity::Ok,
            message: message.into(),
            hint: None,
        }
    }

    /// A warning, with what to do.
    pub fn warning(check: Check, message: impl Into<String>, hint: impl Into<String>) -> Finding {
        Finding {
            check,
            severity: Severity::Warning,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// An error, with what to do.
    pub fn error(check: Check, message: impl Into<String>, hint: impl Into<String>) -> Finding {
        Finding {
            check,
            severity: Severity::Error,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A file the check needs that cannot be read: a warning that says the check could not run.
    pub fn unreadable(check: Check, error: &RootError) -> Finding {
        Finding::warning(
            check,
            format!("not checked: {error}"),
            "read the machine as root, or check it by hand",
        )
    }
}

/// The machine being checked.
pub struct Machine {
    /// Its root.
    pub root: Root,
    /// Whether the root is `/` of the machine kcompile runs on: only then is a binary run.
    pub live: bool,
}

impl Machine {
    /// The text file at `path` (lossy UTF-8), `None` when absent.
    pub fn text(&self, path: &str) -> Result<Option<String>, RootError> {
        Ok(self
            .root
            .read(path)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// What the host's bundle makes its components do, as far as the checks need it.
pub struct Bundle<'c> {
    /// The cluster.
    pub cluster: &'c Cluster,
    /// The host.
    pub host: &'c Host,
    /// The rendered `KubeletConfiguration` (`/var/lib/kubelet/config.yaml`).
    pub kubelet_config: Value,
}

impl Bundle<'_> {
    /// A field of the kubelet config.
    pub fn kubelet(&self, field: &str) -> Option<&Value> {
        self.kubelet_config.get(field)
    }
}

/// The findings of every check for one host on one machine.
#[derive(Debug)]
pub struct Report {
    /// The host.
    pub host: String,
    /// The root, as named.
    pub root: PathBuf,
    /// Every finding, in [`CHECKS`] order; at least one per check.
    pub findings: Vec<Finding>,
}

/// Runs every check of `host`'s bundle against the machine under `root`.
pub fn run(cluster: &Cluster, host: &Host, root: &Path) -> Result<Report, RootError> {
    let live = std::fs::canonicalize(root).is_ok_and(|path| path == Path::new("/"));
    let machine = Machine {
        root: Root::open(root)?,
        live,
    };
    let kubelet_config =
        serde_saphyr::from_str(&render::kubelet::config(cluster, host)).unwrap_or(Value::Null);
    let bundle = Bundle {
        cluster,
        host,
        kubelet_config,
    };
    let mut findings = Vec::new();
    for check in CHECKS {
        let found = match check {
            Check::Swap => kernel::swap(&machine, &bundle),
            Check::IpForward => kernel::ip_forward(&machine),
            Check::KernelModules => kernel::modules(&machine, &bundle),
            Check::Cgroups => kernel::cgroups(&machine),
            Check::CgroupDriver => runtime::cgroup_driver(&machine, &bundle),
            Check::RuntimeSocket => runtime::socket(&machine, &bundle),
            Check::Ports => ports::check(&machine, &bundle),
            Check::KubeletVersion => runtime::kubelet_version(&machine, &bundle),
            Check::Hostname => host::hostname(&machine, &bundle),
            Check::Address => host::address(&machine, &bundle),
            Check::ResolvConf => host::resolv_conf(&machine, &bundle),
            Check::KubeadmDropIn => runtime::kubeadm_drop_in(&machine),
        };
        findings.extend(found);
    }
    Ok(Report {
        host: host.name.clone(),
        root: root.to_owned(),
        findings,
    })
}

impl Report {
    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    }

    /// Whether any check found an error (the command then exits 1).
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// One line per finding (`error: ports: ...`, a `hint:` line under warnings and errors),
    /// then a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            let _ = writeln!(
                out,
                "{}: {}: {}",
                finding.severity.name(),
                finding.check.name(),
                finding.message
            );
            if let Some(hint) = &finding.hint {
                let _ = writeln!(out, "  hint: {hint}");
            }
        }
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        let _ = writeln!(
            out,
            "preflight of host `{}` on root {}: {errors} error{}, {warnings} warning{}",
            self.host,
            self.root.display(),
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" },
        );
        out
    }

    /// The report as JSON (`formatVersion` 1): `{"formatVersion": 1, "host": NAME, "root": DIR,
    /// "errors": N, "warnings": N, "findings": [{"check": NAME, "severity":
    /// "ok"|"warning"|"error", "message": TEXT, "hint": TEXT (warnings and errors)}]}`. Fields
    /// are only ever added within a version.
    pub fn render_json(&self) -> String {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|finding| {
                let mut value = serde_json::json!({
                    "check": finding.check.name(),
                    "severity": finding.severity.name(),
                    "message": finding.message,
                });
                if let Some(hint) = &finding.hint {
                    value["hint"] = Value::String(hint.clone());
                }
                value
            })
            .collect();
        crate::json::document(&serde_json::json!({
            "host": self.host,
            "root": self.root.display().to_string(),
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
            "findings": findings,
        }))
    }
}
