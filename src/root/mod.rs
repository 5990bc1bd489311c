//! A machine's root, read as untrusted input. `diff`, `verify --root` and `certs --root` read a
//! machine's files through [`Root`] and nothing else, so whatever the root holds, reading it
//! neither hangs, nor exhausts memory, nor leaves the root:
//!
//! - **Symlinks resolve as if the root were `/`.** An absolute link (`kubelet-client-current.pem
//!   -> /var/lib/kubelet/pki/kubelet-client-2026-….pem`, as the kubelet makes them) resolves to
//!   `ROOT/var/lib/kubelet/pki/…`; a relative one from the link's own directory inside the root. A
//!   link whose `..` climbs above the root, or whose absolute target the root does not hold, is
//!   reported ([`RootError::Outside`]) and never followed; so is a loop, or a chain of more than
//!   [`MAX_LINKS`] links ([`RootError::Loop`]).
//! - **Regular files only.** A named pipe, socket or device at a path is reported
//!   ([`RootError::NotRegular`]) from its `lstat`, without being opened: opening a FIFO blocks
//!   until a writer comes, and opening a device runs its driver (`/dev/watchdog` arms a timer).
//! - **Bounded sizes.** A file larger than [`MAX_FILE`] is reported ([`RootError::TooLarge`])
//!   and never read whole; what is read is capped at the limit plus one byte, so a file that grows
//!   while it is read (or lies about its size, as `/proc` files do) is caught too.
//!
//! The resolution is done here, component by component, by file descriptor: each directory is
//! opened with `openat(…, O_NOFOLLOW | O_DIRECTORY)` from the one before it, each name is looked
//! at with `fstatat(…, AT_SYMLINK_NOFOLLOW)`, each link read with `readlinkat`, and a file is
//! opened with `O_NOFOLLOW | O_NONBLOCK` from its directory's descriptor and checked again with
//! `fstat`. A link swapped in while the root is read therefore cannot redirect a read, and no
//! path is ever handed to the kernel whole. The kernel's own `openat2(RESOLVE_IN_ROOT)` (Linux
//! 5.6+) resolves the same way but clamps a `..` above the root to the root silently and, when it
//! fails, does not say which link failed or where it pointed; cap-std refuses absolute links
//! outright, which every kubeadm host has. Both would need this walk anyway to explain a refusal,
//! so the walk is the only resolver (and it needs no kernel newer than `openat`).
//!
//! **`/proc` and `/sys`** (read by `preflight`) go through the same rules. Their files are regular
//! files whose `stat` size is 0, so the bound applies to the bytes read, not to the size; they are
//! only ever read, never written. A `/proc/PID/fd/N` entry is a link to a pseudo-target
//! (`socket:[4242]`, `pipe:[…]`), which [`Root::read_link`] returns as written and nothing follows;
//! `/proc/self` is a relative link and resolves inside the root like any other. Under `/` they are
//! the running kernel's; under a prepared root (a test, a copied tree) they are plain files.
//!
//! One race is left: a regular file replaced by a device node between its `fstatat` and its
//! `openat` is opened (never read: `fstat` on the open file refuses it). Making a device node
//! takes `CAP_MKNOD` on the machine whose root is read.
//!
//! Here: [`Root`] and its walk; `error.rs`: [`RootError`], each reason and how it is told.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

mod error;

pub use error::RootError;

/// The largest file read from a root: 4 MiB.
///
/// Every file kcompile or kubeadm manage on a host is far smaller: a certificate or key is 1–3
/// KiB, a kubeconfig with embedded certificates 6–20 KiB, a static pod manifest a few KiB (and
/// cannot exceed the 1.5 MiB etcd stores per object, since the kubelet mirrors it into the API),
/// and the largest CA bundle in practice, a distribution's whole trust store, is about 220 KiB.
/// 4 MiB is more than twice any of them, yet small enough that reading every managed file of a
/// host at the limit stays well within memory.
pub const MAX_FILE: u64 = 4 << 20;

/// The most links one path may go through, Linux's own limit (`MAXSYMLINKS`): beyond it, a
/// path is taken for a loop.
pub const MAX_LINKS: usize = 40;

