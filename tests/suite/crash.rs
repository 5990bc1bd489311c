//! Fault injection. Each command that writes the state dir (a first build; a build that reissues
//! a certificate for a new SAN; `certs renew`, with and without `--new-key`; `token create`; each
//! phase of the sa-key, encryption-key and cluster-ca rotations, with a build of every host
//! between phases as an operator does, phase 3 with `--acknowledge`; the etcd membership steps: a
//! build that adds an etcd member, `etcd joined`, `etcd replace`, `etcd removed`; `import
//! --from-pki` into no state; `adopt` of a kubeadm cluster into no state; and an import that must be refused, its PKI dir holding an
//! unparseable `etcd/ca.key`, into no state and into a built one) is killed with SIGKILL at every
//! write-like system call it issues on the state dir, one run per call. (A build's second commit
//! records each built host's MANIFEST, `built/<host>/MANIFEST`, with the built version: every
//! build above covers it.) Then the same command runs
//! again: the retry, as the next writer, recovers the interrupted run. For each kill:
//!
//! - the state loads (`kcompile state check` exits 0) after the kill and after the retry, when
//!   there is a state dir;
//! - the retry exits as the uninterrupted run does: 0, or 2 for the refused import. A finished
//!   command run again is a no-op that succeeds (phase 3 included), measured on every command:
//!   the uninterrupted run's result, run again, stays byte for byte the same, except for what
//!   `certs renew` and `token create` make anew on every run (below);
//! - what the state says it holds right after the kill (`kcompile state list -o json`, which
//!   reads through a committed but unfinished commit) is a committed state: no recorded item or
//!   fingerprint differs from the start's unless the killed run passed the commit point that
//!   changes it, and every item a passed commit point changes is recorded as the uninterrupted
//!   run records it (the same fingerprint wherever two uninterrupted runs agree; new keys,
//!   certificates and secrets differ from run to run, so for them it is recorded or not as
//!   there). The commit points (the renames of `journal/commit.tmp` to `journal/commit.json`;
//!   a first build has two) and the items each applies are read from the uninterrupted run's
//!   trace;
//! - nothing is lost on disk at the kill: every file the start had keeps its content unless the
//!   command changes it and the kill left the completed commit's value; no file disappears that
//!   the command keeps;
//! - nothing retired (`retired/…`) is ever overwritten or removed, and each retired file is named
//!   by its content (`retired/<path>.<first 16 hex of its sha256>`);
//! - the retry ends where an uninterrupted run ends: the same files, and the same content for
//!   every file whose content is deterministic (equal in two uninterrupted runs a second apart);
//! - material (keys, certificates, secrets) the killed run had committed is what the retry
//!   leaves, not generated again. The two exemptions: `certs renew` issues a new certificate
//!   (and with `--new-key` a new key) on every run, by design, so a retry after a kill past its
//!   commit point renews once more; nothing was built from the killed run's certificate. And
//!   `token create` makes a new bootstrap token on every run, retiring the one before (the
//!   killed run's token is then kept under `retired/`, not lost). The exempt files are measured
//!   (the second run of the uninterrupted result), and the harness requires them to be exactly
//!   the renewed certificate's, or the token and the retired copies of it, for those commands
//!   only;
//! - after the retry nothing is left over: no `journal/`, no temp file (`.tmp-*`);
//! - the refused import leaves, after the kill and after the retry, no state dir, or one that
//!   holds nothing but the lock (into no state), or the starting state unchanged: never part of
//!   an import.
//!
//! Files are compared by sha256, all but `lock` and `journal/`.
//!
//! The kills are strace's syscall tampering: `-e inject=S:signal=SIGKILL:when=N` delivers
//! SIGKILL when the N-th call of syscall S enters, before the kernel runs it. What the harness
//! relies on, checked by hand with strace 6.1 and checked again on every kill:
//!
//! - `when=N` counts the calls of S per thread, from the thread's start, and only calls that
//!   pass strace's filters (`-P`). A thread's N-th call is killed, not the process's.
//! - `-P DIR` is no use for a tree: it matches a call only when a path argument is exactly DIR,
//!   or a descriptor (fd or dirfd) refers to DIR itself. `write(fd)` or `fsync(fd)` on a file
//!   under DIR, `openat(subdir_fd, …)` and absolute paths under DIR all escape it.
//! - So the harness traces every write-like call (no `-P`) with `-y`, which prints the path
//!   behind every descriptor, resolves each call's paths itself, keeps those under the state dir,
//!   and counts per thread over all the calls of that syscall. The killed call is then read back
//!   from the injected run's own trace (the call with no result, `= ?`) and compared with the
//!   enumerated one: a kill that lands elsewhere (three tries), or a run that is not killed, is
//!   reported as an enumeration failure, never passed.
//! - strace exits by the signal that killed its tracee, so a killed run shows as SIGKILL.
//! - Not `--seccomp-bpf`: strace 6.1 then injects errors but never the signal (the run goes on).
//!   So the tracee stops at every call it makes, and a killed run costs about twice a plain one.
//!
//! Every broken case is collected and reported at the end, with the command, the syscall and
//! its index, and the path. About 1000 kills (half of them the first build's), some 5000 runs
//! of kcompile, on tmpfs, on twice as many threads as cores (a kill is a chain of short
//! processes, and strace and its tracee wait for each other): about 2.5 minutes of CPU, 1.5 to
//! 2 minutes on 2 cores. strace must be installed (`.ci/install-strace.sh`); without it the test
//! fails.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::{self, KCOMPILE, kubeadm_cluster, run_kcompile as kcompile, show_args};

/// The syscalls that can change a file or directory. `?` lets strace ignore a name the
/// architecture lacks (`open`, `rename`… on aarch64).
const WRITE_LIKE: &[&str] = &[
    "write",
    "pwrite64",
    "writev",
    "pwritev",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "symlink",
    "symlinkat",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "fchmod",
    "fchmodat",
    "chmod",
    "ftruncate",
    "truncate",
    "fallocate",
    "copy_file_range",
    "sendfile",
];

/// The spec: one control plane (also the etcd member) and one worker, ECDSA P-256 keys (fast),
/// one extra apiserver SAN (the SAN scenario adds a second), encryption at rest (so its key
/// rotates).
const SPEC: &str = "\
apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: crash
profiles: [kubeadm]
kubernetesVersion: v1.36.3
pki:
  keyAlgorithm: ECDSA-P256
  apiServerCertSANs:
    - api.crash.example.com
encryption:
  enabled: true
  provider: secretbox
hosts:
  - name: cp01
    address: 10.0.0.11
    roles: [control-plane, etcd]
  - name: w01
    address: 10.0.1.1
    roles: [worker]
";
/// The SAN line of [`SPEC`], and what the SAN scenario puts in its place.
const SAN: &str = "    - api.crash.example.com\n";
/// [`SAN`] and a second one.
const TWO_SANS: &str = "    - api.crash.example.com\n    - api2.crash.example.com\n";
/// A second etcd member (a host with only the `etcd` role), which the membership scenarios add to
/// [`SPEC`].
const SECOND_MEMBER: &str = "  - name: cp02\n    address: 10.0.0.12\n    roles: [etcd]\n";
/// The certificate `certs renew` renews (the one a SAN change reissues).
const RENEWED: &str = "cp01/apiserver";
/// The kubeadm PKI files `import --from-pki` adopts.
const KUBEADM_PKI: &[&str] = &[
    "ca.crt",
    "ca.key",
    "front-proxy-ca.crt",
    "front-proxy-ca.key",
    "etcd/ca.crt",
    "etcd/ca.key",
    "sa.key",
    "sa.pub",
];
/// The kubeadm PKI file the refused import finds unparseable, and what it holds instead. The etcd
/// CA comes second: the cluster CA is already staged when the import fails.
const BAD_KEY: (&str, &str) = (
    "etcd/ca.key",
    "-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----\n",
);

