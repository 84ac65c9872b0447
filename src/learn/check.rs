//! A lesson step's check: a fact about the live kernel (processes, sockets and their owners,
//! state transitions) that holds once the learner has done the step. A check is pure: it reads
//! an [`Observation`] that `kernel/` and `trace/` filled, and answers with a [`Verdict`] that
//! says what it saw. It never passes for "the key was pressed"; when it cannot be made it says
//! why instead of passing.
//!
//! In the lesson files a check is written `name param=value ...` (values with spaces in
//! double quotes), e.g. `zombies min=3 cmd="demo zombie"`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::lang::Lang;
use crate::model::sessions::{daemons, sessions};
use crate::model::signals::signal_name;
use crate::model::zombies::zombies;
use crate::model::{Process, Snapshot, Socket, TcpState, Transition, TransitionSource};
use crate::text::printable;

/// Which end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Which of a process's signal masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    Blocked,
    Ignored,
    Caught,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A connection on the port: both ends ESTABLISHED.
    Established,
    /// From the kernel: CLOSE→SYN_SENT→ESTABLISHED on the client, LISTEN→SYN_RECV→ESTABLISHED
    /// on the server side of one connection.
    Handshake,
    /// From the kernel: FIN_WAIT1→FIN_WAIT2 on the active closer, CLOSE_WAIT→LAST_ACK on the
    /// passive one.
    Teardown,
    /// A TIME_WAIT socket on the side that closed first.
    TimeWait { closer: Side },
    /// At least `min` sockets in CLOSE_WAIT held by a process.
    CloseWait { min: usize },
    /// Sockets on the port in at least `min` different states at once.
    States { min: usize },
    /// A listening socket on the port, held by a server of this model if one is named.
    Listener { model: Option<String> },
    /// At least `min` connections waiting in the listener's accept queue.
    Queued { min: u32 },
    /// One listening socket held by at least `min` processes.
    SharedListener { min: usize },
    /// At least `min` established connections on the port held by one process.
    Connections { min: usize },
    /// A socket on the port held at a descriptor of 1024 or more (past select's FD_SETSIZE).
    FdPastSetsize,
    /// A parent and its child, both running a command containing `cmd`.
    Fork { cmd: String },
    /// At least `min` zombies whose parent runs a command containing `cmd`.
    Zombies { min: usize, cmd: String },
    /// The zombies' parent found earlier is gone and none of its zombies is left.
    Reaped,
    /// A daemon (no tty, a session it does not lead, adopted by 1 or a subreaper) running a
    /// command containing `cmd`, or without `cmd` holding the port's listener.
    Daemon { cmd: Option<String> },
    /// A process group of at least `min` members, one of them named `comm`, that is not its
    /// session's leading group.
    Group { comm: String, min: usize },
    /// A process (running `cmd`, or holding the port's listener) with `sig` in that mask.
    Signal {
        mask: Mask,
        sig: u32,
        cmd: Option<String>,
    },
    /// The server found earlier is gone and nothing listens on the port.
    Stopped,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not yet: what is still missing.
    Waiting(String),
    /// It holds: what happened.
    Passed(String),
    /// It cannot be checked here, and why.
    Cannot(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed(_))
    }

    pub fn text(&self) -> &str {
        match self {
            Verdict::Waiting(t) | Verdict::Passed(t) | Verdict::Cannot(t) => t,
        }
    }
}

/// Where transitions come from while checks watch.
#[derive(Debug, Clone, PartialEq)]
pub enum Tracing {
    /// Not started or not ready yet.
    None,
    Kernel,
    /// Sampling the socket list: short states are missed; `why` the tracepoint is not used.
    Sampled {
        interval: Duration,
        why: String,
    },
}

impl Tracing {
    pub fn from_source(source: TransitionSource, detail: &str) -> Tracing {
        match source {
            TransitionSource::Tracepoint => Tracing::Kernel,
            TransitionSource::Sampled { interval } => Tracing::Sampled {
                interval,
                why: detail.to_string(),
            },
        }
    }
}

/// What the checks read: one snapshot, and the transitions on the lesson's port since the step
/// began.
pub struct Observation<'a> {
    pub snap: &'a Snapshot,
    pub transitions: &'a [Transition],
    pub tracing: &'a Tracing,
    /// How long ago the step began: state older than that is not the step's doing.
    pub step_age: Option<Duration>,
    /// Whose processes the checks may count; None: anyone's.
    pub learner: Option<Learner>,
}

/// The learner, so that a check about a process (`cmd=`, a zombie's parent, a group) counts only
/// the learner's own: run by the same user, and started since the lesson began or found by an
/// earlier step of it. Another user's demo, or one left running from before, ticks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learner {
    /// The real uid tcplab runs as.
    pub uid: u32,
    /// When the lesson began, as time since boot: /proc/uptime, which like a process's
    /// `start_time` is the boot clock cut to hundredths of a second, so a process started after
    /// it never shows an earlier time.
    pub lesson_began: Duration,
}

impl Learner {
    /// Whether `p` is the learner's: theirs, and new since the lesson began or one of `known`
    /// (the pids earlier steps found).
    pub fn owns(&self, p: &Process, known: &Memory) -> bool {
        p.uid == Some(self.uid)
            && (p.start_time >= self.lesson_began || known.values().any(|f| f.is(p)))
    }
}

/// How long Linux keeps a socket in TIME_WAIT (TCP_TIMEWAIT_LEN).
const TIME_WAIT_LEN: Duration = Duration::from_secs(60);

/// Facts a check found that later steps name (`{parent}`, `{server}`): processes by name.
pub type Memory = BTreeMap<String, Found>;

