//! Strict schema validation of the compiled files. For every example and every supported
//! Kubernetes minor (the example's `kubernetesVersion` changed in a copy of the spec; the etcd
//! version follows), build every host, then:
//!
//! - validate every static pod (and every other Kubernetes API object, such as the addons) with
//!   `kubernetes-validate --strict` against that minor's schemas, one validator run per build;
//! - parse every rendered YAML file (configs, kubeconfigs, manifests) and check that it carries
//!   the apiVersion and kind expected at its path. kubernetes-validate ships no schema for
//!   `KubeletConfiguration`, `KubeProxyConfiguration`, `EncryptionConfiguration`, the audit Policy or
//!   kubeconfigs, so those get this check only.
//!
//! kubernetes-validate is installed by `.ci/install-python-tools.sh`. When it lacks the schemas
//! of a minor newer than its newest, that minor is validated against its newest and the test says
//! so on stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common;
use kcompile::versions::{NEWEST_MINOR, OLDEST_MINOR};
use serde_json::Value;

const VALIDATOR: &str = "kubernetes-validate";
const INSTALL_HINT: &str = "install it with `bash .ci/install-python-tools.sh` (as root)";

/// Writes past the test harness's capture, so the versions used show in every run's output.
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "schema: {text}");
}

/// The installed kubernetes-validate: its version and the newest Kubernetes minor it has
/// schemas for.
struct Validator {
    version: String,
    newest_minor: u32,
}

fn validator() -> Validator {
    let output = Command::new(VALIDATOR)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{VALIDATOR} is not installed ({e}): {INSTALL_HINT}"));
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success() && !version.is_empty(),
        "`{VALIDATOR} --version` failed ({}): {}{}\n{INSTALL_HINT}",
        output.status,
        version,
        String::from_utf8_lossy(&output.stderr)
    );
    // The help names the default version, which is the newest schema set it ships.
    let help = Command::new(VALIDATOR)
        .arg("--help")
        .env("COLUMNS", "1000")
        .output()
        .unwrap_or_else(|e| panic!("`{VALIDATOR} --help`: {e}"));
    let help = String::from_utf8_lossy(&help.stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let newest = help
        .split_once("Defaults to ")
        .map(|(_, rest)| rest.split([' ', ')']).next().unwrap_or(""))
        .map_or("", |v| v.trim_end_matches('.'));
    let newest_minor = newest
        .strip_prefix("1.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| {
            panic!("cannot tell the newest schema version of {VALIDATOR} {version} from its help: {help}")
        });
    Validator {
        version,
        newest_minor,
    }
}

/// What a rendered YAML file must hold.
enum Expect {
    /// A static pod named after its file, in kube-system; strictly schema-validated.
    StaticPod(String),
    /// Kubernetes API objects applied with kubectl; each strictly schema-validated.
    ApiObjects,
    /// A config file with this apiVersion and kind; no published schema.
    Config(&'static str, &'static str),
    /// A YAML file kcompile may add elsewhere: its kind must be one of [`KNOWN_CONFIGS`].
    ByKind,
}

/// Config kinds kcompile may write besides those at fixed paths, with the apiVersions accepted.
const KNOWN_CONFIGS: &[(&str, &[&str])] = &[
    (
        "KubeSchedulerConfiguration",
        &["kubescheduler.config.k8s.io/v1"],
    ),
    ("AdmissionConfiguration", &["apiserver.config.k8s.io/v1"]),
    (
        "AuthenticationConfiguration",
        &[
            "apiserver.config.k8s.io/v1",
            "apiserver.config.k8s.io/v1beta1",
        ],
    ),
    (
        "AuthorizationConfiguration",
        &[
            "apiserver.config.k8s.io/v1",
            "apiserver.config.k8s.io/v1beta1",
        ],
    ),
    ("EncryptionConfiguration", &["apiserver.config.k8s.io/v1"]),
    ("Policy", &["audit.k8s.io/v1"]),
    ("Config", &["v1"]),
];

