//! `tcplab demo time-wait`: lesson 3, the four-way teardown seen from the active closer. One
//! side closes first (FIN_WAIT1 → FIN_WAIT2), the other reads EOF (CLOSE_WAIT) and closes too
//! (LAST_ACK → CLOSE), and the first side sits in TIME_WAIT for 60 s (2 MSL on Linux), owned
//! by no process. The demo prints each state as the kernel reports it, then the TIME_WAIT
//! socket's remaining time every few seconds, until it expires or the demo is stopped.

use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::net::{describe, listen_on, PortView};
use super::say;
use super::waiter::{Waiter, Wake};
use crate::cli::{Closer, NetDemo};
use crate::model::TcpState;

const SETTLE: Duration = Duration::from_secs(5);

pub fn run(closer: Closer, net: NetDemo) -> anyhow::Result<ExitCode> {
    let mut waiter = Waiter::new(net.common.duration, &[])?;
    let listener = listen_on(net.port, 128)?;
    let server_addr = listener.local_addr()?;
    let port = server_addr.port();
    let client = TcpStream::connect(server_addr).context("cannot connect to the listener")?;
    let (server, client_addr) = listener.accept().context("accept failed")?;
    let pid = std::process::id();
    let (active, passive, active_end, passive_end) = match closer {
        Closer::Client => (client, server, client_addr, server_addr),
        Closer::Server => (server, client, server_addr, client_addr),
    };
    let active_name = match closer {
        Closer::Client => "client",
        Closer::Server => "server",
    };
    say(&format!(
        "time-wait demo: port {port}, pid {pid}, active closer {active_name} {active_end}"
    ));
    say(&format!(
        "  look: `tcplab net --port {port}`, `ss -tano state time-wait '( sport = :{port} or dport = :{port} )'`"
    ));
    say(&format!("  stop: Ctrl+C or `kill {pid}`"));
    let mut view = PortView::new(port);

    drop(active);
    say(&format!("  {active_name} calls close() first (sends FIN):"));
    let a = view.wait_for(active_end, passive_end, SETTLE, |s| s == TcpState::FinWait2)?;
    let p = view.wait_for(passive_end, active_end, SETTLE, |s| {
        s == TcpState::CloseWait
    })?;
    for s in [a, p].into_iter().flatten() {
        say(&format!("    {}", describe(&s)));
    }

    let mut passive = passive;
    let mut buf = [0u8; 64];
    let n = passive
        .read(&mut buf)
        .context("read on the passive side failed")?;
    say(&format!(
        "  the other side reads {n} bytes (EOF) and calls close() (sends its FIN):"
    ));
    drop(passive);
    let tw = view.wait_for(active_end, passive_end, SETTLE, |s| s == TcpState::TimeWait)?;
    let Some(tw) = tw else {
        anyhow::bail!("the kernel shows no TIME_WAIT socket {active_end} -> {passive_end}");
    };
    say(&format!("    {}", describe(&tw)));
    say("  the passive side is gone (LAST_ACK → CLOSE); TIME_WAIT belongs to no process: it is the kernel's");
    loop {
        match waiter.wait(Some(Duration::from_secs(5)))? {
            Wake::Stop(stop) => {
                say(&format!(
                    "time-wait demo: got {stop}; the TIME_WAIT socket stays until its timer ends"
                ));
                break;
            }
            Wake::Tick => {
                let now = view
                    .sockets()?
                    .into_iter()
                    .find(|s| s.local == active_end && s.remote == passive_end);
                match now {
                    Some(s) if s.state == TcpState::TimeWait => {
                        say(&format!("    {}", describe(&s)))
                    }
                    _ => {
                        say("    the TIME_WAIT socket has expired: the kernel freed it");
                        say("time-wait demo: done");
                        break;
                    }
                }
            }
            Wake::Child | Wake::Signal(_) => {}
        }
    }
    drop(listener);
    Ok(ExitCode::SUCCESS)
}