/// A process a check found: its pid, and when it started, so that another process given the
/// same pid later (pids wrap, at 32768 by default, within minutes on a busy machine) is not
/// taken for it. Written as the pid (`{parent}` in a step's command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "Stored")]
pub struct Found {
    pub pid: i32,
    /// `start_time` of /proc/PID/stat as time since boot; None in progress saved before it was
    /// kept (that pid is taken at its word).
    pub start: Option<Duration>,
}

impl Found {
    pub fn of(p: &Process) -> Found {
        Found {
            pid: p.pid,
            start: Some(p.start_time),
        }
    }

    /// Whether `p` is this process, not a later one with its pid.
    pub fn is(&self, p: &Process) -> bool {
        p.pid == self.pid && self.start.is_none_or(|s| s == p.start_time)
    }

    /// Whether this process is still there now, as the kernel says (a zombie included).
    pub fn is_there_now(&self) -> bool {
        let start = crate::kernel::proc::start_time(self.pid);
        start.is_some() && self.start.is_none_or(|s| Some(s) == start)
    }

    /// This process in `snap`, if it is still there (a zombie included).
    pub fn in_snapshot<'a>(&self, snap: &'a Snapshot) -> Option<&'a Process> {
        snap.processes.iter().find(|p| self.is(p))
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pid)
    }
}

/// A [`Found`] as progress files hold it: a bare pid in those written before start times
/// were kept.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Stored {
    Pid(i32),
    Found {
        pid: i32,
        #[serde(default)]
        start: Option<Duration>,
    },
}

impl From<Stored> for Found {
    fn from(s: Stored) -> Found {
        match s {
            Stored::Pid(pid) => Found { pid, start: None },
            Stored::Found { pid, start } => Found { pid, start },
        }
    }
}

/// Everything a check needs besides the observation.
pub struct Context<'a> {
    pub port: u16,
    pub lang: Lang,
    pub memory: &'a mut Memory,
}

// ----- the written form ------------------------------------------------------------------

fn words(text: &str) -> Result<Vec<String>, BadCheck> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

fn signal_number(name: &str) -> Option<u32> {
    let name = name.trim_start_matches("SIG");
    (1..=31).find(|&n| signal_name(n) == name)
}

impl FromStr for Check {
    type Err = BadCheck;

    fn from_str(text: &str) -> Result<Check, BadCheck> {
        let words = words(text)?;
        let (name, params) = words.split_first().ok_or("the check is empty")?;
        let mut map: HashMap<&str, &str> = HashMap::new();
        for p in params {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("`{p}` is not name=value"))?;
            if map.insert(k, v).is_some() {
                return Err(BadCheck(format!("`{k}` twice")));
            }
        }
        let mut take = |k: &str| map.remove(k).map(str::to_string);
        let number = |v: Option<String>, k: &str, default: usize| -> Result<usize, BadCheck> {
            match v {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| BadCheck(format!("{k}={v} is not a number"))),
            }
        };
        let check = match name.as_str() {
            "established" => Check::Established,
            "handshake" => Check::Handshake,
            "teardown" => Check::Teardown,
            "time-wait" => Check::TimeWait {
                closer: match take("closer").as_deref() {
                    Some("client") => Side::Client,
                    Some("server") => Side::Server,
                    other => {
                        return Err(BadCheck(format!(
                            "closer must be client or server, not {other:?}"
                        )))
                    }
                },
            },
            "close-wait" => Check::CloseWait {
                min: number(take("min"), "min", 1)?,
            },
            "states" => Check::States {
                min: number(take("min"), "min", 3)?,
            },
            "listener" => Check::Listener {
                model: take("model"),
            },
            "queued" => Check::Queued {
                min: number(take("min"), "min", 1)? as u32,
            },
            "shared-listener" => Check::SharedListener {
                min: number(take("min"), "min", 2)?,
            },
            "connections" => Check::Connections {
                min: number(take("min"), "min", 10)?,
            },
            "fd-past-setsize" => Check::FdPastSetsize,
            "fork" => Check::Fork {
                cmd: take("cmd").ok_or("fork needs cmd=")?,
            },
            "zombies" => Check::Zombies {
                min: number(take("min"), "min", 1)?,
                cmd: take("cmd").ok_or("zombies needs cmd=")?,
            },
            "reaped" => Check::Reaped,
            "daemon" => Check::Daemon { cmd: take("cmd") },
            "group" => Check::Group {
                comm: take("comm").ok_or("group needs comm=")?,
                min: number(take("min"), "min", 2)?,
            },
            "signal" => {
                let mask = match take("mask").as_deref() {
                    Some("blocked") => Mask::Blocked,
                    Some("ignored") => Mask::Ignored,
                    Some("caught") => Mask::Caught,
                    Some("pending") => Mask::Pending,
                    other => {
                        return Err(BadCheck(format!(
                            "mask must be blocked, ignored, caught or pending, not {other:?}"
                        )))
                    }
                };
                let sig = take("sig").ok_or("signal needs sig=")?;
                Check::Signal {
                    mask,
                    sig: signal_number(&sig).ok_or_else(|| format!("unknown signal {sig}"))?,
                    cmd: take("cmd"),
                }
            }
            "stopped" => Check::Stopped,
            other => return Err(BadCheck(format!("unknown check `{other}`"))),
        };
        if let Some(k) = map.keys().next() {
            return Err(BadCheck(format!("`{name}` takes no `{k}`")));
        }
        Ok(check)
    }
}

/// A check line that is not in the lessons' check syntax: what is wrong with it, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadCheck(String);

impl From<String> for BadCheck {
    fn from(why: String) -> BadCheck {
        BadCheck(why)
    }
}

impl From<&str> for BadCheck {
    fn from(why: &str) -> BadCheck {
        BadCheck(why.to_string())
    }
}

