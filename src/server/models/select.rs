//! `--model select`: the multiplexing loop waiting in select(2). select takes bitmaps of
//! FD_SETSIZE (1024) bits; a descriptor at or past that cannot be put in one (doing so writes
//! past the bitmap: undefined behaviour in C, a panic in nix). Such a connection is refused with
//! a log line and closed: the tutorial's lesson on select's limit, made visible.

use std::os::fd::RawFd;
use std::time::Duration;

use nix::sys::select::{select, FdSet, FD_SETSIZE};
use nix::sys::time::{TimeVal, TimeValLike};

use super::multiplex::{Demultiplexer, Interest, Readiness, Unwatchable};

pub struct Select;

impl Demultiplexer for Select {
    fn admits(&self, fd: RawFd) -> Result<(), Unwatchable> {
        if usize::try_from(fd).is_ok_and(|fd| fd < FD_SETSIZE) {
            Ok(())
        } else {
            Err(Unwatchable {
                fd,
                limit: FD_SETSIZE,
            })
        }
    }

    fn wait(
        &mut self,
        interests: &[Interest<'_>],
        timeout: Option<Duration>,
    ) -> std::io::Result<Vec<Readiness>> {
        let mut reads = FdSet::new();
        let mut writes = FdSet::new();
        for i in interests {
            // Every descriptor here passed `admits` when it was accepted.
            if i.read {
                reads.insert(i.fd);
            }
            if i.write {
                writes.insert(i.fd);
            }
        }
        let mut tv =
            timeout.map(|t| TimeVal::microseconds(t.as_micros().min(i64::MAX as u128) as i64));
        select(None, &mut reads, &mut writes, None, tv.as_mut())?;
        Ok(interests
            .iter()
            .map(|i| Readiness {
                read: i.read && reads.contains(i.fd),
                write: i.write && writes.contains(i.fd),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_descriptors_past_fd_setsize() {
        assert!(Select.admits(0).is_ok());
        assert!(Select.admits(FD_SETSIZE as RawFd - 1).is_ok());
        let err = Select.admits(FD_SETSIZE as RawFd).unwrap_err().to_string();
        assert!(err.contains("FD_SETSIZE (1024)"), "{err}");
        assert!(Select.admits(-1).is_err());
    }

    #[test]
    fn reports_a_readable_socket() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut b, b"x").unwrap();
        let ready = Select
            .wait(
                &[Interest {
                    fd: std::os::fd::AsFd::as_fd(&a),
                    read: true,
                    write: false,
                }],
                Some(Duration::from_secs(5)),
            )
            .unwrap();
        assert_eq!(
            ready,
            vec![Readiness {
                read: true,
                write: false
            }]
        );
    }
}
