//! The command line as a user meets it: examples validate, `init` output validates for every
//! profile, `--show-resolved` round-trips, and each failure has its message and exit code.

use std::path::Path;

use predicates::prelude::*;

use crate::common::{self, Spec, Test, kcompile_in_repo as kcompile};

#[test]
fn every_example_validates() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            kcompile()
                .args(["validate", "-f"])
                .arg(&path)
                .assert()
                .success()
                .stderr(predicate::str::contains(": valid"))
                .stderr(predicate::str::contains("error").not());
            count += 1;
        }
    }
    assert!(count >= 4);
}

#[test]
fn init_output_validates_for_every_profile_and_size() {
    for args in [
        vec![],
        vec!["--profile", "kubeadm"],
        vec!["--profile", "hardened"],
        vec![
            "--profile",
            "kubeadm",
            "--profile",
            "hardened",
            "--control-planes",
            "3",
            "--workers",
            "5",
        ],
        vec!["--control-planes", "1", "--workers", "0"],
        vec!["--control-planes", "5", "--workers", "200"],
    ] {
        let init = Test::new().arg("init").args(&args).run();
        Test::new()
            .stdin(init.stdout())
            .args(["validate", "-f", "-"])
            .stderr_contains("<stdin>: cluster `my-cluster`")
            .run();
    }
}

#[test]
fn init_refuses_what_it_cannot_write() {
    kcompile()
        .args(["init", "--profile", "cis"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown profile; known profiles: kubeadm, hardened",
        ));
    kcompile()
        .args(["init", "--control-planes", "0"])
        .assert()
        .code(2);
    kcompile()
        .args(["init", "--name", "My_Cluster"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`My_Cluster` is not a valid cluster name",
        ));
}

#[test]
fn show_resolved_marks_profile_values_and_validates_again() {
    let resolved = kcompile()
        .args([
            "validate",
            "-f",
            "examples/ha-3-masters.yaml",
            "--show-resolved",
        ])
        .output()
        .unwrap();
    assert!(resolved.status.success());
    let text = String::from_utf8(resolved.stdout).unwrap();
    assert!(
        text.contains("imageRepository: registry.k8s.io  # profile kubeadm"),
        "{text}"
    );
    assert!(
        text.contains("    profiling: \"false\"  # profile hardened"),
        "{text}"
    );
    assert!(
        text.contains("version: 3.6.9-0  # kcompile default"),
        "{text}"
    );
    assert!(
        text.contains("  host: \"10.0.0.100\"\n"),
        "the spec's own values carry no comment"
    );
    // The resolved spec is itself a spec that resolves to the same thing.
    let again = kcompile()
        .args(["validate", "-f", "-", "--show-resolved"])
        .write_stdin(text.clone())
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let strip = |yaml: &str| -> Vec<String> {
        yaml.lines()
            .map(|line| line.split("  # ").next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        strip(&text),
        strip(&String::from_utf8(again.stdout).unwrap())
    );
}

#[test]
fn warnings_do_not_fail() {
    kcompile()
        .args(["validate", "-f", "examples/tutorial-cluster.yaml"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "examples/tutorial-cluster.yaml:40:9: warning: ipvs mode is deprecated since v1.35",
        ));
}

#[test]
fn a_missing_spec_is_a_user_error_with_a_hint() {
    kcompile()
        .args(["validate", "-f", "no/such/cluster.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: cannot read `no/such/cluster.yaml`",
        ))
        .stderr(predicate::str::contains(
            "hint: name the spec with `-f FILE`",
        ));
    // The default is ./cluster.yaml.
    kcompile()
        .arg("validate")
        .current_dir(std::env::temp_dir())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read `cluster.yaml`"));
}

#[test]
fn the_state_dir_defaults_beside_the_spec_and_can_be_named() {
    kcompile()
        .args(["validate", "-f", "examples/single-node.yaml"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "state dir examples/single-node.state: not created yet",
        ));
    // A named state dir that is open to other users (/tmp) is refused, not used.
    kcompile()
        .args([
            "validate",
            "-f",
            "examples/single-node.yaml",
            "--state",
            "/tmp",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the state dir `/tmp` is mode 1777, open to other users",
        ));
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        private.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let named = private.path().to_str().unwrap();
    kcompile()
        .args([
            "validate",
            "-f",
            "examples/single-node.yaml",
            "--state",
            named,
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "state dir {named}: 0 items recorded and intact"
        )));
}

#[test]
fn errors_are_located_counted_and_write_nothing() {
    let spec = "apiVersion: kcompile.io/v1alpha1\nkind: Cluster\nname: x\nnetworking:\n  dnsDomain: cluster.local.\nhosts:\n  - name: a\n    address: 10.96.0.5\n    roles: [control-plane, etcd]\n";
    let run = Test::new()
        .stdin(spec)
        .args(["validate", "-f", "-"])
        .status(2)
        .stdout("")
        .stderr_contains(
            "<stdin>:5:14: error: DNS domain `cluster.local.` ends with a dot\n  |\n5 |   dnsDomain: cluster.local.\n  |              ^^^^^^^^^^^^^^\n  hint: write `cluster.local`",
        )
        .stderr_contains(
            "<stdin>:8:14: error: host address 10.96.0.5 is inside the service subnet 10.96.0.0/12",
        )
        .stderr_contains("error: the spec has 2 errors; nothing was written")
        .run();
    assert_eq!(
        std::fs::read_dir(run.dir()).unwrap().count(),
        0,
        "nothing was written"
    );
}

