//! The triage report: every section computed on its own so one failure leaves a partial
//! report plus a warning naming the section, rendered in crash's vocabulary; `json` renders
//! it as JSON and `cli` is the `triage` applet.

pub mod checks;
pub mod cli;
pub mod json;
mod net;
pub mod problems;
pub mod section;
pub mod sections_extra;
pub mod stacks;

use net::render_net;
pub use net::socket_counts;

pub use section::Section;

use super::helpers::log::{kernel_log, log_from, LogRecord};
use super::helpers::mem::{mem_info, MemInfo};
use super::helpers::net::{interfaces, Interface};
use super::helpers::panic::{find_panic, panic_info, PanicInfo};
use super::helpers::ps::{all_tasks, policy_name, Task};
use super::helpers::runq::{run_queues, RunQueue};
use super::helpers::sockets::{sockets, Socket};
use super::helpers::sys::{load_text, sys_info, uptime_text, utc_text, SysInfo};
use super::helpers::warnings;
use super::helpers::warnings::Warning;
use super::kernel::{Dump, KernelCore};
use crate::dump::format::open::open_path_with;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// Log lines shown without --dmesg.
pub const LOG_TAIL: usize = 40;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The whole log instead of its last 40 lines.
    pub full_log: bool,
    /// Names of the sections to compute and show (`Section::name`); empty means all.
    pub sections: Vec<String>,
    /// Which tasks' stacks the bt section shows.
    pub bt: stacks::BtScope,
}

impl Options {
    pub fn wants(&self, section: Section) -> bool {
        self.sections.is_empty() || self.sections.iter().any(|s| s == section.name())
    }
}

/// What the container says about itself.
#[derive(Debug, Clone, Default)]
pub struct DumpSection {
    pub path: String,
    pub file_size: Option<u64>,
    pub format: Option<String>,
    pub compression: Option<String>,
    /// Why pages are missing, None when complete (or unknown: see `opened`).
    pub incomplete: Option<String>,
    /// Whether the kernel could be opened (VMCOREINFO, kallsyms, BTF found).
    pub opened: bool,
    pub cpus_in_notes: usize,
    pub kallsyms: usize,
    pub btf_types: u32,
    pub vmcoreinfo_release: Option<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub options: Options,
    pub dump: DumpSection,
    pub system: Option<SysInfo>,
    /// Task counts by state letter.
    pub task_states: BTreeMap<char, usize>,
    pub panic: Option<PanicInfo>,
    pub log: Option<Vec<LogRecord>>,
    pub tasks: Option<Vec<Task>>,
    pub memory: Option<MemInfo>,
    pub runqueues: Option<Vec<RunQueue>>,
    pub interfaces: Option<Vec<Interface>>,
    pub sockets: Option<Vec<Socket>>,
    pub modules: Option<Vec<super::helpers::modules::Module>>,
    pub mounts: Option<Vec<super::helpers::mounts::Mount>>,
    pub slab: Option<super::helpers::slab::SlabInfo>,
    pub backtraces: Option<Vec<super::helpers::bt::Backtrace>>,
    pub hung: Option<Vec<super::helpers::bt::HungTask>>,
    pub stack_groups: Option<Vec<super::helpers::bt::StackGroup>>,
    pub warnings: Vec<Warning>,
    pub checks: Vec<checks::CheckOutput>,
}

impl Report {
    fn section<T>(&mut self, section: Section, r: Result<T, super::DumpError>) -> Option<T> {
        r.map_err(|e| {
            self.warnings.push(Warning::new(
                format!("section:{}", section.name()),
                e.to_string(),
            ))
        })
        .ok()
    }

    fn partial(&mut self, section: Section, errors: Vec<String>) {
        for e in errors.into_iter().take(5) {
            self.warnings.push(Warning::new(
                format!("section:{}", section.name()),
                format!("partial: {e}"),
            ));
        }
    }

