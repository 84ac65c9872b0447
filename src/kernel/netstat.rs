//! The kernel's protocol counters from /proc/net/netstat (ListenOverflows, ListenDrops, ...).

use super::parse::netstat::{parse_netstat, NetStat};

pub fn read() -> anyhow::Result<NetStat> {
    let mut buf = Vec::with_capacity(8192);
    super::read_into("/proc/net/netstat", &mut buf)
        .map_err(|e| anyhow::anyhow!("cannot read /proc/net/netstat: {e:?}"))?;
    Ok(parse_netstat(&buf)?)
}
