//! `kcompile validate`: checks a spec (and that the state dir allows its versions).

use crate::cli::ValidateArgs;
use crate::error::{Error, ExitStatus};

use super::{Purpose, check_upgrade, load, open_state, print};

/// Runs `kcompile validate`.
pub(crate) fn run(args: &ValidateArgs) -> Result<ExitStatus, Error> {
    let loaded = load(&args.spec)?;
    if args.show_resolved {
        print(&loaded.resolved_yaml())?;
        return Ok(ExitStatus::Success);
    }
    let state = open_state(&args.spec, Purpose::Preview)?;
    // The same version checks as a build: no skipped minor, no downgrade.
    check_upgrade(&loaded, &state.begin())?;
    let cluster = &loaded.cluster;
    crate::say!(
        "{}: cluster `{}`, Kubernetes {}, etcd {}, {} host{}: valid (state dir {}: {})",
        loaded.layered.spec_layer().source.name,
        cluster.name,
        cluster.kubernetes_version,
        cluster.etcd_version.tag,
        cluster.hosts.len(),
        if cluster.hosts.len() == 1 { "" } else { "s" },
        state.root().display(),
        if state.exists() {
            format!(
                "{} items recorded and intact",
                state.inventory().items.len()
            )
        } else {
            "not created yet; the first build generates every CA, key and secret".to_owned()
        },
    );
    Ok(ExitStatus::Success)
}