    /// The log lines the report shows (all, or the last LOG_TAIL).
    pub fn log_lines(&self) -> Vec<String> {
        let all: Vec<String> = self
            .log
            .iter()
            .flatten()
            .flat_map(LogRecord::lines)
            .collect();
        if self.options.full_log {
            return all;
        }
        all[all.len().saturating_sub(LOG_TAIL)..].to_vec()
    }
}

fn container_facts(path: &Path, d: &mut DumpSection) -> Result<(), super::DumpError> {
    let m = open_path_with(path, true)?;
    d.format = Some(format!("{:?}", m.format));
    d.compression = Some(m.compression.to_string());
    d.incomplete = m.incomplete;
    d.cpus_in_notes = m.notes.cpus.len();
    Ok(())
}

/// Opens the dump and computes the wanted sections; never fails: problems become warnings.
pub fn build(path: &Path, options: &Options) -> Report {
    let mut r = Report {
        options: options.clone(),
        ..Default::default()
    };
    r.dump.path = path.display().to_string();
    r.dump.file_size = std::fs::metadata(path).ok().map(|m| m.len());
    let core = match KernelCore::open(path) {
        Ok(c) => c,
        Err(e) => {
            r.warnings.push(Warning::new("section:dump", e.to_string()));
            let mut d = std::mem::take(&mut r.dump);
            if let Err(e2) = container_facts(path, &mut d) {
                if e2.to_string() != e.to_string() {
                    r.warnings
                        .push(Warning::new("section:dump", e2.to_string()));
                }
            }
            r.dump = d;
            finish_without_kernel(&mut r);
            return r;
        }
    };
    // The log alone needs neither kallsyms nor BTF: skip decoding them (dmesg-only use).
    if options.sections.iter().all(|s| s == Section::Log.name()) && !options.sections.is_empty() {
        fill_from_core(&mut r, &core, options);
        finish_without_kernel(&mut r);
        return r;
    }
    let dump = match Dump::from_core(core) {
        Ok(d) => d,
        Err(e) => {
            // kallsyms or BTF unusable: what VMCOREINFO alone describes is still readable.
            r.warnings.push(Warning::new(
                "section:dump",
                format!("{e} (only the log can be read)"),
            ));
            match KernelCore::open(path) {
                Ok(core) => fill_from_core(&mut r, &core, options),
                Err(e) => r.warnings.push(Warning::new("section:dump", e.to_string())),
            }
            finish_without_kernel(&mut r);
            return r;
        }
    };
    fill(&mut r, &dump, options);
    r
}

/// Container facts, the log and the panic message from a dump whose kallsyms or BTF failed.
fn fill_from_core(r: &mut Report, core: &KernelCore, o: &Options) {
    r.dump.format = Some(format!("{:?}", core.format));
    r.dump.compression = Some(core.compression.to_string());
    r.dump.incomplete = core.incomplete.clone();
    r.dump.cpus_in_notes = core.notes.cpus.len();
    r.dump.vmcoreinfo_release = core.vmcoreinfo.osrelease.clone();
    if o.wants(Section::Log) || o.wants(Section::Panic) {
        let log = r.section(Section::Log, log_from(core, &core.vmcoreinfo));
        if o.wants(Section::Panic) {
            let (message, context) = find_panic(log.as_deref().unwrap_or(&[]));
            r.panic = Some(PanicInfo {
                message,
                context,
                cpu: None,
                task: None,
            });
        }
        r.log = log;
    }
}

/// The checks that need no kernel data (an incomplete dump).
fn finish_without_kernel(r: &mut Report) {
    r.warnings.extend(warnings::check(&warnings::Inputs {
        sys: None,
        mem: None,
        tasks: None,
        runqueues: None,
        incomplete: r.dump.incomplete.as_deref(),
        log: None,
    }));
}

