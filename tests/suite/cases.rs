//! The fixtures under `tests/cases/<name>/`, one directory per case, run through the harness: a
//! new case is a directory, not code.
//!
//! - `cluster.yaml`: the spec, written to the run's temp dir;
//! - `args`: kcompile's arguments, one per line (`validate` if absent);
//! - `status`: the exit status (0 if absent);
//! - `stdout`, `stderr`: the whole output expected on each (unchecked if absent);
//! - `expected/`: files the run must have written under `out/`, byte for byte (a build with
//!   `--out out`); `KCOMPILE_BLESS=1` rewrites them.

use std::fs;

use crate::common::{Test, case_dir};

/// Every case directory's name, sorted.
fn cases() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(case_dir(""))
        .expect("tests/cases exists")
        .map(|entry| entry.expect("a directory entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_case_runs_as_its_files_say() {
    let names = cases();
    assert!(!names.is_empty(), "no case under tests/cases");
    for name in names {
        let dir = case_dir(&name);
        let read = |file: &str| fs::read_to_string(dir.join(file)).ok();
        let args = read("args").unwrap_or_else(|| "validate".to_owned());
        let status = read("status").map_or(0, |text| {
            text.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}/status: `{text}` is not a number"))
        });
        let mut test = Test::case(&name).args(args.lines()).status(status);
        if let Some(stdout) = read("stdout") {
            test = test.stdout(stdout);
        }
        if let Some(stderr) = read("stderr") {
            test = test.stderr(stderr);
        }
        let run = test.run();
        if dir.join("expected").is_dir() {
            run.tree_matches("out", &name);
        }
    }
}
