//! A fake snapshot source for tests and snapshots: a small, fixed machine with a login shell,
//! a zombie demo (a parent and its unreaped children), a daemon, a kernel thread, a server with
//! its workers, and a socket in every TCP state. Nothing here reads the OS.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::model::{
    Owner, ProcState, Process, SignalMasks, SignalSet, Snapshot, SnapshotSource, Socket, TcpState,
    Timer, TimerKind,
};

/// Hands out the snapshots it was given, in order, then repeats the last one.
#[derive(Debug, Default)]
pub struct FakeSource {
    queue: VecDeque<Snapshot>,
    last: Snapshot,
}

impl FakeSource {
    pub fn new(snapshots: impl IntoIterator<Item = Snapshot>) -> FakeSource {
        FakeSource {
            queue: snapshots.into_iter().collect(),
            last: Snapshot::default(),
        }
    }
}

impl SnapshotSource for FakeSource {
    fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        if let Some(s) = self.queue.pop_front() {
            self.last = s;
        }
        Ok(self.last.clone())
    }
}

/// A sleeping process owned by `user` with readable, empty masks.
pub fn process(pid: i32, ppid: i32, comm: &str) -> Process {
    Process {
        pid,
        ppid,
        pgid: pid,
        sid: pid,
        tty_nr: 0,
        tty: None,
        tpgid: -1,
        kernel_thread: false,
        state: ProcState::Sleeping,
        uid: Some(1000),
        user: Some("user".to_string()),
        threads: 1,
        start_time: Duration::from_secs(100),
        cpu_time: Duration::from_millis(10 * pid as u64),
        rss_bytes: 4096 * pid as u64,
        comm: comm.to_string(),
        cmdline: Some(vec![comm.to_string()]),
        masks: Some(SignalMasks::default()),
        fd_count: Some(4),
        zombie_since: None,
    }
}

fn set(signals: &[i32]) -> SignalSet {
    SignalSet(signals.iter().fold(0, |m, &s| m | 1u64 << (s - 1)))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("fixture address")
}

fn socket(state: TcpState, local: &str, remote: &str, owner: Option<(i32, i32, &str)>) -> Socket {
    Socket {
        state,
        local: addr(local),
        remote: addr(remote),
        recv_q: 0,
        send_q: 0,
        inode: 0,
        uid: 1000,
        timer: Timer::default(),
        owners: Some(
            owner
                .map(|(pid, fd, comm)| Owner {
                    pid,
                    fd,
                    comm: comm.to_string(),
                })
                .into_iter()
                .collect(),
        ),
        info: None,
        brief: None,
    }
}

