//! Sessions, process groups, terminals and daemons: the job-control view of `ps -axj`.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::zombies::unreaped_children;
use super::{Process, Snapshot};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessGroup {
    pub pgid: i32,
    /// Member pids, ascending.
    pub members: Vec<i32>,
    /// The group's leader (pid == pgid) is still alive.
    pub leader_alive: bool,
    /// This is the foreground group of the session's terminal.
    pub foreground: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: i32,
    /// The session leader (pid == sid) is still alive.
    pub leader_alive: bool,
    /// The controlling terminal, if any member has one.
    pub tty: Option<String>,
    /// Groups in pgid order.
    pub groups: Vec<ProcessGroup>,
}

/// A member of the foreground process group of its terminal (ps STAT `+`).
pub fn is_foreground(p: &Process) -> bool {
    p.tty_nr != 0 && p.tpgid == p.pgid
}

/// What a process is to the others, from one snapshot: the one definition behind `ps`'s MARK
/// column, the dashboard's marks and its details.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    /// It started its session (pid == sid).
    pub session_leader: bool,
    /// It started its process group (pid == pgid).
    pub group_leader: bool,
    /// A daemon; see [`daemons`].
    pub daemon: bool,
    /// Its children that exited and are not reaped yet: a zombie parent when non-zero.
    pub unreaped_children: usize,
}

impl Roles {
    pub fn is_zombie_parent(&self) -> bool {
        self.unreaped_children > 0
    }
}

/// The roles of every process in the snapshot, by pid.
pub fn roles(snap: &Snapshot) -> HashMap<i32, Roles> {
    let daemons: HashSet<i32> = daemons(snap).into_iter().collect();
    let unreaped = unreaped_children(&snap.processes);
    snap.processes
        .iter()
        .map(|p| {
            let roles = Roles {
                session_leader: p.is_session_leader(),
                group_leader: p.is_group_leader(),
                daemon: daemons.contains(&p.pid),
                unreaped_children: unreaped.get(&p.pid).copied().unwrap_or(0),
            };
            (p.pid, roles)
        })
        .collect()
}

/// Pids of every daemon in the snapshot: what fork, setsid, fork again leaves behind. No
/// controlling terminal; in a session and process group that setsid made (pgid == sid: a
/// background job `cmd &` left by a shell that exited has a group of its own in the shell's
/// session, and is no daemon); not init's session, nor its parent's; and adopted — by PID 1 or
/// a known subreaper, or, since the kernel does not publish which processes are subreapers, by
/// a parent in another session while its own session's leader is gone (a process is born in
/// its parent's session, so it was re-parented). The grandchild of the double fork is *not*
/// its session's leader; that is the point of the second fork. Kernel threads are not daemons.
pub fn daemons(snap: &Snapshot) -> Vec<i32> {
    let mut subreapers = snap.subreapers.clone();
    if !subreapers.contains(&1) {
        subreapers.push(1);
    }
    let sid_of: HashMap<i32, i32> = snap.processes.iter().map(|p| (p.pid, p.sid)).collect();
    snap.processes
        .iter()
        .filter(|p| p.tty_nr == 0 && !p.is_kernel_thread() && p.pid != 1 && p.sid > 1)
        .filter(|p| p.pgid == p.sid)
        .filter(|p| {
            sid_of
                .get(&p.ppid)
                .is_none_or(|&parent_sid| parent_sid != p.sid)
        })
        .filter(|p| {
            let adopted_by_known = p.ppid == 1 || subreapers.contains(&p.ppid);
            let leader_gone = !sid_of.contains_key(&p.sid);
            adopted_by_known || (leader_gone && sid_of.contains_key(&p.ppid))
        })
        .map(|p| p.pid)
        .collect()
}

/// The foreground process group of each terminal, by terminal name.
pub fn foreground_groups(procs: &[Process]) -> BTreeMap<String, i32> {
    procs
        .iter()
        .filter(|p| p.tpgid > 0)
        .filter_map(|p| p.tty.clone().map(|t| (t, p.tpgid)))
        .collect()
}

