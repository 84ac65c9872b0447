//! io_uring, made safe for the server's `uring` model: one ring, one ring of provided receive
//! buffers, and the few operations the model submits (multishot accept, multishot receive, or
//! single-shot where the kernel has no multishot one, multishot poll, send, cancel, close). Every `unsafe` io_uring demands is here.
//!
//! What makes the operations safe to submit: this type owns every byte the kernel may touch
//! while an operation is in flight (the provided buffers, and each send's buffer until its
//! completion is taken with [`Ring::take_send`]); a descriptor the caller gives up is closed by
//! the ring itself ([`Ring::close`]) behind the submissions that name it, so a number is never
//! reused under a queued operation.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{BufRingEntry, Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};

/// Receive buffers: enough for every connection of a busy worker to have a request in flight;
/// an idle connection holds none of them.
const BUFFERS: u16 = 512;
const BUFFER_SIZE: usize = 4096;
/// The buffer group the receives pick from.
const GROUP: u16 = 0;

/// Why `--model uring` cannot run here: one sentence for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

impl Unavailable {
    fn from_setup(e: &io::Error) -> Unavailable {
        let why = match e.raw_os_error() {
            Some(libc::ENOSYS) => {
                "this kernel has no io_uring (io_uring_setup: ENOSYS; a seccomp filter may also answer so)"
                    .to_string()
            }
            Some(libc::EPERM) => match disabled_sysctl() {
                Some(n) if n > 0 => format!(
                    "io_uring is disabled on this machine (kernel.io_uring_disabled = {n})"
                ),
                _ => "io_uring_setup is refused (EPERM): a seccomp filter or a security module blocks it"
                    .to_string(),
            },
            _ => format!("io_uring_setup failed: {e}"),
        };
        Unavailable(why)
    }
}

fn disabled_sysctl() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One completion, copied out of the completion queue.
#[derive(Debug)]
pub struct Completion {
    pub user_data: u64,
    /// The operation's return value: a count, a descriptor, or -errno.
    pub result: i32,
    /// A multishot operation stays armed (false: it ended with this completion).
    pub more: bool,
    /// The provided buffer a receive filled.
    pub buffer: Option<u16>,
    /// The connection an accept completion carries, owned from here on.
    pub accepted: Option<OwnedFd>,
}

pub struct Ring {
    // Declared first so it is dropped first (see Drop).
    ring: IoUring,
    bufs: BufRing,
    /// Each send's buffer, by user data, until its completion is taken.
    sends: Sends,
    /// The user data of the multishot accepts in flight: their results are new descriptors.
    accepts: Vec<u64>,
    /// How receives are submitted: one receive for many completions (Linux 6.0), or one per
    /// completion (Linux 5.19, whose io_uring has provided buffer rings but refuses multishot).
    receives: Receives,
}

/// Each send's buffer by its user data. Those are integers the caller made distinct, never
/// input from outside: the default SipHash (a defence against chosen keys) would cost more per
/// send than the map itself.
type Sends = HashMap<u64, Vec<u8>, BuildHasherDefault<UserDataHasher>>;

#[derive(Default)]
struct UserDataHasher(u64);

impl Hasher for UserDataHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing, the high half folded into the low bits the table indexes by.
        let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

/// How a [`Ring`] submits receives, found by probing the kernel when the ring is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receives {
    /// One multishot receive stays armed until the peer closes, an error, or no buffer is left.
    Multishot,
    /// Each receive completes once (more is false): the caller submits the next.
    SingleShot,
}

/// Set to `5.19` in the environment, makes the ring use only what Linux 5.19's io_uring has
/// (provided buffer rings and multishot accept, the oldest it runs on): no single-issuer and
/// deferred-completion setup flags (6.0, 6.1), single-shot receives, an asynchronous cancel at
/// exit (the synchronous one is 6.0). To try that path on a newer kernel.
pub const LINUX_ENV: &str = "TCPLAB_URING_LINUX";

