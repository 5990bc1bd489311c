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

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

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

/// Why a path of the root cannot be read. Every variant but [`RootError::Open`] names the path
/// (relative to the root) it is about.
#[derive(Debug)]
pub enum RootError {
    /// The root itself cannot be opened as a directory.
    Open {
        /// The root, as named.
        root: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A named pipe, socket, device or directory where a regular file is read.
    NotRegular {
        /// The path.
        path: String,
        /// What it is.
        kind: Kind,
    },
    /// A file larger than the limit.
    TooLarge {
        /// The path.
        path: String,
        /// Its size (at least; the bytes counted when it grew while read).
        size: u64,
        /// The limit, [`MAX_FILE`].
        limit: u64,
    },
    /// A link whose target leaves the root: a `..` above it, or an absolute target the root does
    /// not hold.
    Outside {
        /// The path asked for.
        path: String,
        /// The link that leaves (the path itself, or a directory on the way).
        link: String,
        /// The link's target, as written in the link.
        target: String,
        /// Whether the target climbs above the root with `..` (else: absolute, not in the root).
        climbs: bool,
    },
    /// A relative link whose target does not exist.
    Dangling {
        /// The path asked for.
        path: String,
        /// The dangling link.
        link: String,
        /// Its target, as written.
        target: String,
    },
    /// More than [`MAX_LINKS`] links: a loop.
    Loop {
        /// The path asked for.
        path: String,
        /// The last link followed.
        link: String,
    },
    /// A path that cannot name a file of the root: a `..` component (as a machine's MANIFEST
    /// could list), or a name that is not UTF-8.
    BadName {
        /// The path, as far as it can be shown.
        path: String,
    },
    /// A directory with more than [`MAX_ENTRIES`] entries under it: the rest are not looked at.
    TooMany {
        /// The directory.
        path: String,
    },
    /// The operating system refused (permissions, an I/O error).
    Io {
        /// The path.
        path: String,
        /// Why.
        error: io::Error,
    },
}

impl RootError {
    /// The path the error is about, relative to the root (empty for [`RootError::Open`]).
    pub fn path(&self) -> &str {
        match self {
            RootError::Open { .. } => "",
            RootError::NotRegular { path, .. }
            | RootError::TooLarge { path, .. }
            | RootError::Outside { path, .. }
            | RootError::Dangling { path, .. }
            | RootError::Loop { path, .. }
            | RootError::BadName { path }
            | RootError::TooMany { path }
            | RootError::Io { path, .. } => path,
        }
    }

    /// Whether the path is a link that was not followed (out of the root, dangling, a loop).
    pub fn is_link(&self) -> bool {
        matches!(
            self,
            RootError::Outside { .. } | RootError::Dangling { .. } | RootError::Loop { .. }
        )
    }

    /// What is wrong, without the path (`is a named pipe, not a regular file`), for messages
    /// that show the path their own way.
    pub fn reason(&self) -> String {
        // A problem with a link on the way is told with that link.
        let via = |path: &str, link: &str| {
            if path == link {
                "is a symlink".to_owned()
            } else {
                format!("is under `{}`, a symlink", shown(link))
            }
        };
        match self {
            RootError::Open { root, error } => open_message(root, error),
            RootError::NotRegular { kind, .. } => {
                format!("is {}, not a regular file", kind.describe())
            }
            RootError::TooLarge { size, limit, .. } => format!(
                "is {size} bytes, more than the {} MiB limit for a Kubernetes file: not read",
                limit >> 20
            ),
            RootError::Outside {
                path,
                link,
                target,
                climbs,
            } => {
                let why = if *climbs {
                    "which climbs above the root"
                } else {
                    "which the root does not hold"
                };
                format!(
                    "{} pointing outside the root: not followed (→ `{}`, {why})",
                    via(path, link),
                    shown(target)
                )
            }
            RootError::Dangling { path, link, target } => format!(
                "{} to `{}`, which does not exist: not followed",
                via(path, link),
                shown(target)
            ),
            RootError::Loop { path, link } => format!(
                "{} in a loop (or a chain of more than {MAX_LINKS} links): not followed",
                via(path, link)
            ),
            RootError::BadName { .. } => {
                "is not a path of the root (a `..` component, or a name that is not UTF-8): not read"
                    .to_owned()
            }
            RootError::TooMany { .. } => format!(
                "holds more than {MAX_ENTRIES} entries, more than any configuration directory: \
                 the rest are not looked at"
            ),
            RootError::Io { error, .. } => format!("cannot be read: {error}"),
        }
    }
}

impl fmt::Display for RootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootError::Open { root, error } => f.write_str(&open_message(root, error)),
            _ => write!(f, "`{}` {}", shown(self.path()), self.reason()),
        }
    }
}

