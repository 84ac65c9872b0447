//! Opening a path under a directory so that nothing outside it is ever opened, whatever is
//! renamed or relinked meanwhile (`serve --root`).
//!
//! Checking a path and then opening it is a race: between the two, anyone who may rename
//! entries under the directory can swap a checked directory for a symlink that leads out.
//! So the check and the open are one step, relative to a descriptor of the directory opened
//! once: `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, where the kernel refuses
//! (`EXDEV`) any step of the resolution that would leave the directory: a `..` above it, an
//! absolute symlink, a relative one that climbs out, a `/proc` magic link. Symlinks that stay
//! inside keep working. Where `openat2` is missing (`ENOSYS`, kernels before 5.6) or refused
//! (`EPERM` from a seccomp profile that predates it, as older container runtimes had) the same
//! rules are applied by hand, one component at a time from descriptors already open, never
//! following a symlink in the kernel (see [`walk`]).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{openat, openat2, readlinkat, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How many symlinks one resolution may follow, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// `openat2` answers `EAGAIN` when a rename elsewhere raced a `..` it was resolving; it is
/// asked again this many times before the error is passed on.
const AGAIN_TRIES: usize = 16;

/// Set once `openat2` answered `ENOSYS`, or was refused when [`Beneath::open`] tried it on the
/// directory itself: every later open walks by hand at once.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// A directory, opened once, under which paths are opened.
#[derive(Debug)]
pub struct Beneath {
    dir: OwnedFd,
    path: PathBuf,
}

impl Beneath {
    /// Opens `dir` (which must be a directory). Later opens resolve from this descriptor, so
    /// renaming `dir` itself afterwards moves what is served along with it.
    pub fn open(dir: &Path) -> io::Result<Beneath> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(dir, flags, Mode::empty())?;
        // The directory itself just opened: if openat2 cannot open it, openat2 is missing or
        // forbidden here (a seccomp filter answering EPERM), not the directory.
        let probe = openat2(&fd, ".", flags, Mode::empty(), resolve_flags());
        if let Err(Errno::NOSYS | Errno::PERM) = probe {
            NO_OPENAT2.store(true, Ordering::Relaxed);
        }
        Ok(Beneath {
            dir: fd,
            path: dir.to_path_buf(),
        })
    }

    /// The path the directory was opened by (for messages only).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `rel` (`/`-separated; empty or `.` is the directory itself) for reading,
    /// non-blocking (a FIFO must not stall the caller). The errors are the kernel's: `EXDEV`
    /// for a way out, `ENOENT`, `ENOTDIR`, `ELOOP`, `EACCES`, `EMFILE`, ...
    pub fn open_read(&self, rel: &[u8]) -> io::Result<File> {
        let rel = if rel.is_empty() { &b"."[..] } else { rel };
        let flags = read_flags();
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            let resolve = resolve_flags();
            let mut tries = 0;
            loop {
                match openat2(
                    &self.dir,
                    OsStr::from_bytes(rel),
                    flags,
                    Mode::empty(),
                    resolve,
                ) {
                    Ok(fd) => return Ok(File::from(fd)),
                    Err(Errno::AGAIN) if tries < AGAIN_TRIES => tries += 1,
                    Err(Errno::NOSYS) => {
                        NO_OPENAT2.store(true, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        walk(self.dir.as_fd(), rel, flags)
    }
}

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS
}

fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY
}

/// `openat2`'s rules by hand: each component is opened with `O_NOFOLLOW` from the descriptor
/// of the one before; a symlink met on the way is read through the descriptor that found it
/// and its target's components are walked the same way; `..` goes back to a descriptor already
/// held, never through the kernel's `..`, and going above `root` is `EXDEV`, as is an absolute
/// target. Whatever is renamed meanwhile, every step starts from a directory that was inside.
pub(crate) fn walk(root: BorrowedFd<'_>, rel: &[u8], flags: OFlags) -> io::Result<File> {
    // Directories entered below `root`, innermost last; `..` pops one.
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut todo: VecDeque<Vec<u8>> = components(rel).collect();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        let at = dirs.last().map_or(root, |d| d.as_fd());
        match name.as_slice() {
            b"." => continue,
            b".." => {
                if dirs.pop().is_none() {
                    return Err(Errno::XDEV.into());
                }
                continue;
            }
            _ => {}
        }
        let name_os = OsStr::from_bytes(&name);
        let target = if todo.is_empty() {
            // The last component: open it for reading, unless it is a symlink.
            match openat(at, name_os, flags | OFlags::NOFOLLOW, Mode::empty()) {
                Ok(fd) => return Ok(File::from(fd)),
                Err(Errno::LOOP) => match readlinkat(at, name_os, Vec::new()) {
                    Ok(t) => t.into_bytes(),
                    // No longer a symlink: look at the entry again (counted as a link, so
                    // that a swap loop cannot keep this going forever).
                    Err(Errno::INVAL) => {
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(Errno::LOOP.into());
                        }
                        todo.push_front(name);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            }
        } else {
            let path_flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = openat(at, name_os, path_flags, Mode::empty())?;
            match FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) {
                FileType::Directory => {
                    dirs.push(fd);
                    continue;
                }
                // The link this descriptor holds, whatever the name points at by now.
                FileType::Symlink => readlinkat(&fd, "", Vec::new())?.into_bytes(),
                _ => return Err(Errno::NOTDIR.into()),
            }
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(Errno::LOOP.into());
        }
        if target.starts_with(b"/") {
            return Err(Errno::XDEV.into());
        }
        if target.is_empty() {
            return Err(Errno::NOENT.into());
        }
        for part in components(&target).rev() {
            todo.push_front(part);
        }
    }
    // The path ended in the directory we are in ("", "a/.", "a/b/..").
    let at = dirs.last().map_or(root, |d| d.as_fd());
    Ok(File::from(openat(at, ".", flags, Mode::empty())?))
}

