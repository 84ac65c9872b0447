//! The dashboard end to end, in a real terminal (tmux) against the real binary: `z` makes real
//! zombies whose parent is the demo, a `sleep` this test started is ended with TERM through
//! the signal menu, and `q` gives the terminal back exactly as it was. Every wait polls with a
//! deadline; the tmux server (its own socket) is killed whatever happens.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use testkit::tmux::Tmux;
use testkit::{wait_for, Running};

const DEADLINE: Duration = Duration::from_secs(20);

/// Waits until the demo's child (the negligent parent) has its 3 zombie children, read with
/// `ps`; returns (parent, zombies).
fn zombies_of(demo: i32) -> (i32, Vec<i32>) {
    wait_for("zombies whose parent is the demo's child", DEADLINE, || {
        let all = ps();
        let parent = all.iter().find(|(_, ppid, _, _)| *ppid == demo)?.0;
        let zombies: Vec<i32> = all
            .iter()
            .filter(|(_, ppid, stat, _)| *ppid == parent && stat.starts_with('Z'))
            .map(|p| p.0)
            .collect();
        (zombies.len() == 3).then_some((parent, zombies))
    })
}

/// (pid, ppid, stat, args) of every process.
fn ps() -> Vec<(i32, i32, String, String)> {
    let out = Command::new("ps")
        .args(["-eo", "pid=,ppid=,stat=,args="])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let pid = it.next()?.parse().ok()?;
            let ppid = it.next()?.parse().ok()?;
            let stat = it.next()?.to_string();
            Some((pid, ppid, stat, it.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

/// Starts `tcplab tui` from a shell in a fresh tmux; the shell records the terminal's modes
/// before and after (`stty -g`) and the exit status. Returns the tmux and the dashboard's pid.
fn start_dashboard() -> (Tmux, i32) {
    start_dashboard_at((160, 50))
}

/// As [`start_dashboard`], on a terminal of `size`.
fn start_dashboard_at(size: (u16, u16)) -> (Tmux, i32) {
    let bin = env!("CARGO_BIN_EXE_tcplab");
    let tmux = Tmux::start("tui", size, "sh");
    let dir = tmux.dir().display().to_string();
    let script = format!(
        "stty -g > {dir}/before; {bin} tui; echo \"exit $?\" > {dir}/status; stty -g > {dir}/after; printf 'TCPLAB-%s\\n' DONE"
    );
    tmux.send(&[&script, "Enter"]);
    tmux.wait_screen("the dashboard", |s| {
        s.contains("1 Processes") && s.contains("PID")
    });
    if nix::unistd::geteuid().is_root() {
        // The tracer's "transitions from the kernel" notice takes the status line when it
        // starts; wait for it so it does not replace a message a test is waiting for.
        // (At 80 columns the header has no room for its source; the status line says it.)
        tmux.wait_screen("the kernel tracer", |s| {
            s.contains("transitions: kernel") || s.contains("transitions from the kernel")
        });
    }
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the dashboard uses the alternate screen"
    );
    let shell = tmux.display("#{pane_pid}").parse::<i32>().unwrap();
    let tui = wait_for("the tui process", DEADLINE, || {
        ps().into_iter()
            .find(|(_, ppid, _, args)| *ppid == shell && args.contains(" tui"))
            .map(|p| p.0)
    });
    (tmux, tui)
}

/// After the dashboard ended: the shell is back, the main screen shown, the modes as before.
/// The marker is printed with `printf` so that the typed command line, which the main screen
/// shows as soon as the dashboard leaves the alternate screen, does not already contain it.
fn assert_terminal_restored(tmux: &Tmux) {
    tmux.wait_screen("the shell after the dashboard", |s| {
        s.contains("TCPLAB-DONE")
    });
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "alternate screen left"
    );
    let read = |f: &str| std::fs::read_to_string(tmux.dir().join(f)).unwrap();
    assert_eq!(read("status").trim(), "exit 0");
    assert_eq!(
        read("before"),
        read("after"),
        "terminal modes restored (stty -g)"
    );
}

/// The demo the dashboard started (a child of `tui`), once it is there.
fn demo_of(tui: i32) -> i32 {
    wait_for("the demo", DEADLINE, || {
        ps().into_iter()
            .find(|(_, ppid, _, args)| *ppid == tui && args.contains("demo zombie"))
            .map(|p| p.0)
    })
}

/// `z` in the dashboard `tui` runs in: (demo, parent, zombies) once the parent, marked `Z3`,
/// is on screen.
fn zombie_demo(tmux: &Tmux, tui: i32) -> (i32, i32, Vec<i32>) {
    tmux.send(&["z"]);
    let demo = demo_of(tui);
    let (parent, zombies) = zombies_of(demo);
    tmux.wait_screen("the zombies' parent on screen", |s| {
        s.lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&parent.to_string()) && l.contains("Z3"))
    });
    (demo, parent, zombies)
}

