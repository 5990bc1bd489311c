//! Embeds `KCOMPILE_SOURCE_SHA256`, the sha256 of every file under `src/` (path and bytes, in
//! path order) and of `Cargo.lock`: what identifies the code that renders a bundle. A host's
//! inputs digest (`bundle::inputs`) includes it, so a tree written by other code is never taken
//! for one this build would write.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => files(&path, out),
            Ok(kind) if kind.is_file() => out.push(path),
            _ => {}
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let mut paths = Vec::new();
    files(Path::new("src"), &mut paths);
    paths.push(PathBuf::from("Cargo.lock"));
    paths.sort();
    let mut hasher = Sha256::new();
    for path in &paths {
        let bytes = fs::read(path).unwrap_or_default();
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    println!("cargo:rustc-env=KCOMPILE_SOURCE_SHA256={digest}");
}
