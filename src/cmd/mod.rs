//! The subcommands, one module each, over the library's operations (as cargo's `commands/`):
//! `cli.rs` holds the flag definitions; [`execute`] calls `<subcommand>::run`. This module holds what
//! several subcommands share: reading the spec, opening the state dir, planning, committing and
//! reporting.

pub(crate) mod adopt;
pub(crate) mod build;
pub(crate) mod certs;
pub(crate) mod diff;
pub(crate) mod etcd;
pub(crate) mod images;
pub(crate) mod import;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod preflight;
pub(crate) mod rotate;
pub(crate) mod state;
pub(crate) mod token;
pub(crate) mod validate;
pub(crate) mod verify;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::bundle;
use crate::cli::{Cli, Command, SpecArgs};
use crate::cluster::{Cluster, Host};
use crate::error::{Error, ExitStatus};
use crate::etcd_membership::{self, Membership, MembershipError, Quorum};
use crate::pki::{self, IssueOptions};
use crate::render;
use crate::spec::{self, Diagnostic, Loaded, Source};
use crate::state::inventory::ItemKind;
use crate::state::{Access, Changes, State};

/// Runs the parsed command line; returns how the process should exit.
pub fn execute(cli: Cli) -> Result<ExitStatus, Error> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Certs(args) => certs::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Adopt(args) => adopt::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Images(args) => images::run(&args),
        Command::Preflight(args) => preflight::run(&args),
        Command::Rotate(args) => rotate::run(&args),
        Command::State(args) => state::run(&args),
        Command::Etcd(args) => etcd::run(&args),
        Command::Token(args) => token::run(&args),
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kcompile", &mut text);
            print(&String::from_utf8_lossy(&text))
        }
        Command::Man => {
            let mut text = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut text)
                .map_err(Error::Write)?;
            print(&String::from_utf8_lossy(&text))
        }
    }
}

/// What a command does with the state dir, which decides how it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// validate, build --dry-run: read-only; a missing state is an empty one.
    Preview,
    /// diff, certs, rotate status: read-only; the state must exist.
    Inspect,
    /// certs renew, rotate: writes; the state must exist.
    Change,
    /// build, import: writes; creates the state (and says so).
    Create,
}

