//! A system call made to fail, as on a kernel that lacks it or under a sandbox that forbids
//! it: a seccomp filter installed between fork and exec of the server under test.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `nr` fail with `errno` in the process `cmd` starts (and in every process it forks);
/// every other call is allowed.
pub fn deny(cmd: &mut Command, nr: libc::c_long, errno: i32) {
    // SAFETY: between fork and exec the hook builds a small array on its stack and makes two
    // prctl calls (async-signal-safe); it allocates nothing and takes no lock.
    unsafe { cmd.pre_exec(move || install(nr as u32, errno)) };
}

fn install(nr: u32, errno: i32) -> std::io::Result<()> {
    const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut filter = [
        op(BPF_LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        op(BPF_JEQ_K, 0, 1, nr),
        op(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno as u32),
        op(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl with the documented arguments; `prog` outlives the call.
    let ok = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