/// Waits until the parent and its zombies are gone from the process table (reaped).
fn wait_reaped(parent: i32, zombies: &[i32]) {
    wait_for("the parent and its zombies reaped", DEADLINE, || {
        let all = ps();
        (!all
            .iter()
            .any(|(pid, _, _, _)| *pid == parent || zombies.contains(pid)))
        .then_some(())
    });
}

#[test]
fn term_restores_the_terminal_and_ends_the_demo() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    let (tmux, tui) = start_dashboard();
    tmux.send(&["z"]);
    let demo = demo_of(tui);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tui),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_terminal_restored(&tmux);
    let left: Vec<_> = ps()
        .into_iter()
        .filter(|(pid, ppid, _, _)| *pid == demo || *ppid == demo)
        .collect();
    assert!(left.is_empty(), "left behind after TERM: {left:?}");
}

#[test]
fn zombie_demo_signal_menu_and_clean_quit() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    testkit::subreaper();
    let mut sleep = Running {
        child: Command::new("sleep").arg("1000").spawn().unwrap(),
        stderr: None,
    };
    let sleep_pid = sleep.pid();

    let (tmux, tui) = start_dashboard();

    // z: the zombie demo, as a child of the dashboard; its parent's children are zombies, and
    // the screen shows the parent, marked with its count of unreaped children.
    let (_, parent, zombies) = zombie_demo(&tmux, tui);

    // Select our sleep with the filter, then TERM through the menu, with confirmation.
    tmux.send(&["/"]);
    tmux.send(&[&sleep_pid.to_string()]);
    tmux.send(&["Enter"]);
    // The first row (the selection) must be our sleep before anything is sent.
    tmux.wait_screen("the sleep, filtered and selected", |s| {
        let mut rows = s.lines().skip_while(|l| !l.contains("PPID")).skip(1);
        rows.next().is_some_and(|first| {
            first.split_whitespace().nth(1) == Some(sleep_pid.to_string().as_str())
                && first.contains("sleep 1000")
        })
    });
    tmux.send(&["k"]);
    tmux.wait_screen("the signal menu", |s| {
        s.contains("Send a signal") && s.contains("TERM")
    });
    tmux.send(&["Enter"]);
    tmux.wait_screen("the confirmation", |s| {
        s.contains(&format!("Send TERM to pid {sleep_pid} (sleep)?"))
    });
    tmux.send(&["y"]);
    let status = sleep.wait_exit(DEADLINE);
    assert_eq!(status.signal(), Some(15), "sleep ended by TERM");
    tmux.wait_screen("the status line", |s| {
        s.contains(&format!("sent TERM to pid {sleep_pid}"))
    });

    // q: every child ended and reaped, the terminal as it was.
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
    let left: Vec<_> = ps()
        .into_iter()
        .filter(|(pid, ppid, _, _)| *pid == parent || *ppid == tui || zombies.contains(pid))
        .collect();
    assert!(left.is_empty(), "left behind after quit: {left:?}");
}

/// The lesson of the subreaper: when the demo's supervisor dies without cleaning up, the
/// negligent parent is adopted by the dashboard; when that parent dies, its zombies come to
/// the dashboard too, which reaps them at once and says so.
#[test]
fn orphaned_zombies_come_back_to_the_dashboard_and_are_reaped() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let (tmux, tui) = start_dashboard();
    let (demo, parent, zombies) = zombie_demo(&tmux, tui);
    // KILL leaves the supervisor no chance to clean up: its child is orphaned, and the kernel
    // gives it to the nearest subreaper, the dashboard.
    kill(Pid::from_raw(demo), Signal::SIGKILL).unwrap();
    wait_for("the parent adopted by the dashboard", DEADLINE, || {
        ps().iter()
            .any(|(pid, ppid, _, _)| *pid == parent && *ppid == tui)
            .then_some(())
    });
    // The parent dies without reaping: its zombies are adopted and reaped by the dashboard.
    kill(Pid::from_raw(parent), Signal::SIGTERM).unwrap();
    wait_reaped(parent, &zombies);
    tmux.wait_screen("the dashboard saying it reaped them", |s| {
        s.contains("came back to tcplab, a child subreaper")
    });
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
}

