//! Checks of the `etcd` section that concern membership: `etcd.bootstrap` (how stacked members
//! first form the cluster) means nothing for an etcd kcompile does not run.

use super::types::EtcdBootstrap;

/// A located problem: spec path, message, hint.
pub(super) struct Problem {
    /// Where in the spec.
    pub path: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// The problem with `etcd.bootstrap` beside `etcd.external`, if it is set there.
pub(super) fn bootstrap_with_external(bootstrap: Option<EtcdBootstrap>) -> Option<Problem> {
    let bootstrap = bootstrap?;
    Some(Problem {
        path: "etcd.bootstrap",
        message: format!(
            "`etcd.bootstrap: {}` is set but etcd is external",
            bootstrap.name()
        ),
        hint: "kcompile forms only the stacked etcd it runs; remove `etcd.bootstrap` or `etcd.external`"
            .into(),
    })
}
