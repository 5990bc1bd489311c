//! The command line: clap definitions and the thin layer that turns them into calls.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::bundle;
use crate::cluster::{Cluster, Host};
use crate::error::{Error, ExitStatus};
use crate::init::{InitOptions, starter_spec};
use crate::pki::{self, IssueOptions, store::StateDir};
use crate::render;
use crate::spec::{self, Diagnostic, Loaded, PROFILES, Source};

/// Compiles one Kubernetes cluster spec into every file each host of the cluster needs.
#[derive(Debug, Parser)]
#[command(name = "kcompile", version, about, long_about = None)]
#[command(after_help = "\
Examples:
  kcompile init --control-planes 3 --workers 2 > cluster.yaml
  kcompile validate -f cluster.yaml
  kcompile validate -f cluster.yaml --show-resolved")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print an annotated starter spec that validates.
    #[command(after_help = "\
Examples:
  kcompile init > cluster.yaml
  kcompile init --profile hardened --control-planes 3 --workers 2 > cluster.yaml
  kcompile init | kcompile validate -f -")]
    Init(InitArgs),
    /// Check a spec and report every problem at its line and column.
    #[command(after_help = "\
Examples:
  kcompile validate                         # ./cluster.yaml
  kcompile validate -f examples/ha-3-masters.yaml --show-resolved
  cat cluster.yaml | kcompile validate -f -

Exit status: 0 valid (warnings may be printed), 2 invalid.")]
    Validate(ValidateArgs),
    /// Compile host bundles: issue or reuse the PKI in the state dir, render each host's files.
    #[command(after_help = "\
Examples:
  kcompile build --host master01 > master01.tar    # one host, as a tar on stdout
  kcompile build --host master01 --out /srv/master01
  kcompile build --all --out out/                  # out/<host>/ for every host
  kcompile build --all --out out/ --format tar     # out/<host>.tar
  kcompile build --all --out out/ --renew-within 30d

The first build creates the state dir (CAs, keys, certificates, secrets); later builds reuse it and
change only what the spec changed.")]
    Build(BuildArgs),
    /// Show when each certificate expires; `certs renew` reissues them.
    #[command(args_conflicts_with_subcommands = true)]
    #[command(after_help = "\
Examples:
  kcompile certs                            # the state dir's certificates and CAs
  kcompile certs --host master01
  kcompile certs --root /                   # what is installed on this machine
  kcompile certs renew master01/apiserver
  kcompile certs renew apiserver            # that certificate on every host
  kcompile certs renew all")]
    Certs(CertsArgs),
    /// Adopt the CAs and service-account keys of an existing kubeadm cluster.
    #[command(after_help = "\
Examples:
  kcompile import --from-pki /etc/kubernetes/pki -f cluster.yaml
  kcompile import --from-pki ./copied-pki --state prod.state

The CAs (with their keys when present; without a key a CA is external: kcompile verifies with it
but never signs) and sa.key/sa.pub are copied into the state dir. The next `kcompile build` issues
every leaf certificate from them, so the running cluster keeps trusting the new files.")]
    Import(ImportArgs),
    /// Show what a build would change on a machine: files, certificates, secrets, restarts.
    #[command(after_help = "\
Examples:
  kcompile diff --host master01                 # against this machine's /
  kcompile diff --host master01 --root /mnt/master01
  kcompile diff --host worker01 --stat
  kcompile diff --host worker01 -o json

Secrets never appear: keys, kubeconfig credentials and encryption keys show as fingerprints.
Exit status: 0 no change, 1 changes, 2 error.")]
    Diff(DiffArgs),
    /// Check one host's files as they are, without the spec or the state: certificate chains,
    /// SANs, RBAC names, the front-proxy and service-account keys, mounts, flags, expiry.
    #[command(after_help = "\
Examples:
  kcompile verify --root /                      # this machine (kcompile, kubeadm or a tutorial)
  kcompile verify --root /mnt/master01
  kcompile verify master01.tar                  # a bundle from `kcompile build`
  kcompile build --host master01 | kcompile verify -
  kcompile verify --root / --warn-within 90d

