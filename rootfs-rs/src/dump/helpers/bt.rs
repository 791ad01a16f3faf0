//! crash's `bt`: the kernel stack of a task, named with kallsyms and module symbols. A task
//! running on a CPU at the crash starts from that CPU's saved registers (the PRSTATUS note of
//! the panicking CPU, the NMI'd registers of the others, QEMU's CPU state); a sleeping task
//! starts from the frame `__switch_to_asm` left at `task->thread.sp`.

use super::ps::Task;
use super::runq::cpus;
use crate::dump::error::DumpError;
use crate::dump::format::notes::CpuState;
use crate::dump::kernel::Dump;
use crate::dump::unwind::env::{CodeSymbol, DumpEnv};
use crate::dump::unwind::regs::PtRegs;
use crate::dump::unwind::{method_of, unwind, Method, Start};
use std::collections::HashMap;

/// One named frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub sp: u64,
    pub ip: u64,
    pub symbol: Option<CodeSymbol>,
    pub method: Method,
    /// The exception or interrupt registers crossed to reach this frame.
    pub regs: Option<PtRegs>,
}

impl Frame {
    pub fn function(&self) -> Option<&str> {
        self.symbol.as_ref().map(|s| s.name.as_str())
    }

    /// `func+0x1a/0x60 [module]`, or the bare address when no symbol covers it.
    pub fn location(&self) -> String {
        match &self.symbol {
            Some(s) => {
                let module = s
                    .module
                    .as_deref()
                    .map_or(String::new(), |m| format!(" [{m}]"));
                format!("{}+{:#x}/{:#x}{module}", s.name, s.offset, s.size)
            }
            None => format!("{:#x}", self.ip),
        }
    }
}

/// The stack of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtrace {
    pub pid: i32,
    pub comm: String,
    pub task: u64,
    pub state: char,
    pub cpu: u32,
    /// It was on its CPU at the crash (the start came from that CPU's registers).
    pub active: bool,
    pub frames: Vec<Frame>,
    /// Where a walk from user mode into the kernel began (the syscall's registers).
    pub user_regs: Option<PtRegs>,
    /// Why the unwinder stopped early (frames after that point are guessed).
    pub stopped: Option<String>,
    /// Why there is no stack at all.
    pub error: Option<String>,
}

impl Backtrace {
    /// "orc", "frame pointer", "guessed", or "none" for a task stopped in user mode.
    pub fn method_name(&self) -> &'static str {
        if self.frames.is_empty() {
            "none"
        } else {
            self.method().name()
        }
    }

    /// How the (not guessed) frames were found.
    pub fn method(&self) -> Method {
        method_of(self.frames.iter().map(|f| f.method))
    }

    /// Function names of the unwound (and scanned) frames, innermost first ("?" for an
    /// unnamed address).
    pub fn functions(&self) -> Vec<String> {
        self.frames
            .iter()
            .filter(|f| f.method != Method::Guessed)
            .map(|f| f.function().unwrap_or("?").to_string())
            .collect()
    }
}

/// Where sleeping tasks' registers are: `struct inactive_task_frame` at `thread.sp`.
struct SwitchFrame {
    size: u64,
    bp: u64,
    ret_addr: u64,
}

/// Everything needed to walk any task's stack, set up once per dump.
pub struct Stacks<'d> {
    pub env: DumpEnv<'d>,
    /// Task address → (CPU, registers saved for that CPU).
    active: HashMap<u64, (u32, PtRegs)>,
    switch_frame: Result<SwitchFrame, String>,
    ret_from_fork: Vec<u64>,
}

