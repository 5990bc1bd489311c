//! The last built bundle of each host, as the state records it: the bundle's MANIFEST (cluster,
//! host, version, spec sha256, then mode, sha256 and path of every file), kept as the state item
//! `built/<host>/MANIFEST` ([`crate::state::inventory::ItemKind::BuiltManifest`]). Every build
//! that writes a host's bundle (`build --host`, `build --all`, to a tar, a tree or a provisioning
//! document) records it in the same transaction as the built version; previews never do.
//! `kcompile plan` without `--roots` compares the new build with it.
//!
//! It holds no secret bytes, only the MANIFEST's hashes; like the MANIFEST on a host it is written
//! 0600, since the sha256 of a file whose other bytes can be guessed is an offline oracle for its
//! secret (see [`super::manifest`]). The state dir is private (0700) besides.

use super::manifest::{self, Manifest, ManifestError};
use crate::render::FileSet;
use crate::state::{StateError, Transaction};

/// The state path of `host`'s recorded MANIFEST (host names are DNS-1123 subdomains, so one
/// path component).
pub fn path(host: &str) -> String {
    format!("built/{host}/MANIFEST")
}

/// The MANIFEST `files` carry (what [`record`] keeps), if they have one.
pub fn manifest_of(files: &FileSet) -> Option<Vec<u8>> {
    files
        .files
        .get(manifest::PATH)
        .map(|file| file.bytes.clone())
}

/// Stages, in `state`, `manifest` (a bundle's MANIFEST, [`manifest_of`]) as `host`'s last build.
pub fn record(state: &mut Transaction<'_>, host: &str, manifest: Vec<u8>) {
    state.write(&path(host), manifest, crate::render::SECRET);
}

/// A host's last build as the state records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The recorded MANIFEST's bytes (to compare with the new one).
    pub bytes: Vec<u8>,
    /// The MANIFEST, parsed.
    pub manifest: Manifest,
    /// When the state recorded it (RFC 3339, UTC).
    pub since: String,
}

/// Why a recorded build cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BuiltError {
    /// The state cannot be read (the item is missing or is not what the inventory records).
    #[error("{0}")]
    State(StateError),
    /// The recorded MANIFEST does not parse (the message names the line, never quotes it).
    #[error(
        "the state's record of the last build `{path}` cannot be read ({problem}); restore it from a backup of the state dir, or compare with the hosts' files with `--roots DIR`"
    )]
    Corrupt {
        /// Its path in the state.
        path: String,
        /// What is wrong.
        problem: ManifestError,
    },
}

/// `host`'s last build, or `None` if the state records none (never built, or built by a
/// kcompile that kept no record of it).
pub fn read(state: &Transaction<'_>, host: &str) -> Result<Option<Recorded>, BuiltError> {
    let path = path(host);
    let Some(bytes) = state.read(&path).map_err(BuiltError::State)? else {
        return Ok(None);
    };
    let manifest = manifest::parse(&String::from_utf8_lossy(&bytes)).map_err(|problem| {
        BuiltError::Corrupt {
            path: path.clone(),
            problem,
        }
    })?;
    let since = state.since(&path).unwrap_or_default();
    Ok(Some(Recorded {
        bytes,
        manifest,
        since,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;

    #[test]
    fn a_recorded_manifest_reads_back_and_garbage_is_named_by_line() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("state");
        let (mut state, _) = State::open_or_create(&root).unwrap();
        let mut files = FileSet::default();
        files.add("etc/kubernetes/admin.conf", "x", 0o600);
        let header = manifest::Header {
            cluster: "c".into(),
            host: "m1".into(),
            kubernetes: "v1.36.3".into(),
            spec_sha256: "ab".into(),
        };
        manifest::add(&mut files, &header);
        let mut transaction = state.begin();
        record(&mut transaction, "m1", manifest_of(&files).unwrap());
        assert_eq!(read(&transaction, "m2").unwrap(), None);
        let changes = transaction.finish();
        state.commit(changes).unwrap();
        let recorded = read(&state.begin(), "m1").unwrap().unwrap();
        assert_eq!(recorded.manifest.header, header);
        assert_eq!(recorded.manifest.entries.len(), 1);
        assert!(!recorded.since.is_empty());
        let mut transaction = state.begin();
        transaction.write(&path("m1"), b"garbage\n".to_vec(), 0o600);
        let error = read(&transaction, "m1").unwrap_err().to_string();
        assert!(
            error.contains("`built/m1/MANIFEST` cannot be read (line 1:"),
            "{error}"
        );
        assert!(!error.contains("garbage"), "{error}");
    }
}
