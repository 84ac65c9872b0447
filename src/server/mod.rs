//! `tcplab serve` and its control commands.
//!
//! The HTTP layer is pure and shared by every model: [`http`] (request heads), [`body`]
//! (request bodies), [`response`] (encoding), [`routes`] (what is answered), [`exchange`]
//! (bytes in, answers out, for one connection). The reactor model is [`reactor`] (the mio loop)
//! and [`conn`] (one connection's state machine). [`stats`] are the counters `/status` shows,
//! laid out to live in memory shared between processes.
pub mod body;
pub mod config;
pub mod conn;
pub mod control;
pub mod date;
pub mod exchange;
pub mod http;
pub mod logs;
pub mod reactor;
pub mod response;
pub mod routes;
pub mod slab;
pub mod static_files;
pub mod stats;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use nix::errno::Errno;

use crate::cli::{Model, ServeArgs};
use config::Config;
use stats::Scoreboard;

/// `tcplab serve`: bind, say so on stderr, serve until a signal says stop.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.model != Model::Reactor {
        eprintln!(
            "tcplab serve: --model {} is not available yet in this version (try --model reactor)",
            args.model.name()
        );
        return Ok(ExitCode::from(2));
    }
    if args.workers.is_some_and(|n| n != 1) || args.daemon || args.pid_file.is_some() {
        eprintln!(
            "tcplab serve: --workers, --daemon and --pid-file are not available yet in this version"
        );
        return Ok(ExitCode::from(2));
    }
    let config = match Config::from_args(&args).and_then(|c| c.check_logs().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tcplab serve: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let listener = match bind(args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let addr = listener.local_addr()?;
    eprintln!("{}", ready_line(addr, config.model, 1));
    match reactor::run(listener, &config, Scoreboard::single()) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("tcplab serve: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The accept queue's length (the kernel caps it at net.core.somaxconn). std's 128 drops
/// SYNs when hundreds of clients connect at once; nginx uses 511.
const BACKLOG: i32 = 1024;

/// Binds the listening socket; the error is the one line a user should see.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    listen(addr).map_err(|e| {
        let why = match e {
            Errno::EADDRINUSE => "address already in use".to_string(),
            Errno::EACCES => "permission denied".to_string(),
            Errno::EADDRNOTAVAIL => "address not available".to_string(),
            e => e.desc().to_lowercase(),
        };
        format!("tcplab serve: cannot listen on {addr}: {why}")
    })
}

fn listen(addr: SocketAddr) -> nix::Result<TcpListener> {
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    // A restarted server must not wait for its old connections' TIME_WAIT to end.
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    socket::listen(&fd, socket::Backlog::new(BACKLOG)?)?;
    Ok(TcpListener::from(fd))
}

/// The line tests and scripts wait for (DESIGN.md).
pub fn ready_line(addr: SocketAddr, model: &str, workers: usize) -> String {
    format!(
        "tcplab serve: listening on http://{addr} (model {model}, {workers} workers, pid {})",
        std::process::id()
    )
}
