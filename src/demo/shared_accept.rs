//! `tcplab demo shared-accept`: lesson 9, the pre-forked pool. One listening socket is created,
//! then N children are forked; each inherits the same descriptor (the same socket inode, held
//! by N + 1 pids) and blocks in accept(). The kernel wakes one of them per connection. The
//! demo makes a few connections itself, and each worker says which one it took.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::net::{listen_on, PortView};
use super::reap::{reap_exited, stop_and_reap_all};
use super::waiter::{release_stop_signals, Waiter, Wake};
use super::{in_child, say};
use crate::cli::NetDemo;
use crate::kernel::exit::describe;
use crate::kernel::owners::OwnerIndex;
use crate::kernel::{fork::fork_child, subreaper};

const EVERY: Duration = Duration::from_millis(300);

pub fn run(workers: usize, connections: usize, net: NetDemo) -> anyhow::Result<ExitCode> {
    subreaper::become_subreaper().context("cannot become a child subreaper")?;
    let listener = listen_on(net.port, 128)?;
    let addr = listener.local_addr()?;
    let port = addr.port();
    let inode = nix::sys::stat::fstat(&listener)
        .context("fstat on the listener failed")?
        .st_ino;
    let mut pids = Vec::with_capacity(workers);
    for n in 1..=workers {
        let listener = &listener;
        pids.push(fork_child(move || {
            in_child("shared-accept", || worker(n, listener))
        })?);
    }
    let mut waiter = Waiter::with_children(net.common.duration)?;
    let me = std::process::id();
    let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    say(&format!(
        "shared-accept demo: port {port}, pid {me}, listener inode {inode}, workers {}",
        list.join(" ")
    ));
    let mut view = PortView::new(port);
    let mut owners = OwnerIndex::new();
    owners
        .refresh(&view.sockets()?)
        .context("cannot read /proc/PID/fd")?;
    let holders: Vec<String> = owners
        .owners(inode)
        .unwrap_or_default()
        .iter()
        .map(|o| format!("{} (fd {})", o.pid, o.fd))
        .collect();
    say(&format!(
        "  the kernel: socket inode {inode} is held by pids {}",
        holders.join(", ")
    ));
    say(&format!(
        "  look: `tcplab net --port {port} --listen`, `ss -tlnp sport = :{port}`, `ls -l /proc/{}/fd`; connect: `curl -s 127.0.0.1:{port}`",
        pids[0]
    ));
    say(&format!("  stop: Ctrl+C or `kill {me}`"));
    let mut made = 0;
    let stop = loop {
        match waiter.wait(Some(EVERY))? {
            Wake::Stop(stop) => break Some(stop),
            Wake::Tick if made < connections => {
                made += 1;
                if let Err(e) = connect_once(addr) {
                    say(&format!("  connection {made}: {e:#}"));
                }
            }
            Wake::Child => {
                let mut reaped = Vec::new();
                let none_left = reap_exited(&mut reaped);
                for (pid, status) in reaped {
                    say(&format!("  worker {pid} {}", describe(&status)));
                }
                if none_left {
                    break None;
                }
            }
            Wake::Tick | Wake::Signal(_) => {}
        }
    };
    if let Some(stop) = stop {
        say(&format!(
            "shared-accept demo: got {stop}; stopping the workers"
        ));
    }
    for (pid, status) in stop_and_reap_all(&mut waiter, Duration::from_secs(5)) {
        say(&format!("  reaped worker {pid} ({})", describe(&status)));
    }
    say("shared-accept demo: done, nothing left");
    Ok(ExitCode::SUCCESS)
}

/// One connection, as a client: the worker that takes it answers with its pid.
fn connect_once(addr: SocketAddr) -> anyhow::Result<()> {
    let mut conn = TcpStream::connect(addr).context("connect failed")?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .context("no answer from a worker")?;
    Ok(())
}

/// A worker: blocks in accept on the shared listener, says which connection it took, answers
/// with its pid, closes. INT and TERM kill it (the default action): it has nothing to clean up.
fn worker(n: usize, listener: &TcpListener) -> anyhow::Result<()> {
    release_stop_signals()?;
    let me = std::process::id();
    loop {
        let (mut conn, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("accept failed"),
        };
        say(&format!(
            "  worker {n} (pid {me}) took the connection from {peer}"
        ));
        // The client may be gone already; that is its business.
        let _ = writeln!(conn, "worker {n} pid {me}");
    }
}
