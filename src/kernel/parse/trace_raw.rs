//! Decoding the binary ring-buffer pages of `per_cpu/cpuN/trace_pipe_raw` for the
//! `sock:inet_sock_set_state` event: no text formatting in the kernel and no text parsing
//! here, which is most of what tracing costs at 100,000 transitions a second. The layouts come
//! from the kernel's own description (`events/header_page`, the event's `format`), not from
//! guesses; when they do not look as expected, the caller uses the text pipe instead.
//!
//! Pure: bytes in, [`StateChange`]s out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::trace_line::{Context, StateChange};
use crate::model::TcpState;

/// Where the fields of one event record are (from its `format` file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLayout {
    pub id: u16,
    common_type: usize,
    common_flags: usize,
    common_pid: usize,
    oldstate: usize,
    newstate: usize,
    sport: usize,
    dport: usize,
    family: usize,
    saddr: usize,
    daddr: usize,
    saddr_v6: usize,
    daddr_v6: usize,
    /// The record's length: every field above lies within it.
    len: usize,
}

/// `common_flags` bits (kernel/trace/trace.h, TRACE_FLAG_*): in interrupt context the task on
/// the record is whoever was on the CPU.
const FLAG_HARDIRQ: u8 = 0x08;
const FLAG_SOFTIRQ: u8 = 0x10;
const FLAG_NMI: u8 = 0x40;

impl EventLayout {
    /// Reads the event's `format` file text; None when a needed field is missing or sized
    /// differently from what the decoder reads.
    pub fn from_format(text: &str) -> Option<EventLayout> {
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("ID:"))?
            .trim()
            .parse()
            .ok()?;
        let mut fields = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("field:") else {
                continue;
            };
            // `TYPE NAME[N];	offset:O;	size:S;	signed:X;`
            let mut parts = rest.split(';').map(str::trim);
            let decl = parts.next()?;
            let name = decl.rsplit(' ').next()?.split('[').next()?.to_string();
            let offset: usize = parts.next()?.strip_prefix("offset:")?.parse().ok()?;
            let size: usize = parts.next()?.strip_prefix("size:")?.parse().ok()?;
            fields.push((name, offset, size));
        }
        let at = |name: &str, size: usize| {
            fields
                .iter()
                .find(|(n, _, s)| n == name && *s == size)
                .map(|(_, o, _)| *o)
        };
        let layout = EventLayout {
            id,
            common_type: at("common_type", 2)?,
            common_flags: at("common_flags", 1)?,
            common_pid: at("common_pid", 4)?,
            oldstate: at("oldstate", 4)?,
            newstate: at("newstate", 4)?,
            sport: at("sport", 2)?,
            dport: at("dport", 2)?,
            family: at("family", 2)?,
            saddr: at("saddr", 4)?,
            daddr: at("daddr", 4)?,
            saddr_v6: at("saddr_v6", 16)?,
            daddr_v6: at("daddr_v6", 16)?,
            len: fields.iter().map(|(_, o, s)| o + s).max()?,
        };
        Some(layout)
    }

    /// One record; None for another event or a record too short to be this one.
    pub fn decode(&self, data: &[u8], ns: u64, cpu: u32) -> Option<StateChange> {
        if data.len() < self.len || u16_at(data, self.common_type) != self.id {
            return None;
        }
        let flags = data[self.common_flags];
        let context = match flags & (FLAG_HARDIRQ | FLAG_SOFTIRQ | FLAG_NMI) {
            0 => Context::Process,
            _ => Context::Interrupt,
        };
        let (saddr, daddr): (IpAddr, IpAddr) = match u16_at(data, self.family) {
            2 => (ipv4(data, self.saddr).into(), ipv4(data, self.daddr).into()),
            10 => (
                ipv6(data, self.saddr_v6).into(),
                ipv6(data, self.daddr_v6).into(),
            ),
            _ => return None,
        };
        let state = |off| TcpState::from_kernel(u32_at(data, off).try_into().ok()?);
        Some(StateChange {
            comm: String::new(),
            tid: u32_at(data, self.common_pid) as i32,
            tgid: None,
            cpu,
            context,
            clock: ns as f64 * 1e-9,
            local: SocketAddr::new(saddr, u16_at(data, self.sport)),
            remote: SocketAddr::new(daddr, u16_at(data, self.dport)),
            old: state(self.oldstate)?,
            new: state(self.newstate)?,
        })
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The address fields hold the bytes in network order.
fn ipv4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

fn ipv6(b: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(<[u8; 16]>::try_from(&b[at..at + 16]).expect("16 bytes"))
}

/// The page header as this decoder reads it (`events/header_page`): u64 timestamp at 0, the
/// 8-byte commit at 8, data from 16. Anything else and the text pipe is used.
pub fn page_header_is_known(header_page: &str) -> bool {
    let has = |name: &str, offset: &str, size: &str| {
        header_page.lines().any(|l| {
            l.contains(&format!(" {name};"))
                && l.contains(&format!("offset:{offset};"))
                && l.contains(&format!("size:{size};"))
        })
    };
    cfg!(target_endian = "little")
        && has("timestamp", "0", "8")
        && has("commit", "8", "8")
        && has("data", "16", "4080")
}

const DATA: usize = 16;
/// Flags kept in the commit word: events were lost before this page, and how many is stored
/// after the data.
const MISSED_EVENTS: u64 = 1 << 31;
const MISSED_STORED: u64 = 1 << 30;

const TYPE_PADDING: u32 = 29;
const TYPE_TIME_EXTEND: u32 = 30;
const TYPE_TIME_STAMP: u32 = 31;

/// What a page held besides its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageInfo {
    /// Events the kernel overwrote before this page (0 when it did not say).
    pub missed: u64,
}

