//! Why the kernel stopped: the panic or oops message from the log, the CPU that panicked
//! (panic_cpu, else crashing_cpu) and the task that was running there.

use super::log::LogRecord;
use crate::dump::error::DumpError;
use crate::dump::kernel::Dump;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PanicInfo {
    /// The panic line ("Kernel panic - not syncing: …"), else the first oops/BUG line.
    pub message: Option<String>,
    /// Further oops/BUG/sysrq lines that explain it (oldest first).
    pub context: Vec<String>,
    pub cpu: Option<i64>,
    /// (pid, comm) running on the panic CPU.
    pub task: Option<(i32, String)>,
}

/// Log lines that start or explain a crash, strongest first.
const PANIC_PREFIX: &str = "Kernel panic - not syncing";
const OOPS_MARKERS: &[&str] = &[
    "BUG:",
    "Oops:",
    "general protection fault",
    "kernel BUG at",
    "sysrq: Trigger a crash",
    "sysrq triggered crash",
    "watchdog: BUG:",
    "Unable to handle kernel",
];

/// Finds the panic message and its context in the log (pure; also used on a log alone).
pub fn find_panic(log: &[LogRecord]) -> (Option<String>, Vec<String>) {
    let lines = log.iter().flat_map(|r| r.text.split('\n')).map(str::trim);
    let mut panic = None;
    let mut context = Vec::new();
    for line in lines {
        if panic.is_none() && line.starts_with(PANIC_PREFIX) {
            panic = Some(line.to_string());
        } else if OOPS_MARKERS.iter().any(|m| line.contains(m)) && context.len() < 8 {
            context.push(line.to_string());
        }
    }
    let message = panic.or_else(|| context.first().cloned());
    (message, context)
}

/// The panicking CPU: panic_cpu (−1 when nobody panicked), else x86's crashing_cpu.
pub fn panic_cpu(dump: &Dump) -> Result<Option<i64>, DumpError> {
    let cpu = dump.var("panic_cpu")?.as_i64()?;
    if cpu >= 0 {
        return Ok(Some(cpu));
    }
    Ok(dump
        .var("crashing_cpu")
        .and_then(|v| v.as_i64())
        .ok()
        .filter(|&c| c >= 0))
}

pub fn panic_info(dump: &Dump, log: &[LogRecord]) -> Result<PanicInfo, DumpError> {
    let (message, context) = find_panic(log);
    let cpu = panic_cpu(dump)?;
    let task = match cpu {
        Some(c) => {
            let curr = dump.per_cpu("runqueues", c as u32)?.field("curr")?;
            Some((
                curr.field("pid")?.as_i64()? as i32,
                curr.field("comm")?.string()?,
            ))
        }
        None => None,
    };
    Ok(PanicInfo {
        message,
        context,
        cpu,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(text: &str) -> LogRecord {
        LogRecord {
            seq: 0,
            ts_nsec: 0,
            level: 0,
            caller_id: 0,
            text: text.into(),
        }
    }

    #[test]
    fn the_panic_line_wins_over_oops_context() {
        let log = [
            rec("booting"),
            rec("sysrq: Trigger a crash"),
            rec("Kernel panic - not syncing: sysrq triggered crash"),
        ];
        let (msg, ctx) = find_panic(&log);
        assert_eq!(
            msg.as_deref(),
            Some("Kernel panic - not syncing: sysrq triggered crash")
        );
        assert_eq!(ctx, vec!["sysrq: Trigger a crash"]);
        let (msg, _) = find_panic(&[rec("x\nBUG: unable to handle page fault for address: 0")]);
        assert_eq!(
            msg.as_deref(),
            Some("BUG: unable to handle page fault for address: 0")
        );
        assert_eq!(find_panic(&[rec("all fine")]).0, None);
    }
}
