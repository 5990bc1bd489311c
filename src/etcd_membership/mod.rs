//! The members of a stacked etcd, remembered in the state (`etcd/members.json`), and how the
//! membership moves from what was built to what the spec now says: which members join (each with
//! `--initial-cluster-state=existing` and the member list as it is after its join), which leave,
//! and whether any step would lose quorum.
//!
//! - A first build records every member: all `bootstrapped` with `new` and the whole list
//!   (`etcd.bootstrap: static`), or only the first one `bootstrapped` and alone, the others
//!   `joining` (`sequential`). A state built before this record existed is adopted as `static`.
//! - Later builds keep every recorded member's flags byte for byte (etcd reads `--initial-cluster*`
//!   only when its data dir is empty, so rewriting them would only restart the member), append a
//!   spec host that has no member as `joining`, and mark a member whose host left the spec (or
//!   changed its address) as `removing`.
//! - The operator confirms each step after running it (`kcompile etcd joined HOST`, `kcompile etcd
//!   removed HOST`), so a half-done change stays visible (`kcompile etcd status`) and resumable.
//!   `kcompile etcd replace HOST` marks a member for removal and re-adding at the same address
//!   (a lost data dir).
//!
//! Writes go only through a [`Transaction`]; previews plan in one and drop it. The etcdctl steps
//! an operator runs for each change are [`crate::etcd_steps`]'s.

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, EtcdTopology, Host};
use crate::cluster::{EtcdBootstrap, Role};
use crate::state::Transaction;

mod confirm;
mod error;

pub use confirm::{Confirmed, confirm_joined, confirm_removed, replace};
pub use error::MembershipError;

/// The port a member serves clients on (kubeadm's constant).
pub const CLIENT_PORT: u16 = 2379;
/// The port a member talks to its peers on (kubeadm's constant).
pub const PEER_PORT: u16 = 2380;

/// Where the record lives in the state dir.
pub const RECORD: &str = "etcd/members.json";

/// The record's format version.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Where a member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Formed the cluster when it was first built.
    Bootstrapped,
    /// Has a bundle to join with; `etcdctl member add` and `kcompile etcd joined` are still to come.
    Joining,
    /// Joined after the cluster was formed (confirmed by `kcompile etcd joined`).
    Joined,
    /// To leave: `etcdctl member remove` and `kcompile etcd removed` are still to come.
    Removing,
    /// Left (confirmed by `kcompile etcd removed`); kept as history, so a confirmation run twice
    /// is a no-op.
    Removed,
}

impl Status {
    /// Its name in the record and in `kcompile etcd status`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Bootstrapped => "bootstrapped",
            Status::Joining => "joining",
            Status::Joined => "joined",
            Status::Removing => "removing",
            Status::Removed => "removed",
        }
    }

    /// Whether the member votes in etcd (a joining member is added as a learner, which does not).
    pub fn votes(self) -> bool {
        matches!(
            self,
            Status::Bootstrapped | Status::Joined | Status::Removing
        )
    }

    /// Whether the member is in the cluster and stays (not leaving, not gone).
    pub fn stays(self) -> bool {
        matches!(
            self,
            Status::Bootstrapped | Status::Joining | Status::Joined
        )
    }
}

/// etcd's `--initial-cluster-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialClusterState {
    /// The member forms a new cluster with the others of its `--initial-cluster`.
    New,
    /// The member joins a running cluster (after `etcdctl member add`).
    Existing,
}

impl InitialClusterState {
    /// The flag value.
    pub fn flag(self) -> &'static str {
        match self {
            InitialClusterState::New => "new",
            InitialClusterState::Existing => "existing",
        }
    }
}

/// One member as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Member {
    /// etcd `--name`: the host name.
    pub name: String,
    /// `https://ADDRESS:2380`.
    pub peer_url: String,
    /// `https://ADDRESS:2379`.
    pub client_url: String,
    /// Where it stands.
    pub status: Status,
    /// Its `--initial-cluster`, fixed when it was recorded.
    pub initial_cluster: String,
    /// Its `--initial-cluster-state`.
    pub initial_cluster_state: InitialClusterState,
}

/// How one member starts: the two flags that differ between forming and joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStart {
    /// `--initial-cluster`.
    pub initial_cluster: String,
    /// `--initial-cluster-state`.
    pub state: InitialClusterState,
}

/// The record: `etcd/members.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Record {
    /// Format version (1).
    pub format_version: u32,
    /// How the cluster was first formed.
    pub bootstrap: EtcdBootstrap,
    /// Every member, in the order they were recorded (joins happen in this order).
    pub members: Vec<Member>,
}

/// Whether a step that loses quorum is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// Refuse it (the default).
    Keep,
    /// Allow it, with a warning (`--allow-quorum-loss`).
    AllowLoss,
}