/// Calls `each(ns, record)` for every data record of one page, in order, with its time on the
/// trace clock in nanoseconds. Stops quietly at anything malformed (the rest of the page).
pub fn for_each_record(page: &[u8], mut each: impl FnMut(u64, &[u8])) -> PageInfo {
    let mut info = PageInfo::default();
    if page.len() < DATA {
        return info;
    }
    let commit = u64_at(page, 8);
    let size = (commit & (MISSED_STORED - 1)) as usize;
    let end = (DATA + size).min(page.len());
    if commit & MISSED_EVENTS != 0 {
        info.missed = 1;
        if commit & MISSED_STORED != 0 && end + 8 <= page.len() {
            info.missed = u64_at(page, end);
        }
    }
    let mut ts = u64_at(page, 0);
    let mut pos = DATA;
    while pos + 4 <= end {
        let word = u32_at(page, pos);
        let (type_len, delta) = (word & 0x1f, (word >> 5) as u64);
        let array0 = || (pos + 8 <= end).then(|| u32_at(page, pos + 4) as u64);
        match type_len {
            TYPE_PADDING => {
                let Some(len) = array0() else { break };
                if delta == 0 && len == 0 {
                    break; // the rest of the page is empty
                }
                ts += delta;
                pos += 4 + len as usize;
            }
            TYPE_TIME_EXTEND => {
                let Some(hi) = array0() else { break };
                ts += (hi << 27) | delta;
                pos += 8;
            }
            TYPE_TIME_STAMP => {
                let Some(hi) = array0() else { break };
                // An absolute stamp of 59 bits; the page's stamp has the bits above.
                let low = (hi << 27) | delta;
                ts = (ts & !((1u64 << 59) - 1)) | low;
                pos += 8;
            }
            0 => {
                let Some(len) = array0() else { break };
                let (start, stop) = (pos + 8, pos + 4 + len as usize);
                if len < 4 || stop > end {
                    break;
                }
                ts += delta;
                each(ts, &page[start..stop]);
                pos = stop;
            }
            n => {
                let (start, stop) = (pos + 4, pos + 4 + 4 * n as usize);
                if stop > end {
                    break;
                }
                ts += delta;
                each(ts, &page[start..stop]);
                pos = stop;
            }
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: &str = "name: inet_sock_set_state
ID: 2287
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;

print fmt: \"family=%s ...\"
";

    const HEADER_PAGE: &str = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
";

    /// A page read from this kernel (6.18) while a Python client and server made one IPv4
    /// and one IPv6 connection on loopback and closed them.
    const PAGE: &[u8] = include_bytes!("../../../tests/fixtures/inet_sock_set_state.page");

    #[test]
    fn layout_from_the_kernels_format() {
        let l = EventLayout::from_format(FORMAT).unwrap();
        assert_eq!((l.id, l.sport, l.daddr_v6, l.len), (2287, 24, 56, 72));
        assert!(EventLayout::from_format(&FORMAT.replace("sport;", "lport;")).is_none());
        assert!(page_header_is_known(HEADER_PAGE));
        assert!(!page_header_is_known(
            &HEADER_PAGE.replace("offset:16", "offset:12")
        ));
    }

    #[test]
    fn a_real_page_decodes_into_both_connections() {
        let l = EventLayout::from_format(FORMAT).unwrap();
        let mut changes = Vec::new();
        let info = for_each_record(PAGE, |ns, rec| {
            changes.push(l.decode(rec, ns, 0).expect("our event"));
        });
        assert_eq!(info.missed, 0);
        use TcpState::*;
        let v4: Vec<_> = changes
            .iter()
            .filter(|c| c.local.is_ipv4())
            .map(|c| (c.old, c.new))
            .collect();
        assert_eq!(
            v4,
            [
                (Close, Listen),
                (Close, SynSent),
                (SynSent, Established),
                (Listen, SynRecv),
                (SynRecv, Established),
                (Established, FinWait1),
                (Established, CloseWait),
                (CloseWait, LastAck),
                (FinWait1, FinWait2),
                (FinWait2, Close),
                (LastAck, Close),
                (Listen, Close),
            ]
        );
        assert_eq!(changes.len(), 24, "12 per connection");
        // Times only move forward, and the listener's port is in its first record.
        assert!(changes.windows(2).all(|w| w[0].clock <= w[1].clock));
        assert_eq!(changes[0].local, "127.0.0.1:45069".parse().unwrap());
        assert_eq!(changes[0].remote, "0.0.0.0:0".parse().unwrap());
        assert_eq!(changes[0].context, Context::Process);
        assert_eq!(changes[3].context, Context::Interrupt, "{:?}", changes[3]);
        let v6 = changes.iter().find(|c| c.local.is_ipv6()).unwrap();
        assert!(v6.local.ip().is_loopback(), "{v6:?}");
    }

    #[test]
    fn malformed_pages_end_quietly() {
        assert_eq!(for_each_record(&[], |_, _| panic!()), PageInfo::default());
        let mut page = PAGE.to_vec();
        // A commit larger than the page, and records cut short: no panic, no garbage.
        page[8..16].copy_from_slice(&(1u64 << 20).to_ne_bytes());
        page.truncate(100);
        let mut n = 0;
        for_each_record(&page, |_, _| n += 1);
        assert!(n <= 2);
    }
}
