//! uptime: time, time since boot, and load averages.
use std::ffi::OsString;
use std::io::Write;

use crate::util::finish;
use crate::util::fmt::{civil, now};

pub fn format_uptime(secs: u64) -> String {
    let days = secs / 86400;
    let hours = secs % 86400 / 3600;
    let minutes = secs % 3600 / 60;
    let clock = if hours > 0 {
        format!("{hours:2}:{minutes:02}")
    } else {
        format!("{minutes} min")
    };
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        d => format!("{d} days, {clock}"),
    }
}

pub fn main(args: &[OsString]) -> i32 {
    if args.iter().any(|a| a == "--help") {
        return finish(
            "uptime",
            writeln!(
                std::io::stdout(),
                "usage: uptime\nTell how long the system has been running."
            )
            .map(|_| 0),
        );
    }
    // "12345.67 …": whole seconds are enough.
    let up: u64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split(['.', ' ']).next()?.parse().ok())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loads: Vec<&str> = load.split_whitespace().take(3).collect();
    let c = civil(now());
    let line = format!(
        " {:02}:{:02}:{:02} up {},  load average: {}",
        c.hour,
        c.minute,
        c.second,
        format_uptime(up),
        loads.join(", ")
    );
    finish("uptime", writeln!(std::io::stdout(), "{line}").map(|_| 0))
}
