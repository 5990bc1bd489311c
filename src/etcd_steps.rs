//! The steps an operator runs for a membership change, with the exact `etcdctl` commands, in a
//! safe order: every leaving member is removed first (a joining member's `--initial-cluster`
//! lists the cluster as it is after the removals), then members join one at a time, each as a
//! learner that is promoted once it has caught up.
//!
//! Why a learner: etcd 3.4 added learners and kcompile's etcd is 3.5.24 or newer. A learner does
//! not vote, so adding one never changes the quorum: if the new member never starts (a wrong
//! address, a firewall), the cluster is as it was. A plain `member add` makes the new member a
//! voter at once, so a 1-member cluster would need both to write until the second is up, and a
//! mistake in the new member's bundle would stall it.
//!
//! What etcd enforces, read in etcd-io/etcd at v3.5.24 (commit
//! e72f3c2a400c21a0b82ab2f34197292f07e2c154) unless said otherwise:
//! - a joining member's `--initial-cluster` must list exactly the cluster's members:
//!   `ValidateClusterAndAssignIDs` returns "member count is unequal" otherwise
//!   (`server/etcdserver/api/membership/cluster.go:845`), hence removals before joins;
//! - one learner at a time: `maxLearners = 1` (`server/etcdserver/api/membership/cluster.go:46`;
//!   v3.6.5, commit a0614505aff9b8ff469e9c59c2d979a5936d13f4, `DefaultMaxLearners = 1` in
//!   `server/etcdserver/api/membership/cluster_opts.go:17`), hence one join at a time;
//! - a learner is promoted only once in sync with the leader (`isLearnerReady` returns
//!   `ErrLearnerNotReady`, `server/etcdserver/server.go:1874`, "can only promote a learner member
//!   which is in sync with leader", `server/etcdserver/errors.go:33`): run `member promote` again;
//! - with the default strict reconfiguration check, `member add` and the removal of a running
//!   member are refused with "unhealthy cluster" (`server/etcdserver/errors.go:39`) until the
//!   member that serves the request has been connected to every peer for `HealthInterval`, 5s
//!   (`server/etcdserver/server.go:90`, `mayAddMember` at 1689, `mayRemoveMember` at 1880); a
//!   member that is down can be removed at once: run the command again.

use crate::etcd_membership::{Member, Membership, Status};
use crate::render::PKI;

/// An etcdctl command run on a current member, as shell lines continued with `\\` (each line
/// short enough to print whole): the client URLs of the members that vote and stay, and the
/// member's healthcheck client certificate, signed by the etcd CA.
fn etcdctl(endpoints: &[&str], command: &str) -> String {
    format!(
        "etcdctl --endpoints={} \\\n       --cacert={PKI}/etcd/ca.crt --cert={PKI}/etcd/healthcheck-client.crt --key={PKI}/etcd/healthcheck-client.key \\\n       {command}",
        endpoints.join(",")
    )
}

/// The steps still to run, one paragraph per member change; empty when nothing is pending.
pub fn pending(membership: &Membership, data_dir: &str) -> Vec<String> {
    by_member(membership, data_dir)
        .into_iter()
        .map(|(_, _, paragraph)| paragraph)
        .collect()
}

/// [`pending`], each paragraph with its member's name and status (`removing` ones first).
pub fn by_member(membership: &Membership, data_dir: &str) -> Vec<(String, Status, String)> {
    let Some(record) = &membership.record else {
        return Vec::new();
    };
    // The members that vote and stay: the ones etcdctl talks to.
    let staying: Vec<&Member> = record
        .members
        .iter()
        .filter(|member| matches!(member.status, Status::Bootstrapped | Status::Joined))
        .collect();
    let endpoints: Vec<&str> = staying.iter().map(|m| m.client_url.as_str()).collect();
    let on = staying
        .first()
        .map_or("a current member", |m| m.name.as_str());
    let list = etcdctl(&endpoints, "member list");
    let mut steps = Vec::new();
    for member in record
        .members
        .iter()
        .filter(|m| m.status == Status::Removing)
    {
        let name = &member.name;
        let remove = etcdctl(&endpoints, "member remove <ID>");
        steps.push((name.clone(), Status::Removing, format!(
            "etcd: {name} ({}) leaves the cluster; before rolling out any other host:\n  \
             1. on {on}, find {name}'s member ID (the first field of the line that names it):\n     \
             {list}\n  \
             2. on {on} (etcd answers `unhealthy cluster` while a running member has been connected for less than 5s: run it again):\n     \
             {remove}\n  \
             3. kcompile etcd removed {name}\n  \
             4. on {name}: stop its etcd (remove /etc/kubernetes/manifests/etcd.yaml) and empty {data_dir}\n  \
             5. roll out the other hosts' bundles (--etcd-servers, load-balancer backends, SANs)",
            member.peer_url
        )));
    }
    for member in record
        .members
        .iter()
        .filter(|m| m.status == Status::Joining)
    {
        let name = &member.name;
        let after = if steps.is_empty() {
            String::new()
        } else {
            " after the steps above".to_owned()
        };
        let add = etcdctl(
            &endpoints,
            &format!(
                "member add {name} --peer-urls={} --learner",
                member.peer_url
            ),
        );
        let promote = etcdctl(&endpoints, "member promote <ID>");
        steps.push((name.clone(), Status::Joining, format!(
            "etcd: {name} ({}) joins the cluster{after}, as a learner then promoted:\n  \
             1. on {on} (etcd answers `unhealthy cluster` until every member has been connected for 5s: run it again):\n     \
             {add}\n  \
             2. on {name}: install its bundle, with an empty {data_dir} (its etcd starts with --initial-cluster-state=existing)\n  \
             3. on {on}, find {name}'s member ID (the first field of the line that names it):\n     \
             {list}\n     \
             then promote it (again until it succeeds: a learner is promoted once it has caught up):\n     \
             {promote}\n  \
             4. kcompile etcd joined {name}\n  \
             5. roll out the other hosts' bundles (--etcd-servers, load-balancer backends, SANs)",
            member.peer_url
        )));
    }
    steps
}

/// `kcompile etcd status`: the bootstrap mode, each member, and the steps still to run.
pub fn status(membership: &Membership, data_dir: &str) -> String {
    let Some(record) = &membership.record else {
        return "etcd is external: kcompile keeps no member record\n".into();
    };
    let mut text = format!("bootstrap: {}\n", record.bootstrap.name());
    let width = record
        .members
        .iter()
        .map(|member| member.name.len())
        .max()
        .unwrap_or(0);
    for member in &record.members {
        text.push_str(&format!(
            "{:<width$}  {:<12}  {}  {}  --initial-cluster-state={}\n",
            member.name,
            member.status.name(),
            member.peer_url,
            member.client_url,
            member.initial_cluster_state.flag(),
        ));
    }
    for step in pending(membership, data_dir) {
        text.push('\n');
        text.push_str(&step);
        text.push('\n');
    }
    text
}