/// Steps 2 to 4 of the README's tour as written: `z` selects the negligent parent, Enter shows
/// its details, `k` Enter `y` sends it TERM; its zombies are reaped by the demo's first
/// process (a subreaper), and the status line gives that process's last words.
#[test]
fn the_readme_tour_ends_the_zombies_parent_with_term() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    let (tmux, tui) = start_dashboard();
    let (demo, parent, zombies) = zombie_demo(&tmux, tui);
    tmux.send(&["Enter"]);
    tmux.wait_screen("the parent's details", |s| {
        s.contains("Process details")
            && s.contains(&format!("pid {parent} "))
            && s.contains("parent of 3 unreaped zombies")
    });
    tmux.send(&["k"]);
    tmux.wait_screen("the signal menu on the parent", |s| {
        s.contains("Send a signal") && s.contains(&format!("{parent} tcplab"))
    });
    tmux.send(&["Enter"]);
    tmux.wait_screen("the confirmation", |s| {
        s.contains(&format!("Send TERM to pid {parent} (tcplab)?"))
    });
    tmux.send(&["y"]);
    wait_reaped(parent, &zombies);
    tmux.wait_screen("the demo's last words", |s| {
        s.contains(&format!("demo zombie (pid {demo}) exited"))
            && s.contains(&format!("subreaper {demo} adopted and reaped"))
    });
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
}

/// `q` in an overlay that says "any key closes" closes the overlay: the dashboard and the demo
/// it started keep running.
#[test]
fn q_in_help_closes_help_and_leaves_the_dashboard_running() {
    let (tmux, tui) = start_dashboard();
    tmux.send(&["z"]);
    let demo = demo_of(tui);
    tmux.send(&["?"]);
    tmux.wait_screen("the help", |s| s.contains("Help"));
    tmux.send(&["q"]);
    tmux.wait_screen("the help closed", |s| {
        !s.contains("Help ·") && s.contains("1 Processes")
    });
    let alive = |pid: i32| ps().iter().any(|p| p.0 == pid && !p.2.starts_with('Z'));
    assert!(alive(tui), "the dashboard still runs");
    assert!(alive(demo), "its demo still runs");
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
}

/// The server's address as the dashboard's status line gives it when the server is ready.
fn server_addr(tmux: &Tmux) -> std::net::SocketAddr {
    let screen = tmux.wait_screen("the server ready", |s| {
        s.contains("server listening on http://")
    });
    let rest = screen.split("server listening on http://").nth(1).unwrap();
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// Step 5 of the README's tour: `l` opens 50 connections to the server started with `s`,
/// holds them and closes them, ours first: 50 TIME_WAIT on our side (read with `ss`), and the
/// pane, which said "we close them in a moment", says they were closed.
#[test]
fn load_opens_and_closes_fifty_connections_and_says_so() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    let (tmux, _tui) = start_dashboard_at((80, 24));
    let started = std::time::Instant::now();
    tmux.send(&["4", "s"]);
    let addr = server_addr(&tmux);
    tmux.send(&["l"]);
    tmux.wait_screen("the burst opened", |s| {
        s.contains("load: opened 50 connections")
    });
    tmux.wait_screen("the burst closed", |s| {
        s.contains("load: we closed 50 connections first")
            && !s.contains("we close them in a moment")
    });
    // Ours closed first: the TIME_WAIT is on the client side, whose peer is the server.
    wait_for("50 TIME_WAIT towards the server", DEADLINE, || {
        (time_waits_at(End::Peer, addr, started) == 50).then_some(())
    });
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
}

