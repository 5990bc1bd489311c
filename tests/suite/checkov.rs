//! checkov's Kubernetes checks on the hardened static pods of every example: each example is
//! built with `profiles: [kubeadm, hardened]` for all its hosts, checkov 3.3.30
//! (`.ci/install-checkov.sh`) runs on every `etc/kubernetes/manifests/*.yaml`, and every failed
//! check must be listed, for that manifest, in docs/hardening.md ("What checkov still finds"),
//! and every listed one must still occur. No skip annotation or flag hides a check.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{self, Spec};

/// (check id, manifest file name) pairs: what checkov found, or what the document lists.
type Findings = BTreeSet<(String, String)>;

/// The rows of docs/hardening.md's checkov table.
fn documented() -> Findings {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/hardening.md")).unwrap();
    let section = doc
        .split_once("## What checkov still finds")
        .expect("docs/hardening.md has a checkov section")
        .1;
    let mut listed = Findings::new();
    for line in section.lines() {
        let cells: Vec<&str> = match line.strip_prefix('|') {
            Some(rest) => rest.split('|').map(str::trim).collect(),
            None => continue,
        };
        if cells.len() < 3 || !cells[0].starts_with("CKV") {
            continue;
        }
        assert!(!cells[2].is_empty(), "{}: no reason given", cells[0]);
        for manifest in cells[1].split(", ") {
            listed.insert((cells[0].to_owned(), manifest.to_owned()));
        }
    }
    listed
}

#[test]
fn checkov_finds_only_the_documented_checks_on_hardened_manifests() {
    let version = Command::new("checkov")
        .arg("--version")
        .output()
        .expect("checkov is missing: run `sudo bash .ci/install-checkov.sh`");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        "3.3.30",
        "checkov 3.3.30 is pinned: run `sudo bash .ci/install-checkov.sh`"
    );
    // checkov skips hidden directories, and tempfile's default names start with a dot.
    let temp = tempfile::Builder::new()
        .prefix("kcompile-checkov-")
        .tempdir()
        .unwrap();
    let manifests = temp.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<_> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "examples: {names:?}");
    let mut count = 0;
    for example in &names {
        let stem = example.file_stem().unwrap().to_string_lossy().into_owned();
        let hardened = Spec::example(&stem)
            .set("profiles", ["kubeadm", "hardened"])
            .yaml();
        let dir = temp.path().join(&stem);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("cluster.yaml"), hardened).unwrap();
        common::kcompile(&dir)
            .args(["build", "-f", "cluster.yaml", "--state", "st", "--all"])
            .args(["--out", "out"])
            .assert()
            .success();
        for host in std::fs::read_dir(dir.join("out")).unwrap() {
            let host = host.unwrap();
            let pods = host.path().join("etc/kubernetes/manifests");
            for pod in std::fs::read_dir(&pods).unwrap() {
                let pod = pod.unwrap();
                let text = std::fs::read_to_string(pod.path()).unwrap();
                assert!(
                    !text.contains("checkov"),
                    "{:?}: a checkov annotation",
                    pod.path()
                );
                let name = format!(
                    "{stem}__{}__{}",
                    host.file_name().to_string_lossy(),
                    pod.file_name().to_string_lossy()
                );
                std::fs::write(manifests.join(name), text).unwrap();
                count += 1;
            }
        }
    }
    let out = Command::new("checkov")
        .args(["--framework", "kubernetes", "--quiet", "-o", "json", "-d"])
        .arg(&manifests)
        .output()
        .unwrap();
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov's output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // One report per framework that found files: a list, or the report itself.
    let report = match &reports {
        Value::Array(all) => all
            .iter()
            .find(|r| r["check_type"] == "kubernetes")
            .expect("a kubernetes report"),
        one => one,
    };
    let summary = &report["summary"];
    eprintln!(
        "checkov on {count} hardened manifests: {} passed, {} failed",
        summary["passed"], summary["failed"]
    );
    assert_eq!(summary["parsing_errors"], 0, "{summary}");
    assert!(summary["passed"].as_u64().unwrap() > 0, "{summary}");
    let mut found = Findings::new();
    for check in report["results"]["failed_checks"].as_array().unwrap() {
        let path = check["file_path"].as_str().unwrap();
        let manifest = path.rsplit("__").next().unwrap().to_owned();
        found.insert((check["check_id"].as_str().unwrap().to_owned(), manifest));
    }
    let listed = documented();
    let undocumented: Vec<_> = found.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&found).collect();
    assert!(
        undocumented.is_empty(),
        "checkov findings docs/hardening.md does not list: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/hardening.md lists findings checkov no longer makes: {stale:?}"
    );
}
