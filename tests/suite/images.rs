//! `kcompile images`: for every example, with the public repository and under a mirror, each
//! host's list is exactly the images its rendered pods run (every `image:` of every static pod
//! manifest kcompile builds for it, and of the CoreDNS Deployment on the first control plane)
//! plus the pause image of the cluster's release; under a mirror
//! every image, the load balancer's included, is under the mirror and no warning is printed.
//! Also: the pause table is what scripts/pause.py makes of its saved reads, the JSON shape, an
//! unknown host, the warning for a load-balancer image named outside a mirror, and
//! `--show-resolved` showing every image default.

use crate::common::{self, Spec, Test};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use common::kcompile;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MIRROR: &str = "mirror.example.com:5000/k8s";

/// Every example spec (`examples/*.yaml`): file name and text, by file name.
fn examples() -> Vec<(String, String)> {
    common::example_specs()
        .into_iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read_to_string(&path).unwrap(),
            )
        })
        .collect()
}

/// The `image:` of every container `pod` (a Pod spec) runs.
fn pod_images(pod: &Value, images: &mut BTreeSet<String>) {
    for list in ["containers", "initContainers"] {
        for container in pod[list].as_array().into_iter().flatten() {
            images.insert(container["image"].as_str().unwrap().to_owned());
        }
    }
}

/// The `image:` of every container of every manifest under `host_root`'s manifests directory,
/// and of the Deployments of the addons written on it (CoreDNS, on the first control plane).
fn rendered_images(host_root: &Path) -> BTreeSet<String> {
    let mut images = BTreeSet::new();
    let dir = host_root.join("etc/kubernetes/manifests");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let pod: Value = serde_saphyr::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        pod_images(&pod["spec"], &mut images);
    }
    assert!(!images.is_empty(), "{} holds pods", dir.display());
    let addons = host_root.join("etc/kubernetes/addons");
    for entry in fs::read_dir(&addons).into_iter().flatten() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        for object in serde_saphyr::from_multiple::<Value>(&text).unwrap() {
            if object["kind"] == "Deployment" {
                pod_images(&object["spec"]["template"]["spec"], &mut images);
            }
        }
    }
    images
}

/// The hosts of a built `--all --out` tree.
fn hosts(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `kcompile images` lines, checking that no warning is about an image.
fn images(dir: &Path, args: &[&str]) -> Vec<String> {
    let output = kcompile(dir)
        .args(["images", "-f", "cluster.yaml"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("image"),
        "no warning about an image (the spec's own warnings aside): {stderr}"
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_pause_table_is_what_the_script_makes_of_its_saved_reads() {
    let output = Process::new("python3")
        .arg(Path::new(ROOT).join("scripts/pause.py"))
        .output()
        .expect("python3 runs scripts/pause.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed = fs::read_to_string(Path::new(ROOT).join("src/versions/pause.tsv")).unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        committed,
        "src/versions/pause.tsv differs from `python3 scripts/pause.py`: regenerate it"
    );
}

/// The pause tag the table gives `1.minor`.
fn pause_tag(minor: &str) -> String {
    let table = fs::read_to_string(Path::new(ROOT).join("src/versions/pause.tsv")).unwrap();
    table
        .lines()
        .find_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            (columns[0] == minor).then(|| columns[1].to_owned())
        })
        .unwrap()
}

#[test]
fn every_host_of_every_example_lists_the_images_its_pods_run_with_and_without_a_mirror() {
    for (name, example) in examples() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("cluster.state");
        for repository in ["registry.k8s.io", MIRROR] {
            Spec::parse(&example)
                .set("imageRepository", repository)
                .write(&dir.path().join("cluster.yaml"));
            let out: PathBuf = dir.path().join(format!("out-{}", repository.len()));
            kcompile(dir.path())
                .args(["build", "--all", "-f", "cluster.yaml", "--out"])
                .arg(&out)
                .arg("--state")
                .arg(&state)
                .assert()
                .success();
            let resolved = kcompile(dir.path())
                .args(["validate", "--show-resolved", "-f", "cluster.yaml"])
                .output()
                .unwrap();
            let resolved = String::from_utf8(resolved.stdout).unwrap();
            let version = resolved
                .lines()
                .find_map(|line| line.strip_prefix("kubernetesVersion: "))
                .and_then(|value| value.split_whitespace().next())
                .unwrap()
                .to_owned();
            let minor = version.trim_start_matches('v').rsplit_once('.').unwrap().0;
            let pause = format!("{repository}/pause:{}", pause_tag(minor));

            let mut union = BTreeSet::new();
            for host in hosts(&out) {
                let listed = images(dir.path(), &["--host", &host]);
                let mut sorted = listed.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(listed, sorted, "{name} {host}: sorted, each once");
                let mut expected = rendered_images(&out.join(&host));
                expected.insert(pause.clone());
                assert_eq!(
                    listed.iter().cloned().collect::<BTreeSet<_>>(),
                    expected,
                    "{name} under {repository}: host {host} lists what its pods run, and pause"
                );
                if repository == MIRROR {
                    for image in &listed {
                        assert!(
                            image.starts_with(&format!("{MIRROR}/")),
                            "{name} {host}: {image} is under the mirror"
                        );
                    }
                }
                union.extend(listed);
            }
            let all = images(dir.path(), &[]);
            assert_eq!(
                all,
                union.into_iter().collect::<Vec<_>>(),
                "{name}: without --host, every host's images, sorted, each once"
            );
        }
    }
}

#[test]
fn json_lists_each_hosts_images_and_what_a_mirrored_default_copies() {
    let example = Spec::example("ha-keepalived");
    let run = Test::new()
        .spec(&example.clone().set("imageRepository", MIRROR))
        .args(["images", "-f", "cluster.yaml", "-o", "json"])
        .run();
    let json: Value = serde_json::from_str(run.stdout()).unwrap();
    assert_eq!(json["formatVersion"], 1);
    assert_eq!(json["imageRepository"], MIRROR);
    let hosts = json["hosts"].as_array().unwrap();
    let per_host: BTreeMap<&str, &Vec<Value>> = hosts
        .iter()
        .map(|host| {
            (
                host["host"].as_str().unwrap(),
                host["images"].as_array().unwrap(),
            )
        })
        .collect();
    let (control_plane, images) = per_host.iter().next().unwrap();
    let haproxy = images
        .iter()
        .find(|image| image["runs"] == serde_json::json!(["haproxy"]))
        .unwrap_or_else(|| panic!("{control_plane} runs haproxy"));
    assert_eq!(haproxy["image"], format!("{MIRROR}/haproxy:2.8"));
    assert_eq!(haproxy["copyOf"], "docker.io/library/haproxy:2.8");
    let keepalived = images
        .iter()
        .find(|image| image["runs"] == serde_json::json!(["keepalived"]))
        .unwrap();
    assert_eq!(keepalived["copyOf"], "docker.io/osixia/keepalived:2.0.20");
    let pause = images
        .iter()
        .find(|image| image["runs"] == serde_json::json!(["pause"]))
        .unwrap();
    assert!(
        pause["copyOf"]
            .as_str()
            .unwrap()
            .starts_with("registry.k8s.io/pause:")
    );
    let coredns = images
        .iter()
        .find(|image| image["runs"] == serde_json::json!(["coredns"]))
        .unwrap_or_else(|| panic!("{control_plane}, the first control plane, runs CoreDNS"));
    assert!(
        coredns["copyOf"]
            .as_str()
            .unwrap()
            .starts_with("registry.k8s.io/coredns/coredns:v")
    );
    let all: Vec<&str> = json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image.as_str().unwrap())
        .collect();
    let mut sorted = all.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(all, sorted, "the union is sorted, each once");

    // Under the public repository there is nothing to copy.
    let public = run
        .then()
        .spec(&example)
        .args(["images", "-f", "cluster.yaml", "-o", "json"])
        .run();
    let text = public.stdout();
    assert!(text.contains("docker.io/library/haproxy:2.8"));
    assert!(!text.contains("copyOf"), "{text}");
}

