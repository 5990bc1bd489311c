use super::*;
use std::os::unix::fs::symlink;

fn root() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::create_dir_all(base.join("etc/kubernetes/pki")).unwrap();
    std::fs::create_dir_all(base.join("var/lib/kubelet/pki")).unwrap();
    std::fs::write(base.join("etc/kubernetes/pki/ca.crt"), "ca").unwrap();
    std::fs::write(
        base.join("var/lib/kubelet/pki/kubelet-client-2026.pem"),
        "pem",
    )
    .unwrap();
    let root = Root::open(base).unwrap();
    (dir, root)
}

#[test]
fn absolute_links_resolve_inside_the_root() {
    let (dir, root) = root();
    symlink(
        "/var/lib/kubelet/pki/kubelet-client-2026.pem",
        dir.path()
            .join("var/lib/kubelet/pki/kubelet-client-current.pem"),
    )
    .unwrap();
    assert_eq!(
        root.read("var/lib/kubelet/pki/kubelet-client-current.pem")
            .unwrap(),
        Some(b"pem".to_vec())
    );
    // A directory link, absolute, then a relative `..` inside the root.
    symlink("/etc/kubernetes", dir.path().join("k8s")).unwrap();
    symlink("../pki/ca.crt", dir.path().join("etc/kubernetes/pki/again")).unwrap();
    assert_eq!(root.read("k8s/pki/again").unwrap(), Some(b"ca".to_vec()));
    assert_eq!(root.read("/k8s/pki/ca.crt").unwrap(), Some(b"ca".to_vec()));
    assert_eq!(root.read("k8s/pki/absent.crt").unwrap(), None);
}

#[test]
fn links_out_of_the_root_are_refused() {
    let (dir, root) = root();
    let base = dir.path();
    symlink("/etc/shadow", base.join("etc/kubernetes/admin.conf")).unwrap();
    symlink("../../../../etc/passwd", base.join("etc/kubernetes/x.conf")).unwrap();
    symlink("/", base.join("etc/kubernetes/top")).unwrap();
    let error = root.read("etc/kubernetes/admin.conf").unwrap_err();
    assert!(
        matches!(&error, RootError::Outside { climbs: false, target, .. } if target == "/etc/shadow"),
        "{error}"
    );
    let error = root.read("etc/kubernetes/x.conf").unwrap_err();
    assert!(
        matches!(&error, RootError::Outside { climbs: true, .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "`etc/kubernetes/x.conf` is a symlink pointing outside the root: not followed \
         (→ `../../../../etc/passwd`, which climbs above the root)"
    );
    // `/` is the root itself; `..` from it climbs out.
    assert_eq!(
        root.read("etc/kubernetes/top/etc/kubernetes/pki/ca.crt")
            .unwrap(),
        Some(b"ca".to_vec())
    );
    symlink("/..", base.join("up")).unwrap();
    assert!(matches!(
        root.read("up/etc/kubernetes/pki/ca.crt"),
        Err(RootError::Outside { climbs: true, .. })
    ));
    assert!(matches!(
        root.read("../etc/passwd"),
        Err(RootError::BadName { .. })
    ));
}

#[test]
fn loops_and_dangling_links_are_refused() {
    let (dir, root) = root();
    let base = dir.path();
    symlink("b", base.join("etc/kubernetes/a")).unwrap();
    symlink("a", base.join("etc/kubernetes/b")).unwrap();
    symlink("missing.crt", base.join("etc/kubernetes/pki/gone.crt")).unwrap();
    assert!(matches!(
        root.read("etc/kubernetes/a"),
        Err(RootError::Loop { .. })
    ));
    let error = root.read("etc/kubernetes/pki/gone.crt").unwrap_err();
    assert!(matches!(error, RootError::Dangling { .. }), "{error}");
}

#[test]
fn fifos_are_reported_without_blocking_and_sizes_are_bounded() {
    let (dir, root) = root();
    let fifo = dir.path().join("etc/kubernetes/pipe");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let error = root.read("etc/kubernetes/pipe").unwrap_err();
    assert_eq!(
        error.to_string(),
        "`etc/kubernetes/pipe` is a named pipe, not a regular file"
    );
    let big = File::create(dir.path().join("etc/kubernetes/big")).unwrap();
    big.set_len(MAX_FILE + 1).unwrap();
    assert!(matches!(
        root.read("etc/kubernetes/big"),
        Err(RootError::TooLarge { .. })
    ));
    big.set_len(MAX_FILE).unwrap();
    assert_eq!(
        root.read("etc/kubernetes/big").unwrap().unwrap().len() as u64,
        MAX_FILE
    );
    assert!(matches!(
        root.read("etc/kubernetes/pki"),
        Err(RootError::NotRegular {
            kind: Kind::Directory,
            ..
        })
    ));
}

#[test]
fn walks_list_files_once_and_report_links() {
    let (dir, root) = root();
    let base = dir.path();
    // A link to an ancestor: walked once, not forever.
    symlink("/etc/kubernetes", base.join("etc/kubernetes/pki/self")).unwrap();
    symlink("/nowhere", base.join("etc/kubernetes/elsewhere")).unwrap();
    let entries = root.walk("etc/kubernetes", 8).unwrap();
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["etc/kubernetes/elsewhere", "etc/kubernetes/pki/ca.crt"]
    );
    assert!(entries[0].found.as_ref().is_err_and(RootError::is_link));
    assert!(root.walk("no/such/dir", 8).unwrap().is_empty());
    assert!(root.walk("etc/kubernetes/elsewhere", 8).is_err());
}

#[test]
fn read_link_gives_a_target_as_written_and_follows_nothing() {
    let (dir, root) = root();
    std::fs::create_dir_all(dir.path().join("proc/77/fd")).unwrap();
    symlink("socket:[4242]", dir.path().join("proc/77/fd/3")).unwrap();
    symlink("/etc/shadow", dir.path().join("proc/77/fd/4")).unwrap();
    symlink("/", dir.path().join("escape")).unwrap();
    assert_eq!(
        root.read_link("proc/77/fd/3").unwrap().as_deref(),
        Some("socket:[4242]")
    );
    assert_eq!(
        root.read_link("/proc/77/fd/4").unwrap().as_deref(),
        Some("/etc/shadow")
    );
    assert_eq!(root.read_link("etc/kubernetes/pki/ca.crt").unwrap(), None);
    assert_eq!(root.read_link("proc/77/fd/9").unwrap(), None);
    assert!(root.read_link("proc/..").is_err());
    // The directories on the way resolve inside the root: `escape` is the root itself.
    assert_eq!(
        root.read_link("escape/proc/77/fd/3").unwrap().as_deref(),
        Some("socket:[4242]")
    );
}

#[test]
fn names_lists_one_directory_and_nothing_else() {
    let (dir, root) = root();
    std::fs::create_dir_all(dir.path().join("proc/1")).unwrap();
    std::fs::create_dir_all(dir.path().join("proc/42")).unwrap();
    std::fs::write(dir.path().join("proc/swaps"), "").unwrap();
    symlink("42", dir.path().join("proc/self")).unwrap();
    assert_eq!(root.names("proc").unwrap(), ["1", "42", "self", "swaps"]);
    assert!(root.names("no/such").unwrap().is_empty());
    assert!(
        root.names("proc/swaps").unwrap().is_empty(),
        "a file has no names"
    );
    symlink("/nowhere/at/all", dir.path().join("out")).unwrap();
    assert!(
        root.names("out/x").is_err(),
        "a link out of the root is refused"
    );
}
