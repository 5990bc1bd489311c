//! The state is a ledger: a recorded item that goes missing or changes stops every command that
//! needs it (exit 2, named, nothing generated); previews never write (hashed, and on a read-only
//! bind mount); a state is created only on purpose; it stays private and outside output trees;
//! rotations are guarded; import commits all or nothing.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{self, Spec};
use sha2::{Digest, Sha256};

const SPEC: &str = "\
apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: ledger
profiles: [kubeadm]
kubernetesVersion: v1.37.1
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
pki:
  keyAlgorithm: ECDSA-P256
encryption:
  enabled: true
hosts:
  - name: master01
    address: 10.0.0.11
    roles: [control-plane, etcd]
  - name: worker01
    address: 10.0.0.21
    roles: [worker]
";

struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    /// A spec in a temp dir, not built.
    fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cluster.yaml"), SPEC).unwrap();
        Cluster { dir }
    }

    /// A spec, built once to `out/`.
    fn built() -> Cluster {
        let cluster = Cluster::new();
        cluster.ok(&["build", "--all", "--out", "out"]);
        cluster
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn state(&self) -> PathBuf {
        self.path("cluster.state")
    }

    fn run(&self, args: &[&str]) -> Output {
        common::kcompile(self.dir.path())
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "kcompile {args:?}: {}",
            stderr(&output)
        );
        stderr(&output)
    }

    /// Runs and expects exit 2; returns stderr.
    fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "kcompile {args:?} should exit 2: {}",
            stderr(&output)
        );
        stderr(&output)
    }

    /// Every file of the state dir with its sha256 and mode (the lock file's contents excluded).
    fn snapshot(&self) -> BTreeMap<String, (String, u32)> {
        tree(&self.state())
    }
}

fn tree(root: &Path) -> BTreeMap<String, (String, u32)> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| !entry.file_type().is_dir())
        .map(|entry| {
            let relative = entry.path().strip_prefix(root).unwrap();
            let relative = relative.to_string_lossy().into_owned();
            let mode = entry.metadata().unwrap().permissions().mode();
            let digest = if relative == "lock" {
                String::new()
            } else {
                hex(&Sha256::digest(fs::read(entry.path()).unwrap()))
            };
            (relative, (digest, mode))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One item of each kind the ledger records, and a command that must refuse to work without it.
const ITEMS: [&str; 13] = [
    "pki/ca.crt",
    "pki/ca.key",
    "pki/etcd/ca.key",
    "pki/front-proxy-ca.crt",
    "pki/sa.key",
    "pki/sa.pub",
    "hosts/master01/apiserver.key",
    "hosts/worker01/kubelet-client.crt",
    "pki/admin.json",
    "secrets/encryption-key",
    "secrets/bootstrap-token",
    "secrets/vrrp-password",
    "etcd/members.json",
];

#[test]
fn a_missing_truncated_or_corrupted_item_stops_every_command_and_nothing_is_generated() {
    let cluster = Cluster::built();
    let pristine = cluster.snapshot();
    let commands: [&[&str]; 7] = [
        &["build", "--all", "--out", "out"],
        &["build", "--all", "--dry-run"],
        &["diff", "--host", "master01", "--root", "out/master01"],
        &["certs"],
        &["certs", "renew", "admin"],
        &["rotate", "sa-key", "--phase", "1"],
        &["state", "check"],
    ];
    for item in ITEMS {
        let path = cluster.state().join(item);
        let original = fs::read(&path).unwrap();
        let damages: [(&str, Option<&[u8]>); 3] = [
            ("is missing", None),
            ("is empty", Some(b"")),
            ("is not what was recorded", Some(b"garbage\n")),
        ];
        for (message, damage) in damages {
            match damage {
                None => fs::remove_file(&path).unwrap(),
                Some(bytes) => fs::write(&path, bytes).unwrap(),
            }
            let after_damage = cluster.snapshot();
            for command in commands {
                // `diff --host` reads and checks only what that host's bundle uses.
                if command[0] == "diff" && item.starts_with("hosts/worker01/") {
                    let output = cluster.run(command);
                    assert!(
                        matches!(output.status.code(), Some(0 | 1)),
                        "{command:?} with another host's {item} damaged: {}",
                        stderr(&output)
                    );
                    assert_eq!(cluster.snapshot(), after_damage);
                    continue;
                }
                let error = cluster.refused(command);
                assert!(
                    error.contains(&format!("`{item}`")) && error.contains(message),
                    "{command:?} with {item} damaged ({message}): {error}"
                );
                assert!(
                    error.contains("why it matters") && error.contains("recover:"),
                    "{error}"
                );
                assert_eq!(
                    cluster.snapshot(),
                    after_damage,
                    "{command:?} changed the state with {item} damaged"
                );
            }
            fs::write(&path, &original).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(pristine[item].1)).unwrap();
        }
    }
    cluster.ok(&["state", "check"]);
    assert_eq!(cluster.snapshot(), pristine);
}

#[test]
fn previews_leave_the_state_byte_identical_even_when_they_would_issue() {
    let cluster = Cluster::built();
    // A spec with one more SAN and one more host: a build would issue and generate.
    Spec::parse(SPEC)
        .set("pki.apiServerCertSANs", ["api.example.com"])
        .push(
            "hosts",
            serde_json::json!({"name": "worker02", "address": "10.0.0.22", "roles": ["worker"]}),
        )
        .write(&cluster.path("cluster.yaml"));
    let before = cluster.snapshot();
    let previews: [&[&str]; 6] = [
        &["validate"],
        &["build", "--all", "--dry-run"],
        &["diff", "--host", "master01", "--root", "out/master01"],
        &["diff", "--host", "worker02", "--root", "out/worker01"],
        &["certs"],
        &["state", "list"],
    ];
    for command in previews {
        let output = cluster.run(command);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{command:?}: {}",
            stderr(&output)
        );
        assert_eq!(cluster.snapshot(), before, "{command:?} wrote to the state");
    }
    let plan = cluster.ok(&["build", "--all", "--dry-run"]);
    assert!(
        plan.contains("would issue master01/apiserver (SANs changed)"),
        "{plan}"
    );
    assert!(
        plan.contains("would issue worker02/kubelet-client (missing)"),
        "{plan}"
    );
    let diff = cluster.run(&["diff", "--host", "master01", "--root", "out/master01"]);
    assert!(
        stderr(&diff).contains("a build would issue master01/apiserver (SANs changed)"),
        "{}",
        stderr(&diff)
    );
    assert!(String::from_utf8_lossy(&diff.stdout).contains("DNS:api.example.com"));
}

