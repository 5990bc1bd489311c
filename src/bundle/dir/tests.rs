//! Unit tests of the directory sink: modes, links refused, pruning, rewrites skipped.

use super::*;
use crate::render::{PUBLIC, SECRET};
use std::os::unix::fs::symlink;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A host bundle: two keys, a certificate, a manifest, and its MANIFEST.
fn bundle(keys: bool) -> FileSet {
    let mut files = FileSet::default();
    files.add("/etc/kubernetes/pki/ca.crt", "CA\n", PUBLIC);
    if keys {
        files.add("/etc/kubernetes/pki/ca.key", "KEY\n", SECRET);
        files.add("/etc/kubernetes/pki/etcd/peer.key", "PEER\n", SECRET);
    }
    files.add("/etc/kubernetes/manifests/kube-proxy.yaml", "pod\n", SECRET);
    files.add("/var/lib/kubelet/config.yaml", "config\n", PUBLIC);
    manifest::add(&mut files, &manifest::Header::default());
    files
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_every_file_with_its_mode_and_no_temp_file() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("a/b");
    let written = write(&bundle(true), &root).unwrap();
    assert_eq!(written.pruned, Vec::<String>::new());
    assert!(written.left.is_empty());
    assert_eq!(written.to_string(), "");
    assert_eq!(mode(&root), 0o755);
    assert_eq!(mode(&temp.path().join("a")), 0o755);
    for (path, file) in &bundle(true).files {
        let target = root.join(path);
        assert_eq!(fs::read(&target).unwrap(), file.bytes, "{path}");
        assert_eq!(mode(&target), file.mode, "{path}");
    }
    for dir in [
        "etc",
        "etc/kubernetes",
        "etc/kubernetes/pki/etcd",
        "var/lib",
    ] {
        assert_eq!(mode(&root.join(dir)), 0o755, "{dir}");
    }
    assert_eq!(
        names(&root.join("etc/kubernetes/pki")),
        ["ca.crt", "ca.key", "etcd"]
    );
}

