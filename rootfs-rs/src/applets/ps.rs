//! ps: list processes from /proc as PID PPID STAT TIME COMMAND (options are accepted and ignored).
use std::ffi::OsString;
use std::io::Write;

use crate::util::finish;

pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub state: char,
    pub cpu_ticks: u64,
    pub command: String,
}

/// Parse /proc/PID/stat; the command name is in parentheses and may itself contain ") ".
pub fn read_proc(pid: u32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // Kernel threads have no command line: show [name] like ps does.
    let command = if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    };
    Some(ProcInfo {
        pid,
        ppid,
        state,
        cpu_ticks: utime + stime,
        command,
    })
}

pub fn pids() -> Vec<u32> {
    let mut pids: Vec<u32> = match std::fs::read_dir("/proc") {
        Ok(d) => d
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect(),
        Err(_) => Vec::new(),
    };
    pids.sort_unstable();
    pids
}

pub fn main(args: &[OsString]) -> i32 {
    if args.iter().any(|a| a == "--help") {
        return finish(
            "ps",
            writeln!(
                std::io::stdout(),
                "usage: ps\nList processes (PID PPID STAT TIME COMMAND)."
            )
            .map(|_| 0),
        );
    }
    let width = if rustix::termios::isatty(rustix::stdio::stdout()) {
        crate::util::term::terminal_width()
    } else {
        usize::MAX
    };
    let mut out = crate::util::stdout();
    let result = (|| -> std::io::Result<()> {
        writeln!(out, "{:>5} {:>5} S {:>6} COMMAND", "PID", "PPID", "TIME")?;
        for pid in pids() {
            let Some(p) = read_proc(pid) else { continue };
            // USER_HZ is 100 on every Linux ABI.
            let secs = p.cpu_ticks / 100;
            let line = format!(
                "{:>5} {:>5} {} {:>3}:{:02} {}",
                p.pid,
                p.ppid,
                p.state,
                secs / 60,
                secs % 60,
                p.command
            );
            let line: String = line.chars().take(width).collect();
            writeln!(out, "{line}")?;
        }
        out.flush()
    })();
    finish("ps", result.map(|_| 0))
}
