//! `kcompile adopt`: writes a spec and a state dir from a running cluster's host files.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::{AdoptArgs, OutputFormat};
use crate::error::{Error, ExitStatus};
use crate::etcd_membership::Quorum;
use crate::pki::IssueOptions;
use crate::render;
use crate::spec::{self, Source};

use super::{
    Purpose, abandon_state, commit, host_bundle, open_state, plan_build, print, print_diagnostics,
};

/// Runs `kcompile adopt`.
pub(crate) fn run(args: &AdoptArgs) -> Result<ExitStatus, Error> {
    let file = &args.spec.file;
    // A spec adopt wrote itself (a run finished before) is left as it is; any other is refused.
    let refuse = || Error::Usage {
        message: format!(
            "`{}` exists; adopt writes a new spec and never overwrites one",
            file.display()
        ),
        hint: "name a new file with -f".into(),
    };
    if file == Path::new("-") {
        return Err(refuse());
    }
    let input = |e: crate::adopt::AdoptError| Error::Input(e.to_string());
    let hosts =
        crate::adopt::read_roots(&args.roots, args.kubernetes_version.as_deref()).map_err(input)?;
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    // The cluster's audit policy, kept byte for byte beside the spec (`audit.policyFile`).
    let policy_file = format!(
        "{}.audit-policy.yaml",
        file.file_stem()
            .map_or_else(|| "cluster".into(), |stem| stem.to_string_lossy())
    );
    let mut discovered = crate::adopt::spec::discover(&hosts, &policy_file).map_err(input)?;
    crate::adopt::tutorial::amend(&mut discovered, &hosts);
    let source = Source {
        name: file.display().to_string(),
        text: render::yaml(&discovered.spec),
    };
    let text = source.text.clone();
    let written = match std::fs::read(file) {
        Ok(bytes) if bytes == text.as_bytes() => true,
        Ok(_) => return Err(refuse()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => false,
        Err(source) => {
            return Err(Error::Read {
                path: file.clone(),
                source,
            });
        }
    };
    if let Some(policy) = &discovered.audit_policy {
        keep_beside(&file.with_file_name(&policy_file), policy)?;
    }
    let loaded = spec::load(source, &dir).map_err(Error::Spec)?;
    print_diagnostics(&loaded.warnings);
    let existed = args.spec.state_dir().exists();
    let mut state = open_state(&args.spec, Purpose::Create)?;
    let mut transaction = state.begin();
    let staged = crate::adopt::material::stage(
        &mut transaction,
        &loaded.cluster,
        &hosts,
        time::OffsetDateTime::now_utc(),
    );
    let staged = match staged {
        Ok(staged) => staged,
        Err(error) => {
            drop(transaction);
            abandon_state(state, existed);
            return Err(match error {
                crate::adopt::AdoptError::State(error) => Error::State(error),
                error => Error::Input(error.to_string()),
            });
        }
    };
    let changes = transaction.finish();
    commit(&mut state, changes)?;
    if !written {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(file)
            .and_then(|mut out| out.write_all(text.as_bytes()).and_then(|()| out.sync_all()))
            .map_err(|e| Error::Input(format!("cannot write `{}`: {e}", file.display())))?;
    }
    for warning in &discovered.warnings {
        crate::say!("warning: {warning}");
    }
    let (pki, _, members, _) = plan_build(&loaded, &state, &IssueOptions::default(), Quorum::Keep)?;
    let fingerprint = |bytes: &[u8]| state.keyed_fingerprint(bytes);
    let mut changes = Vec::new();
    for host in &loaded.cluster.hosts {
        let files = host_bundle(&loaded, &pki, &members, host);
        let report = crate::diff::compare(
            &host.name,
            &files,
            &args.roots.join(&host.name),
            &fingerprint,
        )
        .map_err(Error::Compare)?;
        let kubelet_fields = match (
            hosts
                .iter()
                .find(|found| found.name == host.name)
                .and_then(|found| found.kubelet_config.as_ref()),
            files
                .files
                .get(crate::adopt::host::KUBELET_CONFIG)
                .and_then(|ours| std::str::from_utf8(&ours.bytes).ok())
                .and_then(|ours| crate::verify::material::yaml(ours).ok()),
        ) {
            (Some(theirs), Some(ours)) => crate::adopt::kubelet::set_differently(theirs, &ours),
            _ => Vec::new(),
        };
        let encryption_config = loaded
            .cluster
            .encryption
            .as_ref()
            .map(|encryption| encryption.config_path.trim_start_matches('/'));
        let mut planned = crate::adopt::changes::planned(
            &report,
            &crate::adopt::changes::Known {
                not_kept: &staged.not_kept,
                admin_from: hosts.first().map_or("", |first| first.name.as_str()),
                kubelet_fields: &kubelet_fields,
                encryption_config,
                audit_policy: loaded
                    .cluster
                    .audit
                    .as_ref()
                    .map(|audit| audit.policy_path.trim_start_matches('/')),
            },
        );
        if let Some(read) = hosts.iter().find(|read| read.name == host.name) {
            crate::adopt::tutorial::switch::explain(&mut planned, read, &files, &staged.not_kept);
        }
        changes.extend(planned);
    }
    let cutover = crate::adopt::tutorial::switch::cutover(
        &hosts,
        hosts.first().map_or("", |first| first.name.as_str()),
    );
    crate::say!(
        "wrote {} and state {}: {} files kept from the cluster, {} changes a build still makes",
        file.display(),
        state.root().display(),
        staged.adopted.len(),
        changes.len()
    );
    match args.output {
        OutputFormat::Json => print(&crate::json::document(&serde_json::json!({
            "spec": file.display().to_string(),
            "state": state.root().display().to_string(),
            "kept": staged.adopted,
            "warnings": discovered.warnings,
            "changes": changes,
            "cutover": cutover,
        }))),
        OutputFormat::Text => {
            let mut text = String::new();
            for kept in &staged.adopted {
                let _ = writeln!(text, "keep   {kept}");
            }
            for change in &changes {
                let _ = writeln!(
                    text,
                    "{:<6} {}/{}: {}",
                    serde_json::to_value(change.action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    change.host,
                    change.path,
                    change.reason
                );
            }
            for step in &cutover {
                let _ = writeln!(text, "cutover {}: {}", step.wave, step.host);
                for action in &step.actions {
                    let _ = writeln!(text, "  - {action}");
                }
            }
            print(&crate::shown::terminal_safe(&text))
        }
    }
}

/// Writes `text` to `path` unless it already holds exactly that (a run that stopped before
/// writing the spec); a different file there is never overwritten.
fn keep_beside(path: &Path, text: &str) -> Result<(), Error> {
    match std::fs::read(path) {
        Ok(bytes) if bytes == text.as_bytes() => return Ok(()),
        Ok(_) => {
            return Err(Error::Usage {
                message: format!(
                    "`{}` exists; adopt keeps the cluster's audit policy there and never overwrites a file",
                    path.display()
                ),
                hint: "move it away, or name another spec with -f".into(),
            });
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut out| out.write_all(text.as_bytes()).and_then(|()| out.sync_all()))
        .map_err(|e| Error::Input(format!("cannot write `{}`: {e}", path.display())))
}
