//! What the test modules share: the harness (`Test`, `kcompile`), the YAML-aware spec editor
//! (`Spec`), real etcd in network namespaces (`netns`), the lock the heavy tests take, and small
//! helpers.

pub mod adopted;
pub mod kubeadm_cluster;
pub mod netns;
mod spec;
mod test;
pub mod tutorial_cluster;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Mutex, MutexGuard};

pub use spec::Spec;
pub use test::{
    KCOMPILE, KilledOnDrop, Run, Test, case_dir, isolated, kcompile, kcompile_in_repo,
    kcompile_process, kill_when, run_kcompile, run_kcompile_within, show_args,
};

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

/// Every file under `root` (none if it does not exist), by its path relative to `root`, with its
/// bytes and permission bits; but the INPUTS stamps (`kcompile::bundle::inputs::PATH`, a cache key
/// only an `--out` tree carries, never part of a bundle). A link is read as the file it names. A
/// file that vanishes between the listing and the read (a temp file being renamed) is left out.
pub fn bundle_files(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, (Vec<u8>, u32)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                walk(root, &path, into);
                continue;
            }
            let relative = path.strip_prefix(root).expect("under the root");
            if relative.ends_with(kcompile::bundle::inputs::PATH) {
                continue;
            }
            let (Ok(bytes), Ok(meta)) = (std::fs::read(&path), std::fs::metadata(&path)) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o7777;
            into.insert(relative.to_string_lossy().into_owned(), (bytes, mode));
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
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
