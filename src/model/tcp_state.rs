//! The TCP states with the kernel's numbering (include/net/tcp_states.h) and names.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum TcpState {
    #[serde(rename = "ESTABLISHED")]
    Established = 1,
    #[serde(rename = "SYN_SENT")]
    SynSent = 2,
    #[serde(rename = "SYN_RECV")]
    SynRecv = 3,
    #[serde(rename = "FIN_WAIT1")]
    FinWait1 = 4,
    #[serde(rename = "FIN_WAIT2")]
    FinWait2 = 5,
    #[serde(rename = "TIME_WAIT")]
    TimeWait = 6,
    #[serde(rename = "CLOSE")]
    Close = 7,
    #[serde(rename = "CLOSE_WAIT")]
    CloseWait = 8,
    #[serde(rename = "LAST_ACK")]
    LastAck = 9,
    #[serde(rename = "LISTEN")]
    Listen = 10,
    #[serde(rename = "CLOSING")]
    Closing = 11,
    #[serde(rename = "NEW_SYN_RECV")]
    NewSynRecv = 12,
}

impl TcpState {
    pub const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
    ];

    /// From the kernel's number (the `st` column of /proc/net/tcp, sock_diag's `state`).
    pub fn from_kernel(n: u8) -> Option<TcpState> {
        TcpState::ALL.get((n as usize).checked_sub(1)?).copied()
    }

    /// The kernel's name, as the tracepoint prints it without the `TCP_` prefix.
    pub fn kernel_name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
        }
    }

    /// Accepts the kernel name in any case, with `-` or `_`, and with or without `TCP_`.
    pub fn parse(s: &str) -> Option<TcpState> {
        let norm = s.trim().to_ascii_uppercase().replace('-', "_");
        let norm = norm.strip_prefix("TCP_").unwrap_or(&norm);
        let norm = match norm {
            "CLOSED" => "CLOSE",
            "FIN_WAIT_1" => "FIN_WAIT1",
            "FIN_WAIT_2" => "FIN_WAIT2",
            other => other,
        };
        TcpState::ALL
            .into_iter()
            .find(|st| st.kernel_name() == norm)
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kernel_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_matches_the_kernel() {
        assert_eq!(TcpState::from_kernel(1), Some(TcpState::Established));
        assert_eq!(TcpState::from_kernel(10), Some(TcpState::Listen));
        assert_eq!(TcpState::from_kernel(12), Some(TcpState::NewSynRecv));
        assert_eq!(TcpState::from_kernel(0), None);
        assert_eq!(TcpState::from_kernel(13), None);
        for st in TcpState::ALL {
            assert_eq!(TcpState::from_kernel(st as u8), Some(st));
            assert_eq!(TcpState::parse(st.kernel_name()), Some(st));
        }
    }

    #[test]
    fn parses_user_spellings() {
        assert_eq!(TcpState::parse("time-wait"), Some(TcpState::TimeWait));
        assert_eq!(TcpState::parse("TCP_CLOSE_WAIT"), Some(TcpState::CloseWait));
        assert_eq!(TcpState::parse("closed"), Some(TcpState::Close));
        assert_eq!(TcpState::parse("nope"), None);
    }
}
