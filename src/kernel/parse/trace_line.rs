//! Parsing one line of a tracefs `trace_pipe` that carries the `sock:inet_sock_set_state`
//! event, as the kernel prints it with the `record-tgid` option on:
//!
//! ```text
//!   python3-14222 (  14222) [000] ..s2.   511.710052: inet_sock_set_state: family=AF_INET6
//!   protocol=IPPROTO_TCP sport=52375 dport=48818 saddr=127.0.0.6 daddr=127.0.0.6
//!   saddrv6=::1 daddrv6=::1 oldstate=TCP_LISTEN newstate=TCP_SYN_RECV
//! ```
//!
//! (one line in reality). Pure: bytes in, values out; reading the pipe is `tracefs`'s job.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::model::TcpState;

/// Which context the kernel was in when it changed the state. In softirq (or hardirq) the task
/// on the trace line is merely whoever was on the CPU, not the socket's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Process,
    Interrupt,
}

/// One state change exactly as the tracepoint reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// The running task's comm (`<...>` when the kernel no longer remembers it).
    pub comm: String,
    /// The running thread's id.
    pub tid: i32,
    /// The running thread's process id, when `record-tgid` gave it.
    pub tgid: Option<i32>,
    pub cpu: u32,
    pub context: Context,
    /// Seconds on the instance's trace clock.
    pub clock: f64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub old: TcpState,
    pub new: TcpState,
}

/// What one line of `trace_pipe` held.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceLine {
    Change(StateChange),
    /// The kernel's own notice that the ring buffer overflowed: `CPU:1 [LOST 42 EVENTS]`.
    Lost {
        cpu: u32,
        events: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected trace line ({why}): {line}")]
pub struct ParseError {
    pub why: &'static str,
    pub line: String,
}

/// Parses one line (without or with its newline). Lines of other events are errors: the
/// instance enables only this one.
pub fn parse(line: &[u8]) -> Result<TraceLine, ParseError> {
    // Trace lines are ASCII but for a task's name; only then pay for a lossy copy.
    let text = match std::str::from_utf8(line) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(line),
    };
    let text = text.trim_end_matches(['\n', '\r']);
    let err = |why| ParseError {
        why,
        line: text.to_string(),
    };
    if let Some(lost) = parse_lost(text) {
        return Ok(lost);
    }
    let (head, fields) = text
        .split_once(": inet_sock_set_state: ")
        .ok_or_else(|| err("not an inet_sock_set_state event"))?;
    let head = parse_head(head).ok_or_else(|| err("bad task/cpu/flags/timestamp prefix"))?;
    let f = Fields::split(fields);
    let family = f.get("family").ok_or_else(|| err("no family"))?;
    let sport: u16 = f.num("sport").ok_or_else(|| err("no sport"))?;
    let dport: u16 = f.num("dport").ok_or_else(|| err("no dport"))?;
    let (saddr, daddr): (IpAddr, IpAddr) = match family {
        "AF_INET" => (
            f.num::<Ipv4Addr>("saddr")
                .ok_or_else(|| err("bad saddr"))?
                .into(),
            f.num::<Ipv4Addr>("daddr")
                .ok_or_else(|| err("bad daddr"))?
                .into(),
        ),
        "AF_INET6" => (
            f.num::<Ipv6Addr>("saddrv6")
                .ok_or_else(|| err("bad saddrv6"))?
                .into(),
            f.num::<Ipv6Addr>("daddrv6")
                .ok_or_else(|| err("bad daddrv6"))?
                .into(),
        ),
        _ => return Err(err("unknown family")),
    };
    let state = |name| f.get(name).and_then(TcpState::parse);
    Ok(TraceLine::Change(StateChange {
        comm: head.comm,
        tid: head.tid,
        tgid: head.tgid,
        cpu: head.cpu,
        context: head.context,
        clock: head.clock,
        local: SocketAddr::new(saddr, sport),
        remote: SocketAddr::new(daddr, dport),
        old: state("oldstate").ok_or_else(|| err("bad oldstate"))?,
        new: state("newstate").ok_or_else(|| err("bad newstate"))?,
    }))
}

fn parse_lost(text: &str) -> Option<TraceLine> {
    let rest = text.trim_start().strip_prefix("CPU:")?;
    let (cpu, rest) = rest.split_once(' ')?;
    let n = rest
        .trim()
        .strip_prefix("[LOST ")?
        .strip_suffix(" EVENTS]")?;
    Some(TraceLine::Lost {
        cpu: cpu.parse().ok()?,
        events: n.parse().ok()?,
    })
}

struct Head {
    comm: String,
    tid: i32,
    tgid: Option<i32>,
    cpu: u32,
    context: Context,
    clock: f64,
}

