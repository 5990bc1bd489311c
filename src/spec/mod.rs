//! The front half of the compiler: a spec's text to a validated [`Cluster`], through its profiles,
//! with every problem reported at its line and column.

mod component_config;
mod diagnostic;
mod etcd;
mod input;
mod layer;
mod names;
pub mod node;
mod parse;
mod resolved;
pub mod rootless;
mod source;
mod types;
mod validate;

use std::path::Path;

pub use component_config::{ConfigKind, ConfigProblem, check as check_component_config};
pub use diagnostic::{Diagnostic, Severity};
pub use layer::{DEFAULT_PROFILES, Layered, PROFILES};
pub use names::dns_subdomain_problem;
pub use source::Source;
pub use types::*;
pub use validate::owned_kubelet_config_field;

use crate::cluster::Cluster;

/// A spec that compiled: the cluster, the layers it came from, and its warnings.
#[derive(Debug)]
pub struct Loaded {
    /// The validated cluster.
    pub cluster: Cluster,
    /// The spec and its profiles.
    pub layered: Layered,
    /// Warnings (never errors).
    pub warnings: Vec<Diagnostic>,
    /// [`Loaded::spec_sha256`], worked out once: every host's MANIFEST names it.
    spec_sha256: std::sync::OnceLock<String>,
}

impl Loaded {
    /// The resolved spec as YAML, each value a profile or kcompile contributed marked with it.
    pub fn resolved_yaml(&self) -> String {
        resolved::render(&self.layered, &self.cluster)
    }

    /// sha256 of the resolved spec: equal for two specs that compile to the same cluster.
    pub fn spec_sha256(&self) -> String {
        self.spec_sha256
            .get_or_init(|| {
                let json = serde_json::to_string(&self.layered.spec).unwrap_or_default();
                crate::digest::sha256(json.as_bytes())
            })
            .clone()
    }
}

/// Parses, layers and validates a spec. `spec_dir` anchors relative paths in it. On failure,
/// every diagnostic found (at least one error).
pub fn load(source: Source, spec_dir: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let layered = layer::layer(source).map_err(|diagnostic| vec![diagnostic])?;
    let files = input::NamedFiles::read(&layered.spec, spec_dir);
    let (cluster, warnings) = validate::validate(&layered, &files)?;
    Ok(Loaded {
        cluster,
        layered,
        warnings,
        spec_sha256: std::sync::OnceLock::new(),
    })
}
