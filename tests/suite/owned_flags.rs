//! Every flag kcompile puts on a component's command line was decided on: either kcompile owns it
//! (`Component::owned_flag_hint`, so `extraArgs` refuses it with a hint) or it is a default a user
//! may deliberately replace (`Component::overridable_default`, each with its reason). Every example
//! is built with the user's own `extraArgs` removed, as it is, hardened (rootless), and with every
//! switch that adds a flag turned (no kube-proxy, anonymous auth off, a scheduler config, taints,
//! an etcd before 3.6); a flag rendered without a decision fails here.

use std::collections::BTreeSet;
use std::path::Path;

use kcompile::component::Component;
use serde_json::Value;

use crate::common::{self, Spec};

/// The spec keys whose `extraArgs` are the user's own flags.
const SPEC_KEYS: [&str; 5] = [
    "etcd",
    "apiServer",
    "controllerManager",
    "scheduler",
    "kubeProxy",
];

/// `spec` without any `extraArgs` of its own (profiles still add theirs).
fn without_extra_args(mut spec: Spec) -> Spec {
    for key in SPEC_KEYS.iter().chain(["kubelet"].iter()) {
        let path = format!("{key}.extraArgs");
        if spec.get(&path).is_some() {
            spec = spec.remove(&path);
        }
    }
    let hosts = spec
        .get("hosts")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for host in 0..hosts {
        for key in SPEC_KEYS.iter().chain(["kubelet"].iter()) {
            let path = format!("hosts.{host}.overrides.{key}.extraArgs");
            if spec.get(&path).is_some() {
                spec = spec.remove(&path);
            }
        }
    }
    spec
}

/// The variants of one example the test builds.
fn variants(example: &str) -> Vec<(String, Spec)> {
    let plain = without_extra_args(Spec::example(example));
    let hardened = plain.clone().set("profiles", ["kubeadm", "hardened"]);
    let mut switched = plain
        .clone()
        .set("kubeProxy.enabled", false)
        .set("apiServer.anonymousAuth", "disabled")
        .set_yaml("scheduler.config", "{ percentageOfNodesToScore: 50 }")
        .set_yaml(
            "hosts.0.taints",
            "[{ key: dedicated, value: infra, effect: NoSchedule }]",
        );
    if switched.get("kubeProxy.mode").is_some() {
        switched = switched.remove("kubeProxy.mode");
    }
    let old_etcd = plain
        .clone()
        .set("kubernetesVersion", "v1.33.0")
        .set("profiles", ["kubeadm"]);
    vec![
        (example.to_owned(), plain),
        (format!("{example} hardened"), hardened),
        (format!("{example} switched"), switched),
        (format!("{example} on v1.33"), old_etcd),
    ]
}

/// The component a rendered static pod or unit runs, by the file it is in.
fn component_of(path: &Path) -> Option<Component> {
    let name = path.file_name()?.to_str()?;
    if name == "kubelet.service" {
        return Some(Component::Kubelet);
    }
    let stem = name.strip_suffix(".yaml")?;
    Component::ALL
        .into_iter()
        .find(|component| component.binary() == stem)
}

/// The flag names on the command line in a static pod manifest or the kubelet unit.
fn flag_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let flag = line
                .strip_prefix("- --")
                .or_else(|| line.strip_prefix("--"))?;
            let name = flag.split(['=', ' ']).next()?;
            Some(name.to_owned())
        })
        .collect()
}

/// Every (component, flag) in the static pods and kubelet units under a build's `out`.
fn rendered_flags(out: &Path) -> BTreeSet<(Component, String)> {
    let mut found = BTreeSet::new();
    for host in std::fs::read_dir(out).unwrap() {
        let root = host.unwrap().path();
        let mut files = vec![root.join("etc/systemd/system/kubelet.service")];
        if let Ok(pods) = std::fs::read_dir(root.join("etc/kubernetes/manifests")) {
            files.extend(pods.map(|pod| pod.unwrap().path()));
        }
        for file in files {
            let Some(component) = component_of(&file) else {
                continue;
            };
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            found.extend(flag_names(&text).into_iter().map(|flag| (component, flag)));
        }
    }
    found
}

#[test]
fn every_rendered_flag_is_owned_or_deliberately_overridable() {
    let temp = tempfile::tempdir().unwrap();
    let mut undecided = Vec::new();
    let mut seen = BTreeSet::new();
    for example in common::example_specs() {
        let stem = example.file_stem().unwrap().to_string_lossy().into_owned();
        for (index, (label, spec)) in variants(&stem).into_iter().enumerate() {
            let dir = temp.path().join(format!("{stem}-{index}"));
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("cluster.yaml"), spec.yaml()).unwrap();
            let output = common::run_kcompile(
                &dir,
                &[
                    "build",
                    "-f",
                    "cluster.yaml",
                    "--state",
                    "st",
                    "--all",
                    "--out",
                    "out",
                ],
            );
            assert!(
                output.status.success(),
                "{label}: build failed\n{}",
                common::text(&output)
            );
            for (component, flag) in rendered_flags(&dir.join("out")) {
                let owned = component.owned_flag_hint(&flag).is_some();
                let overridable = component.overridable_default(&flag);
                assert!(
                    !(owned && overridable),
                    "{component} --{flag} is both owned and overridable"
                );
                if !owned && !overridable {
                    undecided.push(format!("{label}: {component} --{flag}"));
                }
                seen.insert((component, flag));
            }
        }
    }
    for component in Component::ALL {
        assert!(
            seen.iter().any(|(c, _)| *c == component),
            "no {component} flags rendered: {seen:?}"
        );
    }
    for expected in [
        (Component::Scheduler, "config"),
        (Component::ApiServer, "enable-aggregator-routing"),
        (Component::ApiServer, "anonymous-auth"),
        (Component::Kubelet, "register-with-taints"),
        (Component::Etcd, "experimental-initial-corrupt-check"),
    ] {
        assert!(
            seen.contains(&(expected.0, expected.1.to_owned())),
            "a variant should render {} --{}",
            expected.0,
            expected.1
        );
    }
    assert!(
        undecided.is_empty(),
        "flags kcompile renders that are neither owned (component.rs owned_flag_hint) nor \
         deliberately overridable (overridable_default):\n{}",
        undecided.join("\n")
    );
}
