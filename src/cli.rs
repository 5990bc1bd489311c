//! The command line: clap definitions and the thin layer that turns them into calls.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::duration::{MAX_DURATION, parse_duration};
use crate::error::FlagValueError;
use crate::pki;
use crate::spec::PROFILES;

/// `kcompile --version`: the crate version and what it compiles for.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nKubernetes v1.33 to v1.37 (default v1.37.1); etcd 3.5.24 and newer, pinned per release as kubeadm pins it"
);

/// Compiles one Kubernetes cluster spec into every file each host of the cluster needs.
#[derive(Debug, Parser)]
#[command(name = "kcompile", version, long_version = LONG_VERSION, about, long_about = None)]
#[command(after_help = "\
Examples:
  kcompile init --control-planes 3 --workers 2 > cluster.yaml
  kcompile validate -f cluster.yaml
  kcompile validate -f cluster.yaml --show-resolved")]
pub struct Cli {
    /// The subcommand, which `cmd::execute` runs.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
  kcompile build --host node01 --format cloud-init > user-data   # or --format ignition
  kcompile build --all --out out/ --renew-within 30d
  kcompile build --all --dry-run                   # what would be generated, issued, reused

The first build creates the state dir (CAs, keys, certificates, secrets) and says so; later builds
reuse it and change only what the spec changed. A recorded item that is missing or damaged stops
the build: nothing is ever regenerated to fill a gap.")]
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
  kcompile certs renew all
  kcompile certs --root / --warn-within 30d -o json   # exit 1 if anything expires within 30 days")]
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
    /// Take over a running kubeadm cluster: write its spec and state from copies of its hosts'
    /// files, keeping every CA, key and valid certificate, and list what a build still changes.
    #[command(after_help = "\
Examples:
  kcompile adopt --roots fetched/ -f cluster.yaml          # fetched/<host>/ is each host's root
  kcompile adopt --roots fetched/ -f cluster.yaml -o json

Fetch each host's /etc/kubernetes, /var/lib/kubelet and kubelet unit and drop-ins to DIR/<host>/
first (Ansible's `fetch`, rsync). The spec is written to -f (never over an existing file), the state
to a new state dir. Every change a build would still make is listed with its reason; anything the
spec cannot express is an error or a warning naming the file.")]
    Adopt(AdoptArgs),
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
    /// Order a build's rollout over the whole cluster: per host what changes and restarts, in
    /// waves (etcd members, apiservers, controller-managers and schedulers, kubelets and
    /// kube-proxies), with the commands before and after each wave.
    #[command(after_help = "\
Examples:
  kcompile plan                             # against each host's last build the state records
  kcompile plan --roots fetched/            # fetched/<host>/ is each host's root
  kcompile plan --roots out/ -o json        # against the previous build's --out tree

The state keeps no built bundles, so --roots is required: fetch each host's /etc/kubernetes,
/etc/systemd/system/kubelet.service and /var/lib/kubelet to DIR/<host>/ (Ansible's `fetch`), and
create an empty DIR/<host>/ for a host that is new. Nothing is written.
Exit status: 0 nothing to roll out, 1 waves to roll out, 2 error.")]
    Plan(PlanArgs),
    /// Check one host's files as they are, without the spec or the state: certificate chains,
    /// SANs, RBAC names, the front-proxy and service-account keys, mounts, flags, expiry.
    #[command(after_help = "\
Examples:
  kcompile verify --root /                      # this machine (kcompile, kubeadm or a tutorial)
  kcompile verify --root /mnt/master01
  kcompile verify master01.tar                  # a bundle from `kcompile build`
  kcompile build --host master01 | kcompile verify -
  kcompile verify --root / --warn-within 90d
  kcompile verify --root / -o json

One line per finding (`error: FILE: message`, `warning: FILE: message`), then a summary.
Exit status: 0 no errors (warnings allowed), 1 errors found, 2 the input cannot be read.")]
    Verify(VerifyArgs),
    /// List every image each host runs, after `imageRepository`: to pre-pull or fill a mirror.
    #[command(after_help = "\
Examples:
  kcompile images                               # every host's images, one per line
  kcompile images --host master01 | xargs -n1 crictl pull
  kcompile images -o json                       # per host, with the public image each mirrored one copies

The control-plane images, etcd, kube-proxy, the load balancer's and the pause image, as the
rendered pods and the runtime's sandbox use them. Needs no state dir.")]
    Images(ImagesArgs),
    /// Check this machine before rollout, as kubeadm's preflight does, against its host's bundle.
    #[command(after_help = "\
Examples:
  kcompile preflight --host master01                 # this machine (root /)
  kcompile preflight --host master01 --root /mnt/master01
  kcompile preflight --host worker01 -o json

Swap, IP forwarding and kernel modules, cgroup v2 and the cgroup driver, the runtime socket, the
ports the host's components bind, the kubelet's version, the host name and address, a
systemd-resolved stub resolver, a leftover kubeadm kubelet drop-in. One line per finding.
Exit status: 0 no errors (warnings allowed), 1 errors found, 2 bad input.")]
    Preflight(PreflightArgs),
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
  kcompile rotate cluster-ca --phase 3 --acknowledge  # the old CA goes (also etcd-ca, front-proxy-ca)
  kcompile rotate status                    # where each rotation stands

After each phase: kcompile build, kcompile diff, roll out every host the phase changes, then the
next phase; a phase is refused until the previous one has been built for every such host. Phase 3
drops old material and says what must be true first; it needs --acknowledge. The state dir
remembers the phase; retired keys are kept under retired/ in it.")]
    Rotate(RotateArgs),
    /// Inspect the state dir: what it holds, whether every recorded item is intact; record an old
    /// state dir that has no inventory yet.
    #[command(after_help = "\
Examples:
  kcompile state list                       # every recorded item: kind, path, fingerprint, since
  kcompile state list -o json
  kcompile state check                      # every item present, unchanged and usable
  kcompile state record --state old.state   # a state dir made before kcompile kept an inventory
  mv cluster.state/pki/ca.key /offline/ && kcompile state forget pki/ca.key   # external CA

Exit status: 0 intact, 2 a recorded item is missing or damaged (the message names it).")]
    State(StateArgs),
    /// Show the etcd members the state records, and confirm a membership step you ran.
    #[command(after_help = "\
Examples:
  kcompile etcd status                      # each member, its status, the steps still to run
  kcompile etcd joined master04             # after `etcdctl member add` and `member promote`
  kcompile etcd removed master03            # after `etcdctl member remove`
  kcompile etcd replace master02            # master02 lost its data: remove it, then re-add it

A build prints the exact etcdctl steps of a membership change (adding or removing a host with the
`etcd` role); each step is confirmed here once it ran, so a half-done change stays visible.
Exit status: 0 done, 2 the step does not fit the record (the message says why).")]
    Etcd(EtcdArgs),
    /// Issue a fresh bootstrap token for workers that join later (TLS bootstrap); list tokens.
    #[command(after_help = "\
Examples:
  kcompile token create                     # expires in 24 hours, as kubeadm's
  kcompile token create --ttl 2h
  kcompile token list

The token is recorded in the state dir (the one before it is retired under retired/); its secret is
never printed: it goes only into addons/bootstrap.yaml and the workers' bootstrap-kubelet.conf.
Then rebuild: `kcompile build --all --out out/`, apply addons/bootstrap.yaml, start the workers.")]
    Token(TokenArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  kcompile completions bash > /etc/bash_completion.d/kcompile
  kcompile completions zsh > \"${fpath[1]}/_kcompile\"
  kcompile completions fish > ~/.config/fish/completions/kcompile.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "\
Examples:
  kcompile man > /usr/local/share/man/man1/kcompile.1
  kcompile man | man -l -")]
    Man,
}

#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    #[command(subcommand)]
    pub(crate) action: StateAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum StateAction {
    /// Every recorded item: kind, path, fingerprint and when it was recorded.
    List {
        #[command(flatten)]
        spec: SpecArgs,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Check that every recorded item is present, unchanged, private and usable (keys parse,
    /// secrets have their shape).
    Check {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Record every item a state dir holds in a new inventory (a state made by an older
    /// kcompile). If the inventory was lost instead, restore it from a backup.
    Record {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Drop the record of items already moved out of the state dir on purpose: a CA key kept
    /// offline (external-CA mode), or a leaf lost with no backup (the next build issues anew).
    Forget {
        /// Paths as `kcompile state list` shows them (`pki/ca.key`).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
        #[command(flatten)]
        spec: SpecArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    pub(crate) action: TokenAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenAction {
    /// Make a new token, the one the next build gives the workers; the current one is retired.
    Create {
        /// How long it is valid (`24h`, `30m`, `7d`); `0` never expires.
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = pki::tokens::Ttl::parse)]
        ttl: pki::tokens::Ttl,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// The tokens of the state dir: id, expiry, current or retired (never the secret).
    List {
        #[command(flatten)]
        spec: SpecArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ImagesArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// Only this host's images.
    #[arg(long, value_name = "HOST")]
    pub(crate) host: Option<String>,
    /// Output format (`json`: documented in docs/operations.md, `formatVersion` 1).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct PreflightArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// The host this machine is to be.
    #[arg(long, value_name = "HOST")]
    pub(crate) host: String,
    /// The machine's root; the kubelet binary is run (for its version) only when it is `/`.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub(crate) root: PathBuf,
    /// Output format (`json`: documented in docs/operations.md, `formatVersion` 1).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct EtcdArgs {
    #[command(subcommand)]
    pub(crate) action: EtcdAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EtcdAction {
    /// The bootstrap mode, every recorded member with its status, and the steps still to run.
    Status {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Record that HOST's member joined: `etcdctl member add` ran, its etcd started and was
    /// promoted.
    Joined {
        /// The member's host.
        #[arg(value_name = "HOST")]
        host: String,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Record that HOST's member was removed with `etcdctl member remove`.
    Removed {
        /// The member's host.
        #[arg(value_name = "HOST")]
        host: String,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Mark HOST's member for removal and re-adding at the same address (its data dir was lost or
    /// its machine replaced); the next build gives it a joining member.
    Replace {
        /// The member's host.
        #[arg(value_name = "HOST")]
        host: String,
        /// Replace it even if the cluster loses quorum while it is out.
        #[arg(long)]
        allow_quorum_loss: bool,
        #[command(flatten)]
        spec: SpecArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// What to rotate, or `status` to show where each rotation stands.
    #[arg(value_enum)]
    pub(crate) what: RotateWhat,
    /// The phase to move to: 1, 2 or 3, one after the other.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub(crate) phase: Option<u8>,
    /// Confirm that what phase 3 requires is true (it drops the old key or CA for good).
    #[arg(long)]
    pub(crate) acknowledge: bool,
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RotateWhat {
    Status,
    SaKey,
    EncryptionKey,
    ClusterCa,
    EtcdCa,
    FrontProxyCa,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The host's root: its files are under ROOT/etc/kubernetes, ROOT/var/lib/kubelet...
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "bundle",
        required_unless_present = "bundle"
    )]
    pub(crate) root: Option<PathBuf>,
    /// A bundle tar from `kcompile build` (`-` reads stdin).
    #[arg(value_name = "BUNDLE.tar")]
    pub(crate) bundle: Option<PathBuf>,
    /// Warn about certificates that expire within this time (`30d`, `720h`).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration_arg)]
    pub(crate) warn_within: std::time::Duration,
    /// Output format (`json`: documented in docs/operations.md, `formatVersion` 1).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// The host whose bundle to compare.
    #[arg(long, value_name = "HOST")]
    pub(crate) host: String,
    /// The machine's root (its files are under ROOT/etc/kubernetes...).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub(crate) root: PathBuf,
    /// Colors: auto (when stdout is a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    /// One line per changed file.
    #[arg(long, conflicts_with = "name_only")]
    pub(crate) stat: bool,
    /// Only the paths that differ.
    #[arg(long)]
    pub(crate) name_only: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// Where the hosts' current files are: DIR/<host>/ is that host's root. Without it each host
    /// is compared with its last build as the state records it.
    #[arg(long, value_name = "DIR")]
    pub(crate) roots: Option<PathBuf>,
    /// Output format (`json`: documented in docs/operations.md, `formatVersion` 1).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct CertsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<CertsAction>,
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// Only the certificates of this host.
    #[arg(long, value_name = "HOST", conflicts_with = "root")]
    pub(crate) host: Option<String>,
    /// Read the certificates installed under this root (`/` on a host) instead of the state dir.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// Exit 1 when a certificate or CA expires within this time (`30d`), for monitoring.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub(crate) warn_within: Option<std::time::Duration>,
    /// Output format (`json`: documented in docs/operations.md, `formatVersion` 1).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertsAction {
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
pub(crate) struct ImportArgs {
    /// A kubeadm PKI directory (`/etc/kubernetes/pki` or a copy of it).
    #[arg(long, value_name = "DIR")]
    pub(crate) from_pki: PathBuf,
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
}

#[derive(Debug, Args)]
pub(crate) struct AdoptArgs {
    /// One folder per host, named after it, holding a copy of the host's files.
    #[arg(long, value_name = "DIR")]
    pub(crate) roots: PathBuf,
    /// The Kubernetes release the hosts' binaries run (`v1.33.4`), for a tutorial-style cluster
    /// whose control plane runs from systemd units: a copy of its files cannot tell.
    #[arg(long, value_name = "VERSION")]
    pub(crate) kubernetes_version: Option<String>,
    /// Output format (`json`: the changes a build would still make, `formatVersion` 1).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// The host to build.
    #[arg(
        long,
        value_name = "HOST",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub(crate) host: Option<String>,
    /// Build every host (needs --out, or --dry-run).
    #[arg(long)]
    pub(crate) all: bool,
    /// Write under DIR instead of a tar on stdout: the host's root for --host, DIR/<host> for --all.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// With --all --out: `dir` writes DIR/<host>/, `tar` writes DIR/<host>.tar. With --host
    /// and no --out: `cloud-init` prints a #cloud-config, `ignition` an Ignition 3.4.0 config,
    /// instead of a tar.
    #[arg(long, value_enum, default_value_t = Format::Dir)]
    pub(crate) format: Format,
    /// Reissue certificates that expire within this time (`30d`, `720h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub(crate) renew_within: Option<std::time::Duration>,
    /// Show what the build would generate, issue and reuse; write nothing (not even the state).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Record an etcd membership change even if a step of it loses quorum.
    #[arg(long)]
    pub(crate) allow_quorum_loss: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Dir,
    Tar,
    CloudInit,
    Ignition,
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, FlagValueError> {
    match parse_duration(text) {
        Some(duration) if duration <= MAX_DURATION => Ok(duration),
        Some(_) => Err(FlagValueError::DurationTooLong),
        None => Err(FlagValueError::NotADuration),
    }
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Profile to build on (repeatable, lowest first): kubeadm, hardened.
    #[arg(long = "profile", value_name = "PROFILE", value_parser = profile_name)]
    pub(crate) profiles: Vec<String>,
    /// Number of control-plane hosts (each a stacked etcd member).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=7))]
    pub(crate) control_planes: u8,
    /// Number of worker hosts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=200))]
    pub(crate) workers: u8,
    /// Cluster name.
    #[arg(long, default_value = "my-cluster")]
    pub(crate) name: String,
}

/// Where the spec and the state are.
#[derive(Debug, Args)]
pub(crate) struct SpecArgs {
    /// The cluster spec; `-` reads stdin.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "SPEC",
        default_value = "cluster.yaml"
    )]
    pub(crate) file: PathBuf,
    /// The state dir (CAs, keys, issued certificates, secrets). Default: `<SPEC stem>.state/`
    /// beside the spec, e.g. `cluster.state/` for `cluster.yaml`.
    #[arg(long, value_name = "DIR", env = "KCOMPILE_STATE")]
    pub(crate) state: Option<PathBuf>,
}

impl SpecArgs {
    /// The state dir: `--state`, or `<SPEC stem>.state` beside the spec (`./cluster.state` for stdin).
    pub(crate) fn state_dir(&self) -> PathBuf {
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
pub(crate) struct ValidateArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// Print the spec after its profiles, each inherited value marked with where it came from.
    #[arg(long)]
    pub(crate) show_resolved: bool,
}

fn profile_name(name: &str) -> Result<String, FlagValueError> {
    if PROFILES.iter().any(|(known, _)| *known == name) {
        Ok(name.to_owned())
    } else {
        Err(FlagValueError::UnknownProfile(
            PROFILES.iter().map(|(known, _)| *known).collect(),
        ))
    }
}