// =============================================================================================
// Running things

/// Fails (never skips) when strace is missing.
fn require_strace() -> String {
    match Command::new("strace").arg("-V").output() {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        _ => panic!(
            "strace is not installed: this test needs it to kill kcompile at each system call; \
             run `bash .ci/install-strace.sh` (as root) or `apt-get install strace`"
        ),
    }
}

/// A setup step: must succeed.
fn kcompile_ok(cwd: &Path, args: &[OsString]) -> Output {
    let output = kcompile(cwd, args);
    assert!(
        output.status.success(),
        "setup step `kcompile {}` failed ({}): {}",
        show_args(args),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The last lines of a command's stderr, for messages.
fn tail(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// `cp -a from to`: the identical starting point of each run.
fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

// =============================================================================================
// State trees

/// A state dir's regular files: relative path → sha256 (hex). Other file types get a marker.
/// Also what the state says it holds ([`view`]): item path → fingerprint.
type Tree = BTreeMap<String, String>;

/// Whether `path` (relative to the state dir) is part of the recorded state: everything but the
/// lock and the journal of an unfinished commit.
fn is_recorded(path: &str) -> bool {
    path != "lock" && path != "journal" && !path.starts_with("journal/")
}

/// How [`all_files`] lists a directory.
const DIRECTORY: &str = "directory";

/// Every file and directory under `root` (none if it does not exist), journal and lock included.
fn all_files(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, tree: &mut Tree) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                tree.insert(relative, DIRECTORY.to_owned());
                walk(root, &path, tree);
            } else if meta.is_file() {
                let bytes = fs::read(&path).unwrap_or_default();
                tree.insert(relative, format!("{:x}", Sha256::digest(&bytes)));
            } else {
                tree.insert(
                    relative,
                    format!("not a regular file ({:?})", meta.file_type()),
                );
            }
        }
    }
    let mut tree = Tree::new();
    walk(root, root, &mut tree);
    tree
}

/// The recorded state's files (no lock, no journal, no directories).
fn recorded(all: &Tree) -> Tree {
    all.iter()
        .filter(|(path, hash)| is_recorded(path) && hash.as_str() != DIRECTORY)
        .map(|(path, hash)| (path.clone(), hash.clone()))
        .collect()
}

/// [`recorded`] of the files under `root`.
fn tree(root: &Path) -> Tree {
    recorded(&all_files(root))
}

/// Key material (keys, certificates, secrets), as opposed to records (`*.json`) that may be
/// rewritten with a new timestamp.
fn is_material(path: &str) -> bool {
    !path.ends_with(".json")
}

/// What the state says it holds, item path → fingerprint: `state list -o json` (read-only; a
/// committed but unfinished commit is read through). No state dir holds nothing.
fn view(state: &Path, spec: &Path) -> Result<Tree, String> {
    if !state.exists() {
        return Ok(Tree::new());
    }
    let args: Vec<OsString> = vec![
        "state".into(),
        "list".into(),
        "-o".into(),
        "json".into(),
        "-f".into(),
        spec.into(),
        "--state".into(),
        state.into(),
    ];
    let output = kcompile(state.parent().unwrap(), &args);
    if !output.status.success() {
        return Err(format!("`state list` failed: {}", tail(&output)));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`state list -o json` is not JSON: {e}"))?;
    let items = json["items"]
        .as_array()
        .ok_or("`state list -o json` has no `items` list")?;
    items
        .iter()
        .map(
            |item| match (item["path"].as_str(), item["fingerprint"].as_str()) {
                (Some(path), Some(fingerprint)) => Ok((path.to_owned(), fingerprint.to_owned())),
                _ => Err(format!(
                    "`state list -o json`: an item without path or fingerprint: {item}"
                )),
            },
        )
        .collect()
}

/// The read-only check that must succeed on any state a kill leaves: `state check` (every
/// recorded item present, unchanged and usable). `None` when there is no state dir.
fn load_check(state: &Path, spec: &Path) -> Option<Output> {
    if !state.exists() {
        return None;
    }
    let args: Vec<OsString> = vec![
        "state".into(),
        "check".into(),
        "-f".into(),
        spec.into(),
        "--state".into(),
        state.into(),
    ];
    Some(kcompile(state.parent().unwrap(), &args))
}

// =============================================================================================
// Commands under test

/// An argument of a command under test: the state dir and the output dir differ per run.
#[derive(Clone)]
enum Arg {
    /// As is.
    Text(OsString),
    /// The run's state dir.
    State,
    /// The run's output dir.
    Out,
}

/// A state-writing command and the state it starts from.
struct Scenario {
    /// How reports name it (its arguments, short).
    name: String,
    /// The spec it is run with.
    spec: PathBuf,
    /// The state dir it starts from (`None`: no state dir yet).
    pre: Option<PathBuf>,
    /// Its arguments.
    args: Vec<Arg>,
    /// The exit code of every run of it, uninterrupted or retried: 0, or 2 for a command that
    /// must be refused.
    code: i32,
    /// The state files it makes anew on every run, finished or not (`certs renew`: the renewed
    /// certificate, and its key with `--new-key`; `token create`: the token, and the retired
    /// copy of the one before, see [`made_anew`]); none for every other command.
    anew: Vec<String>,
}

/// Whether `path` is made anew by every run of a command that makes `anew`: one of them, or a
/// retired copy of one (`retired/<path>.<hash>`: a command that replaces a secret on every run
/// retires the one before each time).
fn made_anew(anew: &[String], path: &str) -> bool {
    anew.iter().any(|file| {
        path == file
            || path
                .strip_prefix("retired/")
                .and_then(|rest| rest.strip_prefix(file.as_str()))
                .is_some_and(|suffix| suffix.starts_with('.'))
    })
}

impl Scenario {
    /// A scenario named `name` that succeeds and makes nothing anew when run again.
    fn new(name: &str, spec: &Path, pre: Option<PathBuf>, args: Vec<Arg>) -> Scenario {
        Scenario {
            name: name.to_owned(),
            spec: spec.to_owned(),
            pre,
            args,
            code: 0,
            anew: Vec::new(),
        }
    }

    /// Its arguments for a run on `state`, writing bundles to `out`.
    fn args(&self, state: &Path, out: &Path) -> Vec<OsString> {
        self.args
            .iter()
            .map(|arg| match arg {
                Arg::Text(text) => text.clone(),
                Arg::State => state.into(),
                Arg::Out => out.into(),
            })
            .collect()
    }

    /// A run dir (`dir/state` a copy of the starting state, `dir/out` for bundles).
    fn start(&self, dir: &Path) -> (PathBuf, PathBuf) {
        fs::create_dir_all(dir).unwrap();
        let state = dir.join("state");
        if let Some(pre) = &self.pre {
            copy_tree(pre, &state);
        }
        (state, dir.join("out"))
    }
}

/// Literal arguments.
fn text(items: &[&str]) -> Vec<Arg> {
    items.iter().map(|item| Arg::Text(item.into())).collect()
}

/// `-f SPEC --state STATE`.
fn spec_args(spec: &Path) -> Vec<Arg> {
    vec![
        Arg::Text("-f".into()),
        Arg::Text(spec.into()),
        Arg::Text("--state".into()),
        Arg::State,
    ]
}

/// `build -f SPEC --state STATE --all --out OUT`.
fn build_args(spec: &Path) -> Vec<Arg> {
    let mut args = text(&["build"]);
    args.extend(spec_args(spec));
    args.extend([
        Arg::Text("--all".into()),
        Arg::Text("--out".into()),
        Arg::Out,
    ]);
    args
}

/// `import --from-pki PKI -f SPEC --state STATE`.
fn import_args(pki: &Path, spec: &Path) -> Vec<Arg> {
    let mut args = text(&["import", "--from-pki"]);
    args.push(Arg::Text(pki.into()));
    args.extend(spec_args(spec));
    args
}

/// The temp root of all runs: on tmpfs where there is one (fsync is free there; a state on disk
/// makes every run several times slower).
fn scratch_root() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if let Ok(dir) = tempfile::Builder::new()
        .prefix("kcompile-crash-")
        .tempdir_in(shm)
    {
        return dir;
    }
    tempfile::Builder::new()
        .prefix("kcompile-crash-")
        .tempdir()
        .unwrap()
}

