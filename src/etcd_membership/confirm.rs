//! The operator's confirmations: `kcompile etcd joined|removed|replace HOST` record a step run
//! (idempotent, so a retry after a crash succeeds).

use super::{Member, MembershipError, Quorum, RECORD, Record, Status, removal_steps};
use crate::state::Transaction;

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Recorded the step for this member.
    Recorded(Member),
    /// The step was recorded already (a confirmation run twice).
    Already(Member),
}

impl Confirmed {
    /// What `kcompile etcd joined|removed` says: the member, and whether this run recorded
    /// `step` (`joined`, `removed`) or found it recorded already.
    pub fn describe(&self, step: &str) -> String {
        let (member, was, already) = match self {
            Confirmed::Recorded(member) => (member, "", ""),
            Confirmed::Already(member) => (member, "was ", " already"),
        };
        format!(
            "etcd member {} ({}) {was}recorded as {step}{already}",
            member.name, member.peer_url
        )
    }
}

/// `kcompile etcd joined HOST`: the member was added and has started (and was promoted); records
/// it as joined.
pub fn confirm_joined(
    state: &mut Transaction<'_>,
    host: &str,
) -> Result<Confirmed, MembershipError> {
    let mut record = existing(state)?;
    if record
        .members
        .iter()
        .any(|member| member.name == host && member.status == Status::Removing)
    {
        return Err(MembershipError::Refused {
            message: format!("the old member {host} has not been removed yet"),
            hint: format!(
                "run its `etcdctl member remove` step and `kcompile etcd removed {host}` first (`kcompile etcd status` shows the steps)"
            ),
        });
    }
    let position = record
        .members
        .iter()
        .position(|member| member.name == host && member.status.stays());
    let Some(position) = position else {
        return Err(not_recorded(&record, host));
    };
    if record.members[position].status == Status::Joined {
        return Ok(Confirmed::Already(record.members[position].clone()));
    }
    if record.members[position].status != Status::Joining {
        return Err(MembershipError::Refused {
            message: format!(
                "etcd member {host} is {}, not joining",
                record.members[position].status.name()
            ),
            hint: "only a member a build recorded as joining can be confirmed; `kcompile etcd status` shows each member".into(),
        });
    }
    if let Some(earlier) = record.members[..position]
        .iter()
        .find(|member| member.status == Status::Joining)
    {
        return Err(MembershipError::Refused {
            message: format!(
                "etcd member {} joins before {host} and is still joining",
                earlier.name
            ),
            hint: format!(
                "members join one at a time, in the order `kcompile etcd status` lists: confirm {} first",
                earlier.name
            ),
        });
    }
    record.members[position].status = Status::Joined;
    let member = record.members[position].clone();
    record.write(state)?;
    Ok(Confirmed::Recorded(member))
}

/// `kcompile etcd removed HOST`: `etcdctl member remove` was run; records the member as removed.
pub fn confirm_removed(
    state: &mut Transaction<'_>,
    host: &str,
) -> Result<Confirmed, MembershipError> {
    let mut record = existing(state)?;
    let Some(position) = record
        .members
        .iter()
        .position(|member| member.name == host && member.status == Status::Removing)
    else {
        let gone = record
            .members
            .iter()
            .rfind(|member| member.name == host && member.status == Status::Removed);
        if let (Some(gone), None) = (gone, record.active(host)) {
            return Ok(Confirmed::Already(gone.clone()));
        }
        return Err(match record.active(host) {
            Some(member) => MembershipError::Refused {
                message: format!(
                    "etcd member {host} is {}, not being removed",
                    member.status.name()
                ),
                hint: format!(
                    "a member is removed by taking its host (or its `etcd` role) out of the spec and building, or replaced by `kcompile etcd replace {host}`"
                ),
            },
            None => not_recorded(&record, host),
        });
    };
    record.members[position].status = Status::Removed;
    let member = record.members[position].clone();
    record.write(state)?;
    Ok(Confirmed::Recorded(member))
}

/// `kcompile etcd replace HOST`: the member lost its data (or its machine) and comes back at the
/// same address; marks it for removal, after which the next build gives the host a joining
/// member. A member marked already is left as it is.
pub fn replace(
    state: &mut Transaction<'_>,
    host: &str,
    quorum: Quorum,
) -> Result<Vec<String>, MembershipError> {
    let mut record = existing(state)?;
    if record
        .members
        .iter()
        .any(|member| member.name == host && member.status == Status::Removing)
    {
        // Marked already (a replacement asked twice).
        return Ok(Vec::new());
    }
    let Some(position) = record.members.iter().position(|member| {
        member.name == host && matches!(member.status, Status::Bootstrapped | Status::Joined)
    }) else {
        return Err(match record.active(host) {
            Some(member) => MembershipError::Refused {
                message: format!("etcd member {host} is {}, not a voting member", member.status.name()),
                hint: "a joining member is not replaced: finish its join, or take it out of the spec and build".into(),
            },
            None => not_recorded(&record, host),
        });
    };
    let voting = record.members.iter().filter(|m| m.status.votes()).count();
    let warnings = removal_steps(voting, &[host], 1, quorum)?;
    record.members[position].status = Status::Removing;
    record.write(state)?;
    Ok(warnings)
}

/// The record a confirmation works on: it must exist.
fn existing(state: &Transaction<'_>) -> Result<Record, MembershipError> {
    Record::read(state)?.ok_or_else(|| MembershipError::Refused {
        message: format!("the state has no etcd member record (`{RECORD}`)"),
        hint: "`kcompile build` records the members of a stacked etcd".into(),
    })
}

fn not_recorded(record: &Record, host: &str) -> MembershipError {
    let names: Vec<&str> = record.members.iter().map(|m| m.name.as_str()).collect();
    MembershipError::Refused {
        message: format!("there is no etcd member {host}"),
        hint: match crate::versions::closest(host, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? (members: {})", names.join(", ")),
            None => format!("members: {}", names.join(", ")),
        },
    }
}
