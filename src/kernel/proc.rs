//! Single facts about one task from /proc, for code that needs a name, an id or a few fields
//! rather than a scan (`processes.rs` reads every process at once). Parsing is
//! [`super::parse`]'s; this file only opens the files.

use std::fs;
use std::time::Duration;

use super::parse::stat::{parse_stat, Stat};

/// The task's name (`/proc/PID/comm`), None once it is gone.
pub fn comm(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim_end().to_string())
}

/// The process a thread belongs to (`Tgid:` of `/proc/TID/status`; a thread's directory exists
/// although /proc does not list it), None once it is gone.
pub fn tgid(tid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The task's `/proc/PID/stat`, None once it is gone (or if it could not be read or parsed).
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&fs::read(format!("/proc/{pid}/stat")).ok()?).ok()
}

/// The real uid this process runs as.
pub fn own_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// This process's own `/proc/self/stat`.
pub fn own_stat() -> std::io::Result<Stat> {
    let buf = fs::read("/proc/self/stat")?;
    parse_stat(&buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The task's argv as the kernel keeps it (`/proc/PID/cmdline`: NUL-separated), None once it
/// is gone; empty for a kernel thread or a zombie.
pub fn cmdline(pid: i32) -> Option<Vec<u8>> {
    fs::read(format!("/proc/{pid}/cmdline")).ok()
}

/// The processes holding an exclusive `flock(2)` lock on the file whose `stat` is `meta`
/// (`/proc/locks`); empty when none does or the table cannot be read.
pub fn flock_writers(meta: &std::fs::Metadata) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(text) = fs::read_to_string("/proc/locks") else {
        return Vec::new();
    };
    let dev = meta.dev();
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    super::parse::locks::flock_writers(&text, major, minor, meta.ino())
}

/// True for a task that still runs: it exists and is neither a zombie (exited, not yet
/// reaped) nor dead.
pub fn is_live(stat: &Stat) -> bool {
    !matches!(stat.state, 'Z' | 'X')
}

/// The live (non-zombie) children of `pid`, ascending: a server master's workers.
pub fn live_children(pid: i32) -> Vec<i32> {
    let Ok(pids) = super::processes::list_pids() else {
        return Vec::new();
    };
    pids.into_iter()
        .filter_map(stat)
        .filter(|st| st.ppid == pid && is_live(st))
        .map(|st| st.pid)
        .collect()
}

/// When the task started, as time since boot (`start_time` of /proc/PID/stat, as
/// `Process::start_time` has it); None once it is gone. With its pid, it names one process:
/// pids are reused, start times are not.
pub fn start_time(pid: i32) -> Option<Duration> {
    let st = stat(pid)?;
    Some(super::ticks_to_duration(
        st.start_ticks,
        super::clock_ticks(),
    ))
}

/// How long ago the task started (its start time in `/proc/PID/stat` against the machine's
/// uptime), None once it is gone.
pub fn age(pid: i32) -> Option<Duration> {
    let st = stat(pid)?;
    let up = super::host::uptime()?;
    Some(up.saturating_sub(super::ticks_to_duration(
        st.start_ticks,
        super::clock_ticks(),
    )))
}

/// The task's resident memory in bytes, None once it is gone.
pub fn rss_bytes(pid: i32) -> Option<u64> {
    Some(stat(pid)?.rss_pages.max(0) as u64 * super::page_size())
}

/// The inodes of the sockets the process holds (its `/proc/PID/fd` links to `socket:[N]`).
pub fn socket_inodes(pid: i32) -> std::io::Result<Vec<u64>> {
    let mut fds = Vec::new();
    super::fd_walk::socket_fds(&format!("/proc/{pid}/fd"), None, &mut fds)?;
    Ok(fds.into_iter().map(|(_, inode)| inode).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_a_thread_of_it() {
        let me = std::process::id() as i32;
        assert_eq!(tgid(me), Some(me));
        assert!(comm(me).is_some_and(|c| !c.is_empty() && !c.ends_with('\n')));
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        assert_ne!(tid, me);
        assert_eq!(tgid(tid), Some(me), "a thread's process");
        drop(done_tx);
        thread.join().unwrap();
    }

    #[test]
    fn the_fields_of_this_process_and_its_children() {
        let me = std::process::id() as i32;
        let st = stat(me).expect("our own stat");
        assert_eq!(st.pid, me);
        assert!(is_live(&st));
        assert_eq!(own_stat().unwrap().pid, me);
        assert!(rss_bytes(me).is_some_and(|b| b > 0));
        assert!(age(me).is_some_and(|a| a < Duration::from_secs(24 * 3600)));
        let argv = cmdline(me).unwrap();
        assert!(!argv.is_empty() && argv.ends_with(b"\0"));

        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let listed = live_children(me).contains(&pid);
        child.kill().unwrap();
        // Killed but not yet reaped: a zombie, which is not a live child.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while stat(pid).is_some_and(|s| is_live(&s)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let zombie_listed = live_children(me).contains(&pid);
        let zombie = stat(pid).is_some_and(|s| s.state == 'Z');
        child.wait().unwrap();
        assert!(listed, "a running child is listed");
        assert!(zombie, "the killed child is a zombie until reaped");
        assert!(!zombie_listed, "a zombie is not a live child");
        assert!(stat(pid).is_none(), "a reaped child is gone");
        assert!(cmdline(pid).is_none());
    }

    #[test]
    fn the_sockets_a_process_holds() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = std::process::id() as i32;
        let inodes = socket_inodes(me).unwrap();
        use std::os::fd::AsRawFd;
        let target = fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap();
        let inode = super::super::owners::socket_inode(target.to_string_lossy().as_bytes());
        assert!(inodes.contains(&inode.unwrap()));
    }
}
