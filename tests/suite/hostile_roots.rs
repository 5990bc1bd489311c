//! A machine root is untrusted input: `diff`, `verify --root` and `certs --root` read it without
//! hanging on a FIFO, without opening a device, without reading a huge file whole, and without
//! following a link out of the root — each such path is named, with what it is, and its target's
//! contents never appear. Links inside the root, absolute ones included (as kubeadm's kubelet
//! makes them), are followed. Every command runs under a 20 s timeout: a hang fails the test.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use crate::common;
use base64::Engine;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/single-node.yaml");
const HOST: &str = "node01";

/// The single-node example (ECDSA keys: fast), built once: its state and `out/node01/`.
fn built() -> &'static Path {
    static BUILT: OnceLock<tempfile::TempDir> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let output = kcompile(
                dir.path(),
                &[
                    "build", "-f", EXAMPLE, "--state", "state", "--all", "--out", "out",
                ],
            );
            assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
            dir
        })
        .path()
}

/// Runs kcompile in `dir`, killed after 20 s; a run that had to be killed fails the test.
fn kcompile(dir: &Path, args: &[&str]) -> Output {
    common::run_kcompile_within(dir, args, Duration::from_secs(20))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A private copy of the built host's files, to plant something hostile in.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(built().join("out").join(HOST))
            .arg(dir.path().join("root"))
            .status()
            .unwrap();
        assert!(status.success());
        Machine { dir }
    }

    /// The root; its parent (the temp dir) is outside it.
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// Removes the file at `relative`, to put something else there.
    fn clear(&self, relative: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::remove_file(&path).unwrap();
        path
    }

    fn link(&self, relative: &str, target: impl AsRef<Path>) {
        symlink(target, self.clear(relative)).unwrap();
    }

    fn diff(&self) -> Output {
        let root = self.root();
        let state = built().join("state");
        kcompile(
            built(),
            &[
                "diff",
                "-f",
                EXAMPLE,
                "--state",
                state.to_str().unwrap(),
                "--host",
                HOST,
                "--root",
                root.to_str().unwrap(),
            ],
        )
    }

    fn verify(&self) -> Output {
        kcompile(
            self.dir.path(),
            &["verify", "--root", self.root().to_str().unwrap()],
        )
    }

    fn certs(&self) -> Output {
        kcompile(
            self.dir.path(),
            &["certs", "--root", self.root().to_str().unwrap()],
        )
    }
}

/// Asserts `output` exited with `code` and that stdout or stderr has a line holding every one of
/// `words`.
fn says(output: &Output, code: i32, words: &[&str]) {
    let text = format!("{}{}", stdout(output), stderr(output));
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert!(
        text.lines()
            .any(|line| words.iter().all(|word| line.contains(word))),
        "no line with {words:?}:\n{text}"
    );
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_fifo_at_a_managed_path_is_named_and_never_waited_on() {
    let machine = Machine::new();
    mkfifo(&machine.clear("etc/kubernetes/pki/apiserver.crt"));
    let pipe = "`etc/kubernetes/pki/apiserver.crt` is a named pipe, not a regular file";
    // diff cannot compare the path: exit 2, as for any unreadable root.
    says(&machine.diff(), 2, &["error: ", pipe]);
    // certs reads every .crt: exit 2.
    says(&machine.certs(), 2, &["error: ", pipe]);
    // verify: an error finding, the rest of the host still checked.
    let output = machine.verify();
    says(
        &output,
        1,
        &[
            "error: ",
            "pki/apiserver.crt: is a named pipe, not a regular file",
        ],
    );
    assert!(
        stdout(&output).contains("certificates"),
        "{}",
        stdout(&output)
    );

    // A FIFO the bundle does not write, where the kubelet runs everything: listed, not read.
    let machine = Machine::new();
    mkfifo(&machine.path("etc/kubernetes/manifests/extra.yaml"));
    let output = machine.diff();
    says(
        &output,
        1,
        &["? etc/kubernetes/manifests/extra.yaml: a named pipe, in the static pod directory"],
    );
    assert!(stdout(&output).contains("1 unknown"), "{}", stdout(&output));
    says(
        &machine.verify(),
        1,
        &["error: ", "manifests/extra.yaml: is a named pipe"],
    );
    let output = machine.certs();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn a_device_node_at_a_managed_path_is_never_opened() {
    let machine = Machine::new();
    let path = machine.clear("etc/kubernetes/admin.conf");
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // `/dev/zero` is character device 1:5; reading it never ends.
    // SAFETY: a valid NUL-terminated path.
    let made = unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 5)) };
    if made != 0 {
        let error = std::io::Error::last_os_error();
        assert_eq!(
            error.raw_os_error(),
            Some(libc::EPERM),
            "mknod failed: {error}"
        );
        panic!("making a device node needs root (CAP_MKNOD): {error}; run the tests as root");
    }
    let device = "`etc/kubernetes/admin.conf` is a character device, not a regular file";
    says(&machine.diff(), 2, &["error: ", device]);
    says(&machine.certs(), 2, &["error: ", device]);
    says(
        &machine.verify(),
        1,
        &[
            "error: ",
            "etc/kubernetes/admin.conf: is a character device, not a regular file",
        ],
    );
}

