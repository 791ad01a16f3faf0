//! The report's stack sections: `bt` (crash's `bt -a`, or `bt PID`, `bt -c CPU`, `foreach
//! bt` with --pid/--cpu/--all) and `hung` (tasks in D state, how long they have waited, their
//! stacks, and every task's stack grouped by identical stack).

use super::json::{arr, obj, Json};
use super::{Report, Section};
use crate::dump::helpers::bt::{group_stacks, hung_tasks, Backtrace, HungTask, StackGroup, Stacks};
use crate::dump::helpers::log::LogRecord;
use crate::dump::helpers::ps::Task;
use crate::dump::helpers::runq::RunQueue;
use crate::dump::kernel::Dump;
use crate::dump::unwind::regs::PtRegs;
use std::fmt::Write;

/// Which stacks the `bt` section shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BtScope {
    /// The task on each CPU, the panicking one first (crash's `bt -a`).
    #[default]
    Active,
    /// Every task (crash's `foreach bt`).
    All,
    Pid(i32),
    Cpu(u32),
}

/// Stack groups shown in the text report (the JSON has all of them).
const GROUPS_SHOWN: usize = 12;

/// Computes the bt and hung sections into `r`; `tasks` is the task list, `now_ns` the latest
/// scheduler clock in the dump, `panic_cpu` the CPU that crashed.
pub fn fill(
    r: &mut Report,
    dump: &Dump,
    tasks: &[Task],
    now_ns: Option<u64>,
    panic_cpu: Option<i64>,
) {
    let stacks = Stacks::new(dump);
    if let Some(e) = &stacks.env.orc_error {
        r.warnings
            .push(crate::dump::helpers::warnings::Warning::new(
                "section:bt",
                format!("no ORC unwind table ({e}): frame pointers are used"),
            ));
    }
    if r.options.wants(Section::Bt) {
        let chosen: Vec<&Task> = match r.options.bt {
            BtScope::All => tasks.iter().collect(),
            BtScope::Pid(pid) => tasks.iter().filter(|t| t.pid == pid).collect(),
            BtScope::Cpu(cpu) => tasks
                .iter()
                .filter(|t| stacks.active_cpu(t) == Some(cpu))
                .collect(),
            BtScope::Active => {
                let mut active: Vec<(u32, &Task)> = tasks
                    .iter()
                    .filter_map(|t| Some((stacks.active_cpu(t)?, t)))
                    .collect();
                // The panicking CPU first, then CPU order.
                active.sort_by_key(|(cpu, _)| (Some(i64::from(*cpu)) != panic_cpu, *cpu));
                active.into_iter().map(|(_, t)| t).collect()
            }
        };
        if chosen.is_empty() {
            let what = match r.options.bt {
                BtScope::Pid(p) => format!("no task with pid {p}"),
                BtScope::Cpu(c) => {
                    format!("no task was running on cpu {c} (or it has no saved registers)")
                }
                _ => "no CPU registers in the dump's notes".to_string(),
            };
            r.warnings
                .push(crate::dump::helpers::warnings::Warning::new(
                    "section:bt",
                    what,
                ));
        }
        r.backtraces = Some(chosen.into_iter().map(|t| stacks.backtrace(t)).collect());
    }
    if r.options.wants(Section::Hung) {
        r.hung = Some(hung_tasks(&stacks, tasks, now_ns));
        let all: Vec<Backtrace> = tasks.iter().map(|t| stacks.backtrace(t)).collect();
        r.stack_groups = Some(group_stacks(&all));
    }
}

fn render_backtrace(bt: &Backtrace, out: &mut String) {
    let cpu = if bt.active {
        bt.cpu.to_string()
    } else {
        format!("{} (not running)", bt.cpu)
    };
    let _ = writeln!(
        out,
        "PID: {:<7} TASK: {:016x}  CPU: {cpu}  COMMAND: \"{}\"  STATE: {}  UNWINDER: {}",
        bt.pid,
        bt.task,
        bt.comm,
        bt.state,
        bt.method_name()
    );
    if let Some(e) = &bt.error {
        let _ = writeln!(out, "    (no stack: {e})");
        return;
    }
    let mut guessed_note = false;
    for (i, f) in bt.frames.iter().enumerate() {
        if let Some(regs) = &f.regs {
            let _ = writeln!(
                out,
                "    --- <exception/interrupt frame at {:016x}> ---",
                regs.addr
            );
            render_regs(regs, out);
        }
        if f.method == crate::dump::unwind::Method::Guessed && !guessed_note {
            let why = bt.stopped.as_deref().unwrap_or("unwinding stopped");
            let _ = writeln!(
                out,
                "    --- unwinding stopped: {why}; below, GUESSED from the stack ---"
            );
            guessed_note = true;
        }
        if f.method == crate::dump::unwind::Method::Scanned {
            let _ = writeln!(out, "    --- no unwind data for the frame above: resumed at the next return address on the stack ---");
        }
        let mark = if f.method == crate::dump::unwind::Method::Guessed {
            "? "
        } else {
            ""
        };
        let _ = writeln!(out, " #{i:<2} [{:016x}] {mark}{}", f.sp, f.location());
    }
    if let (Some(why), false) = (&bt.stopped, guessed_note) {
        let _ = writeln!(out, "    --- unwinding stopped: {why} ---");
    }
    if let Some(regs) = &bt.user_regs {
        let _ = writeln!(out, "    --- user mode ---");
        render_regs(regs, out);
    }
}

