//! `kcompile plan --roots`: a SAN change, an extraArg change, a minor upgrade and a new etcd member
//! each give the expected waves (phase and hosts, in order) and restarts per host, in the JSON
//! form (`formatVersion` 1); the text form names the same waves; errors exit 2 with a hint.
//! `kcompile plan` without `--roots` compares with each host's last build as the state records it
//! (every build records it, previews never do), gives the same waves, and names a host never
//! built as such. The JSON form's fields and their order are pinned as docs/operations.md
//! documents them.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::run_kcompile as kcompile;

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
    plan_with(dir, text, &["--roots", "out"])
}

/// The plan for `text` as the spec with `source` (`--roots DIR`, or nothing: the state's record
/// of the last build), as JSON; it must exit 1 (waves to roll out).
fn plan_with(dir: &Path, text: &str, source: &[&str]) -> Value {
    fs::write(dir.join("cluster.yaml"), text).unwrap();
    let json = [&["plan"][..], source, &["-o", "json"]].concat();
    let out = kcompile(dir, &json);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["formatVersion"], 1);
    // The text form names the same waves.
    let text_out = kcompile(dir, &[&["plan"][..], source].concat());
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
        // fixed `kcompile-` prefix; the bootstrap token without its expiry (a time of day the
        // plan's `recorded` times share).
        let body: Vec<u8> = String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| !line.starts_with("-----") && !line.starts_with("expiration: "))
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
        &["plan"],
        &["plan", "-o", "json"],
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

/// Every file under `dir` with its contents, to show a preview wrote nothing.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            (
                entry.path().display().to_string(),
                fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

/// `compared` of a plan: (host, against).
fn compared(plan: &Value) -> Vec<(String, String)> {
    plan["compared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["host"].as_str().unwrap().to_owned(),
                entry["against"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn without_roots_each_host_is_compared_with_its_last_build_in_the_state() {
    let temp = built();
    let dir = temp.path();
    let san = spec(
        "v1.36.3",
        "  apiServerCertSANs: [api.plan.example.com]\n",
        false,
    );
    // A preview: neither form writes the state.
    let before = snapshot(&dir.join("cluster.state"));
    let from_state = plan_with(dir, &san, &[]);
    assert_eq!(snapshot(&dir.join("cluster.state")), before);
    let from_roots = plan(dir, &san);
    assert_eq!(waves(&from_state), waves(&from_roots));
    for index in 0..3 {
        assert_eq!(restarts(&from_state, index), ["kube-apiserver"]);
    }
    assert_eq!(from_state["manifestOnly"], serde_json::json!(["w1"]));
    let hosts = ["m1", "m2", "m3", "w1"];
    assert_eq!(
        compared(&from_state),
        hosts.map(|host| (host.to_owned(), "last-build".to_owned()))
    );
    assert!(
        from_state["compared"][0]["since"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        compared(&from_roots),
        hosts.map(|host| (host.to_owned(), "root".to_owned()))
    );
    assert_eq!(from_roots["compared"][0]["path"], "out/m1");
    let text = kcompile(dir, &["plan"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("compared with their last build as the state records it: m1 (recorded "),
        "{text}"
    );
    // A build of the new spec is recorded: the plan has nothing left to roll out.
    let out = kcompile(dir, &["build", "--all", "--out", "out"]);
    assert!(out.status.success());
    let again = kcompile(dir, &["plan"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to roll out"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn a_host_never_built_is_named_and_everything_on_it_is_new() {
    let temp = built();
    let dir = temp.path();
    let plan = plan_with(dir, &spec("v1.36.3", "", true), &[]);
    assert_eq!(
        compared(&plan)[3],
        ("m4".to_owned(), "never-built".to_owned())
    );
    assert_eq!(waves(&plan)[0], ("etcd".to_owned(), vec!["m4".to_owned()]));
    assert!(commands(&plan, 0, "before").contains("member add m4"));
    // Every file m4 gets is added, none changed.
    let actions: Vec<&str> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|wave| wave["hosts"].as_array().unwrap())
        .filter(|host| host["host"] == "m4")
        .flat_map(|host| host["files"].as_array().unwrap())
        .map(|file| file["action"].as_str().unwrap())
        .collect();
    assert!(actions.len() > 10, "{actions:?}");
    assert!(actions.iter().all(|action| *action == "add"), "{actions:?}");
    let text = kcompile(dir, &["plan"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("never built (the state records no build of them; every file is new): m4\n"),
        "{text}"
    );
}

#[test]
fn every_build_records_what_it_built_and_a_dry_run_does_not() {
    let temp = built();
    let dir = temp.path();
    let recorded = |host: &str| {
        fs::read(dir.join(format!("cluster.state/built/{host}/MANIFEST"))).unwrap_or_default()
    };
    let m1 = recorded("m1");
    assert_eq!(
        m1,
        fs::read(dir.join("out/m1/etc/kubernetes/kcompile/MANIFEST")).unwrap()
    );
    let list = kcompile(dir, &["state", "list"]);
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("built-manifest"),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
    fs::write(dir.join("cluster.yaml"), spec("v1.36.3", "", true)).unwrap();
    let dry = kcompile(dir, &["build", "--all", "--dry-run"]);
    assert!(dry.status.success());
    assert!(recorded("m4").is_empty());
    // `build --host` to a tar records that host only.
    let tar = kcompile(dir, &["build", "--host", "m4"]);
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    assert!(!recorded("m4").is_empty());
    assert_eq!(recorded("m1"), m1);
    let plan = plan_with(dir, &spec("v1.36.3", "", true), &[]);
    assert_eq!(
        compared(&plan)[3],
        ("m4".to_owned(), "last-build".to_owned())
    );
    // A record that was tampered with is an error naming it, never silently replaced.
    fs::write(dir.join("cluster.state/built/m2/MANIFEST"), b"changed\n").unwrap();
    let out = kcompile(dir, &["plan"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("`built/m2/MANIFEST` (built-manifest, recorded "),
        "{stderr}"
    );
    assert!(stderr.contains("is not what was recorded"), "{stderr}");
}

/// The keys of a JSON object, in order.
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn the_json_form_keeps_its_documented_fields_in_order() {
    let temp = built();
    let plan = plan_with(temp.path(), &spec("v1.37.1", "", true), &[]);
    assert_eq!(
        keys(&plan),
        [
            "formatVersion",
            "compared",
            "waves",
            "manifestOnly",
            "unchanged",
            "warnings"
        ]
    );
    assert_eq!(keys(&plan["compared"][0]), ["host", "against", "since"]);
    assert_eq!(keys(&plan["compared"][3]), ["host", "against"]);
    let wave = &plan["waves"][0];
    assert_eq!(keys(wave), ["phase", "hosts", "before", "after"]);
    assert_eq!(keys(&wave["hosts"][0]), ["host", "files", "restarts"]);
    assert_eq!(keys(&wave["hosts"][0]["files"][0]), ["path", "action"]);
    assert_eq!(
        keys(&wave["hosts"][0]["restarts"][0]),
        ["component", "reason"]
    );
    let phases: std::collections::BTreeSet<&str> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|wave| wave["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["api-server", "controllers", "etcd", "node"].into());
}
