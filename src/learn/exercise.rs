//! `tcplab learn check EXERCISE --port P`: the "write it yourself" exercises, graded from a
//! shell against the kernel, so a teacher can run it over a class's programs. Each exercise
//! drives the learner's server with tcplab's own client where it needs to, then reads the
//! facts (processes, sockets, owners) and exits 0 when they hold, 1 with what it saw when not.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::check::{Check, Memory, Verdict};
use super::lang::Lang;
use super::watch::Watcher;
use crate::model::{Snapshot, Socket, TcpState};

/// The exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Exercise {
    /// A server that forks a child per connection and reaps every one: after 20 connections
    /// from tcplab, no zombie is left under it
    ForkingServerReaps,
    /// A server that closes its side first: the TIME_WAIT is on the server's side
    ServerClosesFirst,
    /// A daemon (fork, setsid, fork): the listener's holder has no tty, a session it does not
    /// lead, and was adopted by PID 1 or a subreaper
    Daemon,
}

/// Connections the forking exercise makes.
const CONNECTIONS: usize = 20;
/// How long the client waits for the server's answer and close.
const ANSWER: Duration = Duration::from_secs(3);
/// How long a correct server has to reap its last children.
const SETTLE: Duration = Duration::from_secs(3);

/// Runs one exercise; prints what it saw; 0 when it holds, 1 when not.
pub fn run(exercise: Exercise, port: u16, lang: Lang) -> anyhow::Result<ExitCode> {
    let mut w = Watcher::new(port, lang);
    let snap = w.snapshot()?;
    let Some(listener) = listener(&snap, port) else {
        return fail(lang.pick(
            format!("nothing listens on port {port}: start your server first"),
            format!("端口 {port} 上没有监听：请先启动你的服务器"),
        ));
    };
    let target = connect_addr(listener.local);
    let outcome = match exercise {
        Exercise::ForkingServerReaps => forking(&mut w, listener, target),
        Exercise::ServerClosesFirst => closes_first(&mut w, target),
        Exercise::Daemon => {
            let mut memory = Memory::new();
            match w.until(&Check::Daemon { cmd: None }, &mut memory, Duration::ZERO) {
                Verdict::Passed(t) => Ok(t),
                other => Err(Failed(other.text().to_string())),
            }
        }
    };
    match outcome {
        Ok(text) => {
            println!("{}: {text}", lang.pick("ok", "通过"));
            Ok(ExitCode::SUCCESS)
        }
        Err(Failed(text)) => fail(text),
    }
}

/// Why an exercise did not pass, in the learner's language: printed after `FAIL:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
struct Failed(String);

impl From<String> for Failed {
    fn from(why: String) -> Failed {
        Failed(why)
    }
}

fn fail(text: String) -> anyhow::Result<ExitCode> {
    println!("FAIL: {text}");
    Ok(ExitCode::FAILURE)
}

fn listener(snap: &Snapshot, port: u16) -> Option<Socket> {
    snap.sockets
        .iter()
        .find(|s| s.state == TcpState::Listen && s.local.port() == port)
        .cloned()
}