One line per finding (`error: FILE: message`, `warning: FILE: message`), then a summary.
Exit status: 0 no errors (warnings allowed), 1 errors found, 2 the input cannot be read.")]
    Verify(VerifyArgs),
    /// Rotate the service-account key, the encryption key or a CA in phases, without downtime.
    #[command(after_help = "\
Examples:
  kcompile rotate sa-key --phase 1          # the new key verifies
  kcompile rotate sa-key --phase 2          # the new key signs
  kcompile rotate sa-key --phase 3          # the old key goes
  kcompile rotate encryption-key --phase 1  # the new key can decrypt
  kcompile rotate encryption-key --phase 2  # the new key encrypts; then rewrite every secret
  kcompile rotate encryption-key --phase 3  # the old key goes
  kcompile rotate cluster-ca --phase 1      # every host trusts the old and the new CA
  kcompile rotate cluster-ca --phase 2      # the new CA signs; the build reissues its certificates
  kcompile rotate cluster-ca --phase 3      # the old CA goes (also etcd-ca, front-proxy-ca)

After each phase: kcompile build, kcompile diff, roll out every control-plane host, then the next
phase. The state dir remembers the phase; retired keys are kept under retired/ in it.")]
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// What to rotate.
    #[arg(value_enum)]
    what: RotateWhat,
    /// The phase to move to: 1, 2 or 3, one after the other.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    phase: u8,
    #[command(flatten)]
    spec: SpecArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RotateWhat {
    SaKey,
    EncryptionKey,
    ClusterCa,
    EtcdCa,
    FrontProxyCa,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The host's root: its files are under ROOT/etc/kubernetes, ROOT/var/lib/kubelet...
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "bundle",
        required_unless_present = "bundle"
    )]
    root: Option<PathBuf>,
    /// A bundle tar from `kcompile build` (`-` reads stdin).
    #[arg(value_name = "BUNDLE.tar")]
    bundle: Option<PathBuf>,
    /// Warn about certificates that expire within this time (`30d`, `720h`).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration_arg)]
    warn_within: std::time::Duration,
}

#[derive(Debug, Args)]
struct DiffArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// The host whose bundle to compare.
    #[arg(long, value_name = "HOST")]
    host: String,
    /// The machine's root (its files are under ROOT/etc/kubernetes...).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Colors: auto (when stdout is a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// One line per changed file.
    #[arg(long, conflicts_with = "name_only")]
    stat: bool,
    /// Only the paths that differ.
    #[arg(long)]
    name_only: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct CertsArgs {
    #[command(subcommand)]
    action: Option<CertsAction>,
    #[command(flatten)]
    spec: SpecArgs,
    /// Only the certificates of this host.
    #[arg(long, value_name = "HOST", conflicts_with = "root")]
    host: Option<String>,
    /// Read the certificates installed under this root (`/` on a host) instead of the state dir.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum CertsAction {
    /// Reissue leaf certificates with a new validity, keeping their keys (CAs are never renewed).
    #[command(after_help = "\
Examples:
  kcompile certs renew master01/apiserver       # one certificate
  kcompile certs renew apiserver                # that certificate on every host
  kcompile certs renew all                      # every leaf
  kcompile certs renew admin --new-key          # with a new key

Then `kcompile build` writes the renewed files; each pod that reads one restarts by itself.")]
    Renew {
        /// `all`, a certificate id (`master01/apiserver`, `admin`), or a file name (`apiserver`)
        /// for that certificate on every host.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Also give them new keys (a key rotation); dependent files change on the next build.
        #[arg(long)]
        new_key: bool,
        #[command(flatten)]
        spec: SpecArgs,
    },
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// A kubeadm PKI directory (`/etc/kubernetes/pki` or a copy of it).
    #[arg(long, value_name = "DIR")]
    from_pki: PathBuf,
    #[command(flatten)]
    spec: SpecArgs,
}

