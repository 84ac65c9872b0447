//! One TCP socket as the kernel reports it (sock_diag, or /proc/net/tcp), with its holders.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::{TcpBrief, TcpInfo, TcpState};

/// A process that holds the socket in one of its descriptors. After fork, a socket has
/// several holders, and every one of them matters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Owner {
    pub pid: i32,
    pub fd: i32,
    pub comm: String,
}

/// `comm[pid]:fd`, the one way a holder is shown as text (`tcplab net`, the dashboard). The
/// comm is the process's own choice, so it goes through [`printable`](crate::text::printable).
impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let comm = crate::text::printable(&self.comm);
        write!(f, "{comm}[{}]:{}", self.pid, self.fd)
    }
}

/// A socket's holders as text: `comm[pid]:fd,...`; `-` when nobody holds it (TIME_WAIT), `?`
/// when unknown (not looked up, or another user's process and we are not root).
pub fn owners_text(owners: Option<&[Owner]>) -> String {
    match owners {
        None => "?".to_string(),
        Some([]) => "-".to_string(),
        Some(o) => o.iter().map(Owner::to_string).collect::<Vec<_>>().join(","),
    }
}

/// [`owners_text`] in at most `width` characters: whole when it fits, else the first holder's
/// `comm[pid]` and how many more (`nginx[301]+3`), cut with `…` when even that is too long.
pub fn owners_text_within(owners: Option<&[Owner]>, width: usize) -> String {
    let full = owners_text(owners);
    if full.chars().count() <= width {
        return full;
    }
    let Some([first, rest @ ..]) = owners else {
        return full;
    };
    let mut short = format!("{}[{}]", crate::text::printable(&first.comm), first.pid);
    if !rest.is_empty() {
        short.push_str(&format!("+{}", rest.len()));
    }
    if short.chars().count() <= width {
        return short;
    }
    match width {
        0 => String::new(),
        w => {
            let mut cut: String = short.chars().take(w - 1).collect();
            cut.push('…');
            cut
        }
    }
}

/// Which timer of the socket is running (the `tr` column of /proc/net/tcp, `timer:` of ss -o).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimerKind {
    Off,
    Retransmit,
    Keepalive,
    TimeWait,
    Probe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub kind: TimerKind,
    pub expires_in: Duration,
    pub retransmits: u32,
}

impl Default for Timer {
    fn default() -> Self {
        Timer {
            kind: TimerKind::Off,
            expires_in: Duration::ZERO,
            retransmits: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Socket {
    pub state: TcpState,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// For a listener: connections waiting in the accept queue. Otherwise bytes not yet read.
    pub recv_q: u32,
    /// For a listener: the backlog. Otherwise bytes not yet acknowledged.
    pub send_q: u32,
    pub inode: u64,
    pub uid: u32,
    pub timer: Timer,
    /// Every (pid, fd) holding the inode; None when owners were not looked up or could not be
    /// (another user's process and we are not root). TIME_WAIT sockets have no owner: Some([]).
    pub owners: Option<Vec<Owner>>,
    /// What the kernel knows inside the connection, when the scan asked for it
    /// (`ScanDetail::TcpInfo`) and the kernel gave it (not for TIME_WAIT or SYN_RECV, nor from
    /// /proc/net/tcp). Boxed: the plain scan carries only the empty pointer.
    pub info: Option<Box<TcpInfo>>,
    /// What the rate columns need of `tcp_info`, inline: filled whenever the scan asked for
    /// `tcp_info` in any form (`ScanDetail::Brief` gives this alone, without `info`) and the
    /// kernel gave it; always `info.brief()` when `info` is there.
    pub brief: Option<TcpBrief>,
}

/// Inodes are small distinct integers: a multiplicative hash spreads them well and costs a
/// fraction of SipHash, which showed in profiles at tens of thousands of sockets.
#[derive(Debug, Default, Clone, Copy)]
pub struct InodeHasher(u64);

impl std::hash::Hasher for InodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub type InodeHash = std::hash::BuildHasherDefault<InodeHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(pid: i32, fd: i32, comm: &str) -> Owner {
        Owner {
            pid,
            fd,
            comm: comm.into(),
        }
    }

    #[test]
    fn owners_within_a_width_keep_the_first_holder_whole() {
        let two = [owner(301, 7, "nginx"), owner(302, 7, "nginx")];
        assert_eq!(
            owners_text_within(Some(&two), 30),
            "nginx[301]:7,nginx[302]:7"
        );
        assert_eq!(owners_text_within(Some(&two), 12), "nginx[301]+1");
        assert_eq!(owners_text_within(Some(&two[..1]), 10), "nginx[301]");
        assert_eq!(owners_text_within(Some(&two), 6), "nginx…");
        assert_eq!(owners_text_within(Some(&[]), 1), "-");
    }

    #[test]
    fn an_owner_is_comm_pid_fd_with_the_comm_made_printable() {
        assert_eq!(owner(300, 3, "tcplab").to_string(), "tcplab[300]:3");
        assert_eq!(owner(7, 12, "a\nb\x1b[31m").to_string(), "a?b?[31m[7]:12");
    }

    #[test]
    fn owners_are_joined_by_commas_dash_for_none_and_question_mark_for_unknown() {
        assert_eq!(owners_text(None), "?");
        assert_eq!(owners_text(Some(&[])), "-");
        let two = [owner(300, 3, "tcplab"), owner(301, 3, "tab\there")];
        assert_eq!(owners_text(Some(&two)), "tcplab[300]:3,tab?here[301]:3");
    }
}
