//! `kcompile verify`: checks one host's files as they are, without the spec or the state, so it
//! works as well on a machine kubeadm or a tutorial set up. It reads the managed paths of a root
//! (or a bundle tar) once, then runs groups of checks, each in its own file:
//!
//! - `chains`: every certificate chains to the CA its consumer trusts, every key matches its
//!   certificate, the front-proxy CA is not the cluster CA, the service-account key is no CA's key;
//! - `names`: SANs cover what clients dial, CN/O are the names Kubernetes RBAC expects;
//! - `kubeconfigs`: each kubeconfig's client certificate, CA and server;
//! - `pods`: every flag path is mounted and present, no flag is unknown to the image's version;
//! - `schema`: no static pod has a field the Pod schema does not have;
//! - `usages`: each certificate's extended key usages fit how it is served or presented;
//! - `permissions`: no file holding a private key or another secret is readable by others;
//! - `readers`: a pod that runs as its own user can read the files its flags name, and no secret
//!   it does not mount;
//! - expiry (here): expired certificates are errors, those expiring soon warnings.
//!
//! Every finding names a file and says what is wrong in words a person can act on.

mod chains;
mod encryption;
mod kubeconfigs;
pub mod material;
mod names;
mod permissions;
mod pods;
mod readers;
mod schema;
pub mod tree;
mod usages;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;

use crate::bundle::manifest;
use crate::component::Component;
use crate::pki::inspect::{Inspected, date};
use material::Pod;
pub use tree::Tree;

pub use crate::severity::Severity;

/// One problem, in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as the user sees it (under the root, or as on the host for a tar).
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Finding {
    /// An error in `file`.
    pub fn error(file: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Error,
            file: file.into(),
            message: message.into(),
        }
    }

    /// A warning in `file`.
    pub fn warning(file: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warning,
            file: file.into(),
            message: message.into(),
        }
    }
}

/// What to verify.
#[derive(Debug, Clone)]
pub enum Input {
    /// A root on disk (`/` on the machine itself).
    Root(PathBuf),
    /// A bundle tar (`-` is stdin).
    Tar(PathBuf),
}

/// How to verify.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Certificates expiring within this time are warnings.
    pub warn_within: Duration,
    /// The current time.
    pub now: OffsetDateTime,
}

/// The input cannot be read at all (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every finding, sorted by file.
    pub findings: Vec<Finding>,
    /// Distinct certificates read.
    pub certificates: usize,
    /// Static pods read.
    pub pods: usize,
}

impl Report {
    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The report as JSON (`formatVersion` 1): `{"formatVersion": 1, "findings": [{"severity":
    /// "error"|"warning", "file", "message"}], "errors", "warnings", "certificates", "pods"}`.
    pub fn render_json(&self) -> String {
        let findings: Vec<serde_json::Value> = self
            .findings
            .iter()
            .map(|finding| {
                serde_json::json!({
                    "severity": match finding.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                    "file": finding.file,
                    "message": finding.message,
                })
            })
            .collect();
        crate::json::document(&serde_json::json!({
            "findings": findings,
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
            "certificates": self.certificates,
            "pods": self.pods,
        }))
    }

    /// One line per finding, then the summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            let label = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(out, "{label}: {}: {}", finding.file, finding.message);
        }
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        let _ = writeln!(
            out,
            "{}, {} ({}, {} checked)",
            plural(self.count(Severity::Error), "error"),
            plural(self.count(Severity::Warning), "warning"),
            plural(self.certificates, "certificate"),
            plural(self.pods, "pod"),
        );
        out
    }
}

/// Reads `input` and runs every check.
pub fn run(input: &Input, options: &Options) -> Result<Report, Unreadable> {
    let (tree, shown) = match input {
        Input::Root(root) => (Tree::from_root(root)?, root.display().to_string()),
        Input::Tar(file) => (Tree::from_tar(file)?, file.display().to_string()),
    };
    if !tree.holds_configuration() {
        return Err(Unreadable {
            message: format!(
                "`{shown}` holds none of the files kcompile or kubeadm write \
                 (etc/kubernetes/, var/lib/kubelet/config.yaml, var/lib/kubelet/pki/)"
            ),
            hint:
                "name the host's root (`--root /` on the machine) or a bundle from `kcompile build`"
                    .into(),
        });
    }
    Ok(verify(&tree, options))
}