/// `  comm-tid (  tgid) [cpu] flags  secs.usecs`, read from the right because a comm may
/// hold spaces, dashes and brackets.
fn parse_head(head: &str) -> Option<Head> {
    let head = head.trim_end();
    let (rest, clock) = head.rsplit_once(' ')?;
    let clock: f64 = clock.parse().ok()?;
    let (rest, flags) = rest.trim_end().rsplit_once(' ')?;
    // Flags: irqs-off, need-resched, then h/s/H/z/Z for hard/soft irq/NMI; '.' or 'b' (bottom
    // halves disabled by the task itself) is process context.
    let context = match flags.chars().nth(2)? {
        'h' | 's' | 'H' | 'z' | 'Z' => Context::Interrupt,
        _ => Context::Process,
    };
    let rest = rest.trim_end();
    let open = rest.rfind(" [")?;
    let cpu: u32 = rest[open + 2..].strip_suffix(']')?.parse().ok()?;
    let mut task = rest[..open].trim_end();
    let mut tgid = None;
    if task.ends_with(')') {
        let open = task.rfind('(')?;
        // `(-------)` when the kernel did not record the tgid.
        tgid = task[open + 1..task.len() - 1].trim().parse().ok();
        task = task[..open].trim_end();
    }
    let task = task.trim_start();
    let (comm, tid) = task.rsplit_once('-')?;
    Some(Head {
        comm: comm.to_string(),
        tid: tid.parse().ok()?,
        tgid,
        cpu,
        context,
        clock,
    })
}

/// `key=value key=value ...`; values here never hold spaces.
struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    fn split(s: &'a str) -> Self {
        Fields(
            s.split_ascii_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .collect(),
        )
    }
    fn get(&self, key: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
    /// A field parsed as a number or an address.
    fn num<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.get(key)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from this kernel (6.18) with record-tgid on.
    const V6_SOFTIRQ: &str = "         python3-14222   (  14222) [000] .Ns2.   511.710052: inet_sock_set_state: family=AF_INET6 protocol=IPPROTO_TCP sport=52375 dport=48818 saddr=127.0.0.6 daddr=127.0.0.6 saddrv6=::1 daddrv6=::1 oldstate=TCP_LISTEN newstate=TCP_SYN_RECV\n";
    const V4_CONNECT: &str = "         python3-14222   (  14222) [000] .....   511.710321: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=0 dport=1 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 oldstate=TCP_CLOSE newstate=TCP_SYN_SENT";

    #[test]
    fn parses_an_ipv6_softirq_line() {
        let TraceLine::Change(c) = parse(V6_SOFTIRQ.as_bytes()).unwrap() else {
            panic!("not a change")
        };
        assert_eq!(c.comm, "python3");
        assert_eq!((c.tid, c.tgid, c.cpu), (14222, Some(14222), 0));
        assert_eq!(c.context, Context::Interrupt);
        assert!((c.clock - 511.710052).abs() < 1e-9);
        assert_eq!(c.local, "[::1]:52375".parse().unwrap());
        assert_eq!(c.remote, "[::1]:48818".parse().unwrap());
        assert_eq!((c.old, c.new), (TcpState::Listen, TcpState::SynRecv));
    }

    #[test]
    fn parses_an_ipv4_connect_in_process_context() {
        let TraceLine::Change(c) = parse(V4_CONNECT.as_bytes()).unwrap() else {
            panic!("not a change")
        };
        assert_eq!(c.context, Context::Process);
        assert_eq!(c.local, "127.0.0.1:0".parse().unwrap());
        assert_eq!(c.remote, "127.0.0.1:1".parse().unwrap());
        assert_eq!((c.old, c.new), (TcpState::Close, TcpState::SynSent));
    }

    #[test]
    fn comm_with_spaces_dashes_and_no_tgid() {
        let line = V4_CONNECT.replace("python3-14222   (  14222)", "Web Con-tent-77 (-------)");
        let TraceLine::Change(c) = parse(line.as_bytes()).unwrap() else {
            panic!("not a change")
        };
        assert_eq!((c.comm.as_str(), c.tid, c.tgid), ("Web Con-tent", 77, None));
        let line = V4_CONNECT.replace("   (  14222)", "");
        let TraceLine::Change(c) = parse(line.as_bytes()).unwrap() else {
            panic!("not a change")
        };
        assert_eq!((c.tid, c.tgid), (14222, None));
    }

    #[test]
    fn bottom_halves_off_is_still_the_task_itself() {
        let line = V4_CONNECT.replace("[000] .....", "[000] ..b1.");
        let TraceLine::Change(c) = parse(line.as_bytes()).unwrap() else {
            panic!("not a change")
        };
        assert_eq!(c.context, Context::Process);
    }

    #[test]
    fn lost_events_notice() {
        assert_eq!(
            parse(b"CPU:1 [LOST 42 EVENTS]\n").unwrap(),
            TraceLine::Lost { cpu: 1, events: 42 }
        );
    }

    #[test]
    fn rejects_other_lines() {
        assert!(parse(b"").is_err());
        assert!(parse(b"  bash-1 [000] ..... 1.0: sched_switch: prev_comm=x").is_err());
        let bad = V4_CONNECT.replace("TCP_SYN_SENT", "TCP_BOGUS");
        assert_eq!(parse(bad.as_bytes()).unwrap_err().why, "bad newstate");
    }
}
