//! Fault injection. Each command that writes the state dir (a first build; a build that reissues
//! a certificate for a new SAN; `certs renew`, with and without `--new-key`; each phase of the
//! sa-key, encryption-key and cluster-ca rotations, with a build of every host between phases as
//! an operator does; `import --from-pki` into no state) is killed with SIGKILL at every write-like
//! system call it issues on the state dir, one run per call. Then the same command runs again:
//! the retry, as the next writer, recovers the interrupted run. For each kill:
//!
//! - the state loads (a read-only command exits 0) after the kill and after the retry;
//! - the retry succeeds, or refuses only a step the killed run had finished (the state is then
//!   already complete: a finished phase 3 cannot run twice), which the summary counts;
//! - nothing is lost at the kill: every file the start had keeps its content unless the command
//!   changes it and the kill left the completed commit's value; no file disappears that the
//!   command keeps;
//! - nothing retired (`retired/…`) is ever overwritten or removed;
//! - the retry ends where an uninterrupted run ends: the same files, and the same content for
//!   every file whose content is deterministic (equal in two uninterrupted runs a second apart);
//! - material (keys, certificates, secrets) the killed run had committed is what the retry
//!   leaves, not generated again, except what the command makes anew on every run (`certs
//!   renew`: measured by running it twice);
//! - no temp file (`.tmp-*`) is left anywhere in the state dir.
//!
//! Files are compared by sha256, all but `lock` and `journal/`. The harness adapts to the binary,
//! not to a version: `state check` and `state list -o json` (what the state says it holds, an
//! unapplied commit included) where `kcompile state` exists, else `certs` and the file hashes;
//! `--acknowledge` for phase 3 where `kcompile rotate --help` offers it.
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
//!
//! Every broken case is collected and reported at the end, with the command, the syscall and
//! its index, and the path. About 800 kills, run on tmpfs on every core: 1.5 minutes on 2 cores.
//! strace must be installed (`.ci/install-strace.sh`); without it the test fails.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The binary under test.
const KCOMPILE: &str = env!("CARGO_BIN_EXE_kcompile");

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