/// Computes the sections of an opened dump into `r`.
pub fn fill(r: &mut Report, dump: &Dump, o: &Options) {
    r.dump.opened = true;
    r.dump.format = Some(format!("{:?}", dump.format));
    r.dump.compression = Some(dump.compression.to_string());
    r.dump.incomplete = dump.incomplete.clone();
    r.dump.cpus_in_notes = dump.notes.cpus.len();
    r.dump.kallsyms = dump.kallsyms.len();
    r.dump.btf_types = dump.btf.count();
    r.dump.vmcoreinfo_release = dump.vmcoreinfo.osrelease.clone();

    let stacks_wanted = o.wants(Section::Bt) || o.wants(Section::Hung);
    let need_tasks = [Section::Sys, Section::Ps, Section::Runq, Section::Warnings]
        .into_iter()
        .any(|s| o.wants(s))
        || stacks_wanted;
    if o.wants(Section::Sys) || o.wants(Section::Warnings) || o.wants(Section::Net) {
        let (sys, errors) = sys_info(dump);
        r.partial(Section::Sys, errors);
        r.system = Some(sys);
    }
    if need_tasks {
        let list = all_tasks(dump);
        r.partial(Section::Ps, list.errors);
        for t in &list.tasks {
            *r.task_states.entry(t.state).or_default() += 1;
        }
        r.tasks = Some(list.tasks);
    }
    let log = if o.wants(Section::Log)
        || o.wants(Section::Panic)
        || o.wants(Section::Warnings)
        || o.wants(Section::Hung)
    {
        r.section(Section::Log, kernel_log(dump))
    } else {
        None
    };
    if o.wants(Section::Panic) {
        r.panic = r.section(
            Section::Panic,
            panic_info(dump, log.as_deref().unwrap_or(&[])),
        );
    }
    if o.wants(Section::Mem) || o.wants(Section::Warnings) {
        r.memory = r.section(Section::Mem, mem_info(dump));
    }
    if o.wants(Section::Runq) || o.wants(Section::Warnings) || o.wants(Section::Hung) {
        let tasks = r.tasks.clone().unwrap_or_default();
        if let Some((rqs, errors)) = r.section(Section::Runq, run_queues(dump, &tasks)) {
            r.partial(Section::Runq, errors);
            r.runqueues = Some(rqs);
        }
    }
    if o.wants(Section::Net) {
        let (jiffies, hz) = r
            .system
            .as_ref()
            .map_or((None, None), |s| (s.jiffies, s.hz));
        r.interfaces = r.section(Section::Net, interfaces(dump, jiffies, hz));
        let (socks, errors) = sockets(dump);
        r.partial(Section::Net, errors);
        r.sockets = Some(socks);
    }
    sections_extra::fill(r, dump, o);
    if stacks_wanted {
        let now_ns = stacks::latest_clock(r.runqueues.as_deref(), log.as_deref());
        let panic_cpu = match &r.panic {
            Some(p) => p.cpu,
            None => super::helpers::panic::panic_cpu(dump).ok().flatten(),
        };
        let tasks = r.tasks.clone().unwrap_or_default();
        stacks::fill(r, dump, &tasks, now_ns, panic_cpu);
    }
    if o.wants(Section::Warnings) {
        let found = warnings::check(&warnings::Inputs {
            sys: r.system.as_ref(),
            mem: r.memory.as_ref(),
            tasks: r.tasks.as_deref(),
            runqueues: r.runqueues.as_deref(),
            incomplete: r.dump.incomplete.as_deref(),
            log: log.as_deref(),
        });
        r.warnings.extend(found);
    }
    // Read for the checks alone, the log is not a section of this report.
    if o.wants(Section::Log) || o.wants(Section::Panic) {
        r.log = log;
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| v.to_string())
}

fn secs_text(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |s| format!("{s:.1}s"))
}

