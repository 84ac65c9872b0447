//! SIGSEGV and SIGBUS sent by another process (`kill -SEGV`) kill, as in any other program.
//!
//! Rust's runtime catches SIGSEGV and SIGBUS to tell a stack overflow from other faults: for
//! a fault in a thread's guard page it prints "has overflowed its stack" and aborts; for any
//! other it puts the default disposition back and returns, so that the faulting instruction
//! runs again and kills. A signal that was *sent* does not happen again: the first `kill
//! -SEGV` was swallowed and the process went on. [`die_of_sent_faults`] puts a handler in
//! front of the runtime's: a sent signal (`si_code <= 0`: `SI_USER`, `SI_QUEUE`, `SI_TKILL`)
//! gets the default disposition and is raised again, so the process dies of it (with its
//! core where the system keeps cores); a real fault goes on to the runtime's handler, so a
//! stack overflow still reports as one.

use std::ffi::c_void;
use std::io;
use std::sync::OnceLock;

use libc::{c_int, siginfo_t};

/// The runtime's handlers, in front of which ours sits: for SIGSEGV and SIGBUS.
static PREVIOUS: [OnceLock<libc::sigaction>; 2] = [OnceLock::new(), OnceLock::new()];

const SIGNALS: [c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Installs the handler for SIGSEGV and SIGBUS in this process (a forked child keeps it).
pub fn die_of_sent_faults() -> io::Result<()> {
    for (slot, sig) in PREVIOUS.iter().zip(SIGNALS) {
        // SAFETY: sigaction with a null new action only reads the current one into `old`,
        // a plain C struct that zeroes are a valid value of.
        let old = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                return Err(io::Error::last_os_error());
            }
            old
        };
        if old.sa_sigaction == on_fault as *const () as usize {
            continue;
        }
        // Recorded before the handler can run, so it always finds what to pass faults to.
        if slot.set(old).is_err() {
            continue;
        }
        // SAFETY: `on_fault` is async-signal-safe (it reads a set OnceLock and calls
        // sigaction, raise and the runtime's own handler) and has the SA_SIGINFO signature;
        // SA_ONSTACK keeps it on the alternate stack the runtime set up, where a stack
        // overflow must be handled.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_fault as *const () as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut new.sa_mask);
            if libc::sigaction(sig, &new, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

extern "C" fn on_fault(sig: c_int, info: *mut siginfo_t, ctx: *mut c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo.
    let sent = info.is_null() || unsafe { (*info).si_code } <= 0;
    let previous = SIGNALS
        .iter()
        .position(|&s| s == sig)
        .and_then(|i| PREVIOUS[i].get());
    if let (false, Some(p)) = (sent, previous) {
        if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN {
            // SAFETY: the runtime installed this handler for this signal with these flags;
            // it is called as the kernel would have called it.
            unsafe {
                if p.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) =
                        std::mem::transmute(p.sa_sigaction);
                    f(sig, info, ctx);
                } else {
                    let f: extern "C" fn(c_int) = std::mem::transmute(p.sa_sigaction);
                    f(sig);
                }
            }
            return;
        }
    }
    // SAFETY: sigaction and raise are async-signal-safe. The raised signal stays pending
    // (blocked while this handler runs) and, with the default disposition back, kills as
    // soon as the handler returns; a real fault instead happens again and kills.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut dfl.sa_mask);
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
        if sent {
            libc::raise(sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    const CHILD: &str = "TCPLAB_FAULTS_CHILD";
    const NAME: &str =
        "kernel::faults::tests::a_sent_fault_kills_and_a_stack_overflow_still_says_so";

    #[inline(never)]
    #[allow(unconditional_recursion)]
    fn recurse(depth: u64) -> u64 {
        let pad = std::hint::black_box([depth; 64]);
        recurse(pad[depth as usize % 64] + 1) + pad[0]
    }

    /// Runs in a copy of this test binary (only this test, re-executed with [`CHILD`] set):
    /// there, the handler is installed and the fault made; here, how the copy died is checked.
    #[test]
    fn a_sent_fault_kills_and_a_stack_overflow_still_says_so() {
        if let Ok(mode) = std::env::var(CHILD) {
            // No core file from the faults this test makes on purpose.
            nix::sys::prctl::set_dumpable(false).unwrap();
            die_of_sent_faults().unwrap();
            let me = nix::unistd::getpid();
            use nix::sys::signal::{kill, Signal};
            match mode.as_str() {
                "segv" => kill(me, Signal::SIGSEGV).unwrap(),
                "bus" => kill(me, Signal::SIGBUS).unwrap(),
                _ => {
                    std::hint::black_box(recurse(0));
                }
            }
            // Sent to the process, the signal may be taken by another thread: give it time.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            eprintln!("survived {mode}");
            std::process::exit(0);
        }
        for (mode, signal, says) in [
            ("segv", libc::SIGSEGV, ""),
            ("bus", libc::SIGBUS, ""),
            ("overflow", libc::SIGABRT, "has overflowed its stack"),
        ] {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD, mode)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.signal(), Some(signal), "{mode}: {stderr}");
            assert!(stderr.contains(says), "{mode}: {stderr}");
        }
    }
}
