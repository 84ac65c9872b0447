//! `tcplab trace` and the tracing behind the dashboard, against the real kernel's tracepoint.

mod dashboard;
mod kernel;
mod live;

/// In a terminal, where stdout and stderr both show, where transitions come from is said once
/// (the header), not twice (the header and the stderr marker that scripts wait for).
#[test]
fn in_a_terminal_the_source_is_said_once() {
    if testkit::skip_without(testkit::Need::Tmux) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_tcplab");
    let tmux = testkit::tmux::Tmux::start("trace", (200, 20), "sh");
    tmux.send(&[
        &format!("{bin} trace --duration 1s --port 1; printf 'TRACE-%s\\n' DONE"),
        "Enter",
    ]);
    let screen = tmux.wait_screen("trace done", |s| s.contains("TRACE-DONE"));
    let said = screen
        .lines()
        .filter(|l| l.contains("kernel tracepoint") || l.contains("SAMPLED every"))
        .count();
    assert_eq!(said, 1, "{screen}");
}
