//! Build benchmark: every figure beside a limit measured in the same run, so a ratio holds on a
//! noisy machine. Not a test: run it with `cargo bench --bench build` and read the table.
//!
//! Scenarios, each with the limit it is held against:
//! - cold `build --all` of 3 control planes + 100 workers, RSA-2048 and ECDSA-P256: bare parallel
//!   generation of as many keys (`Key::generate` on rayon, as `pki::plan` does);
//! - warm `build --all` (same state, nothing changed) of those: reading and hashing the state and
//!   output trees (every file, on rayon) in a child process, as the build runs in one: this bench
//!   binary started again with `KCOMPILE_BENCH_READ_HASH=1` and the trees as its arguments, so
//!   both sides pay for starting a process;
//! - cold `build --all` of 3 + 1,000 workers, ECDSA-P256: writing the same files (state and
//!   output trees, read into memory first) with one `syncfs` at the end;
//! - warm `build --all` of 3 + 1,000: reading and hashing its trees (a child process, as above);
//! - `diff --host` of a control plane and a worker against an unchanged root, 1,003-host spec:
//!   `validate` of the same spec (no state dir: the spec alone).
//!
//! The builds run the real release binary as a child process, so they include process start, spec
//! loading, the state, signing, rendering and writing. Peak memory is the child's maximum resident
//! set size (`wait4`). Repetitions are few to keep the run within minutes on 2 cores.
//!
//! `cargo bench --bench build -- GROUP…` runs only the named groups: `ecdsa` and `rsa` (the
//! 103-host builds with that key algorithm), `scale` (the 1,003-host builds and diffs).

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kcompile::pki::keys::Key;
use kcompile::spec::KeyAlgorithm;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

const CONTROL_PLANES: usize = 3;
const WORKERS: usize = 100;
const SCALE_WORKERS: usize = 1000;

/// What a scenario is held against, measured in the same run.
struct Limit {
    /// What the limit is.
    name: &'static str,
    samples: Vec<Duration>,
    /// The ratio the scenario's median must stay under, where the issue sets one.
    target: Option<f64>,
}

/// One scenario's samples.
struct Row {
    scenario: String,
    keys: usize,
    samples: Vec<Duration>,
    /// The largest peak resident set of the runs, in KiB (child processes only).
    peak_kib: Option<u64>,
    limit: Option<Limit>,
}

/// One finished run of the binary.
struct Run {
    elapsed: Duration,
    peak_kib: u64,
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Set in the environment of the child that is the warm builds' limit (see the module doc).
const READ_HASH_CHILD: &str = "KCOMPILE_BENCH_READ_HASH";

fn main() {
    if std::env::var_os(READ_HASH_CHILD).is_some() {
        let roots: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
        let roots: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();
        read_and_hash(&roots);
        return;
    }
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
    // `cargo bench --bench build -- ecdsa scale`: only these groups (all three when none is named).
    let groups: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wanted = |group: &str| groups.is_empty() || groups.iter().any(|g| g == group);
    let mut rows = Vec::new();
    if wanted("ecdsa") {
        bench_algorithm(
            &binary,
            KeyAlgorithm::EcdsaP256,
            "ECDSA-P256",
            3,
            None,
            &mut rows,
        );
    }
    if wanted("rsa") {
        bench_algorithm(
            &binary,
            KeyAlgorithm::Rsa2048,
            "RSA-2048",
            3,
            Some(1.05),
            &mut rows,
        );
    }
    if wanted("scale") {
        bench_scale(&binary, &mut rows);
    }
    print_table(&rows);
    eprintln!("\nload average at the end: {}", load_average());
}

/// `/proc/loadavg` where there is one: a busy machine makes every figure slower.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".into(), |s| s.trim().into())
}

