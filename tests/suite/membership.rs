//! etcd membership in the state: the bootstrap modes, a member added, removed and replaced (at a
//! new address and at the same one), the quorum check, and the confirmation commands with their
//! errors. The real-etcd run of the same steps is `etcd_membership.rs`.

use std::fs;
use std::path::Path;

use crate::common::run_kcompile;
use serde_json::Value;

/// A spec with the hosts `(name, last octet)`, each a control plane with an etcd member.
fn spec(hosts: &[(&str, u8)], extra: &str) -> String {
    let hosts: String = hosts
        .iter()
        .map(|(name, octet)| {
            format!(
                "  - name: {name}\n    address: 10.0.0.{octet}\n    roles: [control-plane, etcd]\n"
            )
        })
        .collect();
    format!(
        "apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: members
kubernetesVersion: v1.33.5
controlPlaneEndpoint:
  host: 10.0.0.100
  port: 6443
{extra}hosts:
{hosts}"
    )
}

const THREE: [(&str, u8); 3] = [("m1", 1), ("m2", 2), ("m3", 3)];

/// Writes `text` as the spec and builds every host; returns stderr.
fn build(dir: &Path, text: &str) -> String {
    fs::write(dir.join("cluster.yaml"), text).unwrap();
    let out = run_kcompile(dir, &["build", "--all", "--out", "out"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{stderr}");
    stderr
}

fn record(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("cluster.state/etcd/members.json")).unwrap()).unwrap()
}

/// (name, status, initialClusterState) of every recorded member.
fn members(dir: &Path) -> Vec<(String, String, String)> {
    record(dir)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
                m["initialClusterState"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expect(members: &[(String, String, String)], want: &[(&str, &str, &str)]) {
    let got: Vec<(&str, &str, &str)> = members
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(got, want);
}

/// The `--initial-cluster` and `--initial-cluster-state` of a host's etcd.yaml.
fn etcd_flags(dir: &Path, host: &str) -> (String, String) {
    let text = fs::read_to_string(
        dir.join("out")
            .join(host)
            .join("etc/kubernetes/manifests/etcd.yaml"),
    )
    .unwrap();
    let flag = |name: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(&format!("- --{name}=")))
            .unwrap_or_else(|| panic!("{host}: no --{name}"))
            .to_owned()
    };
    (flag("initial-cluster"), flag("initial-cluster-state"))
}

fn fails(dir: &Path, args: &[&str], message: &str, hint: &str) {
    let out = run_kcompile(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}:\n{stderr}");
    assert!(
        stderr.contains(&format!("error: {message}")),
        "{args:?}:\n{stderr}"
    );
    // An empty hint: the error has none (the state dir's own messages say what to do).
    assert!(
        hint.is_empty() || stderr.contains(&format!("hint: {hint}")),
        "{args:?}:\n{stderr}"
    );
}

#[test]
fn a_static_cluster_records_every_member_and_keeps_todays_flags() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    build(dir, &spec(&THREE, ""));
    assert_eq!(record(dir)["bootstrap"], "static");
    expect(
        &members(dir),
        &[
            ("m1", "bootstrapped", "new"),
            ("m2", "bootstrapped", "new"),
            ("m3", "bootstrapped", "new"),
        ],
    );
    let all = "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380";
    for host in ["m1", "m2", "m3"] {
        assert_eq!(etcd_flags(dir, host), (all.to_owned(), "new".to_owned()));
    }
    let list = run_kcompile(dir, &["state", "list"]);
    let list = String::from_utf8_lossy(&list.stdout);
    let line = list
        .lines()
        .find(|line| line.contains("etcd/members.json"))
        .unwrap_or_else(|| panic!("no etcd/members.json in:\n{list}"));
    assert!(line.starts_with("etcd-members "), "{line}");
}

