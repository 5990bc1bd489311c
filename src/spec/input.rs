//! The files a spec names, read before validation so that validation does no I/O: `load` reads
//! them next to the spec, and validation judges what was read. Today that is `audit.policyFile`.

use std::fmt;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::types::Spec;

/// Largest audit policy file kcompile reads: real policies are a few kilobytes.
pub const MAX_POLICY_FILE: u64 = 1 << 20;

/// What the spec's named files held, each with the path it was read from.
#[derive(Debug, Default)]
pub struct NamedFiles {
    /// `audit.policyFile` (relative to the spec's directory), when audit is enabled and names one.
    pub audit_policy: Option<(PathBuf, Result<String, PolicyFileError>)>,
}

impl NamedFiles {
    /// Reads every file `spec` names that the cluster uses, relative to `spec_dir`. A file that
    /// cannot be used is kept as its error, for validation to report at the field that names it.
    pub fn read(spec: &Spec, spec_dir: &Path) -> NamedFiles {
        let audit = spec.audit.as_ref();
        let audit_policy = audit
            .filter(|audit| audit.enabled.unwrap_or(false))
            .and_then(|audit| audit.policy_file.as_ref())
            .map(|file| {
                let path = spec_dir.join(file);
                let policy = read_audit_policy(&path);
                (path, policy)
            });
        NamedFiles { audit_policy }
    }
}

/// Why an audit policy file cannot be used; shown after the file's path.
#[derive(Debug)]
pub enum PolicyFileError {
    /// Opening or reading it failed.
    Read(std::io::Error),
    /// A FIFO, device, directory or other non-regular file.
    NotRegular,
    /// Larger than [`MAX_POLICY_FILE`] (its size).
    TooLarge(u64),
    /// Not UTF-8 text.
    NotUtf8,
    /// Not YAML.
    NotYaml,
    /// YAML, but not an `audit.k8s.io/v1` Policy.
    NotPolicy,
    /// A Policy without a `rules` list.
    NoRules,
}

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyFileError::Read(e) => write!(f, "cannot be read: {e}"),
            PolicyFileError::NotRegular => f.write_str("is not a regular file"),
            PolicyFileError::TooLarge(size) => {
                write!(f, "is {size} bytes; an audit policy is at most 1 MiB")
            }
            PolicyFileError::NotUtf8 => f.write_str("is not UTF-8 text"),
            PolicyFileError::NotYaml => f.write_str("is not YAML"),
            PolicyFileError::NotPolicy => f.write_str(
                "is not an audit policy (`apiVersion: audit.k8s.io/v1`, `kind: Policy`)",
            ),
            PolicyFileError::NoRules => {
                f.write_str("has no `rules` list; the apiserver refuses a policy without one")
            }
        }
    }
}

impl std::error::Error for PolicyFileError {}

/// Reads an audit policy file named by the spec: a regular file (never a FIFO or device, which
/// could block or never end), at most [`MAX_POLICY_FILE`] bytes, holding an `audit.k8s.io/v1`
/// Policy. Its text goes to every control plane verbatim, so nothing else may pass.
fn read_audit_policy(path: &Path) -> Result<String, PolicyFileError> {
    let metadata = std::fs::metadata(path).map_err(PolicyFileError::Read)?;
    if !metadata.is_file() {
        return Err(PolicyFileError::NotRegular);
    }
    if metadata.len() > MAX_POLICY_FILE {
        return Err(PolicyFileError::TooLarge(metadata.len()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(PolicyFileError::Read)?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_FILE)
        .read_to_end(&mut bytes)
        .map_err(PolicyFileError::Read)?;
    let text = String::from_utf8(bytes).map_err(|_| PolicyFileError::NotUtf8)?;
    let value: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|_| PolicyFileError::NotYaml)?;
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    if field("apiVersion") != Some("audit.k8s.io/v1") || field("kind") != Some("Policy") {
        return Err(PolicyFileError::NotPolicy);
    }
    if !value.get("rules").is_some_and(serde_json::Value::is_array) {
        return Err(PolicyFileError::NoRules);
    }
    Ok(text)
}