/// Bind-mounts the state dir read-only over itself; unmounts on drop.
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn new(dir: &Path) -> ReadOnlyMount {
        let path = dir.to_str().unwrap();
        let status = std::process::Command::new("mount")
            .args(["--bind", path, path])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount --bind needs root (tests run as root)"
        );
        let mount = ReadOnlyMount(dir.to_owned());
        let status = std::process::Command::new("mount")
            .args(["-o", "remount,ro,bind", path])
            .status()
            .unwrap();
        assert!(status.success(), "remount read-only");
        mount
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn previews_work_on_a_read_only_state_and_writers_say_why_they_cannot() {
    let cluster = Cluster::built();
    let before = cluster.snapshot();
    let mount = ReadOnlyMount::new(&cluster.state());
    for command in [
        &["validate"][..],
        &["build", "--all", "--dry-run"],
        &["diff", "--host", "master01", "--root", "out/master01"],
        &["certs"],
        &["state", "check"],
        &["rotate", "status"],
    ] {
        cluster.ok(command);
    }
    let output = cluster.run(&["build", "--all", "--out", "out"]);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("Read-only file system"),
        "{}",
        stderr(&output)
    );
    drop(mount);
    assert_eq!(cluster.snapshot(), before);
}

#[test]
fn a_state_is_created_only_on_purpose() {
    let cluster = Cluster::new();
    for command in [
        &["diff", "--host", "master01", "--root", "."][..],
        &["certs"],
        &["certs", "renew", "admin"],
        &["rotate", "sa-key", "--phase", "1"],
        &["rotate", "status"],
        &["state", "list"],
    ] {
        let error = cluster.refused(command);
        assert!(
            error.contains("there is no state dir `cluster.state`"),
            "{command:?}: {error}"
        );
        assert!(!cluster.state().exists(), "{command:?} created a state dir");
    }
    // A renewal with a copy of the spec names its own (absent) state dir and refuses.
    fs::copy(cluster.path("cluster.yaml"), cluster.path("copy.yaml")).unwrap();
    let error = cluster.refused(&["certs", "renew", "admin", "-f", "copy.yaml"]);
    assert!(error.contains("copy.state"), "{error}");
    for preview in [&["validate"][..], &["build", "--all", "--dry-run"]] {
        let said = cluster.ok(preview);
        assert!(
            said.contains("would be generated") || said.contains("generates"),
            "{said}"
        );
        assert!(!cluster.state().exists());
    }
    let said = cluster.ok(&["build", "--host", "worker01", "--out", "w"]);
    assert!(said.contains("created state dir cluster.state"), "{said}");
    assert!(
        said.contains("generated pki/ca.key (ca-key, hmac:"),
        "{said}"
    );
    let again = cluster.ok(&["build", "--host", "worker01", "--out", "w"]);
    assert!(
        !again.contains("created") && !again.contains("generated pki/"),
        "{again}"
    );
}

