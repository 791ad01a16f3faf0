//! Network interfaces like crash's `net`: name, flags, IPv4 addresses, seconds since the last
//! transmit (netdev_queue trans_start) and receive (dev->last_rx, where the kernel keeps it).

use crate::dump::error::DumpError;
use crate::dump::kernel::lists::list_for_each_entry;
use crate::dump::kernel::Dump;
use crate::dump::Value;

#[derive(Debug, Clone, Default)]
pub struct Interface {
    pub name: String,
    pub flags: u64,
    pub mtu: u64,
    /// "a.b.c.d/prefix"
    pub ipv4: Vec<String>,
    /// Seconds since the last RX / TX; None where the kernel does not record it ("n/a").
    pub last_rx_secs: Option<f64>,
    pub last_tx_secs: Option<f64>,
}

pub const IFF_UP: u64 = 1;

pub fn ipv4_text(b: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// Four bytes of an address field in memory (network order).
pub fn be_addr(v: &Value<'_>) -> Result<[u8; 4], DumpError> {
    Ok((v.as_u64()? as u32).to_le_bytes())
}

fn ipv4_addresses(dev: &Value<'_>) -> Result<Vec<String>, DumpError> {
    let mut out = Vec::new();
    let in_dev = dev.field("ip_ptr")?;
    if in_dev.as_u64()? == 0 {
        return Ok(out);
    }
    let mut ifa = in_dev.field("ifa_list")?;
    while ifa.as_u64()? != 0 && out.len() < 256 {
        let addr = be_addr(&ifa.field("ifa_address")?)?;
        let prefix = ifa.field("ifa_prefixlen")?.as_u64()?;
        out.push(format!("{}/{prefix}", ipv4_text(addr)));
        ifa = ifa.field("ifa_next")?;
    }
    Ok(out)
}

/// Jiffies → seconds before `now`; 0 means never.
fn jiffies_ago(stamp: u64, now: Option<u64>, hz: Option<u64>) -> Option<f64> {
    let (now, hz) = (now?, hz?);
    (stamp != 0).then(|| now.wrapping_sub(stamp) as i64 as f64 / hz as f64)
}

/// Latest trans_start of the device's TX queues (older kernels: dev->trans_start).
fn last_tx(dev: &Value<'_>) -> Result<u64, DumpError> {
    if dev.has_field("trans_start") {
        return dev.field("trans_start")?.as_u64();
    }
    let n = dev.field("num_tx_queues")?.as_u64()?.min(4096);
    let txq = dev.field("_tx")?;
    let mut latest = 0u64;
    for i in 0..n {
        let t = txq.index(i)?.field("trans_start")?.as_u64()?;
        if t != 0 && (latest == 0 || t.wrapping_sub(latest) as i64 > 0) {
            latest = t;
        }
    }
    Ok(latest)
}

/// Interfaces of the initial network namespace, in dev_base_head order.
pub fn interfaces(
    dump: &Dump,
    jiffies: Option<u64>,
    hz: Option<u64>,
) -> Result<Vec<Interface>, DumpError> {
    let head = dump.var("init_net")?.field("dev_base_head")?;
    let mut out = Vec::new();
    for dev in list_for_each_entry(&head, "struct net_device", "dev_list")?.take(4096) {
        let dev = dev?;
        let last_rx = if dev.has_field("last_rx") {
            Some(dev.field("last_rx")?.as_u64()?)
        } else {
            None
        };
        out.push(Interface {
            name: dev.field("name")?.string()?,
            flags: dev.field("flags")?.as_u64()?,
            mtu: dev.field("mtu")?.as_u64()?,
            ipv4: ipv4_addresses(&dev)?,
            last_rx_secs: last_rx.and_then(|j| jiffies_ago(j, jiffies, hz)),
            last_tx_secs: last_tx(&dev).ok().and_then(|j| jiffies_ago(j, jiffies, hz)),
        });
    }
    Ok(out)
}
