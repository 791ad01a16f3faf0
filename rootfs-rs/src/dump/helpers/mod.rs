//! Triage helpers named after what crash(8) shows: log, panic, sys, ps, mem, runq, net,
//! sockets, warnings. Each copes with kernel version changes by trying field names in turn.

pub mod bt;
pub mod log;
pub mod log_events;
pub mod mem;
pub mod modules;
pub mod mounts;
pub mod net;
pub mod panic;
pub mod ps;
pub mod runq;
pub mod slab;
pub mod sockets;
pub mod sys;
pub mod tasks;
pub mod warnings;

use super::kernel::Dump;
use crate::dump::kernel::btf::Kind;

/// Value of a named enumerator anywhere in BTF (e.g. NR_FREE_PAGES), for indexes into stat
/// arrays whose order changes between kernels.
pub fn enum_value(dump: &Dump, name: &str) -> Option<i64> {
    let btf = &dump.btf;
    (1..=btf.count()).find_map(|id| {
        let t = btf.ty(id).ok()?;
        if !matches!(t.kind, Kind::Enum | Kind::Enum64) {
            return None;
        }
        btf.enumerators(&t)
            .ok()?
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    })
}

/// Bits set in a cpumask-like bitmap (`struct cpumask`), limited to `nbits`.
pub fn cpumask_cpus(dump: &Dump, name: &str, nbits: u32) -> Result<Vec<u32>, super::DumpError> {
    let mask = dump.var(name)?.field("bits")?;
    let mut cpus = Vec::new();
    for word in 0..u64::from(nbits).div_ceil(64) {
        let bits = mask.index(word)?.as_u64()?;
        for b in 0..64 {
            let cpu = (word * 64 + b) as u32;
            if bits & (1 << b) != 0 && cpu < nbits {
                cpus.push(cpu);
            }
        }
    }
    Ok(cpus)
}

/// Length of a fixed-size array value as BTF declares it (None for pointers and arrays of
/// unknown length).
pub fn array_len(v: &super::Value<'_>) -> Option<u64> {
    use crate::dump::kernel::types::Ty;
    match v.ty() {
        Ty::Btf(id) => {
            let btf = &v.dump().btf;
            let t = btf.resolve(id).ok()?;
            btf.array(&t).ok().map(|a| u64::from(a.len))
        }
        Ty::Array(_, len) => len.map(u64::from),
        Ty::Ptr(_) => None,
    }
}