#[derive(Debug, Args)]
struct BuildArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// The host to build.
    #[arg(
        long,
        value_name = "HOST",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    host: Option<String>,
    /// Build every host (needs --out).
    #[arg(long)]
    all: bool,
    /// Write under DIR instead of a tar on stdout: the host's root for --host, DIR/<host> for --all.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With --all --out: `dir` writes DIR/<host>/, `tar` writes DIR/<host>.tar.
    #[arg(long, value_enum, default_value_t = Format::Dir)]
    format: Format,
    /// Reissue certificates that expire within this time (`30d`, `720h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    renew_within: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Dir,
    Tar,
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    spec::parse_duration(text)
        .ok_or_else(|| "write hours, minutes, seconds or days: `30d`, `720h`".to_owned())
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Profile to build on (repeatable, lowest first): kubeadm, hardened.
    #[arg(long = "profile", value_name = "PROFILE", value_parser = profile_name)]
    profiles: Vec<String>,
    /// Number of control-plane hosts (each a stacked etcd member).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=7))]
    control_planes: u8,
    /// Number of worker hosts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=200))]
    workers: u8,
    /// Cluster name.
    #[arg(long, default_value = "my-cluster")]
    name: String,
}

/// Where the spec and the state are.
#[derive(Debug, Args)]
struct SpecArgs {
    /// The cluster spec; `-` reads stdin.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "SPEC",
        default_value = "cluster.yaml"
    )]
    file: PathBuf,
    /// The state dir (CAs, keys, issued certificates, secrets). Default: `<SPEC stem>.state/`
    /// beside the spec, e.g. `cluster.state/` for `cluster.yaml`.
    #[arg(long, value_name = "DIR", env = "KCOMPILE_STATE")]
    state: Option<PathBuf>,
}

impl SpecArgs {
    /// The state dir: `--state`, or `<SPEC stem>.state` beside the spec (`./cluster.state` for stdin).
    fn state_dir(&self) -> PathBuf {
        if let Some(dir) = &self.state {
            return dir.clone();
        }
        if self.file == Path::new("-") {
            return PathBuf::from("cluster.state");
        }
        let stem = self
            .file
            .file_stem()
            .map_or("cluster".into(), |s| s.to_string_lossy());
        self.file.with_file_name(format!("{stem}.state"))
    }
}

#[derive(Debug, Args)]
struct ValidateArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// Print the spec after its profiles, each inherited value marked with where it came from.
    #[arg(long)]
    show_resolved: bool,
}

fn profile_name(name: &str) -> Result<String, String> {
    if PROFILES.iter().any(|(known, _)| *known == name) {
        Ok(name.to_owned())
    } else {
        let names: Vec<&str> = PROFILES.iter().map(|(known, _)| *known).collect();
        Err(format!(
            "unknown profile; known profiles: {}",
            names.join(", ")
        ))
    }
}

/// Runs the parsed command line; returns how the process should exit.
pub fn execute(cli: Cli) -> Result<ExitStatus, Error> {
    match cli.command {
        Command::Init(args) => init(args),
        Command::Validate(args) => validate(&args),
        Command::Build(args) => build(&args),
        Command::Certs(args) => certs(&args),
        Command::Import(args) => import(&args),
        Command::Diff(args) => diff(&args),
        Command::Verify(args) => verify(&args),
        Command::Rotate(args) => rotate(&args),
    }
}

fn init(args: InitArgs) -> Result<ExitStatus, Error> {
    let profiles = if args.profiles.is_empty() {
        spec::DEFAULT_PROFILES
            .iter()
            .map(|p| (*p).to_owned())
            .collect()
    } else {
        args.profiles
    };
    if spec::dns_subdomain_problem(&args.name).is_some() {
        return Err(Error::Usage {
            message: format!("`{}` is not a valid cluster name", args.name),
            hint: "use lower-case letters, digits and `-`, e.g. `prod-eu1`".into(),
        });
    }
    let text = starter_spec(&InitOptions {
        name: args.name,
        profiles,
        control_planes: args.control_planes,
        workers: args.workers,
    });
    print(&text)
}

