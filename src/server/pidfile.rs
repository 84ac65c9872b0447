//! The server's pid file: where it lives by default, how a running server claims it (an `flock`
//! held for the server's whole life, the pid written atomically after the listener is bound,
//! the file removed on exit), and how the control commands tell a live server from a stale file.
//!
//! The lock, not the pid, is the truth: a pid can be reused by any process after a crash, but the
//! kernel drops an `flock` when the last process holding it dies. Workers inherit the locked file
//! description across fork, so the lock lives exactly as long as some process of the server does.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Pid;

use crate::kernel::proc;

/// `/run/tcplab.pid` as root, else `$XDG_RUNTIME_DIR/tcplab.pid`, else `/tmp/tcplab.pid`.
pub fn default_path() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/tcplab.pid");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("tcplab.pid"),
        _ => PathBuf::from("/tmp/tcplab.pid"),
    }
}

/// What a pid file says about the server it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// No file at that path.
    Missing,
    /// The file is locked by a live tcplab server with this pid.
    Running(Pid),
    /// The file is left over, or garbage; `why` says how we know. Never signal its pid.
    Stale { pid: Option<Pid>, why: String },
    /// The file names a worker of the server whose master is `master` (someone edited it):
    /// signalling the worker would only make the master fork another. Refuse.
    Worker { pid: Pid, master: Pid },
    /// The file names a tcplab server, but its lock is held by `holder` (someone edited it to
    /// name another server): signalling `pid` would stop or reload the wrong one. Refuse.
    NotHolder { pid: Pid, holder: Pid },
}

#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error("another tcplab server (pid {pid}) is already running with pid file {path}")]
    AlreadyRunning { pid: String, path: PathBuf },
    #[error("cannot use pid file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "pid file {path} names pid {pid}, a tcplab server that does not hold its lock; \
         stop that server or remove the file"
    )]
    Foreign { pid: Pid, path: PathBuf },
}

/// A pid file claimed by this server: locked, and removed when dropped by the process that
/// wrote it (a forked worker that inherits this value never removes it).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    lock: Flock<File>,
    owner: Pid,
    /// What was found at the path before we claimed it, for one log line.
    pub replaced: Option<String>,
}

impl PidFile {
    /// Claims `path` before the listener is bound, so a second instance refuses before it
    /// touches the port. Replaces a stale file (and says why in `replaced`).
    pub fn claim(path: &Path) -> Result<PidFile, PidFileError> {
        let io = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        // The same file can be renamed over between our open and our flock (another instance
        // committing its pid); retry until the locked inode is the one at the path.
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(path)
                .map_err(io)?;
            let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((mut file, Errno::EWOULDBLOCK)) => {
                    let pid = read_pid_text(&mut file).unwrap_or_else(|| "unknown".into());
                    return Err(PidFileError::AlreadyRunning {
                        pid,
                        path: path.to_path_buf(),
                    });
                }
                Err((_, errno)) => return Err(io(errno.into())),
            };
            let still_there = match std::fs::metadata(path) {
                Ok(meta) => meta.ino() == lock.metadata().map_err(io)?.ino(),
                Err(_) => false,
            };
            if !still_there {
                continue;
            }
            let old = read_pid_text(&mut lock);
            let replaced = match old.as_deref().map(parse_pid) {
                None => None,
                Some(None) => Some(format!(
                    "stale pid file {}: no pid in it; replacing it",
                    path.display()
                )),
                Some(Some(pid)) => match judge_unlocked(pid) {
                    Judgement::Server => {
                        return Err(PidFileError::Foreign {
                            pid,
                            path: path.to_path_buf(),
                        })
                    }
                    Judgement::Stale(why) => Some(format!(
                        "stale pid file {}: {why}; replacing it",
                        path.display()
                    )),
                },
            };
            return Ok(PidFile {
                path: path.to_path_buf(),
                lock,
                owner: nix::unistd::getpid(),
                replaced,
            });
        }
    }

    /// Writes our pid, atomically: a reader sees the old content or the whole new pid, never
    /// half. The new file is locked before it replaces the old one, so the lock never lapses.
    pub fn commit(&mut self, pid: Pid) -> Result<(), PidFileError> {
        let io = |source| PidFileError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = tmp_path(&self.path, pid);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io)?;
        let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| io(errno.into()))?;
        let written = lock
            .write_all(format!("{pid}\n").as_bytes())
            .and_then(|()| lock.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        self.lock = lock;
        self.owner = pid;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only the writer removes it, and only if the file at the path is still ours.
        if nix::unistd::getpid() != self.owner {
            return;
        }
        let ours = match (std::fs::metadata(&self.path), self.lock.metadata()) {
            (Ok(at_path), Ok(locked)) => at_path.ino() == locked.ino(),
            _ => false,
        };
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn tmp_path(path: &Path, pid: Pid) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{pid}.tmp"));
    path.with_file_name(name)
}