/// The fixed machine every snapshot test draws.
pub fn sample() -> Snapshot {
    let mut init = process(1, 0, "init");
    init.uid = Some(0);
    init.user = Some("root".into());
    init.cmdline = Some(vec!["/sbin/init".into()]);
    init.masks = Some(SignalMasks {
        caught: set(&[1, 2, 15, 17]),
        ignored: set(&[13]),
        ..Default::default()
    });

    let mut kthreadd = process(2, 0, "kthreadd");
    kthreadd.cmdline = Some(vec![]);
    kthreadd.user = Some("root".into());
    kthreadd.masks = None;
    kthreadd.kernel_thread = true;
    let mut kworker = process(3, 2, "kworker/0:1");
    kworker.state = ProcState::Idle;
    kworker.cmdline = Some(vec![]);
    kworker.user = Some("root".into());
    kworker.kernel_thread = true;

    // A login shell: session leader on pts/0, and the foreground job it started.
    let mut bash = process(100, 1, "bash");
    bash.tty_nr = 34816;
    bash.tty = Some("pts/0".into());
    bash.tpgid = 200;
    bash.cmdline = Some(vec!["-bash".into()]);
    bash.masks = Some(SignalMasks {
        ignored: set(&[3, 20, 21, 22]),
        caught: set(&[2, 17, 28]),
        ..Default::default()
    });

    // `tcplab demo zombie` in the foreground: a parent that never reaps its three children.
    let mut demo = process(200, 100, "tcplab");
    demo.sid = 100;
    demo.tty_nr = 34816;
    demo.tty = Some("pts/0".into());
    demo.tpgid = 200;
    demo.cmdline = Some(vec!["tcplab".into(), "demo".into(), "zombie".into()]);
    demo.masks = Some(SignalMasks {
        blocked: set(&[10]),
        caught: set(&[2, 15]),
        pending: set(&[10]),
        ..Default::default()
    });
    demo.fd_count = Some(3);
    let zombies = (201..=203).map(|pid| {
        let mut z = process(pid, 200, "tcplab");
        z.pgid = 200;
        z.sid = 100;
        z.tty_nr = 34816;
        z.tty = Some("pts/0".into());
        z.tpgid = 200;
        z.state = ProcState::Zombie;
        z.cmdline = Some(vec![]);
        z.rss_bytes = 0;
        z.fd_count = None;
        z.zombie_since = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_699_999_988));
        z
    });

    // `serve --daemon`: double-forked (so never a session leader), adopted by init, no terminal.
    let mut daemon = process(300, 1, "tcplab");
    daemon.pgid = 299;
    daemon.sid = 299;
    daemon.cmdline = Some(vec![
        "tcplab".into(),
        "serve".into(),
        "--daemon".into(),
        "--model".into(),
        "prefork".into(),
    ]);
    daemon.masks = Some(SignalMasks {
        caught: set(&[1, 3, 10, 15, 17, 21, 22]),
        ignored: set(&[13]),
        ..Default::default()
    });
    let workers = (301..=302).map(|pid| {
        let mut w = process(pid, 300, "tcplab");
        w.pgid = 299;
        w.sid = 299;
        w.cmdline = Some(vec!["tcplab".into(), "serve".into(), "worker".into()]);
        w
    });

    // sshd as systemd starts it: its own session, no terminal, child of init.
    let mut sshd = process(250, 1, "sshd");
    sshd.uid = Some(0);
    sshd.user = Some("root".into());
    sshd.cmdline = Some(vec!["sshd: /usr/sbin/sshd -D".into()]);

    // A stopped job in the background of the shell, and a long sleep.
    let mut stopped = process(400, 100, "vim");
    stopped.sid = 100;
    stopped.tty_nr = 34816;
    stopped.tty = Some("pts/0".into());
    stopped.tpgid = 200;
    stopped.state = ProcState::Stopped;
    stopped.cmdline = Some(vec!["vim".into(), "notes.txt".into()]);
    let mut sleep = process(401, 100, "sleep");
    sleep.pgid = 401;
    sleep.sid = 100;
    sleep.cmdline = Some(vec!["sleep".into(), "1000".into()]);
    let mut running = process(402, 100, "yes");
    running.state = ProcState::Running;
    running.sid = 100;
    running.cmdline = Some(vec!["yes".into()]);

    // An orphan zombie left to PID 1, which has not reaped it for 40 s.
    let mut orphan = process(500, 1, "worker");
    orphan.state = ProcState::Zombie;
    orphan.cmdline = Some(vec![]);
    orphan.rss_bytes = 0;
    orphan.zombie_since = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_699_999_960));

    let mut processes = vec![init, kthreadd, kworker, bash, demo];
    processes.extend(zombies);
    processes.push(sshd);
    processes.push(daemon);
    processes.extend(workers);
    processes.extend([stopped, sleep, running, orphan]);

    let srv = Some((300, 3, "tcplab"));
    let mut sockets = vec![
        socket(TcpState::Listen, "0.0.0.0:8080", "0.0.0.0:0", srv),
        socket(
            TcpState::Listen,
            "[::]:22",
            "[::]:0",
            Some((250, 3, "sshd")),
        ),
        socket(
            TcpState::Established,
            "127.0.0.1:8080",
            "127.0.0.1:40001",
            Some((301, 7, "tcplab")),
        ),
        socket(
            TcpState::SynSent,
            "10.0.0.5:40100",
            "10.0.0.9:80",
            Some((402, 3, "yes")),
        ),
        socket(TcpState::SynRecv, "127.0.0.1:8080", "127.0.0.1:40002", None),
        socket(
            TcpState::NewSynRecv,
            "127.0.0.1:8080",
            "127.0.0.1:40003",
            None,
        ),
        socket(TcpState::FinWait1, "127.0.0.1:8080", "127.0.0.1:40004", srv),
        socket(
            TcpState::FinWait2,
            "127.0.0.1:40005",
            "127.0.0.1:8080",
            None,
        ),
        socket(
            TcpState::TimeWait,
            "127.0.0.1:40006",
            "127.0.0.1:8080",
            None,
        ),
        socket(
            TcpState::Close,
            "127.0.0.1:40007",
            "0.0.0.0:0",
            Some((401, 3, "sleep")),
        ),
        socket(
            TcpState::CloseWait,
            "127.0.0.1:8080",
            "127.0.0.1:40008",
            Some((302, 9, "tcplab")),
        ),
        socket(TcpState::LastAck, "127.0.0.1:8080", "127.0.0.1:40009", srv),
        socket(TcpState::Closing, "127.0.0.1:40010", "127.0.0.1:8080", None),
    ];
    // After fork both the master and a worker hold the listening socket.
    sockets[0].owners = Some(vec![
        Owner {
            pid: 300,
            fd: 3,
            comm: "tcplab".into(),
        },
        Owner {
            pid: 301,
            fd: 3,
            comm: "tcplab".into(),
        },
        Owner {
            pid: 302,
            fd: 3,
            comm: "tcplab".into(),
        },
    ]);
    sockets[0].send_q = 128;
    sockets[0].recv_q = 2;
    sockets[2].send_q = 1448;
    sockets[8].owners = Some(vec![]);
    sockets[8].timer = Timer {
        kind: TimerKind::TimeWait,
        expires_in: Duration::from_millis(41_500),
        retransmits: 0,
    };
    sockets[3].timer = Timer {
        kind: TimerKind::Retransmit,
        expires_in: Duration::from_millis(800),
        retransmits: 2,
    };
    for (i, s) in sockets.iter_mut().enumerate() {
        s.inode = 9000 + i as u64;
    }

    Snapshot {
        taken_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        cost: Duration::from_millis(7),
        processes,
        sockets,
        sockets_from_procfs: false,
        owners_partial: false,
        subreapers: vec![1],
    }
}