#[test]
fn a_huge_file_at_a_managed_path_is_refused_without_being_read() {
    let machine = Machine::new();
    let path = machine.clear("etc/kubernetes/pki/apiserver.crt");
    // Sparse: 5 GiB that take no disk.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(5 << 30).unwrap();
    drop(file);
    let huge = "is 5368709120 bytes, more than the 4 MiB limit for a Kubernetes file";
    says(
        &machine.diff(),
        2,
        &["error: ", "`etc/kubernetes/pki/apiserver.crt`", huge],
    );
    says(
        &machine.certs(),
        2,
        &["error: ", "`etc/kubernetes/pki/apiserver.crt`", huge],
    );
    // verify: a warning (not checked); the apiserver's flag then names a file it cannot check.
    let output = machine.verify();
    let text = stdout(&output);
    assert!(
        text.lines().any(|line| line.starts_with("warning: ")
            && line.contains("pki/apiserver.crt: ")
            && line.contains(huge)),
        "{text}"
    );
    assert_ne!(output.status.code(), Some(2), "{text}{}", stderr(&output));
}

/// The lines of the host's `/etc/shadow` (if it has one), and of a secret planted beside the root.
fn secrets(machine: &Machine) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string("/etc/shadow")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.len() >= 8)
        .map(str::to_owned)
        .collect();
    lines.push("SECRET-OUTSIDE-THE-ROOT-4d1f".into());
    std::fs::write(
        machine.dir.path().join("secret.conf"),
        "client-certificate-data: SECRET-OUTSIDE-THE-ROOT-4d1f\n",
    )
    .unwrap();
    lines
}

fn leaks_nothing(output: &Output, secrets: &[String]) {
    let text = format!("{}{}", stdout(output), stderr(output));
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "leaked `{secret}`:\n{text}"
        );
    }
}

#[test]
fn links_out_of_the_root_are_named_and_never_followed() {
    let machine = Machine::new();
    let secrets = secrets(&machine);
    // Absolute: resolved as if the root were `/`, where the root holds no such file.
    machine.link("etc/kubernetes/admin.conf", "/etc/shadow");
    let outside = machine.dir.path().join("secret.conf");
    machine.link("etc/kubernetes/controller-manager.conf", &outside);
    // Relative: climbing above the root.
    machine.link(
        "etc/kubernetes/scheduler.conf",
        "../../../../../../../../etc/shadow",
    );
    machine.link("etc/kubernetes/super-admin.conf", "../../../secret.conf");

    let output = machine.diff();
    for (path, target) in [
        ("admin.conf", "`/etc/shadow`, which the root does not hold"),
        ("controller-manager.conf", "which the root does not hold"),
        (
            "scheduler.conf",
            "`../../../../../../../../etc/shadow`, which climbs above the root",
        ),
        (
            "super-admin.conf",
            "`../../../secret.conf`, which climbs above the root",
        ),
    ] {
        says(
            &output,
            1,
            &[
                "warning: ",
                &format!(
                    "`etc/kubernetes/{path}` is a symlink pointing outside the root: not followed"
                ),
                target,
            ],
        );
    }
    leaks_nothing(&output, &secrets);

    let output = machine.verify();
    for path in [
        "admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
        "super-admin.conf",
    ] {
        assert!(
            stdout(&output).lines().any(|line| line.starts_with("warning: ")
                && line.contains(&format!("etc/kubernetes/{path}: is a symlink pointing outside the root: not followed"))),
            "{path}: {}",
            stdout(&output)
        );
    }
    assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
    leaks_nothing(&output, &secrets);

    // certs reads every kubeconfig: the first link out of the root stops it.
    let output = machine.certs();
    says(
        &output,
        2,
        &[
            "error: ",
            "`etc/kubernetes/admin.conf` is a symlink pointing outside the root: not followed (→ `/etc/shadow`",
        ],
    );
    leaks_nothing(&output, &secrets);
    let machine = Machine::new();
    let secrets = self::secrets(&machine);
    machine.link("etc/kubernetes/pki/ca.crt", "../../../../secret.conf");
    let output = machine.certs();
    says(
        &output,
        2,
        &[
            "error: ",
            "`etc/kubernetes/pki/ca.crt` is a symlink pointing outside the root",
            "which climbs above the root",
        ],
    );
    leaks_nothing(&output, &secrets);
    // A directory link out of the root: certs says it lists nothing under it.
    let machine = Machine::new();
    std::fs::remove_dir_all(machine.path("var/lib/kubelet/pki")).unwrap();
    symlink("../../../../pki", machine.path("var/lib/kubelet/pki")).unwrap();
    let output = machine.certs();
    says(
        &output,
        0,
        &[
            "warning: `var/lib/kubelet/pki` is a symlink pointing outside the root",
            "no certificate under it is listed",
        ],
    );
    assert!(
        !stdout(&output).contains("kubelet.crt"),
        "{}",
        stdout(&output)
    );
    // A directory on the way that leaves the root: the path under it is refused too.
    let machine = Machine::new();
    symlink("../../../..", machine.path("etc/kubernetes/pki/climb")).unwrap();
    machine.link("etc/kubernetes/pki/ca.crt", "climb/secret.conf");
    let output = machine.verify();
    assert!(
        stdout(&output).lines().any(|line| line.starts_with("warning: ")
            && line.contains("pki/ca.crt: is under `etc/kubernetes/pki/climb`, a symlink pointing outside the root")),
        "{}",
        stdout(&output)
    );
    leaks_nothing(&output, &secrets);
}

