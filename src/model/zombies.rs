//! Zombies: processes that exited and whose parent has not called wait yet. Each is shown with
//! its parent and how many unreaped children that parent has; those whose parent is PID 1 are
//! singled out with how long they have waited (PID 1 reaps late on some machines and never in a
//! container without an init).

use std::collections::HashMap;
use std::time::Duration;

use super::{Process, Snapshot};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zombie {
    pub pid: i32,
    pub comm: String,
    pub ppid: i32,
    /// The parent's comm; None when the parent is not in the snapshot.
    pub parent_comm: Option<String>,
    /// How many zombie children the parent has (this one included).
    pub parent_unreaped: usize,
    /// At least this long a zombie (since tcplab first saw it); None when unknown.
    pub waited: Option<Duration>,
}

/// Zombie children per parent pid.
pub fn unreaped_children(procs: &[Process]) -> HashMap<i32, usize> {
    let mut map = HashMap::new();
    for p in procs.iter().filter(|p| p.is_zombie()) {
        *map.entry(p.ppid).or_insert(0) += 1;
    }
    map
}

/// Every zombie with its parent, in pid order.
pub fn zombies(snap: &Snapshot) -> Vec<Zombie> {
    let unreaped = unreaped_children(&snap.processes);
    let comm_of: HashMap<i32, &str> = snap
        .processes
        .iter()
        .map(|p| (p.pid, p.comm.as_str()))
        .collect();
    let mut out: Vec<Zombie> = snap
        .processes
        .iter()
        .filter(|p| p.is_zombie())
        .map(|p| Zombie {
            pid: p.pid,
            comm: p.comm.clone(),
            ppid: p.ppid,
            parent_comm: comm_of.get(&p.ppid).map(|c| c.to_string()),
            parent_unreaped: unreaped.get(&p.ppid).copied().unwrap_or(0),
            waited: match (snap.taken_at, p.zombie_since) {
                (Some(now), Some(since)) => Some(now.duration_since(since).unwrap_or_default()),
                _ => None,
            },
        })
        .collect();
    out.sort_by_key(|z| z.pid);
    out
}

/// Zombies whose parent is PID 1: orphans that init has not reaped yet.
pub fn zombies_of_init(snap: &Snapshot) -> Vec<Zombie> {
    zombies(snap).into_iter().filter(|z| z.ppid == 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProcState;
    use std::time::SystemTime;

    fn p(pid: i32, ppid: i32, state: ProcState) -> Process {
        Process {
            pid,
            ppid,
            state,
            comm: format!("p{pid}"),
            ..Default::default()
        }
    }

    #[test]
    fn counts_each_parents_unreaped_children() {
        let now = SystemTime::now();
        let mut orphan = p(40, 1, ProcState::Zombie);
        orphan.zombie_since = Some(now - Duration::from_secs(3));
        let snap = Snapshot {
            taken_at: Some(now),
            processes: vec![
                p(1, 0, ProcState::Sleeping),
                p(10, 1, ProcState::Sleeping),
                p(11, 10, ProcState::Zombie),
                p(12, 10, ProcState::Zombie),
                p(13, 10, ProcState::Running),
                orphan,
            ],
            ..Default::default()
        };
        let z = zombies(&snap);
        assert_eq!(z.iter().map(|z| z.pid).collect::<Vec<_>>(), [11, 12, 40]);
        assert_eq!(z[0].parent_unreaped, 2);
        assert_eq!(z[0].parent_comm.as_deref(), Some("p10"));
        assert_eq!(z[0].waited, None);
        let init = zombies_of_init(&snap);
        assert_eq!(init.len(), 1);
        assert_eq!(init[0].parent_unreaped, 1);
        assert_eq!(init[0].waited, Some(Duration::from_secs(3)));
    }
}
