//! `tcplab net`: every TCP socket like `ss -tanp`, with every process holding it; filters by
//! state and port, a per-state summary, or JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::NetArgs;
use crate::kernel::owners::OwnerIndex;
use crate::kernel::sockets::SocketScanner;
use crate::model::counts::StateCounts;
use crate::model::{Owner, Socket, TcpState, TimerKind};

pub fn run(args: NetArgs) -> anyhow::Result<ExitCode> {
    let mut states = Vec::new();
    for s in &args.states {
        match TcpState::parse(s) {
            Some(st) => states.push(st),
            None => {
                eprintln!(
                    "tcplab net: unknown TCP state `{s}`; expected one of {}",
                    TcpState::ALL.map(|s| s.kernel_name()).join(", ")
                );
                return Ok(ExitCode::from(2));
            }
        }
    }
    if args.listen {
        states.push(TcpState::Listen);
    }
    let scan = SocketScanner::new().scan()?;
    let mut sockets: Vec<Socket> = scan
        .sockets
        .into_iter()
        .filter(|s| states.is_empty() || states.contains(&s.state))
        .filter(|s| {
            args.port
                .is_none_or(|p| s.local.port() == p || s.remote.port() == p)
        })
        .collect();
    if scan.from_procfs {
        eprintln!("tcplab net: netlink sock_diag unavailable; read /proc/net/tcp instead (no listen backlog)");
    }

    if args.summary {
        let counts = StateCounts::of(&sockets);
        let text = if args.json {
            let map: serde_json::Map<String, serde_json::Value> = counts
                .iter()
                .map(|(s, n)| (s.kernel_name().to_string(), n.into()))
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&map)?)
        } else {
            let mut t = String::new();
            for (s, n) in counts.iter() {
                let _ = writeln!(t, "{:<13}{n:>7}", s.kernel_name());
            }
            let _ = writeln!(t, "{:<13}{:>7}", "TOTAL", counts.total());
            t
        };
        return super::output::print(&text);
    }

    if !args.no_owners {
        let mut index = OwnerIndex::new();
        index
            .refresh(&sockets)
            .map_err(|e| anyhow::anyhow!("cannot list /proc: {e}"))?;
        index.fill(&mut sockets);
    }
    let text = if args.json {
        json(&sockets)?
    } else {
        table(&sockets)
    };
    super::output::print(&text)
}

/// One socket in `tcplab net --json` (schema in the README).
#[derive(Serialize)]
pub struct NetJson<'a> {
    pub state: TcpState,
    pub local: String,
    pub remote: String,
    pub recv_q: u32,
    pub send_q: u32,
    pub inode: u64,
    pub uid: u32,
    pub timer: TimerJson,
    pub owners: Option<&'a [Owner]>,
}

#[derive(Serialize)]
pub struct TimerJson {
    pub kind: TimerKind,
    pub expires_ms: u64,
    pub retransmits: u32,
}

impl<'a> From<&'a Socket> for NetJson<'a> {
    fn from(s: &'a Socket) -> Self {
        NetJson {
            state: s.state,
            local: s.local.to_string(),
            remote: s.remote.to_string(),
            recv_q: s.recv_q,
            send_q: s.send_q,
            inode: s.inode,
            uid: s.uid,
            timer: TimerJson {
                kind: s.timer.kind,
                expires_ms: s.timer.expires_in.as_millis() as u64,
                retransmits: s.timer.retransmits,
            },
            owners: s.owners.as_deref(),
        }
    }
}

fn json(sockets: &[Socket]) -> anyhow::Result<String> {
    // One object per line inside the array: greppable, and far smaller than pretty-printing.
    let mut out = String::with_capacity(sockets.len() * 220 + 4);
    out.push_str("[\n");
    for (i, s) in sockets.iter().enumerate() {
        out.push_str(&serde_json::to_string(&NetJson::from(s))?);
        out.push_str(if i + 1 < sockets.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    Ok(out)
}

fn table(sockets: &[Socket]) -> String {
    let mut out = String::with_capacity(sockets.len() * 120 + 100);
    let _ = writeln!(
        out,
        "{:<12} {:>7} {:>7} {:<45} {:<45} {:<16} OWNERS",
        "STATE", "RECV-Q", "SEND-Q", "LOCAL", "REMOTE", "TIMER"
    );
    for s in sockets {
        let timer = match s.timer.kind {
            TimerKind::Off => "-".to_string(),
            kind => format!(
                "{}:{}",
                format!("{kind:?}").to_lowercase(),
                crate::units::format_duration(s.timer.expires_in)
            ),
        };
        let owners = match &s.owners {
            None => "?".to_string(),
            Some(o) if o.is_empty() => "-".to_string(),
            Some(o) => o
                .iter()
                .map(|o| format!("{}[{}]:{}", o.comm, o.pid, o.fd))
                .collect::<Vec<_>>()
                .join(","),
        };
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>7} {:<45} {:<45} {:<16} {}",
            s.state.kernel_name(),
            s.recv_q,
            s.send_q,
            s.local,
            s.remote,
            timer,
            owners
        );
    }
    out
}