/// The most entries one [`Root::walk`] returns. A kubeadm control plane has under 100 files in
/// its managed directories; a directory of millions of entries is not configuration, and is not
/// listed past this many.
pub const MAX_ENTRIES: usize = 10_000;

/// A machine's root directory (`/` on the machine itself), opened once; every path read through
/// it stays inside it. See the [module documentation](self) for the rules.
#[derive(Debug)]
pub struct Root {
    /// The root as the user named it, for messages.
    path: PathBuf,
    /// The root directory, opened.
    dir: OwnedFd,
    /// The largest file read.
    limit: u64,
}

/// What a path is, after its links are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file: the only kind [`Root::read`] reads.
    File,
    /// A directory.
    Directory,
    /// A named pipe (FIFO).
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device (`/dev/zero`, a tty).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else the kernel reports.
    Other,
}

impl Kind {
    fn of(stat: &Stat) -> Kind {
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Directory,
            FileType::Fifo => Kind::Fifo,
            FileType::Socket => Kind::Socket,
            FileType::CharacterDevice => Kind::CharDevice,
            FileType::BlockDevice => Kind::BlockDevice,
            _ => Kind::Other,
        }
    }

    /// The kind in words, with its article (`a named pipe`).
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "a regular file",
            Kind::Directory => "a directory",
            Kind::Fifo => "a named pipe",
            Kind::Socket => "a socket",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Other => "a special file",
        }
    }
}

/// What `lstat` says of a path once its links are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// File, directory, pipe, …
    pub kind: Kind,
    /// Size in bytes (as the file system reports it; not read).
    pub size: u64,
    /// Permission bits (`0o644`), without the file type.
    pub mode: u32,
}

impl Metadata {
    fn of(stat: &Stat) -> Metadata {
        Metadata {
            kind: Kind::of(stat),
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mode: stat.st_mode & 0o7777,
        }
    }
}

/// A file read from the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// Its bytes, at most [`MAX_FILE`].
    pub bytes: Vec<u8>,
    /// Its permission bits (`0o600`).
    pub mode: u32,
    /// Its owner: user id and group id.
    pub owner: (u32, u32),
}

/// One entry found by [`Root::walk`]: a path that is not a directory once resolved, or a path
/// that could not be resolved.
#[derive(Debug)]
pub struct Entry {
    /// Path relative to the root, through the names listed (`etc/kubernetes/pki/ca.crt`), not
    /// through the links' targets.
    pub path: String,
    /// What it is, or why it cannot be looked at.
    pub found: Result<Metadata, RootError>,
}

/// A directory descriptor: the root's own, or one opened on the way.
enum Fd {
    Root,
    Owned(OwnedFd),
}

impl Fd {
    fn borrow<'a>(&'a self, root: &'a Root) -> BorrowedFd<'a> {
        match self {
            Fd::Root => root.dir.as_fd(),
            Fd::Owned(fd) => fd.as_fd(),
        }
    }
}

/// Where a resolved path is.
enum Handle {
    /// A directory, opened.
    Dir(Fd),
    /// Anything else: its name in its (opened) directory. Not opened.
    Entry { dir: Fd, name: Vec<u8> },
}

/// A resolved path: what `lstat` says of it, and where it is.
struct Found {
    stat: Stat,
    handle: Handle,
}

/// One component still to resolve, and the link whose target it comes from (`None`: from the
/// path asked for).
struct Step {
    name: Vec<u8>,
    from: Option<usize>,
}