impl<'d> Stacks<'d> {
    pub fn new(dump: &'d Dump) -> Stacks<'d> {
        let switch_frame = switch_frame(dump).map_err(|e| e.to_string());
        let ret_from_fork = ["ret_from_fork", "ret_from_fork_asm"]
            .iter()
            .filter_map(|n| dump.kallsyms.lookup(n))
            .collect();
        Stacks {
            env: DumpEnv::new(dump),
            active: active_tasks(dump),
            switch_frame,
            ret_from_fork,
        }
    }

    /// The CPU a task was running on at the crash, if any.
    pub fn active_cpu(&self, task: &Task) -> Option<u32> {
        self.active.get(&task.addr).map(|(cpu, _)| *cpu)
    }

    pub fn backtrace(&self, task: &Task) -> Backtrace {
        let mut bt = Backtrace {
            pid: task.pid,
            comm: task.comm.clone(),
            task: task.addr,
            state: task.state,
            cpu: task.cpu,
            active: false,
            frames: Vec::new(),
            user_regs: None,
            stopped: None,
            error: None,
        };
        let start = match self.active.get(&task.addr) {
            Some((cpu, regs)) => {
                bt.active = true;
                bt.cpu = *cpu;
                Ok(Start {
                    ip: regs.ip(),
                    sp: regs.sp(),
                    bp: regs.bp(),
                    regs: Some(regs.clone()),
                    exact_ip: true,
                })
            }
            None => self.sleeping_start(task),
        };
        let start = match start {
            Ok(s) => s,
            Err(e) => {
                bt.error = Some(e);
                return bt;
            }
        };
        let walked = unwind(&self.env, &start);
        bt.frames = walked
            .frames
            .into_iter()
            .map(|f| Frame {
                symbol: self.env.symbolize(f.ip),
                sp: f.sp,
                ip: f.ip,
                method: f.method,
                regs: f.regs,
            })
            .collect();
        bt.user_regs = walked.user_regs;
        bt.stopped = walked.stopped;
        bt
    }

    /// A task that is not on a CPU: `__switch_to_asm` pushed its callee-saved registers and
    /// the return address into `__schedule`, then saved sp in `thread.sp`.
    fn sleeping_start(&self, task: &Task) -> Result<Start, String> {
        let frame = self.switch_frame.as_ref().map_err(Clone::clone)?;
        let dump = self.env.dump;
        let sp = dump
            .value_at(task.addr, "struct task_struct")
            .and_then(|t| t.field("thread.sp")?.as_u64())
            .map_err(|e| format!("thread.sp: {e}"))?;
        let read = |off: u64, what: &str| {
            use crate::dump::KernelMemory;
            dump.read_u64(sp.wrapping_add(off))
                .map_err(|e| format!("{what} of the switch frame at {sp:#x}: {e}"))
        };
        let ip = read(frame.ret_addr, "return address")?;
        Ok(Start {
            ip,
            sp: sp.wrapping_add(frame.size),
            bp: read(frame.bp, "bp")?,
            regs: None,
            // A task that never ran sits at ret_from_fork's first instruction.
            exact_ip: self.ret_from_fork.contains(&ip),
        })
    }
}

fn switch_frame(dump: &Dump) -> Result<SwitchFrame, DumpError> {
    let v = dump.value_at(0, "struct inactive_task_frame")?;
    let offset = |name: &str| -> Result<u64, DumpError> { Ok(v.field(name)?.address()) };
    Ok(SwitchFrame {
        size: v.size()?,
        bp: offset("bp")?,
        ret_addr: offset("ret_addr")?,
    })
}

/// The task on each CPU and the registers saved for that CPU.
fn active_tasks(dump: &Dump) -> HashMap<u64, (u32, PtRegs)> {
    let mut out = HashMap::new();
    let Ok(online) = cpus(dump) else {
        return out;
    };
    for (pos, &cpu) in online.iter().enumerate() {
        let Ok(curr) = dump
            .per_cpu("runqueues", cpu)
            .and_then(|rq| rq.field("curr")?.deref())
        else {
            continue;
        };
        let pid = curr.field("pid").and_then(|p| p.as_i64()).unwrap_or(-1);
        if let Some(regs) = cpu_note(&dump.notes.cpus, pos, pid).and_then(PtRegs::from_note) {
            out.insert(curr.address(), (cpu, regs));
        }
    }
    out
}

/// The note of the `pos`-th online CPU: notes come in CPU order; when a PRSTATUS pid says
/// otherwise, the note with the task's pid is taken (idle tasks, pid 0, keep the order).
fn cpu_note(notes: &[CpuState], pos: usize, pid: i64) -> Option<&CpuState> {
    let by_pos = notes.get(pos);
    match by_pos.and_then(|n| n.pid) {
        Some(p) if i64::from(p) != pid && pid > 0 => notes
            .iter()
            .find(|n| n.pid.map(i64::from) == Some(pid))
            .or(by_pos),
        _ => by_pos,
    }
}

/// Tasks grouped by identical stack (crash's `foreach bt` read as a summary).
#[derive(Debug, Clone, PartialEq)]
pub struct StackGroup {
    pub functions: Vec<String>,
    pub state: char,
    pub pids: Vec<i32>,
}

/// Groups stacks by (state, function sequence), the biggest group first.
pub fn group_stacks(bts: &[Backtrace]) -> Vec<StackGroup> {
    let mut groups: Vec<StackGroup> = Vec::new();
    for bt in bts.iter().filter(|b| b.error.is_none()) {
        let functions = bt.functions();
        match groups
            .iter_mut()
            .find(|g| g.state == bt.state && g.functions == functions)
        {
            Some(g) => g.pids.push(bt.pid),
            None => groups.push(StackGroup {
                functions,
                state: bt.state,
                pids: vec![bt.pid],
            }),
        }
    }
    groups.sort_by(|a, b| b.pids.len().cmp(&a.pids.len()).then(a.state.cmp(&b.state)));
    groups
}

/// A task in uninterruptible sleep and how long it has been off the CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct HungTask {
    pub pid: i32,
    pub comm: String,
    /// Seconds since it last ran (crash's `ps -m` idea), None without scheduler timestamps.
    pub waited_secs: Option<f64>,
    pub backtrace: Backtrace,
}

