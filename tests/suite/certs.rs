//! `kcompile certs` (expiry table, renew), `build --renew-within`, and `kcompile import` of a
//! kubeadm PKI made by openssl, checked with openssl.

use crate::common::{self, kcompile};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use predicates::prelude::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ha-3-masters.yaml");

/// A temp dir with a state built from the HA example.
fn built() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    on_example(temp.path(), &["build", "--all", "--out", "out"])
        .assert()
        .success();
    let state = temp.path().join("st");
    (temp, state)
}

/// `kcompile ARGS -f <the HA example> --state st` in `dir`.
fn on_example(dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut command = kcompile(dir);
    command.args(args).args(["-f", EXAMPLE, "--state", "st"]);
    command
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

fn stderr_lines(output: &std::process::Output, prefix: &str) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_table_lists_every_certificate_and_ca_with_its_expiry() {
    let (temp, _) = built();
    let output = on_example(temp.path(), &["certs"]).output().unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.starts_with("CERTIFICATE "), "{table}");
    for row in [
        "admin ",
        "super-admin ",
        "master01/apiserver ",
        "master03/etcd/peer ",
        "worker02/kubelet-serving ",
    ] {
        assert!(
            table
                .lines()
                .any(|line| line.starts_with(row) && line.contains("364d") && line.ends_with("no")),
            "{row}\n{table}"
        );
    }
    for ca in ["ca ", "etcd-ca ", "front-proxy-ca "] {
        assert!(
            table
                .lines()
                .any(|line| line.starts_with(ca) && line.contains(" 9y ")),
            "{ca}\n{table}"
        );
    }
    let worker = on_example(temp.path(), &["certs", "--host", "worker01"])
        .output()
        .unwrap();
    let worker = String::from_utf8(worker.stdout).unwrap();
    let leaves: Vec<&str> = worker
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        leaves,
        [
            "worker01/kubelet-client",
            "worker01/kubelet-serving",
            "worker01/kube-proxy"
        ]
    );
}

#[test]
fn the_table_reads_what_is_installed_on_a_machine() {
    let (temp, _) = built();
    let output = kcompile(temp.path())
        .args(["certs", "--root", "out/worker01"])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    for row in [
        "etc/kubernetes/kubelet.conf ",
        "etc/kubernetes/kube-proxy.conf ",
        "var/lib/kubelet/pki/kubelet.crt ",
    ] {
        // A worker has no CA key, so its certificates are managed elsewhere.
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(row) && l.contains(" ca ") && l.ends_with("yes")),
            "{row}\n{table}"
        );
    }
    let master = kcompile(temp.path())
        .args(["certs", "--root", "out/master01"])
        .output()
        .unwrap();
    let master = String::from_utf8(master.stdout).unwrap();
    assert!(
        master
            .lines()
            .any(|l| l.starts_with("etc/kubernetes/pki/apiserver.crt ") && l.ends_with("no")),
        "{master}"
    );
}

/// Regression test for issue 17: a root that cannot be opened was reported as a state dir
/// problem (`error: state dir: …`), then as "`…` is not a directory" for a path that does not
/// exist. The message names the root, says why, and the hint says what `--root` takes.
#[test]
fn certs_of_a_root_that_cannot_be_opened_names_the_root() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("a-file"), "").unwrap();
    let hint = "  hint: name the machine's root with --root (`/` on the machine itself, or a copy of its files)\n";
    for (root, why) in [
        (
            "/nonexistent",
            "cannot read the root `/nonexistent`: No such file or directory (os error 2)",
        ),
        (
            "no/such/root",
            "cannot read the root `no/such/root`: No such file or directory (os error 2)",
        ),
        ("a-file", "the root `a-file` is not a directory"),
    ] {
        let output = kcompile(temp.path())
            .args(["certs", "--root", root])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{root}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("error: {why}\n{hint}"),
            "{root}"
        );
        assert!(output.stdout.is_empty(), "{root}");
    }
}