/// `a//b/./c` → `a`, `b`, `.`, `c` (empty components dropped, `.` and `..` kept).
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    /// `top/www` is the directory; `top/outside/secret` lies outside it.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let www = top.path().join("www");
        std::fs::create_dir_all(www.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(top.path().join("outside")).unwrap();
        std::fs::write(top.path().join("outside/secret"), "OUTSIDE").unwrap();
        std::fs::write(www.join("sub/a.txt"), "inside").unwrap();
        symlink("sub/a.txt", www.join("rel")).unwrap();
        symlink("../a.txt", www.join("sub/deeper/up")).unwrap();
        symlink("sub", www.join("subdir")).unwrap();
        symlink("loop", www.join("loop")).unwrap();
        symlink(www.join("sub/a.txt"), www.join("abs")).unwrap();
        symlink("../outside/secret", www.join("out")).unwrap();
        symlink("../outside", www.join("outdir")).unwrap();
        symlink("/proc/self/root/etc/passwd", www.join("magic")).unwrap();
        (top, www)
    }

    fn read(f: io::Result<File>) -> Result<String, Option<i32>> {
        let mut s = String::new();
        f.map_err(|e| e.raw_os_error())?
            .read_to_string(&mut s)
            .map_err(|e| e.raw_os_error())?;
        Ok(s)
    }

    /// Both ways of opening give the same answers.
    fn both(b: &Beneath, rel: &str) -> Result<String, Option<i32>> {
        let kernel = read(b.open_read(rel.as_bytes()));
        let by_hand = read(walk(b.dir.as_fd(), rel.as_bytes(), read_flags()));
        assert_eq!(kernel, by_hand, "{rel}");
        kernel
    }

    #[test]
    fn links_inside_are_followed_and_every_way_out_is_exdev() {
        let (_top, www) = tree();
        let b = Beneath::open(&www).unwrap();
        for ok in [
            "sub/a.txt",
            "rel",
            "sub/deeper/up",
            "subdir/a.txt",
            "sub/../rel",
        ] {
            assert_eq!(both(&b, ok), Ok("inside".into()), "{ok}");
        }
        let xdev = Err(Some(libc::EXDEV));
        for out in [
            "out",
            "outdir/secret",
            "../outside/secret",
            "sub/../../outside/secret",
            "abs",
            "magic",
        ] {
            assert_eq!(both(&b, out), xdev, "{out}");
        }
        assert_eq!(both(&b, "loop"), Err(Some(libc::ELOOP)));
        assert_eq!(both(&b, "missing"), Err(Some(libc::ENOENT)));
        assert_eq!(both(&b, "sub/a.txt/x"), Err(Some(libc::ENOTDIR)));
        // The directory itself opens (as a directory: reading it is EISDIR).
        assert_eq!(both(&b, "sub/.."), Err(Some(libc::EISDIR)));
    }

    /// The attack `serve --root` once lost to: a directory inside swapped, again and again,
    /// with a symlink to a directory outside. Neither way of opening may ever read outside.
    #[test]
    fn a_swap_race_never_reads_outside() {
        let (_top, www) = tree();
        std::fs::create_dir(www.join("race")).unwrap();
        std::fs::write(www.join("race/secret"), "inside").unwrap();
        let outside = www.parent().unwrap().join("outside");
        symlink(&outside, www.join("swap")).unwrap();
        let b = Beneath::open(&www).unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, www) = (stop.clone(), www.clone());
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        www.join("race"),
                        rustix::fs::CWD,
                        www.join("swap"),
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .unwrap();
                    swaps += 1;
                }
                swaps
            })
        };
        let (mut inside, mut outside_reads, mut tries) = (0, 0, 0);
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            for f in [
                b.open_read(b"race/secret"),
                walk(b.dir.as_fd(), b"race/secret", read_flags()),
            ] {
                tries += 1;
                match read(f).as_deref() {
                    Ok("inside") => inside += 1,
                    Ok(_) => outside_reads += 1,
                    Err(_) => {}
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let swaps = swapper.join().unwrap();
        assert!(swaps > 100, "the swap loop ran {swaps} times");
        assert!(inside > 0, "nothing read at all in {tries} tries");
        assert_eq!(
            outside_reads, 0,
            "{outside_reads} of {tries} reads were outside"
        );
    }
}