#[test]
fn a_sequential_cluster_starts_with_one_member_and_the_others_join_in_order() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let stderr = build(dir, &spec(&THREE, "etcd:\n  bootstrap: sequential\n"));
    expect(
        &members(dir),
        &[
            ("m1", "bootstrapped", "new"),
            ("m2", "joining", "existing"),
            ("m3", "joining", "existing"),
        ],
    );
    assert_eq!(
        etcd_flags(dir, "m1"),
        ("m1=https://10.0.0.1:2380".into(), "new".into())
    );
    assert_eq!(
        etcd_flags(dir, "m2"),
        (
            "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380".into(),
            "existing".into()
        )
    );
    assert_eq!(
        etcd_flags(dir, "m3").0,
        "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380"
    );
    assert!(
        stderr.contains("member add m2 --peer-urls=https://10.0.0.2:2380 --learner"),
        "{stderr}"
    );
    // One at a time, in order.
    fails(
        dir,
        &["etcd", "joined", "m3"],
        "etcd member m2 joins before m3 and is still joining",
        "members join one at a time",
    );
    run_kcompile(dir, &["etcd", "joined", "m2"]);
    let out = run_kcompile(dir, &["etcd", "joined", "m3"]);
    assert!(out.status.success());
    expect(
        &members(dir),
        &[
            ("m1", "bootstrapped", "new"),
            ("m2", "joined", "existing"),
            ("m3", "joined", "existing"),
        ],
    );
    // A build afterwards changes no etcd flag.
    let before = etcd_flags(dir, "m3");
    let stderr = build(dir, &spec(&THREE, "etcd:\n  bootstrap: sequential\n"));
    assert_eq!(etcd_flags(dir, "m3"), before);
    assert!(!stderr.contains("etcdctl"), "{stderr}");
}