fn validate(args: &ValidateArgs) -> Result<ExitStatus, Error> {
    let loaded = load(&args.spec)?;
    let state = args.spec.state_dir();
    if args.show_resolved {
        print(&loaded.resolved_yaml())?;
    } else {
        let cluster = &loaded.cluster;
        eprintln!(
            "{}: cluster `{}`, Kubernetes {}, etcd {}, {} host{}: valid (state dir {}{})",
            loaded.layered.spec_layer().source.name,
            cluster.name,
            cluster.kubernetes_version,
            cluster.etcd_version.tag,
            cluster.hosts.len(),
            if cluster.hosts.len() == 1 { "" } else { "s" },
            state.display(),
            if state.is_dir() {
                ""
            } else {
                ", not created yet"
            },
        );
    }
    Ok(ExitStatus::Success)
}

fn build(args: &BuildArgs) -> Result<ExitStatus, Error> {
    if args.all && args.out.is_none() {
        return Err(Error::Usage {
            message: "--all needs --out DIR".into(),
            hint: "`kcompile build --all --out out/` writes out/<host>/ for every host".into(),
        });
    }
    if args.out.is_none() && io::stdout().is_terminal() {
        return Err(Error::Usage {
            message: "refusing to write a tar archive to a terminal".into(),
            hint: "redirect it (`kcompile build --host H > bundle.tar`) or write a tree with `--out DIR`".into(),
        });
    }
    let loaded = load(&args.spec)?;
    let hosts: Vec<&Host> = match &args.host {
        Some(name) => vec![find_host(&loaded.cluster, name)?],
        None => loaded.cluster.hosts.iter().collect(),
    };
    let options = IssueOptions {
        renew_within: args.renew_within.unwrap_or_default(),
        ..IssueOptions::default()
    };
    let (pki, state) = issue(&loaded, &args.spec, &options)?;
    for host in hosts {
        let files = host_bundle(&loaded, &pki, host);
        match (&args.out, args.all, args.format) {
            (None, _, _) => {
                let mut stdout = io::stdout().lock();
                match bundle::tar::write(&files, &mut stdout) {
                    Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {}
                    other => other.map_err(Error::Write)?,
                }
            }
            (Some(out), false, _) => bundle::dir::write(&files, out).map_err(Error::Write)?,
            (Some(out), true, Format::Dir) => {
                bundle::dir::write(&files, &out.join(&host.name)).map_err(Error::Write)?;
            }
            (Some(out), true, Format::Tar) => {
                std::fs::create_dir_all(out).map_err(Error::Write)?;
                let mut archive = Vec::new();
                bundle::tar::write(&files, &mut archive).map_err(Error::Write)?;
                let mut single = bundle::FileSet::default();
                single.add(format!("{}.tar", host.name), archive, bundle::SECRET);
                bundle::dir::write(&single, out).map_err(Error::Write)?;
            }
        }
    }
    crate::upgrade::record(&state, loaded.cluster.kubernetes_version)
        .map_err(|e| Error::State(e.0))?;
    Ok(ExitStatus::Success)
}

/// Opens the state dir and issues or reuses the PKI; prints what it issued.
fn issue(
    loaded: &Loaded,
    args: &SpecArgs,
    options: &IssueOptions,
) -> Result<(pki::Pki, StateDir), Error> {
    let state_dir = args.state_dir();
    let state = StateDir::open(&state_dir).map_err(|e| Error::State(e.0))?;
    let target = loaded.cluster.kubernetes_version;
    if let Some(last) = crate::upgrade::last_built(&state).map_err(|e| Error::State(e.0))?
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
    let (pki, report) =
        pki::ensure(&state, &loaded.cluster, options).map_err(|e| Error::State(e.0))?;
    for (id, why) in &report.issued {
        eprintln!("issued {id} ({why})");
    }
    let total = pki.certs.len() + pki.authorities.len();
    eprintln!(
        "state {}: {} keys generated, {} certificates issued, {} reused",
        state_dir.display(),
        report.new_keys.len(),
        report.issued.len(),
        total.saturating_sub(report.issued.len()),
    );
    Ok((pki, state))
}

/// A host's files and their MANIFEST.
fn host_bundle(loaded: &Loaded, pki: &pki::Pki, host: &Host) -> bundle::FileSet {
    let mut files = render::host_files(&loaded.cluster, pki, host);
    let header = bundle::manifest::Header {
        cluster: loaded.cluster.name.clone(),
        host: host.name.clone(),
        kubernetes: loaded.cluster.kubernetes_version.to_string(),
        spec_sha256: loaded.spec_sha256(),
    };
    bundle::manifest::add(&mut files, &header);
    files
}