impl Record {
    /// Parses the record's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Record, MembershipError> {
        let record: Record = serde_json::from_slice(bytes)
            .map_err(|e| MembershipError::Damaged(format!("not a member record: {e}")))?;
        if record.format_version != FORMAT_VERSION {
            return Err(MembershipError::Damaged(format!(
                "format version {} is not the one this kcompile reads ({FORMAT_VERSION})",
                record.format_version
            )));
        }
        Ok(record)
    }

    /// The record the state holds, if any.
    pub fn read(state: &Transaction<'_>) -> Result<Option<Record>, MembershipError> {
        match state.read(RECORD)? {
            Some(bytes) => Record::parse(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Stages the record into `state`, when it differs from what is there.
    fn write(&self, state: &mut Transaction<'_>) -> Result<(), MembershipError> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        if state.read(RECORD)?.as_deref() != Some(text.as_bytes()) {
            state.write(RECORD, text, 0o644);
        }
        Ok(())
    }

    /// The member `name` that stays, if any.
    pub fn active(&self, name: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|member| member.name == name && member.status.stays())
    }

    /// The members that stay, in order.
    pub fn current(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|member| member.status.stays())
    }
}

/// The membership a build renders from: the record after this run, what changed, warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The record after this run (`None`: the etcd is external).
    pub record: Option<Record>,
    /// Warnings about the change (a step that tolerates no failure, a mode that no longer applies).
    pub warnings: Vec<String>,
}

impl Membership {
    /// How `host`'s member starts. A host the record does not hold (not an etcd host) gets the
    /// static flags of the spec's members.
    pub fn start(&self, cluster: &Cluster, host: &Host) -> MemberStart {
        match self
            .record
            .as_ref()
            .and_then(|record| record.active(&host.name))
        {
            Some(member) => MemberStart {
                initial_cluster: member.initial_cluster.clone(),
                state: member.initial_cluster_state,
            },
            None => MemberStart {
                initial_cluster: initial_cluster(
                    cluster
                        .hosts_with(Role::Etcd)
                        .map(|host| (host.name.clone(), peer_url(host))),
                ),
                state: InitialClusterState::New,
            },
        }
    }
}

/// `https://ADDRESS:2380`.
pub fn peer_url(host: &Host) -> String {
    url(host, PEER_PORT)
}

/// `https://ADDRESS:2379`.
pub fn client_url(host: &Host) -> String {
    url(host, CLIENT_PORT)
}

fn url(host: &Host, port: u16) -> String {
    match host.address {
        std::net::IpAddr::V6(address) => format!("https://[{address}]:{port}"),
        std::net::IpAddr::V4(address) => format!("https://{address}:{port}"),
    }
}