#[test]
fn an_unknown_host_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        Path::new(ROOT).join("examples/ha-3-masters.yaml"),
        dir.path().join("cluster.yaml"),
    )
    .unwrap();
    let output = kcompile(dir.path())
        .args(["images", "-f", "cluster.yaml", "--host", "master04"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("the spec has no host `master04`") && stderr.contains("did you mean"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_load_balancer_image_named_outside_a_mirror_is_warned_about() {
    let example = Spec::example("ha-keepalived");
    assert!(
        example.get("loadBalancer").is_some(),
        "the example has a loadBalancer mapping"
    );
    let named = example.set("loadBalancer.haproxyImage", "docker.io/library/haproxy:2.9");
    // A warning, not an error: exit 0.
    let run = Test::new()
        .spec(&named.clone().set("imageRepository", MIRROR))
        .args(["images", "-f", "cluster.yaml"])
        .run();
    let stderr = run.stderr();
    assert!(
        stderr.contains("warning:")
            && stderr.contains(
                "image `docker.io/library/haproxy:2.9` is not under imageRepository `mirror.example.com:5000/k8s`"
            )
            && stderr.contains(&format!("{MIRROR}/haproxy:2.8")),
        "{stderr}"
    );
    let stdout = run.stdout();
    assert!(
        stdout.contains("docker.io/library/haproxy:2.9\n"),
        "as written"
    );
    assert!(
        stdout.contains(&format!("{MIRROR}/keepalived:2.0.20\n")),
        "{stdout}"
    );

    // With the public repository the same spec is quiet.
    run.then()
        .spec(&named)
        .args(["images", "-f", "cluster.yaml"])
        .stderr("")
        .run();
}

#[test]
fn show_resolved_shows_every_image_default_and_validates_again() {
    let run = Test::new()
        .spec(&Spec::example("ha-keepalived").set("imageRepository", MIRROR))
        .args(["validate", "--show-resolved", "-f", "cluster.yaml"])
        .run();
    let dir = run.dir();
    let resolved = run.stdout();
    for (field, image) in [
        ("haproxyImage", format!("{MIRROR}/haproxy:2.8")),
        ("keepalivedImage", format!("{MIRROR}/keepalived:2.0.20")),
        ("kubeVipImage", format!("{MIRROR}/kube-vip:v0.8.9")),
    ] {
        assert!(
            resolved.contains(&format!("  {field}: {image}  # kcompile default\n")),
            "{field}: {resolved}"
        );
    }
    for component in [
        "etcd:",
        "kube-apiserver:v",
        "kube-controller-manager:v",
        "kube-scheduler:v",
        "kube-proxy:v",
    ] {
        assert!(
            resolved.contains(&format!("  image: {MIRROR}/{component}")),
            "{component}: {resolved}"
        );
    }
    fs::write(dir.join("resolved.yaml"), resolved).unwrap();
    let again = kcompile(dir)
        .args(["images", "-f", "resolved.yaml"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    assert_eq!(
        images(dir, &[]),
        String::from_utf8(again.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        "the resolved spec runs the same images"
    );
}
