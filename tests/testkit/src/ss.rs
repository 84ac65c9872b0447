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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 5).then(|| SsLine {
                state: kernel_state(f[0]),
                recv_q: f[1].parse().unwrap(),
                send_q: f[2].parse().unwrap(),
                local: ss_addr(f[3]),
                remote: ss_addr(f[4]),
                extra: f[5..].iter().map(|s| s.to_string()).collect(),
            })
        })
        .collect()
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
