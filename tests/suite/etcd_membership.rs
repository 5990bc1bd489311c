//! A real etcd cluster changed the way kcompile says: three members start from their bundles
//! (`etcd.bootstrap: static`); a fourth host is added to the spec and joins by the steps of
//! `kcompile plan -o json` (its waves' `before` commands, planned against the last build the state
//! records, before each build) (the printed `etcdctl member add --learner`, `member list` and `member promote` commands
//! run as printed, their certificate paths mapped into the first member's compiled tree), then
//! `kcompile etcd joined`; a member is removed (`member remove`, `kcompile etcd removed`); a member
//! that lost its data is replaced at the same address (`kcompile etcd replace`, then removal and
//! join). After each step every remaining member must report healthy through the etcd client flags
//! of the first control plane's freshly built `kube-apiserver.yaml` (`--etcd-servers`,
//! `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`). Last, a spec that would remove two of
//! the three members is refused (exit 2) by the quorum check of `plan` and of `build`, and nothing
//! is recorded.
//!
//! Four network namespaces, fully meshed by veth pairs, hold the four addresses. Needs root,
//! `ip netns`, etcd and etcdctl (`.ci/install-etcd.sh`); fails, saying why, without them. Every
//! etcd is killed by its PID, every namespace and link removed afterwards, also on failure.

use std::fs;
use std::path::Path;
use std::process::Output;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::{netns, run_kcompile as kcompile};
use netns::{
    Guard, add_namespace, apiserver_etcd_client, connect, flag, flags, host_file, in_namespace,
    read_pod, require_etcd, rewrite, start_etcd, stop_etcd, text, unknown_flags,
};

/// The hosts: name and address. The first three form the cluster, the fourth joins later.
const HOSTS: [(&str, &str); 4] = [
    ("master01", "10.213.9.11"),
    ("master02", "10.213.9.12"),
    ("master03", "10.213.9.13"),
    ("master04", "10.213.9.14"),
];

/// How long a step may take to settle.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The spec with `hosts` (names of [`HOSTS`]): etcd 3.5's flags (Kubernetes v1.33), which the
/// installed etcd 3.5.1 runs.
fn spec(hosts: &[&str]) -> String {
    let hosts: String = HOSTS
        .iter()
        .filter(|(name, _)| hosts.contains(name))
        .map(|(name, address)| {
            format!("  - name: {name}\n    address: {address}\n    roles: [control-plane, etcd]\n")
        })
        .collect();
    format!(
        "apiVersion: kcompile.io/v1alpha1
kind: Cluster
name: etcd-membership
profiles: [kubeadm]
kubernetesVersion: v1.33.5
controlPlaneEndpoint:
  host: 10.213.9.10
  port: 6443
pki:
  keyAlgorithm: ECDSA-P256
etcd:
  version: 3.5.24-0
hosts:
{hosts}"
    )
}