/// Runs `args` (a setup step, which must succeed) on the state `dir/state`.
fn setup_step(spec: &Path, dir: &Path, args: &[Arg]) {
    let scenario = Scenario::new("setup", spec, None, args.to_vec());
    kcompile_ok(dir, &scenario.args(&dir.join("state"), &dir.join("out")));
}

/// The three phases of the rotation of `what`, each followed by a build of every host as an
/// operator does (the next phase waits for it): a scenario per phase, each starting from a
/// snapshot of the state before it, taken in `snapshots`. Starts from a copy of `built`.
fn rotation(what: &str, spec: &Path, built: &Path, dir: &Path, snapshots: &Path) -> Vec<Scenario> {
    fs::create_dir_all(dir).unwrap();
    copy_tree(built, &dir.join("state"));
    let mut scenarios = Vec::new();
    for phase in 1..=3 {
        let pre = snapshots.join(format!("{what}-{phase}"));
        copy_tree(&dir.join("state"), &pre);
        let mut args = text(&["rotate", what, "--phase", &phase.to_string()]);
        if phase == 3 {
            args.extend(text(&["--acknowledge"]));
        }
        args.extend(spec_args(spec));
        setup_step(spec, dir, &args);
        setup_step(spec, dir, &build_args(spec));
        let name = format!("rotate {what} --phase {phase}");
        scenarios.push(Scenario::new(&name, spec, Some(pre), args));
    }
    scenarios
}

/// The etcd membership steps, each from the state the one before it left: a build that adds
/// cp02 as a joining member (from `built`), `etcd joined cp02`, `etcd replace cp02` (which a
/// 2-member cluster allows only with `--allow-quorum-loss`), and, after a build without cp02
/// (`--allow-quorum-loss` too), `etcd removed cp02`.
fn membership(
    spec: &Path,
    two: &Path,
    built: &Path,
    dir: &Path,
    snapshots: &Path,
) -> Vec<Scenario> {
    fs::create_dir_all(dir).unwrap();
    copy_tree(built, &dir.join("state"));
    let mut scenarios = vec![Scenario::new(
        "build (a new etcd member)",
        two,
        Some(built.to_owned()),
        build_args(two),
    )];
    setup_step(two, dir, &build_args(two));
    let mut step = |name: &str, spec: &Path, args: Vec<Arg>| {
        let pre = snapshots.join(format!("etcd-{}", scenarios.len()));
        copy_tree(&dir.join("state"), &pre);
        setup_step(spec, dir, &args);
        scenarios.push(Scenario::new(name, spec, Some(pre), args));
    };
    let mut joined = text(&["etcd", "joined", "cp02"]);
    joined.extend(spec_args(two));
    step("etcd joined cp02", two, joined);
    let mut replace = text(&["etcd", "replace", "cp02", "--allow-quorum-loss"]);
    replace.extend(spec_args(two));
    let replaced = snapshots.join("etcd-replace");
    copy_tree(&dir.join("state"), &replaced);
    scenarios.push(Scenario::new(
        "etcd replace cp02 --allow-quorum-loss",
        two,
        Some(replaced),
        replace,
    ));
    let mut shrink = build_args(spec);
    shrink.extend(text(&["--allow-quorum-loss"]));
    setup_step(spec, dir, &shrink);
    let mut removed = text(&["etcd", "removed", "cp02"]);
    removed.extend(spec_args(spec));
    let mut step = |name: &str, spec: &Path, args: Vec<Arg>| {
        let pre = snapshots.join(format!("etcd-{}", scenarios.len()));
        copy_tree(&dir.join("state"), &pre);
        setup_step(spec, dir, &args);
        scenarios.push(Scenario::new(name, spec, Some(pre), args));
    };
    step("etcd removed cp02", spec, removed);
    scenarios
}

/// Builds the starting states (a first build; each rotation phase followed by a build of every
/// host, the three rotations side by side, each from a copy of the first build; the etcd
/// membership steps) and returns every scenario.
fn scenarios(root: &Path) -> Vec<Scenario> {
    let setup = root.join("setup");
    let snapshots = root.join("snapshots");
    fs::create_dir_all(&setup).unwrap();
    fs::create_dir_all(&snapshots).unwrap();
    let spec = root.join("cluster.yaml");
    fs::write(&spec, SPEC).unwrap();
    let san_spec = root.join("cluster-san.yaml");
    fs::write(&san_spec, SPEC.replacen(SAN, TWO_SANS, 1)).unwrap();
    let two_members = root.join("cluster-two-members.yaml");
    fs::write(&two_members, format!("{SPEC}{SECOND_MEMBER}")).unwrap();

    // The first build.
    let first = setup.join("first");
    fs::create_dir_all(&first).unwrap();
    setup_step(&spec, &first, &build_args(&spec));
    let built = snapshots.join("built");
    copy_tree(&first.join("state"), &built);

    // The rotations, each on its own copy of the first build.
    let rotations: Vec<Scenario> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["sa-key", "encryption-key", "cluster-ca"]
            .into_iter()
            .map(|what| {
                let (spec, built, snapshots) = (&spec, &built, &snapshots);
                let dir = setup.join(what);
                scope.spawn(move || rotation(what, spec, built, &dir, snapshots))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    });

    // A kubeadm PKI directory to import: the built state's CAs and service-account key pair; and
    // a copy of it with one key that does not parse.
    let pki = root.join("kubeadm-pki");
    let bad_pki = root.join("kubeadm-pki-bad");
    for file in KUBEADM_PKI {
        for dir in [&pki, &bad_pki] {
            let to = dir.join(file);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(built.join("pki").join(file), to).unwrap();
        }
    }
    fs::write(bad_pki.join(BAD_KEY.0), BAD_KEY.1).unwrap();

    let mut all = vec![
        Scenario::new("build (first)", &spec, None, build_args(&spec)),
        Scenario::new(
            "build (a new SAN)",
            &san_spec,
            Some(built.clone()),
            build_args(&san_spec),
        ),
    ];
    for new_key in [false, true] {
        let mut args = text(&["certs", "renew", RENEWED]);
        let mut anew = vec![format!("hosts/{RENEWED}.crt")];
        if new_key {
            args.extend(text(&["--new-key"]));
            anew.push(format!("hosts/{RENEWED}.key"));
        }
        args.extend(spec_args(&spec));
        let name = format!(
            "certs renew {RENEWED}{}",
            if new_key { " --new-key" } else { "" }
        );
        all.push(Scenario {
            anew,
            ..Scenario::new(&name, &spec, Some(built.clone()), args)
        });
    }
    all.extend(rotations);
    // `token create` makes a fresh bootstrap token on every run, retiring the one before.
    let mut token_args = text(&["token", "create", "--ttl", "2h"]);
    token_args.extend(spec_args(&spec));
    all.push(Scenario {
        anew: vec!["secrets/bootstrap-token".to_owned()],
        ..Scenario::new("token create", &spec, Some(built.clone()), token_args)
    });
    all.extend(membership(
        &spec,
        &two_members,
        &built,
        &setup.join("membership"),
        &snapshots,
    ));
    all.push(Scenario::new(
        "import --from-pki (no state)",
        &spec,
        None,
        import_args(&pki, &spec),
    ));
    // A kubeadm cluster to adopt into no state; each run writes its spec in its own dir.
    let roots = root.join("kubeadm-roots");
    kubeadm_cluster::kubeadm_cluster(&roots);
    let mut adopt_args = text(&["adopt", "--roots"]);
    adopt_args.push(Arg::Text(roots.into()));
    adopt_args.extend(text(&["-f", "adopted.yaml", "--state"]));
    adopt_args.push(Arg::State);
    all.push(Scenario::new("adopt (no state)", &spec, None, adopt_args));
    for (pre, start) in [(None, "no state"), (Some(built.clone()), "built state")] {
        let name = format!("import --from-pki, a bad {} ({start})", BAD_KEY.0);
        all.push(Scenario {
            code: 2,
            ..Scenario::new(&name, &spec, pre, import_args(&bad_pki, &spec))
        });
    }
    all
}
// =============================================================================================
// strace's output

