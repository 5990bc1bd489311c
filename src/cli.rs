//! The command line: clap definitions and the thin layer that turns them into calls.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, ExitStatus};
use crate::init::{InitOptions, starter_spec};
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