#[test]
fn the_state_stays_private_and_outside_every_output_tree() {
    let cluster = Cluster::built();
    fs::set_permissions(cluster.state(), fs::Permissions::from_mode(0o777)).unwrap();
    let key = cluster.state().join("pki/ca.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let error = cluster.refused(&["certs"]);
    assert!(error.contains("mode 0777, open to other users"), "{error}");
    let warning = cluster.ok(&["build", "--all", "--out", "out"]);
    assert!(warning.contains("was mode 0777"), "{warning}");
    assert!(warning.contains("was mode 0644"), "{warning}");
    assert_eq!(
        fs::metadata(cluster.state()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for (state, out) in [
        ("out/master01/state", "out"),
        ("out/master01/state", "out/master01"),
        ("cluster.state", "cluster.state/bundles"),
    ] {
        let error = cluster.refused(&["build", "--all", "--out", out, "--state", state]);
        assert!(error.contains("overlap"), "{error}");
    }
    assert!(!cluster.path("out/master01/state").exists());
}

#[test]
fn rotations_wait_for_builds_and_phase_three_needs_an_acknowledgement() {
    let cluster = Cluster::built();
    cluster.ok(&["rotate", "encryption-key", "--phase", "1"]);
    let error = cluster.refused(&["rotate", "encryption-key", "--phase", "2"]);
    assert!(error.contains("has not been built for master01"), "{error}");
    let status = cluster.ok(&["rotate", "status"]);
    let status =
        String::from_utf8_lossy(&cluster.run(&["rotate", "status"]).stdout).into_owned() + &status;
    assert!(
        status.contains("encryption-key  phase 1 of 3: waiting for a build of master01"),
        "{status}"
    );
    // A worker's build does not count: the key lives on control planes.
    cluster.ok(&["build", "--host", "worker01", "--out", "w"]);
    cluster.refused(&["rotate", "encryption-key", "--phase", "2"]);
    cluster.ok(&["build", "--all", "--out", "out"]);
    cluster.ok(&["rotate", "encryption-key", "--phase", "2"]);
    cluster.ok(&["build", "--all", "--out", "out"]);
    let error = cluster.refused(&["rotate", "encryption-key", "--phase", "3"]);
    assert!(
        error.contains("kubectl get secrets --all-namespaces -o json | kubectl replace -f -"),
        "{error}"
    );
    assert!(error.contains("--acknowledge"), "{error}");
    let old = fs::read(cluster.state().join("secrets/encryption-key")).unwrap();
    cluster.ok(&["rotate", "encryption-key", "--phase", "3", "--acknowledge"]);
    let retired: Vec<PathBuf> = fs::read_dir(cluster.state().join("retired/secrets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        retired.iter().any(|p| fs::read(p).unwrap() == old),
        "the old key is kept under retired/: {retired:?}"
    );
    cluster.ok(&["state", "check"]);
}

#[test]
fn import_commits_all_or_nothing() {
    let cluster = Cluster::built();
    let pki = cluster.path("kubeadm-pki");
    fs::create_dir_all(pki.join("etcd")).unwrap();
    for file in [
        "ca.crt",
        "ca.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "sa.key",
    ] {
        fs::copy(cluster.state().join("pki").join(file), pki.join(file)).unwrap();
    }
    fs::copy(
        cluster.state().join("pki/etcd/ca.crt"),
        pki.join("etcd/ca.crt"),
    )
    .unwrap();
    fs::write(pki.join("etcd/ca.key"), "not a key").unwrap();
    let error = cluster.refused(&[
        "import",
        "--from-pki",
        "kubeadm-pki",
        "--state",
        "imported.state",
    ]);
    assert!(error.contains("etcd/ca.key"), "{error}");
    assert!(
        !cluster.path("imported.state").exists(),
        "a failed import leaves no state dir behind"
    );
    fs::copy(
        cluster.state().join("pki/etcd/ca.key"),
        pki.join("etcd/ca.key"),
    )
    .unwrap();
    let said = cluster.ok(&[
        "import",
        "--from-pki",
        "kubeadm-pki",
        "--state",
        "imported.state",
    ]);
    assert!(said.contains("created state dir imported.state"), "{said}");
    cluster.ok(&["state", "check", "--state", "imported.state"]);
    let build = cluster.ok(&[
        "build",
        "--all",
        "--out",
        "out2",
        "--state",
        "imported.state",
    ]);
    assert!(!build.contains("generated pki/ca.key"), "{build}");
    assert!(!build.contains("generated pki/sa.key"), "{build}");
}

#[test]
fn a_state_without_inventory_is_refused_until_recorded() {
    let cluster = Cluster::built();
    fs::remove_file(cluster.state().join("inventory.json")).unwrap();
    let error = cluster.refused(&["build", "--all", "--out", "out"]);
    assert!(error.contains("no inventory"), "{error}");
    assert!(error.contains("kcompile state record"), "{error}");
    let said = cluster.ok(&["state", "record"]);
    assert!(said.contains("recorded"), "{said}");
    let build = cluster.ok(&["build", "--all", "--out", "out"]);
    assert!(build.contains("0 keys generated"), "{build}");
}

#[test]
fn state_list_shows_secrets_only_as_keyed_fingerprints() {
    let cluster = Cluster::built();
    let output = cluster.run(&["state", "list", "-o", "json"]);
    assert!(output.status.success());
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    let item = |path: &str| {
        items
            .iter()
            .find(|item| item["path"] == path)
            .unwrap_or_else(|| panic!("{path} not listed"))
            .clone()
    };
    assert_eq!(item("pki/ca.key")["kind"], "ca-key");
    assert!(
        item("pki/ca.key")["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("hmac:")
    );
    assert!(
        item("pki/ca.crt")["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let password = fs::read_to_string(cluster.state().join("secrets/vrrp-password")).unwrap();
    let plain = hex(&Sha256::digest(password.as_bytes()));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains(&plain[..12]) && !text.contains(password.trim()));
}

#[test]
fn a_build_of_one_host_makes_only_what_that_host_uses_and_the_rest_comes_later_unchanged() {
    let cluster = Cluster::new();
    let first = cluster.ok(&["build", "--host", "master01", "--out", "one"]);
    let state = cluster.snapshot();
    assert!(
        state.keys().any(|path| path.starts_with("hosts/master01/")),
        "{first}"
    );
    assert!(
        !state.keys().any(|path| path.starts_with("hosts/worker01/")),
        "a build of master01 issued worker01's certificates: {first}"
    );
    // The other host's material is made by the build that needs it, and nothing else changes:
    // master01's files are the same as its own build wrote them.
    let all = cluster.ok(&["build", "--all", "--out", "all"]);
    assert!(all.contains("hosts/worker01/"), "{all}");
    let after = cluster.snapshot();
    for (path, recorded) in &state {
        if path != "inventory.json" && path != "cluster.json" && path != "lock" {
            assert_eq!(after.get(path), Some(recorded), "{path} changed");
        }
    }
    assert_eq!(
        tree(&cluster.path("one")),
        tree(&cluster.path("all/master01"))
    );
    // A diff of master01 reads only what master01 uses: worker01's items may go missing.
    fs::remove_dir_all(cluster.state().join("hosts/worker01")).unwrap();
    let output = cluster.run(&["diff", "--host", "master01", "--root", "all/master01"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let error = cluster.refused(&["diff", "--host", "worker01", "--root", "all/worker01"]);
    assert!(error.contains("`hosts/worker01/"), "{error}");
}
