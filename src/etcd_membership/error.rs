//! Why a membership change cannot be planned or confirmed ([`MembershipError`]).

use std::fmt;

use super::RECORD;
use crate::state::StateError;

/// Why a membership change cannot be planned or confirmed.
#[derive(Debug)]
pub enum MembershipError {
    /// The state dir cannot be read.
    State(StateError),
    /// `etcd/members.json` does not parse.
    Damaged(String),
    /// A step would lose quorum; `--allow-quorum-loss` overrides.
    QuorumLoss {
        /// What the step is and why it loses quorum.
        message: String,
    },
    /// A confirmation that does not fit the record (message, hint).
    Refused {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
}

impl MembershipError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            MembershipError::State(_) => {
                "`kcompile state check` names every item of the state dir that cannot be used".into()
            }
            MembershipError::Damaged(_) => format!(
                "restore `{RECORD}` from a backup of the state dir; `kcompile state check` names every damaged item"
            ),
            MembershipError::QuorumLoss { .. } => {
                "change the membership one member at a time (build, run the printed steps, confirm, then the next), or pass --allow-quorum-loss if the cluster may stop taking writes".into()
            }
            MembershipError::Refused { hint, .. } => hint.clone(),
        }
    }
}

impl fmt::Display for MembershipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MembershipError::State(error) => write!(f, "{error}"),
            MembershipError::Damaged(why) => write!(f, "`{RECORD}` cannot be read: {why}"),
            MembershipError::QuorumLoss { message } | MembershipError::Refused { message, .. } => {
                f.write_str(message)
            }
        }
    }
}

impl From<StateError> for MembershipError {
    fn from(error: StateError) -> Self {
        MembershipError::State(error)
    }
}
