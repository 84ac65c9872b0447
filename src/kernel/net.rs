//! Opening a TCP listener, for the server and the demos alike: SO_REUSEADDR (a restarted
//! server or demo must not wait for its old connections' TIME_WAIT), optionally SO_REUSEPORT,
//! close-on-exec, and the backlog asked for. And a connection whose local address is known
//! before the kernel has any connection to show ([`connect_announced`]).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

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

/// Connects to `addr` within `timeout`, calling `bound` with the local address. To a loopback
/// address the socket is bound first, and `bound` called before it connects: whoever is told
/// of that address learns it before any scan of the kernel's sockets can show the connection.
/// (Elsewhere the local address is known only once connected, and `bound` is called then.)
pub fn connect_announced(
    addr: SocketAddr,
    timeout: Duration,
    bound: impl FnOnce(SocketAddr),
) -> std::io::Result<TcpStream> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    let fd = socket::socket(family, SockType::Stream, flags, None)?;
    let mut bound = Some(bound);
    if addr.ip().is_loopback() {
        let at = SocketAddr::new(addr.ip(), 0);
        socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(at))?;
        let local = socket::getsockname::<SockaddrStorage>(fd.as_raw_fd())?;
        let port = (local.as_sockaddr_in().map(|a| a.port()))
            .or_else(|| local.as_sockaddr_in6().map(|a| a.port()))
            .ok_or_else(|| std::io::Error::other("bound to no port"))?;
        if let Some(tell) = bound.take() {
            tell(SocketAddr::new(addr.ip(), port));
        }
    }
    match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
        Ok(()) => {}
        Err(Errno::EINPROGRESS) => {
            let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
            if poll(&mut fds, PollTimeout::from(ms))? == 0 {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            let err = socket::getsockopt(&fd, sockopt::SocketError)?;
            if err != 0 {
                return Err(std::io::Error::from_raw_os_error(err));
            }
        }
        Err(e) => return Err(e.into()),
    }
    let stream = TcpStream::from(fd);
    stream.set_nonblocking(false)?;
    if let Some(tell) = bound {
        tell(stream.local_addr()?);
    }
    Ok(stream)
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

    /// To loopback, the local address is told before the connection exists (nothing is in
    /// the listener's queue yet) and is the one the connection then has.
    #[test]
    fn a_loopback_connection_is_announced_before_it_exists() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let mut told = None;
        let stream = connect_announced(
            listener.local_addr().unwrap(),
            Duration::from_secs(5),
            |a| {
                let queued = listener.accept();
                assert!(queued.is_err(), "already connected: {queued:?}");
                told = Some(a);
            },
        )
        .unwrap();
        assert_eq!(told, Some(stream.local_addr().unwrap()));
        listener.set_nonblocking(false).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(Some(peer), told);
        // Nothing listens: refused, as a plain connect would be.
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = connect_announced(free, Duration::from_secs(5), |_| {}).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
