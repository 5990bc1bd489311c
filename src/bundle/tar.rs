//! The tar sink: the same files always give the same bytes. Entries are sorted (directories with
//! their files), mtime 0, uid/gid 0 owned by root, modes as the bundle says.

use std::io::Write;

use super::FileSet;

/// Writes `files` as a tar archive.
pub fn write(files: &FileSet, out: impl Write) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.mode(tar::HeaderMode::Deterministic);
    let mut entries: Vec<(String, Option<&super::File>)> = files
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
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        match file {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(super::DIRECTORY);
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