/// What the file at `path` (relative to a host's root) must hold, by where kcompile writes it;
/// `None` for files that are not YAML (certificates, keys, the kubelet unit).
fn expectation(path: &str) -> Option<Expect> {
    // Not YAML: tests/load_balancer.rs runs keepalived's and haproxy's own checkers on these.
    if path.starts_with("etc/keepalived/") || path.starts_with("etc/haproxy/") {
        return None;
    }
    // Not Kubernetes objects: tests/node.rs checks the node files (sysctl and module lists, the
    // kubelet drop-in, crictl's config, containerd's TOML) with their own tools.
    // The tmpfiles.d file of a rootless control plane: tests/etcd_cluster.rs applies it.
    let node_file = [
        "etc/sysctl.d/",
        "etc/modules-load.d/",
        "etc/containerd/",
        "etc/kubernetes/kcompile/rootless-tmpfiles.conf",
    ]
    .iter()
    .any(|dir| path.starts_with(dir))
        || path == "etc/crictl.yaml"
        || path == "etc/systemd/system/kubelet.service.d/10-kubeadm.conf";
    if node_file {
        return None;
    }
    let yaml_like = [".yaml", ".yml", ".conf", ".json"]
        .iter()
        .any(|ext| path.ends_with(ext));
    if !yaml_like {
        return None;
    }
    if let Some(file) = path.strip_prefix("etc/kubernetes/manifests/") {
        let name = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        return Some(Expect::StaticPod(name.to_owned()));
    }
    if path.starts_with("etc/kubernetes/addons/") {
        return Some(Expect::ApiObjects);
    }
    Some(match path {
        "var/lib/kubelet/config.yaml" => {
            Expect::Config("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration")
        }
        "var/lib/kube-proxy/config.conf" => {
            Expect::Config("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration")
        }
        "etc/kubernetes/encryption-config.yaml" => {
            Expect::Config("apiserver.config.k8s.io/v1", "EncryptionConfiguration")
        }
        "etc/kubernetes/audit-policy.yaml" => Expect::Config("audit.k8s.io/v1", "Policy"),
        _ if path.starts_with("etc/kubernetes/")
            && path.ends_with(".conf")
            && !path["etc/kubernetes/".len()..].contains('/') =>
        {
            Expect::Config("v1", "Config")
        }
        _ => Expect::ByKind,
    })
}