fn read_pid_text(file: &mut File) -> Option<String> {
    use std::io::Seek;
    let mut bytes = Vec::new();
    file.rewind().ok()?;
    file.take(64).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn parse_pid(text: &str) -> Option<Pid> {
    match text.trim().parse::<i32>() {
        Ok(n) if n > 0 => Some(Pid::from_raw(n)),
        _ => None,
    }
}

enum Judgement {
    Server,
    Stale(String),
}

/// Judges the pid of a pid file whose lock nobody holds.
fn judge_unlocked(pid: Pid) -> Judgement {
    match process_kind(pid) {
        ProcessKind::Gone => Judgement::Stale(format!("process {pid} is not running")),
        ProcessKind::Other(what) => Judgement::Stale(not_a_server(pid, &what)),
        ProcessKind::TcplabServer | ProcessKind::TcplabWorker(_) => Judgement::Server,
    }
}

/// Why `pid`, a process named `comm`, is no server. The name is the process's own choice (it
/// may hold a newline or an escape sequence), so it is made printable.
fn not_a_server(pid: Pid, comm: &str) -> String {
    let comm = crate::text::printable(comm);
    format!("process {pid} is `{comm}`, not a tcplab server")
}

/// Reads the pid file at `path` without changing anything: for `stop`, `reload`, `status`.
pub fn inspect(path: &Path) -> Result<Liveness, PidFileError> {
    let io = |source| PidFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Non-blocking: a FIFO put in its place must not hang the command.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            let why = match e.raw_os_error() {
                Some(libc::ENOENT | libc::ENOTDIR) => return Ok(Liveness::Missing),
                Some(libc::ENXIO) => "it is a socket, not a file",
                Some(libc::ELOOP) => "it is a loop of symlinks",
                _ => return Err(io(e)),
            };
            return Ok(Liveness::Stale {
                pid: None,
                why: why.to_string(),
            });
        }
    };
    let meta = file.metadata().map_err(io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        return Ok(Liveness::Stale {
            pid: None,
            why: format!("it is {what}, not a file"),
        });
    }
    let mut bytes = Vec::new();
    (&file).take(64).read_to_end(&mut bytes).map_err(io)?;
    let text = String::from_utf8_lossy(&bytes);
    let Some(pid) = parse_pid(&text) else {
        return Ok(Liveness::Stale {
            pid: None,
            why: format!("it holds no pid ({:?})", text.trim()),
        });
    };
    // A shared lock we can take means no server holds the exclusive one.
    let held = match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_unlocked_on_drop) => false,
        Err((_, Errno::EWOULDBLOCK)) => true,
        Err((_, errno)) => return Err(io(errno.into())),
    };
    Ok(match (held, process_kind(pid)) {
        (_, ProcessKind::Gone) => Liveness::Stale {
            pid: Some(pid),
            why: format!("process {pid} is not running"),
        },
        (_, ProcessKind::Other(what)) => Liveness::Stale {
            pid: Some(pid),
            why: not_a_server(pid, &what),
        },
        (_, ProcessKind::TcplabWorker(master)) => Liveness::Worker { pid, master },
        (true, ProcessKind::TcplabServer) => {
            // The server that wrote the file holds its lock: a pid file edited to name
            // another server's master must not stop that one. (Where the lock table does not
            // show the file, as on some overlay filesystems, the lock being held must do.)
            let holders = proc::flock_writers(&meta);
            match holders.first() {
                Some(&holder) if !holders.contains(&pid.as_raw()) => Liveness::NotHolder {
                    pid,
                    holder: Pid::from_raw(holder),
                },
                _ => Liveness::Running(pid),
            }
        }
        (false, ProcessKind::TcplabServer) => Liveness::Stale {
            pid: Some(pid),
            why: format!("process {pid} is a tcplab server but does not hold the file's lock"),
        },
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum ProcessKind {
    /// No such process, or only its zombie (it has exited; nobody reaped it yet).
    Gone,
    /// A live process that is not `tcplab serve`; holds its command name.
    Other(String),
    /// A server's master, or a one-process server.
    TcplabServer,
    /// A worker: a `tcplab serve` process whose parent, its master, is one too.
    TcplabWorker(Pid),
}

/// What the process `pid` is, from /proc: its state (a zombie counts as gone), its command
/// line (`.../tcplab serve ...`; workers share their master's) and, to tell a worker from its
/// master, its parent's.
pub fn process_kind(pid: Pid) -> ProcessKind {
    let Some((ppid, cmdline)) = live_process(pid) else {
        return ProcessKind::Gone;
    };
    if !is_tcplab_serve(&cmdline) {
        return ProcessKind::Other(proc::comm(pid.as_raw()).unwrap_or_default());
    }
    match live_process(ppid) {
        Some((_, parent)) if is_tcplab_serve(&parent) => ProcessKind::TcplabWorker(ppid),
        _ => ProcessKind::TcplabServer,
    }
}

/// The parent and command line of `pid`, unless it is gone (or only a zombie).
fn live_process(pid: Pid) -> Option<(Pid, Vec<u8>)> {
    let stat = proc::stat(pid.as_raw()).filter(proc::is_live)?;
    let cmdline = proc::cmdline(pid.as_raw()).unwrap_or_default();
    Some((Pid::from_raw(stat.ppid), cmdline))
}

/// True for a NUL-separated argv whose program is `tcplab` and whose subcommand is `serve`.
pub fn is_tcplab_serve(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0).filter(|a| !a.is_empty());
    let Some(program) = args.next() else {
        return false;
    };
    let name = program.rsplit(|&b| b == b'/').next().unwrap_or(program);
    name == b"tcplab" && args.any(|a| a == b"serve")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_tcplab_server_command_line() {
        assert!(is_tcplab_serve(b"/usr/bin/tcplab\0serve\0--daemon\0"));
        assert!(is_tcplab_serve(b"tcplab\0serve\0"));
        assert!(!is_tcplab_serve(b"/usr/bin/tcplab\0status\0"));
        assert!(!is_tcplab_serve(b"/bin/sleep\0serve\0"));
        assert!(!is_tcplab_serve(b""));
    }

    #[test]
    fn claim_commit_and_drop_remove_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pid");
        let me = nix::unistd::getpid();
        let mut pf = PidFile::claim(&path).unwrap();
        assert!(pf.replaced.is_none());
        pf.commit(me).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{me}\n"));
        // The test binary is not `tcplab serve`, but the lock is held: a second claim refuses.
        match PidFile::claim(&path) {
            Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, me.to_string()),
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        drop(pf);
        assert!(!path.exists());
        assert_eq!(inspect(&path).unwrap(), Liveness::Missing);
    }

    #[test]
    fn a_dead_pid_is_stale_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pid");
        // A child that has exited and been reaped: its pid names no process now.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(&path, format!("{dead}\n")).unwrap();
        match inspect(&path).unwrap() {
            Liveness::Stale { pid, why } => {
                assert_eq!(pid, Some(Pid::from_raw(dead as i32)));
                assert!(why.contains("not running"), "{why}");
            }
            other => panic!("expected stale, got {other:?}"),
        }
        let pf = PidFile::claim(&path).unwrap();
        assert!(pf.replaced.as_deref().unwrap().contains("stale pid file"));
    }

    #[test]
    fn a_live_pid_that_is_not_tcplab_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pid");
        std::fs::write(&path, format!("{}\n", nix::unistd::getpid())).unwrap();
        match inspect(&path).unwrap() {
            Liveness::Stale { why, .. } => assert!(why.contains("not a tcplab server"), "{why}"),
            other => panic!("expected stale, got {other:?}"),
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            inspect(&path).unwrap(),
            Liveness::Stale { pid: None, .. }
        ));
    }
}