#[test]
fn certs_without_a_state_dir_says_so() {
    let temp = tempfile::tempdir().unwrap();
    kcompile(temp.path())
        .args(["certs", "-f", EXAMPLE, "--state", "nothing"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("there is no state dir `nothing`;"));
    assert!(!temp.path().join("nothing").exists());
}

#[test]
fn renew_reissues_the_named_certificates_with_their_keys() {
    let (temp, state) = built();
    let key = read(state.join("hosts/master02/apiserver.key"));
    let cert = read(state.join("hosts/master02/apiserver.crt"));
    let admin = read(state.join("pki/admin.crt"));
    let output = on_example(temp.path(), &["certs", "renew", "apiserver"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stderr_lines(&output, "issued "),
        [
            "issued master01/apiserver (renewal asked for)",
            "issued master02/apiserver (renewal asked for)",
            "issued master03/apiserver (renewal asked for)"
        ]
    );
    assert_eq!(
        read(state.join("hosts/master02/apiserver.key")),
        key,
        "the key is kept"
    );
    assert_ne!(
        read(state.join("hosts/master02/apiserver.crt")),
        cert,
        "the certificate is new"
    );
    assert_eq!(
        read(state.join("pki/admin.crt")),
        admin,
        "nothing else changes"
    );
    on_example(temp.path(), &["certs", "renew", "master01/apiservr"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: no certificate `master01/apiservr`",
        ))
        .stderr(predicate::str::contains(
            "did you mean `master01/apiserver`?",
        ));
}

#[test]
fn build_renews_what_expires_within_the_window() {
    let (temp, state) = built();
    let ca = read(state.join("pki/ca.crt"));
    let quiet = on_example(
        temp.path(),
        &["build", "--all", "--out", "out", "--renew-within", "30d"],
    )
    .output()
    .unwrap();
    assert!(
        stderr_lines(&quiet, "issued ").is_empty(),
        "a year is outside 30 days"
    );
    let renewing = on_example(
        temp.path(),
        &["build", "--all", "--out", "out", "--renew-within", "400d"],
    )
    .output()
    .unwrap();
    let issued = stderr_lines(&renewing, "issued ");
    assert_eq!(issued.len(), 47 - 3, "every leaf, no CA: {issued:?}");
    assert!(
        issued.iter().all(|line| line.contains("(expires ")),
        "{issued:?}"
    );
    assert_eq!(read(state.join("pki/ca.crt")), ca);
    on_example(
        temp.path(),
        &["build", "--all", "--out", "out", "--renew-within", "soon"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains(
        "invalid value 'soon' for '--renew-within",
    ));
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Process::new("openssl")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "openssl {args:?}");
}

/// A kubeadm-shaped PKI made by openssl: RSA CAs with PKCS#8 keys, a PKCS#1 `sa.key`.
fn kubeadm_pki(dir: &Path) {
    std::fs::create_dir_all(dir.join("etcd")).unwrap();
    for (file, cn) in [
        ("ca", "kubernetes"),
        ("front-proxy-ca", "front-proxy-ca"),
        ("etcd/ca", "etcd-ca"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                &format!("/CN={cn}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment",
                "-keyout",
                &format!("{file}.key"),
                "-out",
                &format!("{file}.crt"),
            ],
        );
    }
    openssl(dir, &["genrsa", "-traditional", "-out", "sa.key", "2048"]);
}

#[test]
fn import_adopts_a_kubeadm_pki_and_build_issues_from_it() {
    let temp = tempfile::tempdir().unwrap();
    let pki = temp.path().join("kubeadm-pki");
    kubeadm_pki(&pki);
    kcompile(temp.path())
        .args(["import", "--from-pki", "kubeadm-pki", "--state", "st"])
        .assert()
        .success()
        .stderr(predicate::str::contains("adopted pki/ca.key"))
        .stderr(predicate::str::contains("8 files adopted, 0 already there"));
    on_example(temp.path(), &["build", "--host", "master01", "--out", "m1"])
        .assert()
        .success();
    assert_eq!(
        read(temp.path().join("st/pki/ca.crt")),
        read(pki.join("ca.crt")),
        "the CA is kept byte for byte"
    );
    let installed = temp.path().join("m1/etc/kubernetes/pki");
    for (issuer, cert) in [
        ("ca.crt", "apiserver.crt"),
        ("front-proxy-ca.crt", "front-proxy-client.crt"),
        ("etcd/ca.crt", "etcd/server.crt"),
    ] {
        openssl(
            temp.path(),
            &[
                "verify",
                "-CAfile",
                pki.join(issuer).to_str().unwrap(),
                installed.join(cert).to_str().unwrap(),
            ],
        );
    }
    let sa = String::from_utf8(read(installed.join("sa.key"))).unwrap();
    assert!(
        sa.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "sa.key stays PKCS#1"
    );
    // Importing again changes nothing; importing another cluster's CA is refused.
    kcompile(temp.path())
        .args(["import", "--from-pki", "kubeadm-pki", "--state", "st"])
        .assert()
        .success()
        .stderr(predicate::str::contains("0 files adopted, 8 already there"));
    let other = temp.path().join("other-pki");
    kubeadm_pki(&other);
    kcompile(temp.path())
        .args(["import", "--from-pki", "other-pki", "--state", "st"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the state already holds a different `pki/ca.crt`",
        ));
    kcompile(temp.path())
        .args(["import", "--from-pki", "nowhere", "--state", "st2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no ca.crt"));
}

#[test]
fn renew_with_new_key_rotates_the_key() {
    let (temp, state) = built();
    let key = read(state.join("pki/admin.key"));
    let output = on_example(temp.path(), &["certs", "renew", "admin", "--new-key"])
        .output()
        .unwrap();
    assert_eq!(stderr_lines(&output, "issued "), ["issued admin (new key)"]);
    assert_ne!(read(state.join("pki/admin.key")), key);
}

#[test]
fn a_second_build_waits_for_the_lock_and_says_who_holds_it() {
    use std::io::Write;
    let (temp, state) = built();
    let mut lock = std::fs::OpenOptions::new()
        .write(true)
        .open(state.join("lock"))
        .unwrap();
    lock.lock().unwrap();
    lock.set_len(0).unwrap();
    writeln!(lock, "pid {}", std::process::id()).unwrap();
    let child = common::kcompile_process(temp.path())
        .args([
            "build", "-f", EXAMPLE, "--state", "st", "--all", "--out", "out",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the second build must wait"
    );
    drop(lock);
    let output = std::mem::replace(&mut child.0, Process::new("true").spawn().unwrap())
        .wait_with_output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "waiting for the state dir lock `st/lock`, held by a kcompile command that writes the state (pid {})",
            std::process::id()
        )),
        "{stderr}"
    );
}

