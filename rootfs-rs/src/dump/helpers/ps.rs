//! Every task including threads, like crash's `ps`: pid, ppid, state, CPU, scheduling policy,
//! RT priority, RSS and comm, plus the timestamps the warnings need.

use super::enum_value;
use crate::dump::error::DumpError;
use crate::dump::helpers::tasks::state_letter;
use crate::dump::kernel::lists::list_for_each_entry;
use crate::dump::kernel::Dump;
use crate::dump::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub addr: u64,
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    /// ps-style state letter (R S D T t X Z P I).
    pub state: char,
    pub cpu: u32,
    /// SCHED_* number (0 NORMAL, 1 FIFO, 2 RR, 3 BATCH, 5 IDLE, 6 DEADLINE).
    pub policy: u32,
    pub rt_priority: u32,
    pub rss_kib: u64,
    pub comm: String,
    /// Kernel thread (no mm).
    pub kthread: bool,
    /// rq clock (ns) at which the task last started running on a CPU, when known.
    pub last_arrival_ns: Option<u64>,
    /// se.exec_start (ns): last time its runtime was accounted.
    pub exec_start_ns: u64,
}

/// Name of a scheduling policy number.
pub fn policy_name(policy: u32) -> &'static str {
    match policy {
        0 => "NORMAL",
        1 => "FIFO",
        2 => "RR",
        3 => "BATCH",
        5 => "IDLE",
        6 => "DEADLINE",
        _ => "?",
    }
}

pub fn is_rt(policy: u32) -> bool {
    matches!(policy, 1 | 2)
}

/// The tasks that were found and the errors that cut walks short (a partial list beats none).
#[derive(Debug, Default)]
pub struct TaskList {
    pub tasks: Vec<Task>,
    pub errors: Vec<String>,
}

/// Index of an mm counter (MM_FILEPAGES…), by enum name where BTF has it.
struct RssIndexes(Vec<u64>);

impl RssIndexes {
    fn new(dump: &Dump) -> Self {
        let names = [
            ("MM_FILEPAGES", 0),
            ("MM_ANONPAGES", 1),
            ("MM_SHMEMPAGES", 3),
        ];
        RssIndexes(
            names
                .iter()
                .map(|&(n, d)| enum_value(dump, n).map_or(d, |v| v as u64))
                .collect(),
        )
    }
}

/// One mm counter: an atomic_long_t (≤ 6.1) or a percpu_counter (6.2+: count plus the
/// per-CPU deltas not yet folded in).
fn mm_counter(dump: &Dump, counter: &Value<'_>) -> Result<i64, DumpError> {
    if !counter.has_field("counters") {
        return counter.as_i64();
    }
    let mut sum = counter.field("count")?.as_i64()?;
    let pcpu = counter.field("counters")?.as_u64()?;
    if pcpu != 0 {
        for cpu in 0..dump.nr_cpu_ids()? {
            let a = dump.per_cpu_addr(pcpu, cpu)?;
            sum = sum.saturating_add(i64::from(
                crate::dump::kernel::x86_64::KernelMemory::read_i32(dump, a)?,
            ));
        }
    }
    Ok(sum)
}

fn rss_kib(dump: &Dump, task: &Value<'_>, idx: &RssIndexes) -> Result<(u64, bool), DumpError> {
    let mm = task.field("mm")?;
    if mm.as_u64()? == 0 {
        return Ok((0, true));
    }
    let stat = mm.field("rss_stat")?;
    let counters = if stat.has_field("count") {
        stat.field("count")?
    } else {
        stat
    };
    let mut pages = 0i64;
    for &i in &idx.0 {
        pages = pages.saturating_add(mm_counter(dump, &counters.index(i)?)?.max(0));
    }
    Ok((
        (pages as u64).saturating_mul(dump.page_size()) / 1024,
        false,
    ))
}

