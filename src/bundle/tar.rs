//! The tar sink: the same files always give the same bytes. Entries are sorted (directories with
//! their files), mtime 0, modes as the bundle says. Directories and every file no rootless
//! component reads are uid/gid 0 (`root`); a file a rootless component reads carries its numeric
//! uid and gid with empty user and group names, so `tar -x` as root restores the ids themselves
//! (GNU tar prefers a name it finds in the host's passwd over the number).

use std::io::Write;

use crate::cluster::Identity;
use crate::render::FileSet;

/// Writes `files` as a tar archive.
pub fn write(files: &FileSet, out: impl Write) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.mode(tar::HeaderMode::Deterministic);
    let mut entries: Vec<(String, Option<&crate::render::File>)> = files
        .directories()
        .into_iter()
        .map(|dir| (format!("{dir}/"), None))
        .chain(
            files
                .files
                .iter()
                .map(|(path, file)| (path.clone(), Some(file))),
        )
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, file) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        let owner = file.map_or(Identity::ROOT, |file| file.owner);
        header.set_uid(u64::from(owner.uid));
        header.set_gid(u64::from(owner.gid));
        header.set_username(if owner.uid == 0 { "root" } else { "" })?;
        header.set_groupname(if owner.gid == 0 { "root" } else { "" })?;
        match file {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(crate::render::DIRECTORY);
                header.set_size(0);
                header.set_cksum();
                builder.append_data(&mut header, &path, std::io::empty())?;
            }
            Some(file) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(file.mode);
                header.set_size(file.bytes.len() as u64);
                header.set_cksum();
                builder.append_data(&mut header, &path, file.bytes.as_slice())?;
            }
        }
    }
    builder.into_inner()?.flush()
}