fn diff(args: &DiffArgs) -> Result<ExitStatus, Error> {
    let loaded = load(&args.spec)?;
    let host = find_host(&loaded.cluster, &args.host)?;
    // diff compiles from the PKI a build made; it never starts a new one in the wrong place.
    let state_dir = args.spec.state_dir();
    if !state_dir.is_dir() {
        return Err(Error::Usage {
            message: format!("there is no state dir `{}`", state_dir.display()),
            hint: "run `kcompile build` first, or name the state dir with --state".into(),
        });
    }
    let (pki, _) = issue(&loaded, &args.spec, &IssueOptions::default())?;
    let files = host_bundle(&loaded, &pki, host);
    let report = crate::diff::compare(&host.name, &files, &args.root).map_err(Error::Input)?;
    let format = match args.output {
        OutputFormat::Json => crate::diff::Format::Json,
        OutputFormat::Text => crate::diff::Format::Text {
            style: if args.stat {
                crate::diff::Style::Stat
            } else if args.name_only {
                crate::diff::Style::NameOnly
            } else {
                crate::diff::Style::Full
            },
            color: match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => io::stdout().is_terminal(),
            },
        },
    };
    print(&report.render(format))?;
    Ok(if report.has_changes() {
        ExitStatus::Differences
    } else {
        ExitStatus::Success
    })
}

fn rotate(args: &RotateArgs) -> Result<ExitStatus, Error> {
    let loaded = load(&args.spec)?;
    let what = match args.what {
        RotateWhat::SaKey => pki::rotation::Rotated::ServiceAccountKey,
        RotateWhat::EncryptionKey => pki::rotation::Rotated::EncryptionKey,
        RotateWhat::ClusterCa => pki::rotation::Rotated::Ca(pki::catalog::Authority::Cluster),
        RotateWhat::EtcdCa => pki::rotation::Rotated::Ca(pki::catalog::Authority::Etcd),
        RotateWhat::FrontProxyCa => pki::rotation::Rotated::Ca(pki::catalog::Authority::FrontProxy),
    };
    if what == pki::rotation::Rotated::EncryptionKey && loaded.cluster.encryption.is_none() {
        return Err(Error::Usage {
            message: "encryption at rest is off, so there is no key to rotate".into(),
            hint: "set `encryption.enabled: true`".into(),
        });
    }
    // The PKI must exist before one of its keys can be rotated.
    let (_, state) = issue(&loaded, &args.spec, &IssueOptions::default())?;
    let next = pki::rotation::advance(&state, what, args.phase, &loaded.cluster.pki)
        .map_err(|e| Error::State(e.0))?;
    eprintln!("{next}");
    Ok(ExitStatus::Success)
}

fn verify(args: &VerifyArgs) -> Result<ExitStatus, Error> {
    let input = match (&args.root, &args.bundle) {
        (Some(root), _) => crate::verify::Input::Root(root.clone()),
        (None, Some(bundle)) => crate::verify::Input::Tar(bundle.clone()),
        (None, None) => {
            return Err(Error::Usage {
                message: "nothing to verify".into(),
                hint: "name a root (`--root /`) or a bundle tar".into(),
            });
        }
    };
    let options = crate::verify::Options {
        warn_within: args.warn_within,
        now: time::OffsetDateTime::now_utc(),
    };
    let report = crate::verify::run(&input, &options).map_err(|unreadable| Error::Usage {
        message: unreadable.message,
        hint: unreadable.hint,
    })?;
    print(&report.render())?;
    Ok(if report.count(crate::verify::Severity::Error) > 0 {
        ExitStatus::Differences
    } else {
        ExitStatus::Success
    })
}

