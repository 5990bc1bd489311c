//! `kcompile plan`: the rollout plan, every host compared with its root or its last build.

use crate::bundle;
use crate::cli::{OutputFormat, PlanArgs};
use crate::error::{Error, ExitStatus};
use crate::etcd_membership::{self, Quorum};
use crate::pki::IssueOptions;

use super::{Purpose, host_bundle, load, open_state_for_run, plan_build, print};

/// Runs `kcompile plan`.
pub(crate) fn run(args: &PlanArgs) -> Result<ExitStatus, Error> {
    let loaded = load(&args.spec)?;
    let cluster = &loaded.cluster;
    // A preview: the state is read, what a build would issue and record is planned and dropped.
    // With no state dir yet every host is new.
    let state = open_state_for_run(&args.spec, Purpose::Preview)?;
    let (pki, _, members, _) = plan_build(&loaded, &state, &IssueOptions::default(), Quorum::Keep)?;
    let fingerprint = |bytes: &[u8]| state.keyed_fingerprint(bytes);
    let mut inputs = Vec::new();
    let recorded = state.begin();
    for host in &cluster.hosts {
        let files = host_bundle(&loaded, &pki, &members, host);
        let Some(roots) = &args.roots else {
            let last = bundle::built::read(&recorded, &host.name).map_err(Error::Built)?;
            let (source, label) = match &last {
                Some(last) => (
                    crate::plan::Source::LastBuild {
                        since: last.since.clone(),
                    },
                    "its last build as the state records it",
                ),
                None => (crate::plan::Source::NeverBuilt, "nothing (never built)"),
            };
            inputs.push(crate::plan::HostInput {
                host,
                report: crate::diff::compare_with_build(&host.name, &files, last.as_ref(), label),
                built_for: last
                    .map(|last| last.manifest.header.kubernetes)
                    .filter(|version| !version.is_empty()),
                source,
            });
            continue;
        };
        let root = roots.join(&host.name);
        if !root.is_dir() {
            return Err(Error::Usage {
                message: format!("there is no root for host `{}`: `{}` is not a directory", host.name, root.display()),
                hint: "fetch each host's files to DIR/<host>/ (etc/kubernetes, etc/systemd/system/kubelet.service, var/lib/kubelet); for a new host create an empty DIR/<host>/".into(),
            });
        }
        let report = crate::diff::compare(&host.name, &files, &root, &fingerprint)
            .map_err(Error::Compare)?;
        let built_for = crate::root::Root::open(&root)
            .ok()
            .and_then(|machine| machine.read(bundle::manifest::PATH).ok().flatten())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| bundle::manifest::parse(&text).ok())
            .map(|manifest| manifest.header.kubernetes)
            .filter(|version| !version.is_empty());
        inputs.push(crate::plan::HostInput {
            host,
            report,
            built_for,
            source: crate::plan::Source::Root {
                path: root.display().to_string(),
            },
        });
    }
    let mut steps = crate::plan::MembershipSteps::default();
    if let crate::cluster::EtcdTopology::Stacked { data_dir, .. } = &cluster.etcd {
        for (name, status, paragraph) in crate::etcd_steps::by_member(&members, data_dir) {
            if status == etcd_membership::Status::Removing {
                steps.leaving.push(paragraph);
            } else {
                let confirm = format!(
                    "confirm {name}'s join (after `member promote`): kcompile etcd joined {name}"
                );
                steps.joining.push((name, paragraph, confirm));
            }
        }
    }
    let plan = crate::plan::plan(
        inputs,
        &cluster.kubernetes_version.to_string(),
        cluster.api_server_port,
        &steps,
        members.warnings.clone(),
    );
    match args.output {
        OutputFormat::Text => print(&crate::shown::terminal_safe(&plan.render()))?,
        OutputFormat::Json => print(&plan.render_json())?,
    };
    Ok(if plan.waves.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Differences
    })
}