fn render_sys(r: &Report, out: &mut String) {
    let d = &r.dump;
    let _ = writeln!(
        out,
        "    DUMPFILE: {}  [{}, {}]",
        d.path,
        opt(d.format.as_deref()),
        opt(d.compression.as_deref())
    );
    let _ = writeln!(
        out,
        "    COMPLETE: {}",
        d.incomplete
            .as_deref()
            .map_or("yes".to_string(), |w| format!("NO ({w})"))
    );
    let Some(s) = &r.system else { return };
    let _ = writeln!(
        out,
        "        CPUS: {} ({} online)",
        s.cpus,
        opt(s.cpus_online)
    );
    let _ = writeln!(
        out,
        "        DATE: {}",
        s.crash_time.map_or("n/a".into(), utc_text)
    );
    let _ = writeln!(
        out,
        "      UPTIME: {}",
        s.uptime_secs.map_or("n/a".into(), uptime_text)
    );
    let l = s.load_avg.map(load_text);
    let _ = writeln!(out, "LOAD AVERAGE: {}, {}, {}", l[0], l[1], l[2]);
    let total: usize = r.task_states.values().sum();
    let states: Vec<String> = r
        .task_states
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    let _ = writeln!(out, "       TASKS: {total} ({})", states.join(" "));
    let _ = writeln!(out, "    NODENAME: {}", s.nodename);
    let _ = writeln!(out, "     RELEASE: {}", s.release);
    let _ = writeln!(out, "     VERSION: {}", s.version);
    let _ = writeln!(out, "     MACHINE: {}", s.machine);
    let _ = writeln!(out, "      MEMORY: {} KiB", s.memory_total_kib);
    let _ = writeln!(
        out,
        "       KASLR: {}",
        s.kaslr_offset.map_or("n/a".into(), |k| format!("{k:#x}"))
    );
    let _ = writeln!(out, "     TAINTED: {}", opt(s.tainted.as_deref()));
    let _ = writeln!(out, "     CMDLINE: {}", opt(s.cmdline.as_deref()));
}

fn render_panic(r: &Report, out: &mut String) {
    let Some(p) = &r.panic else { return };
    let _ = writeln!(
        out,
        "       PANIC: {}",
        p.message
            .as_deref()
            .map_or("(none found in the log)".into(), |m| format!("\"{m}\""))
    );
    for c in p
        .context
        .iter()
        .filter(|c| Some(c.as_str()) != p.message.as_deref())
    {
        let _ = writeln!(out, "              {c}");
    }
    let _ = writeln!(out, "         CPU: {}", opt(p.cpu));
    if let Some((pid, comm)) = &p.task {
        let _ = writeln!(out, "         PID: {pid}\n     COMMAND: \"{comm}\"");
    }
}

fn render_ps(r: &Report, out: &mut String) {
    let Some(tasks) = &r.tasks else { return };
    let _ = writeln!(
        out,
        "   PID    PPID  CPU       TASK        ST  POLICY   RTPRIO  RSS(KiB)  COMM"
    );
    for t in tasks {
        let comm = if t.kthread {
            format!("[{}]", t.comm)
        } else {
            t.comm.clone()
        };
        let _ = writeln!(
            out,
            "{:>6} {:>7} {:>4}  {:016x}  {}   {:<8} {:>6} {:>9}  {comm}",
            t.pid,
            t.ppid,
            t.cpu,
            t.addr,
            t.state,
            policy_name(t.policy),
            t.rt_priority,
            t.rss_kib
        );
    }
}

