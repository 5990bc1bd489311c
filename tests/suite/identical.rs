//! Byte-identical outputs whatever the path a build takes: rendering and writing in parallel or on
//! one thread (`RAYON_NUM_THREADS=1`), into an empty `--out` or over a tree that already holds
//! the build (a warm build that skips current hosts and unchanged files), or over a tree with a
//! file changed by hand, give the same files with the same modes; so do the tars of
//! `--format tar`. Golden files (`golden.rs`) pin what those bytes are.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::common::kcompile;

/// Every regular file under `root`: its path below the root, its bytes and its mode.
type Tree = BTreeMap<String, (Vec<u8>, u32)>;

fn tree(root: &Path) -> Tree {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry.path().strip_prefix(root).unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o7777;
            (
                relative.to_string_lossy().into_owned(),
                (fs::read(entry.path()).unwrap(), mode),
            )
        })
        .collect()
}

/// Runs `kcompile build` in `dir` with `args` (and `RAYON_NUM_THREADS` when given); it must pass.
fn build(dir: &Path, threads: Option<&str>, args: &[String]) -> String {
    let mut command = kcompile(dir);
    command.arg("build").args(args);
    if let Some(threads) = threads {
        command.env("RAYON_NUM_THREADS", threads);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "build {args:?}: {stderr}");
    stderr
}

/// The paths whose bytes or mode differ between two trees, or that only one holds.
fn differing(left: &Tree, right: &Tree) -> Vec<String> {
    left.keys()
        .chain(right.keys())
        .filter(|path| left.get(*path) != right.get(*path))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn parallel_single_threaded_cold_and_warm_builds_write_the_same_bytes() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ha-3-masters.yaml");
    fs::copy(&spec, dir.join("cluster.yaml")).unwrap();
    let all = |out: &str| {
        ["--all", "-f", "cluster.yaml", "--out", out]
            .map(str::to_owned)
            .to_vec()
    };

    // The state is made once; every tree below is built from it.
    let first = build(dir, None, &all("parallel"));
    assert!(first.contains("keys generated"), "{first}");
    let parallel = tree(&dir.join("parallel"));
    assert!(parallel.len() > 100, "{}", parallel.len());

    // Into an empty --out, on one thread, then again in parallel: the same trees.
    build(dir, Some("1"), &all("single"));
    assert_eq!(differing(&parallel, &tree(&dir.join("single"))), [""; 0]);
    build(dir, None, &all("cold"));
    assert_eq!(differing(&parallel, &tree(&dir.join("cold"))), [""; 0]);

    // Warm, over the tree it wrote: nothing generated, the same bytes (parallel and one thread).
    let warm = build(dir, None, &all("parallel"));
    assert!(
        warm.contains("0 keys generated, 0 certificates issued"),
        "{warm}"
    );
    assert_eq!(differing(&parallel, &tree(&dir.join("parallel"))), [""; 0]);
    build(dir, Some("1"), &all("parallel"));
    assert_eq!(differing(&parallel, &tree(&dir.join("parallel"))), [""; 0]);

    // A file changed by hand in a current tree, and another's mode: the host is written again.
    let kubelet = "worker01/var/lib/kubelet/config.yaml";
    let manifest = "master02/etc/kubernetes/manifests/kube-apiserver.yaml";
    fs::write(dir.join("parallel").join(kubelet), "edited\n").unwrap();
    fs::set_permissions(
        dir.join("parallel").join(manifest),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert_eq!(
        differing(&parallel, &tree(&dir.join("parallel"))),
        [manifest, kubelet]
    );
    build(dir, None, &all("parallel"));
    assert_eq!(differing(&parallel, &tree(&dir.join("parallel"))), [""; 0]);

    // The tars of --format tar: the same bytes in parallel and on one thread, built warm.
    let tars = |out: &str, threads| {
        let mut args = all(out);
        args.extend(["--format".to_owned(), "tar".to_owned()]);
        build(dir, threads, &args);
        tree(&dir.join(out))
    };
    let (parallel_tars, single_tars) = (tars("tars", None), tars("tars1", Some("1")));
    assert!(parallel_tars.keys().any(|name| name == "worker01.tar"));
    assert_eq!(differing(&parallel_tars, &single_tars), [""; 0]);
    assert_eq!(differing(&parallel_tars, &tars("tars", None)), [""; 0]);
}

/// A warm build skips planning the hosts whose trees are current; it must still issue exactly
/// what a full plan issues (here: every leaf inside a renewal window longer than its validity, and
/// a host whose SANs change), and write what a build into an empty `--out` writes.
#[test]
fn a_warm_build_issues_what_a_full_plan_issues() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ha-3-masters.yaml");
    fs::copy(&spec, dir.join("cluster.yaml")).unwrap();
    let all = |out: &str, extra: &[&str]| {
        let mut args = ["--all", "-f", "cluster.yaml", "--out", out]
            .map(str::to_owned)
            .to_vec();
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    };
    let lines = |text: &str, prefix: &str| -> Vec<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix(prefix).map(str::to_owned))
            .collect()
    };
    build(dir, None, &all("out", &[]));
    for extra in [&["--renew-within", "400d"][..], &[]] {
        let preview = build(dir, None, &all("out", &[&["--dry-run"], extra].concat()));
        let warm = build(dir, None, &all("out", extra));
        assert_eq!(lines(&warm, "issued "), lines(&preview, "would issue "));
        assert_eq!(
            lines(&warm, "state "),
            lines(&preview, "state ")
                .iter()
                .map(|l| l
                    .replace("keys would be generated", "keys generated")
                    .replace("certificates to issue", "certificates issued"))
                .collect::<Vec<_>>()
        );
        build(dir, Some("1"), &all(&format!("fresh{}", extra.len()), &[]));
        assert_eq!(
            differing(
                &tree(&dir.join("out")),
                &tree(&dir.join(format!("fresh{}", extra.len())))
            ),
            [""; 0]
        );
    }
    let renewed = lines(
        &build(dir, None, &all("out", &["--renew-within", "400d"])),
        "issued ",
    );
    assert!(renewed.len() > 40, "{renewed:?}");

    // worker02 gets a new address: its certificates are reissued, every other host is current.
    let text = fs::read_to_string(dir.join("cluster.yaml")).unwrap();
    fs::write(
        dir.join("cluster.yaml"),
        text.replace("10.0.0.22", "10.0.0.32"),
    )
    .unwrap();
    let preview = build(dir, None, &all("out", &["--dry-run"]));
    let warm = build(dir, None, &all("out", &[]));
    let issued = lines(&warm, "issued ");
    assert_eq!(issued, lines(&preview, "would issue "));
    assert!(
        !issued.is_empty() && issued.iter().all(|id| id.starts_with("worker02/")),
        "{issued:?}"
    );
    build(dir, Some("1"), &all("fresh", &[]));
    assert_eq!(
        differing(&tree(&dir.join("out")), &tree(&dir.join("fresh"))),
        [""; 0]
    );
}
