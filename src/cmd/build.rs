//! `kcompile build`: plans and commits the PKI and the etcd membership, renders each host's
//! bundle and writes it (a tar on stdout, a cloud-init or Ignition document, or trees under `--out`).

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::bundle::{self, inputs::HostDigest};
use crate::cli::{BuildArgs, Format};
use crate::cluster::{Cluster, Host};
use crate::error::{Error, ExitStatus};
use crate::etcd_membership::{Membership, Quorum};
use crate::pki::{self, HostScope, IssueOptions};
use crate::render;
use crate::state::{Changes, State};

use super::{
    Loaded, Purpose, commit, find_host, free_at_exit, host_bundle, load, open_state_for_run,
    plan_build, print, report_members, report_plan,
};

/// Runs `kcompile build`.
pub(crate) fn run(args: &BuildArgs) -> Result<ExitStatus, Error> {
    if args.all && args.out.is_none() && !args.dry_run {
        return Err(Error::Usage {
            message: "--all needs --out DIR".into(),
            hint: "`kcompile build --all --out out/` writes out/<host>/ for every host".into(),
        });
    }
    let document = matches!(args.format, Format::CloudInit | Format::Ignition);
    if document && (args.out.is_some() || args.all) {
        return Err(Error::Usage {
            message: "--format cloud-init|ignition writes one host's document on stdout".into(),
            hint: "`kcompile build --host H --format cloud-init > user-data`".into(),
        });
    }
    if args.out.is_none() && !args.dry_run && io::stdout().is_terminal() {
        return Err(Error::Usage {
            message: if document {
                "refusing to write a host's keys to a terminal".into()
            } else {
                "refusing to write a tar archive to a terminal".into()
            },
            hint: "redirect it (`kcompile build --host H > bundle.tar`) or write a tree with `--out DIR`".into(),
        });
    }
    let loaded = load(&args.spec)?;
    let hosts: Vec<&Host> = match &args.host {
        Some(name) => vec![find_host(&loaded.cluster, name)?],
        None => loaded.cluster.hosts.iter().collect(),
    };
    if let Some(out) = &args.out {
        check_state_outside(&args.spec.state_dir(), out)?;
        if out.exists() && !out.is_dir() {
            return Err(Error::Usage {
                message: format!("--out `{}` is not a directory", out.display()),
                hint: "name a directory (it is created if missing); `> FILE.tar` writes one host's tar".into(),
            });
        }
    }
    let options = IssueOptions {
        renew_within: args.renew_within.unwrap_or_default(),
        hosts: match &args.host {
            Some(name) => HostScope::Only([name.clone()].into()),
            None => HostScope::All,
        },
        ..IssueOptions::default()
    };
    let quorum = if args.allow_quorum_loss {
        Quorum::AllowLoss
    } else {
        Quorum::Keep
    };
    if args.dry_run {
        let state = open_state_for_run(&args.spec, Purpose::Preview)?;
        let (pki, plan, members, _) = plan_build(&loaded, &state, &options, quorum)?;
        report_plan(&state, &pki, &plan, true);
        report_members(&loaded.cluster, &members);
        return Ok(ExitStatus::Success);
    }
    let mut state = open_state_for_run(&args.spec, Purpose::Create)?;
    // Each built host's MANIFEST, recorded with the built version below.
    let mut manifests: Vec<(&str, Vec<u8>)> = Vec::new();
    // A warm `build --all --out` in trees: the hosts whose trees are current with their leaves as
    // the state holds them are neither planned, rendered nor written.
    let mut options = options;
    let mut reused_unplanned = 0;
    // The cluster-wide plan of a warm build, which is the whole plan when every host is current.
    let mut cluster_wide = None;
    let outdated: Vec<&Host> = match (&args.out, args.all, args.format) {
        (Some(out), true, Format::Dir) => {
            let warm = current_hosts(&loaded, &state, &options, quorum, out, &hosts)?;
            for (host, manifest, leaves) in warm.current {
                manifests.push((host, manifest));
                reused_unplanned += leaves;
            }
            options.hosts =
                HostScope::Only(warm.outdated.iter().map(|host| host.name.clone()).collect());
            if warm.outdated.is_empty() {
                cluster_wide = warm.cluster_wide;
            }
            warm.outdated
        }
        _ => hosts.clone(),
    };
    let (pki, mut plan, members, changes) = match cluster_wide {
        Some(planned) => planned,
        None => plan_build(&loaded, &state, &options, quorum)?,
    };
    plan.reused_unplanned = reused_unplanned;
    commit(&mut state, changes)?;
    report_plan(&state, &pki, &plan, false);
    report_members(&loaded.cluster, &members);
    warn_expired_token(&loaded.cluster, &pki);
    let inputs =
        bundle::inputs::ClusterInputs::new(&loaded.cluster, &loaded.spec_sha256(), &pki, &members);
    if let (Some(out), true) = (&args.out, args.all) {
        // Rendered in parallel (pure), written on this thread a chunk of hosts at a time: two
        // syncs per chunk, and a bounded number of open directories. A tree that already holds
        // what its host's inputs render is neither rendered nor written (bundle::inputs).
        for chunk in outdated.chunks(WRITE_CHUNK) {
            // A tree that is current holds the MANIFEST a build would write: it is recorded as is.
            let checked: Vec<(&Host, HostDigest, PathBuf, Option<Vec<u8>>)> = chunk
                .par_iter()
                .map(|host| {
                    let digest = inputs.host(&pki, host);
                    let root = out.join(&host.name);
                    let current = (args.format == Format::Dir)
                        .then(|| bundle::dir::current_manifest(&root, &digest))
                        .flatten();
                    (*host, digest, root, current)
                })
                .collect();
            let mut outdated = Vec::new();
            for (host, digest, root, current) in checked {
                match current {
                    Some(manifest) => manifests.push((host.name.as_str(), manifest)),
                    None => outdated.push((host, digest, root)),
                }
            }
            let bundles: Vec<(&str, render::FileSet, PathBuf, Option<Vec<u8>>)> = outdated
                .into_par_iter()
                .map(|(host, digest, root)| {
                    let mut files = host_bundle(&loaded, &pki, &members, host);
                    let manifest = bundle::built::manifest_of(&files);
                    if args.format == Format::Tar {
                        let mut archive = Vec::new();
                        bundle::tar::write(&files, &mut archive).map_err(Error::Write)?;
                        let mut single = render::FileSet::default();
                        single.add(format!("{}.tar", host.name), archive, render::SECRET);
                        Ok((host.name.as_str(), single, out.clone(), manifest))
                    } else {
                        // `dir` (cloud-init and ignition were refused with --out above).
                        bundle::inputs::add_stamp(&mut files, &digest);
                        Ok((host.name.as_str(), files, root, manifest))
                    }
                })
                .collect::<Result<_, Error>>()?;
            let targets: Vec<(&render::FileSet, &Path)> = bundles
                .iter()
                .map(|(_, files, root, _)| (files, root.as_path()))
                .collect();
            for written in write_trees(&targets)? {
                crate::say_raw!("{written}");
            }
            for (host, _, _, manifest) in bundles {
                manifests.extend(manifest.map(|manifest| (host, manifest)));
            }
        }
    } else {
        for host in &hosts {
            let files = host_bundle(&loaded, &pki, &members, host);
            let mut manifest = bundle::built::manifest_of(&files);
            match (&args.out, args.all, args.format) {
                (None, _, format @ (Format::CloudInit | Format::Ignition)) => {
                    let document = match format {
                        Format::CloudInit => bundle::cloud_init::document(&files, &host.name),
                        _ => bundle::ignition::document(&files),
                    }
                    .map_err(|error| Error::Write(io::Error::other(error)))?;
                    for warning in &document.warnings {
                        crate::say!("warning: {warning}");
                    }
                    print(&document.text)?;
                }
                (None, _, _) => {
                    let mut stdout = io::stdout().lock();
                    match bundle::tar::write(&files, &mut stdout) {
                        // Whoever read the tar stopped early: no build of the host to record.
                        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => manifest = None,
                        other => other.map_err(Error::Write)?,
                    }
                }
                (Some(out), _, _) => {
                    let mut files = files;
                    bundle::inputs::add_stamp(&mut files, &inputs.host(&pki, host));
                    crate::say_raw!("{}", write_tree(&files, out)?);
                }
            }
            manifests.extend(manifest.map(|manifest| (host.name.as_str(), manifest)));
        }
    }
    if let Some(out) = &args.out {
        let names: Vec<&str> = hosts.iter().map(|host| host.name.as_str()).collect();
        let place = match (args.all, args.format) {
            (false, _) => format!("{}", out.display()),
            (true, Format::Tar) => format!("{}/<host>.tar", out.display()),
            (true, _) => format!("{}/<host>/", out.display()),
        };
        crate::say!(
            "wrote {} host bundle{} to {place}: {}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        );
    }
    // What was built, for the upgrade guard and the rotation guards.
    let mut transaction = state.begin();
    crate::upgrade::record(&mut transaction, loaded.cluster.kubernetes_version);
    let names: Vec<&str> = hosts.iter().map(|host| host.name.as_str()).collect();
    pki::rotation::record_build(&mut transaction, &names)?;
    for (host, manifest) in manifests {
        bundle::built::record(&mut transaction, host, manifest);
    }
    let changes = transaction.finish();
    commit(&mut state, changes)?;
    free_at_exit((loaded, pki, members, state));
    Ok(ExitStatus::Success)
}

/// A host a warm build found current: its name, the MANIFEST its tree holds, how many leaves it
/// reuses.
type Current<'c> = (&'c str, Vec<u8>, usize);

