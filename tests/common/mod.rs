//! Helpers shared by test crates (`mod common;`).

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
