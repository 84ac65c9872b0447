//! The overview in a real terminal (tmux, 160×40) against the real binary: every box and the
//! header's meters on screen, Tab and a mouse click moving the focus, the click selecting the
//! row under it (Enter then opens that connection), `o` one pane and back, `q` ending it with
//! the terminal's mouse reporting off again.

use std::net::{TcpListener, TcpStream};

use testkit::tmux::Tmux;

/// The fields of the Sockets box's row on screen line `y` (the box starts at column 80).
fn socket_row(screen: &str, y: usize) -> Vec<String> {
    let line: String = screen
        .lines()
        .nth(y)
        .unwrap_or("")
        .chars()
        .skip(81)
        .collect();
    line.split_whitespace().map(str::to_string).collect()
}

/// A mouse click at the screen cell (`x`, `y`), as a terminal with SGR mouse reporting sends it.
fn click(tmux: &Tmux, x: u16, y: u16) {
    let (col, row) = (x + 1, y + 1);
    tmux.send(&["-l", &format!("\x1b[<0;{col};{row}M\x1b[<0;{col};{row}m")]);
}

#[test]
fn the_overview_at_160x40_focus_by_tab_and_click() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    // Connections of our own on loopback, so the Sockets box has rows we can filter to.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let clients: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let servers: Vec<TcpStream> = (0..4).map(|_| listener.accept().unwrap().0).collect();

    // From a shell, so the terminal can be read after the dashboard quits.
    let bin = env!("CARGO_BIN_EXE_tcplab");
    let tmux = Tmux::start("overview", (160, 40), "sh");
    tmux.send(&[&format!("{bin} tui; printf 'TCPLAB-%s\\n' DONE"), "Enter"]);
    tmux.wait_screen("the overview with its meters", |s| {
        let mut lines = s.lines();
        let (cpu, mem) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
        [
            "┏ Processes",
            "┌ Sockets",
            "┌ State machine",
            "┌ History",
            "┌ Server",
        ]
        .iter()
        .all(|b| s.contains(b))
            && cpu.contains("CPU[")
            && cpu.trim_end().ends_with("%]")
            && mem.contains("Mem[")
            && mem.contains("iB]")
    });
    // The History box graphs after two refreshes.
    tmux.wait_screen("the history's first graphs", |s| {
        s.contains("transitions ") && s.contains("/s│")
    });

    // Tab: the Sockets box takes the keys; a filter typed now is its own.
    tmux.send(&["Tab"]);
    tmux.wait_screen("the Sockets box focused", |s| s.contains("┏ Sockets"));
    tmux.send(&["/", &format!(":{port}"), "Enter"]);
    let screen = tmux.wait_screen("the Sockets box filtered to our port", |s| {
        s.contains("Sockets 9/") && s.contains(&format!("filter: :{port}"))
    });

    // Back to Processes, then a click on the third row of the Sockets box: the focus goes
    // there with that row selected, which Enter opens.
    tmux.send(&["1"]);
    tmux.wait_screen("the Processes box focused", |s| s.contains("┏ Processes"));
    let row_y = 4 + 2 + 2;
    let row = socket_row(&screen, row_y);
    assert_eq!(
        row.first().map(String::as_str),
        Some("ESTABLISHED"),
        "{screen}"
    );
    click(&tmux, 100, row_y as u16);
    tmux.wait_screen("the Sockets box focused by the click", |s| {
        s.contains("┏ Sockets")
    });
    tmux.send(&["Enter"]);
    let want = format!("ESTABLISHED {} → {}", row[1], row[2]);
    tmux.wait_screen("the clicked connection's detail", |s| s.contains(&want));
    // Esc closes it; wait for that, or the terminal may read Esc and the next key as Alt+key.
    tmux.send(&["Escape"]);
    tmux.wait_screen("the detail closed", |s| !s.contains(&want));

    // o: one pane at a time, and back.
    tmux.send(&["o"]);
    tmux.wait_screen("one pane", |s| {
        !s.contains("┌ History") && s.contains("o overview")
    });
    tmux.send(&["o"]);
    tmux.wait_screen("the overview again", |s| s.contains("┌ History"));

    // The terminal reports the mouse while the dashboard runs, and no longer once it quit.
    let mouse = || tmux.display("#{mouse_any_flag}#{mouse_sgr_flag}");
    assert_eq!(mouse(), "11");
    tmux.send(&["q"]);
    tmux.wait_screen("the shell after the dashboard", |s| {
        s.contains("TCPLAB-DONE")
    });
    assert_eq!(mouse(), "00", "mouse reporting switched off on quit");
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    drop((clients, servers));
}