impl Root {
    /// Opens the directory at `path` as a root. The path itself is the user's to name and is
    /// followed if it is a link; everything under it is resolved as if it were `/`.
    pub fn open(path: &Path) -> Result<Root, RootError> {
        let dir = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| RootError::Open {
            root: path.to_owned(),
            error: errno.into(),
        })?;
        Ok(Root {
            path: path.to_owned(),
            dir,
            limit: MAX_FILE,
        })
    }

    /// The root as it was named.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The regular file at `relative` (`etc/kubernetes/admin.conf`; a leading `/` is ignored),
    /// `None` if nothing is there. A link is followed inside the root; a link out of it, a FIFO,
    /// a device, a directory or a file over [`MAX_FILE`] is an error, and is not read.
    pub fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, RootError> {
        Ok(self.read_file(relative)?.map(|contents| contents.bytes))
    }

    /// As [`Root::read`], with the file's permission bits.
    pub fn read_file(&self, relative: &str) -> Result<Option<Contents>, RootError> {
        let Some(found) = self.resolve(relative)? else {
            return Ok(None);
        };
        let kind = Kind::of(&found.stat);
        let (Handle::Entry { dir, name }, Kind::File) = (&found.handle, kind) else {
            return Err(RootError::NotRegular {
                path: relative.to_owned(),
                kind,
            });
        };
        let io = |error: io::Error| RootError::Io {
            path: relative.to_owned(),
            error,
        };
        // O_NONBLOCK: should a FIFO have been swapped in since `fstatat`, opening it does not
        // wait for a writer; O_NOFOLLOW: nor does a link swapped in get followed.
        let fd = rustix::fs::openat(
            dir.borrow(self),
            name.as_slice(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| io(changed(errno)))?;
        let file = File::from(fd);
        let metadata = file.metadata().map_err(io)?;
        if !metadata.is_file() {
            let stat = rustix::fs::fstat(&file).map_err(|e| io(e.into()))?;
            return Err(RootError::NotRegular {
                path: relative.to_owned(),
                kind: Kind::of(&stat),
            });
        }
        let too_large = |size: u64| RootError::TooLarge {
            path: relative.to_owned(),
            size,
            limit: self.limit,
        };
        if metadata.len() > self.limit {
            return Err(too_large(metadata.len()));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        file.take(self.limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > self.limit {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(Some(Contents {
            bytes,
            mode: metadata.permissions().mode() & 0o7777,
            owner: (metadata.uid(), metadata.gid()),
        }))
    }

    /// What is at `relative` once its links are resolved, `None` if nothing is; nothing is
    /// opened but the directories on the way.
    pub fn stat(&self, relative: &str) -> Result<Option<Metadata>, RootError> {
        Ok(self
            .resolve(relative)?
            .map(|found| Metadata::of(&found.stat)))
    }

    /// Every path under the directory `dir`, down to `depth` levels (1: its own entries only), in
    /// name order: each that is not a directory once resolved, with what it is, and each that
    /// cannot be resolved (a link out of the root, an unreadable directory), with why.
    /// Directories reached through links inside the root are walked once each. Nothing is read.
    /// An absent `dir`, or one that is not a directory, has no entries; a `dir` that cannot be
    /// resolved is an error. At most [`MAX_ENTRIES`] entries are returned, the last one then an
    /// error saying so.
    pub fn walk(&self, dir: &str, depth: usize) -> Result<Vec<Entry>, RootError> {
        let mut entries = Vec::new();
        let Some(found) = self.resolve(dir)? else {
            return Ok(entries);
        };
        let Handle::Dir(fd) = found.handle else {
            return Ok(entries);
        };
        let mut seen = HashSet::from([(found.stat.st_dev, found.stat.st_ino)]);
        let dir = dir.trim_matches('/');
        self.walk_into(dir, &fd, depth, &mut seen, &mut entries);
        Ok(entries)
    }

    fn walk_into(
        &self,
        dir: &str,
        fd: &Fd,
        depth: usize,
        seen: &mut HashSet<(u64, u64)>,
        entries: &mut Vec<Entry>,
    ) {
        let names = match list(fd.borrow(self)) {
            Ok(names) => names,
            Err(error) => {
                entries.push(Entry {
                    path: dir.to_owned(),
                    found: Err(RootError::Io {
                        path: dir.to_owned(),
                        error,
                    }),
                });
                return;
            }
        };
        for name in names {
            if entries.len() >= MAX_ENTRIES {
                entries.push(Entry {
                    path: dir.to_owned(),
                    found: Err(RootError::TooMany {
                        path: dir.to_owned(),
                    }),
                });
                return;
            }
            let path = match String::from_utf8(name) {
                Ok(name) if dir.is_empty() => name,
                Ok(name) => format!("{dir}/{name}"),
                Err(error) => {
                    let path = format!("{dir}/{}", String::from_utf8_lossy(error.as_bytes()));
                    entries.push(Entry {
                        path: path.clone(),
                        found: Err(RootError::BadName { path }),
                    });
                    continue;
                }
            };
            match self.resolve(&path) {
                // Gone since it was listed.
                Ok(None) => {}
                Ok(Some(Found {
                    stat,
                    handle: Handle::Dir(sub),
                })) => {
                    if depth > 1 && seen.insert((stat.st_dev, stat.st_ino)) {
                        self.walk_into(&path, &sub, depth - 1, seen, entries);
                    }
                }
                Ok(Some(Found { stat, .. })) => entries.push(Entry {
                    path,
                    found: Ok(Metadata::of(&stat)),
                }),
                Err(error) => entries.push(Entry {
                    path,
                    found: Err(error),
                }),
            }
        }
    }

    /// The names in the directory `dir` (links on the way resolved inside the root), sorted; empty
    /// when nothing is there or it is not a directory. At most [`MAX_ENTRIES`] names: past that,
    /// [`RootError::TooMany`]. Nothing under it is looked at.
    pub fn names(&self, dir: &str) -> Result<Vec<String>, RootError> {
        let Some(Found {
            handle: Handle::Dir(fd),
            ..
        }) = self.resolve(dir)?
        else {
            return Ok(Vec::new());
        };
        let names = list(fd.borrow(self)).map_err(|error| RootError::Io {
            path: dir.to_owned(),
            error,
        })?;
        if names.len() > MAX_ENTRIES {
            return Err(RootError::TooMany {
                path: dir.to_owned(),
            });
        }
        Ok(names
            .into_iter()
            .filter_map(|name| String::from_utf8(name).ok())
            .collect())
    }

    /// The target of the symlink at `relative`, as written in it, never followed (`socket:[4242]`
    /// for a `/proc/PID/fd` entry); `None` when nothing is there or it is not a link. The
    /// directories on the way are resolved inside the root.
    pub fn read_link(&self, relative: &str) -> Result<Option<String>, RootError> {
        let trimmed = relative.trim_end_matches('/');
        let (dir, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        if name.is_empty() || name == "." || name == ".." {
            return Err(RootError::BadName {
                path: relative.to_owned(),
            });
        }
        let Some(Found {
            handle: Handle::Dir(fd),
            ..
        }) = self.resolve(dir)?
        else {
            return Ok(None);
        };
        let io = |errno: Errno| RootError::Io {
            path: relative.to_owned(),
            error: errno.into(),
        };
        let stat = match rustix::fs::statat(fd.borrow(self), name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
            Err(errno) => return Err(io(errno)),
        };
        if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
            return Ok(None);
        }
        let target = rustix::fs::readlinkat(fd.borrow(self), name, Vec::new()).map_err(io)?;
        Ok(Some(
            String::from_utf8_lossy(target.as_bytes()).into_owned(),
        ))
    }

    /// Resolves `relative` component by component, as if the root were `/`; `None` when a
    /// component of the path asked for does not exist.
    fn resolve(&self, relative: &str) -> Result<Option<Found>, RootError> {
        let mut todo = VecDeque::new();
        for part in relative.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    return Err(RootError::BadName {
                        path: relative.to_owned(),
                    });
                }
                name => todo.push_back(Step {
                    name: name.as_bytes().to_vec(),
                    from: None,
                }),
            }
        }
        // The directories opened below the root, with their names.
        let mut stack: Vec<(Vec<u8>, OwnedFd)> = Vec::new();
        // Every link followed: where it is, and its target.
        let mut links: Vec<(String, String)> = Vec::new();
        let io = |error: io::Error| RootError::Io {
            path: relative.to_owned(),
            error,
        };
        loop {
            let Some(step) = todo.pop_front() else {
                // The path ends at a directory (possibly the root).
                let fd = stack.pop().map_or(Fd::Root, |(_, fd)| Fd::Owned(fd));
                let stat = rustix::fs::fstat(fd.borrow(self)).map_err(|e| io(e.into()))?;
                return Ok(Some(Found {
                    stat,
                    handle: Handle::Dir(fd),
                }));
            };
            if step.name == b".." {
                if stack.pop().is_none() {
                    // Only a link's target has `..` (the path asked for was checked).
                    let (link, target) = step.from.map(|i| links[i].clone()).unwrap_or_default();
                    return Err(RootError::Outside {
                        path: relative.to_owned(),
                        link,
                        target,
                        climbs: true,
                    });
                }
                continue;
            }
            let here = stack.last().map_or(self.dir.as_fd(), |(_, fd)| fd.as_fd());
            let stat =
                match rustix::fs::statat(here, step.name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => stat,
                    Err(Errno::NOENT | Errno::NOTDIR) => {
                        return Self::missing(relative, step.from, &links);
                    }
                    Err(errno) => return Err(io(errno.into())),
                };
            let location = || {
                let mut parts: Vec<String> = stack
                    .iter()
                    .map(|(name, _)| String::from_utf8_lossy(name).into_owned())
                    .collect();
                parts.push(String::from_utf8_lossy(&step.name).into_owned());
                parts.join("/")
            };
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Symlink => {
                    if links.len() >= MAX_LINKS {
                        return Err(RootError::Loop {
                            path: relative.to_owned(),
                            link: location(),
                        });
                    }
                    let target = rustix::fs::readlinkat(here, step.name.as_slice(), Vec::new())
                        .map_err(|e| io(e.into()))?
                        .into_bytes();
                    links.push((location(), String::from_utf8_lossy(&target).into_owned()));
                    let from = Some(links.len() - 1);
                    if target.is_empty() {
                        // An empty target names nothing (ENOENT on Linux).
                        return Self::missing(relative, from, &links);
                    }
                    if target.starts_with(b"/") {
                        stack.clear();
                    }
                    for part in target.split(|byte| *byte == b'/').rev() {
                        if !part.is_empty() && part != b"." {
                            todo.push_front(Step {
                                name: part.to_vec(),
                                from,
                            });
                        }
                    }
                }
                FileType::Directory => {
                    let fd = rustix::fs::openat(
                        here,
                        step.name.as_slice(),
                        OFlags::RDONLY
                            | OFlags::DIRECTORY
                            | OFlags::NOFOLLOW
                            | OFlags::NONBLOCK
                            | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|errno| io(changed(errno)))?;
                    stack.push((step.name, fd));
                }
                _ => {
                    if let Some(next) = todo.front() {
                        // A file where the path needs a directory: nothing is there.
                        let from = next.from;
                        return Self::missing(relative, from, &links);
                    }
                    let dir = stack.pop().map_or(Fd::Root, |(_, fd)| Fd::Owned(fd));
                    return Ok(Some(Found {
                        stat,
                        handle: Handle::Entry {
                            dir,
                            name: step.name,
                        },
                    }));
                }
            }
        }
    }

    /// A component that does not exist: the path is absent, unless the component comes from a
    /// link's target, which is then dangling (or, absolute, outside the root).
    fn missing(
        relative: &str,
        from: Option<usize>,
        links: &[(String, String)],
    ) -> Result<Option<Found>, RootError> {
        let Some((link, target)) = from.map(|i| links[i].clone()) else {
            return Ok(None);
        };
        Err(if target.starts_with('/') {
            RootError::Outside {
                path: relative.to_owned(),
                link,
                target,
                climbs: false,
            }
        } else {
            RootError::Dangling {
                path: relative.to_owned(),
                link,
                target,
            }
        })
    }
}

/// An error of an `openat` with `O_NOFOLLOW`/`O_DIRECTORY` on a name `fstatat` just saw as a
/// file or a directory: `ELOOP` or `ENOTDIR` mean it was replaced meanwhile.
fn changed(errno: Errno) -> io::Error {
    if errno == Errno::LOOP || errno == Errno::NOTDIR {
        io::Error::other("it changed while it was read (replaced by a link or a directory)")
    } else {
        errno.into()
    }
}

/// The names in a directory, sorted, without `.` and `..`.
fn list(fd: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut dir = Dir::read_from(fd)?;
    let mut names = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
        if names.len() > MAX_ENTRIES {
            break;
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests;