/// Gives up a run whose transaction (dropped first) committed nothing: all or nothing, so a
/// state dir the run itself created (it did not exist before, `existed`) is removed again; one
/// that existed stays as it was.
pub(crate) fn abandon_state(state: State, existed: bool) {
    let root = state.root().to_owned();
    drop(state);
    if !existed {
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// Opens the state dir as `purpose` needs it and checks every recorded item.
pub(crate) fn open_state(args: &SpecArgs, purpose: Purpose) -> Result<State, Error> {
    let state = open_state_for_run(args, purpose)?;
    state.check_all()?;
    Ok(state)
}

/// Opens the state dir as `purpose` needs it; each recorded item is checked when the run uses
/// it. For `build` and `diff`, which may use only a few hosts' items of a large state.
pub(crate) fn open_state_for_run(args: &SpecArgs, purpose: Purpose) -> Result<State, Error> {
    let root = args.state_dir();
    let state = match purpose {
        Purpose::Preview if !root.exists() => {
            crate::say!(
                "state {}: does not exist yet; every CA, key and secret would be generated",
                root.display()
            );
            Ok(State::absent(&root))
        }
        Purpose::Preview | Purpose::Inspect => State::open(&root, Access::ReadOnly),
        Purpose::Change => State::open(&root, Access::Write),
        Purpose::Create => State::open_or_create(&root).map(|(state, created)| {
            if created {
                crate::say!("created state dir {} (private, 0700)", root.display());
            }
            state
        }),
    };
    Ok(state?)
}

/// Plans the PKI against `state` (refusing a skipped minor upgrade first): the material, the plan,
/// and the changes a writer commits.
pub(crate) fn plan_pki(
    loaded: &Loaded,
    state: &State,
    options: &IssueOptions,
) -> Result<(pki::Pki, pki::Plan, Changes), Error> {
    let mut transaction = state.begin();
    check_upgrade(loaded, &transaction)?;
    let (pki, plan) = pki::plan(&mut transaction, &loaded.cluster, options)?;
    Ok((pki, plan, transaction.finish()))
}

/// Plans what a build makes against `state` in one transaction: the PKI (as [`plan_pki`]) and
/// the etcd membership (who forms the cluster, who joins, who leaves; a step that loses quorum is
/// refused unless `quorum` allows it). Returns the changes a writer commits.
pub(crate) fn plan_build(
    loaded: &Loaded,
    state: &State,
    options: &IssueOptions,
    quorum: Quorum,
) -> Result<(pki::Pki, pki::Plan, Membership, Changes), Error> {
    let mut transaction = state.begin();
    check_upgrade(loaded, &transaction)?;
    let built_before = crate::upgrade::last_built(&transaction)?.is_some();
    let (pki, plan) = pki::plan(&mut transaction, &loaded.cluster, options)?;
    let members = etcd_membership::plan(&mut transaction, &loaded.cluster, built_before, quorum)
        .map_err(membership_error)?;
    Ok((pki, plan, members, transaction.finish()))
}

/// The command error of a membership problem: a step that does not fit (exit 2 with a hint), or
/// a state that cannot be read.
pub(crate) fn membership_error(error: MembershipError) -> Error {
    match error {
        MembershipError::State(_) | MembershipError::Damaged(_) => Error::Membership(error),
        MembershipError::QuorumLoss { .. } | MembershipError::Refused { .. } => Error::Usage {
            message: error.to_string(),
            hint: error.hint(),
        },
    }
}

/// Prints the membership's warnings and the etcd steps still to run.
pub(crate) fn report_members(cluster: &Cluster, members: &Membership) {
    for warning in &members.warnings {
        crate::say!("warning: {warning}");
    }
    let crate::cluster::EtcdTopology::Stacked { data_dir, .. } = &cluster.etcd else {
        return;
    };
    for step in crate::etcd_steps::pending(members, data_dir) {
        crate::say!("{step}");
    }
}

/// Refuses a spec that skips a minor or goes back one from the version the state last built, at
/// the spec's `kubernetesVersion`.
pub(crate) fn check_upgrade(
    loaded: &Loaded,
    state: &crate::state::Transaction<'_>,
) -> Result<(), Error> {
    let target = loaded.cluster.kubernetes_version;
    if let Some(last) = crate::upgrade::last_built(state)?
        && let Some((message, hint)) = crate::upgrade::refusal(last, target)
    {
        let diagnostic = loaded.layered.diagnostic(
            crate::spec::Severity::Error,
            "kubernetesVersion",
            false,
            message,
            Some(hint),
        );
        return Err(Error::Spec(vec![diagnostic]));
    }
    Ok(())
}

/// Commits `changes` and reports every item generated or replaced, by name and fingerprint.
pub(crate) fn commit(state: &mut State, changes: Changes) -> Result<(), Error> {
    let known: std::collections::BTreeSet<String> =
        state.inventory().items.keys().cloned().collect();
    let committed = state.commit(changes)?;
    for path in committed {
        let Some(kind) = ItemKind::of(&path) else {
            continue;
        };
        if !kind.is_secret() || kind == ItemKind::Retired {
            continue;
        }
        let bytes = state.read(&path).ok().flatten().unwrap_or_default();
        let fingerprint = state
            .keyed_fingerprint(&bytes)
            .unwrap_or_else(|| "fingerprint withheld".into());
        crate::say!(
            "{} {path} ({kind}, {fingerprint})",
            if known.contains(&path) {
                "replaced"
            } else {
                "generated"
            }
        );
    }
    Ok(())
}

/// Prints what a plan issues, and a summary line.
pub(crate) fn report_plan(state: &State, pki: &pki::Pki, plan: &pki::Plan, preview: bool) {
    let (issue, generate) = if preview {
        ("would issue", "keys would be generated")
    } else {
        ("issued", "keys generated")
    };
    for (id, why) in &plan.issued {
        crate::say!("{issue} {id} ({why})");
    }
    let total = pki.certs.len() + pki.authorities.len() + plan.reused_unplanned;
    crate::say!(
        "state {}: {} {generate}, {} certificates {}, {} reused",
        state.root().display(),
        plan.new_keys.len(),
        plan.issued.len(),
        if preview { "to issue" } else { "issued" },
        total.saturating_sub(plan.issued.len()),
    );
}

/// A host's files and their MANIFEST.
pub(crate) fn host_bundle(
    loaded: &Loaded,
    pki: &pki::Pki,
    members: &Membership,
    host: &Host,
) -> render::FileSet {
    let mut files = render::host_files(&loaded.cluster, pki, members, host);
    let header = bundle::manifest::Header {
        cluster: loaded.cluster.name.clone(),
        host: host.name.clone(),
        kubernetes: loaded.cluster.kubernetes_version.to_string(),
        spec_sha256: loaded.spec_sha256(),
    };
    bundle::manifest::add(&mut files, &header);
    files
}

/// The host of the spec named `name`; an unknown name is a usage error with the closest name as
/// a hint.
pub(crate) fn find_host<'c>(cluster: &'c Cluster, name: &str) -> Result<&'c Host, Error> {
    cluster
        .hosts
        .iter()
        .find(|host| host.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = cluster
                .hosts
                .iter()
                .map(|host| host.name.as_str())
                .collect();
            let hint = match crate::versions::closest(name, names.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? (hosts: {})", names.join(", ")),
                None => format!("hosts: {}", names.join(", ")),
            };
            Error::Usage {
                message: format!("the spec has no host `{name}`"),
                hint,
            }
        })
}