fn task(dump: &Dump, t: &Value<'_>, idx: &RssIndexes) -> Result<Task, DumpError> {
    let state = t.field_any(&["__state", "state"])?.as_u64()?;
    let exit_state = t.field("exit_state")?.as_u64()?;
    let (rss_kib, kthread) = rss_kib(dump, t, idx)?;
    let last_arrival_ns = t
        .field("sched_info.last_arrival")
        .and_then(|v| v.as_u64())
        .ok();
    Ok(Task {
        addr: t.address(),
        pid: t.field("pid")?.as_i64()? as i32,
        tgid: t.field("tgid")?.as_i64()? as i32,
        ppid: t.field("real_parent.tgid")?.as_i64()? as i32,
        state: state_letter(state, exit_state),
        cpu: t.field_any(&["cpu", "thread_info.cpu"])?.as_u64()? as u32,
        policy: t.field("policy")?.as_u64()? as u32,
        rt_priority: t.field("rt_priority")?.as_u64()? as u32,
        rss_kib,
        comm: t.field("comm")?.string()?,
        kthread,
        last_arrival_ns: last_arrival_ns.filter(|&v| v != 0),
        exec_start_ns: t.field("se.exec_start")?.as_u64()?,
    })
}

/// The other threads of a thread-group leader: signal->thread_head (linked by thread_node),
/// or the older thread_group ring.
fn threads<'d>(leader: &Value<'d>) -> Result<Vec<Result<Value<'d>, DumpError>>, DumpError> {
    let out: Vec<_> = if leader.has_field("thread_node") && leader.has_field("signal.thread_head") {
        list_for_each_entry(
            &leader.field("signal.thread_head")?,
            "struct task_struct",
            "thread_node",
        )?
        .filter(|t| t.as_ref().map_or(true, |t| t.address() != leader.address()))
        .collect()
    } else {
        list_for_each_entry(
            &leader.field("thread_group")?,
            "struct task_struct",
            "thread_group",
        )?
        .collect()
    };
    Ok(out)
}

/// Every task: the idle task of CPU 0 (init_task), the other CPUs' idle tasks, then every
/// process on init_task.tasks with its threads.
pub fn all_tasks(dump: &Dump) -> TaskList {
    let mut list = TaskList::default();
    let idx = RssIndexes::new(dump);
    let (values, errors) = task_values(dump);
    list.errors = errors;
    for t in &values {
        match task(dump, t, &idx) {
            Ok(t) => list.tasks.push(t),
            Err(e) => list.errors.push(format!("task at {:#x}: {e}", t.address())),
        }
    }
    list
}

/// Every task as ps lists them: init_task, the other CPUs' idle tasks (rq->idle, not on
/// the task list), then each thread-group leader followed by its threads; with the errors
/// met on the way (the walk goes on past a bad task where it can).
pub fn task_values(dump: &Dump) -> (Vec<Value<'_>>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let init = match dump.var("init_task") {
        Ok(v) => v,
        Err(e) => return (out, vec![format!("init_task: {e}")]),
    };
    out.push(init);
    for cpu in 1..dump.nr_cpu_ids().unwrap_or(1) {
        match dump
            .per_cpu("runqueues", cpu)
            .and_then(|rq| rq.field("idle")?.deref())
        {
            Ok(idle) if idle.address() != init.address() => out.push(idle),
            Ok(_) => {}
            Err(e) => errors.push(format!("idle task of cpu {cpu}: {e}")),
        }
    }
    let leaders = match init
        .field("tasks")
        .and_then(|h| list_for_each_entry(&h, "struct task_struct", "tasks"))
    {
        Ok(it) => it,
        Err(e) => {
            errors.push(format!("init_task.tasks: {e}"));
            return (out, errors);
        }
    };
    for leader in leaders {
        let leader = match leader {
            Ok(l) => l,
            Err(e) => {
                errors.push(format!("task list: {e}"));
                break;
            }
        };
        out.push(leader);
        let threads_of = threads(&leader);
        match threads_of {
            Ok(ts) => {
                for t in ts {
                    match t {
                        Ok(t) => out.push(t),
                        Err(e) => {
                            errors.push(format!("threads of task at {:#x}: {e}", leader.address()))
                        }
                    }
                }
            }
            Err(e) => errors.push(format!("threads of task at {:#x}: {e}", leader.address())),
        }
    }
    (out, errors)
}