/// Kills the child if the test fails before it ends.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn json_output_and_a_warning_window_for_monitoring() {
    let (temp, _) = built();
    let output = on_example(temp.path(), &["certs", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let table: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(table["formatVersion"], 1);
    let certs = table["certificates"].as_array().unwrap();
    assert!(certs.iter().any(|row| row["name"] == "master01/apiserver"));
    for row in certs.iter().chain(table["authorities"].as_array().unwrap()) {
        assert!(row["residualSeconds"].as_i64().unwrap() > 0, "{row}");
        assert!(row["notAfter"].as_str().unwrap().ends_with('Z'), "{row}");
    }
    // Leaves live one year: a 400-day window catches them, a 1-day window nothing.
    let within = |window: &str, root: bool| {
        let mut command = kcompile(temp.path());
        if root {
            command.args(["certs", "--root", "out/master01", "--warn-within", window]);
        } else {
            command.args([
                "certs",
                "-f",
                EXAMPLE,
                "--state",
                "st",
                "--warn-within",
                window,
            ]);
        }
        command.output().unwrap()
    };
    for root in [false, true] {
        let output = within("400d", root);
        assert_eq!(output.status.code(), Some(1), "root {root}");
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains("expires within the --warn-within window")
        );
        assert_eq!(within("1d", root).status.code(), Some(0), "root {root}");
    }
    on_example(temp.path(), &["certs", "--warn-within", "3650000d"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at most 100 years"));
}