/// Every D-state task with its wait and stack. `now_ns` is the latest scheduler clock in the
/// dump (run queues' clocks, the last log record): an idle CPU's own clock stops advancing.
pub fn hung_tasks(stacks: &Stacks<'_>, tasks: &[Task], now_ns: Option<u64>) -> Vec<HungTask> {
    let mut out: Vec<HungTask> = tasks
        .iter()
        .filter(|t| t.state == 'D')
        .map(|t| HungTask {
            pid: t.pid,
            comm: t.comm.clone(),
            waited_secs: waited_secs(t, now_ns),
            backtrace: stacks.backtrace(t),
        })
        .collect();
    out.sort_by(|a, b| {
        b.waited_secs
            .unwrap_or(0.0)
            .total_cmp(&a.waited_secs.unwrap_or(0.0))
    });
    out
}

/// `now − sched_info.last_arrival` (when it last got a CPU), else `now − se.exec_start`.
pub fn waited_secs(task: &Task, now_ns: Option<u64>) -> Option<f64> {
    let now = now_ns?;
    let since = task
        .last_arrival_ns
        .or((task.exec_start_ns != 0).then_some(task.exec_start_ns))?;
    Some(now.saturating_sub(since) as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bt(pid: i32, state: char, fns: &[&str]) -> Backtrace {
        Backtrace {
            pid,
            comm: "t".into(),
            task: 0,
            state,
            cpu: 0,
            active: false,
            frames: fns
                .iter()
                .map(|f| Frame {
                    sp: 0,
                    ip: 0,
                    symbol: Some(CodeSymbol {
                        name: f.to_string(),
                        offset: 0,
                        size: 0,
                        module: None,
                    }),
                    method: Method::Orc,
                    regs: None,
                })
                .collect(),
            user_regs: None,
            stopped: None,
            error: None,
        }
    }

    #[test]
    fn identical_stacks_group_and_the_biggest_group_comes_first() {
        let g = group_stacks(&[
            bt(1, 'S', &["__schedule", "schedule", "do_nanosleep"]),
            bt(2, 'S', &["__schedule", "schedule", "sys_pause"]),
            bt(3, 'S', &["__schedule", "schedule", "sys_pause"]),
            bt(4, 'D', &["__schedule", "schedule", "sys_pause"]),
        ]);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].pids, vec![2, 3]);
        assert_eq!(g[0].functions.last().map(String::as_str), Some("sys_pause"));
    }

    #[test]
    fn the_wait_is_measured_from_the_last_arrival() {
        let t = Task {
            addr: 0,
            pid: 5,
            tgid: 5,
            ppid: 1,
            state: 'D',
            cpu: 0,
            policy: 0,
            rt_priority: 0,
            rss_kib: 0,
            comm: "x".into(),
            kthread: false,
            last_arrival_ns: Some(2_000_000_000),
            exec_start_ns: 2_100_000_000,
        };
        assert_eq!(waited_secs(&t, Some(7_000_000_000)), Some(5.0));
        assert_eq!(waited_secs(&t, None), None);
        let old = Task {
            last_arrival_ns: None,
            ..t
        };
        assert_eq!(waited_secs(&old, Some(3_100_000_000)), Some(1.0));
    }

    #[test]
    fn frames_print_like_the_kernel() {
        let mut f = bt(1, 'S', &["sysrq_handle_crash"]).frames.remove(0);
        f.symbol = Some(CodeSymbol {
            name: "sysrq_handle_crash".into(),
            offset: 0x16,
            size: 0x20,
            module: None,
        });
        assert_eq!(f.location(), "sysrq_handle_crash+0x16/0x20");
        if let Some(s) = f.symbol.as_mut() {
            s.module = Some("dummy".into());
        }
        assert_eq!(f.location(), "sysrq_handle_crash+0x16/0x20 [dummy]");
        f.symbol = None;
        f.ip = 0xffffffff81000000;
        assert_eq!(f.location(), "0xffffffff81000000");
    }
}
