//! `kcompile etcd`: the etcd membership's status, and the confirmations of its steps.

use crate::cli::{EtcdAction, EtcdArgs, SpecArgs};
use crate::error::{Error, ExitStatus};
use crate::etcd_membership::{self, Membership, MembershipError, Quorum};

use super::{Purpose, commit, load, membership_error, open_state, print};

/// Runs `kcompile etcd`.
pub(crate) fn run(args: &EtcdArgs) -> Result<ExitStatus, Error> {
    match &args.action {
        EtcdAction::Status { spec } => {
            let loaded = load(spec)?;
            let state = open_state(spec, Purpose::Inspect)?;
            let record = etcd_membership::Record::read(&state.begin()).map_err(membership_error)?;
            let members = Membership {
                record,
                warnings: Vec::new(),
            };
            let data_dir = match &loaded.cluster.etcd {
                crate::cluster::EtcdTopology::Stacked { data_dir, .. } => data_dir.as_str(),
                crate::cluster::EtcdTopology::External { .. } => "",
            };
            let text = crate::etcd_steps::status(&members, data_dir);
            print(&crate::shown::terminal_safe(&text))
        }
        EtcdAction::Joined { host, spec } => record_etcd_step(spec, |transaction| {
            Ok(etcd_membership::confirm_joined(transaction, host)?.describe("joined"))
        }),
        EtcdAction::Removed { host, spec } => record_etcd_step(spec, |transaction| {
            Ok(etcd_membership::confirm_removed(transaction, host)?.describe("removed"))
        }),
        EtcdAction::Replace {
            host,
            allow_quorum_loss,
            spec,
        } => record_etcd_step(spec, |transaction| {
            let quorum = if *allow_quorum_loss {
                Quorum::AllowLoss
            } else {
                Quorum::Keep
            };
            for warning in etcd_membership::replace(transaction, host, quorum)? {
                crate::say!("warning: {warning}");
            }
            Ok(format!(
                "etcd member {host} marked for replacement: `kcompile build` gives {host} a joining member and prints the steps (the old member is removed first)"
            ))
        }),
    }
}

/// Runs one membership confirmation against the state and commits it; says what it recorded.
fn record_etcd_step(
    spec: &SpecArgs,
    step: impl FnOnce(&mut crate::state::Transaction<'_>) -> Result<String, MembershipError>,
) -> Result<ExitStatus, Error> {
    let mut state = open_state(spec, Purpose::Change)?;
    let mut transaction = state.begin();
    let done = step(&mut transaction).map_err(membership_error)?;
    let changes = transaction.finish();
    commit(&mut state, changes)?;
    crate::say!("{done}");
    Ok(ExitStatus::Success)
}
