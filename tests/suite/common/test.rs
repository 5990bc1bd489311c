//! The harness every test runs kcompile through, in the style of just's tests:
//! `Test::new().spec(..).args(..).status(2).stderr_contains(..).run()`.
//!
//! Each `Test` owns a fresh temp dir, the working directory of the run. kcompile runs with an
//! isolated environment ([`isolated`]): every `KCOMPILE_*` variable of the developer's shell is
//! removed (a set `KCOMPILE_STATE` would otherwise send the suite's writes to a real state dir), so
//! are `NO_COLOR` and `TERM` (the only other variables kcompile reads), `HOME` is the run's
//! directory and stdin is empty. A [`Run`] keeps the temp dir, so a later step (`run.then()`) runs
//! in the same place. A test that needs more than a finished run (its own stdio, a wrapper such as
//! strace or `script`, a kill at a chosen point) builds its command from [`kcompile_process`] or
//! [`isolated`], so every invocation of the binary gets the same environment.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::Spec;

/// The binary under test, for a wrapper's arguments (`strace … KCOMPILE …`).
pub const KCOMPILE: &str = env!("CARGO_BIN_EXE_kcompile");

/// How long one run may take before the harness kills it and fails the test: far above what any
/// run needs on a loaded two-core machine, so that only a hang reaches it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// `kcompile` to run in `dir` with the isolated environment; for tests that drive the command
/// themselves (a timeout, a raw `Output`).
pub fn kcompile(dir: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(kcompile_process(dir))
}

/// `kcompile` run in the repository (where `examples/` is), with the isolated environment; a test
/// names its spec and state by path or sets its own dir.
pub fn kcompile_in_repo() -> assert_cmd::Command {
    kcompile(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The same as a `std::process::Command`, for a test that spawns kcompile or gives it its own
/// stdio (a closed pipe, `/dev/full`).
pub fn kcompile_process(dir: &Path) -> std::process::Command {
    isolated(KCOMPILE, dir)
}

/// `program` run in `dir` with the environment every kcompile run of the suite has: no
/// `KCOMPILE_*`, `NO_COLOR` or `TERM` of the caller, `HOME` set to `dir`, stdin empty (a test
/// that feeds stdin sets its own). For kcompile itself ([`kcompile_process`]) and for a wrapper
/// that runs it (`strace`, `sh -c 'umask …; exec …'`, `script`), which passes the environment on.
pub fn isolated(program: impl AsRef<OsStr>, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("KCOMPILE_") || name_text == "NO_COLOR" || name_text == "TERM" {
            command.env_remove(name);
        }
    }
    command.env("HOME", dir).stdin(Stdio::null());
    command
}

/// Runs kcompile with `args` in `dir`; its output, whatever its exit status. A run still going
/// after `limit` is killed, which fails the test (a hang); so does a run a signal ended.
#[track_caller]
pub fn run_kcompile_within<S: AsRef<OsStr>>(dir: &Path, args: &[S], limit: Duration) -> Output {
    let output = kcompile(dir)
        .args(args)
        .timeout(limit)
        .output()
        .expect("kcompile runs");
    assert!(
        output.status.code().is_some(),
        "`kcompile {}` ended by a signal ({}): it hung and was killed after {} s, or crashed",
        show_args(args),
        output.status,
        limit.as_secs()
    );
    output
}

/// Runs kcompile with `args` in `dir`; its output, whatever its exit status (a hang, past
/// [`RUN_TIMEOUT`], fails the test).
#[track_caller]
pub fn run_kcompile<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    run_kcompile_within(dir, args, RUN_TIMEOUT)
}