fn render_mem(r: &Report, out: &mut String) {
    let Some(m) = &r.memory else { return };
    let pct = |v: u64| {
        if m.total_kib == 0 {
            0.0
        } else {
            v as f64 * 100.0 / m.total_kib as f64
        }
    };
    let _ = writeln!(out, "                 KiB      PERCENTAGE OF TOTAL MEM");
    let _ = writeln!(out, "  TOTAL MEM  {:>10}", m.total_kib);
    let _ = writeln!(
        out,
        "       FREE  {:>10}   {:5.1}%",
        m.free_kib,
        pct(m.free_kib)
    );
    let _ = writeln!(
        out,
        "       USED  {:>10}   {:5.1}%",
        m.used_kib,
        pct(m.used_kib)
    );
    let _ = writeln!(out, "     CACHED  {:>10}", opt(m.page_cache_kib));
    let _ = writeln!(out, "       SLAB  {:>10}", opt(m.slab_kib));
    let _ = writeln!(out, " TOTAL SWAP  {:>10}", opt(m.swap_total_kib));
    let _ = writeln!(out, "  SWAP FREE  {:>10}", opt(m.swap_free_kib));
    let orders: Vec<String> = m.free_per_order.iter().map(u64::to_string).collect();
    let _ = writeln!(out, " FREE BLOCKS PER ORDER: {}", orders.join(" "));
    for z in &m.zones {
        let orders: Vec<String> = z.free_per_order.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "   node {} {:<8} managed {:>8} pages, free: {}",
            z.node,
            z.name,
            z.managed_pages,
            orders.join(" ")
        );
    }
}

fn render_runq(r: &Report, out: &mut String) {
    for rq in r.runqueues.iter().flatten() {
        let _ = writeln!(
            out,
            "CPU {}: nr_running {}  CURRENT: PID: {:<6} COMMAND: \"{}\" {} for {:.3}s{}",
            rq.cpu,
            rq.nr_running,
            rq.curr_pid,
            rq.curr_comm,
            policy_name(rq.curr_policy),
            rq.curr_running_secs,
            if rq.curr_is_idle { " (idle)" } else { "" }
        );
        for (pid, comm, prio) in &rq.rt_tasks {
            let _ = writeln!(out, "  RT PRIO {prio:<3} PID: {pid:<6} COMMAND: \"{comm}\"");
        }
    }
}

/// Appends one section's text.
type Renderer = fn(&Report, &mut String);

/// The report as text, one block per wanted section.
pub fn render_text(r: &Report) -> String {
    use Section::*;
    let order = [
        Sys, Panic, Bt, Log, Ps, Mem, Runq, Net, Mod, Mount, Slab, Hung,
    ];
    let mut out = render_sections(r, &order);
    checks::render(r, &mut out);
    out
}

/// The report's text with the wanted sections in the given order (a capture console shows
/// the panic first); warnings come last.
pub fn render_sections(r: &Report, order: &[Section]) -> String {
    let mut out = String::new();
    let o = &r.options;
    let blocks: [(Section, &str, Renderer); 9] = [
        (Section::Sys, "SYSTEM", render_sys),
        (Section::Panic, "PANIC", render_panic),
        (Section::Log, "LOG", |r, out| {
            for l in r.log_lines() {
                let _ = writeln!(out, "{l}");
            }
        }),
        (Section::Ps, "PS", render_ps),
        (Section::Mem, "MEMORY", render_mem),
        (Section::Runq, "RUN QUEUES", render_runq),
        (Section::Net, "NETWORK", render_net),
        (Section::Bt, "BACKTRACES", stacks::render_bt),
        (Section::Hung, "HUNG TASKS", stacks::render_hung),
    ];
    for wanted in order {
        let mut all = blocks.iter().chain(&sections_extra::BLOCKS);
        let Some((name, title, f)) = all.find(|(n, _, _)| n == wanted) else {
            continue;
        };
        if o.wants(*name) {
            let _ = writeln!(out, "== {title} ==");
            f(r, &mut out);
            out.push('\n');
        }
    }
    if o.wants(Section::Warnings) || !r.warnings.is_empty() {
        let _ = writeln!(out, "== WARNINGS ==");
        for w in &r.warnings {
            let _ = writeln!(out, "WARNING [{}]: {}", w.check, w.message);
        }
        if r.warnings.is_empty() {
            let _ = writeln!(out, "(none)");
        }
        out.push('\n');
        problems::render(&problems::rank(r), &mut out);
    }
    out
}
