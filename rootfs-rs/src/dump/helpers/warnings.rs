//! Automatic checks over the computed sections: low memory, fragmentation, RT hogs, hung
//! tasks, high load, a stuck syslog daemon, an incomplete dump, and the events the kernel
//! log reports (log_events: oops, BUG, WARNING, OOM kills, lockups, RCU stalls).

use super::log::LogRecord;
use super::log_events;
use super::mem::MemInfo;
use super::ps::{is_rt, policy_name, Task};
use super::runq::RunQueue;
use super::sys::SysInfo;

#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// Which check or report section raised it ("memory", "hung-task", "section:net", …).
    pub check: String,
    pub message: String,
}

impl Warning {
    pub fn new(check: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            check: check.into(),
            message: message.into(),
        }
    }
}

pub const HUNG_SECS: f64 = 120.0;
pub const RT_HOG_SECS: f64 = 1.0;
const LOW_FREE_PERCENT: u64 = 5;
const HIGH_ORDER: usize = 3;
const SYSLOG_COMMS: &[&str] = &[
    "syslogd",
    "rsyslogd",
    "syslog-ng",
    "systemd-journal",
    "journald",
];

/// Everything the checks look at; absent sections are skipped.
pub struct Inputs<'a> {
    pub sys: Option<&'a SysInfo>,
    pub mem: Option<&'a MemInfo>,
    pub tasks: Option<&'a [Task]>,
    pub runqueues: Option<&'a [RunQueue]>,
    pub incomplete: Option<&'a str>,
    /// The kernel log, for the events it reports (oops, lockups, OOM kills, …).
    pub log: Option<&'a [LogRecord]>,
}

/// Seconds since a task last ran, measured against its CPU's run-queue clock.
pub fn idle_secs(task: &Task, runqueues: &[RunQueue]) -> Option<f64> {
    let clock = runqueues.iter().find(|r| r.cpu == task.cpu)?.clock_ns;
    let last = task.last_arrival_ns.unwrap_or(0).max(task.exec_start_ns);
    (last != 0).then(|| clock.saturating_sub(last) as f64 / 1e9)
}

pub fn check(i: &Inputs<'_>) -> Vec<Warning> {
    let mut w = Vec::new();
    if let Some(why) = i.incomplete {
        w.push(Warning::new("dump", format!("dump is incomplete: {why}")));
    }
    if let Some(log) = i.log {
        for event in log_events::detect(log) {
            w.push(Warning::new(
                event.kind.check(),
                log_events::describe(&event),
            ));
        }
    }
    if let Some(m) = i.mem {
        memory(m, &mut w);
    }
    if let Some(rqs) = i.runqueues {
        rt_hogs(rqs, &mut w);
    }
    if let (Some(tasks), Some(rqs)) = (i.tasks, i.runqueues) {
        stuck_tasks(tasks, rqs, &mut w);
    }
    if let Some(s) = i.sys {
        let cpus = s.cpus_online.unwrap_or(s.cpus).max(1);
        if s.load_avg[0] > 4.0 * f64::from(cpus) {
            w.push(Warning::new(
                "load",
                format!("load average {:.2} is above 4 × {cpus} CPUs", s.load_avg[0]),
            ));
        }
    }
    w
}

/// Low free memory and no free high-order pages.
fn memory(m: &MemInfo, w: &mut Vec<Warning>) {
    if m.total_kib > 0
        && m.free_kib.saturating_mul(100) < m.total_kib.saturating_mul(LOW_FREE_PERCENT)
    {
        w.push(Warning::new(
            "memory",
            format!(
                "free memory {} KiB is below 5% of {} KiB",
                m.free_kib, m.total_kib
            ),
        ));
    }
    if m.free_per_order.len() > HIGH_ORDER && m.free_per_order[HIGH_ORDER..].iter().all(|&n| n == 0)
    {
        w.push(Warning::new(
            "fragmentation",
            format!("no free pages at order {HIGH_ORDER} or above"),
        ));
    }
}

