//! The only code that reads or changes the OS: processes and sockets, owners, transitions,
//! signals, the subreaper. Everything above works on `crate::model` values.
//!
//! Reading the machine: [`live::LiveSource`] is the `model::SnapshotSource` the dashboard and
//! the commands use (processes + sockets + owners, cached between refreshes);
//! [`sockets::SocketScanner`] alone is the cheap sockets-only scan; [`owners::OwnerIndex`]
//! answers "who holds inode N". Parsers are in [`parse`], fed bytes, never paths.
//! [`uring`] is the io_uring ring the server's `uring` model submits to.

pub mod beneath;
mod dump_split;
pub mod exit;
pub mod family;
pub mod faults;
mod fd_walk;
pub mod fork;
pub mod host;
pub mod live;
pub mod net;
pub mod netns;
pub mod netstat;
pub mod owners;
pub mod parse;
pub mod proc;
pub mod processes;
pub mod signals;
pub mod sockets;
pub mod subreaper;
pub mod tracefs;
pub mod tty;
pub mod uring;
pub mod users;

use std::time::Duration;

/// Clock ticks per second (`CLK_TCK`): the unit of /proc's times and /proc/net/tcp's timers.
pub fn clock_ticks() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 100,
    }
}

pub fn page_size() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 4096,
    }
}

/// Converts /proc clock ticks to time.
pub fn ticks_to_duration(ticks: u64, clk_tck: u64) -> Duration {
    let clk = clk_tck.max(1);
    Duration::from_secs(ticks / clk) + Duration::from_nanos((ticks % clk) * 1_000_000_000 / clk)
}

/// A read of a /proc file that can fail in the two ways that mean different things.
#[derive(Debug)]
pub(crate) enum ProcRead {
    /// The process is gone (exited between listing and reading): skip it.
    Vanished,
    /// The file exists but may not be read by this user: the field is unknown.
    Denied,
    Other,
}

impl From<std::io::Error> for ProcRead {
    fn from(e: std::io::Error) -> ProcRead {
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => ProcRead::Vanished,
            Some(libc::EACCES) | Some(libc::EPERM) => ProcRead::Denied,
            _ => ProcRead::Other,
        }
    }
}

/// Reads a whole /proc file into `buf` (cleared first), reusing its allocation.
pub(crate) fn read_into(path: &str, buf: &mut Vec<u8>) -> Result<(), ProcRead> {
    use std::io::Read;
    buf.clear();
    let mut f = std::fs::File::open(path)?;
    f.read_to_end(buf)?;
    Ok(())
}
