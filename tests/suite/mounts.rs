//! Every absolute path a static pod's flags name is visible in its container: it resolves through
//! a volumeMount to a hostPath, and from there to a file the host's bundle contains, or to a data
//! directory the component creates (etcd's data dir, the audit log directory), or to a file the
//! spec says the operator places (an external etcd's certificates). Checked for every pod of
//! every host of every example.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common;
use serde_json::Value;

fn build(example: &Path, dir: &Path) {
    common::kcompile(dir)
        .arg("build")
        .arg("-f")
        .arg(example)
        .args(["--state", "st", "--all", "--out", "out"])
        .assert()
        .success();
}

/// Paths in a flag value: `/a/b`, or each path of a comma- or `=`-separated list.
fn paths(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(|part| part.rsplit_once('=').map_or(part, |(_, v)| v))
        .filter(|part| part.starts_with('/'))
        .collect()
}

fn under(path: &str, dir: &str) -> Option<String> {
    let dir = dir.trim_end_matches('/');
    if path == dir {
        Some(String::new())
    } else {
        path.strip_prefix(dir)
            .filter(|rest| rest.starts_with('/'))
            .map(str::to_owned)
    }
}

#[test]
fn every_flag_path_is_mounted_and_provided() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let example = entry.unwrap().path();
        if example.extension().is_none_or(|ext| ext != "yaml") {
            continue;
        }
        let spec = std::fs::read_to_string(&example).unwrap();
        // Files an external etcd's spec tells the operator to place.
        let placed: BTreeSet<&str> = spec
            .lines()
            .filter_map(|line| {
                line.trim()
                    .strip_prefix("caFile: ")
                    .or_else(|| line.trim().strip_prefix("certFile: "))
                    .or_else(|| line.trim().strip_prefix("keyFile: "))
            })
            .map(|value| value.split_whitespace().next().unwrap_or_default())
            .collect();
        let temp = tempfile::tempdir().unwrap();
        build(&example, temp.path());
        for host in std::fs::read_dir(temp.path().join("out")).unwrap() {
            let host = host.unwrap().path();
            let manifests = host.join("etc/kubernetes/manifests");
            for manifest in std::fs::read_dir(&manifests).unwrap() {
                let manifest = manifest.unwrap().path();
                let text = std::fs::read_to_string(&manifest).unwrap();
                let pod: Value = serde_saphyr::from_str(&text).unwrap();
                let spec = &pod["spec"];
                let container = &spec["containers"][0];
                let mounts = container["volumeMounts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
                let data_dirs: Vec<String> = volumes
                    .iter()
                    .filter(|v| v["hostPath"]["type"] == "DirectoryOrCreate")
                    .filter_map(|v| v["hostPath"]["path"].as_str().map(str::to_owned))
                    .collect();
                // Load-balancer pods run their image's entrypoint and may have only `args`.
                let command = container["command"]
                    .as_array()
                    .into_iter()
                    .chain(container["args"].as_array())
                    .flatten();
                for arg in command.filter_map(Value::as_str) {
                    let Some(value) = arg
                        .strip_prefix("--")
                        .and_then(|a| a.split_once('='))
                        .map(|(_, v)| v)
                    else {
                        continue;
                    };
                    for path in paths(value) {
                        checked += 1;
                        let what = format!(
                            "{}: {}: {arg}: {path}",
                            host.file_name().unwrap().to_string_lossy(),
                            manifest.file_name().unwrap().to_string_lossy()
                        );
                        let Some((mount, rest)) = mounts.iter().find_map(|m| {
                            under(path, m["mountPath"].as_str().unwrap()).map(|rest| (m, rest))
                        }) else {
                            problems.push(format!("{what}: no volumeMount covers it"));
                            continue;
                        };
                        let volume = volumes
                            .iter()
                            .find(|v| v["name"] == mount["name"])
                            .expect("mount has a volume");
                        let host_path =
                            format!("{}{rest}", volume["hostPath"]["path"].as_str().unwrap());
                        let in_bundle = host.join(host_path.trim_start_matches('/'));
                        let is_data_dir =
                            data_dirs.iter().any(|dir| under(&host_path, dir).is_some())
                                && (arg.starts_with("--data-dir")
                                    || arg.starts_with("--audit-log-path"));
                        if !(in_bundle.is_file()
                            || is_data_dir
                            || placed.contains(host_path.as_str()))
                        {
                            problems.push(format!(
                                "{what}: host path {host_path} is not in the bundle"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} paths checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
