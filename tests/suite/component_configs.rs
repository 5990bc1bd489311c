//! The component config schemas (`src/versions/configs/*.tsv`) and the checks `validate` makes
//! with them:
//!
//! - the committed tables pass `scripts/component_configs.py --check` (offline: the form the
//!   script writes, every kind at every minor, parents, types, citations);
//! - every example, under its own profiles and under `[kubeadm, hardened]`, validates at every
//!   supported minor, and the `KubeletConfiguration`, `KubeProxyConfiguration` and
//!   `KubeSchedulerConfiguration` kcompile renders for each host pass the same schema check (so
//!   kcompile never writes a field the target version lacks);
//! - a spec with valid nested fields in all three configs validates at every minor, and its
//!   fields reach the rendered files.
//!
//! The broken cases (unknown, misspelled, mistyped, too new) are `tests/broken/config-*.yaml`.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kcompile::cluster::Cluster;
use kcompile::render::{kube_proxy, kubelet, scheduler};
use kcompile::spec::{ConfigKind, Source, check_component_config, load};
use kcompile::versions::{KubeVersion, NEWEST_MINOR, OLDEST_MINOR};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_tables_pass_the_scripts_offline_check() {
    let output = Command::new("python3")
        .arg(root().join("scripts/component_configs.py"))
        .arg("--check")
        .output()
        .expect("python3 runs (it is on every machine the CI uses)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("3 kinds, minors 1.33..1.37, consistent (offline)"),
        "{stdout}"
    );
}

/// `spec` with its `kubernetesVersion` (and, if given, `profiles`) replaced.
fn variant(spec: &str, version: &str, profiles: Option<&str>) -> String {
    let mut text = String::new();
    for line in spec.lines() {
        if line.starts_with("kubernetesVersion:")
            || (profiles.is_some() && line.starts_with("profiles:"))
        {
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!("kubernetesVersion: {version}\n"));
    if let Some(profiles) = profiles {
        text.push_str(&format!("profiles: {profiles}\n"));
    }
    text
}

/// Loads `text`, or returns every diagnostic as one string.
fn compile(name: &str, text: String) -> Result<Cluster, String> {
    let source = Source {
        name: name.to_owned(),
        text,
    };
    load(source, &root().join("examples"))
        .map(|loaded| loaded.cluster)
        .map_err(|diagnostics| {
            diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<String>()
        })
}

/// The rendered config files of every host of `cluster`, each checked against its schema.
fn check_rendered(cluster: &Cluster, label: &str, problems: &mut Vec<String>) -> usize {
    let mut files = Vec::new();
    for host in &cluster.hosts {
        files.push((ConfigKind::Kubelet, kubelet::config(cluster, host)));
        if let Some(mode) = cluster.kube_proxy {
            files.push((
                ConfigKind::KubeProxy,
                kube_proxy::config(cluster, host, mode),
            ));
        }
        files.extend(scheduler::config(cluster, host).map(|text| (ConfigKind::Scheduler, text)));
    }
    for (kind, text) in &files {
        let Ok(Value::Object(fields)) = serde_saphyr::from_str::<Value>(text) else {
            problems.push(format!("{label}: {kind:?} is not a YAML mapping:\n{text}"));
            continue;
        };
        let fields: BTreeMap<String, Value> = fields.into_iter().collect();
        let found =
            check_component_config(*kind, cluster.kubernetes_version, &fields, "", |_| false);
        problems.extend(
            found
                .iter()
                .map(|p| format!("{label}: rendered {kind:?}: {}", p.message)),
        );
    }
    files.len()
}

#[test]
fn every_example_validates_and_renders_schema_clean_configs_at_every_minor() {
    let examples = common::example_specs();
    let mut problems = Vec::new();
    let mut checked = 0;
    for example in &examples {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let spec = std::fs::read_to_string(example).unwrap();
        for minor in OLDEST_MINOR..=NEWEST_MINOR {
            for profiles in [None, Some("[kubeadm, hardened]")] {
                let label = format!(
                    "{name} v1.{minor}.0 {}",
                    profiles.unwrap_or("(own profiles)")
                );
                match compile(&name, variant(&spec, &format!("v1.{minor}.0"), profiles)) {
                    Ok(cluster) => checked += check_rendered(&cluster, &label, &mut problems),
                    Err(diagnostics) => problems.push(format!("{label}: refused:\n{diagnostics}")),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 100, "only {checked} rendered configs checked");
}

const NESTED: &str = r"apiVersion: kcompile.io/v1alpha1
kind: Cluster
profiles: [kubeadm]
kubelet:
  config:
    evictionHard:
      memory.available: 200Mi
      nodefs.available: 10%
    logging:
      format: json
      flushFrequency: 5s
      verbosity: 2
      options:
        json:
          infoBufferSize: 64Ki
    shutdownGracePeriod: 30s
    registerWithTaints: []
    systemReserved: {cpu: 500m, memory: 1Gi}
    memoryThrottlingFactor: 0.9
    featureGates: {KubeletTracing: true}
kubeProxy:
  mode: nftables
  config:
    metricsBindAddress: 0.0.0.0:10249
    conntrack:
      maxPerCore: 0
      tcpEstablishedTimeout: 24h
    nftables:
      syncPeriod: 30s
    nodePortAddresses: [192.168.56.0/24]
scheduler:
  config:
    percentageOfNodesToScore: 100
    leaderElection:
      leaseDuration: 20s
    profiles:
      - schedulerName: default-scheduler
        plugins:
          score:
            enabled:
              - name: NodeResourcesFit
                weight: 2
            disabled:
              - name: ImageLocality
        pluginConfig:
          - name: NodeResourcesFit
            args:
              scoringStrategy:
                type: MostAllocated
                resources:
                  - name: cpu
                    weight: 1
          - name: PodTopologySpread
            args:
              defaultingType: List
              defaultConstraints:
                - maxSkew: 1
                  topologyKey: topology.kubernetes.io/zone
                  whenUnsatisfiable: ScheduleAnyway
          - name: ExampleOutOfTree
            args: {anything: [1, two]}
hosts:
  - name: node01
    address: 192.168.56.10
    roles: [control-plane, etcd, worker]
    overrides:
      kubelet:
        config:
          maxPods: 50
";

#[test]
fn valid_nested_fields_are_accepted_at_every_minor_and_reach_the_rendered_files() {
    let mut problems = Vec::new();
    for minor in OLDEST_MINOR..=NEWEST_MINOR {
        let version = format!("v1.{minor}.0");
        let cluster = compile("nested.yaml", variant(NESTED, &version, None))
            .unwrap_or_else(|diagnostics| panic!("{version} refused:\n{diagnostics}"));
        assert_eq!(
            cluster.kubernetes_version,
            KubeVersion::parse(&version).unwrap()
        );
        check_rendered(&cluster, &version, &mut problems);
        let host = &cluster.hosts[0];
        let kubelet = kubelet::config(&cluster, host);
        assert!(kubelet.contains("memory.available: 200Mi"), "{kubelet}");
        assert!(kubelet.contains("maxPods: 50"), "{kubelet}");
        let proxy = kube_proxy::config(&cluster, host, cluster.kube_proxy.unwrap());
        assert!(
            proxy.contains("metricsBindAddress: 0.0.0.0:10249"),
            "{proxy}"
        );
        assert!(proxy.contains("tcpEstablishedTimeout: 24h"), "{proxy}");
        let scheduler = scheduler::config(&cluster, host).unwrap();
        assert!(scheduler.contains("type: MostAllocated"), "{scheduler}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
