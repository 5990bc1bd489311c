//! Helpers shared by test crates (`mod common;`).

// Each test crate compiles this module and uses only some of its helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The built `kcompile`, to run in `dir`.
pub fn kcompile(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("kcompile").unwrap();
    command.current_dir(dir);
    command
}

/// Runs the built `kcompile` with `args` in `dir`; its output, whatever its exit status.
pub fn run_kcompile(dir: &Path, args: &[&str]) -> Output {
    kcompile(dir).args(args).output().unwrap()
}

/// Every example spec (`examples/*.yaml`), sorted; there are at least five.
pub fn example_specs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    found.sort();
    assert!(
        found.len() >= 5,
        "the examples are in {}: {found:?}",
        dir.display()
    );
    found
}

/// A command's stdout then stderr, as text (for assertion messages and searches).
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `script` gives a command a terminal through a pseudo-terminal. A bare chroot (a fresh machine's
/// test run) has no devpts at `/dev/pts`; the tests run as root, so mount a private instance there
/// (`/dev/ptmx` opens the instance beside it). A machine that has one is left as it is.
pub fn ensure_pseudo_terminals() {
    let present = std::fs::read_dir("/dev/pts").is_ok_and(|mut entries| entries.next().is_some());
    if !present {
        let status = std::process::Command::new("mount")
            .args(["-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620"])
            .args(["devpts", "/dev/pts"])
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "no /dev/pts and cannot mount one (tests run as root)"
        );
    }
}
