//! The directory sink: writes a bundle under a root, each file atomically with its mode, so a
//! reader (or the kubelet watching the manifests directory) never sees half a file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::FileSet;

/// Writes `files` under `root`, creating directories (0755) as needed.
pub fn write(files: &FileSet, root: &Path) -> std::io::Result<()> {
    fs::create_dir_all(root)?;
    for dir in files.directories() {
        fs::create_dir_all(root.join(dir))?;
    }
    for (path, file) in &files.files {
        let target = root.join(path);
        let parent = target.parent().unwrap_or(root);
        fs::create_dir_all(parent)?;
        // The temp file lives beside its target (same file system, so the rename is atomic), under
        // a name the kubelet ignores in the manifests directory (it skips dot files).
        let mut temp = tempfile::Builder::new()
            .prefix(".kcompile-")
            .tempfile_in(parent)?;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(file.mode))?;
        temp.write_all(&file.bytes)?;
        temp.as_file().sync_all()?;
        temp.persist(&target).map_err(|e| e.error)?;
    }
    Ok(())
}
