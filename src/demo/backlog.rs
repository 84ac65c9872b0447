//! `tcplab demo backlog`: a listener with a tiny backlog that never calls accept, and a client
//! that keeps connecting. The kernel completes handshakes into the accept queue until it holds
//! backlog + 1 connections (those clients see ESTABLISHED though nobody accepted them); then it
//! drops further SYNs, and the later clients sit in SYN_SENT, retransmitting with backoff.

use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::socket::{
    connect, getsockname, socket, AddressFamily, SockFlag, SockType, SockaddrIn,
};
use std::os::fd::AsRawFd;

use super::net::{describe, listen_on, PortView};
use super::say;
use super::waiter::{Waiter, Wake};
use crate::cli::NetDemo;
use crate::model::TcpState;

/// Time between connection attempts.
const EVERY: Duration = Duration::from_millis(200);

pub fn run(backlog: u32, clients: usize, net: NetDemo) -> anyhow::Result<ExitCode> {
    let mut waiter = Waiter::new(net.common.duration, &[])?;
    let listener = listen_on(net.port, backlog as i32)?;
    let server = listener.local_addr()?;
    let port = server.port();
    let pid = std::process::id();
    say(&format!(
        "backlog demo: port {port}, pid {pid}, backlog {backlog}, never accepts; {} connect, one every {}ms",
        crate::units::count(clients, "client", "clients"),
        EVERY.as_millis()
    ));
    say(&format!(
        "  look: `tcplab net --port {port}` or `ss -tano '( sport = :{port} or dport = :{port} )'`: LISTEN Recv-Q = queued, Send-Q = backlog; SYN_SENT clients"
    ));
    say(&format!("  stop: Ctrl+C or `kill {pid}`"));
    let mut view = PortView::new(port);
    let mut held: Vec<OwnedFd> = Vec::new();
    let stop = loop {
        match waiter.wait(Some(EVERY))? {
            Wake::Stop(stop) => break stop,
            Wake::Tick if held.len() < clients => {
                let (fd, local) = start_connect(server)?;
                held.push(fd);
                // Loopback handshakes finish at once when the SYN is taken; give it a moment.
                let s = view.wait_for(local, server, Duration::from_millis(300), |s| {
                    s == TcpState::Established
                })?;
                let s = match s {
                    Some(s) => s,
                    None => view
                        .sockets()?
                        .into_iter()
                        .find(|s| s.local == local && s.remote == server)
                        .context("the client socket vanished")?,
                };
                let queue = view
                    .sockets()?
                    .into_iter()
                    .find(|s| s.state == TcpState::Listen && s.local == server);
                let why = match s.state {
                    TcpState::Established => {
                        "handshake done by the kernel; waiting in the accept queue"
                    }
                    TcpState::SynSent => {
                        "accept queue full: the kernel dropped the SYN; the client retransmits"
                    }
                    _ => "",
                };
                say(&format!(
                    "  client {}: {}  ({why})",
                    held.len(),
                    describe(&s)
                ));
                if let Some(q) = queue {
                    say(&format!("    {}", describe(&q)));
                }
            }
            Wake::Tick | Wake::Child | Wake::Signal(_) => {}
        }
    };
    say(&format!(
        "backlog demo: got {stop}; closing {} and the listener",
        crate::units::count(held.len(), "client", "clients")
    ));
    drop(held);
    drop(listener);
    Ok(ExitCode::SUCCESS)
}

/// Starts a non-blocking connect to `server`; returns the socket and its local address.
fn start_connect(server: SocketAddr) -> anyhow::Result<(OwnedFd, SocketAddr)> {
    let SocketAddr::V4(v4) = server else {
        anyhow::bail!("the demo listens on IPv4 only");
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("cannot create a client socket")?;
    match connect(fd.as_raw_fd(), &SockaddrIn::from(v4)) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => return Err(e).with_context(|| format!("connect to {server} failed")),
    }
    let local: SockaddrIn = getsockname(fd.as_raw_fd()).context("getsockname failed")?;
    let local = SocketAddr::V4(SocketAddrV4::new(local.ip(), local.port()));
    Ok((fd, local))
}