/// Arguments as one line, for messages.
pub fn show_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|arg| arg.as_ref().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Spawns `command` (from [`kcompile_process`]; its stdout is discarded, its stderr kept for the
/// message) and SIGKILLs it, then reaps it, as soon as `ready()` holds, polled every 2 ms. It must
/// still be running then: one that ends first fails the test (`what` names the point in the
/// message). The wait is on the condition, not on a guess of how long the run takes to get there
/// (key generation in a debug build on a loaded machine can take minutes): it lasts as long as the
/// run keeps working. Only a run that used no CPU time for [`RUN_TIMEOUT`] (a hang: blocked, not
/// slow) fails the test for taking too long.
#[track_caller]
pub fn kill_when(mut command: std::process::Command, what: &str, mut ready: impl FnMut() -> bool) {
    let mut log = tempfile::tempfile().expect("a temp file for stderr");
    let mut child = KilledOnDrop(
        command
            .stdout(Stdio::null())
            .stderr(log.try_clone().expect("a second handle"))
            .spawn()
            .expect("kcompile starts"),
    );
    let pid = child.0.id();
    let mut ticks = cpu_ticks(pid);
    let mut progressed = Instant::now();
    let mut logged = || {
        let mut text = String::new();
        log.rewind().expect("rewind the log");
        log.read_to_string(&mut text).expect("read the log");
        text
    };
    while !ready() {
        if let Some(status) = child.0.try_wait().expect("poll the run") {
            panic!(
                "{what}: the run ended ({status}) before it could be killed: {}",
                logged()
            );
        }
        let now = cpu_ticks(pid);
        if now != ticks {
            ticks = now;
            progressed = Instant::now();
        }
        assert!(
            progressed.elapsed() < RUN_TIMEOUT,
            "{what}: never reached, and the run used no CPU time for {} s (a hang): {}",
            RUN_TIMEOUT.as_secs(),
            logged()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.0.kill().expect("kill the run");
    child.0.wait().expect("reap the run");
}

/// The CPU time (user and system, in clock ticks) process `pid` has used, all its threads
/// together (`/proc/<pid>/stat`, fields 14 and 15); `None` once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// A child process killed with `SIGKILL` (by its pid) and reaped when dropped, also when a test
/// panics.
pub struct KilledOnDrop(pub std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where `tests/cases/<name>/` is.
pub fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(name)
}

/// What a run must print: the whole text, or pieces of it.
#[derive(Default)]
enum Expect {
    #[default]
    Anything,
    Exactly(String),
    Contains(Vec<String>),
}

impl Expect {
    fn check(&self, stream: &str, text: &str, run: &str) {
        match self {
            Expect::Anything => {}
            Expect::Exactly(want) => {
                assert!(
                    text == want,
                    "{run}: {stream} is\n{text}\n--- but should be\n{want}"
                );
            }
            Expect::Contains(pieces) => {
                for piece in pieces {
                    assert!(
                        text.contains(piece.as_str()),
                        "{run}: {stream} lacks {piece:?}:\n{text}"
                    );
                }
            }
        }
    }

    fn add(&mut self, piece: &str) {
        match self {
            Expect::Contains(pieces) => pieces.push(piece.to_owned()),
            _ => *self = Expect::Contains(vec![piece.to_owned()]),
        }
    }
}

/// One run of kcompile, set up by the builder methods and checked by [`Test::run`].
#[must_use]
pub struct Test {
    dir: TempDir,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    status: i32,
    stdout: Expect,
    stderr: Expect,
}

impl Test {
    /// A run in a fresh, empty temp dir; by default it must exit 0.
    pub fn new() -> Test {
        Test::in_dir(tempfile::tempdir().expect("a temp dir"))
    }

    /// A run in `dir` (the temp dir of an earlier run: [`Run::then`]).
    pub fn in_dir(dir: TempDir) -> Test {
        Test {
            dir,
            args: Vec::new(),
            stdin: None,
            timeout: RUN_TIMEOUT,
            status: 0,
            stdout: Expect::Anything,
            stderr: Expect::Anything,
        }
    }

    /// A run on the fixture `tests/cases/<name>/`: its `cluster.yaml` is written to the temp dir.
    pub fn case(name: &str) -> Test {
        let spec = case_dir(name).join("cluster.yaml");
        let text =
            fs::read_to_string(&spec).unwrap_or_else(|e| panic!("read {}: {e}", spec.display()));
        Test::new().write("cluster.yaml", text)
    }

    /// A run on `examples/<name>.yaml`, written to the temp dir as `cluster.yaml`.
    pub fn example(name: &str) -> Test {
        Test::new().spec(&Spec::example(name))
    }

    /// Writes `spec` to the temp dir as `cluster.yaml`.
    pub fn spec(self, spec: &Spec) -> Test {
        self.write("cluster.yaml", spec.yaml())
    }

    /// Writes `contents` to `path` under the temp dir, making its directories.
    pub fn write(self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Test {
        let path = self.dir.path().join(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("make the file's directory");
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Test {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// What the run reads on stdin (empty unless set), e.g. a spec for `-f -`.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Test {
        self.stdin = Some(bytes.into());
        self
    }

    /// How long the run may take before it is killed, which fails the test ([`RUN_TIMEOUT`]
    /// unless set): a test that holds kcompile to a tighter bound (it must not hang on hostile
    /// input) sets it.
    pub fn timeout(mut self, limit: Duration) -> Test {
        self.timeout = limit;
        self
    }

    /// The exit status the run must have (0 unless set).
    pub fn status(mut self, code: i32) -> Test {
        self.status = code;
        self
    }

    /// The whole of stdout.
    pub fn stdout(mut self, text: impl Into<String>) -> Test {
        self.stdout = Expect::Exactly(text.into());
        self
    }

    /// The whole of stderr.
    pub fn stderr(mut self, text: impl Into<String>) -> Test {
        self.stderr = Expect::Exactly(text.into());
        self
    }

    /// A piece stderr must contain (repeatable).
    pub fn stderr_contains(mut self, piece: &str) -> Test {
        self.stderr.add(piece);
        self
    }

    /// Runs kcompile (killed after its timeout, which fails the test) and checks the status,
    /// stdout and stderr asked for.
    #[track_caller]
    pub fn run(self) -> Run {
        let mut command = kcompile(self.dir.path());
        command.args(&self.args).timeout(self.timeout);
        if let Some(bytes) = self.stdin {
            command.write_stdin(bytes);
        }
        let output = command.output().expect("kcompile runs");
        let run = format!(
            "kcompile {}",
            self.args
                .iter()
                .map(|arg| arg.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(self.status),
            "{run}: exit status ({})\n--- stdout\n{stdout}--- stderr\n{stderr}",
            output.status
        );
        self.stdout.check("stdout", &stdout, &run);
        self.stderr.check("stderr", &stderr, &run);
        Run {
            dir: self.dir,
            stdout,
            stderr,
        }
    }
}

/// A finished run: its temp dir, with whatever it wrote, and what it printed.
pub struct Run {
    dir: TempDir,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The run's temp dir (its working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the run printed on stdout (lossily decoded).
    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    /// What the run printed on stderr (lossily decoded).
    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    /// `relative` under the run's temp dir.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// A next run in the same temp dir.
    pub fn then(self) -> Test {
        Test::in_dir(self.dir)
    }

    /// Checks the tree the run wrote at `dir` (relative to the temp dir) against the fixture's
    /// `tests/cases/<case>/expected/`: each file there was written with the same bytes. The
    /// expected tree names the files a case pins (keys and certificates are random, so a case pins
    /// text files). `KCOMPILE_BLESS=1` rewrites those files from the run instead.
    #[track_caller]
    pub fn tree_matches(self, dir: &str, case: &str) -> Run {
        let written = self.dir.path().join(dir);
        let expected = case_dir(case).join("expected");
        let bless = std::env::var_os("KCOMPILE_BLESS").is_some();
        let pinned = files(&expected);
        assert!(!pinned.is_empty(), "{}: no files", expected.display());
        for (name, want) in pinned {
            let path = written.join(&name);
            let have =
                fs::read(&path).unwrap_or_else(|e| panic!("{case}: {name} was not written: {e}"));
            if bless {
                fs::write(expected.join(&name), have).expect("rewrite an expected file");
            } else {
                assert!(
                    have == want,
                    "{case}: {name} differs from tests/cases/{case}/expected/{name} (KCOMPILE_BLESS=1 rewrites it):\n{}",
                    String::from_utf8_lossy(&have)
                );
            }
        }
        self
    }
}

/// Every file under `root`, by its path relative to `root`, with its bytes.
fn files(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|entry| entry.unwrap_or_else(|e| panic!("walk {}: {e}", root.display())))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let name = entry
                .path()
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            let bytes = fs::read(entry.path()).expect("read a written file");
            (name, bytes)
        })
        .collect()
}
