//! Build benchmark. PKI (issue 3): a cold build of 3 control-plane hosts + 100 workers with
//! RSA-2048 and with ECDSA-P256, the bare generation time of the same number of keys, and a warm
//! build with nothing changed. Scale (issue 5): `build --all` of 3 control-plane hosts + 1,000
//! workers with ECDSA-P256, cold and warm, and `diff` of one host. Not a test: run it with
//! `cargo bench --bench build` and read the table.
//!
//! The builds run the real binary (`build --all --out OUT --state STATE`), so they include process
//! start, spec loading, signing, writing the state and rendering the 103 bundles. Bare key
//! generation calls `Key::generate` directly, in parallel with rayon as `pki::plan` does, and
//! sequentially. Repetitions are few to keep the whole run within a few minutes on 2 cores.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kcompile::pki::keys::Key;
use kcompile::spec::KeyAlgorithm;
use rayon::prelude::*;

const CONTROL_PLANES: usize = 3;
const WORKERS: usize = 100;
const SCALE_WORKERS: usize = 1000;

/// One scenario's samples.
struct Row {
    scenario: String,
    keys: usize,
    samples: Vec<Duration>,
}

/// How many times each scenario runs, per algorithm.
struct Reps {
    cold: usize,
    warm: usize,
    parallel: usize,
    sequential: usize,
}

fn main() {
    let binary = binary();
    eprintln!(
        "kcompile: {}\nrayon threads: {}\nload average at the start: {}\n",
        binary.display(),
        rayon::current_num_threads(),
        load_average()
    );
    // First calls pay for the rayon pool and the crypto library's setup: not what is measured.
    let _warm_up: Vec<Key> = [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048]
        .into_par_iter()
        .map(|algorithm| Key::generate(algorithm).expect("key generation"))
        .collect();
    let mut rows = Vec::new();
    let plans = [
        (
            KeyAlgorithm::EcdsaP256,
            "ECDSA-P256",
            Reps {
                cold: 3,
                warm: 5,
                parallel: 3,
                sequential: 3,
            },
        ),
        (
            KeyAlgorithm::Rsa2048,
            "RSA-2048",
            Reps {
                cold: 2,
                warm: 5,
                parallel: 2,
                sequential: 1,
            },
        ),
    ];
    for (algorithm, name, reps) in plans {
        bench_algorithm(&binary, algorithm, name, &reps, &mut rows);
    }
    bench_scale(&binary, &mut rows);
    print_table(&rows);
    eprintln!("\nload average at the end: {}", load_average());
}

/// `/proc/loadavg` where there is one: a busy machine makes every figure slower.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".into(), |s| s.trim().into())
}

fn bench_algorithm(
    binary: &Path,
    algorithm: KeyAlgorithm,
    name: &str,
    reps: &Reps,
    rows: &mut Vec<Row>,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("cluster.yaml");
    std::fs::write(&spec, spec_text(name, WORKERS)).expect("write spec");

    // Cold: a fresh state dir and output dir every time.
    let mut cold = Vec::new();
    let mut keys = None;
    let mut warm_state = None;
    for rep in 0..reps.cold {
        let state = dir.path().join(format!("cold{rep}.state"));
        let out = dir.path().join(format!("cold{rep}.out"));
        let (elapsed, generated) = build(binary, &spec, &state, &out);
        eprintln!("{name} cold build {rep}: {generated} keys, {elapsed:.2?}");
        assert!(
            keys.is_none_or(|k| k == generated),
            "cold builds generated different key counts"
        );
        keys = Some(generated);
        cold.push(elapsed);
        warm_state = Some((state, out));
    }
    let keys = keys.expect("at least one cold build");
    rows.push(Row {
        scenario: format!("cold build, {name}"),
        keys,
        samples: cold,
    });

    // Warm: the last cold build's state and output, nothing changed.
    let (state, out) = warm_state.expect("at least one cold build");
    let mut warm = Vec::new();
    for rep in 0..reps.warm {
        let (elapsed, generated) = build(binary, &spec, &state, &out);
        eprintln!("{name} warm build {rep}: {generated} keys, {elapsed:.2?}");
        assert_eq!(generated, 0, "a warm build with no change generated keys");
        warm.push(elapsed);
    }
    rows.push(Row {
        scenario: format!("warm build, {name}"),
        keys: 0,
        samples: warm,
    });

    // Bare key generation of as many keys as the cold build generated.
    let mut parallel = Vec::new();
    for rep in 0..reps.parallel {
        let start = Instant::now();
        let generated: Vec<Key> = (0..keys)
            .into_par_iter()
            .map(|_| Key::generate(algorithm).expect("key generation"))
            .collect();
        let elapsed = start.elapsed();
        assert_eq!(generated.len(), keys);
        eprintln!("{name} keygen parallel {rep}: {elapsed:.2?}");
        parallel.push(elapsed);
    }
    rows.push(Row {
        scenario: format!("keygen, rayon, {name}"),
        keys,
        samples: parallel,
    });

    let mut sequential = Vec::new();
    for rep in 0..reps.sequential {
        let start = Instant::now();
        let generated: Vec<Key> = (0..keys)
            .map(|_| Key::generate(algorithm).expect("key generation"))
            .collect();
        let elapsed = start.elapsed();
        assert_eq!(generated.len(), keys);
        eprintln!("{name} keygen sequential {rep}: {elapsed:.2?}");
        sequential.push(elapsed);
    }
    rows.push(Row {
        scenario: format!("keygen, 1 thread, {name}"),
        keys,
        samples: sequential,
    });
}

