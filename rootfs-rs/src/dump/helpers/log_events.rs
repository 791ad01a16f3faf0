//! Detectors over the kernel log: the events a support engineer looks for first in
//! `log` before anything else (oops, BUG, WARNING with their call traces, OOM kills with
//! the victim and its cgroup, soft and hard lockups, RCU stalls, hung-task reports).
//!
//! They read the printk formats the kernel itself writes (mm/oom_kill.c,
//! kernel/watchdog*.c, kernel/rcu/tree_stall.h, kernel/hung_task.c, lib/bug.c,
//! kernel/panic.c, arch/x86/mm/fault.c), which have been stable from 5.4 to 7.x; a line
//! that does not match exactly is not guessed at.

use super::log::LogRecord;

/// Call-trace frames kept per event: enough to see the path, small in the report.
const MAX_FRAMES: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Oops,
    Bug,
    Warning,
    OomKill,
    SoftLockup,
    HardLockup,
    RcuStall,
    HungTask,
}

impl EventKind {
    /// The warning check name ("log:oops", …).
    pub fn check(self) -> &'static str {
        match self {
            EventKind::Oops => "log:oops",
            EventKind::Bug => "log:bug",
            EventKind::Warning => "log:warning",
            EventKind::OomKill => "log:oom-kill",
            EventKind::SoftLockup => "log:soft-lockup",
            EventKind::HardLockup => "log:hard-lockup",
            EventKind::RcuStall => "log:rcu-stall",
            EventKind::HungTask => "log:hung-task",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub kind: EventKind,
    /// Seconds since boot of the record that reported it.
    pub at_secs: f64,
    /// The reporting line, with what was parsed out of it and its neighbours.
    pub summary: String,
    /// Function names of the call trace that followed (innermost first), if any.
    pub trace: Vec<String>,
}

/// What one line reports, if anything.
fn classify(line: &str) -> Option<(EventKind, String)> {
    let line = line.trim();
    // "watchdog: BUG: soft lockup - CPU#3 stuck for 22s! [kworker/3:1:123]"
    if let Some(rest) = line.split_once("BUG: soft lockup - ").map(|(_, r)| r) {
        return Some((EventKind::SoftLockup, format!("soft lockup: {rest}")));
    }
    // "watchdog: Watchdog detected hard LOCKUP on cpu 2" (older: "NMI watchdog: …")
    if let Some((_, cpu)) = line.split_once("Watchdog detected hard LOCKUP on cpu ") {
        return Some((EventKind::HardLockup, format!("hard lockup on CPU {cpu}")));
    }
    // "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"
    // "rcu: INFO: rcu_sched self-detected stall on CPU"
    if line.contains("INFO: rcu_")
        && (line.contains("detected stalls on CPUs/tasks")
            || line.contains("self-detected stall on CPU"))
    {
        let flavour = line
            .split("INFO: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("rcu");
        return Some((EventKind::RcuStall, format!("RCU stall ({flavour})")));
    }
    // "INFO: task kworker/0:1:123 blocked for more than 120 seconds."
    if let Some(rest) = line.strip_prefix("INFO: task ") {
        if let Some((task, secs)) = rest.split_once(" blocked for more than ") {
            let secs = secs.trim_end_matches(" seconds.");
            return Some((
                EventKind::HungTask,
                format!("hung task {task}: blocked > {secs} s"),
            ));
        }
    }
    // "Out of memory: Killed process 1234 (stress) total-vm:…" (also "Memory cgroup out of
    // memory: Killed process …"; before 5.1 "Kill process").
    if let Some((_, rest)) = line
        .split_once("out of memory: Killed process ")
        .or_else(|| line.split_once("Out of memory: Killed process "))
    {
        let victim: String = rest.split(" total-vm").next().unwrap_or(rest).to_string();
        return Some((EventKind::OomKill, format!("OOM kill of {victim}")));
    }
    // "Oops: 0002 [#1] PREEMPT SMP PTI" (7.x adds "Oops: general protection fault…")
    if line.starts_with("Oops: ") || line.starts_with("general protection fault") {
        return Some((EventKind::Oops, line.to_string()));
    }
    // "kernel BUG at mm/slub.c:123!", "BUG: kernel NULL pointer dereference, address: …",
    // "BUG: unable to handle page fault for address: …", "BUG: KASAN: …"
    if line.starts_with("kernel BUG at ") || line.starts_with("BUG: ") {
        return Some((EventKind::Bug, line.to_string()));
    }
    // "WARNING: CPU: 1 PID: 123 at net/core/dev.c:1234 func+0x12/0x34 [mod]"
    if line.starts_with("WARNING: CPU: ") {
        return Some((EventKind::Warning, line.to_string()));
    }
    None
}

/// "  dump_stack_lvl+0x48/0x70" or "? __schedule+0x2f0/0x880" → the function name.
fn frame_function(line: &str) -> Option<String> {
    let word = line
        .trim()
        .trim_start_matches("? ")
        .split_whitespace()
        .next()?;
    let (name, offsets) = word.split_once("+0x")?;
    (offsets.contains("/0x") && !name.is_empty()).then(|| name.to_string())
}

/// Every event in the log, in order, each with the call trace that followed it (before
/// the next event).
pub fn detect(records: &[LogRecord]) -> Vec<LogEvent> {
    let mut events: Vec<LogEvent> = Vec::new();
    let mut in_trace = false;
    // The OOM report's summary line ("oom-kill:…,task_memcg=…") comes before the line
    // naming the killed process (mm/oom_kill.c: dump_header, then __oom_kill_process).
    let mut oom_memcg: Option<String> = None;
    for record in records {
        let at_secs = record.ts_nsec as f64 / 1e9;
        for line in record.text.split('\n') {
            let trimmed = line.trim();
            if let Some(fields) = trimmed.strip_prefix("oom-kill:") {
                oom_memcg = fields
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("task_memcg="))
                    .map(str::to_string);
                continue;
            }
            if let Some((kind, mut summary)) = classify(line) {
                if kind == EventKind::OomKill {
                    if let Some(memcg) = oom_memcg.take() {
                        summary.push_str(&format!(" in cgroup {memcg}"));
                    }
                }
                events.push(LogEvent {
                    kind,
                    at_secs,
                    summary,
                    trace: Vec::new(),
                });
                in_trace = false;
                continue;
            }
            let Some(event) = events.last_mut() else {
                continue;
            };
            if trimmed == "Call Trace:" {
                in_trace = event.trace.is_empty();
                continue;
            }
            if in_trace {
                match frame_function(trimmed) {
                    Some(f) if event.trace.len() < MAX_FRAMES => event.trace.push(f),
                    Some(_) => {}
                    // <TASK>, <IRQ> markers and register dumps sit between frames.
                    None if trimmed.starts_with('<') || is_register_line(trimmed) => {}
                    None => in_trace = false,
                }
            }
        }
    }
    events
}

/// "RIP: 0010:…", "RSP: 0018:…", "CR2: …": a register dump line inside a trace.
fn is_register_line(line: &str) -> bool {
    line.split_once(": ").is_some_and(|(name, _)| {
        (2..=4).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

/// One warning line for an event: what, when, and the first frames of its trace.
pub fn describe(event: &LogEvent) -> String {
    let mut text = format!("[{:.6}] {}", event.at_secs, event.summary);
    if !event.trace.is_empty() {
        let shown: Vec<&str> = event.trace.iter().take(6).map(String::as_str).collect();
        text.push_str(&format!("; call trace: {}", shown.join(" < ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(lines: &[&str]) -> Vec<LogRecord> {
        lines
            .iter()
            .enumerate()
            .map(|(i, text)| LogRecord {
                seq: i as u64,
                ts_nsec: 1_000_000_000 + i as u64 * 1000,
                level: 4,
                caller_id: 0,
                text: text.to_string(),
            })
            .collect()
    }

    /// Lines as the kernel prints them (one record per line, as printk stores them).
    #[test]
    fn the_kernel_formats_are_recognised_with_their_traces() {
        let log = records(&[
            "Linux version 6.1.0-28-amd64",
            "BUG: kernel NULL pointer dereference, address: 0000000000000008",
            "#PF: supervisor read access in kernel mode",
            "Oops: 0000 [#1] PREEMPT SMP NOPTI",
            "CPU: 1 PID: 512 Comm: insmod Tainted: G           OE      6.1.0-28-amd64 #1",
            "RIP: 0010:crashme_init+0x11/0x1000 [crashme]",
            "Call Trace:",
            " <TASK>",
            " ? __die+0x23/0x70",
            " ? page_fault_oops+0x17d/0x4c0",
            " do_one_initcall+0x5a/0x220",
            " do_init_module+0x60/0x240",
            " </TASK>",
            "Modules linked in: crashme(OE+)",
            "WARNING: CPU: 0 PID: 1 at net/core/dev.c:10320 netdev_run_todo+0x1/0x2",
            "watchdog: BUG: soft lockup - CPU#3 stuck for 22s! [spin:4242]",
            "watchdog: Watchdog detected hard LOCKUP on cpu 2",
            "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
            "INFO: task kworker/0:1:123 blocked for more than 120 seconds.",
            "Call Trace:",
            " <TASK>",
            " __schedule+0x2f0/0x880",
            " schedule+0x5a/0xd0",
            " </TASK>",
            "stress invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0",
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/box,task_memcg=/box/job,task=stress,pid=777,uid=0",
            "Memory cgroup out of memory: Killed process 777 (stress) total-vm:1000kB, anon-rss:900kB",
        ]);
        let events = detect(&log);
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Bug,
                EventKind::Oops,
                EventKind::Warning,
                EventKind::SoftLockup,
                EventKind::HardLockup,
                EventKind::RcuStall,
                EventKind::HungTask,
                EventKind::OomKill,
            ]
        );
        assert_eq!(
            events[1].trace,
            [
                "__die",
                "page_fault_oops",
                "do_one_initcall",
                "do_init_module"
            ]
        );
        assert_eq!(
            events[3].summary,
            "soft lockup: CPU#3 stuck for 22s! [spin:4242]"
        );
        assert_eq!(events[4].summary, "hard lockup on CPU 2");
        assert_eq!(events[5].summary, "RCU stall (rcu_preempt)");
        assert_eq!(
            events[6].summary,
            "hung task kworker/0:1:123: blocked > 120 s"
        );
        assert_eq!(events[6].trace, ["__schedule", "schedule"]);
        assert_eq!(
            events[7].summary,
            "OOM kill of 777 (stress) in cgroup /box/job"
        );
        assert_eq!(
            describe(&events[6]),
            "[1.000018] hung task kworker/0:1:123: blocked > 120 s; call trace: __schedule < schedule"
        );
    }

    #[test]
    fn the_oom_cgroup_is_taken_when_its_line_follows() {
        // The summary line (since 4.19) comes first, then the victim; a second kill
        // without a summary line gets no cgroup.
        let log = records(&[
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice/user-1000.slice,task=chrome,pid=4321,uid=1000",
            "Out of memory: Killed process 4321 (chrome) total-vm:2000kB, anon-rss:1500kB",
            "Out of memory: Killed process 99 (cat) total-vm:20kB, anon-rss:15kB",
        ]);
        let events = detect(&log);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].summary,
            "OOM kill of 4321 (chrome) in cgroup /user.slice/user-1000.slice"
        );
        assert_eq!(events[1].summary, "OOM kill of 99 (cat)");
    }

    #[test]
    fn ordinary_lines_are_not_events() {
        let log = records(&[
            "sysrq: Trigger a crash",
            "Kernel panic - not syncing: sysrq triggered crash",
            "CPU: 0 PID: 77 Comm: sh Not tainted 6.1.0-28-amd64 #1",
            "Call Trace:",
            " dump_stack_lvl+0x44/0x5c",
            "RCU: BUG-free line mentioning BUG: in the middle",
            "usb 1-1: WARNING: not a kernel warning line",
        ]);
        assert_eq!(detect(&log), []);
        assert_eq!(
            frame_function(" ? __schedule+0x2f0/0x880"),
            Some("__schedule".into())
        );
        assert_eq!(frame_function("RIP: 0033:0x7f"), None);
    }
}
