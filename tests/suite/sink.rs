//! The directory sink (`kcompile build --out DIR`) against a hostile or stale tree: links where
//! it writes (a directory, a file) are refused and never followed, modes are exact under any
//! umask, and a rebuild after a control plane is demoted to a worker removes what the host no
//! longer gets (keys, static pods) but leaves what the user changed, saying so. The tar on
//! stdout holds the same files with the same modes as the tree.
//!
//! Specs: examples/single-node.yaml and examples/ha-3-masters.yaml (ECDSA-P256 keys: fast), each
//! copied into its own temp dir with its state dir.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::common::{self, Spec};

const SINGLE_NODE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/single-node.yaml");
const HA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ha-3-masters.yaml");
const MANIFEST: &str = "etc/kubernetes/kcompile/MANIFEST";
const INPUTS: &str = "etc/kubernetes/kcompile/INPUTS";

/// A temp dir with a spec (`cluster.yaml`) and its state dir (`state/`).
struct Workspace {
    dir: TempDir,
}

impl Workspace {
    fn new(example: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        fs::copy(example, dir.path().join("cluster.yaml")).unwrap();
        Workspace { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Edits the spec (`cluster.yaml`).
    fn edit_spec(&self, edit: impl FnOnce(Spec) -> Spec) {
        Spec::edit_file(&self.path("cluster.yaml"), edit);
    }

    /// `umask UMASK; kcompile build -f cluster.yaml --state state ARGS…`, run in the workspace.
    fn build(&self, umask: &str, args: &[&str]) -> Output {
        common::isolated("sh", self.dir.path())
            .arg("-c")
            .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
            .arg(common::KCOMPILE)
            .args(["build", "-f", "cluster.yaml", "--state", "state"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Builds `host` into `out` (umask 022); the build must succeed. Returns its stderr.
    fn build_host(&self, host: &str, out: &str) -> String {
        let output = self.build("022", &["--host", host, "--out", out]);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "build failed: {stderr}");
        stderr
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every entry under `root`, links not followed: relative path → (mode, kind, bytes of a file).
type Entries = BTreeMap<String, (u32, char, Vec<u8>)>;

fn entries(root: &Path) -> Entries {
    fn walk(root: &Path, dir: &Path, out: &mut Entries) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let mode = metadata.mode() & 0o7777;
            if metadata.is_dir() {
                out.insert(relative, (mode, 'd', Vec::new()));
                walk(root, &path, out);
            } else if metadata.is_file() {
                out.insert(relative, (mode, 'f', fs::read(&path).unwrap()));
            } else {
                out.insert(relative, (mode, 'l', Vec::new()));
            }
        }
    }
    let mut out = Entries::new();
    walk(root, root, &mut out);
    out
}

/// The files of `entries` (paths only).
fn files(entries: &Entries) -> Vec<&str> {
    entries
        .iter()
        .filter(|(_, (_, kind, _))| *kind == 'f')
        .map(|(path, _)| path.as_str())
        .collect()
}

/// `path → mode` of each file the MANIFEST under `root` lists.
fn manifest_modes(root: &Path) -> BTreeMap<String, u32> {
    let text = fs::read_to_string(root.join(MANIFEST)).unwrap();
    text.lines()
        .filter(|line| line.starts_with('0'))
        .map(|line| {
            let fields: Vec<&str> = line.splitn(3, ' ').collect();
            (
                fields[2].to_owned(),
                u32::from_str_radix(fields[0], 8).unwrap(),
            )
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_linked_pki_directory_is_refused_and_nothing_lands_in_its_target() {
    let workspace = Workspace::new(SINGLE_NODE);
    let out = workspace.path("out");
    let target = workspace.path("elsewhere");
    fs::create_dir_all(out.join("etc/kubernetes")).unwrap();
    fs::create_dir(&target).unwrap();
    symlink(&target, out.join("etc/kubernetes/pki")).unwrap();

    let output = workspace.build("022", &["--host", "node01", "--out", "out"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            "out: `etc/kubernetes/pki` is a symlink; kcompile never writes through links: remove it"
        ),
        "{message}"
    );
    assert!(entries(&target).is_empty(), "{:?}", entries(&target));
    // Refused before anything was written: the link is the only thing under out/.
    let tree = entries(&out);
    assert_eq!(
        tree.keys().collect::<Vec<_>>(),
        ["etc", "etc/kubernetes", "etc/kubernetes/pki"]
    );
    assert_eq!(tree["etc/kubernetes/pki"].1, 'l');

    // Once the link is gone, the same build writes the tree.
    fs::remove_file(out.join("etc/kubernetes/pki")).unwrap();
    workspace.build_host("node01", "out");
    assert!(out.join("etc/kubernetes/pki").is_dir());
    assert!(out.join("etc/kubernetes/pki/ca.key").is_file());
    assert!(entries(&target).is_empty());
}

#[test]
fn a_link_at_a_file_path_is_refused_and_its_target_untouched() {
    let workspace = Workspace::new(SINGLE_NODE);
    let out = workspace.path("out");
    let target = workspace.path("x");
    fs::write(&target, "precious\n").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
    workspace.build_host("node01", "out");
    fs::remove_file(out.join("etc/kubernetes/admin.conf")).unwrap();
    symlink(&target, out.join("etc/kubernetes/admin.conf")).unwrap();

    let output = workspace.build("022", &["--host", "node01", "--out", "out"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "`etc/kubernetes/admin.conf` is a symlink; kcompile never writes through links: \
             remove it"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious\n");
    assert_eq!(mode(&target), 0o640);
    assert!(
        fs::symlink_metadata(out.join("etc/kubernetes/admin.conf"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn modes_are_exact_whatever_the_umask() {
    for umask in ["000", "077"] {
        let workspace = Workspace::new(SINGLE_NODE);
        let output = workspace.build(umask, &["--host", "node01", "--out", "out"]);
        assert!(
            output.status.success(),
            "umask {umask}: {}",
            stderr(&output)
        );
        let out = workspace.path("out");
        assert_eq!(mode(&out), 0o755, "umask {umask}: out/");
        let tree = entries(&out);
        let mut expected = manifest_modes(&out);
        expected.insert(MANIFEST.to_owned(), 0o600);
        // The stamp of a tree written with --out (bundle::inputs), beside the MANIFEST.
        expected.insert(INPUTS.to_owned(), 0o600);
        assert_eq!(
            files(&tree),
            expected.keys().map(String::as_str).collect::<Vec<_>>()
        );
        for (path, (mode, kind, _)) in &tree {
            match kind {
                'd' => assert_eq!(*mode, 0o755, "umask {umask}: {path}/"),
                'f' => assert_eq!(*mode, expected[path], "umask {umask}: {path}"),
                _ => panic!("umask {umask}: {path} is a link"),
            }
            assert!(
                !path.contains("/.kcompile-"),
                "umask {umask}: temp file {path}"
            );
        }
        // The documented modes (docs/layout.md), not only the MANIFEST's word for them.
        for (path, documented) in [
            ("etc/kubernetes/pki/ca.key", 0o600),
            ("etc/kubernetes/pki/ca.crt", 0o644),
            ("etc/kubernetes/pki/sa.key", 0o600),
            ("etc/kubernetes/pki/sa.pub", 0o644),
            ("etc/kubernetes/admin.conf", 0o600),
            ("etc/kubernetes/manifests/kube-apiserver.yaml", 0o600),
            ("etc/systemd/system/kubelet.service", 0o644),
            ("var/lib/kubelet/config.yaml", 0o644),
            ("var/lib/kubelet/pki/kubelet.key", 0o600),
            (MANIFEST, 0o600),
        ] {
            assert_eq!(tree[path].0, documented, "umask {umask}: {path}");
        }
        for dir in ["etc", "etc/kubernetes/pki/etcd", "var/lib/kubelet/pki"] {
            assert_eq!(tree[dir], (0o755, 'd', Vec::new()), "umask {umask}: {dir}");
        }
    }
}

#[test]
fn a_demoted_control_plane_keeps_no_keys_or_control_plane_pods() {
    let workspace = Workspace::new(HA);
    let out = workspace.path("out");
    workspace.build_host("master03", "out");
    let gone = [
        "etc/kubernetes/pki/ca.key",
        "etc/kubernetes/pki/sa.key",
        "etc/kubernetes/pki/sa.pub",
        "etc/kubernetes/pki/apiserver.key",
        "etc/kubernetes/pki/apiserver-etcd-client.key",
        "etc/kubernetes/pki/etcd/server.key",
        "etc/kubernetes/pki/etcd/peer.key",
        "etc/kubernetes/pki/etcd/healthcheck-client.key",
        "etc/kubernetes/admin.conf",
        "etc/kubernetes/encryption-config.yaml",
        "etc/kubernetes/manifests/etcd.yaml",
        "etc/kubernetes/manifests/kube-apiserver.yaml",
        "etc/kubernetes/manifests/kube-controller-manager.yaml",
    ];
    for path in gone {
        assert!(out.join(path).is_file(), "a control plane gets {path}");
    }
    // The user changed one file the worker will not get.
    let scheduler = out.join("etc/kubernetes/manifests/kube-scheduler.yaml");
    let mut changed = fs::read(&scheduler).unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(&scheduler)
        .unwrap()
        .write_all(b"#")
        .unwrap();
    changed.push(b'#');

    workspace.edit_spec(|spec| {
        assert_eq!(spec.get("hosts.2.name").unwrap(), "master03");
        spec.set("hosts.2.roles", ["worker"])
    });
    let message = workspace.build_host("master03", "out");
    for path in gone {
        assert!(!out.join(path).exists(), "the worker still has {path}");
        assert!(
            message.contains(&format!(
                "removed out/{path} (written by kcompile, no longer produced)"
            )),
            "{path} not reported removed: {message}"
        );
    }
    assert!(
        message.contains(
            "warning: left out/etc/kubernetes/manifests/kube-scheduler.yaml: changed since \
             kcompile wrote it"
        ),
        "{message}"
    );
    assert_eq!(fs::read(&scheduler).unwrap(), changed);
    // The etcd directory held only what pruning removed.
    assert!(!out.join("etc/kubernetes/pki/etcd").exists());
    assert!(message.contains("removed out/etc/kubernetes/pki/etcd/ "));

    // What is left is exactly a fresh worker build of master03, plus the file the user changed.
    workspace.build_host("master03", "fresh");
    let mut expected = files(&entries(&workspace.path("fresh")))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    expected.push("etc/kubernetes/manifests/kube-scheduler.yaml".to_owned());
    expected.sort();
    assert_eq!(files(&entries(&out)), expected);
    assert!(!manifest_modes(&out).contains_key("etc/kubernetes/pki/ca.key"));

    // The next build has nothing more to remove; the changed file is the user's now (the MANIFEST
    // it replaced does not list it), so it is not named again.
    let message = workspace.build_host("master03", "out");
    assert!(!message.contains("removed out/"), "{message}");
    assert!(!message.contains("kube-scheduler.yaml"), "{message}");
}

/// `kcompile build --all -f cluster.yaml --state state --out OUT`; the build must succeed.
fn build_all(workspace: &Workspace, out: &str) {
    let output = workspace.build("022", &["--all", "--out", out]);
    assert!(output.status.success(), "build failed: {}", stderr(&output));
}

/// Replaces one byte of `path` keeping its size and modification time (a change only a content
/// check sees).
fn rewrite_in_place(path: &Path) {
    let before = fs::symlink_metadata(path).unwrap();
    let mut bytes = fs::read(path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    fs::write(path, &bytes).unwrap();
    let status = Command::new("touch")
        .arg("-d")
        .arg(format!("@{}.{:09}", before.mtime(), before.mtime_nsec()))
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
    let after = fs::symlink_metadata(path).unwrap();
    assert_eq!(
        (after.len(), after.mtime(), after.mtime_nsec()),
        (before.len(), before.mtime(), before.mtime_nsec())
    );
}

/// A warm build skips the hosts whose trees hold what their inputs render (`bundle::inputs`), and
/// still leaves exactly what a build into an empty dir writes: byte for byte, mode for mode. What
/// changed on disk (bytes with the same size and time, a removed file, a mode, an owned
/// directory's mode, a file changed together with its MANIFEST line, a removed stamp) is found and
/// rewritten; a change of the state (a new bootstrap token) or of the spec renders again.
#[test]
fn a_warm_build_leaves_the_tree_a_fresh_build_writes_and_repairs_what_changed() {
    let workspace = Workspace::new(HA);
    let out = workspace.path("out");
    build_all(&workspace, "out");
    build_all(&workspace, "fresh");
    let fresh = entries(&workspace.path("fresh"));
    assert!(fresh.contains_key(&format!("master01/{INPUTS}")));
    assert_eq!(entries(&out), fresh);

    // Nothing changed: nothing is rewritten (same inodes), the tree is the same.
    let inode = |path: &str| fs::symlink_metadata(out.join(path)).unwrap().ino();
    let inodes: Vec<u64> = files(&fresh).into_iter().map(inode).collect();
    build_all(&workspace, "out");
    assert_eq!(entries(&out), fresh);
    assert_eq!(
        files(&fresh).into_iter().map(inode).collect::<Vec<_>>(),
        inodes
    );

    // Changes on disk, one per host, and a removed stamp.
    rewrite_in_place(&out.join("worker01/var/lib/kubelet/config.yaml"));
    fs::remove_file(out.join("master02/etc/kubernetes/manifests/kube-scheduler.yaml")).unwrap();
    fs::set_permissions(
        out.join("master03/etc/kubernetes/pki/ca.key"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    fs::set_permissions(
        out.join("worker02/etc/kubernetes"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    // master01: a file and its MANIFEST line changed together.
    let pod = out.join("master01/etc/kubernetes/manifests/kube-apiserver.yaml");
    let old = fs::read(&pod).unwrap();
    let mut new = old.clone();
    new.extend_from_slice(b"# edited\n");
    fs::write(&pod, &new).unwrap();
    let manifest = out.join("master01").join(MANIFEST);
    let text = fs::read_to_string(&manifest).unwrap();
    let (old_sha, new_sha) = (
        kcompile::digest::sha256(&old),
        kcompile::digest::sha256(&new),
    );
    assert!(text.contains(&old_sha));
    fs::write(&manifest, text.replace(&old_sha, &new_sha)).unwrap();
    assert_ne!(entries(&out), fresh);
    build_all(&workspace, "out");
    assert_eq!(entries(&out), fresh);

    fs::remove_file(out.join("worker01").join(INPUTS)).unwrap();
    rewrite_in_place(&out.join("worker01/var/lib/kubelet/config.yaml"));
    build_all(&workspace, "out");
    assert_eq!(entries(&out), fresh);

    // A change of the state: one host's renewed certificate, and the cluster-wide admin one.
    let output = common::run_kcompile(
        workspace.dir.path(),
        &[
            "certs",
            "renew",
            "worker01/kubelet-client",
            "admin",
            "-f",
            "cluster.yaml",
            "--state",
            "state",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    build_all(&workspace, "out");
    build_all(&workspace, "fresh2");
    let fresh2 = entries(&workspace.path("fresh2"));
    for changed in [
        "worker01/etc/kubernetes/kubelet.conf",
        "master02/etc/kubernetes/admin.conf",
    ] {
        assert_ne!(fresh2[changed], fresh[changed], "{changed}");
    }
    assert_eq!(entries(&out), fresh2);

    // A change of the spec: the apiserver's flag, and every host's MANIFEST names the new spec.
    workspace.edit_spec(|spec| spec.set("apiServer.extraArgs.event-ttl", "5h"));
    build_all(&workspace, "out");
    build_all(&workspace, "fresh3");
    let fresh3 = entries(&workspace.path("fresh3"));
    let worker_manifest = format!("worker02/{MANIFEST}");
    assert_ne!(fresh3[&worker_manifest], fresh2[&worker_manifest]);
    assert_eq!(entries(&out), fresh3);
}

#[test]
fn the_tar_holds_the_tree_with_the_same_modes() {
    let workspace = Workspace::new(SINGLE_NODE);
    let output = workspace.build("077", &["--host", "node01"]);
    assert!(output.status.success(), "{}", stderr(&output));
    workspace.build_host("node01", "out");
    let tree = entries(&workspace.path("out"));

    let mut archive = tar::Archive::new(output.stdout.as_slice());
    let mut in_tar = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let path = path.trim_end_matches('/').to_owned();
        let mode = entry.header().mode().unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let kind = if entry.header().entry_type().is_dir() {
            'd'
        } else {
            'f'
        };
        assert_eq!(tree.get(&path), Some(&(mode, kind, bytes)), "{path}");
        in_tar.push(path);
    }
    // The tree has the same files but the stamp of a tree written with --out (bundle::inputs);
    // only the system's directories are not tar entries.
    let only_in_tree: Vec<&str> = tree
        .keys()
        .filter(|path| !in_tar.contains(path) && *path != INPUTS)
        .map(String::as_str)
        .collect();
    // The node files' directories (sysctl.d, modules-load.d, containerd's) are the system's or
    // containerd's, shared with the operator's own files: not kcompile's either.
    assert_eq!(
        only_in_tree,
        [
            "etc",
            "etc/containerd",
            "etc/containerd/conf.d",
            "etc/modules-load.d",
            "etc/sysctl.d",
            "etc/systemd",
            "etc/systemd/system",
            "var",
            "var/lib"
        ]
    );
}