/// Without root the dashboard samples the socket table, and its own `/status` asks to an
/// iterative server (a new connection each second, whose TIME_WAIT stays on the server's side)
/// must not show in the State machine's log: each refresh is handled only after the word that
/// the connections it may show are the dashboard's own. They used to slip in as
/// `CLOSE→TIME_WAIT` then `TIME_WAIT→CLOSE` now and then.
#[test]
fn sampled_without_root_the_dashboards_own_asks_stay_out_of_the_log() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_tcplab");
    let tmux = Tmux::start("tui", (160, 50), "sh");
    let user = match nix::unistd::geteuid().is_root() {
        true => "setpriv --reuid 65534 --regid 65534 --clear-groups ",
        false => "",
    };
    let dir = tmux.dir().display().to_string();
    tmux.send(&[
        &format!("{user}{bin} tui --interval 100ms; printf 'TCPLAB-%s\\n' DONE > {dir}/done"),
        "Enter",
    ]);
    tmux.wait_screen("the dashboard, sampling", |s| {
        s.contains("1 Processes") && s.contains("transitions: sampled")
    });
    tmux.send(&["4", "m"]);
    tmux.wait_screen("the iterative model", |s| s.contains("model: iterative"));
    let started = std::time::Instant::now();
    tmux.send(&["s"]);
    let addr = server_addr(&tmux);
    tmux.send(&["o"]);
    tmux.wait_screen("one pane at a time", |s| {
        !s.contains("┌ Sockets") && !s.contains("┏ Sockets")
    });
    tmux.send(&["3", "/"]);
    tmux.send(&[&addr.port().to_string(), "Enter"]);
    tmux.wait_screen("the log of the server's port", |s| {
        s.contains(&format!("State machine · port {}", addr.port()))
    });
    // Eight asks, each a connection of the dashboard's and a TIME_WAIT on the server.
    wait_for("eight asks answered", Duration::from_secs(30), || {
        (time_waits_at(End::Local, addr, started) >= 8).then_some(())
    });
    let screen = tmux.screen();
    let shown: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains('→') && l.contains(&format!(":{} ", addr.port())))
        .filter(|l| !l.contains("→LISTEN"))
        .collect();
    assert!(
        shown.is_empty(),
        "the dashboard's own asks in the log: {shown:#?}"
    );
    tmux.send(&["q"]);
    tmux.wait_screen("the dashboard gone", |_| tmux.dir().join("done").exists());
}

/// Which end of a socket: `ss`'s Local or Peer column.
enum End {
    Local,
    Peer,
}

/// The TIME_WAIT lines of `ss -o` (Recv-Q Send-Q Local Peer timer) of sockets that entered
/// TIME_WAIT since `since`, give or take the second `ss` rounds to. A port handed out by
/// bind(0) may carry TIME_WAITs of earlier connections that used the same number, for up to
/// a minute: those are not this test's.
fn time_waits_since(since: std::time::Instant) -> Vec<String> {
    let out = Command::new("ss")
        .args(["-Htano", "state", "time-wait"])
        .output()
        .unwrap();
    let oldest = since.elapsed() + Duration::from_secs(1);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| time_wait_age(l).is_none_or(|age| age <= oldest))
        .map(str::to_string)
        .collect()
}

/// How many TIME_WAIT sockets since `since` have `addr` at `end`.
fn time_waits_at(end: End, addr: std::net::SocketAddr, since: std::time::Instant) -> usize {
    let column = match end {
        End::Local => 2,
        End::Peer => 3,
    };
    time_waits_since(since)
        .iter()
        .filter(|l| l.split_whitespace().nth(column) == Some(&addr.to_string()))
        .count()
}

/// TIME_WAIT sockets since `since` with `port` at either end.
fn time_waits_on(port: u16, since: std::time::Instant) -> Vec<String> {
    time_waits_since(since)
        .into_iter()
        .filter(|l| l.contains(&format!(":{port} ")))
        .collect()
}

/// How long ago a TIME_WAIT line of `ss -o` entered TIME_WAIT: Linux keeps it 60 s, and `ss`
/// prints what is left (`timer:(timewait,36sec,0)`, or `1min`, or `500ms`).
fn time_wait_age(line: &str) -> Option<Duration> {
    let left = line.split("timer:(timewait,").nth(1)?.split(',').next()?;
    let left = if let Some(ms) = left.strip_suffix("ms") {
        Duration::from_millis(ms.parse().ok()?)
    } else if let Some(s) = left.strip_suffix("sec") {
        Duration::from_secs(s.parse().ok()?)
    } else {
        Duration::from_secs(60 * left.strip_suffix("min")?.parse::<u64>().ok()?)
    };
    Some(Duration::from_secs(60).saturating_sub(left))
}