/// The release binary cargo built for this bench.
fn binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_kcompile"));
    assert!(path.is_file(), "no kcompile binary at {}", path.display());
    path
}

/// 3 control planes + 1,000 workers, ECDSA-P256: cold and warm `build --all`, then `diff` of a
/// control plane and a worker against the tree the warm build wrote (no change: the whole bundle is
/// compiled, read back and compared).
fn bench_scale(binary: &Path, rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("cluster.yaml");
    std::fs::write(&spec, spec_text("ECDSA-P256", SCALE_WORKERS)).expect("write spec");
    let hosts = CONTROL_PLANES + SCALE_WORKERS;
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    let (cold, keys) = build(binary, &spec, &state, &out);
    rows.push(Row {
        scenario: format!("scale: cold build --all, {hosts} hosts, ECDSA-P256"),
        keys,
        samples: vec![cold],
    });
    let mut warm = Vec::new();
    for _ in 0..3 {
        let (elapsed, generated) = build(binary, &spec, &state, &out);
        assert_eq!(generated, 0, "a warm build generates no key");
        warm.push(elapsed);
    }
    rows.push(Row {
        scenario: format!("scale: warm build --all, {hosts} hosts"),
        keys: 0,
        samples: warm,
    });
    for host in ["master01", "worker0500"] {
        let mut samples = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let output = Command::new(binary)
                .args(["diff", "--host", host, "-f"])
                .arg(&spec)
                .arg("--state")
                .arg(&state)
                .arg("--root")
                .arg(out.join(host))
                .output()
                .expect("run kcompile diff");
            samples.push(start.elapsed());
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        rows.push(Row {
            scenario: format!("scale: diff --host {host}, no change"),
            keys: 0,
            samples,
        });
    }
}

/// 3 stacked control-plane hosts behind 10.0.0.100 and `workers` workers, all in 10.0.0.0/16.
fn spec_text(algorithm: &str, workers: usize) -> String {
    let mut text = format!(
        "apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: bench
profiles: [kubeadm]
kubernetesVersion: v1.37.1
controlPlaneEndpoint:
  host: 10.0.0.100
  port: 6443
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
  dnsDomain: cluster.local
pki:
  keyAlgorithm: {algorithm}
hosts:
"
    );
    for i in 1..=CONTROL_PLANES {
        let _ = write!(
            text,
            "  - name: master{i:02}\n    address: 10.0.0.{}\n    roles: [control-plane, etcd]\n",
            10 + i
        );
    }
    for i in 1..=workers {
        let _ = write!(
            text,
            "  - name: worker{i:0width$}\n    address: 10.0.{}.{}\n    roles: [worker]\n",
            1 + i / 250,
            1 + i % 250,
            width = if workers >= 1000 { 4 } else { 3 },
        );
    }
    text
}

/// Runs `build --all`; returns its wall time and the number of keys it says it generated.
fn build(binary: &Path, spec: &Path, state: &Path, out: &Path) -> (Duration, usize) {
    let start = Instant::now();
    let output = Command::new(binary)
        .args(["build", "--all", "-f"])
        .arg(spec)
        .arg("--out")
        .arg(out)
        .arg("--state")
        .arg(state)
        .output()
        .expect("run kcompile");
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kcompile build failed ({}):\n{stderr}",
        output.status
    );
    let generated = stderr
        .lines()
        .filter(|line| line.starts_with("state "))
        .find_map(|line| {
            let (_, rest) = line.rsplit_once(": ")?;
            rest.split_once(" keys generated")?.0.parse().ok()
        })
        .unwrap_or_else(|| panic!("no `N keys generated` line in:\n{stderr}"));
    (elapsed, generated)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| {:<28} | {:>4} | {:>4} | {:>8} | {:>10} |",
        "scenario", "keys", "runs", "min (s)", "median (s)"
    );
    println!(
        "|{:-<30}|{:->6}|{:->6}|{:->10}|{:->12}|",
        "", "", "", "", ""
    );
    for row in rows {
        let mut samples = row.samples.clone();
        samples.sort();
        let min = samples[0].as_secs_f64();
        let median = median(&samples);
        println!(
            "| {:<28} | {:>4} | {:>4} | {:>8.3} | {:>10.3} |",
            row.scenario,
            row.keys,
            samples.len(),
            min,
            median
        );
    }
}

/// The median of sorted samples (the mean of the middle two for an even count).
fn median(sorted: &[Duration]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2].as_secs_f64()
    } else {
        (sorted[n / 2 - 1].as_secs_f64() + sorted[n / 2].as_secs_f64()) / 2.0
    }
}