/// Runs every check on a tree already read.
pub fn verify(tree: &Tree, options: &Options) -> Report {
    let mut check = Check::new(tree, *options);
    check.scan();
    check.chains();
    check.service_account_keys();
    check.front_proxy_ca();
    check.kubeconfigs();
    check.kubelet_client_on_disk();
    check.apiserver_names();
    check.etcd_names();
    check.kubelet_serving();
    check.usages();
    check.pods();
    check.pod_schemas();
    check.encryption_config();
    check.permissions();
    check.readers();
    check.report()
}

/// The first string (key or value) of `value` holding a control character other than a tab.
fn control_value(value: &serde_json::Value, found: &mut Option<String>) {
    let bad = |text: &str| text.chars().any(|c| c.is_control() && c != '\t');
    match value {
        serde_json::Value::String(text) if bad(text) => {
            found.get_or_insert_with(|| text.clone());
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| control_value(v, found)),
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                if bad(key) {
                    found.get_or_insert_with(|| key.clone());
                }
                control_value(item, found);
            }
        }
        _ => {}
    }
}

/// A static pod manifest of the tree.
#[derive(Debug, Clone)]
pub(crate) struct PodFile {
    /// Its path in the tree.
    pub path: String,
    /// Its container.
    pub pod: Pod,
}

/// The state of one run: the tree, what is known about the host, the findings so far, and the
/// files already parsed (each parse error is reported once).
pub(crate) struct Check<'t> {
    tree: &'t Tree,
    options: Options,
    findings: Vec<Finding>,
    pods: Vec<PodFile>,
    /// The kubelet's config (path, value).
    kubelet_config: Option<(String, serde_json::Value)>,
    /// The kubelet unit's flags and the unit's path.
    kubelet_flags: Option<(String, Vec<(String, String)>)>,
    /// The flags kubeadm gives the kubelet in `var/lib/kubelet/kubeadm-flags.env`.
    kubeadm_flags: Vec<(String, String)>,
    /// kube-proxy's config (path, value).
    proxy_config: Option<(String, serde_json::Value)>,
    /// The MANIFEST's header, when there is a readable one.
    header: Option<manifest::Header>,
    /// Hosts the kubeconfigs dial, and the kubeconfig's path.
    dialed: Vec<(String, String)>,
    certs: BTreeMap<String, Option<Vec<Inspected>>>,
    keys: BTreeMap<String, Option<Vec<u8>>>,
    publics: BTreeMap<String, Option<Vec<u8>>>,
    seen: BTreeSet<Vec<u8>>,
}

