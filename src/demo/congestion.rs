//! `tcplab demo congestion`: inside a connection (lesson 20). A sender and a receiver in two
//! private network namespaces, joined by a veth pair whose sending end is shaped by a `tbf`
//! qdisc: a rate and a short queue. The sender writes as fast as it can; the queue overflows,
//! packets are dropped, and the kernel's congestion control shows what it does about it. Every
//! half second the demo prints the sender's `tcp_info` as the kernel reports it (the same scan
//! `tcplab net --info` makes): congestion window, slow-start threshold, rtt (queueing delay on
//! top of the wire), retransmissions, throughput.
//!
//! The namespaces go away on every exit: the demo's end, a signal, an error (`Lab`'s drop).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::socket::{setsockopt, sockopt};

use super::say;
use super::waiter::{Waiter, Wake};
use crate::cli::CongestionDemo;
use crate::kernel::netns::{Lab, LabError, Shaping};
use crate::kernel::sockets::{ScanDetail, ScanOptions, SocketScanner};
use crate::model::rates::Counters;
use crate::model::tcp_info::us_as_ms;
use crate::model::{Socket, TcpState};
use crate::units::format_size;

const TICK: Duration = Duration::from_millis(500);

pub fn run(args: CongestionDemo) -> anyhow::Result<ExitCode> {
    let mut waiter = Waiter::new(args.common.duration, &[])?;
    let shaping = Shaping {
        rate_bits: args.rate_mbit as u64 * 1_000_000,
        queue_bytes: args.queue,
    };
    let lab = match Lab::create(shaping) {
        Ok(lab) => lab,
        Err(LabError::Unavailable(why)) => {
            eprintln!("tcplab demo congestion: {why}");
            return Ok(ExitCode::from(2));
        }
        Err(LabError::Failed(why)) => anyhow::bail!("cannot set up the namespaces: {why}"),
    };
    let (sender, receiver) = match connect(&lab, args.congestion.as_deref()) {
        Ok(pair) => pair,
        // A name the kernel does not know is bad input: usage, after the lab is gone.
        Err(e) if e.downcast_ref::<UnknownCongestion>().is_some() => {
            drop(lab);
            eprintln!("tcplab demo congestion: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e),
    };
    let peer = receiver.local_addr()?;
    let local = sender.local_addr()?;
    // This thread stays in the sender's namespace: the scanner's netlink socket is made there,
    // and sees the sender's socket.
    let mut scanner = SocketScanner::with(ScanOptions {
        detail: ScanDetail::TcpInfo,
        ..ScanOptions::default()
    });
    let first = find(&mut scanner, local, peer)?;
    let algorithm = first
        .as_ref()
        .and_then(|s| s.info.as_ref()?.congestion)
        .map_or_else(|| "?".to_string(), |c| c.to_string());
    let pid = std::process::id();
    say(&format!(
        "congestion demo: pid {pid}; sender {local} in netns {}, receiver {peer} in netns {}; tbf {} Mbit/s, queue {}; congestion control {algorithm}",
        lab.sender,
        lab.receiver,
        args.rate_mbit,
        format_size(args.queue),
    ));
    say(&format!(
        "  look: `ip netns exec {} tcplab net --info` or `ip netns exec {} ss -ti`",
        lab.sender, lab.sender
    ));
    say(&format!("  stop: Ctrl+C or `kill {pid}`"));
    say("  time    cwnd ssthresh   rtt_ms  retrans  lost    send/s  state");

    let stop = Arc::new(AtomicBool::new(false));
    let sender_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (mut stream, stop, done) = (sender.try_clone()?, stop.clone(), sender_done.clone());
        let until = args.send.map(|d| Instant::now() + d);
        std::thread::spawn(move || {
            let chunk = [0x5au8; 64 * 1024];
            while !stop.load(Ordering::Relaxed) && until.is_none_or(|u| Instant::now() < u) {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    let reader = {
        let mut stream = receiver.try_clone()?;
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        })
    };

    let started = Instant::now();
    let mut last = first.map(|s| (Counters::of(std::slice::from_ref(&s)), Instant::now()));
    let mut reported_done = false;
    let outcome = loop {
        match waiter.wait(Some(TICK)) {
            Ok(Wake::Stop(stop)) => break Ok(stop),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
        let now = Instant::now();
        let sock = match find(&mut scanner, local, peer) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => break Err(e),
        };
        let rate = last
            .as_ref()
            .and_then(|(c, at)| c.rates(std::slice::from_ref(&sock), now - *at)[0]);
        if let Some(info) = &sock.info {
            say(&format!(
                "  {:>5.1}s {:>6} {:>8} {:>8} {:>8} {:>5} {:>9}  {}",
                started.elapsed().as_secs_f64(),
                info.snd_cwnd,
                info.ssthresh().map_or("-".to_string(), |s| s.to_string()),
                info.rtt_us()
                    .map_or("-".to_string(), |r| format!("{:.2}", us_as_ms(r))),
                format!("{}/{}", info.retrans, info.total_retrans),
                info.lost,
                rate.map_or("-".to_string(), |r| format_size(r.send as u64)),
                info.ca_state.map_or("?", |s| s.name()),
            ));
            if sender_done.load(Ordering::Relaxed) && !reported_done && info.unacked == 0 {
                reported_done = true;
                say(&format!(
                    "sender stopped: {} bytes acknowledged, {} retransmitted ({} bytes); the connection stays open for `ss -ti` until the demo stops",
                    info.bytes_acked,
                    crate::units::count(info.total_retrans, "segment", "segments"),
                    info.bytes_retrans.unwrap_or(0),
                ));
            }
        }
        last = Some((Counters::of(std::slice::from_ref(&sock)), now));
    };
    // Wake both threads (a blocked write gets EPIPE, a blocked read end of file) and wait.
    stop.store(true, Ordering::Relaxed);
    let _ = sender.shutdown(Shutdown::Both);
    let _ = receiver.shutdown(Shutdown::Both);
    let _ = writer.join();
    let _ = reader.join();
    drop((sender, receiver));
    drop(lab);
    let why = outcome?;
    say(&format!(
        "congestion demo: stopped by {why}; namespaces removed"
    ));
    Ok(ExitCode::SUCCESS)
}

/// `--congestion NAME` that this kernel has no algorithm for.
#[derive(Debug, thiserror::Error)]
#[error("no congestion control `{0}` in this kernel (see /proc/sys/net/ipv4/tcp_available_congestion_control)")]
struct UnknownCongestion(String);

/// The sender's and the receiver's ends of one connection, each made in its namespace; this
/// thread is left in the sender's.
fn connect(lab: &Lab, congestion: Option<&str>) -> anyhow::Result<(TcpStream, TcpStream)> {
    lab.enter_receiver()
        .context("cannot enter the receiver's namespace")?;
    let listener = TcpListener::bind((lab.receiver_addr, 0))
        .context("cannot listen in the receiver's namespace")?;
    let addr = listener.local_addr()?;
    lab.enter_sender()
        .context("cannot enter the sender's namespace")?;
    let sender = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr} across the veth pair"))?;
    if let Some(name) = congestion {
        match setsockopt(&sender, sockopt::TcpCongestion, &name.into()) {
            Ok(()) => {}
            Err(nix::errno::Errno::ENOENT) => {
                return Err(UnknownCongestion(name.to_string()).into());
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot set congestion control `{name}`"))
            }
        }
    }
    let (receiver, _) = listener.accept().context("accept failed")?;
    Ok((sender, receiver))
}

/// The sender's socket as the kernel reports it now.
fn find(
    scanner: &mut SocketScanner,
    local: SocketAddr,
    peer: SocketAddr,
) -> anyhow::Result<Option<Socket>> {
    let scan = scanner.scan().context("cannot list TCP sockets")?;
    Ok(scan
        .sockets
        .into_iter()
        .find(|s| s.local == local && s.remote == peer && s.state == TcpState::Established))
}