/// `kcompile ARGS` in `cwd`, without the caller's KCOMPILE_STATE.
fn kcompile(cwd: &Path, args: &[OsString]) -> Output {
    Command::new(KCOMPILE)
        .current_dir(cwd)
        .args(args)
        .env_remove("KCOMPILE_STATE")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {KCOMPILE}: {e}"))
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

/// Arguments as one line, for messages.
fn show_args(args: &[OsString]) -> String {
    args.iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
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

/// What the kcompile under test offers; the harness adapts to it instead of to a version.
struct Features {
    /// `kcompile state check` / `state list` exist.
    state_subcommand: bool,
    /// `kcompile rotate --acknowledge` exists (phase 3 needs it).
    acknowledge: bool,
}

impl Features {
    /// Asks the binary's `--help`.
    fn detect(cwd: &Path) -> Features {
        let state = kcompile(cwd, &["state".into(), "--help".into()]);
        let rotate = kcompile(cwd, &["rotate".into(), "--help".into()]);
        Features {
            state_subcommand: state.status.success(),
            acknowledge: String::from_utf8_lossy(&rotate.stdout).contains("--acknowledge"),
        }
    }
}

// =============================================================================================
// State trees

/// A state dir's regular files: relative path → sha256 (hex). Other file types get a marker.
type Tree = BTreeMap<String, String>;

/// Whether `path` (relative to the state dir) is part of the recorded state: everything but the
/// lock and the journal of an unfinished commit.
fn is_recorded(path: &str) -> bool {
    path != "lock" && path != "journal" && !path.starts_with("journal/")
}

/// Every file under `root` (none if it does not exist), `.tmp-*` and journal included.
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

/// The recorded state's files (no lock, no journal).
fn tree(root: &Path) -> Tree {
    all_files(root)
        .into_iter()
        .filter(|(path, _)| is_recorded(path))
        .collect()
}

/// A retired file's name without the suffix that makes it unique (a timestamp or a content
/// hash): `retired/pki/sa.key.1712345678` → `retired/pki/sa.key.*`. Other paths unchanged.
fn normalized(path: &str) -> String {
    match (path.starts_with("retired/"), path.rfind('.')) {
        (true, Some(dot)) if dot > path.rfind('/').unwrap_or(0) => format!("{}.*", &path[..dot]),
        _ => path.to_owned(),
    }
}

/// A tree by normalized path: each name's contents, sorted (two retired copies of one file are
/// two entries).
fn by_name(tree: &Tree) -> BTreeMap<String, Vec<String>> {
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, hash) in tree {
        names
            .entry(normalized(path))
            .or_default()
            .push(hash.clone());
    }
    for hashes in names.values_mut() {
        hashes.sort();
    }
    names
}

/// Key material (keys, certificates, secrets), as opposed to records (`*.json`) that may be
/// rewritten with a new timestamp.
fn is_material(path: &str) -> bool {
    !path.ends_with(".json")
}

/// What the state says it holds, path → fingerprint: `state list -o json` where it exists (a
/// committed but unapplied change shows there), else the file hashes.
fn view(state: &Path, spec: &Path, features: &Features) -> Result<Tree, String> {
    if !features.state_subcommand {
        return Ok(tree(state));
    }
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
    Ok(json["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            (
                item["path"].as_str().unwrap_or_default().to_owned(),
                item["fingerprint"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// The read-only command that must succeed on any state a kill leaves: `state check` where it
/// exists, else `certs`.
fn load_check(state: &Path, spec: &Path, features: &Features) -> Output {
    let mut args: Vec<OsString> = if features.state_subcommand {
        vec!["state".into(), "check".into()]
    } else {
        vec!["certs".into()]
    };
    args.extend(["-f".into(), spec.into(), "--state".into(), state.into()]);
    kcompile(state.parent().unwrap(), &args)
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
}

impl Scenario {
    /// A scenario named `name`.
    fn new(name: &str, spec: &Path, pre: Option<PathBuf>, args: Vec<Arg>) -> Scenario {
        Scenario {
            name: name.to_owned(),
            spec: spec.to_owned(),
            pre,
            args,
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

/// Builds the starting states (a first build, then each rotation phase followed by a build of
/// every host, as an operator does) and returns every scenario.
fn scenarios(root: &Path, features: &Features) -> Vec<Scenario> {
    let setup = root.join("setup");
    let snapshots = root.join("snapshots");
    fs::create_dir_all(&setup).unwrap();
    fs::create_dir_all(&snapshots).unwrap();
    let spec = root.join("cluster.yaml");
    fs::write(&spec, SPEC).unwrap();
    let san_spec = root.join("cluster-san.yaml");
    fs::write(&san_spec, SPEC.replacen(SAN, TWO_SANS, 1)).unwrap();
    let state = |dir: &Path| dir.join("state");
    let resolve = |args: &[Arg], dir: &Path| -> Vec<OsString> {
        let scenario = Scenario::new("setup", &spec, None, args.to_vec());
        scenario.args(&state(dir), &dir.join("out"))
    };
    let snapshot = |dir: &Path, name: &str| -> PathBuf {
        let to = snapshots.join(name);
        fs::create_dir_all(&to).unwrap();
        copy_tree(&state(dir), &to.join("state"));
        to.join("state")
    };

    // The first build.
    let first = setup.join("first");
    fs::create_dir_all(&first).unwrap();
    kcompile_ok(&first, &resolve(&build_args(&spec), &first));
    let built = snapshot(&first, "built");

    // A kubeadm PKI directory to import: the built state's CAs and service-account key pair.
    let pki = root.join("kubeadm-pki");
    for file in KUBEADM_PKI {
        let to = pki.join(file);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(built.join("pki").join(file), to).unwrap();
    }

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
        if new_key {
            args.extend(text(&["--new-key"]));
        }
        args.extend(spec_args(&spec));
        let name = format!(
            "certs renew {RENEWED}{}",
            if new_key { " --new-key" } else { "" }
        );
        all.push(Scenario::new(&name, &spec, Some(built.clone()), args));
    }
    for what in ["sa-key", "encryption-key", "cluster-ca"] {
        let dir = setup.join(what);
        fs::create_dir_all(&dir).unwrap();
        copy_tree(&built, &state(&dir));
        for phase in 1..=3 {
            let pre = snapshot(&dir, &format!("{what}-{phase}"));
            let mut args = text(&["rotate", what, "--phase", &phase.to_string()]);
            if phase == 3 && features.acknowledge {
                args.extend(text(&["--acknowledge"]));
            }
            args.extend(spec_args(&spec));
            kcompile_ok(&dir, &resolve(&args, &dir));
            kcompile_ok(&dir, &resolve(&build_args(&spec), &dir));
            let name = format!("rotate {what} --phase {phase}");
            all.push(Scenario::new(&name, &spec, Some(pre), args));
        }
    }
    let mut import = text(&["import", "--from-pki"]);
    import.push(Arg::Text(pki.into()));
    import.extend(spec_args(&spec));
    all.push(Scenario::new(
        "import --from-pki (empty state)",
        &spec,
        None,
        import,
    ));
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
                calls[index].result = result.trim().to_owned();
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

    /// How reports name it: `renameat(pki/.tmp-*, pki/ca.key)`, with temp names and retired
    /// suffixes that differ from run to run normalized.
    fn describe(&self, state: &str) -> String {
        let paths: Vec<String> = self
            .in_state(state)
            .unwrap_or_default()
            .iter()
            .map(|path| {
                let normal: Vec<String> = path
                    .split('/')
                    .map(|part| {
                        if part.starts_with(".tmp-") {
                            ".tmp-*".to_owned()
                        } else {
                            part.to_owned()
                        }
                    })
                    .collect();
                normalized(&normal.join("/"))
            })
            .collect();
        format!("{}({})", self.name, paths.join(", "))
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
    /// What the call does, normalized ([`Call::describe`]).
    what: String,
    /// Its place among all the command's write-like calls on the state dir, from 1.
    order: usize,
}

/// The write-like calls on the state dir in a log, in order, as kills.
fn kills(calls: &[Call], state: &str) -> Vec<Kill> {
    let mut state_counts: BTreeMap<(u32, String), usize> = BTreeMap::new();
    let mut kills = Vec::new();
    for call in calls {
        if !call.is_write_like() || call.in_state(state).is_none() {
            continue;
        }
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
        });
    }
    kills
}

// =============================================================================================
// One scenario: its uninterrupted runs and the kills to make

/// A scenario measured: its starting state, two uninterrupted runs and the calls to kill at.
struct Plan {
    /// The command and its start.
    scenario: Scenario,
    /// The starting state's files.
    before: Tree,
    /// What the starting state says it holds ([`view`]).
    before_view: Tree,
    /// Two uninterrupted runs from the same start, a second apart: files they agree on are
    /// deterministic.
    uninterrupted: [Tree; 2],
    /// Material the command makes anew each time it runs: what a second run on the state of an
    /// uninterrupted run changes again (`certs renew` reissues; a build, an import or a rotation
    /// phase run twice changes nothing). A retry may replace it; nothing else.
    regenerated: BTreeSet<String>,
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

/// Measures `scenario` in `dir`: one uninterrupted run under strace (its write-like calls on the
/// state dir are the kills), the same command again on its result (what it makes anew), and a
/// second uninterrupted run a second later (what is deterministic).
fn plan(scenario: Scenario, dir: &Path, features: &Features) -> Plan {
    let before = scenario.pre.as_deref().map(tree).unwrap_or_default();
    let before_view = match &scenario.pre {
        Some(pre) => view(pre, &scenario.spec, features).unwrap_or_else(|e| panic!("{e}")),
        None => Tree::new(),
    };
    // Run 1, under strace: the calls.
    let (state, out) = scenario.start(&dir.join("enumerate"));
    let log = dir.join("enumerate.log");
    let traced: Vec<String> = WRITE_LIKE.iter().map(|name| format!("?{name}")).collect();
    let output = Command::new("strace")
        .current_dir(dir)
        .args(strace_args(&log, &traced.join(",")))
        .arg(KCOMPILE)
        .args(scenario.args(&state, &out))
        .env_remove("KCOMPILE_STATE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "[{}] the uninterrupted run failed ({}): {}",
        scenario.name,
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let first = tree(&state);
    // The same command again on the finished state: what it makes anew every time.
    let rerun = kcompile(dir, &scenario.args(&state, &out));
    let rerun = if rerun.status.success() {
        tree(&state)
    } else {
        first.clone()
    };
    let regenerated: BTreeSet<String> = first
        .keys()
        .chain(rerun.keys())
        .filter(|path| is_material(path) && first.get(*path) != rerun.get(*path))
        .cloned()
        .collect();
    let calls = parse_log(&fs::read_to_string(&log).unwrap());
    let state_path = state.to_string_lossy().into_owned();
    let kills = kills(&calls, &state_path);
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
    assert!(
        output.status.success(),
        "[{}] the second uninterrupted run failed: {}",
        scenario.name,
        tail(&output)
    );
    let second = tree(&state);
    fs::remove_dir_all(dir).unwrap();
    Plan {
        scenario,
        before,
        before_view,
        uninterrupted: [first, second],
        regenerated,
        kills,
        counts,
        ambiguous,
    }
}

// =============================================================================================
// One kill: the invariants

/// What a killed run and its retry left.
struct Aftermath {
    /// The recorded files right after the kill.
    killed: Tree,
    /// What the state said it held right after the kill ([`view`]).
    killed_view: Result<Tree, String>,
    /// The read-only check right after the kill (`None`: skipped, nothing was created).
    killed_load: Option<Output>,
    /// The retry: the same command again.
    retry: Output,
    /// The recorded files after the retry.
    retried: Tree,
    /// What the state said it held after the retry ([`view`]).
    retried_view: Result<Tree, String>,
    /// The read-only check after the retry.
    retried_load: Output,
    /// Every file after the retry, temp files and journal included.
    retried_all: Tree,
}

impl Aftermath {
    /// Whether the retry failed only because the killed run had finished: the state after it is
    /// where an uninterrupted run ends and keeps what was committed. A step that is not
    /// idempotent (phase 3 of a rotation ends the rotation) cannot be run twice. Counted in the
    /// summary, not a failure.
    fn refused_finished_step(&self, plan: &Plan) -> bool {
        !self.retry.status.success()
            && retry_matches_uninterrupted(plan, self).is_empty()
            && committed_material_kept(plan, self).is_empty()
    }
}

/// The state loads (a read-only command exits 0) after the kill and after the retry.
fn state_loads(after: &Aftermath) -> Vec<String> {
    let mut problems = Vec::new();
    for (when, output) in [
        ("after the kill", after.killed_load.as_ref()),
        ("after the retry", Some(&after.retried_load)),
    ] {
        if let Some(output) = output.filter(|output| !output.status.success()) {
            problems.push(format!(
                "the state does not load {when} ({}): {}",
                output.status,
                tail(output)
            ));
        }
    }
    problems
}

/// The retry (the same command again, which recovers the killed run) succeeds, or refuses only
/// a step the killed run had finished ([`Aftermath::refused_finished_step`]).
fn retry_succeeds(plan: &Plan, after: &Aftermath) -> Vec<String> {
    if after.retry.status.success() || after.refused_finished_step(plan) {
        return Vec::new();
    }
    vec![format!(
        "the retry failed ({}): {}",
        after.retry.status,
        tail(&after.retry)
    )]
}

/// Every file the starting state had still has its content after the kill, unless the
/// uninterrupted run changes it too and the kill left the new value of a completed commit: the
/// uninterrupted run's where it is deterministic, else (material) the one the retry keeps. A
/// record that changes every run (a timestamp), or material the command makes anew each run, may
/// hold any new value: the load check judges it. No file disappears unless the uninterrupted run
/// removes it.
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

/// A retired file, once there, keeps its content forever: through the kill and the retry.
fn retired_never_overwritten(plan: &Plan, after: &Aftermath) -> Vec<String> {
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
    problems.sort();
    problems.dedup();
    problems
}

/// After the retry the state has the uninterrupted run's files (names; retired suffixes aside),
/// and every file whose content is deterministic (the same in both uninterrupted runs) has that
/// content.
fn retry_matches_uninterrupted(plan: &Plan, after: &Aftermath) -> Vec<String> {
    let reference = by_name(&plan.uninterrupted[0]);
    let other = by_name(&plan.uninterrupted[1]);
    let retried = by_name(&after.retried);
    let mut problems = Vec::new();
    for (name, hashes) in &reference {
        match retried.get(name) {
            None => problems.push(format!(
                "`{name}` is missing after the retry (the uninterrupted run has it)"
            )),
            Some(now) if now.len() != hashes.len() => problems.push(format!(
                "`{name}`: {} files after the retry, {} after the uninterrupted run",
                now.len(),
                hashes.len()
            )),
            Some(now) if other.get(name) == Some(hashes) && now != hashes => problems.push(
                format!("`{name}` differs from the uninterrupted run's (deterministic) content"),
            ),
            Some(_) => {}
        }
    }
    // Temp files have their own invariant.
    let extra = retried
        .keys()
        .filter(|name| !reference.contains_key(*name) && !is_temp(name));
    for name in extra {
        problems.push(format!(
            "`{name}` exists after the retry but not after the uninterrupted run"
        ));
    }
    problems
}

/// Material the killed run had committed (new or changed in the state's view after the kill) is
/// what the retry leaves: the retry does not generate it again (except what the command makes
/// anew every run, [`Plan::regenerated`]).
fn committed_material_kept(plan: &Plan, after: &Aftermath) -> Vec<String> {
    let (Ok(killed), Ok(retried)) = (&after.killed_view, &after.retried_view) else {
        let error = [&after.killed_view, &after.retried_view]
            .into_iter()
            .find_map(|view| view.as_ref().err())
            .cloned()
            .unwrap_or_default();
        return vec![format!("cannot read what the state holds: {error}")];
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

/// No temp file (`.tmp-*`) is left anywhere in the state dir after the retry.
fn no_temp_files(after: &Aftermath) -> Vec<String> {
    after
        .retried_all
        .keys()
        .filter(|path| is_temp(path))
        .map(|path| format!("temp file `{path}` left after the retry"))
        .collect()
}

/// An invariant: the problems it finds in what a kill and its retry left.
type Invariant = fn(&Plan, &Aftermath) -> Vec<String>;

/// Every invariant, by name.
const INVARIANTS: &[(&str, Invariant)] = &[
    ("state loads", |_, after| state_loads(after)),
    ("retry succeeds", retry_succeeds),
    ("nothing lost at the kill", nothing_lost_at_kill),
    ("retired never overwritten", retired_never_overwritten),
    (
        "retry ends like an uninterrupted run",
        retry_matches_uninterrupted,
    ),
    ("committed material kept", committed_material_kept),
    ("no temp files", |_, after| no_temp_files(after)),
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
fn kill_once(
    plan: &Plan,
    kill: &Kill,
    dir: &Path,
    features: &Features,
) -> Result<Aftermath, String> {
    let scenario = &plan.scenario;
    let (state, out) = scenario.start(dir);
    let log = dir.join("inject.log");
    let mut args = strace_args(&log, &kill.syscall);
    args.extend([
        "-e".into(),
        format!("inject={}:signal=SIGKILL:when={}", kill.syscall, kill.nth).into(),
    ]);
    let output = Command::new("strace")
        .current_dir(dir)
        .args(args)
        .arg(KCOMPILE)
        .args(scenario.args(&state, &out))
        .env_remove("KCOMPILE_STATE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if output.status.signal() != Some(9) {
        return Err(format!(
            "the run was not killed (it ended with {}): the enumerated call did not occur",
            output.status
        ));
    }
    killed_call(
        &fs::read_to_string(&log).unwrap_or_default(),
        kill,
        &state.to_string_lossy(),
    )?;

    let killed = tree(&state);
    // Nothing created yet is the starting state (none): nothing to load.
    let nothing = scenario.pre.is_none() && killed.is_empty();
    let killed_load = (!nothing).then(|| load_check(&state, &scenario.spec, features));
    let killed_view = if nothing {
        Ok(Tree::new())
    } else {
        view(&state, &scenario.spec, features)
    };
    let retry = kcompile(dir, &scenario.args(&state, &out));
    Ok(Aftermath {
        killed,
        killed_view,
        killed_load,
        retry,
        retried: tree(&state),
        retried_view: view(&state, &scenario.spec, features),
        retried_load: load_check(&state, &scenario.spec, features),
        retried_all: all_files(&state),
    })
}

/// What one kill found: the broken invariants, and whether the retry refused a step the killed
/// run had finished.
struct Outcome {
    /// The command.
    scenario: String,
    /// Every problem found.
    failures: Vec<Failure>,
    /// See [`Aftermath::refused_finished_step`].
    refused_finished_step: bool,
}

/// Kills the scenario at `kill` (up to three tries when the kill lands elsewhere) and checks
/// every invariant.
fn run_kill(plan: &Plan, kill: &Kill, dir: &Path, features: &Features) -> Outcome {
    let label = format!(
        "killed at {} #{} of its thread = state write {}/{}: {}",
        kill.syscall,
        kill.nth,
        kill.order,
        plan.kills.len(),
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
        let result = kill_once(plan, kill, dir, features);
        match result {
            Ok(after) => break after,
            Err(problem) if attempt >= 3 => {
                let _ = fs::remove_dir_all(dir);
                return Outcome {
                    scenario: plan.scenario.name.clone(),
                    failures: vec![failure(
                        "enumeration",
                        format!("{problem} ({attempt} tries)"),
                    )],
                    refused_finished_step: false,
                };
            }
            Err(_) => {
                let _ = fs::remove_dir_all(dir);
            }
        }
    };
    let _ = fs::remove_dir_all(dir);
    Outcome {
        scenario: plan.scenario.name.clone(),
        failures: INVARIANTS
            .iter()
            .flat_map(|(invariant, check)| {
                check(plan, &after)
                    .into_iter()
                    .map(|problem| failure(invariant, problem))
            })
            .collect(),
        refused_finished_step: after.refused_finished_step(plan),
    }
}

// =============================================================================================
// The test

/// The summary: per command the write-like calls killed (per syscall), the broken kills and the
/// retries that refused a finished step; then the problems per invariant.
fn summary(plans: &[Plan], outcomes: &[(usize, Outcome)], elapsed: Duration) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{} kills in {elapsed:.0?}; per command, its write-like calls on the state dir:",
        outcomes.len(),
    );
    let failures: Vec<&Failure> = outcomes.iter().flat_map(|(_, o)| &o.failures).collect();
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
        let refused = outcomes
            .iter()
            .filter(|(_, o)| o.refused_finished_step)
            .filter(|(_, o)| o.scenario == plan.scenario.name)
            .count();
        let _ = write!(
            text,
            "  {}: {} kills ({}); {} broken",
            plan.scenario.name,
            plan.kills.len(),
            counts.join(", "),
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
        if refused > 0 {
            let _ = write!(
                text,
                "; {refused} retries refused a step the killed run had finished (state complete)"
            );
        }
        text.push('\n');
    }
    let mut by_invariant: BTreeMap<&str, usize> = BTreeMap::new();
    for failure in &failures {
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
    let features = Features::detect(root.path());
    let scenarios = scenarios(root.path(), &features);

    // Measure every scenario (two uninterrupted runs a second apart: a thread each, mostly asleep).
    let plans: Vec<Plan> = std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .into_iter()
            .enumerate()
            .map(|(i, scenario)| {
                let dir = root.path().join(format!("plan-{i}"));
                let features = &features;
                scope.spawn(move || plan(scenario, &dir, features))
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

    // Every kill of every scenario, on as many threads as there are cores.
    let work: Vec<(&Plan, &Kill)> = plans
        .iter()
        .flat_map(|plan| plan.kills.iter().map(move |kill| (plan, kill)))
        .collect();
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((plan, kill)) = work.get(i) else {
                        break;
                    };
                    let dir = root.path().join(format!("kill-{i}"));
                    let outcome = run_kill(plan, kill, &dir, &features);
                    outcomes.lock().unwrap().push((i, outcome));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|(i, _)| *i);

    let summary = summary(&plans, &outcomes, start.elapsed());
    eprintln!(
        "{strace}; loads checked with {}; rotate phase 3 {}\n{summary}",
        if features.state_subcommand {
            "`state check`"
        } else {
            "`certs` (no `state` subcommand)"
        },
        if features.acknowledge {
            "with --acknowledge"
        } else {
            "without a flag (no --acknowledge)"
        }
    );
    let failures: Vec<&Failure> = outcomes.iter().flat_map(|(_, o)| &o.failures).collect();
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