/// Real-time tasks that have held a CPU for too long.
fn rt_hogs(rqs: &[RunQueue], w: &mut Vec<Warning>) {
    for rq in rqs
        .iter()
        .filter(|r| !r.curr_is_idle && is_rt(r.curr_policy) && r.curr_running_secs > RT_HOG_SECS)
    {
        w.push(Warning::new(
            "rt-task",
            format!(
                "cpu {}: {} task {} ({}) rt_priority {} has been running for {:.1} s",
                rq.cpu,
                policy_name(rq.curr_policy),
                rq.curr_pid,
                rq.curr_comm,
                rq.curr_rt_priority,
                rq.curr_running_secs
            ),
        ));
    }
}

/// Tasks long in D state, and a syslog daemon that is stuck or has not run.
fn stuck_tasks(tasks: &[Task], rqs: &[RunQueue], w: &mut Vec<Warning>) {
    for t in tasks {
        let idle = idle_secs(t, rqs);
        if t.state == 'D' && idle.is_some_and(|s| s > HUNG_SECS) {
            w.push(Warning::new(
                "hung-task",
                format!(
                    "task {} ({}) has been in D state for {:.0} s",
                    t.pid,
                    t.comm,
                    idle.unwrap_or(0.0)
                ),
            ));
        }
        if SYSLOG_COMMS.contains(&t.comm.as_str()) && t.pid == t.tgid {
            if t.state == 'D' {
                w.push(Warning::new(
                    "syslog",
                    format!("{} (pid {}) is in D state: logging is stuck", t.comm, t.pid),
                ));
            } else if let Some(s) = idle.filter(|&s| s > HUNG_SECS) {
                w.push(Warning::new(
                    "syslog",
                    format!("{} (pid {}) has not run for {s:.0} s", t.comm, t.pid),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(pid: i32, comm: &str, state: char, exec_start_ns: u64) -> Task {
        Task {
            addr: 0,
            pid,
            tgid: pid,
            ppid: 1,
            state,
            cpu: 0,
            policy: 0,
            rt_priority: 0,
            rss_kib: 0,
            comm: comm.into(),
            kthread: false,
            last_arrival_ns: None,
            exec_start_ns,
        }
    }

    #[test]
    fn each_check_fires_on_its_condition_only() {
        let sec = 1_000_000_000u64;
        let rq = RunQueue {
            cpu: 0,
            clock_ns: 1000 * sec,
            curr_pid: 7,
            curr_comm: "spin".into(),
            curr_policy: 1,
            curr_rt_priority: 50,
            curr_running_secs: 3.0,
            ..Default::default()
        };
        let tasks = vec![
            task(10, "stuck", 'D', 500 * sec),
            task(11, "brief", 'D', 990 * sec),
            task(12, "syslogd", 'S', 100 * sec),
            task(13, "busy", 'R', 100 * sec),
        ];
        let mem = MemInfo {
            total_kib: 1000,
            free_kib: 10,
            free_per_order: vec![5, 3, 1, 0, 0, 0],
            ..Default::default()
        };
        let sys = SysInfo {
            cpus: 2,
            load_avg: [9.0, 1.0, 1.0],
            ..Default::default()
        };
        let rqs = [rq];
        let w = check(&Inputs {
            sys: Some(&sys),
            mem: Some(&mem),
            tasks: Some(&tasks),
            runqueues: Some(&rqs),
            incomplete: Some("cut"),
            log: None,
        });
        let checks: Vec<&str> = w.iter().map(|w| w.check.as_str()).collect();
        assert_eq!(
            checks,
            [
                "dump",
                "memory",
                "fragmentation",
                "rt-task",
                "hung-task",
                "syslog",
                "load"
            ],
            "{w:?}"
        );
        assert!(w[4].message.contains("stuck") && w[5].message.contains("syslogd"));

        let calm_mem = MemInfo {
            total_kib: 1000,
            free_kib: 500,
            free_per_order: vec![5, 3, 1, 1],
            ..Default::default()
        };
        let calm_sys = SysInfo {
            cpus: 2,
            load_avg: [7.9, 1.0, 1.0],
            ..Default::default()
        };
        let calm_rq = [RunQueue {
            curr_policy: 0,
            curr_running_secs: 30.0,
            clock_ns: 1000 * sec,
            ..Default::default()
        }];
        let w = check(&Inputs {
            sys: Some(&calm_sys),
            mem: Some(&calm_mem),
            tasks: Some(&tasks[1..2]),
            runqueues: Some(&calm_rq),
            incomplete: None,
            log: None,
        });
        assert!(w.is_empty(), "{w:?}");
    }
}
