//! A host's inputs digest and the stamp that records it in a tree (`etc/kubernetes/kcompile/INPUTS`),
//! so that a warm `build --out` can tell, without rendering, that a host's tree already holds what
//! this run would write there.
//!
//! The digest covers everything [`crate::render::host_files`] and [`super::manifest::add`] read
//! for a host: the code that renders (`KCOMPILE_SOURCE_SHA256`, the sha256 of `src/` and
//! `Cargo.lock` that `build.rs` embeds), the resolved [`Cluster`] (its `Debug` text: every field,
//! files the spec names included), the spec's sha256 (the MANIFEST header), the etcd
//! [`Membership`], the CAs, the service-account pair, the secrets, the rotations in progress, the
//! cluster-wide certificates and the host's own (name, certificate, key). Other hosts'
//! certificates are left out: rendering one host never reads them. Rendering is a pure function of
//! these, so the same digest renders the same bytes.
//!
//! The stamp is `sha256(digest ‖ MANIFEST bytes)` in hex. It is written by the directory sink
//! beside the MANIFEST, 0600, and is not listed in the MANIFEST (it is not part of the bundle: a
//! tar, a cloud-init document and `diff` never see it). A build finds a host's tree current when
//! the stamp on disk is the one its digest gives for the MANIFEST on disk, and every file that
//! MANIFEST lists is a regular file with its recorded mode and sha256
//! ([`super::dir::current_manifest`]). A file changed, removed or re-moded, a MANIFEST edited to match,
//! a digest that changed (a spec, state or kcompile change): each makes the host render and write
//! as before. The digest includes private keys, so nobody without them can forge a stamp for an
//! edited MANIFEST.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::manifest;
use crate::cluster::{Cluster, Host};
use crate::digest::hex;
use crate::etcd_membership::Membership;
use crate::pki::{Issued, Pki};
use crate::render::FileSet;

/// Where the stamp lives in a host's tree (beside the MANIFEST, not listed in it).
pub const PATH: &str = "etc/kubernetes/kcompile/INPUTS";

/// Mode of the stamp: it is a hash over private keys.
pub const MODE: u32 = crate::render::SECRET;

/// Identifies the code that renders: the sha256 of `src/` and `Cargo.lock` (see `build.rs`).
const SOURCE_SHA256: &str = env!("KCOMPILE_SOURCE_SHA256");

/// What every host's bundle of a run depends on, hashed once per run.
#[derive(Debug, Clone)]
pub struct ClusterInputs {
    shared: Sha256,
}

/// A host's inputs digest (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDigest([u8; 32]);

/// Feeds one length-prefixed field to `hasher` (no two field sequences hash alike).
fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

