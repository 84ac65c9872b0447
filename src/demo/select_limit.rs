//! `tcplab demo select-limit`: lesson 12's limit, shown safely. select() takes an fd_set, a
//! fixed array of FD_SETSIZE (1024) bits: a descriptor ≥ 1024 cannot be put in it, and
//! FD_SET on one writes past the array (undefined behaviour in C; nix's FdSet panics). The demo
//! raises its soft RLIMIT_NOFILE if it must (processes start with 1024, exactly FD_SETSIZE, so
//! select's limit is usually hit as "too many open files" first), opens loopback connections
//! until accept() returns a descriptor past the limit, shows select() working below it, refuses
//! to hand it the one above, and watches that one with poll(), which has no such limit.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;

use anyhow::Context;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::select::{select, FdSet, FD_SETSIZE};
use nix::sys::time::{TimeVal, TimeValLike};

use super::net::listen_on;
use super::say;
use super::waiter::Waiter;
use crate::cli::NetDemo;

/// Descriptors this demo needs: a little past FD_SETSIZE.
const NEED: u64 = FD_SETSIZE as u64 + 64;

pub fn run(net: NetDemo) -> anyhow::Result<ExitCode> {
    let mut waiter = Waiter::new(net.common.duration, &[])?;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit failed")?;
    let raised = if soft < NEED {
        if hard < NEED {
            anyhow::bail!(
                "the hard limit on open files is {hard}, below the {NEED} descriptors this demo needs to pass FD_SETSIZE ({FD_SETSIZE}); raise it (ulimit -Hn) as root"
            );
        }
        setrlimit(Resource::RLIMIT_NOFILE, NEED, hard).context("setrlimit failed")?;
        Some(NEED)
    } else {
        None
    };
    let listener = listen_on(net.port, 1024)?;
    let addr = listener.local_addr()?;
    let port = addr.port();
    let pid = std::process::id();
    say(&format!(
        "select-limit demo: port {port}, pid {pid}, FD_SETSIZE {FD_SETSIZE}, open-files limit soft {} hard {hard}",
        raised.unwrap_or(soft)
    ));
    match raised {
        Some(n) => say(&format!(
            "  raised the soft RLIMIT_NOFILE from {soft} to {n}: a process starts at 1024, exactly FD_SETSIZE, so it runs out of descriptors (EMFILE) before select's limit shows"
        )),
        None => say(&format!(
            "  the soft RLIMIT_NOFILE {soft} already allows more than FD_SETSIZE descriptors"
        )),
    }
    // Connections until accept() hands out a descriptor select cannot take.
    let mut conns = Vec::new();
    let (last_ok, over) = loop {
        let client = TcpStream::connect(addr).context("connect failed")?;
        let (server, _) = listener.accept().context("accept failed")?;
        let fd = server.as_raw_fd();
        if fd as usize >= FD_SETSIZE {
            break (conns.len(), (client, server));
        }
        conns.push((client, server));
    };
    let over_fd = over.1.as_raw_fd();
    // select() on the highest descriptor that fits: the client writes, select sees it.
    let (client, server) = &mut conns[last_ok - 1];
    client.write_all(b"x").context("write failed")?;
    let below = server.as_raw_fd();
    let mut set = FdSet::new();
    set.insert(server.as_fd());
    let mut timeout = TimeVal::seconds(2);
    let n = select(None, &mut set, None, None, &mut timeout).context("select failed")?;
    say(&format!(
        "  connection {}: fd {below}: select() works: {n} ready, fd {below} readable",
        last_ok
    ));
    say(&format!(
        "  connection {}: fd {over_fd} ≥ FD_SETSIZE: refused for select(); in C, FD_SET({over_fd}) would write past the {FD_SETSIZE}-bit fd_set (undefined behaviour; Rust's nix panics instead). `tcplab serve --model select` refuses such connections with a log line",
        last_ok + 1
    ));
    let (mut over_client, over_server) = over;
    over_client.write_all(b"x").context("write failed")?;
    let mut fds = [PollFd::new(over_server.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::from(2000u16)).context("poll failed")?;
    let readable = fds[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLIN));
    say(&format!(
        "  poll() on fd {over_fd}: {n} ready{}: poll and epoll take any descriptor",
        if readable { ", readable" } else { "" }
    ));
    say(&format!(
        "  look: `ls /proc/{pid}/fd | wc -l`, `grep 'open files' /proc/{pid}/limits`, `tcplab net --port {port} --summary`"
    ));
    say(&format!("  stop: Ctrl+C or `kill {pid}`"));
    let stop = waiter.until_stop()?;
    say(&format!(
        "select-limit demo: got {stop}; closing {} connections",
        conns.len() + 1
    ));
    Ok(ExitCode::SUCCESS)
}
