//! Per-CPU run queues like crash's `runq`: how many tasks are runnable, which task is on the
//! CPU and for how long, and the RT tasks queued there.

use super::cpumask_cpus;
use super::ps::{is_rt, Task};
use crate::dump::error::DumpError;
use crate::dump::kernel::Dump;

#[derive(Debug, Clone, Default)]
pub struct RunQueue {
    pub cpu: u32,
    pub nr_running: u64,
    /// rq->clock in ns.
    pub clock_ns: u64,
    pub curr_pid: i32,
    pub curr_comm: String,
    pub curr_policy: u32,
    pub curr_rt_priority: u32,
    pub curr_is_idle: bool,
    /// Seconds the current task has been on the CPU (rq clock − last arrival / exec_start).
    pub curr_running_secs: f64,
    pub rt_nr_running: Option<u64>,
    /// (pid, comm, rt_priority) of runnable RT tasks whose CPU is this one.
    pub rt_tasks: Vec<(i32, String, u32)>,
}

/// The CPUs worth showing: online ones, else every possible id.
pub fn cpus(dump: &Dump) -> Result<Vec<u32>, DumpError> {
    let n = dump.nr_cpu_ids()?;
    match cpumask_cpus(dump, "__cpu_online_mask", n) {
        Ok(c) if !c.is_empty() => Ok(c),
        _ => Ok((0..n).collect()),
    }
}

fn ns_to_secs(later: u64, earlier: u64) -> f64 {
    later.saturating_sub(earlier) as f64 / 1e9
}

pub fn run_queue(dump: &Dump, cpu: u32, tasks: &[Task]) -> Result<RunQueue, DumpError> {
    let rq = dump.per_cpu("runqueues", cpu)?;
    let clock_ns = rq.field("clock")?.as_u64()?;
    let curr = rq.field("curr")?.deref()?;
    let idle = rq.field("idle")?.as_u64()?;
    let since = curr
        .field("sched_info.last_arrival")
        .and_then(|v| v.as_u64())
        .ok()
        .filter(|&v| v != 0)
        .map_or_else(|| curr.field("se.exec_start").and_then(|v| v.as_u64()), Ok)?;
    let rt_tasks = tasks
        .iter()
        .filter(|t| t.cpu == cpu && t.state == 'R' && is_rt(t.policy))
        .map(|t| (t.pid, t.comm.clone(), t.rt_priority))
        .collect();
    Ok(RunQueue {
        cpu,
        nr_running: rq.field("nr_running")?.as_u64()?,
        clock_ns,
        curr_pid: curr.field("pid")?.as_i64()? as i32,
        curr_comm: curr.field("comm")?.string()?,
        curr_policy: curr.field("policy")?.as_u64()? as u32,
        curr_rt_priority: curr.field("rt_priority")?.as_u64()? as u32,
        curr_is_idle: curr.address() == idle,
        curr_running_secs: ns_to_secs(clock_ns, since),
        rt_nr_running: rq.field("rt.rt_nr_running").and_then(|v| v.as_u64()).ok(),
        rt_tasks,
    })
}

/// Run queues of all CPUs; a CPU whose queue cannot be read is reported as an error string.
pub fn run_queues(dump: &Dump, tasks: &[Task]) -> Result<(Vec<RunQueue>, Vec<String>), DumpError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for cpu in cpus(dump)? {
        match run_queue(dump, cpu, tasks) {
            Ok(rq) => out.push(rq),
            Err(e) => errors.push(format!("cpu {cpu}: {e}")),
        }
    }
    Ok((out, errors))
}
