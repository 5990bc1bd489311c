//! docs/hardening.md's claims against a hardened build: every CIS item the document says the
//! `hardened` profile (or every build) meets has a check here that reads the files a build writes,
//! on examples/single-node.yaml with `profiles: [hardened]`, once with `scheduler.config` (the
//! scheduler then runs with `--config` and ignores its deprecated flags) and once without. An item
//! the document claims that [`CHECKS`] does not check fails the test, and so does a check for an
//! item the document no longer claims.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::{self, Spec};
use serde_json::{Value, json};

const APISERVER: &str = "etc/kubernetes/manifests/kube-apiserver.yaml";
const CONTROLLER_MANAGER: &str = "etc/kubernetes/manifests/kube-controller-manager.yaml";
const SCHEDULER: &str = "etc/kubernetes/manifests/kube-scheduler.yaml";
const ETCD: &str = "etc/kubernetes/manifests/etcd.yaml";
const KUBELET_CONFIG: &str = "var/lib/kubelet/config.yaml";
const SCHEDULER_CONFIG: &str = "etc/kubernetes/scheduler-config.yaml";
const ENCRYPTION_CONFIG: &str = "etc/kubernetes/encryption-config.yaml";
const AUTHENTICATION_CONFIG: &str = "etc/kubernetes/authentication-config.yaml";

/// One host's files from a hardened build.
struct Build {
    root: PathBuf,
}

type Outcome = Result<(), String>;

/// A check of one item on a build.
type Check = fn(&Build) -> Outcome;