impl<'t> Check<'t> {
    fn new(tree: &'t Tree, options: Options) -> Check<'t> {
        Check {
            tree,
            options,
            findings: tree.problems.clone(),
            pods: Vec::new(),
            kubelet_config: None,
            kubelet_flags: None,
            kubeadm_flags: Vec::new(),
            proxy_config: None,
            header: None,
            dialed: Vec::new(),
            certs: BTreeMap::new(),
            keys: BTreeMap::new(),
            publics: BTreeMap::new(),
            seen: BTreeSet::new(),
        }
    }

    fn report(mut self) -> Report {
        let mut unique = BTreeSet::new();
        self.findings
            .retain(|f| unique.insert((f.file.clone(), f.severity, f.message.clone())));
        self.findings.sort_by(|a, b| a.file.cmp(&b.file));
        Report {
            findings: self.findings,
            certificates: self.seen.len(),
            pods: self.pods.len(),
        }
    }

    /// An error in the file at `path` (a tree path or a host path).
    fn error(&mut self, path: &str, message: impl Into<String>) {
        let file = self.tree.display(&relative(path));
        self.findings.push(Finding::error(file, message));
    }

    /// A warning in the file at `path` (a tree path or a host path).
    fn warn(&mut self, path: &str, message: impl Into<String>) {
        let file = self.tree.display(&relative(path));
        self.findings.push(Finding::warning(file, message));
    }

    /// Reads the host's configuration files, and every certificate and key once (so a corrupt
    /// or expired one is found even when no flag names it).
    fn scan(&mut self) {
        let tree = self.tree;
        if let Some(bytes) = tree.get(manifest::PATH) {
            match manifest::parse(&String::from_utf8_lossy(bytes)) {
                Ok(parsed) => self.header = Some(parsed.header),
                Err(error) => self.warn(
                    manifest::PATH,
                    format!("the MANIFEST is corrupt ({error}): the host name and version it records are not used"),
                ),
            }
        }
        self.scan_kubelet();
        let pod_dir = self
            .kubelet_config
            .as_ref()
            .and_then(|(_, config)| material::text_at(config, "/staticPodPath"))
            .map_or_else(
                || "etc/kubernetes/manifests".to_owned(),
                |dir| relative(&dir),
            );
        for (path, bytes) in &tree.files {
            let in_pod_dir = path
                .strip_prefix(&pod_dir)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.contains('/') && !name.starts_with('.'));
            if in_pod_dir {
                self.control_characters(path, bytes, true);
                match material::pod(&String::from_utf8_lossy(bytes)) {
                    Ok(pod) => self.pods.push(PodFile {
                        path: path.clone(),
                        pod,
                    }),
                    Err(error) => self.error(
                        path,
                        format!("the kubelet runs every file here, but this is no pod it can run: {error}"),
                    ),
                }
            } else if path.ends_with(".crt") || (path.ends_with(".pem") && !is_key_name(path)) {
                self.certs_at(path);
            } else if path.ends_with(".key") && !path.ends_with("/sa.key") {
                self.key_at(path);
            } else if path.ends_with("/sa.pub") {
                self.public_at(path);
            }
        }
        self.duplicate_pods();
        let proxy_path = self
            .pod(Component::KubeProxy)
            .and_then(|p| p.pod.flag("config").map(|c| p.pod.host_path(c)))
            .map_or_else(
                || "var/lib/kube-proxy/config.conf".to_owned(),
                |p| relative(&p),
            );
        self.proxy_config = self.yaml_file(&proxy_path, "kube-proxy's config");
    }

    /// A second pod of the same component (a backup left in the manifests directory): the
    /// kubelet runs both.
    fn duplicate_pods(&mut self) {
        let mut first: BTreeMap<Component, String> = BTreeMap::new();
        for file in self.pods.clone() {
            let Some(component) = file.pod.component else {
                continue;
            };
            match first.get(&component) {
                Some(earlier) => {
                    let earlier = self.tree.display(earlier);
                    self.error(
                        &file.path,
                        format!(
                            "a second {component} pod besides {earlier}: the kubelet runs every \
                             file of this directory, so both start and fight over the same ports; \
                             move the extra file out of the directory"
                        ),
                    );
                }
                None => {
                    first.insert(component, file.path.clone());
                }
            }
        }
    }

    /// The kubelet's unit and its config.
    fn scan_kubelet(&mut self) {
        let tree = self.tree;
        let mut unit_flags: Option<(String, Vec<(String, String)>)> = None;
        for (path, bytes) in &tree.files {
            let is_unit = path == "etc/systemd/system/kubelet.service"
                || (path.starts_with("etc/systemd/system/kubelet.service.d/")
                    && path.ends_with(".conf"));
            if is_unit {
                self.control_characters(path, bytes, false);
                self.unit_commands(path, bytes);
                let flags = material::unit_flags(&String::from_utf8_lossy(bytes));
                if !flags.is_empty() {
                    let entry = unit_flags.get_or_insert_with(|| (path.clone(), Vec::new()));
                    entry.1.extend(flags);
                }
            }
        }
        let config_path = unit_flags
            .as_ref()
            .and_then(|(_, flags)| flag_value(flags, "config"))
            .map_or_else(
                || "var/lib/kubelet/config.yaml".to_owned(),
                |p| relative(&p),
            );
        self.kubelet_flags = unit_flags;
        if let Some(bytes) = tree.get(KUBEADM_FLAGS) {
            self.kubeadm_flags = material::env_flags(&String::from_utf8_lossy(bytes));
        }
        self.kubelet_config = self.yaml_file(&config_path, "the kubelet's config");
    }

