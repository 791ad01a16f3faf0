//! Memory usage like crash's `kmem -i` and `kmem -f`: totals from the vmstat counters and free
//! pages per order from every zone's buddy free lists.

use super::enum_value;
use super::sys::total_ram_kib;
use crate::dump::error::DumpError;
use crate::dump::kernel::Dump;
use crate::dump::Value;

#[derive(Debug, Clone, Default)]
pub struct ZoneInfo {
    pub node: u32,
    pub name: String,
    pub managed_pages: u64,
    /// free_area[order].nr_free, order 0 first.
    pub free_per_order: Vec<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct MemInfo {
    pub total_kib: u64,
    pub free_kib: u64,
    pub used_kib: u64,
    pub page_cache_kib: Option<u64>,
    pub slab_kib: Option<u64>,
    pub swap_total_kib: Option<u64>,
    pub swap_free_kib: Option<u64>,
    /// Free blocks per order summed over all zones.
    pub free_per_order: Vec<u64>,
    pub zones: Vec<ZoneInfo>,
}

/// An entry of vm_zone_stat / vm_node_stat by enumerator name.
fn stat(dump: &Dump, array: &str, item: &str) -> Result<u64, DumpError> {
    let i =
        enum_value(dump, item).ok_or_else(|| DumpError::Missing(format!("enumerator {item}")))?;
    Ok(dump.var(array)?.index(i as u64)?.as_i64()?.max(0) as u64)
}

fn node_stat(dump: &Dump, item: &str) -> Result<u64, DumpError> {
    stat(dump, "vm_node_stat", item).or_else(|_| stat(dump, "vm_zone_stat", item))
}

/// pglist_data of every node: node_data[] (NUMA kernels) or contig_page_data.
fn nodes(dump: &Dump) -> Result<Vec<(u32, Value<'_>)>, DumpError> {
    let Ok(node_data) = dump.var("node_data") else {
        return Ok(vec![(0, dump.var("contig_page_data")?)]);
    };
    let n = dump
        .var("nr_node_ids")
        .and_then(|v| v.as_u64())
        .unwrap_or(1)
        .min(1024);
    let mut out = Vec::new();
    for nid in 0..n {
        let p = node_data.index(nid)?;
        if p.as_u64()? != 0 {
            out.push((nid as u32, p.deref()?));
        }
    }
    Ok(out)
}

fn zones(dump: &Dump) -> Result<Vec<ZoneInfo>, DumpError> {
    let mut out = Vec::new();
    for (nid, node) in nodes(dump)? {
        let nr_zones = node.field("nr_zones").and_then(|v| v.as_u64()).unwrap_or(0);
        let zones = node.field("node_zones")?;
        let count = match zones.ty() {
            crate::dump::kernel::types::Ty::Btf(id) => dump
                .btf
                .resolve(id)
                .and_then(|t| dump.btf.array(&t))
                .map_or(nr_zones, |a| u64::from(a.len)),
            _ => nr_zones,
        };
        for z in 0..count.min(16) {
            let zone = zones.index(z)?;
            let managed = zone
                .field_any(&["managed_pages", "present_pages"])?
                .as_u64()?;
            if managed == 0 {
                continue;
            }
            let areas = zone.field("free_area")?;
            let orders = dump.vmcoreinfo.length("zone.free_area").unwrap_or_else(|| {
                areas.size().unwrap_or(0)
                    / areas.index(0).and_then(|a| a.size()).unwrap_or(1).max(1)
            });
            let free_per_order = (0..orders.min(64))
                .map(|o| areas.index(o)?.field("nr_free")?.as_u64())
                .collect::<Result<_, _>>()?;
            out.push(ZoneInfo {
                node: nid,
                name: zone.field("name")?.string()?,
                managed_pages: managed,
                free_per_order,
            });
        }
    }
    Ok(out)
}

pub fn mem_info(dump: &Dump) -> Result<MemInfo, DumpError> {
    let kib = |pages: u64| pages.saturating_mul(dump.page_size()) / 1024;
    let total_kib = total_ram_kib(dump)?;
    let free_kib = kib(stat(dump, "vm_zone_stat", "NR_FREE_PAGES")?);
    let slab = match (
        node_stat(dump, "NR_SLAB_RECLAIMABLE_B"),
        node_stat(dump, "NR_SLAB_UNRECLAIMABLE_B"),
    ) {
        (Ok(a), Ok(b)) => Some(a.saturating_add(b)),
        _ => match (
            node_stat(dump, "NR_SLAB_RECLAIMABLE"),
            node_stat(dump, "NR_SLAB_UNRECLAIMABLE"),
        ) {
            (Ok(a), Ok(b)) => Some(a.saturating_add(b)),
            _ => None,
        },
    };
    let swap_total = dump.var("total_swap_pages").and_then(|v| v.as_i64()).ok();
    let swap_free = dump.var("nr_swap_pages").and_then(|v| v.as_i64()).ok();
    let zones = zones(dump)?;
    let max_order = zones
        .iter()
        .map(|z| z.free_per_order.len())
        .max()
        .unwrap_or(0);
    let free_per_order = (0..max_order)
        .map(|o| {
            zones
                .iter()
                .filter_map(|z| z.free_per_order.get(o))
                .fold(0u64, |a, &n| a.saturating_add(n))
        })
        .collect();
    Ok(MemInfo {
        total_kib,
        free_kib,
        used_kib: total_kib.saturating_sub(free_kib),
        page_cache_kib: node_stat(dump, "NR_FILE_PAGES").ok().map(kib),
        slab_kib: slab.map(kib),
        swap_total_kib: swap_total.map(|p| kib(p.max(0) as u64)),
        swap_free_kib: swap_free.map(|p| kib(p.max(0) as u64)),
        free_per_order,
        zones,
    })
}
