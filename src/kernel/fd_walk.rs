//! The socket descriptors of one process: every `/proc/PID/fd/N` that is a socket, with its
//! inode. One lookup per descriptor is the whole cost of finding owners, so this file is about
//! doing as few and as cheap kernel calls as the kernel allows:
//!
//! - Descriptors are probed by number (`0..count`, where `count` is the size of the fd
//!   directory on Linux 6.2+) instead of being listed first: in the dense tables nearly every
//!   process has, the listing (`getdents`) costs a dcache lookup per entry for nothing. What
//!   lies beyond `count` (a sparse table) is then listed, starting there.
//! - A large table is split into ranges of numbers read by several threads.
//! - Each probe is one `readlinkat` relative to the open directory (no path walk from `/`),
//!   into a stack buffer (no allocation). `statx` through the link measured no faster, and
//!   readlink never touches the file behind a descriptor (a hung NFS mount cannot stall it).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, RawDir, SeekFrom};

/// Above this many descriptors a directory is read by several threads: a process holding
/// thousands of sockets is where the walk's cost adds up.
const PARALLEL_FDS: u32 = 4096;

/// Reads the socket descriptors of the fd directory `dir_path` into `out` as (fd, inode).
/// `count` is the directory's size when the kernel reports the descriptor count there.
pub fn socket_fds(
    dir_path: &str,
    count: Option<usize>,
    out: &mut Vec<(i32, u64)>,
) -> io::Result<()> {
    let dir = open_dir(dir_path)?;
    let Some(count) = count.map(|c| c.min(i32::MAX as usize) as u32) else {
        // No count to probe up to: list everything.
        return list_from(&dir, 0, out);
    };
    static THREADS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let threads = *THREADS
        .get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as u32);
    if count < PARALLEL_FDS || threads < 2 {
        probe(&dir, 0, count, out);
        return list_from(&dir, count, out);
    }
    let chunk = count.div_ceil(threads);
    let parts: Vec<Vec<(i32, u64)>> = std::thread::scope(|scope| {
        let dir = &dir;
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                scope.spawn(move || {
                    let mut found = Vec::with_capacity(chunk as usize);
                    probe(dir, i * chunk, ((i + 1) * chunk).min(count), &mut found);
                    found
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for part in parts {
        out.extend(part);
    }
    list_from(&dir, count, out)
}

fn open_dir(path: &str) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

/// Probes descriptor numbers `from..to`; a number with no descriptor is simply not there.
fn probe(dir: &OwnedFd, from: u32, to: u32, out: &mut Vec<(i32, u64)>) {
    let mut name = [0u8; 21];
    for fd in from..to {
        if let Some(inode) = socket_at(dir, decimal(&mut name, fd)) {
            out.push((fd as i32, inode));
        }
    }
}

/// Lists the descriptors numbered `from` and above and keeps the sockets. /proc's fd
/// directories position each entry at its number + 2 (after `.` and `..`), so the listing
/// starts at `from` directly. A fresh descriptor of the directory is used: the position is
/// per open file, and the probing threads share `dir`.
fn list_from(dir: &OwnedFd, from: u32, out: &mut Vec<(i32, u64)>) -> io::Result<()> {
    let listing = rustix::fs::openat(
        dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if from > 0 {
        rustix::fs::seek(&listing, SeekFrom::Start(u64::from(from) + 2))?;
    }
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut entries = RawDir::new(&listing, buf.spare_capacity_mut());
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name();
        let Some(fd) = super::parse::dec_u64(name.to_bytes()) else {
            continue; // `.` and `..`
        };
        if fd < u64::from(from) {
            continue;
        }
        if let Some(inode) = socket_at(dir, name) {
            out.push((fd as i32, inode));
        }
    }
    Ok(())
}

/// The socket inode behind descriptor `name` of the fd directory `dir`; None for anything
/// else, or when the descriptor is gone.
fn socket_at(dir: impl AsFd, name: &std::ffi::CStr) -> Option<u64> {
    let mut link = [MaybeUninit::<u8>::uninit(); 64];
    let (target, _) = rustix::fs::readlinkat_raw(dir, name, &mut link[..]).ok()?;
    super::owners::socket_inode(target)
}

/// `n` in decimal, NUL-terminated, in `buf`: a path name for the *at calls.
fn decimal(buf: &mut [u8; 21], n: u32) -> &std::ffi::CStr {
    let mut digits = [0u8; 20];
    let digits = crate::units::decimal(u64::from(n), &mut digits);
    buf[..digits.len()].copy_from_slice(digits);
    buf[digits.len()] = 0;
    std::ffi::CStr::from_bytes_with_nul(&buf[..=digits.len()]).expect("digits then one NUL")
}
