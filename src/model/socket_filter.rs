//! Which sockets a person asked for, the one rule `tcplab net` (`--state`, `--listen`,
//! `--port`) and the dashboard's Sockets filter (`/time_wait close_wait :8080`) share: states
//! are or-ed, ports are or-ed, and the two are and-ed; any other word of the dashboard's filter
//! must appear in an address or an owner.

use super::{Socket, TcpState};

/// A word that names no TCP state; its message lists the names there are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TCP state `{0}`; expected one of {names}", names = TcpState::ALL.map(|s| s.kernel_name()).join(", "))]
pub struct UnknownState(pub String);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketFilter {
    pub states: Vec<TcpState>,
    pub ports: Vec<u16>,
    /// Lowercase words matched against addresses, owners' names and pids.
    pub words: Vec<String>,
}

impl SocketFilter {
    /// A state name as a person types it (`time_wait`, `TIME-WAIT`, `closed`).
    pub fn state(name: &str) -> Result<TcpState, UnknownState> {
        TcpState::parse(name).ok_or_else(|| UnknownState(name.to_string()))
    }

    /// The dashboard's filter text: each word a state name, a port (`8080` or `:8080`), or
    /// anything else to find in an address or an owner.
    pub fn parse(text: &str) -> SocketFilter {
        let mut f = SocketFilter::default();
        for word in text.split_whitespace() {
            if let Ok(st) = SocketFilter::state(word) {
                f.states.push(st);
            } else if let Ok(port) = word.trim_start_matches(':').parse::<u16>() {
                f.ports.push(port);
            } else {
                f.words.push(word.to_lowercase());
            }
        }
        f
    }

    pub fn keeps(&self, s: &Socket) -> bool {
        (self.states.is_empty() || self.states.contains(&s.state))
            && (self.ports.is_empty()
                || self.ports.contains(&s.local.port())
                || self.ports.contains(&s.remote.port()))
            && self.words.iter().all(|w| {
                s.local.to_string().contains(w.as_str())
                    || s.remote.to_string().contains(w.as_str())
                    || s.owners.iter().flatten().any(|o| {
                        o.comm.to_lowercase().contains(w.as_str()) || o.pid.to_string() == *w
                    })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Owner;

    fn sock(state: TcpState, local: &str, remote: &str) -> Socket {
        Socket {
            state,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            owners: Some(vec![Owner {
                pid: 42,
                comm: "curl".into(),
                fd: 3,
            }]),
            recv_q: 0,
            send_q: 0,
            inode: 1,
            uid: 0,
            timer: Default::default(),
            info: None,
            brief: None,
        }
    }

    #[test]
    fn states_or_ed_then_and_ed_with_ports() {
        let f = SocketFilter::parse("time_wait CLOSE-WAIT :8080 9090");
        assert_eq!(f.states, [TcpState::TimeWait, TcpState::CloseWait]);
        assert_eq!(f.ports, [8080, 9090]);
        let keeps = |st, l, r| f.keeps(&sock(st, l, r));
        assert!(keeps(
            TcpState::TimeWait,
            "127.0.0.1:8080",
            "127.0.0.1:5000"
        ));
        assert!(keeps(
            TcpState::CloseWait,
            "127.0.0.1:5000",
            "127.0.0.1:9090"
        ));
        assert!(!keeps(
            TcpState::Established,
            "127.0.0.1:8080",
            "127.0.0.1:1"
        ));
        assert!(!keeps(TcpState::TimeWait, "127.0.0.1:1", "127.0.0.1:2"));
    }

    #[test]
    fn other_words_find_addresses_and_owners() {
        let s = sock(TcpState::Established, "10.0.0.1:1", "10.0.0.2:2");
        assert!(SocketFilter::parse("CURL").keeps(&s));
        assert!(SocketFilter::parse("10.0.0.2").keeps(&s));
        assert!(!SocketFilter::parse("curl nginx").keeps(&s));
    }

    #[test]
    fn an_unknown_state_names_the_known_ones() {
        let e = SocketFilter::state("waiting").unwrap_err().to_string();
        assert!(e.contains("`waiting`") && e.contains("TIME_WAIT"), "{e}");
    }
}
