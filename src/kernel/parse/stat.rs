//! `/proc/PID/stat`: one line, where `comm` sits in parentheses and may itself contain spaces
//! and parentheses, so the fields are counted from the *last* `)`.

use super::{dec_i64, dec_u64, ParseError};

/// The fields of /proc/PID/stat that tcplab shows. Times are in clock ticks, rss in pages:
/// converting needs the machine's CLK_TCK and page size, which the scanner knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub tty_nr: i32,
    pub tpgid: i32,
    /// The kernel's PF_* flags of the task (field 9).
    pub flags: u64,
    pub utime_ticks: u64,
    pub stime_ticks: u64,
    pub threads: i64,
    pub start_ticks: u64,
    pub rss_pages: i64,
}

/// PF_KTHREAD of include/linux/sched.h: the task is a kernel thread.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// Parses the content of /proc/PID/stat.
pub fn parse_stat(buf: &[u8]) -> Result<Stat, ParseError> {
    let err = |d: &str| ParseError::new("/proc/PID/stat", d);
    let open = buf
        .iter()
        .position(|&b| b == b'(')
        .ok_or_else(|| err("no ("))?;
    let close = buf
        .iter()
        .rposition(|&b| b == b')')
        .ok_or_else(|| err("no )"))?;
    if close < open {
        return Err(err(") before ("));
    }
    let pid = dec_i64(trim(&buf[..open])).ok_or_else(|| err("bad pid"))? as i32;
    let comm = String::from_utf8_lossy(&buf[open + 1..close]).into_owned();
    // Fields after the comm, numbered from 0 here: 0 = state (field 3 of proc(5)).
    let mut rest = buf[close + 1..]
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty());
    let mut fields: [&[u8]; 22] = [&[]; 22];
    for slot in fields.iter_mut() {
        *slot = rest.next().ok_or_else(|| err("too few fields"))?;
    }
    let state = match fields[0] {
        [c] => *c as char,
        _ => return Err(err("bad state")),
    };
    let int = |i: usize| dec_i64(fields[i]).ok_or_else(|| err("bad number"));
    let uint = |i: usize| dec_u64(fields[i]).ok_or_else(|| err("bad number"));
    Ok(Stat {
        pid,
        comm,
        state,
        ppid: int(1)? as i32,
        pgid: int(2)? as i32,
        sid: int(3)? as i32,
        tty_nr: int(4)? as i32,
        tpgid: int(5)? as i32,
        flags: uint(6)?,
        utime_ticks: uint(11)?,
        stime_ticks: uint(12)?,
        threads: int(17)?,
        start_ticks: uint(19)?,
        rss_pages: int(21)?,
    })
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_with_parentheses_and_spaces() {
        let line = b"4242 (a) b (c)) S 1 4242 4242 34816 4300 4194560 1 0 0 0 7 3 0 0 20 0 2 0 123456 1000 250 1844674\n";
        let st = parse_stat(line).unwrap();
        assert_eq!(st.comm, "a) b (c)");
        assert_eq!((st.pid, st.ppid, st.pgid, st.sid), (4242, 1, 4242, 4242));
        assert_eq!((st.tty_nr, st.tpgid), (34816, 4300));
        assert_eq!((st.utime_ticks, st.stime_ticks, st.threads), (7, 3, 2));
        assert_eq!((st.start_ticks, st.rss_pages), (123456, 250));
    }

    #[test]
    fn rejects_truncated_and_garbage() {
        assert!(parse_stat(b"12 (x) S 1 2").is_err());
        assert!(parse_stat(b"").is_err());
        assert!(
            parse_stat(b"x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22")
                .is_err()
        );
    }
}