    /// Control bytes in a unit or a manifest: raw ones anywhere, and (for YAML) line breaks or
    /// escapes inside a value, which end up as a new directive or inside a command line.
    fn control_characters(&mut self, path: &str, bytes: &[u8], yaml: bool) {
        if let Some(byte) = bytes
            .iter()
            .find(|b| (**b < 0x20 && !matches!(**b, b'\n' | b'\t' | b'\r')) || **b == 0x7f)
        {
            self.error(
                path,
                format!("holds the control byte 0x{byte:02x}: kcompile never writes one; someone edited this file"),
            );
            return;
        }
        if !yaml {
            return;
        }
        let Ok(value) = material::yaml(&String::from_utf8_lossy(bytes)) else {
            return;
        };
        let mut found = None;
        control_value(&value, &mut found);
        if let Some(text) = found {
            self.error(
                path,
                format!(
                    "a value holds a line break or control character (`{}`): in a command line it smuggles in another argument or directive",
                    crate::shown::value(&text, 80)
                ),
            );
        }
    }

    /// A unit that runs commands besides the kubelet (`ExecStartPre=` and the like).
    fn unit_commands(&mut self, path: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines() {
            let Some((key, _)) = line.trim_start().split_once('=') else {
                continue;
            };
            let key = key.trim();
            let rootless_tmpfiles = format!(
                "ExecStartPre=/usr/bin/systemd-tmpfiles --create /{}",
                crate::render::security_context::TMPFILES
            );
            if key.starts_with("Exec")
                && !matches!(key, "ExecStart" | "ExecReload")
                && line.trim() != rootless_tmpfiles
            {
                self.warn(
                    path,
                    format!("`{key}=` runs another command with the kubelet's privileges; kcompile never writes one"),
                );
            }
        }
    }

    fn yaml_file(&mut self, path: &str, what: &str) -> Option<(String, serde_json::Value)> {
        let bytes = self.tree.get(path)?;
        match material::yaml(&String::from_utf8_lossy(bytes)) {
            Ok(value) => Some((path.to_owned(), value)),
            Err(error) => {
                self.error(path, format!("{what} cannot be read: {error}"));
                None
            }
        }
    }

    /// The pod of a component, if this host runs it.
    fn pod(&self, component: Component) -> Option<PodFile> {
        self.pods
            .iter()
            .find(|p| p.pod.component == Some(component))
            .cloned()
    }

    /// The node's name, if the files tell it, and where it comes from (for messages): the
    /// kubelet's `--hostname-override` (its unit, or kubeadm's flags file), kube-proxy's
    /// `hostnameOverride`, the host the MANIFEST was built for, else the host name the kubelet
    /// takes by default (`/etc/hostname`, lower-cased as the kubelet does).
    fn node_name(&self) -> Option<(String, String)> {
        let from_unit = self.kubelet_flags.as_ref().and_then(|(path, flags)| {
            flag_value(flags, "hostname-override").map(|name| {
                (
                    name,
                    format!("--hostname-override in {}", self.tree.display(path)),
                )
            })
        });
        let from_kubeadm = || {
            flag_value(&self.kubeadm_flags, "hostname-override").map(|name| {
                let shown = self.tree.display(KUBEADM_FLAGS);
                (name, format!("--hostname-override in {shown}"))
            })
        };
        let from_proxy = || {
            self.proxy_config.as_ref().and_then(|(path, c)| {
                material::text_at(c, "/hostnameOverride").map(|name| {
                    let shown = self.tree.display(path);
                    (name, format!("hostnameOverride in {shown}"))
                })
            })
        };
        let from_manifest = || {
            self.header
                .as_ref()
                .map(|h| h.host.clone())
                .filter(|h| !h.is_empty())
                .map(|name| (name, "the host the MANIFEST was built for".to_owned()))
        };
        let from_hostname = || {
            let bytes = self.tree.get(tree::HOSTNAME)?;
            let name = String::from_utf8_lossy(bytes).trim().to_lowercase();
            let shown = self.tree.display(tree::HOSTNAME);
            (!name.is_empty() && !name.contains(char::is_whitespace))
                .then(|| (name, format!("the host name in {shown}")))
        };
        from_unit
            .or_else(from_kubeadm)
            .or_else(from_proxy)
            .or_else(from_manifest)
            .or_else(from_hostname)
    }

