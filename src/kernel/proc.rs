//! Single facts about one task from /proc, for code that needs a name or an id rather than a
//! scan (`processes.rs` reads every process at once).

use std::fs;

/// The task's name (`/proc/PID/comm`), None once it is gone.
pub fn comm(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim_end().to_string())
}

/// The process a thread belongs to (`Tgid:` of `/proc/TID/status`; a thread's directory exists
/// although /proc does not list it), None once it is gone.
pub fn tgid(tid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_a_thread_of_it() {
        let me = std::process::id() as i32;
        assert_eq!(tgid(me), Some(me));
        assert!(comm(me).is_some_and(|c| !c.is_empty() && !c.ends_with('\n')));
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        assert_ne!(tid, me);
        assert_eq!(tgid(tid), Some(me), "a thread's process");
        drop(done_tx);
        thread.join().unwrap();
    }
}