/// Cold and warm builds of 3 + 100 hosts with one key algorithm, against key generation and
/// reading the trees.
fn bench_algorithm(
    binary: &Path,
    algorithm: KeyAlgorithm,
    name: &str,
    cold_runs: usize,
    cold_target: Option<f64>,
    rows: &mut Vec<Row>,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("cluster.yaml");
    fs::write(&spec, spec_text(name, WORKERS)).expect("write spec");

    // Cold: a fresh state dir and output dir every time, alternating with bare key generation.
    let mut cold = Vec::new();
    let mut keygen = Vec::new();
    let mut peak = 0;
    let mut keys = None;
    let mut last = None;
    for rep in 0..cold_runs {
        let state = dir.path().join(format!("cold{rep}.state"));
        let out = dir.path().join(format!("cold{rep}.out"));
        let (run, generated) = build(binary, &spec, &state, &out);
        eprintln!(
            "{name} cold build {rep}: {generated} keys, {:.2?}",
            run.elapsed
        );
        assert!(
            keys.is_none_or(|k| k == generated),
            "cold builds generated different key counts"
        );
        keys = Some(generated);
        cold.push(run.elapsed);
        peak = peak.max(run.peak_kib);
        keygen.push(generate_keys(algorithm, generated));
        last = Some((state, out));
    }
    let keys = keys.expect("at least one cold build");
    rows.push(Row {
        scenario: format!("cold build, 103 hosts, {name}"),
        keys,
        samples: cold,
        peak_kib: Some(peak),
        limit: Some(Limit {
            name: "keygen, rayon",
            samples: keygen,
            target: cold_target,
        }),
    });

    // Warm: the last cold build's state and output, nothing changed.
    let (state, out) = last.expect("at least one cold build");
    rows.push(warm_builds(
        binary,
        &spec,
        &state,
        &out,
        15,
        format!("warm build, 103 hosts, {name}"),
    ));

    let mut sequential = Vec::new();
    let start = Instant::now();
    let generated: Vec<Key> = (0..keys)
        .map(|_| Key::generate(algorithm).expect("key generation"))
        .collect();
    assert_eq!(generated.len(), keys);
    sequential.push(start.elapsed());
    rows.push(Row {
        scenario: format!("keygen, 1 thread, {name}"),
        keys,
        samples: sequential,
        peak_kib: None,
        limit: None,
    });
}

/// Generates `count` keys on rayon; returns the time it took.
fn generate_keys(algorithm: KeyAlgorithm, count: usize) -> Duration {
    let start = Instant::now();
    let generated: Vec<Key> = (0..count)
        .into_par_iter()
        .map(|_| Key::generate(algorithm).expect("key generation"))
        .collect();
    let elapsed = start.elapsed();
    assert_eq!(generated.len(), count);
    elapsed
}

/// `runs` warm builds, each followed by reading and hashing the state and output trees in a child
/// process (this bench binary as [`READ_HASH_CHILD`]).
fn warm_builds(
    binary: &Path,
    spec: &Path,
    state: &Path,
    out: &Path,
    runs: usize,
    scenario: String,
) -> Row {
    let mut samples = Vec::new();
    let mut limit = Vec::new();
    let mut peak = 0;
    for rep in 0..runs {
        let (built, generated) = build(binary, spec, state, out);
        eprintln!("{scenario} {rep}: {:.2?}", built.elapsed);
        assert_eq!(generated, 0, "a warm build with no change generated keys");
        samples.push(built.elapsed);
        peak = peak.max(built.peak_kib);
        let child = run(
            Command::new(std::env::current_exe().expect("this bench binary"))
                .env(READ_HASH_CHILD, "1")
                .arg(state)
                .arg(out),
        );
        assert_eq!(child.code, Some(0), "read + hash: {}", child.stderr);
        limit.push(child.elapsed);
    }
    Row {
        scenario,
        keys: 0,
        samples,
        peak_kib: Some(peak),
        limit: Some(Limit {
            name: "read + hash, process",
            samples: limit,
            target: Some(1.5),
        }),
    }
}

/// The release binary cargo built for this bench.
fn binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_kcompile"));
    assert!(path.is_file(), "no kcompile binary at {}", path.display());
    path
}

