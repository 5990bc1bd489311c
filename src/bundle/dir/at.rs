//! File-system steps of the directory sink relative to a directory's descriptor, never
//! through a link: looking a name up, opening a regular file, comparing a file with what would be
//! written; and the plain relative paths they take.

use std::fs;
use std::io::{self, Read};

use rustix::fd::BorrowedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::render::File;

/// Whether `path` is relative, with no empty, `.` or `..` component.
pub(super) fn is_plain(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|component| !component.is_empty() && component != "." && component != "..")
}

/// `(parent, name)` of a plain relative path; the root's children have the parent `""`.
pub(super) fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// The path of `name` in `parent` (the inverse of [`split`]).
pub(super) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// A file type in words.
pub(super) fn kind(stat: &Stat) -> &'static str {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        FileType::Fifo => "named pipe",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Unknown => "special file",
    }
}

/// The type of the file `stat` describes.
/// A file's size; a negative `st_size` (never seen from a regular file) counts as too large.
pub(super) fn size(stat: &Stat) -> u64 {
    u64::try_from(stat.st_size).unwrap_or(u64::MAX)
}

pub(super) fn file_type(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` when nothing is there.
pub(super) fn lstat(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<Stat>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(stat)),
        Err(Errno::NOENT) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Opens `name` in `dir` for reading: a regular file only, never through a link, without
/// blocking on a pipe.
pub(super) fn open_regular(dir: BorrowedFd<'_>, name: &str) -> io::Result<(fs::File, Stat)> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let stat = rustix::fs::fstat(&fd)?;
    if file_type(&stat) != FileType::RegularFile {
        return Err(io::Error::other(format!("a {}", kind(&stat))));
    }
    Ok((fs::File::from(fd), stat))
}

/// Whether this process gives files their bundle owners: only root may chown, and a tree written
/// by another user keeps that user's ownership (its files are then copied by a tool that runs as
/// root, or unpacked from the tar, whose headers carry the owners).
pub(super) fn sets_owners() -> bool {
    rustix::process::geteuid().is_root()
}

/// Whether `name` in `dir` is a regular file with exactly `file`'s mode and bytes (and, when run
/// as root, owner).
pub(super) fn already_there(dir: BorrowedFd<'_>, name: &str, file: &File) -> bool {
    let Ok((mut existing, stat)) = open_regular(dir, name) else {
        return false;
    };
    if stat.st_mode & 0o7777 != file.mode & 0o7777 || size(&stat) != file.bytes.len() as u64 {
        return false;
    }
    if sets_owners() && (stat.st_uid, stat.st_gid) != (file.owner.uid, file.owner.gid) {
        return false;
    }
    let mut bytes = Vec::with_capacity(file.bytes.len());
    Read::by_ref(&mut existing)
        .take(file.bytes.len() as u64 + 1)
        .read_to_end(&mut bytes)
        .is_ok()
        && bytes == file.bytes
}