/// A wildcard listener is reached on loopback of its family.
fn connect_addr(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// Connects, with a deadline on everything.
fn connect(target: SocketAddr) -> Result<TcpStream, Failed> {
    let s = TcpStream::connect_timeout(&target, ANSWER)
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let _ = s.set_read_timeout(Some(ANSWER));
    let _ = s.set_write_timeout(Some(ANSWER));
    Ok(s)
}

/// Sends a small request and reads until the server closes; false if it did not in time.
fn ask(s: &mut TcpStream) -> bool {
    let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: tcplab\r\n\r\n");
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) if started.elapsed() < ANSWER => {}
            Ok(_) => return false,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn forking(w: &mut Watcher, listener: Socket, target: SocketAddr) -> Result<String, Failed> {
    let lang = w.lang;
    let servers: BTreeSet<i32> = listener.owners.iter().flatten().map(|o| o.pid).collect();
    if listener.owners.is_none() {
        return Err(Failed(lang.pick(
            "who holds the listener is unknown: run tcplab learn check as root".into(),
            "不知道谁持有监听 socket：请以 root 运行 tcplab learn check".into(),
        )));
    }
    let mut served_by_child = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut s = connect(target)?;
        let ours = s.local_addr().map_err(|e| e.to_string())?;
        // Who holds the accepted socket: a child of the server, or the server itself.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let Ok(snap) = w.snapshot() else { break };
            let holder = snap
                .sockets
                .iter()
                .find(|x| x.remote == ours && x.local.port() == target.port())
                .and_then(|x| x.owners.clone())
                .unwrap_or_default();
            if let Some(o) = holder.iter().find(|o| !servers.contains(&o.pid)) {
                let parent = snap
                    .processes
                    .iter()
                    .find(|p| p.pid == o.pid)
                    .map(|p| p.ppid);
                served_by_child.push((o.pid, parent));
                break;
            }
            if !holder.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !ask(&mut s) {
            return Err(Failed(lang.pick(
                format!(
                    "connection from {ours}: the server did not answer and close within {}s",
                    ANSWER.as_secs()
                ),
                format!(
                    "来自 {ours} 的连接：服务器没有在 {} 秒内应答并关闭",
                    ANSWER.as_secs()
                ),
            )));
        }
    }
    let Some(&(child, parent)) = served_by_child.first() else {
        return Err(Failed(lang.pick(
            format!("no connection of {CONNECTIONS} was held by a child of {servers:?}: does the server fork a child per connection?"),
            format!("{CONNECTIONS} 个连接没有一个由 {servers:?} 的子进程持有：服务器是否为每个连接 fork 一个子进程？"),
        )));
    };
    // Every child has answered and exited; a correct server reaps them promptly.
    let deadline = Instant::now() + SETTLE;
    loop {
        let snap = w.snapshot().map_err(|e| format!("{e:#}"))?;
        let under: Vec<i32> = snap
            .processes
            .iter()
            .filter(|p| p.is_zombie() && servers.contains(&p.ppid))
            .map(|p| p.pid)
            .collect();
        if under.is_empty() {
            let parent = parent.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
            return Ok(lang.pick(
                format!(
                    "{CONNECTIONS} connections; {} of them seen held by a forked child (e.g. pid {child}, parent {parent}); no zombie left under {servers:?}: every child was reaped",
                    served_by_child.len()
                ),
                format!(
                    "{CONNECTIONS} 个连接；其中 {} 个看到由 fork 出的子进程持有（例如 pid {child}，父进程 {parent}）；{servers:?} 下没有僵尸进程：每个子进程都被回收了",
                    served_by_child.len()
                ),
            ));
        }
        if Instant::now() > deadline {
            let list = under
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            return Err(Failed(lang.pick(
                format!(
                    "after {CONNECTIONS} connections, {} zombies under {servers:?} ({list}) {}s later: it never called wait() for them",
                    under.len(), SETTLE.as_secs()
                ),
                format!(
                    "{CONNECTIONS} 个连接之后 {} 秒，{servers:?} 下还有 {} 个僵尸进程（{list}）：它从未对它们调用 wait()",
                    SETTLE.as_secs(), under.len()
                ),
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn closes_first(w: &mut Watcher, target: SocketAddr) -> Result<String, Failed> {
    let lang = w.lang;
    let mut s = connect(target)?;
    let ours = s.local_addr().map_err(|e| e.to_string())?;
    let closed = ask(&mut s);
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let snap = w.snapshot().map_err(|e| format!("{e:#}"))?;
        let tw = |local: SocketAddr, remote: SocketAddr| {
            snap.sockets.iter().find(|x| {
                x.state == TcpState::TimeWait
                    && x.local.port() == local.port()
                    && x.remote == remote
            })
        };
        if let Some(x) = tw(target, ours) {
            return Ok(lang.pick(
                format!(
                    "the server closed first: TIME_WAIT on its side {} (peer {}), {}s left",
                    x.local,
                    x.remote,
                    x.timer.expires_in.as_secs()
                ),
                format!(
                    "服务器先关闭：TIME_WAIT 在它那一端 {}（对端 {}），还剩 {} 秒",
                    x.local,
                    x.remote,
                    x.timer.expires_in.as_secs()
                ),
            ));
        }
        let ours_tw = snap
            .sockets
            .iter()
            .any(|x| x.state == TcpState::TimeWait && x.local == ours);
        if ours_tw || Instant::now() > deadline {
            return Err(Failed(match closed {
                false => lang.pick(
                    format!("the server did not close the connection within {}s; tcplab closed it, so the TIME_WAIT is on the client's side {ours}", ANSWER.as_secs()),
                    format!("服务器没有在 {} 秒内关闭连接；tcplab 关闭了它，所以 TIME_WAIT 在客户端一侧 {ours}", ANSWER.as_secs()),
                ),
                true => lang.pick(
                    format!("no TIME_WAIT on the server's side of port {} (the connection from {ours} ended another way: a reset, or both closed at once)", target.port()),
                    format!("端口 {} 的服务端一侧没有 TIME_WAIT（来自 {ours} 的连接以别的方式结束：RST，或双方同时关闭）", target.port()),
                ),
            }));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