fn field<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    doc.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Checks the apiVersion and kind of every rendered YAML file under `out`. Returns the files to
/// schema-validate, with how many objects each holds, and how many other YAML files were
/// checked; appends problems to `failures`.
fn check_kinds(out: &Path, failures: &mut Vec<String>) -> (BTreeMap<PathBuf, usize>, usize) {
    let mut to_validate = BTreeMap::new();
    let mut files: Vec<PathBuf> = walk(out);
    files.sort();
    let mut pods = 0;
    let mut configs = 0;
    for file in files {
        let relative = file.strip_prefix(out).unwrap();
        let mut parts = relative.components();
        let host = parts.next().unwrap().as_os_str().to_string_lossy();
        let path = parts.as_path().to_string_lossy().replace('\\', "/");
        let Some(expect) = expectation(&path) else {
            continue;
        };
        let shown = format!("{host}:/{path}");
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: Vec<Value> = match serde_saphyr::from_multiple::<Value>(&text) {
            Ok(docs) => docs.into_iter().filter(|doc| !doc.is_null()).collect(),
            Err(e) => {
                failures.push(format!("{shown}: not YAML: {e}"));
                continue;
            }
        };
        if docs.is_empty() {
            failures.push(format!("{shown}: empty"));
            continue;
        }
        let kind_is =
            |failures: &mut Vec<String>, doc: &Value, api_versions: &[&str], kind: &str| {
                let (got_api, got_kind) = (field(doc, "/apiVersion"), field(doc, "/kind"));
                if !api_versions.contains(&got_api) || got_kind != kind {
                    failures.push(format!(
                        "{shown}: apiVersion {got_api:?}, kind {got_kind:?}; expected {} {kind}",
                        api_versions.join(" or ")
                    ));
                }
            };
        match expect {
            Expect::StaticPod(name) => {
                pods += 1;
                if docs.len() != 1 {
                    failures.push(format!("{shown}: {} documents, not one pod", docs.len()));
                }
                for doc in &docs {
                    kind_is(failures, doc, &["v1"], "Pod");
                    let (got_name, namespace) = (
                        field(doc, "/metadata/name"),
                        field(doc, "/metadata/namespace"),
                    );
                    if got_name != name || namespace != "kube-system" {
                        failures.push(format!(
                            "{shown}: pod {namespace}/{got_name}, expected kube-system/{name}"
                        ));
                    }
                }
                to_validate.insert(relative.to_path_buf(), docs.len());
            }
            Expect::ApiObjects => {
                for doc in &docs {
                    if field(doc, "/apiVersion").is_empty() || field(doc, "/kind").is_empty() {
                        failures.push(format!("{shown}: an object without apiVersion or kind"));
                    }
                }
                to_validate.insert(relative.to_path_buf(), docs.len());
            }
            Expect::Config(api_version, kind) => {
                configs += 1;
                if docs.len() != 1 {
                    failures.push(format!("{shown}: {} documents, not one", docs.len()));
                }
                kind_is(failures, &docs[0], &[api_version], kind);
            }
            Expect::ByKind => {
                configs += 1;
                for doc in &docs {
                    let kind = field(doc, "/kind");
                    match KNOWN_CONFIGS.iter().find(|(known, _)| *known == kind) {
                        Some((kind, api_versions)) => kind_is(failures, doc, api_versions, kind),
                        None => failures.push(format!(
                            "{shown}: unexpected YAML file (apiVersion {:?}, kind {kind:?}); \
                             tests/schema.rs says what each rendered file must be: add it there",
                            field(doc, "/apiVersion")
                        )),
                    }
                }
            }
        }
    }
    if pods == 0 {
        failures.push("no static pod manifests were rendered".to_owned());
    }
    (to_validate, configs)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Runs kubernetes-validate once over every file of a build, strictly, for `schema` (`1.MINOR`).
/// Checks that each object of each file passed against that schema version.
fn validate(
    dir: &Path,
    out: &str,
    files: &BTreeMap<PathBuf, usize>,
    schema: &str,
    failures: &mut Vec<String>,
) {
    let paths: Vec<String> = files
        .keys()
        .map(|file| format!("{out}/{}", file.to_string_lossy()))
        .collect();
    let output = Command::new(VALIDATOR)
        .current_dir(dir)
        .args(["--strict", "--kubernetes-version", schema])
        .args(&paths)
        .output()
        .unwrap_or_else(|e| panic!("{VALIDATOR}: {e}: {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut passed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for line in stdout.lines() {
        let info = line.strip_prefix("INFO ").and_then(|rest| {
            let (file, rest) = rest.split_once(" passed for resource ")?;
            let (_, against) = rest.rsplit_once(" against version ")?;
            Some((file, against))
        });
        match info {
            Some((file, against)) if against == schema => *passed.entry(file).or_default() += 1,
            Some((file, against)) => {
                problems.push(format!("{file}: validated against {against}, not {schema}"));
            }
            None if line.trim().is_empty() => {}
            None => problems.push(line.to_owned()),
        }
    }
    for (path, count) in paths.iter().zip(files.values()) {
        let got = passed.get(path.as_str()).copied().unwrap_or(0);
        if got != *count && !problems.iter().any(|p| p.contains(path.as_str())) {
            problems.push(format!(
                "{path}: {got} of {count} objects reported as passed"
            ));
        }
    }
    if !output.status.success() || !stderr.trim().is_empty() || !problems.is_empty() {
        failures.push(format!(
            "{VALIDATOR} --strict --kubernetes-version {schema} ({}):\n  {}{}",
            output.status,
            problems.join("\n  "),
            if stderr.trim().is_empty() {
                String::new()
            } else {
                format!("\n  stderr: {}", stderr.trim())
            }
        ));
    }
}

/// The spec with its `kubernetesVersion` set to `version`.
fn with_version(spec: &str, version: &str) -> String {
    let mut replaced = false;
    let mut text: String = spec
        .lines()
        .map(|line| {
            if line.starts_with("kubernetesVersion:") {
                replaced = true;
                format!("kubernetesVersion: {version}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    if !replaced {
        text.push_str(&format!("kubernetesVersion: {version}\n"));
    }
    text
}

/// Builds `example` for every supported minor and validates each build. Returns the problems and
/// one summary line per build.
fn check_example(example: &Path, validator: &Validator) -> (Vec<String>, Vec<String>) {
    let name = example.file_stem().unwrap().to_string_lossy().into_owned();
    let spec = std::fs::read_to_string(example).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for minor in OLDEST_MINOR..=NEWEST_MINOR {
        let started = Instant::now();
        let version = format!("v1.{minor}.0");
        let spec_file = format!("{name}-{version}.yaml");
        std::fs::write(dir.join(&spec_file), with_version(&spec, &version)).unwrap();
        let out = format!("out-{version}");
        // One state for all versions of an example: keys are made once, certificates reissued
        // only where a version changes them.
        let build = common::kcompile(dir)
            .args(["build", "-f", &spec_file, "--state", "st", "--all", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        if !build.status.success() {
            failures.push(format!(
                "{name} {version}: build failed ({}):\n{}",
                build.status,
                String::from_utf8_lossy(&build.stderr)
            ));
            continue;
        }
        let mut problems = Vec::new();
        let (files, configs) = check_kinds(&dir.join(&out), &mut problems);
        let schema_minor = minor.min(validator.newest_minor);
        let schema = format!("1.{schema_minor}");
        validate(dir, &out, &files, &schema, &mut problems);
        let pods = files
            .keys()
            .filter(|file| file.to_string_lossy().contains("/manifests/"))
            .count();
        let others = files.values().sum::<usize>() - pods;
        summary.push(format!(
            "{name} {version}: {pods} pods and {others} other objects validated against schemas \
             {schema}{}, apiVersion/kind of {configs} config files checked, {:.1}s",
            if schema_minor < minor {
                format!(" (the newest {VALIDATOR} {} has)", validator.version)
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64()
        ));
        failures.extend(
            problems
                .into_iter()
                .map(|problem| format!("{name} {version}: {problem}")),
        );
    }
    (failures, summary)
}

#[test]
fn every_compiled_file_of_every_example_passes_strict_schema_validation_on_every_version() {
    let started = Instant::now();
    let validator = validator();
    note(&format!(
        "{VALIDATOR} {} (newest schemas: 1.{}); Kubernetes v1.{OLDEST_MINOR}-v1.{NEWEST_MINOR}",
        validator.version, validator.newest_minor
    ));
    if validator.newest_minor < NEWEST_MINOR {
        note(&format!(
            "{VALIDATOR} {} has no schemas past 1.{}: v1.{}-v1.{NEWEST_MINOR} are validated against 1.{}",
            validator.version,
            validator.newest_minor,
            validator.newest_minor + 1,
            validator.newest_minor
        ));
    }
    let examples_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut examples: Vec<PathBuf> = std::fs::read_dir(&examples_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    examples.sort();
    assert!(!examples.is_empty(), "no examples in {examples_dir:?}");
    let results: Vec<(Vec<String>, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = examples
            .iter()
            .map(|example| scope.spawn(|| check_example(example, &validator)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut failures = Vec::new();
    for (problems, summary) in results {
        for line in summary {
            note(&line);
        }
        failures.extend(problems);
    }
    note(&format!(
        "{} examples x {} versions in {:.1}s",
        examples.len(),
        NEWEST_MINOR - OLDEST_MINOR + 1,
        started.elapsed().as_secs_f64()
    ));
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