/// What a warm build found before planning any host.
struct Warm<'c> {
    /// The hosts whose trees are current.
    current: Vec<Current<'c>>,
    /// The rest, to plan, render and write.
    outdated: Vec<&'c Host>,
    /// The plan of the cluster-wide material (no host's leaves), when it changes nothing.
    cluster_wide: Option<(pki::Pki, pki::Plan, Membership, Changes)>,
}

/// Splits `hosts` into those whose trees under `out` are current and the rest, for a warm
/// `build --all --out`: the cluster-wide material is planned (with nothing to change, else every
/// host is outdated), each host's leaves are read from the state as a plan would reuse them
/// ([`pki::reuse`]), and its tree is current when its stamp is the digest of those
/// ([`bundle::dir::current_manifest`]). Nothing is staged or written.
fn current_hosts<'c>(
    loaded: &Loaded,
    state: &State,
    options: &IssueOptions,
    quorum: Quorum,
    out: &Path,
    hosts: &[&'c Host],
) -> Result<Warm<'c>, Error> {
    let everything_outdated = Warm {
        current: Vec::new(),
        outdated: hosts.to_vec(),
        cluster_wide: None,
    };
    // No tree holds a stamp (a first build into an empty --out): nothing to plan twice.
    if !hosts
        .iter()
        .any(|host| fs::symlink_metadata(out.join(&host.name).join(bundle::inputs::PATH)).is_ok())
    {
        return Ok(everything_outdated);
    }
    let cluster_wide = IssueOptions {
        hosts: HostScope::Only(BTreeSet::new()),
        ..options.clone()
    };
    let (pki, plan, members, changes) = plan_build(loaded, state, &cluster_wide, quorum)?;
    if !changes.is_empty() {
        return Ok(everything_outdated);
    }
    let inputs =
        bundle::inputs::ClusterInputs::new(&loaded.cluster, &loaded.spec_sha256(), &pki, &members);
    let by_host = pki::reuse::host_leaves(&loaded.cluster);
    let transaction = state.begin();
    pki::reuse::load(&transaction, by_host.values().flatten())?;
    let now = time::OffsetDateTime::now_utc();
    // Each host: current (`Ok`) or outdated (`Err`).
    let checked: Vec<Result<Current<'c>, &'c Host>> = hosts
        .par_iter()
        .map(|host| {
            let leaves = by_host.get(&host.name).map_or(&[][..], Vec::as_slice);
            let reusable = pki::reuse::unchanged_leaves(
                &transaction,
                &loaded.cluster,
                &pki,
                leaves,
                options,
                now,
            )?;
            let current = reusable.and_then(|issued| {
                let digest = inputs.host_with(&issued, host);
                bundle::dir::current_manifest(&out.join(&host.name), &digest)
                    .map(|manifest| (host.name.as_str(), manifest, issued.len()))
            });
            Ok(current.ok_or(*host))
        })
        .collect::<Vec<_>>()
        // In host order, so the error reported is the first host's, whatever the threads did.
        .into_iter()
        .collect::<Result<_, Error>>()?;
    let mut current = Vec::new();
    let mut outdated = Vec::new();
    for found in checked {
        match found {
            Ok(host) => current.push(host),
            Err(host) => outdated.push(host),
        }
    }
    Ok(Warm {
        current,
        outdated,
        cluster_wide: Some((pki, plan, members, changes)),
    })
}