    /// Certificates at a host path (absolute) or tree path; `None` when absent or unreadable
    /// (reported once).
    fn certs_at(&mut self, path: &str) -> Option<Vec<Inspected>> {
        let path = relative(path);
        if let Some(cached) = self.certs.get(&path) {
            return cached.clone();
        }
        let bytes = self.tree.get(&path)?;
        let parsed = match material::certificates(bytes) {
            Ok(certs) => {
                for cert in &certs {
                    self.register(&path, "", cert);
                }
                Some(certs)
            }
            Err(error) => {
                self.error(&path, format!("is not a valid certificate ({error}): every component that reads it will fail; reissue or restore it"));
                None
            }
        };
        self.certs.insert(path, parsed.clone());
        parsed
    }

    /// The public half of a private key file; `None` when absent or unreadable (reported once).
    fn key_at(&mut self, path: &str) -> Option<Vec<u8>> {
        let path = relative(path);
        if let Some(cached) = self.keys.get(&path) {
            return cached.clone();
        }
        let bytes = self.tree.get(&path)?;
        let parsed = match material::private_key(bytes) {
            Ok(public) => Some(public),
            Err(error) => {
                self.error(
                    &path,
                    format!("is not a usable private key ({error}); restore it or reissue its certificate with a new key"),
                );
                None
            }
        };
        self.keys.insert(path, parsed.clone());
        parsed
    }

    /// A public key (from a public key, certificate or private key file).
    fn public_at(&mut self, path: &str) -> Option<Vec<u8>> {
        let path = relative(path);
        if let Some(cached) = self.publics.get(&path) {
            return cached.clone();
        }
        let bytes = self.tree.get(&path)?;
        let parsed = match material::public_key(bytes) {
            Ok(public) => Some(public),
            Err(error) => {
                self.error(&path, format!("holds no usable public key ({error})"));
                None
            }
        };
        self.publics.insert(path, parsed.clone());
        parsed
    }

    /// Counts a certificate once and checks its validity period.
    fn register(&mut self, path: &str, field: &str, cert: &Inspected) {
        if !self.seen.insert(cert.der.clone()) {
            return;
        }
        let now = self.options.now;
        let horizon = time::Duration::try_from(self.options.warn_within)
            .ok()
            .and_then(|window| now.checked_add(window))
            .unwrap_or(now);
        let what = if field.is_empty() {
            format!("the certificate {}", cert.subject)
        } else {
            format!("{field} ({})", cert.subject)
        };
        if cert.not_after <= now {
            self.error(
                path,
                format!(
                    "{what} expired on {}: TLS with it fails; renew it",
                    date(cert.not_after)
                ),
            );
        } else if cert.not_after <= horizon {
            let days = (cert.not_after - now).whole_days();
            self.warn(
                path,
                format!(
                    "{what} expires on {} (in {days} days); renew it before then",
                    date(cert.not_after)
                ),
            );
        }
        if cert.not_before > now {
            self.warn(
                path,
                format!(
                    "{what} is not valid before {}: is this machine's clock behind?",
                    date(cert.not_before)
                ),
            );
        }
    }
}

/// The kubelet flags `kubeadm init`/`join` write for the kubelet (`KUBELET_KUBEADM_ARGS`).
const KUBEADM_FLAGS: &str = "var/lib/kubelet/kubeadm-flags.env";

/// A tree path for a host path (`/etc/kubernetes/x` → `etc/kubernetes/x`).
fn relative(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

/// The first value of a flag in a list.
fn flag_value(flags: &[(String, String)], name: &str) -> Option<String> {
    flags
        .iter()
        .find(|(flag, _)| flag == name)
        .map(|(_, value)| value.clone())
}

/// Whether a `.pem` file name is a key (`…-key.pem`, as the tutorials name them).
fn is_key_name(path: &str) -> bool {
    path.ends_with("-key.pem") || path.ends_with("_key.pem")
}

/// `CN=x` of a certificate's first block, for messages.
fn subject(certs: &[Inspected]) -> String {
    certs
        .first()
        .map_or_else(String::new, |c| c.subject.clone())
}
