//! free: memory usage from /proc/meminfo in KiB (-m MiB, -h human).
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;

use crate::util::fmt::human;
use crate::util::{finish, Parser};

const USAGE: &str = "usage: free [-k|-m|-h]\nDisplay amount of free and used memory.";

pub fn meminfo() -> HashMap<String, u64> {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), v.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

pub fn main(args: &[OsString]) -> i32 {
    let mut unit = 'k';
    let ops = match Parser::new("free", USAGE, args).parse(|p, c| match c {
        'k' | 'm' | 'g' | 'h' => {
            unit = c;
            Ok(())
        }
        'b' => {
            unit = 'b';
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if !ops.is_empty() {
        return Parser::usage_error("free", USAGE, "extra operand", 1);
    }
    let m = meminfo();
    let get = |k: &str| m.get(k).copied().unwrap_or(0);
    let total = get("MemTotal");
    let free = get("MemFree");
    let cache = get("Buffers") + get("Cached") + get("SReclaimable");
    let used = total.saturating_sub(free + cache);
    let available = m.get("MemAvailable").copied().unwrap_or(free + cache);
    let fmt = |kib: u64| match unit {
        'h' => human(kib * 1024),
        'm' => (kib / 1024).to_string(),
        'g' => (kib / 1024 / 1024).to_string(),
        'b' => (kib * 1024).to_string(),
        _ => kib.to_string(),
    };
    let swap_total = get("SwapTotal");
    let swap_free = get("SwapFree");
    let text = format!(
        "{:>7} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\n{:<7} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\n{:<7} {:>11} {:>11} {:>11}\n",
        "", "total", "used", "free", "shared", "buff/cache", "available",
        "Mem:", fmt(total), fmt(used), fmt(free), fmt(get("Shmem")), fmt(cache), fmt(available),
        "Swap:", fmt(swap_total), fmt(swap_total.saturating_sub(swap_free)), fmt(swap_free)
    );
    let mut out = std::io::stdout().lock();
    finish(
        "free",
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map(|_| 0),
    )
}
