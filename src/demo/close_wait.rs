//! `tcplab demo close-wait`: the classic leak. Clients connect and close; the application
//! accepted their connections but never reads to EOF and never calls close(), so the kernel
//! keeps each one in CLOSE_WAIT for as long as the process lives (no timer ends CLOSE_WAIT;
//! the peer's side gives up after tcp_fin_timeout). When the demo ends it finally closes them:
//! CLOSE_WAIT → LAST_ACK → CLOSE.

use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::net::{describe, listen_on, PortView};
use super::say;
use super::waiter::{Waiter, Wake};
use crate::cli::NetDemo;
use crate::model::TcpState;
use crate::units::format_duration;

pub fn run(count: usize, net: NetDemo) -> anyhow::Result<ExitCode> {
    let mut waiter = Waiter::new(net.common.duration, &[])?;
    let listener = listen_on(net.port, 128)?;
    let addr = listener.local_addr()?;
    let port = addr.port();
    let pid = std::process::id();
    // The leak: accepted streams kept, never read, never closed.
    let mut leaked = Vec::with_capacity(count);
    for _ in 0..count {
        let client = TcpStream::connect(addr).context("cannot connect to the listener")?;
        let (conn, _) = listener.accept().context("accept failed")?;
        drop(client); // the peer closes: FIN
        leaked.push(conn);
    }
    say(&format!(
        "close-wait demo: port {port}, pid {pid}, {} the peer closed and this process never will",
        crate::units::count(count, "connection", "connections")
    ));
    say(&format!(
        "  look: `tcplab net --port {port} --state CLOSE_WAIT`, `ss -tanp state close-wait sport = :{port}`, `ls -l /proc/{pid}/fd`"
    ));
    say(&format!(
        "  stop: Ctrl+C or `kill {pid}` (only then does it close them)"
    ));
    let mut view = PortView::new(port);
    let deadline = Instant::now() + Duration::from_secs(5);
    let waiting = loop {
        let waiting: Vec<_> = view
            .sockets()?
            .into_iter()
            .filter(|s| s.state == TcpState::CloseWait && s.local.port() == port)
            .collect();
        if waiting.len() >= count || Instant::now() > deadline {
            break waiting;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    for s in &waiting {
        say(&format!("    {}", describe(s)));
    }
    let started = Instant::now();
    let stop = loop {
        match waiter.wait(Some(Duration::from_secs(10)))? {
            Wake::Stop(stop) => break stop,
            Wake::Tick => {
                let n = view
                    .sockets()?
                    .iter()
                    .filter(|s| s.state == TcpState::CloseWait && s.local.port() == port)
                    .count();
                say(&format!(
                    "  after {}: {n} still in CLOSE_WAIT (nothing ends it but close())",
                    format_duration(started.elapsed())
                ));
            }
            Wake::Child | Wake::Signal(_) => {}
        }
    };
    say(&format!(
        "close-wait demo: got {stop}; calling close() on {}: CLOSE_WAIT → LAST_ACK → CLOSE",
        crate::units::count(count, "connection", "connections")
    ));
    drop(leaked);
    drop(listener);
    Ok(ExitCode::SUCCESS)
}