#[test]
fn absolute_links_inside_the_root_resolve_as_on_the_machine() {
    let machine = Machine::new();
    // kubeadm's kubelet: a dated client certificate and key in one file, a link to it by its
    // absolute path, and kubelet.conf naming the link.
    let conf = machine.path("etc/kubernetes/kubelet.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let field = |name: &str| {
        let line = text
            .lines()
            .find_map(|line| line.trim().strip_prefix(&format!("{name}: ")))
            .unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(line.trim())
            .unwrap()
    };
    let mut pem = field("client-certificate-data");
    pem.extend(field("client-key-data"));
    let dated = "var/lib/kubelet/pki/kubelet-client-2026-01-02-03-04-05.pem";
    std::fs::write(machine.path(dated), pem).unwrap();
    // The kubelet writes it 0600 (verify refuses a key others can read).
    std::fs::set_permissions(
        machine.path(dated),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    symlink(
        format!("/{dated}"),
        machine.path("var/lib/kubelet/pki/kubelet-client-current.pem"),
    )
    .unwrap();
    let current = "/var/lib/kubelet/pki/kubelet-client-current.pem";
    let rewritten: String = text
        .lines()
        .map(|line| {
            if let Some((indent, _)) = line.split_once("client-certificate-data:") {
                format!("{indent}client-certificate: {current}\n")
            } else if let Some((indent, _)) = line.split_once("client-key-data:") {
                format!("{indent}client-key: {current}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&conf, rewritten).unwrap();
    // The kubelet's serving certificate, renamed, behind an absolute link; a relative link and
    // a directory link to an ancestor (walked once) too.
    std::fs::rename(
        machine.path("var/lib/kubelet/pki/kubelet.crt"),
        machine.path("var/lib/kubelet/pki/kubelet-2026.crt"),
    )
    .unwrap();
    symlink(
        "/var/lib/kubelet/pki/kubelet-2026.crt",
        machine.path("var/lib/kubelet/pki/kubelet.crt"),
    )
    .unwrap();
    std::fs::rename(
        machine.path("etc/kubernetes/pki/front-proxy-ca.crt"),
        machine.path("etc/kubernetes/front-proxy-ca.pem.keep"),
    )
    .unwrap();
    symlink(
        "../front-proxy-ca.pem.keep",
        machine.path("etc/kubernetes/pki/front-proxy-ca.crt"),
    )
    .unwrap();
    symlink("/etc/kubernetes", machine.path("etc/kubernetes/pki/again")).unwrap();

    let output = machine.verify();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(!text.contains("not followed"), "{text}");
    assert!(!text.contains("kubelet-client-current"), "{text}");

    let output = machine.certs();
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for row in [
        "var/lib/kubelet/pki/kubelet.crt ",
        "var/lib/kubelet/pki/kubelet-2026.crt ",
        "etc/kubernetes/pki/front-proxy-ca.crt ",
    ] {
        assert!(
            table.lines().any(|line| line.starts_with(row)),
            "{row}\n{table}"
        );
    }

    // diff reads through the links as well: the relative link's target is the same bytes.
    let output = machine.diff();
    let text = stdout(&output);
    assert!(!text.contains("not followed"), "{text}");
    assert!(
        !text.contains("etc/kubernetes/pki/front-proxy-ca.crt"),
        "read through its link, it is unchanged:\n{text}"
    );
}

#[test]
fn link_loops_are_named_and_end() {
    let machine = Machine::new();
    machine.link("etc/kubernetes/admin.conf", "admin-loop.conf");
    symlink("admin.conf", machine.path("etc/kubernetes/admin-loop.conf")).unwrap();
    // A longer loop through a directory.
    symlink(
        "/etc/kubernetes/pki/b",
        machine.path("etc/kubernetes/pki/a"),
    )
    .unwrap();
    symlink("../pki/a", machine.path("etc/kubernetes/pki/b")).unwrap();
    let looping = "is a symlink in a loop (or a chain of more than 40 links): not followed";

    says(
        &machine.diff(),
        1,
        &["warning: ", "`etc/kubernetes/admin.conf`", looping],
    );
    let output = machine.verify();
    for path in ["admin.conf", "admin-loop.conf", "pki/a", "pki/b"] {
        assert!(
            stdout(&output)
                .lines()
                .any(|line| line.starts_with("warning: ")
                    && line.contains(&format!("etc/kubernetes/{path}: {looping}"))),
            "{path}: {}",
            stdout(&output)
        );
    }
    assert_ne!(output.status.code(), Some(2));
    says(
        &machine.certs(),
        2,
        &["error: ", "`etc/kubernetes/admin-loop.conf`", looping],
    );
}