/// `NAME=PEER,NAME=PEER`.
fn initial_cluster(members: impl Iterator<Item = (String, String)>) -> String {
    members
        .map(|(name, peer)| format!("{name}={peer}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Plans the membership for `cluster` against the record in `state` and stages the new record.
/// `built_before`: a build was recorded already (a state without a member record is then adopted
/// as a static cluster of the spec's members).
pub fn plan(
    state: &mut Transaction<'_>,
    cluster: &Cluster,
    built_before: bool,
    quorum: Quorum,
) -> Result<Membership, MembershipError> {
    let EtcdTopology::Stacked { bootstrap, .. } = &cluster.etcd else {
        return Ok(Membership {
            record: None,
            warnings: Vec::new(),
        });
    };
    let old = Record::read(state)?;
    let mut warnings = Vec::new();
    let record = match &old {
        Some(old) => {
            if old.bootstrap != *bootstrap {
                warnings.push(format!(
                    "etcd.bootstrap is `{}` but the cluster was formed `{}`: the mode only matters when a cluster is first built",
                    bootstrap.name(),
                    old.bootstrap.name()
                ));
            }
            next(old.clone(), cluster)
        }
        None if built_before => first(cluster, EtcdBootstrap::Static),
        None => first(cluster, *bootstrap),
    };
    if let Some(old) = &old {
        warnings.extend(check_quorum(old, &record, quorum)?);
    }
    record.write(state)?;
    Ok(Membership {
        record: Some(record),
        warnings,
    })
}

/// The record of a cluster built for the first time.
fn first(cluster: &Cluster, bootstrap: EtcdBootstrap) -> Record {
    let hosts: Vec<&Host> = cluster.hosts_with(Role::Etcd).collect();
    let forming: Vec<&Host> = match bootstrap {
        EtcdBootstrap::Static => hosts.clone(),
        EtcdBootstrap::Sequential => hosts.iter().take(1).copied().collect(),
    };
    let list = initial_cluster(
        forming
            .iter()
            .map(|host| (host.name.clone(), peer_url(host))),
    );
    let record = Record {
        format_version: FORMAT_VERSION,
        bootstrap,
        members: forming
            .iter()
            .map(|host| Member {
                name: host.name.clone(),
                peer_url: peer_url(host),
                client_url: client_url(host),
                status: Status::Bootstrapped,
                initial_cluster: list.clone(),
                initial_cluster_state: InitialClusterState::New,
            })
            .collect(),
    };
    next(record, cluster)
}

/// The record after the spec's changes: members whose host left (or moved) are `removing`, spec
/// hosts without a member are appended as `joining`, in spec order.
fn next(mut record: Record, cluster: &Cluster) -> Record {
    let hosts: Vec<&Host> = cluster.hosts_with(Role::Etcd).collect();
    for member in &mut record.members {
        let kept = hosts
            .iter()
            .any(|host| host.name == member.name && peer_url(host) == member.peer_url);
        if !kept && member.status.stays() {
            member.status = Status::Removing;
        }
    }
    for host in hosts {
        if record.active(&host.name).is_some() {
            continue;
        }
        let list = initial_cluster(
            record
                .current()
                .map(|member| (member.name.clone(), member.peer_url.clone()))
                .chain([(host.name.clone(), peer_url(host))]),
        );
        record.members.push(Member {
            name: host.name.clone(),
            peer_url: peer_url(host),
            client_url: client_url(host),
            status: Status::Joining,
            initial_cluster: list,
            initial_cluster_state: InitialClusterState::Existing,
        });
    }
    record
}

/// Checks that removing the members `new` marks `removing` (one at a time, each before any join)
/// keeps quorum at every step, when this run marks any; returns warnings for steps that keep it
/// with no failure to spare. Removals recorded before count as steps still to run.
fn check_quorum(
    old: &Record,
    new: &Record,
    quorum: Quorum,
) -> Result<Vec<String>, MembershipError> {
    let was = |member: &Member, status: fn(Status) -> bool| {
        old.members.iter().any(|was| {
            was.peer_url == member.peer_url && was.name == member.name && status(was.status)
        })
    };
    let removals: Vec<&Member> = new
        .members
        .iter()
        .filter(|member| member.status == Status::Removing && was(member, Status::votes))
        .collect();
    let marks_new = removals
        .iter()
        .any(|member| was(member, |status| status != Status::Removing));
    let joins = new
        .members
        .iter()
        .filter(|member| member.status == Status::Joining)
        .count();
    if !marks_new && joins == 0 {
        return Ok(Vec::new());
    }
    removal_steps(
        old.members.iter().filter(|m| m.status.votes()).count(),
        &removals.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        joins,
        quorum,
    )
}

/// Walks `voting` members through removing `removed` one by one, then `joins` joins; refuses (or,
/// with [`Quorum::AllowLoss`], warns about) a removal from two members or fewer, warns when a step
/// leaves a cluster that tolerates no failure.
pub fn removal_steps(
    voting: usize,
    removed: &[&str],
    joins: usize,
    quorum: Quorum,
) -> Result<Vec<String>, MembershipError> {
    let mut warnings = Vec::new();
    let mut size = voting;
    for name in removed {
        if size <= 2 {
            let message = if size <= 1 {
                format!(
                    "removing etcd member {name} would leave no member: the cluster's data would go with it"
                )
            } else {
                format!(
                    "removing etcd member {name} from a cluster of {size} loses quorum: 2 members need both for every write, so if {name} is down the removal itself cannot commit, and afterwards one member holds the only copy"
                )
            };
            match quorum {
                Quorum::Keep => return Err(MembershipError::QuorumLoss { message }),
                Quorum::AllowLoss => {
                    warnings.push(format!("{message} (allowed by --allow-quorum-loss)"));
                }
            }
        } else if size - 1 < 3 {
            warnings.push(format!(
                "after removing {name}, etcd has {} members and tolerates no failure until the next member joins",
                size - 1
            ));
        }
        size = size.saturating_sub(1);
    }
    let last = size + joins;
    if joins > 0 && last == 2 {
        warnings.push(
            "etcd will have 2 members: quorum is 2, so it tolerates no failure; add a third".into(),
        );
    } else if joins > 0 && last > 2 && last.is_multiple_of(2) {
        warnings.push(format!(
            "etcd will have {last} members: an even count tolerates no more failures than {}",
            last - 1
        ));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_keep_quorum_or_are_refused() {
        assert!(removal_steps(3, &["a"], 0, Quorum::Keep).is_ok());
        assert!(matches!(
            removal_steps(3, &["a", "b"], 0, Quorum::Keep),
            Err(MembershipError::QuorumLoss { .. })
        ));
        assert!(matches!(
            removal_steps(2, &["a"], 0, Quorum::Keep),
            Err(MembershipError::QuorumLoss { .. })
        ));
        assert!(matches!(
            removal_steps(1, &["a"], 1, Quorum::Keep),
            Err(MembershipError::QuorumLoss { .. })
        ));
        let allowed = removal_steps(2, &["a"], 0, Quorum::AllowLoss).unwrap();
        assert!(allowed[0].contains("--allow-quorum-loss"), "{allowed:?}");
        let replace = removal_steps(3, &["a"], 1, Quorum::Keep).unwrap();
        assert!(replace[0].contains("tolerates no failure"), "{replace:?}");
        let second = removal_steps(1, &[], 1, Quorum::Keep).unwrap();
        assert!(second[0].contains("add a third"), "{second:?}");
        assert!(removal_steps(3, &[], 2, Quorum::Keep).unwrap().is_empty());
    }
}