fn certs(args: &CertsArgs) -> Result<ExitStatus, Error> {
    if let Some(CertsAction::Renew {
        names,
        new_key,
        spec,
    }) = &args.action
    {
        return renew(names, *new_key, spec);
    }
    let (certs, authorities) = match &args.root {
        Some(root) => pki::expiry::root_rows(root).map_err(Error::State)?,
        None => {
            let loaded = load(&args.spec)?;
            let cluster = &loaded.cluster;
            let state_dir = args.spec.state_dir();
            if !state_dir.is_dir() {
                return Err(Error::Usage {
                    message: format!("there is no state dir `{}` yet", state_dir.display()),
                    hint: "`kcompile build` creates it; name another with --state".into(),
                });
            }
            let mut leaves = pki::catalog::catalog(cluster);
            if let Some(name) = &args.host {
                let host = find_host(cluster, name)?;
                leaves.retain(|leaf| match &leaf.host {
                    Some(owner) => owner == name,
                    None => host.has(crate::spec::Role::ControlPlane),
                });
            }
            let state = StateDir::open(&state_dir).map_err(|e| Error::State(e.0))?;
            pki::expiry::state_rows(&state, &leaves).map_err(|e| Error::State(e.0))?
        }
    };
    print(&pki::expiry::render(
        &certs,
        &authorities,
        time::OffsetDateTime::now_utc(),
    ))
}

fn renew(names: &[String], new_key: bool, args: &SpecArgs) -> Result<ExitStatus, Error> {
    let loaded = load(args)?;
    let cluster = &loaded.cluster;
    let leaves = pki::catalog::catalog(cluster);
    let mut ids = Vec::new();
    for name in names {
        let matching: Vec<String> = leaves
            .iter()
            .filter(|leaf| name == "all" || leaf.id == *name || leaf.file == *name)
            .map(|leaf| leaf.id.clone())
            .collect();
        if matching.is_empty() {
            let known: Vec<&str> = leaves.iter().map(|leaf| leaf.id.as_str()).collect();
            let hint = match crate::versions::closest(name, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? (`kcompile certs` lists them)"),
                None => "`kcompile certs` lists the certificates; CAs are never renewed".into(),
            };
            return Err(Error::Usage {
                message: format!("no certificate `{name}`"),
                hint,
            });
        }
        ids.extend(matching);
    }
    let state = StateDir::open(&args.state_dir()).map_err(|e| Error::State(e.0))?;
    let options = IssueOptions {
        renew_within: std::time::Duration::ZERO,
        rotate_keys: if new_key { ids.clone() } else { Vec::new() },
        renew: ids,
    };
    let (_, report) = pki::ensure(&state, cluster, &options).map_err(|e| Error::State(e.0))?;
    for (id, why) in &report.issued {
        eprintln!("issued {id} ({why})");
    }
    eprintln!(
        "renewed {} certificates; `kcompile build` writes them into the bundles",
        report.issued.len()
    );
    Ok(ExitStatus::Success)
}

fn import(args: &ImportArgs) -> Result<ExitStatus, Error> {
    let state_dir = args.spec.state_dir();
    let state = StateDir::open(&state_dir).map_err(|e| Error::State(e.0))?;
    let imported = pki::import::from_pki(&state, &args.from_pki).map_err(|e| Error::State(e.0))?;
    for file in &imported.adopted {
        eprintln!("adopted {file}");
    }
    eprintln!(
        "state {}: {} files adopted, {} already there",
        state_dir.display(),
        imported.adopted.len(),
        imported.unchanged.len()
    );
    Ok(ExitStatus::Success)
}

fn find_host<'c>(cluster: &'c Cluster, name: &str) -> Result<&'c Host, Error> {
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

/// Reads, layers and validates the spec; prints its warnings.
fn load(args: &SpecArgs) -> Result<Loaded, Error> {
    let (source, dir) = read_spec(&args.file)?;
    match spec::load(source, &dir) {
        Ok(loaded) => {
            print_diagnostics(&loaded.warnings);
            Ok(loaded)
        }
        Err(diagnostics) => Err(Error::Spec(diagnostics)),
    }
}

fn read_spec(file: &Path) -> Result<(Source, PathBuf), Error> {
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

fn print_diagnostics(diagnostics: &[Diagnostic]) {
    let mut stderr = io::stderr().lock();
    for diagnostic in diagnostics {
        let _ = write!(stderr, "{diagnostic}");
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the run quietly.
fn print(text: &str) -> Result<ExitStatus, Error> {
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