fn quoted(v: &str) -> String {
    if v.contains(char::is_whitespace) || v.is_empty() {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let opt = |k: &str, v: &Option<String>| match v {
            Some(v) => format!(" {k}={}", quoted(v)),
            None => String::new(),
        };
        match self {
            Check::Established => write!(f, "established"),
            Check::Handshake => write!(f, "handshake"),
            Check::Teardown => write!(f, "teardown"),
            Check::TimeWait { closer } => write!(
                f,
                "time-wait closer={}",
                match closer {
                    Side::Client => "client",
                    Side::Server => "server",
                }
            ),
            Check::CloseWait { min } => write!(f, "close-wait min={min}"),
            Check::States { min } => write!(f, "states min={min}"),
            Check::Listener { model } => write!(f, "listener{}", opt("model", model)),
            Check::Queued { min } => write!(f, "queued min={min}"),
            Check::SharedListener { min } => write!(f, "shared-listener min={min}"),
            Check::Connections { min } => write!(f, "connections min={min}"),
            Check::FdPastSetsize => write!(f, "fd-past-setsize"),
            Check::Fork { cmd } => write!(f, "fork cmd={}", quoted(cmd)),
            Check::Zombies { min, cmd } => write!(f, "zombies min={min} cmd={}", quoted(cmd)),
            Check::Reaped => write!(f, "reaped"),
            Check::Daemon { cmd } => write!(f, "daemon{}", opt("cmd", cmd)),
            Check::Group { comm, min } => write!(f, "group comm={} min={min}", quoted(comm)),
            Check::Signal { mask, sig, cmd } => write!(
                f,
                "signal mask={} sig={}{}",
                match mask {
                    Mask::Blocked => "blocked",
                    Mask::Ignored => "ignored",
                    Mask::Caught => "caught",
                    Mask::Pending => "pending",
                },
                signal_name(*sig),
                opt("cmd", cmd)
            ),
            Check::Stopped => write!(f, "stopped"),
        }
    }
}

// ----- evaluation ------------------------------------------------------------------------