/// The dashboard polls its server's /status at every refresh, over one kept-alive
/// connection: no TIME_WAIT on the server's port over 10 s, and nothing of it in the log.
#[test]
fn polling_the_server_adds_no_time_wait_and_no_log_line() {
    let (tmux, _tui) = start_dashboard();
    let started = std::time::Instant::now();
    tmux.send(&["s"]);
    let addr = server_addr(&tmux);
    // The Server pane shows answers of /status (so the polling does happen).
    tmux.wait_screen("a /status answer", |s| s.contains("requests"));
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        let tw = time_waits_on(addr.port(), started);
        assert!(tw.is_empty(), "the dashboard's polling left: {tw:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // The State machine pane, restricted to the server's port, shows no transition (one pane
    // at a time, `o`, so that every line is the pane's and not the overview's other boxes).
    tmux.send(&["o"]);
    tmux.wait_screen("one pane at a time", |s| {
        !s.contains("┌ Sockets") && !s.contains("┏ Sockets")
    });
    tmux.send(&["3", "/"]);
    tmux.send(&[&addr.port().to_string(), "Enter"]);
    let screen = tmux.wait_screen("the filtered log, one pane at a time", |s| {
        s.contains(&format!("State machine · port {}", addr.port()))
            && !s.contains("┌ Sockets")
            && !s.contains("┏ Sockets")
    });
    // The server's own listen may show; no connection to it does. Only log lines count (the
    // overview's Server box shows the address too).
    let polled: Vec<&str> = screen
        .lines()
        .flat_map(|l| l.split(['│', '┃']))
        .filter(|l| l.contains('→') && l.contains(&format!(":{} ", addr.port())))
        .filter(|l| !l.contains("→LISTEN"))
        .collect();
    assert!(
        polled.is_empty(),
        "the polling shows in the log: {polled:?}"
    );
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
}

/// A client that connects from a thread of this process and closes first: the dashboard's log
/// names this process (the thread is gone; its id is not what is shown) and follows the
/// connection through TIME_WAIT; its life, picked with the arrows, reads the same way.
#[test]
fn a_threaded_client_closing_first_is_followed_through_time_wait() {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    // Wide enough for a whole log line beside the diagram; one pane at a time.
    let (tmux, _tui) = start_dashboard_at((200, 50));
    // (The status line's "one pane at a time" may be replaced at once by the tracer's notice
    // on a busy machine: the screen itself tells.)
    tmux.send(&["o", "3", "/"]);
    tmux.send(&[&server.port().to_string(), "Enter"]);
    tmux.wait_screen("the log of the port, one pane at a time", |s| {
        s.contains(&format!("State machine · port {}", server.port())) && !s.contains("┌ Sockets")
    });

    let (close, closing) = mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let stream = TcpStream::connect(server).unwrap();
        let local = stream.local_addr().unwrap();
        (local, closing, stream)
    })
    .join()
    .map(|(local, closing, stream)| {
        // The connecting thread is gone; another closes the client, first.
        let t = std::thread::spawn(move || {
            closing.recv().unwrap();
            drop(stream);
        });
        (local, t)
    })
    .unwrap();
    let (local, closer) = client;
    let (mut accepted, _) = listener.accept().unwrap();
    let me = std::process::id();
    let ours = format!("{local} {server}");
    // Sampled (not root), a state must last a refresh to be seen: close once it shows.
    tmux.wait_screen("the connection established", |s| {
        s.lines()
            .any(|l| l.contains(&ours) && l.contains("→ESTABLISHED"))
    });
    close.send(()).unwrap();
    closer.join().unwrap();
    let mut rest = Vec::new();
    accepted.read_to_end(&mut rest).unwrap();
    drop(accepted);
    let screen = tmux.wait_screen_settled("the client in TIME_WAIT", |s| {
        s.lines()
            .any(|l| l.contains(&ours) && l.contains("→TIME_WAIT"))
    });
    let lines: Vec<&str> = screen.lines().filter(|l| l.contains(&ours)).collect();
    let pids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.rsplit_once('(')?.1.split(')').next())
        .collect();
    assert!(!pids.is_empty(), "no owner shown: {lines:#?}");
    assert!(
        pids.iter().all(|p| *p == me.to_string()),
        "every line names this process ({me}), not a thread: {lines:#?}"
    );
    if nix::unistd::geteuid().is_root() {
        // The kernel's account: every step, oldest at the bottom. (The full socket's
        // FIN_WAIT2→CLOSE, as the kernel hands the connection to its timewait socket, shows
        // too, before or after the watch finds that socket: not counted here.)
        let steps: Vec<&str> = lines
            .iter()
            .rev()
            .filter_map(|l| l.split_whitespace().find(|w| w.contains('→')))
            .filter(|s| *s != "FIN_WAIT2→CLOSE")
            .collect();
        assert_eq!(
            steps,
            [
                "SYN_SENT→ESTABLISHED",
                "ESTABLISHED→FIN_WAIT1",
                "FIN_WAIT1→FIN_WAIT2",
                "FIN_WAIT2→TIME_WAIT"
            ],
            "{screen}"
        );
    }
    // The arrows reach the client's connection; its life ends in TIME_WAIT.
    let life = format!("Life of {local} → {server}");
    // Each press is read back before the next: a press sent before the screen showed the last
    // one would step past the connection on a busy machine.
    let picked = |s: &str| {
        s.lines()
            .find(|l| l.contains("Life of "))
            .map(str::to_string)
    };
    let mut shown = picked(&tmux.screen());
    for _ in 0..4 {
        // One press at a time, each seen on screen before the next.
        tmux.send(&["Down"]);
        let screen = tmux.wait_screen("the arrow to pick a connection", |s| picked(s) != shown);
        if screen.contains(&life) {
            break;
        }
        shown = picked(&screen);
    }
    let screen = tmux.wait_screen("the client's life", |s| s.contains(&life));
    let shown = screen
        .lines()
        .skip_while(|l| !l.contains(&life))
        .nth(1)
        .unwrap_or_default();
    let shown = shown.trim_end_matches(['│', ' ']);
    assert!(
        shown.contains("ESTABLISHED") && shown.ends_with("→TIME_WAIT"),
        "it is in TIME_WAIT now: {screen}"
    );
    if nix::unistd::geteuid().is_root() {
        for step in [
            "CLOSE→SYN_SENT ",
            "→ESTABLISHED ",
            "→FIN_WAIT1 ",
            "→FIN_WAIT2 ",
        ] {
            assert!(
                shown.contains(step),
                "{step:?} from the connect on: {screen}"
            );
        }
    }
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
}

