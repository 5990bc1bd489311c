//! Why the PKI stage cannot plan, issue, rotate or import material: one variant per cause, each
//! message saying what, where and what to do.

use std::path::PathBuf;

use super::inspect::{CertificateError, ExternalMismatch};
use super::keys::KeyError;
use crate::state::StateError;

/// A PKI problem: a state item that is not what it should be, a refusal, or a failure to make
/// material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The state dir cannot be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// A certificate (in the state dir or a directory to import) that does not parse.
    #[error("`{path}`: {source}")]
    Certificate {
        /// The file.
        path: String,
        /// Why.
        source: CertificateError,
    },
    /// A key (in the state dir or a directory to import) that does not parse.
    #[error("`{path}`: {source}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        source: KeyError,
    },
    /// A new key could not be made.
    #[error("{0}")]
    Generate(KeyError),
    /// A CA's certificate without the CA flag.
    #[error("`{path}` is not a CA certificate")]
    NotACa {
        /// The file.
        path: String,
    },
    /// A CA key that is not its certificate's.
    #[error("`{key}` is not the key of `{cert}`")]
    KeyMismatch {
        /// The key file.
        key: String,
        /// The certificate file.
        cert: String,
    },
    /// A leaf of an external CA that is missing: kcompile cannot issue it.
    #[error(
        "`{cert}` and its key are missing, and `{ca}` has no key to issue them (external CA mode): issue them with your CA and put them in the state dir"
    )]
    ExternalLeafMissing {
        /// The leaf's certificate file.
        cert: String,
        /// The CA's certificate file.
        ca: String,
    },
    /// A leaf of an external CA that cannot be used as it is.
    #[error(
        "`{cert}`: {problem}; `{ca}` has no key in the state dir (external CA mode), so kcompile cannot reissue it"
    )]
    ExternalLeafUnusable {
        /// The leaf's certificate file.
        cert: String,
        /// The CA's certificate file.
        ca: String,
        /// What is wrong with it.
        problem: ExternalLeafProblem,
    },
    /// The system gave no randomness for a serial number.
    #[error("no randomness for a serial number: {0}")]
    NoSerial(getrandom::Error),
    /// The system gave no randomness for a secret.
    #[error("no randomness: {0}")]
    NoRandomness(getrandom::Error),
    /// A CA certificate could not be self-signed.
    #[error("cannot self-sign {authority}: {source}")]
    SelfSign {
        /// The CA's file name (`etcd/ca`).
        authority: &'static str,
        /// Why.
        source: rcgen::Error,
    },
    /// A CA cannot be used to sign.
    #[error("cannot use CA {authority} to sign: {source}")]
    Issuer {
        /// The CA's file name.
        authority: &'static str,
        /// Why.
        source: rcgen::Error,
    },
    /// A leaf could not be signed.
    #[error("cannot sign {id}: {source}")]
    Sign {
        /// The leaf's id (`master01/apiserver`).
        id: String,
        /// Why.
        source: rcgen::Error,
    },
    /// An IP SAN that is not an address.
    #[error("bad IP SAN `{0}`")]
    IpSan(String),
    /// A DNS SAN rcgen refuses.
    #[error("bad DNS SAN `{0}`")]
    DnsSan(String),
    /// A generated secret in the state that its consumer would refuse.
    #[error(
        "`{path}` {problem}; kcompile will not render a secret its consumer refuses: restore the file from a backup of the state dir"
    )]
    DamagedSecret {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A retired bootstrap token that does not parse.
    #[error("`{path}` {problem}")]
    DamagedRetiredToken {
        /// The retired copy.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A token TTL past what a date can hold.
    #[error("the token TTL is too long")]
    TokenTtl,
    /// A rotation in progress whose incoming key is missing.
    #[error("a {rotation} rotation is in progress but `{path}` is missing")]
    RotationKeyMissing {
        /// `sa-key`, `encryption-key`, a CA.
        rotation: String,
        /// The incoming key's file.
        path: String,
    },
    /// An incoming encryption key of the wrong shape.
    #[error("`{path}` {problem}; restore it from a backup of the state dir")]
    RotationKeyDamaged {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A rotation phase asked out of order.
    #[error("the {rotation} rotation is at phase {current}; the next phase is {next}")]
    PhaseOrder {
        /// The rotation.
        rotation: &'static str,
        /// Its phase now.
        current: u8,
        /// The only phase that may come next.
        next: u8,
    },
    /// A rotation phase asked before the previous one was built everywhere.
    #[error(
        "phase {current} of the {rotation} rotation has not been built for {} yet: run `kcompile build` for {} and roll the files out before phase {asked}",
        waiting.join(", "),
        if waiting.len() == 1 { "it" } else { "them" }
    )]
    PhaseNotBuilt {
        /// The rotation.
        rotation: &'static str,
        /// Its phase now.
        current: u8,
        /// The phase asked for.
        asked: u8,
        /// The hosts not built since the current phase.
        waiting: Vec<String>,
    },
    /// Phase 3 without `--acknowledge`.
    #[error(
        "phase 3 drops the old {what} for good. First: {precondition}. Then run again with --acknowledge"
    )]
    Unacknowledged {
        /// `CA` or `key`.
        what: &'static str,
        /// What must hold first.
        precondition: String,
    },
    /// A rotation of a CA whose key is not in the state dir.
    #[error(
        "{authority} is external (its key is not in the state dir): rotate it with the tools that hold its key"
    )]
    ExternalRotation {
        /// The CA.
        authority: String,
    },
    /// `import` of a directory without `ca.crt`.
    #[error(
        "`{}` has no ca.crt: name a kubeadm PKI directory such as /etc/kubernetes/pki",
        dir.display()
    )]
    NotAPkiDir {
        /// The directory.
        dir: PathBuf,
    },
    /// `import` of a file that is not text.
    #[error("`{}` is not text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// `import` of material that would replace different material in the state.
    #[error(
        "the state already holds a different `{path}`; importing would orphan every certificate issued from it (use an empty --state)"
    )]
    ImportConflict {
        /// The state item.
        path: String,
    },
}

/// What is wrong with a leaf of an external CA.
#[derive(Debug, thiserror::Error)]
pub enum ExternalLeafProblem {
    /// It does not parse.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// It does not fit its key, its CA or its names.
    #[error(transparent)]
    Mismatch(#[from] ExternalMismatch),
}