/// One system call from an strace log.
#[derive(Clone, Debug)]
struct Call {
    /// The thread that made it.
    tid: u32,
    /// The syscall.
    name: String,
    /// Top-level arguments as strace printed them.
    args: Vec<String>,
    /// The result (`0`, `-1 ENOENT (…)`, `?` for a call killed on entry); empty if the log ends
    /// before it.
    result: String,
    /// Index of this call among the calls of its syscall in its thread, from 1: strace's `when=`.
    nth: usize,
}

/// Splits `text` (what follows `name(`) into top-level arguments, up to the closing `)`.
/// Returns them and the rest of the line after `)` (empty if none).
fn split_args(text: &str) -> (Vec<String>, &str) {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if quoted {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                current.push(c);
            }
            '(' | '[' | '{' | '<' => {
                depth += 1;
                current.push(c);
            }
            ']' | '}' | '>' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ')' if depth == 0 => {
                if !current.trim().is_empty() {
                    args.push(current.trim().to_owned());
                }
                return (args, &text[i + 1..]);
            }
            ')' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => {
                args.push(current.trim().to_owned());
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        args.push(current.trim().to_owned());
    }
    (args, "")
}

/// Parses an `strace -f -y -o FILE` log (pid-prefixed lines; `<unfinished ...>` and
/// `<... resumed>` pairs when threads interleave).
fn parse_log(log: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut counts: BTreeMap<(u32, String), usize> = BTreeMap::new();
    let mut unfinished: BTreeMap<u32, usize> = BTreeMap::new();
    for line in log.lines() {
        let Some((tid, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(tid) = tid.parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            if let (Some(index), Some((_, after))) =
                (unfinished.remove(&tid), resumed.split_once(" resumed>"))
            {
                let result = after.rsplit_once(" = ").map_or("", |(_, r)| r);
                result.trim().clone_into(&mut calls[index].result);
            }
            continue;
        }
        let Some((name, after)) = rest.split_once('(') else {
            continue;
        };
        let (body, is_unfinished) = match after.strip_suffix(" <unfinished ...>") {
            Some(body) => (body, true),
            None => (after, false),
        };
        let (args, tail) = split_args(body);
        let result = tail
            .rsplit_once(" = ")
            .map_or("", |(_, r)| r)
            .trim()
            .to_owned();
        let count = counts.entry((tid, name.to_owned())).or_default();
        *count += 1;
        if is_unfinished {
            unfinished.insert(tid, calls.len());
        }
        calls.push(Call {
            tid,
            name: name.to_owned(),
            args,
            result,
            nth: *count,
        });
    }
    calls
}

/// The path of a `-y` descriptor argument (`3</a/b>`, `AT_FDCWD</cwd>`).
fn fd_path(arg: &str) -> Option<String> {
    let start = arg.find('<')?;
    let end = arg.rfind('>')?;
    (end > start).then(|| arg[start + 1..end].to_owned())
}

/// The string of a quoted path argument (strace's C escapes for `\"` and `\\` undone).
fn string_arg(arg: &str) -> Option<String> {
    let body = arg.strip_prefix('"')?;
    let body = &body[..body.rfind('"')?];
    Some(body.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// `path` resolved against the directory of `dirfd` (a `-y` argument) when relative.
fn resolve(dirfd: Option<&str>, path: &str) -> Option<String> {
    if path.starts_with('/') {
        return Some(path.to_owned());
    }
    let dir = fd_path(dirfd?)?;
    Some(format!("{}/{path}", dir.trim_end_matches('/')))
}

impl Call {
    /// Argument `index`, as strace printed it.
    fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(String::as_str)
    }

    /// The absolute paths the call changes (or, for fsync-like calls, makes durable).
    fn paths(&self) -> Vec<String> {
        let fd = |i: usize| self.arg(i).and_then(fd_path);
        let path = |i: usize| self.arg(i).and_then(string_arg);
        let at = |dirfd: usize, i: usize| path(i).and_then(|p| resolve(self.arg(dirfd), &p));
        let found = match self.name.as_str() {
            "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "fsync" | "fdatasync"
            | "sync_file_range" | "fchmod" | "ftruncate" | "fallocate" | "sendfile" => {
                vec![fd(0)]
            }
            "copy_file_range" => vec![fd(2)],
            "open" | "creat" | "mkdir" | "rmdir" | "unlink" | "chmod" | "truncate" => {
                vec![path(0)]
            }
            "rename" | "link" => vec![path(0), path(1)],
            "symlink" => vec![path(1)],
            "openat" | "openat2" | "mkdirat" | "unlinkat" | "fchmodat" => vec![at(0, 1)],
            "renameat" | "renameat2" | "linkat" => vec![at(0, 1), at(2, 3)],
            "symlinkat" => vec![at(1, 2)],
            _ => Vec::new(),
        };
        found.into_iter().flatten().collect()
    }

    /// Whether the call can change a file: every call of [`WRITE_LIKE`], but an open only when it
    /// creates or truncates.
    fn is_write_like(&self) -> bool {
        match self.name.as_str() {
            "open" | "openat" | "openat2" => self
                .args
                .iter()
                .any(|arg| arg.contains("O_CREAT") || arg.contains("O_TRUNC")),
            name => WRITE_LIKE.contains(&name),
        }
    }

    /// The call's paths relative to `state` if any is in it.
    fn in_state(&self, state: &str) -> Option<Vec<String>> {
        let paths = self.paths();
        let inside = |path: &String| path == state || path.starts_with(&format!("{state}/"));
        paths.iter().any(inside).then(|| {
            paths
                .iter()
                .map(|path| match path.strip_prefix(state) {
                    Some("") => ".".to_owned(),
                    Some(rest) if rest.starts_with('/') => rest[1..].to_owned(),
                    _ => path.clone(),
                })
                .collect()
        })
    }

    /// How reports name it: `renameat(journal/3, pki/ca.key)`. The state code names every file
    /// the same way in every run (staged files by index, retired ones by content), so this also
    /// identifies the call across runs.
    fn describe(&self, state: &str) -> String {
        let paths = self.in_state(state).unwrap_or_default();
        format!("{}({})", self.name, paths.join(", "))
    }

    /// Whether the call is a commit point: the rename of `journal/commit.tmp` to
    /// `journal/commit.json`.
    fn is_commit_point(&self, state: &str) -> bool {
        self.name.starts_with("rename")
            && self
                .in_state(state)
                .is_some_and(|paths| paths == ["journal/commit.tmp", "journal/commit.json"])
    }
}

/// One kill: the `nth` call of `syscall` in its thread, the `state_nth` write-like call of that
/// syscall on the state dir in that thread.
#[derive(Clone, Debug)]
struct Kill {
    /// The syscall (`renameat`).
    syscall: String,
    /// strace's `when=`: the call's index among its thread's calls of `syscall`, from 1.
    nth: usize,
    /// Its index among its thread's write-like calls of `syscall` on the state dir, from 1.
    state_nth: usize,
    /// What the call does ([`Call::describe`]).
    what: String,
    /// Its place among all the command's write-like calls on the state dir, from 1.
    order: usize,
    /// The commit points the command passed before this call (a call killed on entry has not
    /// run: killed at a commit point, the command has not passed it).
    commits_before: usize,
}

/// The write-like calls on the state dir in a log, in order, as kills; and per commit point, the
/// state paths the calls after it change until the next one: the items that commit applies.
fn kills(calls: &[Call], state: &str) -> (Vec<Kill>, Vec<BTreeSet<String>>) {
    let mut state_counts: BTreeMap<(u32, String), usize> = BTreeMap::new();
    let mut kills = Vec::new();
    let mut commits: Vec<BTreeSet<String>> = Vec::new();
    for call in calls {
        if !call.is_write_like() {
            continue;
        }
        let Some(paths) = call.in_state(state) else {
            continue;
        };
        let count = state_counts
            .entry((call.tid, call.name.clone()))
            .or_default();
        *count += 1;
        kills.push(Kill {
            syscall: call.name.clone(),
            nth: call.nth,
            state_nth: *count,
            what: call.describe(state),
            order: kills.len() + 1,
            commits_before: commits.len(),
        });
        if call.is_commit_point(state) {
            commits.push(BTreeSet::new());
        } else if let Some(commit) = commits.last_mut() {
            commit.extend(paths.into_iter().filter(|path| is_recorded(path)));
        }
    }
    (kills, commits)
}

// =============================================================================================
// One scenario: its uninterrupted runs and the kills to make

/// A scenario measured: its starting state, two uninterrupted runs and the calls to kill at.
struct Plan {
    /// The command and its start.
    scenario: Scenario,
    /// The starting state's files, lock included ([`all_files`]).
    before_all: Tree,
    /// The starting state's recorded files.
    before: Tree,
    /// What the starting state says it holds ([`view`]).
    before_view: Tree,
    /// Two uninterrupted runs from the same start, a second apart: files they agree on are
    /// deterministic.
    uninterrupted: [Tree; 2],
    /// What the state says it holds after each ([`view`]).
    uninterrupted_view: [Tree; 2],
    /// Material the command makes anew each time it runs, measured: what a second run on the
    /// result of an uninterrupted run changes. Exactly [`Scenario::anew`].
    regenerated: BTreeSet<String>,
    /// Per commit point of the command, in order: the state paths it changes (see [`kills`]).
    commits: Vec<BTreeSet<String>>,
    /// Every write-like call the command makes on the state dir, in order.
    kills: Vec<Kill>,
    /// Write-like calls on the state dir per syscall, for the summary.
    counts: BTreeMap<String, usize>,
    /// How many kills another thread could reach first (it also makes `nth` calls of the
    /// syscall): where each kill lands is checked anyway.
    ambiguous: usize,
}

/// The strace arguments that trace `syscalls` with paths, following threads, into `log`.
fn strace_args(log: &Path, syscalls: &str) -> Vec<OsString> {
    vec![
        "-f".into(),
        "-qq".into(),
        "-y".into(),
        "-e".into(),
        format!("trace={syscalls}").into(),
        "-o".into(),
        log.into(),
    ]
}

/// The exit code of a run, for messages: `exit 2`, or the signal.
fn how_ended(output: &Output) -> String {
    match (output.status.code(), output.status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => output.status.to_string(),
    }
}

/// Measures `scenario` in `dir`: one uninterrupted run under strace (its write-like calls on the
/// state dir are the kills, its renames of the commit record the commit points), the same
/// command again on its result (a no-op, or what it makes anew), and a second uninterrupted run
/// a second later (what is deterministic). Panics when the command does not behave as the
/// scenario says.
fn plan(scenario: Scenario, dir: &Path) -> Plan {
    let name = &scenario.name;
    let expect = |output: &Output, what: &str| {
        assert_eq!(
            output.status.code(),
            Some(scenario.code),
            "[{name}] {what} ended with {}, not exit {}: {}",
            how_ended(output),
            scenario.code,
            tail(output)
        );
    };
    let before_all = scenario.pre.as_deref().map(all_files).unwrap_or_default();
    let before = recorded(&before_all);
    let before_view = match &scenario.pre {
        Some(pre) => view(pre, &scenario.spec).unwrap_or_else(|e| panic!("[{name}] {e}")),
        None => Tree::new(),
    };
    // Run 1, under strace: the calls.
    let (state, out) = scenario.start(&dir.join("enumerate"));
    let log = dir.join("enumerate.log");
    let traced: Vec<String> = WRITE_LIKE.iter().map(|name| format!("?{name}")).collect();
    let output = common::isolated("strace", dir)
        .args(strace_args(&log, &traced.join(",")))
        .arg(KCOMPILE)
        .args(scenario.args(&state, &out))
        .output()
        .unwrap();
    expect(&output, "the uninterrupted run");
    let first = tree(&state);
    let first_view = view(&state, &scenario.spec).unwrap_or_else(|e| panic!("[{name}] {e}"));

    // The same command again on the finished state: it changes nothing but what it makes anew
    // on every run, and the issue records and inventory entries of those.
    let rerun = kcompile(dir, &scenario.args(&state, &out));
    expect(&rerun, "the same command run again on its own result");
    let again = tree(&state);
    let changed: BTreeSet<&String> = first
        .keys()
        .chain(again.keys())
        .filter(|path| first.get(*path) != again.get(*path))
        .collect();
    let regenerated: BTreeSet<String> = changed
        .iter()
        .filter(|path| is_material(path))
        .map(|path| (*path).clone())
        .collect();
    let anew: BTreeSet<String> = scenario.anew.iter().cloned().collect();
    let unexpected_material: Vec<&String> = regenerated
        .iter()
        .filter(|path| !made_anew(&scenario.anew, path))
        .collect();
    let not_made: Vec<&String> = anew.difference(&regenerated).collect();
    assert!(
        unexpected_material.is_empty() && not_made.is_empty(),
        "[{name}] run again on its own result, the command made new material other than expected: \
         unexpected {unexpected_material:?}, expected but not made {not_made:?}"
    );
    let record_of_anew = |path: &str| {
        anew.iter()
            .any(|file| Path::new(file).with_extension("json") == Path::new(path))
    };
    let unexpected: Vec<&&String> = changed
        .iter()
        .filter(|path| !is_material(path))
        .filter(|path| {
            anew.is_empty() || (path.as_str() != "inventory.json" && !record_of_anew(path))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "[{name}] run again on its own result, the command changed {unexpected:?}: a finished command run again must change nothing"
    );

    let calls = parse_log(&fs::read_to_string(&log).unwrap());
    let state_path = state.to_string_lossy().into_owned();
    let (kills, commits) = kills(&calls, &state_path);
    // Every item the command changes is applied after a commit point.
    let applied: BTreeSet<&String> = commits.iter().flatten().collect();
    let unexplained: Vec<&String> = before_view
        .keys()
        .chain(first_view.keys())
        .filter(|path| before_view.get(*path) != first_view.get(*path))
        .filter(|path| !applied.contains(path))
        .collect();
    assert!(
        unexplained.is_empty(),
        "[{name}] items changed by the command that no call after a commit point touches: {unexplained:?} (the commit points are `rename(journal/commit.tmp, journal/commit.json)`)"
    );
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for kill in &kills {
        *counts.entry(kill.syscall.clone()).or_default() += 1;
    }
    let mut per_thread: BTreeMap<(u32, &str), usize> = BTreeMap::new();
    for call in &calls {
        *per_thread
            .entry((call.tid, call.name.as_str()))
            .or_default() += 1;
    }
    let ambiguous = kills
        .iter()
        .filter(|kill| {
            per_thread
                .iter()
                .filter(|((_, name), count)| *name == kill.syscall && **count >= kill.nth)
                .count()
                > 1
        })
        .count();
    // Run 2, a second later (timestamps differ), without strace.
    std::thread::sleep(Duration::from_millis(1100));
    let (state, out) = scenario.start(&dir.join("again"));
    let output = kcompile(dir, &scenario.args(&state, &out));
    expect(&output, "the second uninterrupted run");
    let second = tree(&state);
    let second_view = view(&state, &scenario.spec).unwrap_or_else(|e| panic!("[{name}] {e}"));
    fs::remove_dir_all(dir).unwrap();
    Plan {
        scenario,
        before_all,
        before,
        before_view,
        uninterrupted: [first, second],
        uninterrupted_view: [first_view, second_view],
        regenerated,
        commits,
        kills,
        counts,
        ambiguous,
    }
}

// =============================================================================================
// One kill: the invariants

/// What a killed run and its retry left.
struct Aftermath {
    /// The commit points the killed run had passed ([`Kill::commits_before`]).
    commits_before: usize,
    /// Every file and directory right after the kill ([`all_files`]).
    killed_all: Tree,
    /// The recorded files right after the kill.
    killed: Tree,
    /// What the state said it held right after the kill ([`view`]).
    killed_view: Result<Tree, String>,
    /// The read-only check right after the kill (`None`: no state dir).
    killed_load: Option<Output>,
    /// The retry: the same command again.
    retry: Output,
    /// Every file and directory after the retry.
    retried_all: Tree,
    /// The recorded files after the retry.
    retried: Tree,
    /// What the state said it held after the retry ([`view`]); read only when the kill left a
    /// fingerprint other than the start's, which is all [`committed_material_kept`] compares.
    retried_view: Option<Result<Tree, String>>,
    /// The read-only check after the retry (`None`: no state dir).
    retried_load: Option<Output>,
}

/// The state loads (`state check` exits 0) after the kill and after the retry.
fn state_loads(after: &Aftermath) -> Vec<String> {
    let mut problems = Vec::new();
    for (when, output) in [
        ("after the kill", after.killed_load.as_ref()),
        ("after the retry", after.retried_load.as_ref()),
    ] {
        if let Some(output) = output.filter(|output| !output.status.success()) {
            problems.push(format!(
                "the state does not load {when} ({}): {}",
                how_ended(output),
                tail(output)
            ));
        }
    }
    problems
}

/// The retry (the same command again, which recovers the killed run) exits as the uninterrupted
/// run does: a finished command run again is a no-op that succeeds.
fn retry_exits_as_uninterrupted(plan: &Plan, after: &Aftermath) -> Vec<String> {
    if after.retry.status.code() == Some(plan.scenario.code) {
        return Vec::new();
    }
    vec![format!(
        "the retry ended with {}, the uninterrupted run with exit {}: {}",
        how_ended(&after.retry),
        plan.scenario.code,
        tail(&after.retry)
    )]
}

/// A fingerprint for messages.
fn shown(fingerprint: Option<&String>) -> &str {
    fingerprint.map_or("not recorded", String::as_str)
}

/// What the state says it holds right after the kill is a committed state: every item not
/// changed by a commit the killed run reached holds the start's fingerprint (or stays
/// unrecorded); every item changed by one is recorded as the uninterrupted run records it (the
/// same fingerprint wherever the two uninterrupted runs agree). So before the first commit point
/// nothing recorded changed at all.
fn view_is_committed(plan: &Plan, after: &Aftermath) -> Vec<String> {
    let killed = match &after.killed_view {
        Ok(killed) => killed,
        Err(error) => {
            return vec![format!(
                "cannot read what the state holds after the kill: {error}"
            )];
        }
    };
    let reached = after.commits_before;
    let total = plan.commits.len();
    let done: BTreeSet<&String> = plan.commits[..reached].iter().flatten().collect();
    let later: BTreeSet<&String> = plan.commits[reached..].iter().flatten().collect();
    let [first, second] = &plan.uninterrupted_view;
    let paths: BTreeSet<&String> = plan
        .before_view
        .keys()
        .chain(first.keys())
        .chain(killed.keys())
        .collect();
    let mut problems = Vec::new();
    for path in paths {
        let now = killed.get(path);
        if !done.contains(path) {
            let start = plan.before_view.get(path);
            if now != start {
                problems.push(format!(
                    "`{path}` changed at the kill (at the start: {}; after the kill: {}), though the killed run had not passed a commit point that changes it ({reached} of {total} passed)",
                    shown(start),
                    shown(now)
                ));
            }
            continue;
        }
        if later.contains(path) {
            // Changed by a commit the run passed and by one it did not: either value.
            continue;
        }
        let end = first.get(path);
        let deterministic = second.get(path) == end;
        match (now, end) {
            (None, None) => {}
            (Some(now), Some(end)) if now == end || !deterministic => {}
            _ => problems.push(format!(
                "`{path}` after the kill: {}; after the uninterrupted run: {}; though the killed run had passed the commit point that records it ({reached} of {total} passed)",
                shown(now),
                shown(end)
            )),
        }
    }
    problems
}

/// Every file the starting state had still has its content after the kill, unless the
/// uninterrupted run changes it too and the kill left the new value of a completed commit: the
/// uninterrupted run's where it is deterministic, else (material) the one the retry keeps. A
/// record that changes every run (a timestamp), or material the command makes anew each run, may
/// hold any new value: the load check and [`view_is_committed`] judge it. No file disappears
/// unless the uninterrupted run removes it.
fn nothing_lost_at_kill(plan: &Plan, after: &Aftermath) -> Vec<String> {
    let [reference, other] = &plan.uninterrupted;
    let mut problems = Vec::new();
    for (path, old) in &plan.before {
        let changed_by_command = reference.get(path) != Some(old);
        match after.killed.get(path) {
            Some(now) if now == old => {}
            Some(_) if !changed_by_command => problems.push(format!(
                "`{path}` was changed by the killed run, though the command leaves it alone"
            )),
            Some(now) => {
                let committed = if reference.get(path) == other.get(path) {
                    reference.get(path)
                } else if is_material(path) && !plan.regenerated.contains(path) {
                    after.retried.get(path)
                } else {
                    Some(now)
                };
                if committed != Some(now) {
                    problems.push(format!(
                        "`{path}` holds neither its old content nor the committed new one after the kill"
                    ));
                }
            }
            None if reference.contains_key(path) => problems.push(format!(
                "`{path}` disappeared after the kill (the uninterrupted run keeps it)"
            )),
            None => {}
        }
    }
    problems
}

/// A retired file, once there, keeps its content forever: through the kill and the retry. Each
/// is named by its content: `retired/<path>.<first 16 hex digits of its sha256>`.
fn retired_kept(plan: &Plan, after: &Aftermath) -> Vec<String> {
    let mut problems = Vec::new();
    let retired = |tree: &Tree| -> Tree {
        tree.iter()
            .filter(|(path, _)| path.starts_with("retired/"))
            .map(|(path, hash)| (path.clone(), hash.clone()))
            .collect()
    };
    for (when, earlier, later) in [
        ("the kill", retired(&plan.before), &after.killed),
        ("the retry", retired(&plan.before), &after.retried),
        ("the retry", retired(&after.killed), &after.retried),
    ] {
        for (path, hash) in &earlier {
            match later.get(path) {
                Some(now) if now == hash => {}
                Some(_) => problems.push(format!("retired `{path}` was overwritten by {when}")),
                None => problems.push(format!("retired `{path}` was removed by {when}")),
            }
        }
    }
    for (path, hash) in retired(&after.killed)
        .iter()
        .chain(&retired(&after.retried))
    {
        let named = path
            .rsplit_once('.')
            .is_some_and(|(_, suffix)| hash.get(..16) == Some(suffix));
        if !named {
            problems.push(format!(
                "retired `{path}` is not named by its content (sha256 {}…)",
                hash.get(..16).unwrap_or(hash)
            ));
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// After the retry the state has the uninterrupted run's files, and every file whose content is
/// deterministic (the same in both uninterrupted runs) has that content.
fn retry_matches_uninterrupted(plan: &Plan, after: &Aftermath) -> Vec<String> {
    let [reference, other] = &plan.uninterrupted;
    let mut problems = Vec::new();
    for (path, hash) in reference {
        match after.retried.get(path) {
            None => problems.push(format!(
                "`{path}` is missing after the retry (the uninterrupted run has it)"
            )),
            Some(now) if other.get(path) == Some(hash) && now != hash => problems.push(format!(
                "`{path}` differs from the uninterrupted run's (deterministic) content"
            )),
            Some(_) => {}
        }
    }
    // Temp files have their own invariant; a retry of a command that makes material anew on
    // every run retires what the killed run committed.
    let extra = after.retried.keys().filter(|path| {
        !reference.contains_key(*path) && !is_temp(path) && !made_anew(&plan.scenario.anew, path)
    });
    for path in extra {
        problems.push(format!(
            "`{path}` exists after the retry but not after the uninterrupted run"
        ));
    }
    problems
}

/// Material the killed run had committed (recorded with a new fingerprint after the kill) is
/// what the retry leaves: the retry does not generate it again, except what the command makes
/// anew every run ([`Plan::regenerated`]).
fn committed_material_kept(plan: &Plan, after: &Aftermath) -> Vec<String> {
    let (Ok(killed), Some(retried)) = (&after.killed_view, &after.retried_view) else {
        // Unreadable after the kill: [`view_is_committed`] says so. Not read after the retry:
        // nothing was committed.
        return Vec::new();
    };
    let retried = match retried {
        Ok(retried) => retried,
        Err(error) => {
            return vec![format!(
                "cannot read what the state holds after the retry: {error}"
            )];
        }
    };
    let mut problems = Vec::new();
    for (path, committed) in killed {
        if !is_material(path)
            || plan.regenerated.contains(path)
            || plan.before_view.get(path) == Some(committed)
        {
            continue;
        }
        match retried.get(path) {
            Some(now) if now == committed => {}
            Some(_) => problems.push(format!(
                "`{path}`, committed by the killed run, was generated again by the retry"
            )),
            None => problems.push(format!(
                "`{path}`, committed by the killed run, is gone after the retry"
            )),
        }
    }
    problems
}

/// Whether `path` is a temp file (`.tmp-*`) or in a temp dir.
fn is_temp(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with(".tmp-"))
}

/// After the retry nothing of a commit is left: no `journal/`, no temp file (`.tmp-*`).
fn nothing_left_over(after: &Aftermath) -> Vec<String> {
    after
        .retried_all
        .keys()
        .filter(|path| is_temp(path) || (!is_recorded(path) && path.as_str() != "lock"))
        .map(|path| format!("`{path}` left after the retry"))
        .collect()
}

/// A refused command (exit 2) leaves the state dir as it found it, after the kill and after the
/// retry: no state dir, or one holding nothing but the lock, when there was none; the starting
/// state's files otherwise. Never part of what it was refused.
fn refused_changes_nothing(plan: &Plan, after: &Aftermath) -> Vec<String> {
    if plan.scenario.code == 0 {
        return Vec::new();
    }
    let mut problems = Vec::new();
    let without_lock = |all: &Tree| -> Tree {
        all.iter()
            .filter(|(path, _)| path.as_str() != "lock")
            .map(|(path, hash)| (path.clone(), hash.clone()))
            .collect()
    };
    let start = without_lock(&plan.before_all);
    for (when, all) in [
        ("the kill", &after.killed_all),
        ("the retry", &after.retried_all),
    ] {
        let now = without_lock(all);
        let paths: BTreeSet<&String> = start.keys().chain(now.keys()).collect();
        for path in paths {
            match (start.get(path), now.get(path)) {
                (Some(old), Some(new)) if old == new => {}
                (None, Some(_)) => problems.push(format!("`{path}` was made by {when}")),
                (Some(_), None) => problems.push(format!("`{path}` was removed by {when}")),
                _ => problems.push(format!("`{path}` was changed by {when}")),
            }
        }
    }
    problems
}

/// An invariant: the problems it finds in what a kill and its retry left.
type Invariant = fn(&Plan, &Aftermath) -> Vec<String>;

/// Every invariant, by name.
const INVARIANTS: &[(&str, Invariant)] = &[
    ("state loads", |_, after| state_loads(after)),
    (
        "retry exits as the uninterrupted run",
        retry_exits_as_uninterrupted,
    ),
    (
        "the state after the kill is a committed one",
        view_is_committed,
    ),
    ("nothing lost at the kill", nothing_lost_at_kill),
    ("retired kept, named by content", retired_kept),
    (
        "retry ends like an uninterrupted run",
        retry_matches_uninterrupted,
    ),
    ("committed material kept", committed_material_kept),
    ("nothing left over", |_, after| nothing_left_over(after)),
    ("a refused command changes nothing", refused_changes_nothing),
];

// =============================================================================================
// One kill: running it

/// A broken case.
struct Failure {
    /// The command.
    scenario: String,
    /// Where it was killed.
    kill: String,
    /// The invariant broken.
    invariant: &'static str,
    /// How, and which path.
    problem: String,
}

/// Where the injected run was killed, read back from its trace: the call of the kill's syscall
/// whose per-thread index is the kill's and which never returned.
fn killed_call(log: &str, kill: &Kill, state: &str) -> Result<(), String> {
    let calls = parse_log(log);
    let Some(call) = calls.iter().find(|call| {
        call.name == kill.syscall
            && call.nth == kill.nth
            && (call.result.is_empty() || call.result == "?")
    }) else {
        return Err(format!(
            "no {} call #{} was killed on entry",
            kill.syscall, kill.nth
        ));
    };
    let what = call.describe(state);
    let state_nth = calls
        .iter()
        .filter(|c| c.tid == call.tid && c.name == call.name && c.nth <= call.nth)
        .filter(|c| c.is_write_like() && c.in_state(state).is_some())
        .count();
    if what != kill.what || state_nth != kill.state_nth {
        return Err(format!(
            "the kill landed on {what} (state call {state_nth} of its kind), not on {} (state call {})",
            kill.what, kill.state_nth
        ));
    }
    Ok(())
}

/// Runs the scenario killed at `kill`, then the checks and the retry. `Err`: the kill itself did
/// not happen as enumerated.
fn kill_once(plan: &Plan, kill: &Kill, dir: &Path) -> Result<Aftermath, String> {
    let scenario = &plan.scenario;
    let (state, out) = scenario.start(dir);
    let log = dir.join("inject.log");
    let mut args = strace_args(&log, &kill.syscall);
    args.extend([
        "-e".into(),
        format!("inject={}:signal=SIGKILL:when={}", kill.syscall, kill.nth).into(),
    ]);
    let output = common::isolated("strace", dir)
        .args(args)
        .arg(KCOMPILE)
        .args(scenario.args(&state, &out))
        .output()
        .unwrap();
    if output.status.signal() != Some(9) {
        return Err(format!(
            "the run was not killed (it ended with {}): the enumerated call did not occur",
            how_ended(&output)
        ));
    }
    killed_call(
        &fs::read_to_string(&log).unwrap_or_default(),
        kill,
        &state.to_string_lossy(),
    )?;

    let killed_all = all_files(&state);
    let killed_load = load_check(&state, &scenario.spec);
    let killed_view = view(&state, &scenario.spec);
    let retry = kcompile(dir, &scenario.args(&state, &out));
    let retried_all = all_files(&state);
    let retried_view = killed_view
        .as_ref()
        .is_ok_and(|killed| killed != &plan.before_view)
        .then(|| view(&state, &scenario.spec));
    Ok(Aftermath {
        commits_before: kill.commits_before,
        killed: recorded(&killed_all),
        killed_all,
        killed_view,
        killed_load,
        retry,
        retried: recorded(&retried_all),
        retried_all,
        retried_view,
        retried_load: load_check(&state, &scenario.spec),
    })
}

/// Kills the scenario at `kill` (up to three tries when the kill lands elsewhere) and checks
/// every invariant: the problems found.
fn run_kill(plan: &Plan, kill: &Kill, dir: &Path) -> Vec<Failure> {
    let label = format!(
        "killed at {} #{} of its thread = state write {}/{}, after {}/{} commit points: {}",
        kill.syscall,
        kill.nth,
        kill.order,
        plan.kills.len(),
        kill.commits_before,
        plan.commits.len(),
        kill.what
    );
    let failure = |invariant, problem| Failure {
        scenario: plan.scenario.name.clone(),
        kill: label.clone(),
        invariant,
        problem,
    };
    let mut attempt = 0;
    let after = loop {
        attempt += 1;
        let result = kill_once(plan, kill, dir);
        let _ = fs::remove_dir_all(dir);
        match result {
            Ok(after) => break after,
            Err(problem) if attempt >= 3 => {
                return vec![failure(
                    "enumeration",
                    format!("{problem} ({attempt} tries)"),
                )];
            }
            Err(_) => {}
        }
    };
    INVARIANTS
        .iter()
        .flat_map(|(invariant, check)| {
            check(plan, &after)
                .into_iter()
                .map(|problem| failure(invariant, problem))
        })
        .collect()
}

// =============================================================================================
// The test

/// The summary: per command the write-like calls killed (per syscall), its commit points, what
/// it makes anew and the broken kills; then the problems per invariant.
fn summary(plans: &[Plan], failures: &[&Failure], elapsed: Duration) -> String {
    let mut text = String::new();
    let kills: usize = plans.iter().map(|plan| plan.kills.len()).sum();
    let _ = writeln!(
        text,
        "{kills} kills in {elapsed:.0?}; per command, its write-like calls on the state dir:",
    );
    for plan in plans {
        let counts: Vec<String> = plan
            .counts
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        let broken: BTreeSet<&str> = failures
            .iter()
            .filter(|f| f.scenario == plan.scenario.name)
            .map(|f| f.kill.as_str())
            .collect();
        let _ = write!(
            text,
            "  {} (exit {}): {} kills ({}); {} commit points; {} broken",
            plan.scenario.name,
            plan.scenario.code,
            plan.kills.len(),
            counts.join(", "),
            plan.commits.len(),
            broken.len()
        );
        if plan.ambiguous > 0 {
            let _ = write!(
                text,
                "; {} could land in another thread too",
                plan.ambiguous
            );
        }
        if !plan.regenerated.is_empty() {
            let paths: Vec<&str> = plan.regenerated.iter().map(String::as_str).collect();
            let _ = write!(text, "; made anew by every run: {}", paths.join(", "));
        }
        text.push('\n');
    }
    let mut by_invariant: BTreeMap<&str, usize> = BTreeMap::new();
    for failure in failures {
        *by_invariant.entry(failure.invariant).or_default() += 1;
    }
    for (invariant, count) in by_invariant {
        let _ = writeln!(text, "  {count} problems: {invariant}");
    }
    text
}

/// Every broken case, with its problems.
fn details(failures: &[&Failure]) -> String {
    let mut text = String::new();
    let mut last = ("", "");
    for failure in failures {
        if (failure.scenario.as_str(), failure.kill.as_str()) != last {
            let _ = writeln!(text, "[{}] {}", failure.scenario, failure.kill);
            last = (&failure.scenario, &failure.kill);
        }
        let _ = writeln!(text, "    {}: {}", failure.invariant, failure.problem);
    }
    text
}

#[test]
fn a_kill_at_any_state_write_loses_nothing_and_a_retry_recovers() {
    let strace = require_strace();
    let start = Instant::now();
    let root = scratch_root();
    let scenarios = scenarios(root.path());

    // Measure every scenario (two uninterrupted runs a second apart: a thread each, mostly asleep).
    let plans: Vec<Plan> = std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .into_iter()
            .enumerate()
            .map(|(i, scenario)| {
                let dir = root.path().join(format!("plan-{i}"));
                scope.spawn(move || plan(scenario, &dir))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert!(
        plans.iter().all(|plan| !plan.kills.is_empty()),
        "a command issued no write-like call on the state dir: the enumeration is broken"
    );

    // Every kill of every scenario, on twice as many threads as there are cores: a kill is a
    // chain of short processes, and strace and its tracee wait for each other.
    let work: Vec<(&Plan, &Kill)> = plans
        .iter()
        .flat_map(|plan| plan.kills.iter().map(move |kill| (plan, kill)))
        .collect();
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Vec<Failure>)>> = Mutex::new(Vec::new());
    let workers = 2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((plan, kill)) = work.get(i) else {
                        break;
                    };
                    let dir = root.path().join(format!("kill-{i}"));
                    let failures = run_kill(plan, kill, &dir);
                    outcomes.lock().unwrap().push((i, failures));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|(i, _)| *i);
    let failures: Vec<&Failure> = outcomes.iter().flat_map(|(_, f)| f).collect();

    let summary = summary(&plans, &failures, start.elapsed());
    eprintln!("{strace}\n{summary}");
    assert!(
        failures.is_empty(),
        "{} broken kills:\n{summary}{}",
        failures
            .iter()
            .map(|f| (&f.scenario, &f.kill))
            .collect::<BTreeSet<_>>()
            .len(),
        details(&failures)
    );
}
