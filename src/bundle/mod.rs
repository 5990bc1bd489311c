//! A host's bundle: the sinks that consume the set of files rendering produces
//! ([`crate::render::FileSet`]): the MANIFEST, a deterministic tar, a directory tree, first-boot
//! documents, and the record of each host's last build.

pub mod built;
pub mod cloud_init;
pub mod dir;
pub mod ignition;
pub mod inputs;
pub mod manifest;
pub mod tar;