#[test]
fn an_owned_directory_gets_its_mode_back_but_a_system_one_keeps_its_own() {
    let temp = tempfile::tempdir().unwrap();
    fs::create_dir_all(temp.path().join("etc/kubernetes")).unwrap();
    fs::set_permissions(temp.path().join("etc"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::set_permissions(
        temp.path().join("etc/kubernetes"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    write(&bundle(false), temp.path()).unwrap();
    assert_eq!(mode(&temp.path().join("etc")), 0o750);
    assert_eq!(mode(&temp.path().join("etc/kubernetes")), 0o755);
}

#[test]
fn refuses_a_linked_directory_and_writes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("root");
    let elsewhere = temp.path().join("elsewhere");
    fs::create_dir_all(root.join("etc/kubernetes")).unwrap();
    fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, root.join("etc/kubernetes/pki")).unwrap();
    let error = write(&bundle(true), &root).unwrap_err();
    assert!(matches!(error.problem, Problem::Link), "{error:?}");
    assert_eq!(error.path, "etc/kubernetes/pki");
    assert!(error.is_refusal());
    assert_eq!(
        error.to_string(),
        format!(
            "{}: `etc/kubernetes/pki` is a symlink; kcompile never writes through links: \
             remove it",
            root.display()
        )
    );
    assert!(names(&elsewhere).is_empty());
    // Checked before anything is written: no other file either.
    assert!(!root.join("var").exists());
    assert!(!root.join("etc/kubernetes/manifests").exists());
}

#[test]
fn refuses_a_link_a_directory_or_a_pipe_at_a_file_path() {
    let temp = tempfile::tempdir().unwrap();
    let outside = temp.path().join("outside");
    fs::write(&outside, "mine").unwrap();
    let root = temp.path().join("root");
    fs::create_dir_all(root.join("etc/kubernetes/pki")).unwrap();
    symlink(&outside, root.join("etc/kubernetes/pki/ca.crt")).unwrap();
    let error = write(&bundle(true), &root).unwrap_err();
    assert!(matches!(error.problem, Problem::Link), "{error}");
    assert_eq!(error.path, "etc/kubernetes/pki/ca.crt");
    assert_eq!(fs::read_to_string(&outside).unwrap(), "mine");
    assert!(
        fs::symlink_metadata(root.join("etc/kubernetes/pki/ca.crt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    fs::remove_file(root.join("etc/kubernetes/pki/ca.crt")).unwrap();
    fs::create_dir(root.join("etc/kubernetes/pki/ca.key")).unwrap();
    let error = write(&bundle(true), &root).unwrap_err();
    assert_eq!(
        error.describe(),
        "`etc/kubernetes/pki/ca.key` is a directory, not a regular file; kcompile only \
         replaces regular files: remove it"
    );

    fs::remove_dir(root.join("etc/kubernetes/pki/ca.key")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("etc/kubernetes/pki/ca.key"),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let error = write(&bundle(true), &root).unwrap_err();
    assert!(
        matches!(error.problem, Problem::NotAFile("named pipe")),
        "{error}"
    );
}

#[test]
fn refuses_a_file_where_a_directory_must_be() {
    let temp = tempfile::tempdir().unwrap();
    fs::create_dir_all(temp.path().join("var/lib")).unwrap();
    fs::write(temp.path().join("var/lib/kubelet"), "x").unwrap();
    let error = write(&bundle(false), temp.path()).unwrap_err();
    assert_eq!(
        error.describe(),
        "`var/lib/kubelet` is a regular file, not a directory; kcompile writes files below \
         it: remove it"
    );
    let file = temp.path().join("file");
    fs::write(&file, "x").unwrap();
    let error = write(&bundle(false), &file).unwrap_err();
    assert!(
        matches!(error.problem, Problem::NotADirectory(_)),
        "{error}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn refuses_a_bundle_path_that_climbs() {
    let temp = tempfile::tempdir().unwrap();
    let mut files = FileSet::default();
    files.add("etc/../../escape", "x", PUBLIC);
    let error = write(&files, &temp.path().join("root")).unwrap_err();
    assert!(matches!(error.problem, Problem::BadPath));
    assert!(!error.is_refusal());
    assert!(!temp.path().join("escape").exists());
}

#[test]
fn prunes_what_is_no_longer_produced_and_leaves_what_changed() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    write(&bundle(true), root).unwrap();
    // The user changed one file the next bundle drops.
    let peer = root.join("etc/kubernetes/pki/etcd/peer.key");
    fs::OpenOptions::new()
        .append(true)
        .open(&peer)
        .unwrap()
        .write_all(b"\n")
        .unwrap();
    let written = write(&bundle(false), root).unwrap();
    assert_eq!(written.pruned, ["etc/kubernetes/pki/ca.key"]);
    assert_eq!(
        written.left,
        [(
            "etc/kubernetes/pki/etcd/peer.key".to_owned(),
            "changed since kcompile wrote it".to_owned()
        )]
    );
    assert!(!root.join("etc/kubernetes/pki/ca.key").exists());
    assert_eq!(fs::read_to_string(&peer).unwrap(), "PEER\n\n");
    assert!(written.to_string().contains(&format!(
        "warning: left {}/etc/kubernetes/pki/etcd/peer.key: changed since kcompile wrote it",
        root.display()
    )));

    // Once the user removes it, the emptied directory goes too, at the next build.
    fs::remove_file(&peer).unwrap();
    write(&bundle(true), root).unwrap();
    let written = write(&bundle(false), root).unwrap();
    assert_eq!(
        written.pruned,
        [
            "etc/kubernetes/pki/ca.key",
            "etc/kubernetes/pki/etcd/peer.key",
            "etc/kubernetes/pki/etcd/"
        ]
    );
    assert!(written.left.is_empty());
    assert_eq!(names(&root.join("etc/kubernetes/pki")), ["ca.crt"]);
}

#[test]
fn prunes_nothing_through_a_link_and_nothing_it_did_not_write() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("root");
    let elsewhere = temp.path().join("elsewhere");
    write(&bundle(true), &root).unwrap();
    // The same bytes, somewhere a link leads.
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("peer.key"), "PEER\n").unwrap();
    fs::remove_dir_all(root.join("etc/kubernetes/pki/etcd")).unwrap();
    symlink(&elsewhere, root.join("etc/kubernetes/pki/etcd")).unwrap();
    // A link with the file's name.
    fs::remove_file(root.join("etc/kubernetes/pki/ca.key")).unwrap();
    symlink(
        elsewhere.join("peer.key"),
        root.join("etc/kubernetes/pki/ca.key"),
    )
    .unwrap();
    // A file kcompile never listed.
    fs::write(root.join("etc/kubernetes/pki/mine.key"), "x").unwrap();
    let written = write(&bundle(false), &root).unwrap();
    assert!(written.pruned.is_empty(), "{written:?}");
    let left: BTreeMap<_, _> = written.left.iter().cloned().collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left["etc/kubernetes/pki/ca.key"].starts_with("a symlink now"));
    assert!(
        left["etc/kubernetes/pki/etcd/peer.key"]
            .starts_with("`etc/kubernetes/pki/etcd` is a symlink")
    );
    assert_eq!(names(&elsewhere), ["peer.key"]);
    assert!(root.join("etc/kubernetes/pki/mine.key").exists());
}

#[test]
fn a_file_already_holding_its_bytes_and_mode_is_not_rewritten() {
    use std::os::unix::fs::MetadataExt;
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    write(&bundle(true), root).unwrap();
    let key = root.join("etc/kubernetes/pki/ca.key");
    let inode = fs::metadata(&key).unwrap().ino();
    write(&bundle(true), root).unwrap();
    assert_eq!(fs::metadata(&key).unwrap().ino(), inode, "rewritten");
    // A different mode is rewritten, with the mode set again.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    write(&bundle(true), root).unwrap();
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn prunes_nothing_outside_the_directories_it_owns_whatever_the_manifest_lists() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    write(&bundle(true), root).unwrap();
    // A MANIFEST edited to list a system file, with its right hash.
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/shadow"), "root:x\n").unwrap();
    let manifest_path = root.join(manifest::PATH);
    let text = fs::read_to_string(&manifest_path).unwrap();
    let line = format!("0640 {} etc/shadow\n", crate::digest::sha256(b"root:x\n"));
    fs::write(&manifest_path, text + &line).unwrap();
    let written = write(&bundle(true), root).unwrap();
    assert!(written.pruned.is_empty(), "{written:?}");
    assert_eq!(
        written.left,
        [(
            "etc/shadow".to_owned(),
            "outside the directories kcompile owns; never removed".to_owned()
        )]
    );
    assert!(root.join("etc/shadow").exists());
}

#[test]
fn refuses_a_previous_manifest_it_cannot_trust() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    let path = root.join(manifest::PATH);
    fs::create_dir_all(path.parent().unwrap()).unwrap();

    fs::write(&path, "garbage\n").unwrap();
    let error = write(&bundle(true), root).unwrap_err();
    assert!(error.describe().starts_with(
        "`etc/kubernetes/kcompile/MANIFEST`, the MANIFEST of the previous build, cannot be \
         read (line 1:"
    ));

    let file = fs::File::create(&path).unwrap();
    file.set_len(MAX_MANIFEST_BYTES + 1).unwrap();
    let error = write(&bundle(true), root).unwrap_err();
    assert!(
        error.describe().contains("larger than 16777216 bytes"),
        "{error}"
    );

    fs::remove_file(&path).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        FileType::Fifo,
        Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let error = write(&bundle(true), root).unwrap_err();
    assert!(
        matches!(error.problem, Problem::NotAFile("named pipe")),
        "{error}"
    );
    // Nothing was written.
    assert!(!root.join("etc/kubernetes/pki").exists());
}

#[test]
fn a_set_without_manifest_prunes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    write(&bundle(true), temp.path()).unwrap();
    let mut tars = FileSet::default();
    tars.add("master01.tar", "tar", SECRET);
    let written = write(&tars, temp.path()).unwrap();
    assert!(written.pruned.is_empty() && written.left.is_empty());
    assert!(temp.path().join("etc/kubernetes/pki/ca.key").exists());
    assert_eq!(mode(&temp.path().join("master01.tar")), SECRET);
}

#[test]
fn a_sink_error_is_an_io_error_with_its_message() {
    let error = SinkError::new(Path::new("out"), "etc/kubernetes/pki", Problem::Link);
    let io: io::Error = error.into();
    assert_eq!(
        io.to_string(),
        "out: `etc/kubernetes/pki` is a symlink; kcompile never writes through links: remove it"
    );
}