/// `comm[pid]` for each holder, or what is known about them.
fn holders(s: &Socket, lang: Lang) -> String {
    match &s.owners {
        None => lang
            .pick("unknown (not root?)", "未知（不是 root？）")
            .to_string(),
        Some(o) if o.is_empty() => lang.pick("no process", "没有进程").to_string(),
        Some(o) => {
            let mut seen = BTreeSet::new();
            o.iter()
                .filter(|o| seen.insert(o.pid))
                .map(|o| format!("{}[{}]", printable(&o.comm), o.pid))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

fn holder_pids(s: &Socket) -> BTreeSet<i32> {
    s.owners
        .iter()
        .flatten()
        .map(|o| o.pid)
        .collect::<BTreeSet<_>>()
}

fn runs(p: &Process, cmd: &str) -> bool {
    p.cmdline
        .as_ref()
        .is_some_and(|args| args.join(" ").contains(cmd))
}

/// The `--model` a server's command line names; `reactor` when it names none.
fn model_of(p: &Process) -> Option<String> {
    let args = p.cmdline.as_ref()?;
    if !args.iter().any(|a| a == "serve") {
        return None;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--model" {
            return it.next().cloned();
        }
        if let Some(m) = a.strip_prefix("--model=") {
            return Some(m.to_string());
        }
    }
    Some("reactor".to_string())
}

impl Check {
    /// Whether the check reads transitions (and so needs the tracer).
    pub fn needs_transitions(&self) -> bool {
        matches!(self, Check::Handshake | Check::Teardown)
    }

    pub fn evaluate(&self, obs: &Observation, cx: &mut Context) -> Verdict {
        let port = cx.port;
        let lang = cx.lang;
        let snap = obs.snap;
        let on_port = |s: &&Socket| s.local.port() == port || s.remote.port() == port;
        let proc_of = |pid: i32| snap.processes.iter().find(|p| p.pid == pid);
        let listener = || {
            snap.sockets
                .iter()
                .find(|s| s.state == TcpState::Listen && s.local.port() == port)
        };
        let waiting = |en: String, zh: String| Verdict::Waiting(lang.pick(en, zh));
        let passed = |en: String, zh: String| Verdict::Passed(lang.pick(en, zh));
        let no_listener = || {
            waiting(
                format!("nothing listens on port {port} yet"),
                format!("端口 {port} 上还没有监听的 socket"),
            )
        };
        // A process the learner made (see `Learner`); the pids found so far, before this
        // check adds to them.
        let known = cx.memory.clone();
        let mine = |p: &Process| obs.learner.is_none_or(|l| l.owns(p, &known));
        // The processes a check is about: the learner's running `cmd`, else the listener's
        // holders (the lesson's port is the learner's already).
        let subjects = |cmd: &Option<String>| -> Vec<&Process> {
            match cmd {
                Some(c) => snap
                    .processes
                    .iter()
                    .filter(|p| runs(p, c) && mine(p))
                    .collect(),
                None => listener()
                    .map(holder_pids)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(proc_of)
                    .collect(),
            }
        };
        match self {
            Check::Established => {
                let pair = snap.sockets.iter().filter(on_port).find_map(|s| {
                    let peer = snap.sockets.iter().find(|o| {
                        o.local == s.remote
                            && o.remote == s.local
                            && o.state == TcpState::Established
                    })?;
                    (s.state == TcpState::Established && s.remote.port() == port)
                        .then_some((s, peer))
                });
                match pair {
                    Some((client, server)) => passed(
                        format!(
                            "a connection {} ↔ {}: both ends ESTABLISHED; client held by {}, server side by {}",
                            client.local, client.remote, holders(client, lang), holders(server, lang)
                        ),
                        format!(
                            "一条连接 {} ↔ {}：两端都是 ESTABLISHED；客户端属于 {}，服务端属于 {}",
                            client.local, client.remote, holders(client, lang), holders(server, lang)
                        ),
                    ),
                    None => waiting(
                        format!("no established connection to port {port} yet"),
                        format!("端口 {port} 上还没有已建立的连接"),
                    ),
                }
            }
            Check::Handshake => handshake(obs, port, lang),
            Check::Teardown => teardown(obs, port, lang),
            Check::TimeWait { closer } => {
                // Only a TIME_WAIT that began since the step did (its timer runs from 60s).
                let recent = |s: &Socket| match obs.step_age {
                    Some(age) => {
                        TIME_WAIT_LEN.saturating_sub(s.timer.expires_in)
                            <= age + Duration::from_secs(1)
                    }
                    None => true,
                };
                let found = snap.sockets.iter().find(|s| {
                    s.state == TcpState::TimeWait
                        && recent(s)
                        && match closer {
                            Side::Server => s.local.port() == port,
                            Side::Client => s.remote.port() == port,
                        }
                });
                let (en_side, zh_side) = match closer {
                    Side::Server => ("the server", "服务端"),
                    Side::Client => ("the client", "客户端"),
                };
                match found {
                    Some(s) => {
                        let left = s.timer.expires_in.as_secs();
                        passed(
                            format!(
                                "TIME_WAIT on {} (peer {}), {left}s left: {en_side} closed first, so its side waits; no process holds it",
                                s.local, s.remote
                            ),
                            format!(
                                "{} 上的 TIME_WAIT（对端 {}），还剩 {left} 秒：{zh_side}先关闭，所以由它这一端等待；它不属于任何进程",
                                s.local, s.remote
                            ),
                        )
                    }
                    None => waiting(
                        format!("no TIME_WAIT on {en_side}'s side of port {port} yet"),
                        format!("端口 {port} 的{zh_side}一侧还没有 TIME_WAIT"),
                    ),
                }
            }
            Check::CloseWait { min } => {
                let cw: Vec<&Socket> = snap
                    .sockets
                    .iter()
                    .filter(on_port)
                    .filter(|s| s.state == TcpState::CloseWait)
                    .collect();
                if cw.len() >= *min {
                    passed(
                        format!(
                            "{} sockets in CLOSE_WAIT held by {}: the peer closed, the program has not called close()",
                            cw.len(), holders(cw[0], lang)
                        ),
                        format!(
                            "{} 个 socket 处于 CLOSE_WAIT，属于 {}：对端已关闭，程序还没有调用 close()",
                            cw.len(), holders(cw[0], lang)
                        ),
                    )
                } else {
                    waiting(
                        format!("{} of {min} sockets in CLOSE_WAIT on port {port}", cw.len()),
                        format!("端口 {port} 上 CLOSE_WAIT 的 socket：{}/{min}", cw.len()),
                    )
                }
            }
            Check::States { min } => {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for s in snap.sockets.iter().filter(on_port) {
                    *counts.entry(s.state.kernel_name()).or_default() += 1;
                }
                let list = counts
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if counts.len() >= *min {
                    passed(
                        format!(
                            "port {port} has sockets in {} states at once: {list}",
                            counts.len()
                        ),
                        format!(
                            "端口 {port} 上同时有 {} 种状态的 socket：{list}",
                            counts.len()
                        ),
                    )
                } else {
                    waiting(
                        format!(
                            "{} of {min} states on port {port} so far ({list})",
                            counts.len()
                        ),
                        format!("端口 {port} 上目前 {}/{min} 种状态（{list}）", counts.len()),
                    )
                }
            }
            Check::Listener { model } => {
                let Some(l) = listener() else {
                    return no_listener();
                };
                let pids = holder_pids(l);
                let server = pids
                    .iter()
                    .filter_map(|&p| proc_of(p))
                    .find(|p| !pids.contains(&p.ppid));
                let got = server.and_then(model_of);
                match (model, server) {
                    (_, None) if l.owners.is_none() => Verdict::Cannot(lang.pick(
                        "who holds the listener is unknown: run tcplab as root".into(),
                        "不知道谁持有这个监听 socket：请以 root 运行 tcplab".into(),
                    )),
                    (Some(want), Some(p)) if got.as_deref() != Some(want.as_str()) => waiting(
                        format!(
                            "port {port} is held by {}[{}], not a `--model {want}` server",
                            printable(&p.comm),
                            p.pid
                        ),
                        format!(
                            "端口 {port} 属于 {}[{}]，不是 `--model {want}` 的服务器",
                            printable(&p.comm),
                            p.pid
                        ),
                    ),
                    (_, server) => {
                        if let Some(p) = server {
                            cx.memory.insert("server".into(), Found::of(p));
                        }
                        let model = got
                            .map(|m| lang.pick(format!(" (model {m})"), format!("（模型 {m}）")))
                            .unwrap_or_default();
                        passed(
                            format!(
                                "{} listens on port {port}{model}, accept queue {} of {}",
                                holders(l, lang),
                                l.recv_q,
                                l.send_q
                            ),
                            format!(
                                "{} 在端口 {port} 上监听{model}，accept 队列 {}/{}",
                                holders(l, lang),
                                l.recv_q,
                                l.send_q
                            ),
                        )
                    }
                }
            }
            Check::Queued { min } => {
                let Some(l) = listener() else {
                    return no_listener();
                };
                if l.recv_q >= *min {
                    passed(
                        format!(
                            "{} finished handshakes wait in port {port}'s accept queue (backlog {}): nobody is calling accept() on them",
                            l.recv_q, l.send_q
                        ),
                        format!(
                            "{} 个已完成握手的连接在端口 {port} 的 accept 队列里等待（backlog {}）：没有人对它们调用 accept()",
                            l.recv_q, l.send_q
                        ),
                    )
                } else {
                    waiting(
                        format!(
                            "{} of {min} connections waiting in the accept queue",
                            l.recv_q
                        ),
                        format!("accept 队列里等待的连接：{}/{min}", l.recv_q),
                    )
                }
            }
            Check::SharedListener { min } => {
                let Some(l) = listener() else {
                    return no_listener();
                };
                if l.owners.is_none() {
                    return Verdict::Cannot(lang.pick(
                        "who holds the listener is unknown: run tcplab as root".into(),
                        "不知道谁持有这个监听 socket：请以 root 运行 tcplab".into(),
                    ));
                }
                let pids = holder_pids(l);
                let list = pids
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                if pids.len() >= *min {
                    passed(
                        format!(
                            "one listening socket (inode {}) held by {} processes: {list}; the kernel hands each connection to one of them",
                            l.inode, pids.len()
                        ),
                        format!(
                            "一个监听 socket（inode {}）被 {} 个进程持有：{list}；内核把每个连接交给其中一个",
                            l.inode, pids.len()
                        ),
                    )
                } else {
                    waiting(
                        format!(
                            "the listener on port {port} has {} of {min} holders",
                            pids.len()
                        ),
                        format!("端口 {port} 的监听 socket 有 {}/{min} 个持有者", pids.len()),
                    )
                }
            }
            Check::Connections { min } => {
                let mut per_pid: BTreeMap<i32, usize> = BTreeMap::new();
                for s in snap
                    .sockets
                    .iter()
                    .filter(|s| s.state == TcpState::Established && s.local.port() == port)
                {
                    for pid in holder_pids(s) {
                        *per_pid.entry(pid).or_default() += 1;
                    }
                }
                let best = per_pid.iter().max_by_key(|(_, n)| **n);
                match best {
                    Some((&pid, &n)) if n >= *min => {
                        let threads = proc_of(pid).map(|p| p.threads).unwrap_or(1);
                        passed(
                            format!(
                                "{n} connections on port {port} in one process, pid {pid}, with {}",
                                crate::units::count(threads, "thread", "threads")
                            ),
                            format!(
                                "端口 {port} 上的 {n} 个连接都在一个进程里：pid {pid}，{threads} 个线程"
                            ),
                        )
                    }
                    best => {
                        let n = best.map(|(_, n)| *n).unwrap_or(0);
                        waiting(
                            format!("{n} of {min} connections in one process on port {port}"),
                            format!("端口 {port} 上一个进程里的连接：{n}/{min}"),
                        )
                    }
                }
            }
            Check::FdPastSetsize => {
                let found = snap.sockets.iter().filter(on_port).find_map(|s| {
                    s.owners
                        .iter()
                        .flatten()
                        .find(|o| o.fd >= 1024)
                        .map(|o| (s, o))
                });
                match found {
                    Some((s, o)) => passed(
                        format!(
                            "{}[{}] holds {} ↔ {} at fd {}: past FD_SETSIZE (1024), a descriptor select() cannot watch",
                            printable(&o.comm), o.pid, s.local, s.remote, o.fd
                        ),
                        format!(
                            "{}[{}] 在 fd {} 上持有 {} ↔ {}：超过 FD_SETSIZE（1024），select() 无法监视它",
                            printable(&o.comm), o.pid, o.fd, s.local, s.remote
                        ),
                    ),
                    None => waiting(
                        format!("no socket on port {port} at a descriptor of 1024 or more yet"),
                        format!("端口 {port} 上还没有 fd ≥ 1024 的 socket"),
                    ),
                }
            }
            Check::Fork { cmd } => {
                let pair = snap.processes.iter().find_map(|child| {
                    let parent = proc_of(child.ppid)?;
                    (runs(child, cmd)
                        && runs(parent, cmd)
                        && !child.is_zombie()
                        && mine(parent)
                        && mine(child))
                    .then_some((parent, child))
                });
                match pair {
                    Some((parent, child)) => {
                        cx.memory.insert("parent".into(), Found::of(parent));
                        cx.memory.insert("child".into(), Found::of(child));
                        passed(
                            format!(
                                "parent {} forked child {} (its ppid is {}): two processes running the same program",
                                parent.pid, child.pid, child.ppid
                            ),
                            format!(
                                "父进程 {} fork 出子进程 {}（它的 ppid 是 {}）：两个进程运行同一个程序",
                                parent.pid, child.pid, child.ppid
                            ),
                        )
                    }
                    None => waiting(
                        format!(
                            "no parent and child of yours running `{cmd}` since the lesson began"
                        ),
                        format!("本课开始以来还没有你运行 `{cmd}` 的父子进程"),
                    ),
                }
            }
            Check::Zombies { min, cmd } => {
                let mut by_parent: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
                for z in zombies(snap) {
                    if proc_of(z.ppid).is_some_and(|p| runs(p, cmd) && mine(p)) {
                        by_parent.entry(z.ppid).or_default().push(z.pid);
                    }
                }
                // Of the parents with enough zombies the newest: the demo just started, not
                // one left running elsewhere on the machine.
                let started = |pid: i32| proc_of(pid).map(|p| p.start_time);
                let best = by_parent
                    .iter()
                    .filter(|(_, z)| z.len() >= *min)
                    .max_by_key(|(&p, _)| started(p))
                    .or_else(|| by_parent.iter().max_by_key(|(_, z)| z.len()));
                match best {
                    Some((&parent, zs)) if zs.len() >= *min => {
                        if let Some(p) = proc_of(parent) {
                            cx.memory.insert("parent".into(), Found::of(p));
                        }
                        let list = zs.iter().map(i32::to_string).collect::<Vec<_>>().join(" ");
                        passed(
                            format!(
                                "{} zombies ({list}), parent {parent}, which never called wait(): they exited, but their exit status is still waiting for it",
                                zs.len()
                            ),
                            format!(
                                "{} 个僵尸进程（{list}），父进程 {parent} 从未调用 wait()：它们已经退出，退出状态还在等父进程来取",
                                zs.len()
                            ),
                        )
                    }
                    best => {
                        let n = best.map(|(_, z)| z.len()).unwrap_or(0);
                        waiting(
                            format!(
                                "{n} of {min} zombies under a process of yours running `{cmd}`"
                            ),
                            format!("你运行 `{cmd}` 的进程下的僵尸进程：{n}/{min}"),
                        )
                    }
                }
            }
            Check::Reaped => {
                let Some(&parent) = cx.memory.get("parent") else {
                    return waiting(
                        "do the step before this one first: it finds the zombies' parent".into(),
                        "请先完成上一步：它会找到僵尸进程的父进程".into(),
                    );
                };
                // Another process may have the parent's pid by now: its children are not the
                // parent's zombies.
                let same = parent.in_snapshot(snap);
                let alive = same.is_some_and(|p| !p.is_zombie());
                let left = same.map_or(0, |_| {
                    snap.processes
                        .iter()
                        .filter(|p| p.is_zombie() && p.ppid == parent.pid)
                        .count()
                });
                if !alive && left == 0 {
                    passed(
                        format!(
                            "parent {parent} is gone and so are its zombies: the subreaper adopted them and called wait()"
                        ),
                        format!(
                            "父进程 {parent} 已经不在了，它的僵尸进程也没了：subreaper 收养了它们并调用了 wait()"
                        ),
                    )
                } else {
                    waiting(
                        format!(
                            "parent {parent} is still alive with {}",
                            crate::units::count(left, "zombie", "zombies")
                        ),
                        format!("父进程 {parent} 还活着，带着 {left} 个僵尸进程"),
                    )
                }
            }
            Check::Daemon { cmd } => {
                let all = daemons(snap);
                let subjects = subjects(cmd);
                match subjects.iter().find(|p| all.contains(&p.pid)) {
                    Some(d) => {
                        cx.memory.insert("daemon".into(), Found::of(d));
                        if cmd.is_none() {
                            cx.memory.insert("server".into(), Found::of(d));
                        }
                        let parent = match d.ppid {
                            1 => lang.pick("PID 1 (init)", "PID 1（init）").to_string(),
                            p => lang.pick(
                                format!("{p}, a subreaper"),
                                format!("{p}（一个 subreaper）"),
                            ),
                        };
                        passed(
                            format!(
                                "pid {} is a daemon: no terminal, session {} that it does not lead, parent {parent}",
                                d.pid, d.sid
                            ),
                            format!(
                                "pid {} 是一个守护进程：没有终端，属于会话 {} 但不是它的首进程，父进程是 {parent}",
                                d.pid, d.sid
                            ),
                        )
                    }
                    None => {
                        let why = subjects
                            .first()
                            .map(|p| {
                                let tty = p.tty.clone().unwrap_or_else(|| "?".into());
                                format!("pid {}: tty {tty}, sid {}, ppid {}", p.pid, p.sid, p.ppid)
                            })
                            .unwrap_or_default();
                        let what = match cmd {
                            Some(c) => format!("`{c}`"),
                            None => format!("port {port}"),
                        };
                        waiting(
                            format!("no daemon for {what} yet {why}"),
                            format!("{what} 还没有守护进程 {why}"),
                        )
                    }
                }
            }
            Check::Group { comm, min } => {
                let by_pid: HashMap<i32, &Process> =
                    snap.processes.iter().map(|p| (p.pid, p)).collect();
                for s in sessions(&snap.processes) {
                    for g in s.groups.iter().filter(|g| g.pgid != s.sid) {
                        let members: Vec<&Process> = g
                            .members
                            .iter()
                            .filter_map(|m| by_pid.get(m).copied())
                            .collect();
                        if members.len() >= *min
                            && members.iter().any(|p| p.comm == *comm && mine(p))
                        {
                            let list = members
                                .iter()
                                .map(|p| format!("{}[{}]", printable(&p.comm), p.pid))
                                .collect::<Vec<_>>()
                                .join(" ");
                            let leader = by_pid
                                .get(&s.sid)
                                .map(|p| format!("{}[{}]", printable(&p.comm), p.pid))
                                .unwrap_or_else(|| s.sid.to_string());
                            let fg = if g.foreground {
                                lang.pick(
                                    ", the terminal's foreground group",
                                    "，是终端的前台进程组",
                                )
                            } else {
                                ""
                            };
                            return passed(
                                format!(
                                    "process group {}: {list}, in session {} led by {leader}{fg}",
                                    g.pgid, s.sid
                                ),
                                format!(
                                    "进程组 {}：{list}，属于会话 {}，会话首进程 {leader}{fg}",
                                    g.pgid, s.sid
                                ),
                            );
                        }
                    }
                }
                waiting(
                    format!("no process group of {min} with a `{comm}` of yours in it yet"),
                    format!("还没有包含你的 `{comm}` 的 {min} 个进程的进程组"),
                )
            }
            Check::Signal { mask, sig, cmd } => {
                let subjects = subjects(cmd);
                if subjects.is_empty() {
                    return match cmd {
                        Some(c) => waiting(
                            format!("no process of yours running `{c}` since the lesson began"),
                            format!("本课开始以来还没有你运行 `{c}` 的进程"),
                        ),
                        None => no_listener(),
                    };
                }
                let name = signal_name(*sig);
                let found = subjects.iter().find(|p| {
                    p.masks.is_some_and(|m| match mask {
                        Mask::Blocked => m.blocked.contains(*sig),
                        Mask::Ignored => m.ignored.contains(*sig),
                        Mask::Caught => m.caught.contains(*sig),
                        Mask::Pending => {
                            m.pending.contains(*sig) || m.shared_pending.contains(*sig)
                        }
                    })
                });
                if subjects.iter().all(|p| p.masks.is_none()) {
                    return Verdict::Cannot(
                        lang.pick(
                            "the signal masks cannot be read (another user's process: run as root)"
                                .into(),
                            "读不到信号掩码（别的用户的进程：请以 root 运行）".into(),
                        ),
                    );
                }
                let (en, zh) = match mask {
                    Mask::Blocked => ("blocks", "阻塞了"),
                    Mask::Ignored => ("ignores", "忽略了"),
                    Mask::Caught => ("catches (has a handler for)", "捕获（装了处理函数）"),
                    Mask::Pending => (
                        "has pending (sent, not delivered)",
                        "有待处理的（已发送、未递送）",
                    ),
                };
                if let Some(p) = found {
                    cx.memory.insert("pid".into(), Found::of(p));
                }
                match found {
                    Some(p) => passed(
                        format!(
                            "{}[{}] {en} SIG{name} (/proc/{}/status)",
                            printable(&p.comm),
                            p.pid,
                            p.pid
                        ),
                        format!(
                            "{}[{}] {zh} SIG{name}（/proc/{}/status）",
                            printable(&p.comm),
                            p.pid,
                            p.pid
                        ),
                    ),
                    None => waiting(
                        format!("pid {}: SIG{name} not in that mask yet", subjects[0].pid),
                        format!("pid {}：SIG{name} 还不在这个掩码里", subjects[0].pid),
                    ),
                }
            }
            Check::Stopped => {
                let Some(&server) = cx.memory.get("server") else {
                    return waiting(
                        "start the server first (the step before finds it)".into(),
                        "请先启动服务器（上一步会找到它）".into(),
                    );
                };
                let alive = server.in_snapshot(snap).is_some_and(|p| !p.is_zombie());
                match (alive, listener()) {
                    (false, None) => passed(
                        format!("server {server} has exited and nothing listens on port {port} any more"),
                        format!("服务器 {server} 已经退出，端口 {port} 上不再有监听"),
                    ),
                    _ => waiting(
                        format!("server {server} is still running"),
                        format!("服务器 {server} 还在运行"),
                    ),
                }
            }
        }
    }
}

/// The note that goes with a verdict reached by sampling.
fn sampled_note(tracing: &Tracing, lang: Lang) -> String {
    match tracing {
        Tracing::Sampled { interval, why } => lang.pick(
            format!(
                " (sampled every {}ms because {why}: states shorter than that are not seen)",
                interval.as_millis()
            ),
            format!(
                "（每 {}ms 采样一次，因为 {why}：更短的状态看不到）",
                interval.as_millis()
            ),
        ),
        _ => String::new(),
    }
}

fn not_tracing(lang: Lang) -> Verdict {
    Verdict::Waiting(lang.pick(
        "waiting for the tracer to start".into(),
        "正在等待跟踪器启动".into(),
    ))
}

/// Transitions of one socket, by its (local, remote) pair; a client's CLOSE→SYN_SENT has local
/// port 0, so it is matched by the remote end and the local address alone.
fn walked(
    ts: &[Transition],
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
    path: &[TcpState],
) -> bool {
    path.windows(2).all(|w| {
        ts.iter().any(|t| {
            t.old == w[0]
                && t.new == w[1]
                && t.remote == remote
                && (t.local == local || (t.local.port() == 0 && t.local.ip() == local.ip()))
        })
    })
}

fn handshake(obs: &Observation, port: u16, lang: Lang) -> Verdict {
    use TcpState::*;
    let ts = obs.transitions;
    let sampled = match obs.tracing {
        Tracing::None => return not_tracing(lang),
        Tracing::Kernel => false,
        Tracing::Sampled { .. } => true,
    };
    // A client socket that reached ESTABLISHED towards the port, and its server side.
    for c in ts
        .iter()
        .filter(|t| t.new == Established && t.remote.port() == port && t.local.port() != port)
    {
        let (cl, sv) = (c.local, c.remote);
        let server_done = ts
            .iter()
            .any(|t| t.new == Established && t.local == sv && t.remote == cl);
        if !server_done {
            continue;
        }
        if sampled {
            return Verdict::Passed(
                lang.pick(
                    format!("a new connection {cl} → {sv} became ESTABLISHED on both ends"),
                    format!("新连接 {cl} → {sv} 两端都变成了 ESTABLISHED"),
                ) + &sampled_note(obs.tracing, lang),
            );
        }
        let client = walked(ts, cl, sv, &[Close, SynSent, Established]);
        let server = walked(ts, sv, cl, &[Listen, SynRecv, Established]);
        if client && server {
            return Verdict::Passed(lang.pick(
                format!("client {cl} went CLOSE→SYN_SENT→ESTABLISHED; the server side {sv} LISTEN→SYN_RECV→ESTABLISHED: SYN, SYN+ACK, ACK"),
                format!("客户端 {cl} 经历 CLOSE→SYN_SENT→ESTABLISHED；服务端 {sv} 经历 LISTEN→SYN_RECV→ESTABLISHED：SYN、SYN+ACK、ACK"),
            ));
        }
    }
    Verdict::Waiting(
        lang.pick(
            format!("no handshake on port {port} seen yet"),
            format!("还没有看到端口 {port} 上的握手"),
        ) + &sampled_note(obs.tracing, lang),
    )
}

fn teardown(obs: &Observation, port: u16, lang: Lang) -> Verdict {
    use TcpState::*;
    let ts = obs.transitions;
    let sampled = match obs.tracing {
        Tracing::None => return not_tracing(lang),
        Tracing::Kernel => false,
        Tracing::Sampled { .. } => true,
    };
    let on_port = |t: &&Transition| t.local.port() == port || t.remote.port() == port;
    let side = |t: &Transition| {
        if t.local.port() == port {
            lang.pick("server", "服务端")
        } else {
            lang.pick("client", "客户端")
        }
    };
    if sampled {
        // FIN_WAIT1 and LAST_ACK are too short to sample; the longer states are not.
        let closer = ts
            .iter()
            .filter(on_port)
            .find(|t| matches!(t.new, FinWait2 | TimeWait));
        let passive = ts.iter().filter(on_port).find(|t| t.new == CloseWait);
        return match (closer, passive) {
            (Some(a), Some(p)) => Verdict::Passed(
                lang.pick(
                    format!(
                        "{} {} reached {} first (it closed first); {} {} reached CLOSE_WAIT",
                        side(a),
                        a.local,
                        a.new.kernel_name(),
                        side(p),
                        p.local
                    ),
                    format!(
                        "{} {} 先到达 {}（它先关闭）；{} {} 到达 CLOSE_WAIT",
                        side(a),
                        a.local,
                        a.new.kernel_name(),
                        side(p),
                        p.local
                    ),
                ) + &sampled_note(obs.tracing, lang),
            ),
            _ => Verdict::Waiting(
                lang.pick(
                    format!("no teardown on port {port} seen yet"),
                    format!("还没有看到端口 {port} 上的挥手"),
                ) + &sampled_note(obs.tracing, lang),
            ),
        };
    }
    for a in ts
        .iter()
        .filter(on_port)
        .filter(|t| t.old == FinWait1 && t.new == FinWait2)
    {
        let passive = walked(ts, a.remote, a.local, &[CloseWait, LastAck]);
        if passive {
            return Verdict::Passed(lang.pick(
                format!("{} {} closed first: FIN_WAIT1→FIN_WAIT2; the other end {} CLOSE_WAIT→LAST_ACK: FIN, ACK, FIN, ACK", side(a), a.local, a.remote),
                format!("{} {} 先关闭：FIN_WAIT1→FIN_WAIT2；另一端 {} CLOSE_WAIT→LAST_ACK：FIN、ACK、FIN、ACK", side(a), a.local, a.remote),
            ));
        }
    }
    Verdict::Waiting(lang.pick(
        format!("no teardown on port {port} seen yet"),
        format!("还没有看到端口 {port} 上的挥手"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_form_round_trips() {
        for text in [
            "established",
            "time-wait closer=server",
            "zombies min=3 cmd=\"demo zombie\"",
            "signal mask=pending sig=QUIT cmd=\"demo signal\"",
            "listener model=iterative",
            "listener",
            "group comm=sleep min=2",
            "daemon",
        ] {
            let c: Check = text.parse().unwrap();
            assert_eq!(c.to_string(), text);
        }
        assert!("zombies".parse::<Check>().is_err());
        assert!("nope".parse::<Check>().is_err());
        assert!("time-wait closer=both".parse::<Check>().is_err());
        assert!("established x=1".parse::<Check>().is_err());
        assert!("signal mask=caught sig=NOPE".parse::<Check>().is_err());
        assert!("zombies cmd=\"open".parse::<Check>().is_err());
    }

    /// A check on `snap` with `memory`, for the checks that read only processes.
    fn verdict(check: &Check, snap: &Snapshot, memory: &mut Memory) -> Verdict {
        let obs = Observation {
            snap,
            transitions: &[],
            tracing: &Tracing::None,
            step_age: None,
            learner: None,
        };
        let mut cx = Context {
            port: 1,
            lang: Lang::En,
            memory,
        };
        check.evaluate(&obs, &mut cx)
    }

    /// The remembered parent and server exited, and a new process was given their pid (pids
    /// wrap): it is not them, so "reaped" and "stopped" pass; and its zombie children are not
    /// the old parent's.
    #[test]
    fn a_reused_pid_is_not_the_process_a_step_found() {
        let then = Duration::from_secs(100);
        let now = Duration::from_secs(700);
        let reused = Process {
            pid: 4242,
            start_time: now,
            ..Default::default()
        };
        let its_zombie = Process {
            pid: 4243,
            ppid: 4242,
            state: crate::model::ProcState::Zombie,
            start_time: now,
            ..Default::default()
        };
        let snap = Snapshot {
            processes: vec![reused.clone(), its_zombie],
            ..Default::default()
        };
        let old = Found {
            pid: 4242,
            start: Some(then),
        };
        let mut memory = Memory::from([("parent".into(), old), ("server".into(), old)]);
        for check in [Check::Reaped, Check::Stopped] {
            let v = verdict(&check, &snap, &mut memory);
            assert!(matches!(v, Verdict::Passed(_)), "{check}: {v:?}");
        }
        // The same process (same start) is still there: not reaped, not stopped.
        let same = Found::of(&reused);
        let mut memory = Memory::from([("parent".into(), same), ("server".into(), same)]);
        for check in [Check::Reaped, Check::Stopped] {
            let v = verdict(&check, &snap, &mut memory);
            assert!(matches!(v, Verdict::Waiting(_)), "{check}: {v:?}");
        }
        // A learner's earlier find counts only for that process, not for its pid's next owner.
        let learner = Learner {
            uid: 0,
            lesson_began: Duration::from_secs(1000),
        };
        let mine = Process {
            uid: Some(0),
            ..reused.clone()
        };
        assert!(!learner.owns(&mine, &Memory::from([("pid".into(), old)])));
        assert!(learner.owns(&mine, &Memory::from([("pid".into(), Found::of(&mine))])));
    }

    /// Progress saved before start times were kept names bare pids: it still loads, and such a
    /// pid is taken at its word.
    #[test]
    fn remembered_pids_of_older_progress_still_load() {
        let m: Memory = serde_json::from_str(
            r#"{"parent": 17, "server": {"pid": 18, "start": {"secs": 5, "nanos": 0}}}"#,
        )
        .unwrap();
        assert_eq!(
            m["parent"],
            Found {
                pid: 17,
                start: None
            }
        );
        assert_eq!(m["server"].start, Some(Duration::from_secs(5)));
        let p = Process {
            pid: 17,
            start_time: Duration::from_secs(9),
            ..Default::default()
        };
        assert!(m["parent"].is(&p));
        let back: Memory = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