/// How many hosts' trees `build --all --out` writes at a time.
const WRITE_CHUNK: usize = 32;

/// Writes a bundle under `root` with the directory sink; returns what to say about what it
/// wrote, pruned or left.
fn write_tree(files: &render::FileSet, root: &Path) -> Result<String, Error> {
    write_trees(&[(files, root)]).map(|mut written| written.remove(0))
}

/// Writes bundles, each under its root, with the directory sink (two syncs in all); returns what
/// to say about each.
fn write_trees(bundles: &[(&render::FileSet, &Path)]) -> Result<Vec<String>, Error> {
    match bundle::dir::write_all(bundles) {
        Ok(written) => Ok(written.iter().map(ToString::to_string).collect()),
        Err(error) if error.is_refusal() => Err(Error::Input(error.to_string())),
        Err(error) => Err(Error::Write(error.into())),
    }
}

/// Refuses a state dir inside an output tree (it would ship with a host) or an output tree
/// inside the state dir.
fn check_state_outside(state_dir: &Path, out: &Path) -> Result<(), Error> {
    let state = resolve(state_dir);
    let out = resolve(out);
    if state.starts_with(&out) || out.starts_with(&state) {
        return Err(Error::Usage {
            message: format!(
                "the state dir `{}` and the output `{}` overlap: the state's keys would ship with a bundle",
                state_dir.display(),
                out.display()
            ),
            hint: "keep the state dir outside every --out tree (`--state` names it)".into(),
        });
    }
    Ok(())
}

/// `path` made absolute with its existing part's links resolved, for comparing locations.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(real, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Warns when workers join by TLS bootstrap with a token that has expired (a build still writes
/// it: rendering has no clock, and joined workers do not need it).
fn warn_expired_token(cluster: &Cluster, pki: &pki::Pki) {
    let token = &pki.secrets.bootstrap_token;
    if cluster.hosts.iter().any(pki::catalog::joins_by_bootstrap)
        && token.expired_at(time::OffsetDateTime::now_utc())
    {
        crate::say!(
            "warning: bootstrap token {} expired at {}: workers that have not joined yet cannot; `kcompile token create` makes a fresh one",
            token.id(),
            token.expiration_text().as_deref().unwrap_or("never")
        );
    }
}
