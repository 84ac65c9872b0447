//! `ss` as the differential tests read it: its lines split into fields, its names turned into
//! tcplab's.

use std::process::Command;

/// One line of `ss -t... -H`.
#[derive(Debug, Clone)]
pub struct SsLine {
    /// The kernel's name (ESTABLISHED, SYN_SENT, ...), as tcplab writes it.
    pub state: String,
    pub recv_q: u64,
    pub send_q: u64,
    /// `IP:PORT`, `[IPv6]:PORT`; a port-0 peer as `IP:0`, as tcplab writes it.
    pub local: String,
    pub remote: String,
    /// What follows the addresses (`-e` and `-p` fields).
    pub extra: Vec<String>,
}

/// Runs `ss ARGS -H` and splits its lines.
pub fn ss(args: &str) -> Vec<SsLine> {
    let out = Command::new("ss")
        .args([args, "-H"])
        .output()
        .expect("run ss");
    assert!(out.status.success(), "ss {args} failed");
    let mut lines: Vec<SsLine> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let queues = f.get(1..3).and_then(|q| Some((q[0].parse().ok()?, q[1].parse().ok()?)));
        match (queues, lines.last_mut()) {
            (Some((recv_q, send_q)), _) if f.len() >= 5 => lines.push(SsLine {
                state: kernel_state(f[0]),
                recv_q,
                send_q,
                local: ss_addr(f[3]),
                remote: ss_addr(f[4]),
                extra: f[5..].iter().map(|s| s.to_string()).collect(),
            }),
            // ss prints a process name raw: a name with a newline (another test's hostile
            // name) continues the line before.
            (_, Some(last)) => last.extra.extend(f.iter().map(|s| s.to_string())),
            (_, None) => panic!("ss {args}: a first line that is not a socket: {line:?}"),
        }
    }
    lines
}

/// ss's state names -> the kernel's.
fn kernel_state(ss: &str) -> String {
    match ss {
        "ESTAB" => "ESTABLISHED".into(),
        "UNCONN" => "CLOSE".into(),
        "FIN-WAIT-1" => "FIN_WAIT1".into(),
        "FIN-WAIT-2" => "FIN_WAIT2".into(),
        other => other.replace('-', "_"),
    }
}

/// ss writes a port-0 peer as `*`; tcplab writes the address.
fn ss_addr(a: &str) -> String {
    match a.strip_suffix(":*") {
        Some(host) => format!("{host}:0"),
        None => a.to_string(),
    }
}

/// One socket's info line of `ss -ti` as key -> value; flags (`app_limited`, `ts`, the
/// congestion control's name) map to "".
pub type SsInfo = std::collections::BTreeMap<String, String>;

/// The output of `ss -tinH`: (local, remote) -> (ss's state word, the socket's info line).
pub fn parse_info(
    text: &str,
) -> std::collections::BTreeMap<(String, String), (String, SsInfo)> {
    let mut result = std::collections::BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 {
                continue;
            }
            let key = (f[3].to_string(), f[4].to_string());
            result.insert(key.clone(), (f[0].to_string(), SsInfo::new()));
            current = Some(key);
            continue;
        }
        let Some(key) = &current else {
            continue;
        };
        let info = &mut result.get_mut(key).unwrap().1;
        let mut tokens = line.split_whitespace();
        while let Some(t) = tokens.next() {
            if matches!(t, "pacing_rate" | "delivery_rate" | "send") {
                let v = tokens.next().unwrap_or_default();
                info.insert(t.to_string(), v.to_string());
            } else if t.contains(":(") {
                // bbr:(bw:...,mrtt:...): the algorithm's own state; not in tcp_info.
            } else if let Some((k, v)) = t.split_once(':') {
                info.insert(k.to_string(), v.to_string());
            } else {
                info.insert(t.to_string(), String::new());
            }
        }
    }
    result
}

/// `retrans:A/B`-style pairs of an info line; (0, 0) when ss left it out (both zero).
pub fn info_pair(info: &SsInfo, key: &str) -> (f64, f64) {
    info.get(key).map_or((0.0, 0.0), |v| {
        let (a, b) = v.split_once('/').expect("A/B");
        (a.parse().unwrap(), b.parse().unwrap())
    })
}

/// An info line without the fields that move with the clock alone (`lastsnd`, `lastrcv`,
/// `lastack`, `busy`): equal before and after a read means the socket did not move.
pub fn still(info: &SsInfo) -> SsInfo {
    let mut info = info.clone();
    for k in ["lastsnd", "lastrcv", "lastack", "busy"] {
        info.remove(k);
    }
    info
}
