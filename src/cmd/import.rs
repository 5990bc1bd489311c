//! `kcompile import`: adopts a kubeadm PKI directory into the state dir.

use crate::cli::ImportArgs;
use crate::error::{Error, ExitStatus};
use crate::pki;

use super::{Purpose, abandon_state, commit, open_state};

/// Runs `kcompile import`.
pub(crate) fn run(args: &ImportArgs) -> Result<ExitStatus, Error> {
    let existed = args.spec.state_dir().exists();
    let mut state = open_state(&args.spec, Purpose::Create)?;
    let mut transaction = state.begin();
    let imported = match pki::import::from_pki(&mut transaction, &args.from_pki) {
        Ok(imported) => imported,
        Err(error) => {
            drop(transaction);
            abandon_state(state, existed);
            return Err(Error::Pki(error));
        }
    };
    let changes = transaction.finish();
    commit(&mut state, changes)?;
    for file in &imported.adopted {
        crate::say!("adopted {file}");
    }
    crate::say!(
        "state {}: {} files adopted, {} already there",
        state.root().display(),
        imported.adopted.len(),
        imported.unchanged.len()
    );
    Ok(ExitStatus::Success)
}
