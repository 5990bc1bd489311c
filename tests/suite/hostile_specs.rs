//! Hostile and careless input that the `tests/broken/` corpus cannot hold (FIFOs, huge lines,
//! closed or full streams, out-of-range flags), and injection: values with `%`, `$`, spaces and
//! quotes reach the kubelet unit and the pods literally (checked with systemd's own parser), and
//! `verify` flags units and manifests that carry smuggled bytes or commands. Every command runs
//! with a timeout: none may hang.

use std::fs;
use std::path::Path;
use std::process::{Command as Process, Output, Stdio};
use std::time::Duration;

use crate::common::{self, Run, Spec, Test};

const SPEC: &str = "\
apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: lab
profiles: [kubeadm]
kubernetesVersion: v1.37.1
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
pki:
  keyAlgorithm: ECDSA-P256
hosts:
  - name: node01
    address: 192.168.56.10
    roles: [control-plane, etcd, worker]
";

/// How long any run may take: none may hang.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs kcompile in `dir`, killed after [`LIMIT`]; a run that had to be killed fails the test.
fn kcompile(dir: &Path, args: &[&str]) -> Output {
    common::run_kcompile_within(dir, args, LIMIT)
}

/// A build of `spec` (`build --all --out out`) in a fresh temp dir, which must succeed within
/// [`LIMIT`].
fn built(spec: &str) -> Run {
    Test::new()
        .write("cluster.yaml", spec)
        .args(["build", "--all", "--out", "out"])
        .timeout(LIMIT)
        .run()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_exit(output: &Output, code: i32, message: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit {code}: {}",
        stderr(output)
    );
    assert!(
        stderr(output).contains(message),
        "expected `{message}` in: {}",
        stderr(output)
    );
}

#[test]
fn a_fifo_as_audit_policy_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let status = Process::new("mkfifo")
        .arg(dir.path().join("policy.yaml"))
        .status()
        .unwrap();
    assert!(status.success());
    let spec = Spec::parse(SPEC)
        .merge_yaml("audit:\n  enabled: true\n  policyFile: policy.yaml")
        .yaml();
    fs::write(dir.path().join("cluster.yaml"), spec).unwrap();
    for command in [&["validate"][..], &["build", "--all", "--out", "out"]] {
        let output = kcompile(dir.path(), command);
        assert_exit(&output, 2, "policy.yaml` is not a regular file");
        assert!(!dir.path().join("cluster.state").exists());
    }
}

#[test]
fn a_huge_line_is_not_echoed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("{SPEC}bogus: \"{}\"\n", "x".repeat(20_000_000));
    fs::write(dir.path().join("cluster.yaml"), spec).unwrap();
    let output = kcompile(dir.path(), &["validate"]);
    assert_exit(&output, 2, "unknown field `bogus`");
    assert!(
        output.stderr.len() < 4_000,
        "{} bytes of messages",
        output.stderr.len()
    );
}

#[test]
fn closed_and_full_streams_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("cluster.yaml"), SPEC).unwrap();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = common::kcompile_process(dir.path())
        .args(["validate"])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "validate 2>/dev/full");
    // A build whose stderr is a closed pipe: the reader is gone before the first message.
    let mut child = common::kcompile_process(dir.path())
        .args(["build", "--all", "--out", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "build with a closed stderr");
    // A full stdout is an error, not a panic.
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = common::kcompile_process(dir.path())
        .args(["build", "--host", "node01"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("No space left on device"));
}

#[test]
fn durations_and_outputs_out_of_range_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("cluster.yaml"), SPEC).unwrap();
    for window in [
        "3000000d",
        "18446744073709551615s",
        "99999999999999999999999d",
    ] {
        let output = kcompile(
            dir.path(),
            &["build", "--all", "--out", "out", "--renew-within", window],
        );
        assert_exit(&output, 2, "--renew-within");
        let output = kcompile(
            dir.path(),
            &["verify", "--root", ".", "--warn-within", window],
        );
        assert_exit(&output, 2, "--warn-within");
    }
    fs::write(dir.path().join("a-file"), "").unwrap();
    let output = kcompile(dir.path(), &["build", "--all", "--out", "a-file"]);
    assert_exit(&output, 2, "--out `a-file` is not a directory");
    assert!(
        !dir.path().join("cluster.state").exists(),
        "nothing written"
    );
}

/// A spec whose kubelet and apiserver values hold `%`, `$`, spaces and quotes.
fn literal_spec() -> String {
    Spec::parse(SPEC).merge_yaml(
        "kubelet:\n  binaryPath: /bin/true\n  extraArgs:\n    provider-id: \"a=%q%h$HOME;b c\"\n    v: \"2\"\n  extraEnv:\n    - name: PROXY\n      value: \"http://%n:$PORT \\\"q\\\"\"\napiServer:\n  extraArgs:\n    service-account-issuer: \"https://$(POD_IP)/x\"",
    ).yaml()
}

