//! `kcompile state`: lists, checks, records or forgets the items of the state dir.

use crate::cli::{OutputFormat, StateAction, StateArgs};
use crate::error::{Error, ExitStatus};
use crate::state::{State, StateError};

use super::{Purpose, open_state, print};

/// Runs `kcompile state`.
pub(crate) fn run(args: &StateArgs) -> Result<ExitStatus, Error> {
    match &args.action {
        StateAction::List { spec, output } => {
            let state = open_state(spec, Purpose::Inspect)?;
            print(&crate::state_report::list(
                &state,
                *output == OutputFormat::Json,
            ))
        }
        StateAction::Check { spec } => {
            let state = open_state(spec, Purpose::Inspect)?;
            let problems = crate::state_report::check(&state);
            if !problems.is_empty() {
                return Err(Error::State(StateError::Unusable {
                    root: state.root().to_owned(),
                    problems,
                }));
            }
            crate::say!(
                "state {}: {} items recorded, every one present, unchanged and usable",
                state.root().display(),
                state.inventory().items.len()
            );
            Ok(ExitStatus::Success)
        }
        StateAction::Forget { paths, spec } => {
            let root = spec.state_dir();
            State::forget(&root, paths)?;
            for path in paths {
                crate::say!("state {}: forgot `{path}`", root.display());
            }
            Ok(ExitStatus::Success)
        }
        StateAction::Record { spec } => {
            let root = spec.state_dir();
            let recorded = State::record_existing(&root)?;
            crate::say!(
                "state {}: recorded {} items in a new inventory; `kcompile state check` checks them",
                root.display(),
                recorded.len()
            );
            Ok(ExitStatus::Success)
        }
    }
}
