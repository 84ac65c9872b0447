//! /proc/net/netstat (and /proc/net/snmp, the same shape): pairs of lines, a header line of
//! counter names and a line of values, both starting with the same `Prefix:`.

use std::collections::BTreeMap;

use super::{dec_u64, ParseError};

/// Every counter of the file, by `Prefix` and name (`TcpExt`, `ListenOverflows`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetStat {
    counters: BTreeMap<(String, String), u64>,
}

impl NetStat {
    pub fn get(&self, prefix: &str, name: &str) -> Option<u64> {
        self.counters
            .get(&(prefix.to_string(), name.to_string()))
            .copied()
    }
}

pub fn parse_netstat(buf: &[u8]) -> Result<NetStat, ParseError> {
    let bad = |d: String| ParseError::new("/proc/net/netstat", d);
    let text = std::str::from_utf8(buf).map_err(|_| bad("not UTF-8".into()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut counters = BTreeMap::new();
    while let Some(names) = lines.next() {
        let values = lines
            .next()
            .ok_or_else(|| bad(format!("a header without values: {names:.40}")))?;
        let (prefix, names) = names
            .split_once(':')
            .ok_or_else(|| bad(format!("no prefix: {names:.40}")))?;
        let (prefix2, values) = values
            .split_once(':')
            .ok_or_else(|| bad(format!("no prefix: {values:.40}")))?;
        if prefix != prefix2 {
            return Err(bad(format!("{prefix} followed by {prefix2}")));
        }
        let names: Vec<&str> = names.split_whitespace().collect();
        let values: Vec<&str> = values.split_whitespace().collect();
        if names.len() != values.len() {
            return Err(bad(format!(
                "{prefix}: {} names, {} values",
                names.len(),
                values.len()
            )));
        }
        for (n, v) in names.into_iter().zip(values) {
            // A few counters (Ip: Forwarding...) are small enums or negative (Tcp: MaxConn -1);
            // only counters are kept.
            if let Some(v) = dec_u64(v.as_bytes()) {
                counters.insert((prefix.to_string(), n.to_string()), v);
            }
        }
    }
    Ok(NetStat { counters })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_of_lines() {
        let text = b"TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 12 13\n\
IpExt: InNoRoutes InOctets\nIpExt: 0 184467440737095516\n";
        let n = parse_netstat(text).unwrap();
        assert_eq!(n.get("TcpExt", "ListenOverflows"), Some(12));
        assert_eq!(n.get("TcpExt", "ListenDrops"), Some(13));
        assert_eq!(n.get("IpExt", "InOctets"), Some(184467440737095516));
        assert_eq!(n.get("TcpExt", "Nope"), None);
    }

    #[test]
    fn refuses_what_is_not_the_kernel_s_shape() {
        for bad in [
            &b"TcpExt: A B\n"[..],
            b"TcpExt: A B\nIpExt: 1 2\n",
            b"TcpExt: A B\nTcpExt: 1\n",
            b"no colon\nat all\n",
            b"\xff\xfe: x\n",
        ] {
            assert!(
                parse_netstat(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse_netstat(b"").unwrap(), NetStat::default());
    }

    #[test]
    fn reads_this_machine_s_file() {
        let buf = std::fs::read("/proc/net/netstat").unwrap();
        let n = parse_netstat(&buf).unwrap();
        assert!(n.get("TcpExt", "ListenOverflows").is_some());
        assert!(n.get("TcpExt", "ListenDrops").is_some());
    }
}
