//! `tcplab ps` in a terminal fits its width as procps `ps` does: the rows cut at the right
//! edge, the columns narrow enough that COMMAND shows; piped, whole lines.

use std::io::Write;
use std::process::{Command, Stdio};

use testkit::tmux::Tmux;

/// A process whose command line is far longer than any terminal is wide: its start and its
/// end are recognisable. It lives until its stdin closes.
fn long_command() -> (std::process::Child, String, String) {
    let head = format!("pswidth-{}", std::process::id());
    let tail = format!("end-of-{head}");
    let cmdline = format!("{head} {} {tail}", "x".repeat(300));
    let child = Command::new("sh")
        .args(["-c", "read _", &cmdline])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (child, head, tail)
}

/// A shell in a terminal of `size`, at its prompt (typed before it, a command's output would
/// begin on the prompt's line), without a `COLUMNS` of ours.
fn shell(size: (u16, u16)) -> Tmux {
    let tmux = Tmux::start("pswidth", size, "env -u COLUMNS PS1=ready: sh");
    tmux.wait_screen("the prompt", |s| s.contains("ready:"));
    tmux
}

#[test]
fn rows_cut_at_the_terminal_edge_with_command_shown() {
    let (mut child, head, tail) = long_command();
    for (cols, rows) in [(80u16, 24u16), (160, 40)] {
        let tmux = shell((cols, rows));
        tmux.send(&[
            &format!("{} ps; echo PS-$((40+2))", testkit::bin().display()),
            "Enter",
        ]);
        tmux.wait_screen("ps to finish", |s| s.contains("PS-42"));
        // The whole output, scrolled off part included: lines wrapped by the terminal would
        // show as more lines, so the long row's end would be somewhere in it.
        let out = tmux
            .cmd(&["capture-pane", "-p", "-S", "-", "-t", "0"])
            .output()
            .unwrap();
        let all = String::from_utf8_lossy(&out.stdout).into_owned();
        let header = all
            .lines()
            .find(|l| l.contains("PPID") && l.contains("COMMAND"))
            .unwrap_or_else(|| panic!("{cols}x{rows}: no header (COMMAND cut off?):\n{all}"));
        assert!(header.trim_start().starts_with("PPID"), "{header}");
        let pid = child.id().to_string();
        let row = all
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(pid.as_str()))
            .unwrap_or_else(|| panic!("{cols}x{rows}: no row for pid {pid}:\n{all}"));
        assert!(
            row.contains("sh -c read _"),
            "{cols}x{rows}: the row does not show its COMMAND: {row}"
        );
        assert_eq!(
            row.chars().count(),
            usize::from(cols),
            "{cols}x{rows}: the row is cut at the edge: {row}"
        );
        assert!(
            !all.contains(&tail),
            "{cols}x{rows}: the long command wrapped onto more lines:\n{all}"
        );
    }
    // Piped, the whole command line, as `ps | cat` gives it.
    let piped = testkit::tcplab().arg("ps").output().unwrap();
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains(&head) && l.ends_with(&tail)),
        "piped ps cut the command line:\n{text}"
    );
    // `--wide` in a terminal: whole too.
    let tmux = shell((80, 24));
    tmux.send(&[
        &format!("{} ps --wide; echo PS-$((40+2))", testkit::bin().display()),
        "Enter",
    ]);
    tmux.wait_screen("ps --wide to finish", |s| s.contains("PS-42"));
    let out = tmux
        .cmd(&["capture-pane", "-p", "-J", "-S", "-", "-t", "0"])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(
        all.lines().any(|l| l.contains(&head) && l.ends_with(&tail)),
        "ps --wide cut the command line:\n{all}"
    );
    drop(child.stdin.take().map(|mut w| w.write_all(b"\n")));
    child.wait().unwrap();
}