/// Writes the spec for `hosts`, plans (`kcompile plan -o json`) and builds every host into `out/`;
/// returns the `before` commands of the plan's waves (the membership steps), one after another.
fn build(dir: &Path, hosts: &[&str]) -> String {
    fs::write(dir.join("cluster.yaml"), spec(hosts)).unwrap();
    // The plan first (against the last build the state records): the steps come from its waves.
    let planned = kcompile(dir, &["plan", "-o", "json"]);
    assert!(
        matches!(planned.status.code(), Some(0 | 1)),
        "plan failed:\n{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&planned.stdout).unwrap();
    let steps: Vec<&str> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|wave| wave["before"].as_array().unwrap())
        .map(|command| command.as_str().unwrap())
        .collect();
    let out = kcompile(dir, &["build", "--all", "--out", "out"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{stderr}");
    steps.join("\n")
}

/// Runs a kcompile confirmation, which must succeed.
fn confirm(dir: &Path, args: &[&str]) {
    let out = kcompile(dir, args);
    assert!(
        out.status.success(),
        "kcompile {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("kcompile {}: {}", args.join(" "), text(&out).trim());
}

/// The etcdctl command the steps print for `member` that contains `what` (`member add`,
/// `member list`, `member remove <ID>`): its arguments, without `etcdctl`, with the certificate
/// paths mapped into `on`'s compiled tree and `<ID>` replaced by `id`.
fn printed(steps: &str, member: &str, what: &str, out: &Path, on: &str, id: &str) -> Vec<String> {
    let block = steps
        .split("etcd: ")
        .find(|block| block.starts_with(&format!("{member} (")) && block.contains(what))
        .unwrap_or_else(|| panic!("no steps for {member} in:\n{steps}"));
    let lines: Vec<&str> = block.lines().collect();
    let end = lines
        .iter()
        .position(|line| line.contains(what))
        .unwrap_or_else(|| panic!("no `{what}` in the steps of {member}:\n{block}"));
    let start = lines[..=end]
        .iter()
        .rposition(|line| line.trim_start().starts_with("etcdctl "))
        .unwrap();
    let command: String = lines[start..=end]
        .iter()
        .map(|line| line.trim().trim_end_matches('\\').trim())
        .collect::<Vec<_>>()
        .join(" ");
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "etcdctl", "{command}");
    words[1..]
        .iter()
        .map(|word| match word.split_once('=') {
            Some((name @ ("--cacert" | "--cert" | "--key"), path)) => {
                format!("{name}={}", host_file(out, on, path))
            }
            _ => word.replace("<ID>", id),
        })
        .collect()
}

/// Runs etcdctl with `args` in `namespace`. The command timeout is etcdctl's default (5s) four
/// times over: on a loaded machine a membership change may take longer to commit, and a command
/// that timed out after its change was applied cannot simply be run again.
fn etcdctl(etcdctl: &Path, namespace: &str, args: &[String]) -> Output {
    let mut all = args.to_vec();
    all.extend([
        "--dial-timeout=2s".to_owned(),
        "--command-timeout=20s".to_owned(),
    ]);
    in_namespace(namespace, etcdctl, &all)
}

/// The hex ID of `member` in `member list` output (`ID, status, name, peers, clients, learner`).
fn member_id(list: &str, member: &str) -> Option<String> {
    list.lines()
        .find(|line| line.split(", ").nth(2) == Some(member))
        .and_then(|line| line.split(", ").next())
        .map(str::to_owned)
}

/// Waits until every server master01's apiserver names is healthy and the member list is
/// exactly `members` (all started voters).
fn wait_healthy(etcd: &netns::Etcd, namespace: &str, out: &Path, members: &[&str], step: &str) {
    let (client, servers) = apiserver_etcd_client(out, "master01");
    assert_eq!(
        servers.len(),
        members.len(),
        "{step}: --etcd-servers {servers:?}"
    );
    let started = Instant::now();
    loop {
        let mut health = client.clone();
        health.extend(["endpoint".into(), "health".into()]);
        let report = etcdctl(&etcd.etcdctl, namespace, &health);
        let mut list = client.clone();
        list.extend(["member".into(), "list".into()]);
        let listed = etcdctl(&etcd.etcdctl, namespace, &list);
        let (report, listed_text) = (text(&report), text(&listed));
        let healthy = servers
            .iter()
            .all(|server| report.contains(&format!("{server} is healthy")));
        let exact = listed.status.success()
            && listed_text.lines().count() == members.len()
            && members.iter().all(|member| {
                listed_text.lines().any(|line| {
                    let fields: Vec<&str> = line.split(", ").collect();
                    fields.get(2) == Some(member)
                        && fields.get(1) == Some(&"started")
                        && fields.get(5) == Some(&"false")
                })
            });
        if healthy && exact {
            eprintln!(
                "{step}: healthy through master01's apiserver flags:\n{}",
                report.trim_end()
            );
            return;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{step}: not healthy within {TIMEOUT:?}:\n{report}\n{listed_text}"
        );
        sleep(Duration::from_millis(500));
    }
}

/// Runs the printed join steps of `member`: `member add --learner`, start its etcd from its
/// bundle, `member list` until it shows, `member promote` until it succeeds, `kcompile etcd
/// joined`.
fn join(ctx: &mut Context, steps: &str, member: &str) {
    let i = index(member);
    let add = printed(steps, member, "member add", &ctx.out, "master01", "");
    assert!(add.contains(&"--learner".to_owned()), "{add:?}");
    let list = printed(steps, member, "member list", &ctx.out, "master01", "");
    let peer = format!("https://{}:2380", HOSTS[i].1);
    retried(
        ctx,
        &add,
        &format!("{member}: member add --learner"),
        || {
            // A member add that timed out may have been applied: then it is listed (a learner that
            // has not started is listed without a name) and must not be run again.
            let listed = etcdctl(&ctx.etcd.etcdctl, &ctx.namespaces[0], &list);
            text(&listed)
                .lines()
                .any(|line| line.contains(&peer) && line.ends_with(", true"))
        },
    );
    let flags = member_flags(ctx, member);
    assert_eq!(flag(&flags, "initial-cluster-state"), "existing");
    let data = ctx.dir.join("data").join(member);
    let _ = fs::remove_dir_all(&data);
    let flags = rewrite(&flags, &ctx.out, member, &data);
    let log = ctx
        .dir
        .join(format!("{member}-{}.log", ctx.guard.members.len()));
    start_etcd(
        &mut ctx.guard,
        &ctx.etcd.etcd,
        &ctx.namespaces[i],
        member,
        &flags,
        log,
    );
    let started = Instant::now();
    let id = loop {
        let out = etcdctl(&ctx.etcd.etcdctl, &ctx.namespaces[0], &list);
        if let Some(id) = member_id(&text(&out), member) {
            break id;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{member} never listed:\n{}",
            text(&out)
        );
        sleep(Duration::from_millis(500));
    };
    let promote = printed(steps, member, "member promote", &ctx.out, "master01", &id);
    loop {
        let out = etcdctl(&ctx.etcd.etcdctl, &ctx.namespaces[0], &promote);
        if out.status.success() {
            eprintln!("{member}: {}", text(&out).trim());
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "promote {member}: {}",
            text(&out)
        );
        sleep(Duration::from_millis(500));
    }
    confirm(&ctx.dir, &["etcd", "joined", member]);
}

/// Runs the printed removal steps of `member`: `member list` for its ID, `member remove`,
/// `kcompile etcd removed`, then stops its etcd.
fn remove(ctx: &mut Context, steps: &str, member: &str) {
    let list = printed(steps, member, "member list", &ctx.out, "master01", "");
    let listed = etcdctl(&ctx.etcd.etcdctl, &ctx.namespaces[0], &list);
    let id = member_id(&text(&listed), member)
        .unwrap_or_else(|| panic!("{member} not in:\n{}", text(&listed)));
    let command = printed(steps, member, "member remove", &ctx.out, "master01", &id);
    retried(ctx, &command, &format!("{member}: member remove"), || {
        let listed = etcdctl(&ctx.etcd.etcdctl, &ctx.namespaces[0], &list);
        listed.status.success() && member_id(&text(&listed), member).is_none()
    });
    confirm(&ctx.dir, &["etcd", "removed", member]);
    stop_etcd(&mut ctx.guard, member);
}

/// Runs a printed membership command on master01 until etcd takes it: etcd refuses one (`unhealthy
/// cluster`) until every running member it needs has been connected for 5 seconds, and the
/// printed step says to run it again. A command that timed out (a leader election after a
/// removal) may have been applied all the same: `applied` says whether it was, and then it is
/// not run again.
fn retried(ctx: &Context, args: &[String], what: &str, applied: impl Fn() -> bool) {
    let started = Instant::now();
    loop {
        let out = etcdctl(&ctx.etcd.etcdctl, &ctx.namespaces[0], args);
        if out.status.success() {
            eprintln!("{what}:\n{}", text(&out).trim_end());
            return;
        }
        let report = text(&out);
        // etcdctl's own deadline, or the server's (`etcdserver: request timed out`: the proposal
        // did not commit in time, as under a leader election); either may have been applied.
        let timed_out =
            report.contains("deadline exceeded") || report.contains("request timed out");
        let again = report.contains("unhealthy cluster") || timed_out;
        assert!(again && started.elapsed() < TIMEOUT, "{what}: {report}");
        if timed_out && applied() {
            eprintln!("{what}: timed out, but etcd applied it");
            return;
        }
        sleep(Duration::from_secs(1));
    }
}

/// What the steps share.
struct Context {
    dir: std::path::PathBuf,
    out: std::path::PathBuf,
    etcd: netns::Etcd,
    namespaces: Vec<String>,
    guard: Guard,
    /// Flags the installed etcd does not know (older than 3.5.24): listed, then left out.
    unknown: Vec<String>,
}

fn index(member: &str) -> usize {
    HOSTS.iter().position(|(name, _)| *name == member).unwrap()
}

/// `member`'s compiled etcd flags, without those the installed etcd does not know.
fn member_flags(ctx: &Context, member: &str) -> Vec<(String, String)> {
    flags(&read_pod(&ctx.out, member, "etcd"))
        .into_iter()
        .filter(|(name, _)| !ctx.unknown.contains(name))
        .collect()
}

#[test]
fn members_join_leave_and_are_replaced_by_the_printed_steps() {
    let pid = std::process::id();
    let etcd = require_etcd("etcd_membership", pid);
    eprintln!("etcd: {} (version {:?})", etcd.etcd.display(), etcd.version);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_owned();
    fs::create_dir(dir.join("data")).unwrap();

    // The first three, formed statically.
    build(&dir, &["master01", "master02", "master03"]);
    let out = dir.join("out");
    let probe = rewrite(
        &flags(&read_pod(&out, "master01", "etcd")),
        &out,
        "master01",
        &dir.join("data/probe"),
    );
    let unknown: Vec<String> = unknown_flags(&etcd.etcd, &probe)
        .into_iter()
        .map(|(name, message)| {
            eprintln!("DROPPED flag --{name}: unknown to the installed etcd ({message})");
            name
        })
        .collect();
    assert!(
        unknown.is_empty() || etcd.version < (3, 5, 24),
        "etcd {:?} does not know {unknown:?}",
        etcd.version
    );

    let mut ctx = Context {
        dir: dir.clone(),
        out: out.clone(),
        etcd,
        namespaces: (1..=HOSTS.len())
            .map(|i| format!("kc-mem-{pid}-{i}"))
            .collect(),
        guard: Guard::default(),
        unknown,
    };
    for namespace in ctx.namespaces.clone() {
        add_namespace(&mut ctx.guard, &namespace);
    }
    let ends: Vec<(String, &str)> = ctx
        .namespaces
        .iter()
        .cloned()
        .zip(HOSTS.iter().map(|(_, address)| *address))
        .collect();
    for (a, (na, address_a)) in ends.iter().enumerate() {
        for (b, (nb, address_b)) in ends.iter().enumerate().skip(a + 1) {
            let tag = format!("m{pid}{a}{b}");
            connect(&mut ctx.guard, &tag, (na, address_a), (nb, address_b));
        }
    }
    for (i, (host, _)) in HOSTS.iter().take(3).enumerate() {
        let flags = member_flags(&ctx, host);
        assert_eq!(flag(&flags, "initial-cluster-state"), "new");
        let flags = rewrite(&flags, &out, host, &dir.join("data").join(host));
        let log = dir.join(format!("{host}.log"));
        start_etcd(
            &mut ctx.guard,
            &ctx.etcd.etcd,
            &ctx.namespaces[i],
            host,
            &flags,
            log,
        );
    }
    let namespace = ctx.namespaces[0].clone();
    wait_healthy(
        &ctx.etcd,
        &namespace,
        &out,
        &["master01", "master02", "master03"],
        "formed",
    );

    // Add master04.
    let steps = build(&dir, &["master01", "master02", "master03", "master04"]);
    join(&mut ctx, &steps, "master04");
    let four = ["master01", "master02", "master03", "master04"];
    wait_healthy(&ctx.etcd, &namespace, &out, &four, "master04 joined");

    // Remove master02.
    let three = ["master01", "master03", "master04"];
    let steps = build(&dir, &three);
    remove(&mut ctx, &steps, "master02");
    wait_healthy(&ctx.etcd, &namespace, &out, &three, "master02 removed");

    // Replace master03, which lost its data, at the same address.
    confirm(&dir, &["etcd", "replace", "master03"]);
    let steps = build(&dir, &three);
    assert!(
        steps.contains("master03 (https://10.213.9.13:2380) leaves"),
        "{steps}"
    );
    remove(&mut ctx, &steps, "master03");
    join(&mut ctx, &steps, "master03");
    let steps = build(&dir, &three);
    assert!(
        !steps.contains("etcdctl"),
        "steps left after the replacement:\n{steps}"
    );
    wait_healthy(&ctx.etcd, &namespace, &out, &three, "master03 replaced");

    // Removing two of three would lose quorum: the plan and the build refuse, nothing recorded.
    let record = fs::read(dir.join("cluster.state/etcd/members.json")).unwrap();
    fs::write(dir.join("cluster.yaml"), spec(&["master01"])).unwrap();
    let planned = kcompile(&dir, &["plan"]);
    let stderr = String::from_utf8_lossy(&planned.stderr);
    assert_eq!(planned.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("loses quorum"), "{stderr}");
    let refused = kcompile(&dir, &["build", "--all", "--out", "out"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("loses quorum"), "{stderr}");
    assert!(
        stderr.contains("hint: change the membership one member at a time"),
        "{stderr}"
    );
    assert_eq!(
        fs::read(dir.join("cluster.state/etcd/members.json")).unwrap(),
        record
    );
    wait_healthy(&ctx.etcd, &namespace, &out, &three, "after the refusal");

    let namespaces = ctx.namespaces.clone();
    drop(ctx);
    for namespace in &namespaces {
        assert!(
            !Path::new("/run/netns").join(namespace).exists(),
            "namespace {namespace} was not removed"
        );
    }
}
