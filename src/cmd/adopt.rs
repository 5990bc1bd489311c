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

use super::{Purpose, commit, host_bundle, open_state, plan_build, print, print_diagnostics};

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
    let mut discovered = crate::adopt::spec::discover(&hosts).map_err(input)?;
    crate::adopt::tutorial::amend(&mut discovered, &hosts);
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
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
            // All or nothing: a state dir this run created holds nothing yet; remove it.
            drop(transaction);
            let root = state.root().to_owned();
            drop(state);
            if !existed {
                let _ = std::fs::remove_dir_all(&root);
            }
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
        let mut planned = crate::adopt::changes::planned(
            &report,
            &staged.not_kept,
            hosts.first().map_or("", |first| first.name.as_str()),
        );
        if let Some(read) = hosts.iter().find(|read| read.name == host.name) {
            crate::adopt::tutorial::explain(&mut planned, read, &files, &staged.not_kept);
        }
        changes.extend(planned);
    }
    let cutover = crate::adopt::tutorial::cutover(
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