fn as_linux_5_19() -> bool {
    std::env::var_os(LINUX_ENV).is_some_and(|v| v == "5.19")
}

impl Receives {
    pub fn name(self) -> &'static str {
        match self {
            Receives::Multishot => "multishot",
            Receives::SingleShot => "single-shot",
        }
    }
}

impl Ring {
    /// A ring with its provided buffers registered; the error says why io_uring is unusable.
    pub fn new(entries: u32) -> Result<Ring, Unavailable> {
        // One thread submits and reaps (the worker's loop): the kernel may then run completion
        // work only when the loop enters to wait (DEFER_TASKRUN), in one batch, instead of
        // interrupting the loop for each completion.
        // (Linux 6.1; an older kernel refuses the flags and gets a ring without them.)
        let old = as_linux_5_19();
        let newer = if old {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        } else {
            IoUring::builder()
                .setup_single_issuer()
                .setup_defer_taskrun()
                .setup_coop_taskrun()
                .build(entries)
        };
        let ring = newer
            .or_else(|e| match e.raw_os_error() {
                Some(libc::EINVAL) => IoUring::new(entries),
                _ => Err(e),
            })
            .map_err(|e| Unavailable::from_setup(&e))?;
        let bufs = BufRing::new(BUFFERS, BUFFER_SIZE)
            .map_err(|e| Unavailable(format!("cannot map the receive buffers: {e}")))?;
        // SAFETY: the ring's memory (entries and buffers) lives in `bufs`, which this Ring
        // owns; Drop leaks it rather than free it under a kernel that may still use it.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufs.ring_addr(), BUFFERS, GROUP, 0)
        }
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) => Unavailable(
                "this kernel lacks io_uring provided buffer rings (Linux 5.19 or later needed)"
                    .to_string(),
            ),
            _ => Unavailable(format!("cannot register the receive buffers: {e}")),
        })?;
        let mut probe = io_uring::Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| Unavailable(format!("cannot probe io_uring: {e}")))?;
        for (code, name) in [
            (opcode::AcceptMulti::CODE, "accept"),
            (opcode::RecvMulti::CODE, "recv"),
            (opcode::Send::CODE, "send"),
            (opcode::Close::CODE, "close"),
        ] {
            if !probe.is_supported(code) {
                return Err(Unavailable(format!(
                    "this kernel's io_uring has no {name} operation"
                )));
            }
        }
        let mut ring = Ring {
            ring,
            bufs,
            sends: Sends::default(),
            accepts: Vec::new(),
            receives: Receives::SingleShot,
        };
        if !old {
            ring.receives = ring
                .probe_receives()
                .map_err(|e| Unavailable(format!("cannot probe io_uring receives: {e}")))?;
        }
        Ok(ring)
    }

    /// Whether this kernel takes multishot receives: the opcode probe cannot say (the receive
    /// opcode is the same, multishot is a flag of it, Linux 6.0), so submit one on a socket whose
    /// peer is gone. A kernel that has it completes it at once with end of file; Linux 5.19
    /// refuses the flag with EINVAL.
    fn probe_receives(&mut self) -> io::Result<Receives> {
        const PROBE: u64 = u64::MAX;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        drop(theirs);
        let e = opcode::RecvMulti::new(Fd(ours.as_raw_fd()), GROUP).build();
        self.push(e.user_data(PROBE))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            self.submit_and_wait(Some(Duration::from_millis(100)))?;
            let mut result = None;
            for c in self.ring.completion() {
                if let Some(id) = cqueue::buffer_select(c.flags()) {
                    self.bufs.recycle(id);
                }
                if c.user_data() == PROBE && !cqueue::more(c.flags()) {
                    result = Some(c.result());
                }
            }
            match result {
                Some(0) => return Ok(Receives::Multishot),
                // EINVAL, or anything unforeseen: single-shot receives work wherever buffer
                // rings do.
                Some(_) => return Ok(Receives::SingleShot),
                None if std::time::Instant::now() >= deadline => {
                    return Err(io::Error::other("no completion in 5 s"))
                }
                None => {}
            }
        }
    }

    /// How this ring submits receives.
    pub fn receives(&self) -> Receives {
        self.receives
    }

    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY (for every caller): the entries name descriptors only (closed no earlier than
        // by a Close queued behind them, see `close`) and memory this Ring owns until the
        // operation's completion (send buffers in `sends`, receive buffers in `bufs`).
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.ring.submit()?;
            // SAFETY: as above.
            unsafe { self.ring.submission().push(&entry) }
                .map_err(|_| io::Error::other("the submission queue stays full"))?;
        }
        Ok(())
    }

    /// Accepts connections on `listener` until cancelled or it fails; each is a completion
    /// whose result is the new descriptor.
    pub fn accept_multi(&mut self, listener: BorrowedFd<'_>, user_data: u64) -> io::Result<()> {
        let e = opcode::AcceptMulti::new(Fd(listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build();
        self.push(e.user_data(user_data))?;
        self.accepts.push(user_data);
        Ok(())
    }

    /// Receives into provided buffers: with [`Receives::Multishot`] until the peer closes, an
    /// error, or the buffers run out; else once. A completion whose `more` is false ended it.
    pub fn recv(&mut self, fd: BorrowedFd<'_>, user_data: u64) -> io::Result<()> {
        let e = match self.receives {
            Receives::Multishot => opcode::RecvMulti::new(Fd(fd.as_raw_fd()), GROUP).build(),
            // The length bounds the receive (Linux 5.19 reads 0 bytes into a picked buffer
            // when it is 0, where newer kernels take the buffer's size).
            Receives::SingleShot => {
                opcode::Recv::new(Fd(fd.as_raw_fd()), std::ptr::null_mut(), BUFFER_SIZE as u32)
                    .buf_group(GROUP)
                    .build()
                    .flags(squeue::Flags::BUFFER_SELECT)
            }
        };
        self.push(e.user_data(user_data))
    }

    /// A completion each time `fd` becomes readable.
    pub fn poll_readable_multi(&mut self, fd: BorrowedFd<'_>, user_data: u64) -> io::Result<()> {
        let e = opcode::PollAdd::new(Fd(fd.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build();
        self.push(e.user_data(user_data))
    }

    /// Sends `buf[from..]`; the buffer comes back from [`take_send`](Self::take_send).
    pub fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        buf: Vec<u8>,
        from: usize,
        user_data: u64,
    ) -> io::Result<()> {
        let rest = &buf[from..];
        let e = opcode::Send::new(Fd(fd.as_raw_fd()), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        // Moving the Vec into the map does not move its heap buffer.
        let previous = self.sends.insert(user_data, buf);
        debug_assert!(
            previous.is_none(),
            "two sends in flight under one user data"
        );
        self.push(e.user_data(user_data))
    }

    /// The buffer of the send whose completion carried `user_data`.
    pub fn take_send(&mut self, user_data: u64) -> Option<Vec<u8>> {
        self.sends.remove(&user_data)
    }

    /// Submits what is queued, then cancels every operation in flight and waits (at most
    /// `timeout`) until the kernel has let go of them: a multishot accept still armed when
    /// the ring is closed would keep the listening socket accepting after the process exits
    /// (the ring is torn down asynchronously).
    pub fn cancel_everything(&mut self, timeout: Duration) -> io::Result<()> {
        self.ring.submit()?;
        let ts = Timespec::new()
            .sec(timeout.as_secs())
            .nsec(timeout.subsec_nanos());
        let sync = if as_linux_5_19() {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        } else {
            self.ring
                .submitter()
                .register_sync_cancel(Some(ts), io_uring::types::CancelBuilder::any())
        };
        match sync {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {} // nothing in flight
            // Linux 5.19 has no synchronous cancel (6.0).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                return self.cancel_everything_through_the_ring(timeout)
            }
            other => other?,
        }
        // With DEFER_TASKRUN the cancelled requests are completed (and let go of their files)
        // only when this thread waits for completions: wait once, briefly, for all of them,
        // then for as long as a multishot accept has not given its last completion. One wait
        // of 10 ms was not always enough on a loaded machine: the listener outlived the process
        // and took connections (1 in ~500 stops).
        self.submit_and_wait(Some(Duration::from_millis(10)))?;
        self.wait_for_accepts(std::time::Instant::now() + timeout, None)
    }

    /// As [`cancel_everything`](Self::cancel_everything) with one cancel-any operation, waiting
    /// for its completion and for the last completion of every multishot accept (the
    /// operations that hold the listener).
    fn cancel_everything_through_the_ring(&mut self, timeout: Duration) -> io::Result<()> {
        const CANCEL_ALL: u64 = u64::MAX - 1;
        let any = io_uring::types::CancelBuilder::any();
        self.push(opcode::AsyncCancel2::new(any).build().user_data(CANCEL_ALL))?;
        self.wait_for_accepts(std::time::Instant::now() + timeout, Some(CANCEL_ALL))
    }

    /// Reaps completions until every multishot accept has given its last one (and the one
    /// with user data `wanted` has come), or fails at `deadline`. What a last accept handed
    /// over is closed.
    fn wait_for_accepts(
        &mut self,
        deadline: std::time::Instant,
        mut wanted: Option<u64>,
    ) -> io::Result<()> {
        let mut done = Vec::new();
        while wanted.is_some() || !self.accepts.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(io::Error::other(
                    "operations still in flight after a cancel",
                ));
            }
            self.submit_and_wait(Some(left.min(Duration::from_millis(10))))?;
            self.completions(&mut done);
            if done.iter().any(|c| Some(c.user_data) == wanted) {
                wanted = None;
            }
            done.clear();
        }
        Ok(())
    }

    /// Cancels the operation submitted with `target`.
    pub fn cancel(&mut self, target: u64, user_data: u64) -> io::Result<()> {
        self.push(
            opcode::AsyncCancel::new(target)
                .build()
                .user_data(user_data),
        )
    }

    /// Closes `fd` behind the submissions queued so far (they name it by number, and the
    /// kernel takes its references to the file as it first issues them, in order). Only
    /// operations first issued inline are queued on numbers this way: one the kernel always
    /// hands to a worker thread (IORING_OP_SHUTDOWN) looks its number up there, later, and
    /// could find the next connection under it.
    pub fn close(&mut self, fd: OwnedFd, user_data: u64) -> io::Result<()> {
        let e = opcode::Close::new(Fd(fd.as_raw_fd())).build();
        self.push(e.user_data(user_data))?;
        // The Close entry owns the number now: dropping `fd` would close it a second time.
        let _ = fd.into_raw_fd();
        Ok(())
    }

    /// Submits everything queued and waits for a completion, at most `timeout` (None: forever).
    pub fn submit_and_wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let result = match timeout {
            None => self.ring.submit_and_wait(1),
            Some(t) => {
                let ts = Timespec::new().sec(t.as_secs()).nsec(t.subsec_nanos());
                self.ring
                    .submitter()
                    .submit_with_args(1, &SubmitArgs::new().timespec(&ts))
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Moves the completions out of the queue into `out`.
    pub fn completions(&mut self, out: &mut Vec<Completion>) {
        for c in self.ring.completion() {
            let (user_data, result, more) = (c.user_data(), c.result(), cqueue::more(c.flags()));
            let accept = self.accepts.iter().position(|&a| a == user_data);
            let accepted = match accept {
                // SAFETY: the kernel opened this descriptor for this accept and gave it to no
                // one else; the result of any other operation is never taken for one.
                Some(_) if result >= 0 => Some(unsafe { OwnedFd::from_raw_fd(result) }),
                _ => None,
            };
            if let (Some(i), false) = (accept, more) {
                self.accepts.swap_remove(i);
            }
            out.push(Completion {
                user_data,
                result,
                more,
                buffer: cqueue::buffer_select(c.flags()),
                accepted,
            });
        }
    }

    /// The first `len` bytes of provided buffer `id`, as a receive filled it.
    pub fn received(&self, id: u16, len: usize) -> &[u8] {
        self.bufs.buffer(id, len)
    }

    /// Gives provided buffer `id` back to the kernel.
    pub fn recycle(&mut self, id: u16) {
        self.bufs.recycle(id);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Closing the ring (the `ring` field, dropped after this) cancels what is in flight
        // asynchronously: the kernel may still write a receive buffer or read a send buffer
        // after this returns. The worker is exiting; leaking them is the sound choice.
        std::mem::forget(std::mem::take(&mut self.sends));
        std::mem::forget(std::mem::replace(&mut self.bufs, BufRing::empty()));
    }
}

/// The provided buffer ring: `count` entries (page-aligned, shared with the kernel) pointing
/// into one block of `count * size` bytes.
struct BufRing {
    entries: Option<NonNull<BufRingEntry>>,
    map_len: usize,
    /// `count * size` bytes from a leaked box (freed in Drop): the kernel writes into them
    /// behind Rust's back, so no reference spans them, only slices of returned buffers.
    memory: NonNull<u8>,
    size: usize,
    count: u16,
    /// Our copy of the ring's tail (the kernel reads the shared one).
    tail: u16,
}

impl BufRing {
    fn new(count: u16, size: usize) -> io::Result<BufRing> {
        assert!(
            count.is_power_of_two(),
            "the ring size must be a power of two"
        );
        let map_len = usize::from(count) * std::mem::size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping, not aliased anywhere; checked for failure.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut ring = BufRing {
            entries: NonNull::new(ptr.cast()),
            map_len,
            memory: NonNull::from(Box::leak(
                vec![0u8; usize::from(count) * size].into_boxed_slice(),
            ))
            .cast(),
            size,
            count,
            tail: 0,
        };
        for id in 0..count {
            ring.recycle(id);
        }
        Ok(ring)
    }

    fn empty() -> BufRing {
        BufRing {
            entries: None,
            map_len: 0,
            memory: NonNull::dangling(),
            size: 0,
            count: 0,
            tail: 0,
        }
    }

    fn ring_addr(&self) -> u64 {
        self.entries.map_or(0, |p| p.as_ptr() as u64)
    }

    fn buffer(&self, id: u16, len: usize) -> &[u8] {
        if id >= self.count {
            return &[];
        }
        // SAFETY: inside the block (id < count, len <= size); the kernel handed this buffer
        // back with a completion and does not write it again until `recycle` publishes it.
        unsafe {
            std::slice::from_raw_parts(
                self.memory.as_ptr().add(usize::from(id) * self.size),
                len.min(self.size),
            )
        }
    }

    fn recycle(&mut self, id: u16) {
        let Some(base) = self.entries.filter(|_| id < self.count) else {
            return;
        };
        let mask = self.count - 1;
        let index = usize::from(self.tail & mask);
        // SAFETY: `index` < count, inside the mapping; the kernel reads only entries before
        // the published tail, and this one is past it until the store below.
        let entry = unsafe { &mut *base.as_ptr().add(index) };
        entry.set_addr(self.memory.as_ptr() as u64 + u64::from(id) * self.size as u64);
        entry.set_len(self.size as u32);
        entry.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field lies inside the first entry of the mapping, is 2-aligned, and
        // the kernel reads it concurrently: an atomic store with Release publishes the entry.
        unsafe {
            let tail = BufRingEntry::tail(base.as_ptr()) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if let Some(base) = self.entries {
            // SAFETY: the mapping made in `new`, unmapped once (only a registered ring's owner
            // leaks instead of dropping, see Ring's Drop).
            unsafe { libc::munmap(base.as_ptr().cast(), self.map_len) };
            let len = usize::from(self.count) * self.size;
            // SAFETY: the box leaked in `new`, with this length, freed once.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.memory.as_ptr(),
                    len,
                ))
            });
        }
    }
}
