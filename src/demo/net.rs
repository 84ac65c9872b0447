//! What the network demos share: a listener on 127.0.0.1 with a chosen backlog, and the
//! kernel's own view of the sockets on the demo's port (the same scan `tcplab net` makes), so
//! every state a demo announces is one the kernel reported, not one it assumed.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::kernel::net::ReusePort;
use crate::kernel::sockets::{ScanOptions, SocketScanner};
use crate::model::{Socket, TcpState, TimerKind};
use crate::units::format_duration;

/// Listens on 127.0.0.1:`port` (0: any free port) with `backlog`.
pub fn listen_on(port: u16, backlog: i32) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    Ok(crate::kernel::net::listen(addr, backlog, ReusePort::No)?)
}

/// The kernel's sockets with `port` at either end, on loopback, read fresh. The kernel filters
/// by port: a demo that looks every few milliseconds must not dump every socket of a busy
/// machine each time (seconds at tens of thousands), or "one client every 200ms" would become
/// one every few seconds.
pub struct PortView {
    scanner: SocketScanner,
}

impl PortView {
    pub fn new(port: u16) -> PortView {
        PortView {
            scanner: SocketScanner::with(ScanOptions {
                port: Some(port),
                ..ScanOptions::default()
            }),
        }
    }

    pub fn sockets(&mut self) -> anyhow::Result<Vec<Socket>> {
        let scan = self.scanner.scan().context("cannot list TCP sockets")?;
        Ok(scan
            .sockets
            .into_iter()
            .filter(|s| s.local.ip().is_loopback())
            .collect())
    }

    /// The socket with exactly these ends, once it is in a state `want` accepts; None when
    /// `timeout` passes first (the last seen state is then what the caller reports).
    pub fn wait_for(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        timeout: Duration,
        want: impl Fn(TcpState) -> bool,
    ) -> anyhow::Result<Option<Socket>> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .sockets()?
                .into_iter()
                .find(|s| s.local == local && s.remote == remote);
            if let Some(s) = found.filter(|s| want(s.state)) {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `TIME_WAIT   127.0.0.1:41234 -> 127.0.0.1:8080  time-wait timer 59.9s`, one line per socket.
pub fn describe(s: &Socket) -> String {
    let timer = match s.timer.kind {
        TimerKind::Off => String::new(),
        kind => format!(
            "  {} timer {}{}",
            match kind {
                TimerKind::Retransmit => "retransmit",
                TimerKind::Keepalive => "keepalive",
                TimerKind::TimeWait => "time-wait",
                TimerKind::Probe => "probe",
                TimerKind::Off => "",
            },
            format_duration(s.timer.expires_in),
            if s.timer.retransmits > 0 {
                format!(" ({} retransmits)", s.timer.retransmits)
            } else {
                String::new()
            }
        ),
    };
    let queues = if s.state == TcpState::Listen {
        format!("  accept queue {}/{}", s.recv_q, s.send_q)
    } else {
        String::new()
    };
    format!(
        "{:<11} {} -> {}{queues}{timer}",
        s.state.kernel_name(),
        s.local,
        s.remote
    )
}