impl std::error::Error for RootError {}

/// Untrusted text (a name or link target found in the root) for a message: control characters
/// escaped, cut at 200 characters (a link target can be 4 KiB).
fn shown(text: &str) -> String {
    crate::shown::value(text, 200)
}

fn open_message(root: &Path, error: &io::Error) -> String {
    if error.raw_os_error() == Some(libc::ENOTDIR) {
        format!("the root `{}` is not a directory", root.display())
    } else {
        format!("cannot read the root `{}`: {error}", root.display())
    }
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
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("etc/kubernetes/pki")).unwrap();
        std::fs::create_dir_all(base.join("var/lib/kubelet/pki")).unwrap();
        std::fs::write(base.join("etc/kubernetes/pki/ca.crt"), "ca").unwrap();
        std::fs::write(
            base.join("var/lib/kubelet/pki/kubelet-client-2026.pem"),
            "pem",
        )
        .unwrap();
        let root = Root::open(base).unwrap();
        (dir, root)
    }

    #[test]
    fn absolute_links_resolve_inside_the_root() {
        let (dir, root) = root();
        symlink(
            "/var/lib/kubelet/pki/kubelet-client-2026.pem",
            dir.path()
                .join("var/lib/kubelet/pki/kubelet-client-current.pem"),
        )
        .unwrap();
        assert_eq!(
            root.read("var/lib/kubelet/pki/kubelet-client-current.pem")
                .unwrap(),
            Some(b"pem".to_vec())
        );
        // A directory link, absolute, then a relative `..` inside the root.
        symlink("/etc/kubernetes", dir.path().join("k8s")).unwrap();
        symlink("../pki/ca.crt", dir.path().join("etc/kubernetes/pki/again")).unwrap();
        assert_eq!(root.read("k8s/pki/again").unwrap(), Some(b"ca".to_vec()));
        assert_eq!(root.read("/k8s/pki/ca.crt").unwrap(), Some(b"ca".to_vec()));
        assert_eq!(root.read("k8s/pki/absent.crt").unwrap(), None);
    }

    #[test]
    fn links_out_of_the_root_are_refused() {
        let (dir, root) = root();
        let base = dir.path();
        symlink("/etc/shadow", base.join("etc/kubernetes/admin.conf")).unwrap();
        symlink("../../../../etc/passwd", base.join("etc/kubernetes/x.conf")).unwrap();
        symlink("/", base.join("etc/kubernetes/top")).unwrap();
        let error = root.read("etc/kubernetes/admin.conf").unwrap_err();
        assert!(
            matches!(&error, RootError::Outside { climbs: false, target, .. } if target == "/etc/shadow"),
            "{error}"
        );
        let error = root.read("etc/kubernetes/x.conf").unwrap_err();
        assert!(
            matches!(&error, RootError::Outside { climbs: true, .. }),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "`etc/kubernetes/x.conf` is a symlink pointing outside the root: not followed \
             (→ `../../../../etc/passwd`, which climbs above the root)"
        );
        // `/` is the root itself; `..` from it climbs out.
        assert_eq!(
            root.read("etc/kubernetes/top/etc/kubernetes/pki/ca.crt")
                .unwrap(),
            Some(b"ca".to_vec())
        );
        symlink("/..", base.join("up")).unwrap();
        assert!(matches!(
            root.read("up/etc/kubernetes/pki/ca.crt"),
            Err(RootError::Outside { climbs: true, .. })
        ));
        assert!(matches!(
            root.read("../etc/passwd"),
            Err(RootError::BadName { .. })
        ));
    }

    #[test]
    fn loops_and_dangling_links_are_refused() {
        let (dir, root) = root();
        let base = dir.path();
        symlink("b", base.join("etc/kubernetes/a")).unwrap();
        symlink("a", base.join("etc/kubernetes/b")).unwrap();
        symlink("missing.crt", base.join("etc/kubernetes/pki/gone.crt")).unwrap();
        assert!(matches!(
            root.read("etc/kubernetes/a"),
            Err(RootError::Loop { .. })
        ));
        let error = root.read("etc/kubernetes/pki/gone.crt").unwrap_err();
        assert!(matches!(error, RootError::Dangling { .. }), "{error}");
    }

    #[test]
    fn fifos_are_reported_without_blocking_and_sizes_are_bounded() {
        let (dir, root) = root();
        let fifo = dir.path().join("etc/kubernetes/pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let error = root.read("etc/kubernetes/pipe").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`etc/kubernetes/pipe` is a named pipe, not a regular file"
        );
        let big = File::create(dir.path().join("etc/kubernetes/big")).unwrap();
        big.set_len(MAX_FILE + 1).unwrap();
        assert!(matches!(
            root.read("etc/kubernetes/big"),
            Err(RootError::TooLarge { .. })
        ));
        big.set_len(MAX_FILE).unwrap();
        assert_eq!(
            root.read("etc/kubernetes/big").unwrap().unwrap().len() as u64,
            MAX_FILE
        );
        assert!(matches!(
            root.read("etc/kubernetes/pki"),
            Err(RootError::NotRegular {
                kind: Kind::Directory,
                ..
            })
        ));
    }

    #[test]
    fn walks_list_files_once_and_report_links() {
        let (dir, root) = root();
        let base = dir.path();
        // A link to an ancestor: walked once, not forever.
        symlink("/etc/kubernetes", base.join("etc/kubernetes/pki/self")).unwrap();
        symlink("/nowhere", base.join("etc/kubernetes/elsewhere")).unwrap();
        let entries = root.walk("etc/kubernetes", 8).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["etc/kubernetes/elsewhere", "etc/kubernetes/pki/ca.crt"]
        );
        assert!(entries[0].found.as_ref().is_err_and(RootError::is_link));
        assert!(root.walk("no/such/dir", 8).unwrap().is_empty());
        assert!(root.walk("etc/kubernetes/elsewhere", 8).is_err());
    }

    #[test]
    fn read_link_gives_a_target_as_written_and_follows_nothing() {
        let (dir, root) = root();
        std::fs::create_dir_all(dir.path().join("proc/77/fd")).unwrap();
        symlink("socket:[4242]", dir.path().join("proc/77/fd/3")).unwrap();
        symlink("/etc/shadow", dir.path().join("proc/77/fd/4")).unwrap();
        symlink("/", dir.path().join("escape")).unwrap();
        assert_eq!(
            root.read_link("proc/77/fd/3").unwrap().as_deref(),
            Some("socket:[4242]")
        );
        assert_eq!(
            root.read_link("/proc/77/fd/4").unwrap().as_deref(),
            Some("/etc/shadow")
        );
        assert_eq!(root.read_link("etc/kubernetes/pki/ca.crt").unwrap(), None);
        assert_eq!(root.read_link("proc/77/fd/9").unwrap(), None);
        assert!(root.read_link("proc/..").is_err());
        // The directories on the way resolve inside the root: `escape` is the root itself.
        assert_eq!(
            root.read_link("escape/proc/77/fd/3").unwrap().as_deref(),
            Some("socket:[4242]")
        );
    }

    #[test]
    fn names_lists_one_directory_and_nothing_else() {
        let (dir, root) = root();
        std::fs::create_dir_all(dir.path().join("proc/1")).unwrap();
        std::fs::create_dir_all(dir.path().join("proc/42")).unwrap();
        std::fs::write(dir.path().join("proc/swaps"), "").unwrap();
        symlink("42", dir.path().join("proc/self")).unwrap();
        assert_eq!(root.names("proc").unwrap(), ["1", "42", "self", "swaps"]);
        assert!(root.names("no/such").unwrap().is_empty());
        assert!(
            root.names("proc/swaps").unwrap().is_empty(),
            "a file has no names"
        );
        symlink("/nowhere/at/all", dir.path().join("out")).unwrap();
        assert!(
            root.names("out/x").is_err(),
            "a link out of the root is refused"
        );
    }
}
