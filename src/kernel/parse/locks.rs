//! `/proc/locks`: which process holds which lock on which file, one line per lock:
//! `1: FLOCK  ADVISORY  WRITE 17544 fe:00:10014888 0 EOF` (id, kind, advisory or mandatory,
//! mode, holder's pid, the file as hex major:minor:inode, range). A process waiting for a lock
//! is listed under the holder's line as `1: -> FLOCK ...`.

/// The pids holding an exclusive `flock(2)` lock on the file `major:minor:inode`; waiters are
/// not holders.
pub fn flock_writers(text: &str, major: u32, minor: u32, inode: u64) -> Vec<i32> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().skip(1);
            let (kind, _, mode) = (fields.next()?, fields.next()?, fields.next()?);
            let (pid, file) = (fields.next()?, fields.next()?);
            if kind != "FLOCK" || mode != "WRITE" {
                return None;
            }
            let mut parts = file.split(':');
            let maj = u32::from_str_radix(parts.next()?, 16).ok()?;
            let min = u32::from_str_radix(parts.next()?, 16).ok()?;
            let ino: u64 = parts.next()?.parse().ok()?;
            if (maj, min, ino) != (major, minor, inode) {
                return None;
            }
            pid.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKS: &str = "\
1: FLOCK  ADVISORY  WRITE 17544 fe:00:10014888 0 EOF
1: -> FLOCK  ADVISORY  WRITE 17600 fe:00:10014888 0 EOF
2: FLOCK  ADVISORY  READ 12475 fe:00:10014888 0 EOF
3: POSIX  ADVISORY  WRITE 3985 fe:00:10014888 0 EOF
4: FLOCK  ADVISORY  WRITE 12550 fe:00:7241729 0 EOF
5: FLOCK  ADVISORY  WRITE 99 103:0a:10014888 0 EOF
6: OFDLCK ADVISORY  READ  -1 00:06:9 0 EOF
";

    #[test]
    fn only_exclusive_flocks_on_that_file_and_no_waiters() {
        assert_eq!(flock_writers(LOCKS, 0xfe, 0, 10014888), [17544]);
        assert_eq!(flock_writers(LOCKS, 0x103, 0x0a, 10014888), [99]);
        assert_eq!(flock_writers(LOCKS, 0xfe, 0, 1), [] as [i32; 0]);
        assert_eq!(flock_writers("", 0xfe, 0, 10014888), [] as [i32; 0]);
        assert_eq!(flock_writers("garbage\n1:\n", 0xfe, 0, 1), [] as [i32; 0]);
    }
}