impl ClusterInputs {
    /// Hashes what every host's bundle depends on: the code, the cluster, the spec's sha256, the
    /// membership and the cluster-wide material of `pki`.
    pub fn new(cluster: &Cluster, spec_sha256: &str, pki: &Pki, members: &Membership) -> Self {
        let mut hasher = Sha256::new();
        field(&mut hasher, b"kcompile inputs v1");
        field(&mut hasher, SOURCE_SHA256.as_bytes());
        field(&mut hasher, format!("{cluster:?}").as_bytes());
        field(&mut hasher, spec_sha256.as_bytes());
        field(&mut hasher, format!("{members:?}").as_bytes());
        for (authority, ca) in &pki.authorities {
            field(&mut hasher, authority.file().as_bytes());
            field(&mut hasher, ca.cert_pem.as_bytes());
            field(&mut hasher, ca.key_pem.as_deref().unwrap_or("").as_bytes());
            field(&mut hasher, ca.trust_pem.as_bytes());
            field(
                &mut hasher,
                &[u8::from(ca.key_pem.is_some()), u8::from(ca.rotating)],
            );
        }
        field(&mut hasher, pki.service_account_key.as_bytes());
        field(&mut hasher, pki.service_account_public.as_bytes());
        let secrets = &pki.secrets;
        field(&mut hasher, secrets.encryption_key.as_bytes());
        field(&mut hasher, secrets.etcd_token.as_bytes());
        field(&mut hasher, secrets.bootstrap_token.bearer().as_bytes());
        let expiration = secrets.bootstrap_token.expiration_text();
        field(
            &mut hasher,
            expiration.as_deref().unwrap_or("never").as_bytes(),
        );
        field(&mut hasher, secrets.vrrp_password.as_bytes());
        let rotations = &pki.rotations;
        field(
            &mut hasher,
            &[rotations.service_account_phase, rotations.encryption_phase],
        );
        let (next_key, next_public) = rotations
            .service_account_next
            .as_ref()
            .map_or(("", ""), |(key, public)| (key.as_str(), public.as_str()));
        field(&mut hasher, next_key.as_bytes());
        field(&mut hasher, next_public.as_bytes());
        field(
            &mut hasher,
            rotations
                .encryption_next
                .as_deref()
                .unwrap_or("")
                .as_bytes(),
        );
        for (authority, incoming) in &rotations.authorities {
            field(&mut hasher, authority.file().as_bytes());
            field(&mut hasher, &[incoming.phase]);
            field(&mut hasher, incoming.cert_pem.as_bytes());
            field(&mut hasher, incoming.key_pem.as_bytes());
        }
        // The cluster-wide leaves (admin, super-admin, ...): hosts' kubeconfigs embed them.
        for (id, issued) in pki.certs.iter().filter(|(_, i)| i.spec.host.is_none()) {
            field(&mut hasher, id.as_bytes());
            field(&mut hasher, issued.cert_pem.as_bytes());
            field(&mut hasher, issued.key_pem.as_bytes());
        }
        ClusterInputs { shared: hasher }
    }

    /// `host`'s digest: the shared inputs, its name and its own certificates and keys.
    pub fn host(&self, pki: &Pki, host: &Host) -> HostDigest {
        self.host_with(&pki.certs, host)
    }

    /// `host`'s digest with its certificates and keys taken from `leaves` (by id; other hosts'
    /// and cluster-wide ones are skipped): the same as [`ClusterInputs::host`] when `leaves` holds
    /// what the plan's [`Pki`] holds for the host (a warm build's unplanned hosts,
    /// [`crate::pki::reuse`]).
    pub fn host_with(&self, leaves: &BTreeMap<String, Issued>, host: &Host) -> HostDigest {
        let mut hasher = self.shared.clone();
        field(&mut hasher, host.name.as_bytes());
        let prefix = format!("{}/", host.name);
        for (id, issued) in leaves.range(prefix.clone()..) {
            if !id.starts_with(&prefix) {
                break;
            }
            if issued.spec.host.as_deref() != Some(host.name.as_str()) {
                continue;
            }
            field(&mut hasher, id.as_bytes());
            field(&mut hasher, issued.cert_pem.as_bytes());
            field(&mut hasher, issued.key_pem.as_bytes());
        }
        HostDigest(hasher.finalize().into())
    }
}

impl HostDigest {
    /// The stamp of a tree whose MANIFEST holds `manifest_bytes`: `sha256(digest ‖ MANIFEST)`,
    /// hex, and a newline.
    pub fn stamp(&self, manifest_bytes: &[u8]) -> Vec<u8> {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(manifest_bytes);
        let mut text = hex(&hasher.finalize());
        text.push('\n');
        text.into_bytes()
    }
}

/// Adds the stamp of `files` (a host's bundle with its MANIFEST) to them, for the directory sink;
/// the MANIFEST does not list it. A set without a MANIFEST is left as it is.
pub fn add_stamp(files: &mut FileSet, digest: &HostDigest) {
    let Some(manifest) = files.files.get(manifest::PATH) else {
        return;
    };
    let stamp = digest.stamp(&manifest.bytes);
    files.add(PATH, stamp, MODE);
}
