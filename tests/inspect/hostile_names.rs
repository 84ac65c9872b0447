//! Processes that name themselves to hurt whoever looks: a newline and escape sequences in
//! their comm (the executable's name) and argv. Text output shows them as `?`, one row per
//! process and nothing sent to the terminal; JSON keeps the real bytes.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

/// comm as the kernel keeps it (at most 15 bytes): a newline and a colour change.
const COMM: &str = "new\nline\x1b[31m";
/// argv[0]: a newline and an xterm "set title" sequence.
const ARGV0: &str = "arg0\nwith\x1b]0;title\x07";

/// `sleep 60` under a hostile name, holding a TCP connection to `listener` on fd 3; killed and
/// reaped on drop.
struct Hostile {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hostile(listener: &TcpListener) -> Hostile {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sleep = std::env::split_paths(&path)
        .map(|d| d.join("sleep"))
        .find(|p| p.exists())
        .expect("sleep on the PATH");
    let link = dir.path().join(COMM);
    std::os::unix::fs::symlink(sleep, &link).unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = Command::new("bash")
        .args([
            "-c",
            r#"exec 3<>"/dev/tcp/127.0.0.1/$PORT" && exec -a "$ARGV0" "$LINK" 60"#,
        ])
        .env("PORT", port.to_string())
        .env("ARGV0", ARGV0)
        .env("LINK", &link)
        .spawn()
        .unwrap();
    let pid = child.id();
    let h = Hostile { child, _dir: dir };
    let _accepted = listener.accept().unwrap();
    testkit::wait_for("the hostile name", Duration::from_secs(10), || {
        let comm = std::fs::read(format!("/proc/{pid}/comm")).ok()?;
        (comm == format!("{COMM}\n").as_bytes()).then_some(())
    });
    h
}

fn run(args: &[&str]) -> String {
    let out = testkit::tcplab().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Nothing a terminal would act on: no control character but the newlines between rows.
fn assert_inert(args: &[&str], text: &str) {
    let bad = text.chars().find(|&c| c.is_control() && c != '\n');
    assert_eq!(bad, None, "{args:?} printed a control character");
}

#[test]
fn ps_and_net_text_escape_hostile_names_and_json_keeps_them() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let h = hostile(&listener);
    let pid = h.child.id().to_string();
    let pid_n = u64::from(h.child.id());
    let port = listener.local_addr().unwrap().port().to_string();

    let ps = run(&["ps"]);
    assert_inert(&["ps"], &ps);
    let rows: Vec<&str> = ps
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(pid.as_str()))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].ends_with(" arg0?with?]0;title? 60"), "{}", rows[0]);
    assert!(
        !ps.lines().any(|l| l.starts_with("with")),
        "a row was split"
    );
    let tree = run(&["ps", "--tree"]);
    assert_inert(&["ps", "--tree"], &tree);

    let json: Value = serde_json::from_str(&run(&["ps", "--json"])).unwrap();
    let me = json
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid_n)
        .unwrap();
    assert_eq!(me["comm"], COMM);
    assert_eq!(me["cmdline"][0], ARGV0);

    let net = run(&["net", "--port", &port]);
    assert_inert(&["net"], &net);
    let owner = format!("new?line?[31m[{pid}]:3");
    assert!(net.lines().any(|l| l.contains(&owner)), "{net}");

    let json: Value = serde_json::from_str(&run(&["net", "--json", "--port", &port])).unwrap();
    let owners: Vec<&Value> = json
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["owners"].as_array().into_iter().flatten())
        .collect();
    assert!(
        owners
            .iter()
            .any(|o| o["comm"] == COMM && o["pid"] == pid_n),
        "{owners:?}"
    );
}

/// A pid file naming a process with a hostile name: the control commands call it stale and
/// name the process, escaped like everywhere else, in one line.
#[test]
fn a_pid_file_naming_a_hostile_process_prints_its_name_escaped() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let h = hostile(&listener);
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("t.pid");
    std::fs::write(&pid_file, format!("{}\n", h.child.id())).unwrap();
    for (cmd, code) in [("status", 3), ("stop", 1), ("reload", 1)] {
        let out = testkit::tcplab()
            .args([cmd, "--pid-file", pid_file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{cmd}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_inert(&[cmd], err.trim_end());
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        let named = format!("process {} is `new?line?[31m`", h.child.id());
        assert!(err.contains(&named), "{cmd}: {err}");
    }
}