#[test]
fn percent_dollar_and_spaces_reach_the_unit_and_pods_literally() {
    let built = built(&literal_spec());
    let dir = built.dir();
    let root = dir.join("out/node01");
    let unit_path = root.join("etc/systemd/system/kubelet.service");
    let unit = fs::read_to_string(&unit_path).unwrap();
    assert!(
        unit.contains("\"--provider-id=a=%%q%%h$$HOME;b c\""),
        "{unit}"
    );
    assert!(
        unit.contains("Environment=\"PROXY=http://%%n:$PORT \\\"q\\\"\""),
        "{unit}"
    );
    // systemd's own parser reads the unit without a complaint: no unknown specifier, no stray
    // directive, one ExecStart.
    let units = dir.join("units");
    fs::create_dir_all(&units).unwrap();
    fs::copy(&unit_path, units.join("kubelet.service")).unwrap();
    let verify = Process::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(units.join("kubelet.service"))
        .output()
        .expect("systemd-analyze (Debian's systemd package) must be installed");
    let complaints = String::from_utf8_lossy(&verify.stderr).into_owned();
    assert!(
        !complaints.contains("kubelet.service:"),
        "systemd-analyze complains about the unit: {complaints}"
    );
    let manifest =
        fs::read_to_string(root.join("etc/kubernetes/manifests/kube-apiserver.yaml")).unwrap();
    assert!(
        manifest.contains("--service-account-issuer=https://$$(POD_IP)/x"),
        "the kubelet would expand $(POD_IP): {manifest}"
    );
    // verify reads the bundle as a host would and finds nothing smuggled.
    let output = kcompile(dir, &["verify", "--root", "out/node01"]);
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("control"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn verify_flags_smuggled_directives_and_bytes() {
    let built = built(SPEC);
    let dir = built.dir();
    let root = dir.join("out/node01");
    let unit_path = root.join("etc/systemd/system/kubelet.service");
    let unit = fs::read_to_string(&unit_path).unwrap();
    fs::write(
        &unit_path,
        unit.replace(
            "[Service]\n",
            "[Service]\nExecStartPre=/bin/sh -c 'id > /tmp/pwned'\n",
        ),
    )
    .unwrap();
    let pod_path = root.join("etc/kubernetes/manifests/kube-scheduler.yaml");
    let pod = fs::read_to_string(&pod_path).unwrap();
    fs::write(
        &pod_path,
        pod.replacen(
            "- --bind-address=",
            "- \"--v=2\\n--bind-address=\"\n    - --bind-address=",
            1,
        ),
    )
    .unwrap();
    let escape = root.join("etc/kubernetes/manifests/etcd.yaml");
    let mut bytes = fs::read(&escape).unwrap();
    bytes.extend_from_slice(b"# \x1b[2J\n");
    fs::write(&escape, bytes).unwrap();
    let output = kcompile(dir, &["verify", "--root", "out/node01"]);
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report.contains("`ExecStartPre=` runs another command"),
        "{report}"
    );
    assert!(
        report.contains("kube-scheduler.yaml: a value holds a line break"),
        "{report}"
    );
    assert!(
        report.contains("etcd.yaml: holds the control byte 0x1b"),
        "{report}"
    );
    assert!(!report.contains('\x1b'), "a raw escape reached the output");
}

#[test]
fn a_garbage_encryption_key_is_refused_before_output_and_flagged_on_a_machine() {
    let spec = Spec::parse(SPEC).set("encryption.enabled", true).yaml();
    let built = built(&spec);
    let dir = built.dir();
    // On a machine: a key the apiserver would refuse, named and never shown.
    let config = dir.join("out/node01/etc/kubernetes/encryption-config.yaml");
    let text = fs::read_to_string(&config).unwrap();
    let secret_line = text.lines().find(|l| l.contains("secret:")).unwrap();
    let secret = secret_line.split_once("secret:").unwrap().1.trim();
    fs::write(&config, text.replace(secret, "aGVsbG8=")).unwrap();
    let output = kcompile(dir, &["verify", "--root", "out/node01"]);
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report.contains("is 5 bytes; secretbox takes 32"),
        "{report}"
    );
    assert!(!report.contains("aGVsbG8="), "the key is shown: {report}");
    // In the state: a garbage key recorded by `state record` (a state an older kcompile made) is
    // refused before any output is written.
    let state = dir.join("cluster.state");
    fs::write(state.join("secrets/encryption-key"), "hello\n").unwrap();
    fs::remove_file(state.join("inventory.json")).unwrap();
    assert!(kcompile(dir, &["state", "record"]).status.success());
    let output = kcompile(dir, &["state", "check"]);
    assert_exit(
        &output,
        2,
        "`secrets/encryption-key` (encryption-key): is not base64",
    );
    let output = kcompile(dir, &["build", "--all", "--out", "out2"]);
    assert_exit(&output, 2, "`secrets/encryption-key` is not base64");
    assert!(!dir.join("out2").exists(), "nothing written");
}

#[test]
fn escape_bytes_from_a_machine_never_reach_the_terminal_through_diff() {
    let built = built(SPEC);
    let dir = built.dir();
    let pod = dir.join("out/node01/etc/kubernetes/manifests/kube-scheduler.yaml");
    let mut bytes = fs::read(&pod).unwrap();
    bytes.extend_from_slice(b"# \x1b[2J\x1b]0;owned\x07\n");
    fs::write(&pod, bytes).unwrap();
    for color in ["never", "always"] {
        let output = kcompile(
            dir,
            &[
                "diff",
                "--host",
                "node01",
                "--root",
                "out/node01",
                "--color",
                color,
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("\\u{1b}[2J"), "{text}");
        assert!(
            !text.contains("\x1b[2J") && !text.contains('\x07'),
            "{text}"
        );
    }
}
