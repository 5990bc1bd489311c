//! `kcompile rotate`: moves a key or CA rotation to its next phase, or shows where each stands.

use crate::cli::{RotateArgs, RotateWhat};
use crate::error::{Error, ExitStatus};
use crate::pki;

use super::{Purpose, commit, load, open_state, print};

/// Runs `kcompile rotate`.
pub(crate) fn run(args: &RotateArgs) -> Result<ExitStatus, Error> {
    use crate::cluster::Authority;
    use pki::rotation::Rotated;
    let loaded = load(&args.spec)?;
    let what = match args.what {
        RotateWhat::Status => {
            let state = open_state(&args.spec, Purpose::Inspect)?;
            let text = pki::rotation::status(&state.begin(), &loaded.cluster)?;
            return print(&text);
        }
        RotateWhat::SaKey => Rotated::ServiceAccountKey,
        RotateWhat::EncryptionKey => Rotated::EncryptionKey,
        RotateWhat::ClusterCa => Rotated::Ca(Authority::Cluster),
        RotateWhat::EtcdCa => Rotated::Ca(Authority::Etcd),
        RotateWhat::FrontProxyCa => Rotated::Ca(Authority::FrontProxy),
    };
    let Some(phase) = args.phase else {
        return Err(Error::Usage {
            message: format!("say which phase of the {} rotation to move to", what.name()),
            hint: format!(
                "`kcompile rotate {} --phase N`; `kcompile rotate status` shows where it stands",
                what.name()
            ),
        });
    };
    if what == Rotated::EncryptionKey && loaded.cluster.encryption.is_none() {
        return Err(Error::Usage {
            message: "encryption at rest is off, so there is no key to rotate".into(),
            hint: "set `encryption.enabled: true`".into(),
        });
    }
    let mut state = open_state(&args.spec, Purpose::Change)?;
    let mut transaction = state.begin();
    let next = pki::rotation::advance(
        &mut transaction,
        what,
        phase,
        &loaded.cluster,
        args.acknowledge,
    )?;
    let changes = transaction.finish();
    commit(&mut state, changes)?;
    crate::say!("{next}");
    Ok(ExitStatus::Success)
}
