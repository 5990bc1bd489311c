//! The harness itself: no run of kcompile sees the environment of the process that runs the
//! tests. The variables kcompile reads are `KCOMPILE_STATE` (clap's `env =` in `src/cli.rs`),
//! `NO_COLOR` and `TERM` (`src/cmd/diff.rs`); `HOME` it does not read, but a run gets its own.
//! The proof runs this module's `a_run_keeps_to_its_temp_dir` again, as a child of the test
//! binary, with each of them pointing at a canary.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, Test};

/// The variables a caller may have set that must not reach a run.
const CALLERS: [&str; 4] = ["KCOMPILE_STATE", "NO_COLOR", "TERM", "HOME"];

/// What is under `dir`, as paths relative to it.
fn entries(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|entry| {
            let entry = entry.expect("walk the canary");
            entry.path().strip_prefix(dir).unwrap().to_owned()
        })
        .collect()
}

/// A build run by the harness writes its state beside its spec in its temp dir, and no wrapper of
/// kcompile is given the caller's variables; when `KCOMPILE_STATE` is set (the canary of
/// [`the_callers_environment_does_not_reach_a_run`]), nothing is made where it points.
#[test]
fn a_run_keeps_to_its_temp_dir() {
    let canary = std::env::var_os("KCOMPILE_STATE").map(PathBuf::from);
    let run = Test::example("single-node")
        .args(["build", "--all", "--out", "out"])
        .run();
    let state = run.path("cluster.state");
    assert!(
        state.join("pki/ca.key").is_file(),
        "the build wrote no state beside its spec"
    );
    // The environment a wrapper (and so the kcompile it runs) gets.
    let env = common::isolated("env", &run.path("")).output().unwrap();
    assert!(env.status.success());
    let env = String::from_utf8(env.stdout).unwrap();
    for name in CALLERS {
        let set: Vec<&str> = env
            .lines()
            .filter(|line| line.starts_with(&format!("{name}=")))
            .collect();
        if name == "HOME" {
            assert_eq!(set, [format!("HOME={}", run.path("").display())]);
        } else {
            assert!(set.is_empty(), "a run sees {set:?}");
        }
    }
    if let Some(canary) = canary {
        assert!(!canary.exists(), "the run wrote to {}", canary.display());
    }
}

/// With every variable of [`CALLERS`] set to a canary in the test process, a harness run leaves
/// the canary dir as empty as it was.
#[test]
fn the_callers_environment_does_not_reach_a_run() {
    let canary = tempfile::tempdir().unwrap();
    let state = canary.path().join("state");
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness::a_run_keeps_to_its_temp_dir"])
        .env("KCOMPILE_STATE", &state)
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .env("HOME", canary.path())
        .output()
        .unwrap();
    let text = common::text(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the inner test did not run:\n{text}"
    );
    assert_eq!(entries(canary.path()), Vec::<PathBuf>::new());
    fs::remove_dir(canary.path()).expect("the canary dir is still there, and empty");
}
