//! The harness every test runs kcompile through, in the style of just's tests:
//! `Test::new().spec(..).args(..).status(2).stderr_contains(..).run()`.
//!
//! Each `Test` owns a fresh temp dir, the working directory of the run. kcompile runs with an
//! isolated environment: every `KCOMPILE_*` variable of the developer's shell is removed (a set
//! `KCOMPILE_STATE` would otherwise send the suite's writes to a real state dir) and `HOME` is the
//! temp dir. (kcompile reads no other variable but `NO_COLOR` and `TERM`, and colours only a
//! terminal, which a test's pipes are not.) A [`Run`] keeps the temp dir, so a later step
//! (`run.then()`) runs in the same place.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use super::Spec;

/// `kcompile` to run in `dir` with the isolated environment; for tests that drive the command
/// themselves (a timeout, a raw `Output`).
pub fn kcompile(dir: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(kcompile_process(dir))
}

/// The same as a `std::process::Command`, for a test that spawns kcompile or gives it its own
/// stdio (a closed pipe, `/dev/full`).
pub fn kcompile_process(dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kcompile"));
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KCOMPILE_") {
            command.env_remove(name);
        }
    }
    command.env("HOME", dir);
    command
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

    /// Runs kcompile (killed after 300 s, which fails the test) and checks the status, stdout
    /// and stderr asked for.
    #[track_caller]
    pub fn run(self) -> Run {
        let output = kcompile(self.dir.path())
            .args(&self.args)
            .timeout(Duration::from_secs(300))
            .output()
            .expect("kcompile runs");
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
        Run { dir: self.dir }
    }
}

/// A finished run: its temp dir, with whatever it wrote.
pub struct Run {
    dir: TempDir,
}

impl Run {
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
