//! What a demo is about, read from the lines it prints: the process to select or the port to
//! show. The dashboard's `d` menu and `z` key start a demo and jump there. The demos' lines and
//! this reader live together so they cannot drift apart (tests/demo/focus.rs runs every demo
//! through it).

/// Where the dashboard should look once a demo has said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Select this process (the zombies' parent, the orphan, the daemon, ...).
    Process(i32),
    /// Show the sockets of this port (the demo's listener and its connections).
    Port(u16),
}

/// The focus a demo's line names, or None for the lines that name none.
///
/// - `zombie demo: parent P, zombies ...` → the negligent parent P;
/// - `fork demo: parent P, child C`, `orphan demo: parent P, child C` → the child C;
/// - `daemon demo: daemon D running` → the daemon D;
/// - `signal demo: pid P` → P;
/// - `NAME demo: port P, ...` (time-wait, close-wait, backlog, shared-accept, select-limit)
///   → port P.
pub fn focus_of(line: &str) -> Option<Focus> {
    let (head, rest) = line.split_once(" demo: ")?;
    if head.contains(' ') || head.is_empty() {
        return None;
    }
    if let Some(port) = number_after(rest, "port ") {
        return u16::try_from(port).ok().map(Focus::Port);
    }
    let pid = match head {
        "zombie" => number_after(rest, "parent ")?,
        "fork" | "orphan" => number_after(rest, "child ")?,
        "daemon" if rest.ends_with(" running") => number_after(rest, "daemon ")?,
        "signal" => number_after(rest, "pid ")?,
        _ => return None,
    };
    i32::try_from(pid).ok().map(Focus::Process)
}

/// The number right after `word` at the start of `text` or after ", ".
fn number_after(text: &str, word: &str) -> Option<u64> {
    let at = if text.starts_with(word) {
        0
    } else {
        text.find(&format!(", {word}"))? + 2
    };
    let digits: String = text[at + word.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_demos_focus_line() {
        let cases = [
            (
                "zombie demo: parent 200, zombies 201 202",
                Some(Focus::Process(200)),
            ),
            ("fork demo: parent 10, child 11", Some(Focus::Process(11))),
            ("orphan demo: parent 10, child 12", Some(Focus::Process(12))),
            ("daemon demo: supervisor 9 (stands in for your shell)", None),
            ("daemon demo: daemon 14 running", Some(Focus::Process(14))),
            ("daemon demo: daemon 14 got SIGTERM; exiting", None),
            ("signal demo: pid 33", Some(Focus::Process(33))),
            (
                "backlog demo: port 4242, pid 7, backlog 1",
                Some(Focus::Port(4242)),
            ),
            (
                "time-wait demo: port 80, pid 7, active closer client",
                Some(Focus::Port(80)),
            ),
            (
                "zombie demo: supervisor 1 got SIGTERM; parent 2 and its zombies",
                None,
            ),
            ("  child:  fork() returned 0 here", None),
            ("tcplab serve: listening on http://127.0.0.1:80", None),
            ("backlog demo: port 99999, pid 7", None),
        ];
        for (line, want) in cases {
            assert_eq!(focus_of(line), want, "{line}");
        }
    }
}
