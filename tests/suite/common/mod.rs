//! What the test modules share: the harness (`Test`, `kcompile`), the YAML-aware spec editor
//! (`Spec`), real etcd in network namespaces (`netns`), the lock the heavy tests take, and small
//! helpers.

pub mod kubeadm_cluster;
pub mod netns;
mod spec;
mod test;
pub mod tutorial_cluster;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Mutex, MutexGuard};

pub use spec::Spec;
pub use test::{Test, case_dir, kcompile, kcompile_process};

/// Held by each test that runs a real multi-process system (an etcd cluster in network
/// namespaces, an ansible playbook), for its whole run: two of them at once on a two-core CI
/// machine starve each other's timeouts. A test that failed while holding it does not stop the
/// next one.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
/// (`/dev/ptmx` opens the instance beside it). A machine that has one is left as it is. Tests
/// that call this at once check and mount one after the other.
pub fn ensure_pseudo_terminals() {
    static CHECKED: Mutex<()> = Mutex::new(());
    let _one_at_a_time = CHECKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