impl Build {
    fn text(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.root.join(path)).map_err(|e| format!("{path}: {e}"))
    }

    fn yaml(&self, path: &str) -> Result<Value, String> {
        serde_saphyr::from_str(&self.text(path)?).map_err(|e| format!("{path}: {e}"))
    }

    /// The `--name=value` flags of a static pod's command.
    fn flags(&self, manifest: &str) -> Result<BTreeMap<String, String>, String> {
        let pod = self.yaml(manifest)?;
        let command = pod["spec"]["containers"][0]["command"]
            .as_array()
            .ok_or(format!("{manifest}: no command"))?;
        Ok(command
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|arg| arg.strip_prefix("--"))
            .map(|arg| {
                let (name, value) = arg.split_once('=').unwrap_or((arg, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect())
    }

    fn flag(&self, manifest: &str, name: &str) -> Result<Option<String>, String> {
        Ok(self.flags(manifest)?.remove(name))
    }

    fn mode(&self, path: &str) -> Result<u32, String> {
        std::fs::metadata(self.root.join(path))
            .map(|m| m.permissions().mode() & 0o777)
            .map_err(|e| format!("{path}: {e}"))
    }
}

fn flag_is(b: &Build, manifest: &str, name: &str, expected: &str) -> Outcome {
    match b.flag(manifest, name)? {
        Some(value) if value == expected => Ok(()),
        other => Err(format!(
            "{manifest}: --{name} is {other:?}, not {expected:?}"
        )),
    }
}

fn flags_set(b: &Build, manifest: &str, names: &[&str]) -> Outcome {
    let flags = b.flags(manifest)?;
    for name in names {
        if flags.get(*name).is_none_or(String::is_empty) {
            return Err(format!("{manifest}: --{name} is not set"));
        }
    }
    Ok(())
}

fn flag_not(b: &Build, manifest: &str, name: &str, refused: &str) -> Outcome {
    match b.flag(manifest, name)? {
        Some(value) if value == refused => Err(format!("{manifest}: --{name}={value}")),
        _ => Ok(()),
    }
}

fn field_is(b: &Build, path: &str, pointer: &str, expected: &Value) -> Outcome {
    let document = b.yaml(path)?;
    match document.pointer(pointer) {
        Some(value) if value == expected => Ok(()),
        other => Err(format!("{path}: {pointer} is {other:?}, not {expected}")),
    }
}

fn field_set(b: &Build, path: &str, pointer: &str) -> Outcome {
    let document = b.yaml(path)?;
    match document.pointer(pointer) {
        Some(Value::String(text)) if !text.is_empty() => Ok(()),
        other => Err(format!("{path}: {pointer} is {other:?}")),
    }
}

fn mode_is(b: &Build, paths: &[&str], expected: u32) -> Outcome {
    for path in paths {
        let mode = b.mode(path)?;
        if mode != expected {
            return Err(format!("{path}: mode {mode:o}, not {expected:o}"));
        }
    }
    Ok(())
}

/// Every suite an ECDHE key exchange with an AEAD cipher.
fn strong_suites(suites: &[&str], what: &str) -> Outcome {
    if suites.is_empty() {
        return Err(format!("{what}: no cipher suites"));
    }
    match suites.iter().find(|suite| {
        !(suite.starts_with("TLS_ECDHE_")
            && (suite.contains("_GCM_") || suite.ends_with("CHACHA20_POLY1305")))
    }) {
        Some(weak) => Err(format!("{what}: {weak} is not ECDHE with an AEAD cipher")),
        None => Ok(()),
    }
}

fn flag_suites(b: &Build, manifest: &str, name: &str) -> Outcome {
    let value = b.flag(manifest, name)?.unwrap_or_default();
    let suites: Vec<&str> = value.split(',').filter(|s| !s.is_empty()).collect();
    strong_suites(&suites, &format!("{manifest} --{name}"))
}

/// What each item docs/hardening.md claims needs: the item as its table writes it, and the check.
const CHECKS: &[(&str, Check)] = &[
    ("1.2.1", |b| {
        flag_is(
            b,
            APISERVER,
            "authentication-config",
            "/etc/kubernetes/authentication-config.yaml",
        )?;
        flag_not(b, APISERVER, "anonymous-auth", "true")?;
        field_is(b, AUTHENTICATION_CONFIG, "/anonymous/enabled", &json!(true))?;
        field_is(
            b,
            AUTHENTICATION_CONFIG,
            "/anonymous/conditions",
            &json!([{"path": "/livez"}, {"path": "/readyz"}, {"path": "/healthz"}]),
        )
    }),
    ("1.2.2", |b| match b.flag(APISERVER, "token-auth-file")? {
        None => Ok(()),
        Some(value) => Err(format!("--token-auth-file={value}")),
    }),
    ("1.2.4", |b| {
        flags_set(
            b,
            APISERVER,
            &["kubelet-client-certificate", "kubelet-client-key"],
        )
    }),
    ("1.2.5", |b| {
        flag_is(
            b,
            APISERVER,
            "kubelet-certificate-authority",
            "/etc/kubernetes/pki/ca.crt",
        )
    }),
    ("1.2.6–1.2.8", |b| {
        let modes = b.flag(APISERVER, "authorization-mode")?.unwrap_or_default();
        let modes: Vec<&str> = modes.split(',').collect();
        if modes.contains(&"Node") && modes.contains(&"RBAC") && !modes.contains(&"AlwaysAllow") {
            Ok(())
        } else {
            Err(format!("--authorization-mode={}", modes.join(",")))
        }
    }),
    ("1.2.14", |b| {
        let plugins = b
            .flag(APISERVER, "enable-admission-plugins")?
            .unwrap_or_default();
        if plugins.split(',').any(|p| p == "NodeRestriction") {
            Ok(())
        } else {
            Err(format!("--enable-admission-plugins={plugins}"))
        }
    }),
    ("1.2.15", |b| flag_is(b, APISERVER, "profiling", "false")),
    ("1.2.16–1.2.19", |b| {
        flags_set(b, APISERVER, &["audit-log-path"])?;
        flag_is(b, APISERVER, "audit-log-maxage", "30")?;
        flag_is(b, APISERVER, "audit-log-maxbackup", "10")?;
        flag_is(b, APISERVER, "audit-log-maxsize", "100")
    }),
    ("1.2.21", |b| {
        flag_is(b, APISERVER, "service-account-lookup", "true")
    }),
    ("1.2.22", |b| {
        flags_set(b, APISERVER, &["service-account-key-file"])
    }),
    ("1.2.23", |b| {
        flags_set(b, APISERVER, &["etcd-certfile", "etcd-keyfile"])
    }),
    ("1.2.24", |b| {
        flags_set(b, APISERVER, &["tls-cert-file", "tls-private-key-file"])
    }),
    ("1.2.25", |b| flags_set(b, APISERVER, &["client-ca-file"])),
    ("1.2.26", |b| flags_set(b, APISERVER, &["etcd-cafile"])),
    ("1.2.27", |b| {
        flag_is(
            b,
            APISERVER,
            "encryption-provider-config",
            "/etc/kubernetes/encryption-config.yaml",
        )?;
        b.text(ENCRYPTION_CONFIG).map(drop)
    }),
    ("1.2.28", |b| {
        let config = b.yaml(ENCRYPTION_CONFIG)?;
        let providers = config["resources"][0]["providers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let first_is_secretbox = providers
            .first()
            .is_some_and(|p| p.get("secretbox").is_some());
        let last_is_identity = providers
            .last()
            .is_some_and(|p| p.get("identity").is_some());
        if first_is_secretbox && last_is_identity && providers.len() >= 2 {
            Ok(())
        } else {
            Err(format!("providers: {providers:?}"))
        }
    }),
    ("1.2.29", |b| {
        flag_is(b, APISERVER, "tls-min-version", "VersionTLS12")?;
        flag_suites(b, APISERVER, "tls-cipher-suites")
    }),
    ("1.3.1", |b| {
        flag_is(b, CONTROLLER_MANAGER, "terminated-pod-gc-threshold", "10")
    }),
    ("1.3.2", |b| {
        flag_is(b, CONTROLLER_MANAGER, "profiling", "false")
    }),
    ("1.3.3", |b| {
        flag_is(
            b,
            CONTROLLER_MANAGER,
            "use-service-account-credentials",
            "true",
        )
    }),
    ("1.3.4", |b| {
        flags_set(b, CONTROLLER_MANAGER, &["service-account-private-key-file"])
    }),
    ("1.3.5", |b| {
        flags_set(b, CONTROLLER_MANAGER, &["root-ca-file"])
    }),
    ("1.3.7", |b| {
        flag_is(b, CONTROLLER_MANAGER, "bind-address", "127.0.0.1")
    }),
    // kube-scheduler applies --profiling only without --config (options.go `ApplyTo`).
    ("1.4.1", |b| match b.flag(SCHEDULER, "config")? {
        Some(path) => {
            if path != format!("/{SCHEDULER_CONFIG}") {
                return Err(format!("--config={path}"));
            }
            field_is(b, SCHEDULER_CONFIG, "/enableProfiling", &json!(false))
        }
        None => flag_is(b, SCHEDULER, "profiling", "false"),
    }),
    ("1.4.2", |b| {
        flag_is(b, SCHEDULER, "bind-address", "127.0.0.1")
    }),
    ("2.1", |b| flags_set(b, ETCD, &["cert-file", "key-file"])),
    ("2.2", |b| flag_is(b, ETCD, "client-cert-auth", "true")),
    ("2.3", |b| flag_not(b, ETCD, "auto-tls", "true")),
    ("2.4", |b| {
        flags_set(b, ETCD, &["peer-cert-file", "peer-key-file"])
    }),
    ("2.5", |b| flag_is(b, ETCD, "peer-client-cert-auth", "true")),
    ("2.6", |b| flag_not(b, ETCD, "peer-auto-tls", "true")),
    ("2.7", |b| {
        flag_is(
            b,
            ETCD,
            "trusted-ca-file",
            "/etc/kubernetes/pki/etcd/ca.crt",
        )?;
        flag_is(
            b,
            ETCD,
            "peer-trusted-ca-file",
            "/etc/kubernetes/pki/etcd/ca.crt",
        )?;
        if b.text("etc/kubernetes/pki/etcd/ca.crt")? == b.text("etc/kubernetes/pki/ca.crt")? {
            return Err("etcd/ca.crt is the cluster CA".into());
        }
        if b.root.join("etc/kubernetes/pki/etcd/ca.key").exists() {
            Err("etcd/ca.key is on the host".into())
        } else {
            Ok(())
        }
    }),
    // etcd's strong ciphers: no CIS item number.
    ("–", |b| flag_suites(b, ETCD, "cipher-suites")),
    ("1.1.1, 1.1.3, 1.1.5, 1.1.7", |b| {
        mode_is(b, &[APISERVER, CONTROLLER_MANAGER, SCHEDULER, ETCD], 0o600)
    }),
    ("1.1.13", |b| {
        mode_is(
            b,
            &[
                "etc/kubernetes/admin.conf",
                "etc/kubernetes/super-admin.conf",
            ],
            0o600,
        )
    }),
    ("1.1.15", |b| {
        mode_is(b, &["etc/kubernetes/scheduler.conf"], 0o600)
    }),
    ("1.1.17", |b| {
        mode_is(b, &["etc/kubernetes/controller-manager.conf"], 0o600)
    }),
    ("1.1.21", |b| {
        let keys: Vec<String> = walkdir::WalkDir::new(b.root.join("etc/kubernetes/pki"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "key"))
            .map(|e| {
                e.path()
                    .strip_prefix(&b.root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        if keys.len() < 5 {
            return Err(format!("only {} key files", keys.len()));
        }
        // Under `rootless` (on in the hardened profile) the service-account key, which the
        // apiserver and the controller-manager both read, is root's with the shared group, 0640.
        let (shared, own): (Vec<&str>, Vec<&str>) = keys
            .iter()
            .map(String::as_str)
            .partition(|key| key.ends_with("/sa.key") || key.ends_with("/sa-next.key"));
        mode_is(b, &own, 0o600)?;
        mode_is(b, &shared, 0o640)?;
        for key in shared {
            let meta = std::fs::metadata(b.root.join(key)).map_err(|e| e.to_string())?;
            if (meta.uid(), meta.gid()) != (0, 64100) {
                return Err(format!(
                    "{key}: owner {}:{}, not 0:64100 (root, the shared group)",
                    meta.uid(),
                    meta.gid()
                ));
            }
        }
        Ok(())
    }),
    ("4.1.5", |b| {
        mode_is(b, &["etc/kubernetes/kubelet.conf"], 0o600)
    }),
    ("4.2.1", |b| {
        field_is(
            b,
            KUBELET_CONFIG,
            "/authentication/anonymous/enabled",
            &json!(false),
        )
    }),
    ("4.2.2", |b| {
        field_is(b, KUBELET_CONFIG, "/authorization/mode", &json!("Webhook"))
    }),
    ("4.2.3", |b| {
        field_set(b, KUBELET_CONFIG, "/authentication/x509/clientCAFile")
    }),
    ("4.2.4", |b| {
        field_is(b, KUBELET_CONFIG, "/readOnlyPort", &json!(0))
    }),
    ("4.2.5", |b| {
        match b
            .yaml(KUBELET_CONFIG)?
            .get("streamingConnectionIdleTimeout")
        {
            None => Ok(()),
            Some(value) if value != "0" && value != "0s" => Ok(()),
            Some(value) => Err(format!("streamingConnectionIdleTimeout: {value}")),
        }
    }),
    ("4.2.6", |b| {
        field_is(b, KUBELET_CONFIG, "/protectKernelDefaults", &json!(true))
    }),
    ("4.2.7", |b| {
        field_is(b, KUBELET_CONFIG, "/makeIPTablesUtilChains", &json!(true))
    }),
    ("4.2.9", |b| {
        field_is(b, KUBELET_CONFIG, "/eventRecordQPS", &json!(5))
    }),
    ("4.2.10", |b| {
        field_set(b, KUBELET_CONFIG, "/tlsCertFile")?;
        field_set(b, KUBELET_CONFIG, "/tlsPrivateKeyFile")
    }),
    ("4.2.11", |b| {
        field_is(b, KUBELET_CONFIG, "/rotateCertificates", &json!(true))
    }),
    ("4.2.13", |b| {
        field_is(b, KUBELET_CONFIG, "/tlsMinVersion", &json!("VersionTLS12"))?;
        let config = b.yaml(KUBELET_CONFIG)?;
        let suites: Vec<&str> = config["tlsCipherSuites"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        strong_suites(&suites, "tlsCipherSuites")
    }),
    ("4.2.14", |b| {
        field_is(b, KUBELET_CONFIG, "/podPidsLimit", &json!(4096))
    }),
];

/// The items docs/hardening.md claims: the first cell of every table row whose third cell says
/// "always" or "hardened".
fn claimed_items() -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/hardening.md")).unwrap();
    doc.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.strip_prefix('|')?.split('|').map(str::trim).collect();
            let how = cells.get(2)?;
            (how.starts_with("always") || how.starts_with("hardened")).then(|| cells[0].to_owned())
        })
        .collect()
}

fn hardened_build(dir: &Path, with_scheduler_config: bool) -> Build {
    let mut spec = Spec::example("single-node").set_yaml("profiles", "[hardened]");
    if !with_scheduler_config {
        spec = spec.remove("scheduler");
    }
    std::fs::write(dir.join("cluster.yaml"), spec.yaml()).unwrap();
    common::kcompile(dir)
        .args(["build", "--host", "node01", "--out", "root"])
        .assert()
        .success();
    Build {
        root: dir.join("root"),
    }
}

#[test]
fn every_item_docs_hardening_claims_has_a_check() {
    let claimed = claimed_items();
    assert!(
        claimed.len() >= 40,
        "read {} claims from docs/hardening.md",
        claimed.len()
    );
    let checked: Vec<&str> = CHECKS.iter().map(|(item, _)| *item).collect();
    let unchecked: Vec<&String> = claimed
        .iter()
        .filter(|item| !checked.contains(&item.as_str()))
        .collect();
    assert!(
        unchecked.is_empty(),
        "docs/hardening.md claims items tests/hardening.rs does not check: {unchecked:?}"
    );
    let unclaimed: Vec<&&str> = checked
        .iter()
        .filter(|item| !claimed.iter().any(|c| c == *item))
        .collect();
    assert!(
        unclaimed.is_empty(),
        "checks for items docs/hardening.md does not claim: {unclaimed:?}"
    );
    let mut unique = checked.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), checked.len(), "an item is checked twice");
}

#[test]
fn a_hardened_build_meets_every_claim_with_and_without_a_scheduler_config() {
    for with_scheduler_config in [true, false] {
        let temp = tempfile::tempdir().unwrap();
        let build = hardened_build(temp.path(), with_scheduler_config);
        assert_eq!(
            build.flag(SCHEDULER, "config").unwrap().is_some(),
            with_scheduler_config,
            "the scheduler runs with --config exactly when the spec configures it"
        );
        let failures: Vec<String> = CHECKS
            .iter()
            .filter_map(|(item, check)| check(&build).err().map(|why| format!("{item}: {why}")))
            .collect();
        assert!(
            failures.is_empty(),
            "scheduler.config {with_scheduler_config}: docs/hardening.md claims what the build does not do:\n{}",
            failures.join("\n")
        );
    }
}

#[test]
fn the_scheduler_config_carries_the_deprecated_flags_it_makes_the_scheduler_ignore() {
    let temp = tempfile::tempdir().unwrap();
    let spec = Spec::example("single-node").set_yaml(
        "scheduler.extraArgs",
        "{ profiling: \"false\", contention-profiling: \"true\", kube-api-qps: \"75.5\", \
           kube-api-burst: \"150\", kube-api-content-type: application/json }",
    );
    std::fs::write(temp.path().join("cluster.yaml"), spec.yaml()).unwrap();
    common::kcompile(temp.path())
        .args(["build", "--host", "node01", "--out", "root"])
        .assert()
        .success();
    let build = Build {
        root: temp.path().join("root"),
    };
    let config = build.yaml(SCHEDULER_CONFIG).unwrap();
    assert_eq!(config["enableProfiling"], json!(false));
    assert_eq!(config["enableContentionProfiling"], json!(true));
    assert_eq!(config["clientConnection"]["qps"], json!(75.5));
    assert_eq!(config["clientConnection"]["burst"], json!(150));
    assert_eq!(
        config["clientConnection"]["contentType"],
        json!("application/json")
    );
    assert_eq!(
        config["clientConnection"]["kubeconfig"],
        json!("/etc/kubernetes/scheduler.conf")
    );
    assert_eq!(
        config["percentageOfNodesToScore"],
        json!(100),
        "the spec's fields still apply"
    );
}