#[test]
fn adding_removing_and_replacing_members_gives_the_steps_and_keeps_quorum() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    build(dir, &spec(&THREE, ""));
    let m1_flags = etcd_flags(dir, "m1");

    // Add m4: existing, the list after its join; the others keep their flags.
    let four = [("m1", 1), ("m2", 2), ("m3", 3), ("m4", 4)];
    let stderr = build(dir, &spec(&four, ""));
    assert_eq!(
        etcd_flags(dir, "m4"),
        (
            "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380,m4=https://10.0.0.4:2380".into(),
            "existing".into()
        )
    );
    assert_eq!(etcd_flags(dir, "m1"), m1_flags);
    for expected in [
        "etcdctl --endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379 \\",
        "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "member add m4 --peer-urls=https://10.0.0.4:2380 --learner",
        "member promote <ID>",
        "kcompile etcd joined m4",
        "warning: etcd will have 4 members",
    ] {
        assert!(stderr.contains(expected), "no `{expected}` in:\n{stderr}");
    }
    let apiserver =
        fs::read_to_string(dir.join("out/m1/etc/kubernetes/manifests/kube-apiserver.yaml"))
            .unwrap();
    assert!(
        apiserver.contains("https://10.0.0.4:2379"),
        "--etcd-servers lacks m4"
    );
    let status = run_kcompile(dir, &["etcd", "status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("m4  joining"), "{status}");
    run_kcompile(dir, &["etcd", "joined", "m4"]);

    // Remove m2: the remove step, then the confirmation.
    let without_m2 = [("m1", 1), ("m3", 3), ("m4", 4)];
    let stderr = build(dir, &spec(&without_m2, ""));
    assert!(
        stderr.contains("etcd: m2 (https://10.0.0.2:2380) leaves the cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("member remove <ID>"), "{stderr}");
    fails(
        dir,
        &["etcd", "joined", "m2"],
        "the old member m2 has not been removed yet",
        "run its `etcdctl member remove` step and `kcompile etcd removed m2` first",
    );
    run_kcompile(dir, &["etcd", "removed", "m2"]);
    expect(
        &members(dir),
        &[
            ("m1", "bootstrapped", "new"),
            ("m2", "removed", "new"),
            ("m3", "bootstrapped", "new"),
            ("m4", "joined", "existing"),
        ],
    );
    // A confirmation run twice (a retry) is a no-op.
    let again = run_kcompile(dir, &["etcd", "removed", "m2"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("was recorded as removed already"));

    // Replace m3 at a new address: the old one leaves first, the new one joins with the list
    // after the removal.
    let moved = [("m1", 1), ("m3", 13), ("m4", 4)];
    let stderr = build(dir, &spec(&moved, ""));
    assert!(
        stderr.contains("tolerates no failure until the next member joins"),
        "{stderr}"
    );
    expect(
        &members(dir),
        &[
            ("m1", "bootstrapped", "new"),
            ("m2", "removed", "new"),
            ("m3", "removing", "new"),
            ("m4", "joined", "existing"),
            ("m3", "joining", "existing"),
        ],
    );
    assert_eq!(
        etcd_flags(dir, "m3").0,
        "m1=https://10.0.0.1:2380,m4=https://10.0.0.4:2380,m3=https://10.0.0.13:2380"
    );
    fails(
        dir,
        &["etcd", "joined", "m3"],
        "the old member m3 has not been removed yet",
        "run its `etcdctl member remove` step",
    );
    run_kcompile(dir, &["etcd", "removed", "m3"]);
    run_kcompile(dir, &["etcd", "joined", "m3"]);

    // Replace m4 at the same address (its data dir was lost).
    let out = run_kcompile(dir, &["etcd", "replace", "m4"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = build(dir, &spec(&moved, ""));
    assert!(
        stderr.contains("etcd: m4 (https://10.0.0.4:2380) leaves the cluster"),
        "{stderr}"
    );
    assert!(
        stderr.contains("joins the cluster after the steps above"),
        "{stderr}"
    );
    assert_eq!(
        etcd_flags(dir, "m4"),
        (
            "m1=https://10.0.0.1:2380,m3=https://10.0.0.13:2380,m4=https://10.0.0.4:2380".into(),
            "existing".into()
        )
    );
    run_kcompile(dir, &["etcd", "removed", "m4"]);
    run_kcompile(dir, &["etcd", "joined", "m4"]);

    // Removing two of three would lose quorum: refused, nothing recorded; allowed by the flag.
    let before = fs::read(dir.join("cluster.state/etcd/members.json")).unwrap();
    fs::write(dir.join("cluster.yaml"), spec(&[("m1", 1)], "")).unwrap();
    fails(
        dir,
        &["build", "--all", "--out", "out"],
        "removing etcd member m4 from a cluster of 2 loses quorum",
        "change the membership one member at a time",
    );
    fails(
        dir,
        &["build", "--all", "--dry-run"],
        "removing etcd member m4 from a cluster of 2 loses quorum",
        "change the membership one member at a time",
    );
    assert_eq!(
        fs::read(dir.join("cluster.state/etcd/members.json")).unwrap(),
        before
    );
    let out = run_kcompile(
        dir,
        &["build", "--all", "--out", "out", "--allow-quorum-loss"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("(allowed by --allow-quorum-loss)"),
        "{stderr}"
    );
}

#[test]
fn previews_plan_the_membership_without_recording_it() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    build(dir, &spec(&THREE, ""));
    let before = fs::read(dir.join("cluster.state/etcd/members.json")).unwrap();
    let four = [("m1", 1), ("m2", 2), ("m3", 3), ("m4", 4)];
    fs::write(dir.join("cluster.yaml"), spec(&four, "")).unwrap();
    let out = run_kcompile(dir, &["build", "--all", "--dry-run"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("member add m4"));
    fs::create_dir(dir.join("empty")).unwrap();
    let out = run_kcompile(
        dir,
        &["diff", "--host", "m4", "--root", "empty", "--name-only"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("member add m4"));
    assert_eq!(
        fs::read(dir.join("cluster.state/etcd/members.json")).unwrap(),
        before
    );
}

#[test]
fn confirmations_that_do_not_fit_the_record_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    fs::write(dir.join("cluster.yaml"), spec(&THREE, "")).unwrap();
    fails(
        dir,
        &["etcd", "joined", "m1"],
        "state dir: there is no state dir `cluster.state`; `kcompile build` creates one",
        "",
    );
    build(dir, &spec(&THREE, ""));
    fails(
        dir,
        &["etcd", "joined", "m9"],
        "there is no etcd member m9",
        "did you mean `m1`? (members: m1, m2, m3)",
    );
    fails(
        dir,
        &["etcd", "joined", "m1"],
        "etcd member m1 is bootstrapped, not joining",
        "only a member a build recorded as joining",
    );
    fails(
        dir,
        &["etcd", "removed", "m1"],
        "etcd member m1 is bootstrapped, not being removed",
        "a member is removed by taking its host",
    );
    fails(
        dir,
        &["etcd", "removed", "m"],
        "there is no etcd member m",
        "did you mean",
    );
    // A one-member cluster cannot replace its only member.
    let temp = tempfile::tempdir().unwrap();
    let one = temp.path();
    build(one, &spec(&[("m1", 1)], ""));
    fails(
        one,
        &["etcd", "replace", "m1"],
        "removing etcd member m1 would leave no member",
        "change the membership one member at a time",
    );
    // A damaged record names itself.
    fs::write(dir.join("cluster.state/etcd/members.json"), "{}").unwrap();
    let out = run_kcompile(dir, &["etcd", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`etcd/members.json` (etcd-members"));
}