#[test]
fn a_value_from_a_profile_is_reported_in_the_profile() {
    // The spec's podSubnet overlaps the kubeadm profile's serviceSubnet: the error is on the
    // spec's line, because that is the value the spec wrote.
    let spec = "apiVersion: kcompile.io/v1alpha1\nkind: Cluster\nname: x\nnetworking:\n  podSubnet: 10.96.0.0/16\nhosts:\n  - name: a\n    address: 10.0.0.1\n    roles: [control-plane, etcd]\n";
    Test::new()
        .stdin(spec)
        .args(["validate", "-f", "-"])
        .status(2)
        .stderr_contains(
            "<stdin>:5:14: error: pod subnet 10.96.0.0/16 overlaps the service subnet 10.96.0.0/12",
        )
        .run();
    // Without profiles, the defaults are missing and each is named.
    let bare = "apiVersion: kcompile.io/v1alpha1\nkind: Cluster\nprofiles: []\nname: x\nhosts:\n  - name: a\n    address: 10.0.0.1\n    roles: [control-plane, etcd]\n";
    Test::new()
        .stdin(bare)
        .args(["validate", "-f", "-"])
        .status(2)
        .stderr_contains("error: `networking.serviceSubnet` is not set")
        .stderr_contains("error: `imageRepository` is not set")
        .run();
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::kcompile_process(dir.path())
        .args(["init", "--control-planes", "7", "--workers", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn every_help_shows_an_example() {
    for command in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["validate", "--help"],
        vec!["build", "--help"],
        vec!["diff", "--help"],
        vec!["verify", "--help"],
        vec!["certs", "--help"],
        vec!["certs", "renew", "--help"],
        vec!["import", "--help"],
        vec!["rotate", "--help"],
    ] {
        kcompile()
            .args(&command)
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:\n  kcompile "));
    }
}

#[test]
fn completions_parse_in_their_shell_and_the_man_page_renders_cleanly() {
    let output = kcompile().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = String::from_utf8(output.stdout).unwrap();
    assert!(
        script.contains("rotate") && script.contains("state"),
        "{script}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kcompile.bash"), &script).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(dir.path().join("kcompile.bash"))
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let output = kcompile().args(["completions", shell]).output().unwrap();
        assert!(
            output.status.success() && !output.stdout.is_empty(),
            "{shell}"
        );
    }

    let output = kcompile().arg("man").output().unwrap();
    assert!(output.status.success());
    std::fs::write(dir.path().join("kcompile.1"), &output.stdout).unwrap();
    let groff = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(dir.path().join("kcompile.1"))
        .output()
        .expect("groff (Debian's groff-base) must be installed: bash .ci/install-docs-tools.sh");
    assert!(groff.status.success());
    assert_eq!(String::from_utf8_lossy(&groff.stderr), "", "groff warnings");
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(
        page.contains(".SH NAME") && page.contains("rotate"),
        "{page}"
    );
}

#[test]
fn version_says_what_kcompile_compiles_for() {
    kcompile()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Kubernetes v1.33 to v1.37 (default v1.37.1)",
        ));
}

#[test]
fn no_color_and_dumb_terminals_get_no_colors() {
    let built = Test::example("single-node")
        .args(["build", "--all", "--out", "out"])
        .run();
    let dir = built.dir();
    // An empty root: every file differs. `script` gives the command a terminal.
    std::fs::create_dir(dir.join("empty")).unwrap();
    common::ensure_pseudo_terminals();
    let diff = |env: &[(&str, &str)]| {
        let mut command = common::isolated("script", dir);
        command
            .args(["-qec"])
            .arg(format!(
                "{} diff --host node01 --root empty",
                common::KCOMPILE
            ))
            .arg("/dev/null")
            .env("TERM", "xterm");
        for (name, value) in env {
            command.env(name, value);
        }
        String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned()
    };
    assert!(diff(&[]).contains('\x1b'), "a terminal gets colors");
    assert!(!diff(&[("NO_COLOR", "1")]).contains('\x1b'), "NO_COLOR");
    assert!(!diff(&[("TERM", "dumb")]).contains('\x1b'), "TERM=dumb");
}

#[test]
fn validate_refuses_what_build_would_refuse_for_the_state() {
    let built = Test::example("single-node")
        .args(["build", "--all", "--out", "out"])
        .run();
    let downgraded = Spec::example("single-node").set("kubernetesVersion", "v1.36.1");
    built
        .then()
        .spec(&downgraded)
        .arg("validate")
        .status(2)
        .stderr_contains("the cluster was last built for v1.37.1; v1.36.1 is a downgrade")
        .run();
}
