//! `--model poll`: the multiplexing loop waiting in poll(2), which takes an array of any
//! length: no FD_SETSIZE limit, but still a scan of every descriptor on every call (the cost
//! the reactor's epoll removes).

use std::os::fd::RawFd;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::multiplex::{Demultiplexer, Interest, Readiness, Unwatchable};

pub struct Poll;

impl Demultiplexer for Poll {
    fn admits(&self, _fd: RawFd) -> Result<(), Unwatchable> {
        Ok(())
    }

    fn wait(
        &mut self,
        interests: &[Interest<'_>],
        timeout: Option<Duration>,
    ) -> std::io::Result<Vec<Readiness>> {
        let mut fds: Vec<PollFd> = interests
            .iter()
            .map(|i| {
                let mut events = PollFlags::empty();
                if i.read {
                    events |= PollFlags::POLLIN;
                }
                if i.write {
                    events |= PollFlags::POLLOUT;
                }
                PollFd::new(i.fd, events)
            })
            .collect();
        let timeout = match timeout {
            None => PollTimeout::NONE,
            // Round up: a timer due in 0.4 ms must not spin with a 0 ms timeout.
            Some(t) => PollTimeout::try_from(t.as_micros().div_ceil(1000).min(60_000) as u32)
                .unwrap_or(PollTimeout::MAX),
        };
        poll(&mut fds, timeout)?;
        Ok(interests
            .iter()
            .zip(&fds)
            .map(|(i, fd)| {
                let got = fd.revents().unwrap_or(PollFlags::empty());
                // An error or hang-up counts as readable: the read that follows reports it.
                let broken = got.intersects(PollFlags::POLLERR | PollFlags::POLLHUP);
                Readiness {
                    read: i.read && (got.contains(PollFlags::POLLIN) || broken),
                    write: i.write && (got.contains(PollFlags::POLLOUT) || broken),
                }
            })
            .collect())
    }
}