/// `sample()` as a refresh `step` seconds later that asked for `tcp_info`: every connection
/// carries one whose counters grow with `step` (so two of them give rates), the listeners
/// their congestion control only, as the kernel gives them.
pub fn sample_with_info(step: u64) -> Snapshot {
    use crate::model::tcp_info::{CaState, Congestion, TcpInfo, INFINITE_SSTHRESH};
    let mut snap = sample();
    snap.taken_at = snap.taken_at.map(|t| t + Duration::from_secs(step));
    for (i, s) in snap.sockets.iter_mut().enumerate() {
        let n = i as u64 + 1;
        s.info = match s.state {
            TcpState::TimeWait | TcpState::SynRecv | TcpState::NewSynRecv => None,
            TcpState::Listen => Some(Box::new(TcpInfo {
                listener: true,
                congestion: Congestion::new(b"cubic"),
                ..TcpInfo::default()
            })),
            _ => Some(Box::new(TcpInfo {
                congestion: Congestion::new(b"cubic"),
                ca_state: Some(CaState::Open),
                rtt_us: 250 * n as u32 + 40 * step as u32,
                rttvar_us: 120,
                snd_cwnd: 10 + (step as u32 * 3) % 17,
                snd_ssthresh: if step > 2 { 14 } else { INFINITE_SSTHRESH },
                snd_mss: 1448,
                total_retrans: step as u32 / 2,
                // Faster each refresh, so the detail view's graph rises.
                bytes_acked: step * n * 300_000 + step * step * 40_000,
                bytes_received: step * 20_000,
                pacing_rate: u64::MAX,
                ..TcpInfo::default()
            })),
        };
        s.brief = s.info.as_ref().map(|i| i.brief());
    }
    snap
}
