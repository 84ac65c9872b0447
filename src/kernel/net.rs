//! Opening a TCP listener, for the server and the demos alike: SO_REUSEADDR (a restarted
//! server or demo must not wait for its old connections' TIME_WAIT), optionally SO_REUSEPORT,
//! close-on-exec, and the backlog asked for.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};

/// Whether other sockets may bind the same address at once (the kernel then spreads new
/// connections across them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReusePort {
    No,
    Yes,
}

/// Why a listener could not be opened: one line a user should see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot listen on {addr}: {}", why(*.errno))]
pub struct ListenError {
    pub addr: SocketAddr,
    pub errno: Errno,
}

fn why(errno: Errno) -> String {
    match errno {
        Errno::EADDRINUSE => "address already in use".to_string(),
        Errno::EACCES => "permission denied".to_string(),
        Errno::EADDRNOTAVAIL => "address not available".to_string(),
        e => e.desc().to_lowercase(),
    }
}

/// A listening TCP socket on `addr` with an accept queue of `backlog` (the kernel caps it at
/// net.core.somaxconn).
pub fn listen(
    addr: SocketAddr,
    backlog: i32,
    reuseport: ReusePort,
) -> Result<TcpListener, ListenError> {
    open(addr, backlog, reuseport).map_err(|errno| ListenError { addr, errno })
}

fn open(addr: SocketAddr, backlog: i32, reuseport: ReusePort) -> nix::Result<TcpListener> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if reuseport == ReusePort::Yes {
        socket::setsockopt(&fd, sockopt::ReusePort, &true)?;
    }
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    socket::listen(&fd, socket::Backlog::new(backlog)?)?;
    Ok(TcpListener::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_port_is_one_line() {
        let first = listen("127.0.0.1:0".parse().unwrap(), 16, ReusePort::No).unwrap();
        let addr = first.local_addr().unwrap();
        let err = listen(addr, 16, ReusePort::No).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {addr}: address already in use")
        );
        // With SO_REUSEPORT on both, a second socket may bind the same address.
        let a = listen("127.0.0.1:0".parse().unwrap(), 16, ReusePort::Yes).unwrap();
        let b = listen(a.local_addr().unwrap(), 16, ReusePort::Yes);
        assert!(b.is_ok(), "{b:?}");
    }
}
