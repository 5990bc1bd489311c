//! `kcompile plan --roots`: a SAN change, an extraArg change, a minor upgrade and a new etcd member
//! each give the expected waves (phase and hosts, in order) and restarts per host, in the JSON
//! form (`formatVersion` 1); the text form names the same waves; errors exit 2 with a hint.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// Three control planes with etcd (and `m4` with `fourth`) and a worker; `extra` goes right after
/// `pki.keyAlgorithm` (indented under `pki:`, or at the top level).
fn spec(version: &str, extra: &str, fourth: bool) -> String {
    let mut hosts = String::new();
    for (name, address) in [("m1", "10.0.0.1"), ("m2", "10.0.0.2"), ("m3", "10.0.0.3")] {
        hosts.push_str(&format!(
            "  - name: {name}\n    address: {address}\n    roles: [control-plane, etcd]\n"
        ));
    }
    if fourth {
        hosts.push_str("  - name: m4\n    address: 10.0.0.4\n    roles: [control-plane, etcd]\n");
    }
    hosts.push_str("  - name: w1\n    address: 10.0.1.1\n    roles: [worker]\n");
    format!(
        "apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: plan
kubernetesVersion: {version}
controlPlaneEndpoint:
  host: 10.0.0.100
  port: 6443
pki:
  keyAlgorithm: ECDSA-P256
{extra}hosts:
{hosts}"
    )
}