/// Every session with its groups. Kernel threads (session 0) are left out; other processes in
/// "session 0" are in a pid namespace (a container) whose session leader lives outside it, as
/// `docker exec` leaves them, and form a session of their own here.
pub fn sessions(procs: &[Process]) -> Vec<Session> {
    let mut by_sid: BTreeMap<i32, BTreeMap<i32, Vec<&Process>>> = BTreeMap::new();
    for p in procs.iter().filter(|p| !p.is_kernel_thread()) {
        by_sid
            .entry(p.sid)
            .or_default()
            .entry(p.pgid)
            .or_default()
            .push(p);
    }
    let alive = |pid: i32| procs.iter().any(|p| p.pid == pid);
    by_sid
        .into_iter()
        .map(|(sid, groups)| {
            let members = groups.values().flatten();
            let tty = members.clone().find_map(|p| p.tty.clone());
            let tpgid = members.clone().find(|p| p.tty_nr != 0).map(|p| p.tpgid);
            Session {
                sid,
                leader_alive: alive(sid),
                tty,
                groups: groups
                    .into_iter()
                    .map(|(pgid, ps)| {
                        let mut members: Vec<i32> = ps.iter().map(|p| p.pid).collect();
                        members.sort_unstable();
                        ProcessGroup {
                            pgid,
                            leader_alive: members.contains(&pgid),
                            foreground: tpgid == Some(pgid),
                            members,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, pgid: i32, sid: i32, tty_nr: i32, tpgid: i32) -> Process {
        let tty = crate::kernel::tty::tty_name(tty_nr);
        Process {
            pid,
            ppid,
            pgid,
            sid,
            tty_nr,
            tty,
            tpgid,
            ..Default::default()
        }
    }

    fn kernel(p: Process) -> Process {
        Process {
            kernel_thread: true,
            ..p
        }
    }

    fn shell_and_job() -> Vec<Process> {
        vec![
            p(1, 0, 1, 1, 0, -1),
            kernel(p(2, 0, 0, 0, 0, -1)),      // kthreadd
            kernel(p(3, 2, 0, 0, 0, -1)),      // a kernel thread
            p(100, 1, 100, 100, 34816, 200),   // a shell on pts/0
            p(200, 100, 200, 100, 34816, 200), // its foreground job
            p(201, 200, 200, 100, 34816, 200),
            p(300, 1, 300, 300, 0, -1),   // a daemon
            p(400, 50, 400, 400, 0, -1),  // setsid'd but still a child of its parent
            p(500, 77, 500, 500, 0, -1),  // under a subreaper
            p(600, 1, 599, 599, 0, -1),   // double-forked: session 599's leader exited
            p(700, 100, 699, 699, 0, -1), // the same under the shell, an unknown subreaper
            p(800, 1, 1, 1, 0, -1),       // in init's own session: not a daemon
            p(900, 1, 900, 850, 0, -1),   // `cmd &` of shell 850, which exited: not a daemon
        ]
    }

    #[test]
    fn daemons_need_no_tty_own_session_and_an_adoptive_parent() {
        let snap = Snapshot {
            processes: shell_and_job(),
            subreapers: vec![1, 77],
            ..Default::default()
        };
        assert_eq!(daemons(&snap), [300, 500, 600, 700]);
    }

    #[test]
    fn roles_agree_with_the_daemon_rule_and_lead_nothing_in_session_0() {
        let mut processes = shell_and_job();
        processes.push(Process {
            state: crate::model::ProcState::Zombie,
            ..p(1000, 300, 300, 300, 0, -1)
        });
        let snap = Snapshot {
            processes,
            subreapers: vec![1, 77],
            ..Default::default()
        };
        let roles = roles(&snap);
        let daemon = roles[&300];
        assert!(daemon.daemon && daemon.session_leader && daemon.group_leader);
        assert_eq!(daemon.unreaped_children, 1);
        assert!(daemon.is_zombie_parent());
        assert!(roles[&600].daemon && !roles[&600].session_leader);
        assert!(!roles[&900].daemon && roles[&900].group_leader);
        assert_eq!(roles[&3], Roles::default(), "a kernel thread");
        assert!(roles[&100].session_leader && !roles[&100].daemon);
    }

    #[test]
    fn sessions_groups_and_foreground() {
        let procs = shell_and_job();
        let fg = foreground_groups(&procs);
        assert_eq!(fg.get("pts/0"), Some(&200));
        assert!(is_foreground(&procs[4]) && !is_foreground(&procs[3]));
        let s = sessions(&procs);
        let shell = s.iter().find(|s| s.sid == 100).unwrap();
        assert!(shell.leader_alive);
        assert_eq!(shell.tty.as_deref(), Some("pts/0"));
        assert_eq!(shell.groups.len(), 2);
        assert!(!shell.groups[0].foreground && shell.groups[1].foreground);
        assert_eq!(shell.groups[1].members, [200, 201]);
        assert!(s.iter().all(|s| s.sid != 0));
    }

    #[test]
    fn in_a_pid_namespace_a_session_led_from_outside_keeps_its_groups() {
        // Inside a container the kernel reports sid 0 (and pgid 0) for ids outside the
        // namespace; a pipeline started there with its own group is still a group of three.
        let procs = vec![
            p(1, 0, 0, 0, 0, -1),
            p(10, 1, 0, 0, 0, -1),
            p(20, 10, 20, 0, 0, -1),
            p(21, 20, 20, 0, 0, -1),
            p(22, 20, 20, 0, 0, -1),
        ];
        let s = sessions(&procs);
        let outside = s.iter().find(|s| s.sid == 0).expect("session 0");
        assert!(!outside.leader_alive);
        let pipe = outside.groups.iter().find(|g| g.pgid == 20).unwrap();
        assert_eq!(pipe.members, [20, 21, 22]);
    }
}
