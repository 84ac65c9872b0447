//! Counts per state: TCP sockets per TcpState (`tcplab net --summary`, the dashboard header and
//! the state diagram) and processes per one-letter state.

use std::collections::BTreeMap;

use super::{Process, Socket, TcpState};

/// Sockets per TCP state, indexed by the kernel's state number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts([usize; 13]);

impl StateCounts {
    pub fn of(sockets: &[Socket]) -> StateCounts {
        let mut c = StateCounts::default();
        for s in sockets {
            c.0[s.state as usize] += 1;
        }
        c
    }

    /// One more socket in `state`.
    pub fn add(&mut self, state: TcpState) {
        self.0[state as usize] += 1;
    }

    pub fn get(&self, state: TcpState) -> usize {
        self.0[state as usize]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    /// Every state in the kernel's order, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (TcpState, usize)> + '_ {
        TcpState::ALL.into_iter().map(|s| (s, self.get(s)))
    }
}

/// Counts of any selection of sockets (one port's, one process's) without copying them.
impl<'a> FromIterator<&'a Socket> for StateCounts {
    fn from_iter<I: IntoIterator<Item = &'a Socket>>(sockets: I) -> StateCounts {
        let mut c = StateCounts::default();
        for s in sockets {
            c.0[s.state as usize] += 1;
        }
        c
    }
}

/// Processes per state letter (R, S, D, Z, T, t, X, I).
pub fn process_states(procs: &[Process]) -> BTreeMap<char, usize> {
    let mut m = BTreeMap::new();
    for p in procs {
        *m.entry(p.state.letter()).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProcState, Timer};

    fn sock(state: TcpState) -> Socket {
        Socket {
            state,
            local: "127.0.0.1:1".parse().unwrap(),
            remote: "127.0.0.1:2".parse().unwrap(),
            recv_q: 0,
            send_q: 0,
            inode: 0,
            uid: 0,
            timer: Timer::default(),
            owners: None,
            info: None,
            brief: None,
        }
    }

    #[test]
    fn counts_every_state() {
        let socks = [
            TcpState::Listen,
            TcpState::Established,
            TcpState::Established,
            TcpState::TimeWait,
        ];
        let socks: Vec<Socket> = socks.into_iter().map(sock).collect();
        let c = StateCounts::of(&socks);
        assert_eq!(c.get(TcpState::Established), 2);
        assert_eq!(c.get(TcpState::CloseWait), 0);
        assert_eq!(c.total(), 4);
        assert_eq!(c.iter().count(), 12);
        let procs = vec![
            Process {
                state: ProcState::Zombie,
                ..Default::default()
            },
            Process {
                state: ProcState::Zombie,
                ..Default::default()
            },
            Process {
                state: ProcState::Running,
                ..Default::default()
            },
        ];
        assert_eq!(process_states(&procs).get(&'Z'), Some(&2));
    }
}