fn kcompile(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kcompile")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// A built cluster whose hosts' roots are `out/<host>/`.
fn built() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    fs::write(temp.path().join("cluster.yaml"), spec("v1.36.3", "", false)).unwrap();
    let out = kcompile(temp.path(), &["build", "--all", "--out", "out"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    temp
}

/// The plan for `text` as the spec, as JSON; it must exit 1 (waves to roll out).
fn plan(dir: &Path, text: &str) -> Value {
    fs::write(dir.join("cluster.yaml"), text).unwrap();
    let out = kcompile(dir, &["plan", "--roots", "out", "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["formatVersion"], 1);
    // The text form names the same waves.
    let text_out = kcompile(dir, &["plan", "--roots", "out"]);
    let text_form = String::from_utf8_lossy(&text_out.stdout);
    for (index, wave) in plan["waves"].as_array().unwrap().iter().enumerate() {
        let hosts: Vec<&str> = wave["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|host| host["host"].as_str().unwrap())
            .collect();
        let line = format!("wave {}: ", index + 1);
        assert!(
            text_form
                .lines()
                .any(|l| l.starts_with(&line) && l.ends_with(&hosts.join(", "))),
            "no `{line}… {hosts:?}` in:\n{text_form}"
        );
    }
    plan
}

/// (phase, hosts) of every wave.
fn waves(plan: &Value) -> Vec<(String, Vec<String>)> {
    plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|wave| {
            (
                wave["phase"].as_str().unwrap().to_owned(),
                wave["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|host| host["host"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn expect_waves(plan: &Value, want: &[(&str, &[&str])]) {
    let want: Vec<(String, Vec<String>)> = want
        .iter()
        .map(|(phase, hosts)| {
            (
                (*phase).to_owned(),
                hosts.iter().map(|host| (*host).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(waves(plan), want, "{plan:#}");
}

/// The components that restart in wave `index` on its (first) host.
fn restarts(plan: &Value, index: usize) -> Vec<String> {
    plan["waves"][index]["hosts"][0]["restarts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|restart| restart["component"].as_str().unwrap().to_owned())
        .collect()
}

fn commands(plan: &Value, index: usize, when: &str) -> String {
    plan["waves"][index][when]
        .as_array()
        .unwrap()
        .iter()
        .map(|command| command.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_san_change_restarts_the_apiservers_one_by_one() {
    let temp = built();
    let plan = plan(
        temp.path(),
        &spec(
            "v1.36.3",
            "  apiServerCertSANs: [api.plan.example.com]\n",
            false,
        ),
    );
    expect_waves(
        &plan,
        &[
            ("api-server", &["m1"]),
            ("api-server", &["m2"]),
            ("api-server", &["m3"]),
        ],
    );
    for index in 0..3 {
        assert_eq!(restarts(&plan, index), ["kube-apiserver"]);
        assert!(commands(&plan, index, "after").contains("/readyz"));
    }
    assert_eq!(plan["manifestOnly"], serde_json::json!(["w1"]));
}

#[test]
fn an_extra_arg_of_the_scheduler_rolls_only_the_schedulers() {
    let temp = built();
    let plan = plan(
        temp.path(),
        &spec("v1.36.3", "scheduler:\n  extraArgs:\n    v: \"4\"\n", false),
    );
    expect_waves(
        &plan,
        &[
            ("controllers", &["m1"]),
            ("controllers", &["m2"]),
            ("controllers", &["m3"]),
        ],
    );
    for index in 0..3 {
        assert_eq!(restarts(&plan, index), ["kube-scheduler"]);
    }
    assert_eq!(plan["manifestOnly"], serde_json::json!(["w1"]));
}

#[test]
fn a_minor_upgrade_rolls_etcd_apiservers_controllers_then_kubelets() {
    let temp = built();
    let plan = plan(temp.path(), &spec("v1.37.1", "", false));
    expect_waves(
        &plan,
        &[
            ("etcd", &["m1"]),
            ("etcd", &["m2"]),
            ("etcd", &["m3"]),
            ("api-server", &["m1"]),
            ("api-server", &["m2"]),
            ("api-server", &["m3"]),
            ("controllers", &["m1"]),
            ("controllers", &["m2"]),
            ("controllers", &["m3"]),
            ("node", &["m1"]),
            ("node", &["m2"]),
            ("node", &["m3"]),
            ("node", &["w1"]),
        ],
    );
    assert_eq!(restarts(&plan, 0), ["etcd"]);
    assert_eq!(restarts(&plan, 3), ["kube-apiserver"]);
    assert_eq!(
        restarts(&plan, 6),
        ["kube-controller-manager", "kube-scheduler"]
    );
    assert!(restarts(&plan, 9).contains(&"kube-proxy".to_owned()));
    assert!(commands(&plan, 0, "after").contains("etcdctl endpoint health --cluster"));
    assert!(commands(&plan, 9, "before").contains("install the kubelet of Kubernetes v1.37.1"));
    assert!(commands(&plan, 12, "before").contains("kubectl drain"));
    assert!(commands(&plan, 12, "after").contains("kubectl uncordon"));
}

#[test]
fn a_new_etcd_member_joins_first_then_every_apiserver_learns_it() {
    let temp = built();
    fs::create_dir(temp.path().join("out/m4")).unwrap();
    let plan = plan(temp.path(), &spec("v1.36.3", "", true));
    let waves = waves(&plan);
    assert_eq!(
        waves[0],
        ("etcd".to_owned(), vec!["m4".to_owned()]),
        "{plan:#}"
    );
    let before = commands(&plan, 0, "before");
    assert!(
        before.contains("member add m4 --peer-urls=https://10.0.0.4:2380 --learner"),
        "{before}"
    );
    assert!(commands(&plan, 0, "after").contains("kcompile etcd joined m4"));
    // The other members' etcd flags are kept: no etcd wave for them.
    assert!(
        !waves[1..].iter().any(|(phase, _)| phase == "etcd"),
        "{waves:?}"
    );
    for host in ["m1", "m2", "m3", "m4"] {
        assert!(
            waves.contains(&("api-server".to_owned(), vec![host.to_owned()])),
            "no apiserver wave for {host}: {waves:?}"
        );
    }
    // Nothing was recorded: the plan is a preview.
    let status = kcompile(temp.path(), &["etcd", "status"]);
    assert!(!String::from_utf8_lossy(&status.stdout).contains("m4"));
}

#[test]
fn a_missing_root_is_an_error_with_a_hint() {
    let temp = built();
    fs::write(temp.path().join("cluster.yaml"), spec("v1.36.3", "", true)).unwrap();
    let out = kcompile(temp.path(), &["plan", "--roots", "out"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: there is no root for host `m4`: `out/m4` is not a directory"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: fetch each host's files to DIR/<host>/"),
        "{stderr}"
    );
    let out = kcompile(temp.path(), &["plan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--roots <DIR>"));
}

/// Every 8-byte window of every secret the state holds (keys, generated secrets).
fn secret_windows(state: &Path) -> Vec<(String, Vec<u8>)> {
    let mut windows = Vec::new();
    for entry in walkdir::WalkDir::new(state) {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = path.to_string_lossy().into_owned();
        let secret = name.ends_with(".key") || name.contains("/secrets/");
        if !entry.file_type().is_file() || !secret {
            continue;
        }
        let bytes = fs::read(path).unwrap();
        // PEM: the base64 body only (the armor lines are not secret); the etcd token without its
        // fixed `kcompile-` prefix.
        let body: Vec<u8> = String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .map(|line| line.trim_start_matches("kcompile-"))
            .collect::<String>()
            .into_bytes();
        for window in body.windows(8) {
            windows.push((name.clone(), window.to_vec()));
        }
    }
    assert!(!windows.is_empty(), "the state holds secrets");
    windows
}

#[test]
fn no_secret_appears_in_the_plan_or_the_etcd_steps() {
    let temp = built();
    let dir = temp.path();
    fs::create_dir(dir.join("out/m4")).unwrap();
    fs::write(dir.join("cluster.yaml"), spec("v1.37.1", "", true)).unwrap();
    let mut outputs = Vec::new();
    for args in [
        &["plan", "--roots", "out"][..],
        &["plan", "--roots", "out", "-o", "json"],
        &["build", "--all", "--dry-run"],
        &["etcd", "status"],
    ] {
        let out = kcompile(dir, args);
        outputs.push((args.join(" "), [out.stdout, out.stderr].concat()));
    }
    let windows: std::collections::HashMap<Vec<u8>, String> =
        secret_windows(&dir.join("cluster.state"))
            .into_iter()
            .map(|(secret, window)| (window, secret))
            .collect();
    for (label, output) in &outputs {
        for window in output.windows(8) {
            if let Some(secret) = windows.get(window) {
                panic!("`kcompile {label}` shows 8 bytes of {secret}");
            }
        }
    }
}