fn render_regs(regs: &PtRegs, out: &mut String) {
    for line in regs.lines() {
        let _ = writeln!(out, "    {line}");
    }
}

pub fn render_bt(r: &Report, out: &mut String) {
    for (i, bt) in r.backtraces.iter().flatten().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_backtrace(bt, out);
    }
}

fn wait_text(h: &HungTask) -> String {
    h.waited_secs.map_or("n/a".into(), |s| format!("{s:.1}s"))
}

pub fn render_hung(r: &Report, out: &mut String) {
    let hung = r.hung.as_deref().unwrap_or(&[]);
    let _ = writeln!(out, "TASKS IN UNINTERRUPTIBLE SLEEP (D): {}", hung.len());
    for h in hung {
        let _ = writeln!(
            out,
            "\nPID: {}  COMMAND: \"{}\"  WAITING: {}",
            h.pid,
            h.comm,
            wait_text(h)
        );
        render_backtrace(&h.backtrace, out);
    }
    let Some(groups) = &r.stack_groups else {
        return;
    };
    let _ = writeln!(out, "\nSTACKS BY COUNT ({} distinct):", groups.len());
    for g in groups.iter().take(GROUPS_SHOWN) {
        let pids: Vec<String> = g.pids.iter().take(8).map(i32::to_string).collect();
        let more = if g.pids.len() > 8 { " …" } else { "" };
        let _ = writeln!(
            out,
            "{:>5} x {}  pids {}{more}",
            g.pids.len(),
            g.state,
            pids.join(",")
        );
        let _ = writeln!(out, "        {}", g.functions.join(" < "));
    }
    if groups.len() > GROUPS_SHOWN {
        let _ = writeln!(
            out,
            "  ({} more in the JSON report)",
            groups.len() - GROUPS_SHOWN
        );
    }
}

fn regs_json(regs: &PtRegs) -> Json {
    Json::Obj(
        crate::dump::unwind::regs::NAMES
            .iter()
            .zip(regs.values)
            .filter(|_| true)
            .map(|(n, v)| (n.to_string(), Json::UInt(v)))
            .collect(),
    )
}

pub fn backtrace_json(bt: &Backtrace) -> Json {
    obj(vec![
        ("pid", i64::from(bt.pid).into()),
        ("comm", bt.comm.as_str().into()),
        ("task", bt.task.into()),
        (
            "cpu",
            if bt.active {
                u64::from(bt.cpu).into()
            } else {
                Json::Null
            },
        ),
        ("state", bt.state.to_string().into()),
        ("unwinder", bt.method_name().into()),
        (
            "frames",
            arr(&bt.frames, |f| {
                let s = f.symbol.as_ref();
                obj(vec![
                    ("address", f.ip.into()),
                    ("sp", f.sp.into()),
                    ("function", s.map(|s| s.name.clone()).into()),
                    ("offset", s.map(|s| s.offset).into()),
                    ("size", s.map(|s| s.size).into()),
                    ("module", s.and_then(|s| s.module.clone()).into()),
                    (
                        "guessed",
                        (f.method == crate::dump::unwind::Method::Guessed).into(),
                    ),
                    (
                        "exception_regs",
                        f.regs.as_ref().map_or(Json::Null, regs_json),
                    ),
                ])
            }),
        ),
        (
            "user_regs",
            bt.user_regs.as_ref().map_or(Json::Null, regs_json),
        ),
        ("stopped", bt.stopped.clone().into()),
        ("error", bt.error.clone().into()),
    ])
}

pub fn bt_json(r: &Report) -> Json {
    r.backtraces
        .as_ref()
        .map_or(Json::Null, |b| arr(b, backtrace_json))
}

pub fn hung_json(r: &Report) -> Json {
    let Some(hung) = &r.hung else {
        return Json::Null;
    };
    arr(hung, |h| {
        obj(vec![
            ("pid", i64::from(h.pid).into()),
            ("comm", h.comm.as_str().into()),
            ("waited_secs", h.waited_secs.into()),
            ("backtrace", backtrace_json(&h.backtrace)),
        ])
    })
}

pub fn groups_json(r: &Report) -> Json {
    let Some(groups) = &r.stack_groups else {
        return Json::Null;
    };
    arr(groups, |g: &StackGroup| {
        obj(vec![
            ("count", (g.pids.len() as u64).into()),
            ("state", g.state.to_string().into()),
            ("functions", arr(&g.functions, |f| f.as_str().into())),
            ("pids", arr(&g.pids, |p| i64::from(*p).into())),
        ])
    })
}

/// The latest scheduler-clock time in the dump: the run queues' clocks and the last log
/// record's timestamp (both local_clock based); an idle CPU's clock stops at its last tick.
pub fn latest_clock(rqs: Option<&[RunQueue]>, log: Option<&[LogRecord]>) -> Option<u64> {
    let rq = rqs.into_iter().flatten().map(|q| q.clock_ns);
    let lg = log.into_iter().flatten().map(|l| l.ts_nsec);
    rq.chain(lg).max().filter(|&t| t > 0)
}