/// 3 control planes + 1,000 workers, ECDSA-P256: cold and warm `build --all`, then `diff` of a
/// control plane and a worker against the tree the warm build wrote (no change: the host's
/// bundle is compiled, read back and compared).
fn bench_scale(binary: &Path, rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("cluster.yaml");
    fs::write(&spec, spec_text("ECDSA-P256", SCALE_WORKERS)).expect("write spec");
    let hosts = CONTROL_PLANES + SCALE_WORKERS;
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    let (cold, keys) = build(binary, &spec, &state, &out);
    eprintln!("scale cold build: {:.2?}", cold.elapsed);
    let mut write_limit = Vec::new();
    let files = load_tree(&[&state, &out]);
    for rep in 0..3 {
        let target = dir.path().join(format!("copy{rep}"));
        write_limit.push(write_with_one_sync(&files, &target));
        fs::remove_dir_all(&target).expect("remove the copy");
    }
    drop(files);
    rows.push(Row {
        scenario: format!("cold build, {hosts} hosts, ECDSA-P256"),
        keys,
        samples: vec![cold.elapsed],
        peak_kib: Some(cold.peak_kib),
        limit: Some(Limit {
            name: "write files, 1 sync",
            samples: write_limit,
            target: Some(3.0),
        }),
    });
    rows.push(warm_builds(
        binary,
        &spec,
        &state,
        &out,
        5,
        format!("warm build, {hosts} hosts"),
    ));

    let mut validate = Vec::new();
    for _ in 0..9 {
        let run = run(Command::new(binary)
            .args(["validate", "-f"])
            .arg(&spec)
            .arg("--state")
            .arg(dir.path().join("no-state")));
        assert_eq!(run.code, Some(0), "validate: {}", run.stderr);
        validate.push(run.elapsed);
    }
    for host in ["master01", "worker0500"] {
        let mut samples = Vec::new();
        let mut peak = 0;
        for _ in 0..9 {
            let run = run(Command::new(binary)
                .args(["diff", "--host", host, "-f"])
                .arg(&spec)
                .arg("--state")
                .arg(&state)
                .arg("--root")
                .arg(out.join(host)));
            assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
            samples.push(run.elapsed);
            peak = peak.max(run.peak_kib);
        }
        rows.push(Row {
            scenario: format!("diff --host {host}, {hosts} hosts"),
            keys: 0,
            samples,
            peak_kib: Some(peak),
            limit: Some(Limit {
                name: "validate, spec only",
                samples: validate.clone(),
                target: Some(1.5),
            }),
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

/// Runs a command to the end with its output in files; times it and takes its peak memory.
// The child is reaped by `wait4` (which also gives its resource usage), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run(command: &mut Command) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    let start = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start kcompile");
    let pid = i32::try_from(child.id()).expect("pid fits");
    let mut status = 0;
    // SAFETY: `rusage` is plain data, and `wait4` writes it and `status` for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        elapsed,
        peak_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        code,
    }
}

/// Runs `build --all`; returns the run and the number of keys it says it generated.
fn build(binary: &Path, spec: &Path, state: &Path, out: &Path) -> (Run, usize) {
    let run = run(Command::new(binary)
        .args(["build", "--all", "-f"])
        .arg(spec)
        .arg("--out")
        .arg(out)
        .arg("--state")
        .arg(state));
    assert_eq!(run.code, Some(0), "kcompile build failed:\n{}", run.stderr);
    let generated = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("state "))
        .find_map(|line| {
            let (_, rest) = line.rsplit_once(": ")?;
            rest.split_once(" keys generated")?.0.parse().ok()
        })
        .unwrap_or_else(|| panic!("no `N keys generated` line in:\n{}", run.stderr));
    (run, generated)
}

/// Every regular file under `roots`.
fn files_under(roots: &[&Path]) -> Vec<PathBuf> {
    roots
        .iter()
        .flat_map(walkdir::WalkDir::new)
        .map(|entry| entry.expect("walk"))
        .filter(|entry| entry.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
}

/// The limit of a warm run: list, read and hash every file under `roots`, on rayon.
fn read_and_hash(roots: &[&Path]) -> Duration {
    let start = Instant::now();
    let digests: Vec<[u8; 32]> = files_under(roots)
        .par_iter()
        .map(|path| Sha256::digest(fs::read(path).expect("read")).into())
        .collect();
    let elapsed = start.elapsed();
    assert!(!digests.is_empty());
    elapsed
}

/// One file of a tree held in memory: its path below the tree's root, bytes and mode.
struct Held {
    relative: PathBuf,
    bytes: Vec<u8>,
    mode: u32,
}

/// Reads the trees under `roots` into memory (each tree under its own name).
fn load_tree(roots: &[&Path]) -> Vec<Held> {
    let mut held = Vec::new();
    for root in roots {
        let name = root.file_name().expect("named root");
        for path in files_under(&[root]) {
            let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o7777;
            held.push(Held {
                relative: Path::new(name).join(path.strip_prefix(root).expect("under root")),
                bytes: fs::read(&path).expect("read"),
                mode,
            });
        }
    }
    held
}

/// The limit of a cold run's writing: create the directories, write every file with its mode
/// (on rayon), then one `syncfs`.
fn write_with_one_sync(files: &[Held], target: &Path) -> Duration {
    let start = Instant::now();
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|file| file.relative.parent().map(|p| target.join(p)))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        fs::create_dir_all(dir).expect("create dir");
    }
    files.par_iter().for_each(|file| {
        use std::io::Write as _;
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file.mode)
            .open(target.join(&file.relative))
            .expect("create file");
        out.write_all(&file.bytes).expect("write file");
    });
    let root = fs::File::open(target).expect("open target");
    rustix::fs::syncfs(&root).expect("syncfs");
    start.elapsed()
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| {:<33} | {:>4} | {:>4} | {:>7} | {:>7} | {:>8} | {:<20} | {:>9} | {:>5} | {:>6} |",
        "scenario",
        "keys",
        "runs",
        "min (s)",
        "med (s)",
        "peak MiB",
        "limit",
        "limit (s)",
        "ratio",
        "target"
    );
    println!(
        "|{:-<35}|{:->6}|{:->6}|{:->9}|{:->9}|{:->10}|{:-<22}|{:->11}|{:->7}|{:->8}|",
        "", "", "", "", "", "", "", "", "", ""
    );
    for row in rows {
        let mut samples = row.samples.clone();
        samples.sort();
        let scenario_median = median(&samples);
        let peak = row
            .peak_kib
            .map_or_else(|| "-".to_owned(), |kib| format!("{}", (kib + 512) / 1024));
        let (limit_name, limit_median, ratio, target) = match &row.limit {
            Some(limit) => {
                let mut limit_samples = limit.samples.clone();
                limit_samples.sort();
                let limit_median = median(&limit_samples);
                (
                    limit.name,
                    format!("{limit_median:.3}"),
                    format!("{:.2}", scenario_median / limit_median),
                    limit
                        .target
                        .map_or_else(|| "-".to_owned(), |t| format!("{t:.2}")),
                )
            }
            None => ("-", "-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        println!(
            "| {:<33} | {:>4} | {:>4} | {:>7.3} | {:>7.3} | {:>8} | {:<20} | {:>9} | {:>5} | {:>6} |",
            row.scenario,
            row.keys,
            samples.len(),
            samples[0].as_secs_f64(),
            scenario_median,
            peak,
            limit_name,
            limit_median,
            ratio,
            target
        );
    }
}

/// The median of sorted samples (the mean of the middle two for an even count).
fn median(sorted: &[Duration]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2].as_secs_f64()
    } else {
        f64::midpoint(sorted[n / 2 - 1].as_secs_f64(), sorted[n / 2].as_secs_f64())
    }
}