/// An iterative server serves one connection at a time: the dashboard's polling of its
/// /status must not keep a connection open, or every other client waits behind it. A client
/// of this test is answered at once across several polls, and the probe's connections are
/// closed by the server first, so their TIME_WAITs are the server's, as for any HTTP/1.0 close.
#[test]
fn polling_an_iterative_server_leaves_it_free_for_other_clients() {
    use std::io::{Read, Write};
    let (tmux, _tui) = start_dashboard();
    tmux.send(&["4", "m"]);
    tmux.wait_screen("the iterative model picked", |s| s.contains("iterative"));
    let started = std::time::Instant::now();
    tmux.send(&["s"]);
    let addr = server_addr(&tmux);
    tmux.wait_screen("a /status answer", |s| s.contains("requests"));
    let until = std::time::Instant::now() + Duration::from_secs(4);
    let mut answered = 0;
    while std::time::Instant::now() < until {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let read = c.read_to_end(&mut answer);
        assert!(
            read.is_ok() && answer.starts_with(b"HTTP/1.1 "),
            "no answer within 2 s while the dashboard polls: {read:?}"
        );
        answered += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(answered >= 4, "only {answered} answers");
    // Every TIME_WAIT on the port is the server's side (its port is the local one).
    let server_side = format!("{}:{} ", addr.ip(), addr.port());
    let tw = time_waits_on(addr.port(), started);
    assert!(!tw.is_empty(), "the server closed no connection first");
    let ours: Vec<&String> = tw
        .iter()
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(2)
                .is_some_and(|local| !format!("{local} ").starts_with(&server_side))
        })
        .collect();
    assert!(ours.is_empty(), "TIME_WAITs on the clients' side: {ours:?}");
    tmux.send(&["q"]);
    assert_terminal_restored(&tmux);
}
