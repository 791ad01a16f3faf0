//! kill: send a signal (-SIGNAL, -s SIGNAL, -n NUM; default TERM) to processes; -l lists signals.
use std::ffi::OsString;
use std::io::Write;

use crate::util::{finish, warn_err};

const USAGE: &str =
    "usage: kill [-SIGNAL | -s SIGNAL] PID... | kill -l [NUMBER]\nSend a signal to processes.";

/// Linux signal numbers 1..=31 (x86, arm, riscv numbering).
pub const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

pub fn signal_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return (0..=64).contains(&n).then_some(n);
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .position(|s| *s == bare)
        .map(|i| i as i32 + 1)
}

pub fn main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut signal = 15;
    let mut i = 0;
    match args.first().map(|s| s.as_str()) {
        Some("--help") => return finish("kill", writeln!(std::io::stdout(), "{USAGE}").map(|_| 0)),
        Some("-l") | Some("-L") => return finish("kill", list(args.get(1))),
        Some("-s") | Some("-n") => {
            let Some(n) = args.get(1).and_then(|s| signal_number(s)) else {
                crate::warn!("kill: invalid signal");
                return 1;
            };
            signal = n;
            i = 2;
        }
        Some("--") => i = 1,
        Some(a) if a.starts_with('-') && a.len() > 1 && !a[1..].starts_with('-') => {
            match signal_number(&a[1..]) {
                Some(n) => {
                    signal = n;
                    i = 1;
                }
                None => {
                    crate::warn!("kill: {}: invalid signal specification", &a[1..]);
                    return 1;
                }
            }
        }
        _ => {}
    }
    if args.get(i).map(|s| s.as_str()) == Some("--") {
        i += 1;
    }
    if i >= args.len() {
        crate::warn!("{USAGE}");
        return 2;
    }
    let mut status = 0;
    for target in &args[i..] {
        let Ok(pid) = target.parse::<i32>() else {
            crate::warn!("kill: {target}: arguments must be process IDs");
            status = 1;
            continue;
        };
        if let Err(e) = send(pid, signal) {
            warn_err("kill", format!("({pid})"), &e.into());
            status = 1;
        }
    }
    status
}

fn send(pid: i32, signal: i32) -> rustix::io::Result<()> {
    let sig = if signal == 0 {
        None
    } else {
        Some(rustix::process::Signal::from_named_raw(signal).ok_or(rustix::io::Errno::INVAL)?)
    };
    let target = pid
        .checked_abs()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or(rustix::io::Errno::SRCH)?;
    match (sig, pid < 0) {
        (None, false) => rustix::process::test_kill_process(target),
        (None, true) => rustix::process::test_kill_process_group(target),
        (Some(s), false) => rustix::process::kill_process(target, s),
        (Some(s), true) => rustix::process::kill_process_group(target, s),
    }
}

fn list(which: Option<&String>) -> std::io::Result<i32> {
    let mut out = crate::util::stdout();
    match which {
        Some(n) => {
            // `kill -l 143` names the signal behind an exit status too.
            let num: i32 = n.parse().unwrap_or(0);
            let num = if num > 128 { num - 128 } else { num };
            match SIGNALS.get((num - 1).max(0) as usize).filter(|_| num >= 1) {
                Some(name) => writeln!(out, "{name}")?,
                None => {
                    crate::warn!("kill: {n}: invalid signal specification");
                    return Ok(1);
                }
            }
        }
        None => {
            for (i, s) in SIGNALS.iter().enumerate() {
                writeln!(out, "{:>2}) SIG{s}", i + 1)?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}