/// Leaves `value` to the process's exit instead of freeing it. A command calls this on its large
/// values (the spec of a thousand hosts, the state's inventory and cache, the PKI) right before
/// it returns: freeing their many small allocations one by one costs milliseconds that the exit
/// spends at once. Only for values whose drop frees memory or closes descriptors, which the exit
/// does as well (the state's lock is released when its descriptor closes).
pub(crate) fn free_at_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Reads, layers and validates the spec; prints its warnings.
pub(crate) fn load(args: &SpecArgs) -> Result<Loaded, Error> {
    let (source, dir) = read_spec(&args.file)?;
    match spec::load(source, &dir) {
        Ok(loaded) => {
            print_diagnostics(&loaded.warnings);
            Ok(loaded)
        }
        Err(diagnostics) => Err(Error::Spec(diagnostics)),
    }
}

/// Reads the spec at `file` (`-`: stdin); returns it with the directory its relative paths
/// start from.
pub(crate) fn read_spec(file: &Path) -> Result<(Source, PathBuf), Error> {
    if file == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| Error::Read {
                path: file.to_owned(),
                source,
            })?;
        let source = Source {
            name: "<stdin>".into(),
            text,
        };
        return Ok((source, PathBuf::from(".")));
    }
    let text = std::fs::read_to_string(file).map_err(|source| Error::Read {
        path: file.to_owned(),
        source,
    })?;
    let dir = file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let source = Source {
        name: file.display().to_string(),
        text,
    };
    Ok((source, dir))
}

/// Prints each diagnostic (warnings of a spec that loaded) to stderr.
pub(crate) fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        crate::say_raw!("{diagnostic}");
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the run quietly.
pub(crate) fn print(text: &str) -> Result<ExitStatus, Error> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitStatus::Success),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(ExitStatus::Success),
        Err(error) => Err(Error::Write(error)),
    }
}
