//! kboot's stacks against crash's: parses crash's `bt` output (`bt -a`, `foreach bt`,
//! or a whole session's output with other commands in between) and kboot's
//! `triage --section bt --all --json`, and compares, per task present in both, the
//! sequence of function names.
//!
//! Names are normalised on both sides the same way: no `+0x…` offset, no GCC clone
//! suffix (`.cold`, `.isra.N`, `.constprop.N`, `.part.N`). The sequences must then be
//! equal for a task to agree; the function figure is the longest common subsequence
//! (same functions, same order) over the longer of the two sequences.

use serde::Deserialize;

/// One task's stack, from either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub pid: i64,
    pub comm: String,
    pub cpu: Option<u32>,
    /// Normalised function names, innermost first.
    pub functions: Vec<String>,
    /// kboot's "unwinder" ("orc", "frame pointer", "guessed"); None for crash.
    pub unwinder: Option<String>,
}

/// Every task block of crash's `bt` output, in order, each task once (`bt -a` and
/// `foreach bt` both show the active tasks: the first block is kept).
///
/// A block starts with `PID: N  TASK: addr  CPU: n  COMMAND: "comm"`; its frames are
/// ` #N [sp] function at addr [module]` lines, and an exception frame's
/// `[exception RIP: function+offset]` adds the interrupted function after the frame
/// that shows the entry code. Register dumps, `--- <IRQ stack> ---` markers and the
/// output of other commands are skipped.
pub fn parse_crash_bt(text: &str) -> Vec<Stack> {
    let mut stacks: Vec<Stack> = Vec::new();
    let mut tasks: Vec<String> = Vec::new();
    let mut current: Option<(String, Stack)> = None;
    let mut finish = |block: Option<(String, Stack)>, stacks: &mut Vec<Stack>| {
        if let Some((task, stack)) = block {
            if !tasks.contains(&task) {
                tasks.push(task);
                stacks.push(stack);
            }
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix("PID:") {
            finish(current.take(), &mut stacks);
            current = parse_header(header);
            continue;
        }
        let Some((_, stack)) = current.as_mut() else {
            continue;
        };
        if let Some(function) = parse_frame(trimmed) {
            stack.functions.push(normalise(function));
        } else if let Some(rip) = trimmed
            .strip_prefix("[exception RIP:")
            .and_then(|r| r.strip_suffix(']'))
        {
            let rip = rip.trim();
            // "unknown or invalid address": no function to compare.
            if !rip.contains(' ') && !rip.is_empty() {
                stack.functions.push(normalise(rip));
            }
        } else if trimmed.is_empty() {
            // A blank line ends a block; the next command's output may follow.
            finish(current.take(), &mut stacks);
        }
    }
    finish(current.take(), &mut stacks);
    stacks
}

/// `N  TASK: addr  CPU: n  COMMAND: "comm"` (after `PID:`): the task address (the key
/// for duplicates) and an empty stack.
fn parse_header(header: &str) -> Option<(String, Stack)> {
    let (fields, comm) = header.split_once("COMMAND:")?;
    let mut words = fields.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let mut task = None;
    let mut cpu = None;
    while let Some(word) = words.next() {
        match word {
            "TASK:" => task = words.next().map(str::to_string),
            // "CPU: 0", or "CPU: -" for a task that has none.
            "CPU:" => cpu = words.next().and_then(|c| c.parse().ok()),
            _ => {}
        }
    }
    let comm = comm.trim();
    let comm = comm
        .strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(comm);
    Some((
        task?,
        Stack {
            pid,
            comm: comm.to_string(),
            cpu,
            functions: Vec::new(),
            unwinder: None,
        },
    ))
}

/// `#3 [ffffd1cc00013c68] sysrq_handle_crash at ffffffff9c490926 [module]` → the
/// function.
fn parse_frame(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('#')?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 {
        return None;
    }
    let rest = rest[digits..].trim_start().strip_prefix('[')?;
    let (_, rest) = rest.split_once(']')?;
    let (function, _) = rest.trim_start().split_once(" at ")?;
    let function = function.trim();
    (!function.is_empty() && !function.contains(' ')).then_some(function)
}

/// The comparable name: no `+offset`/`/size`, no GCC clone suffixes (`.cold`,
/// `.isra.0`, `.constprop.0`, `.part.0`, in any combination).
pub fn normalise(function: &str) -> String {
    let base = function.split(['+', '/']).next().unwrap_or(function).trim();
    const SUFFIXES: [&str; 6] = ["cold", "isra", "constprop", "part", "lto_priv", "llvm"];
    let mut parts: Vec<&str> = base.split('.').collect();
    while parts.len() > 1 {
        let last = parts[parts.len() - 1];
        let numbered = !last.is_empty()
            && last.chars().all(|c| c.is_ascii_digit())
            && parts.len() > 2
            && SUFFIXES.contains(&parts[parts.len() - 2]);
        if SUFFIXES.contains(&last) || numbered {
            // "isra.0": the number goes with its suffix ("bar.cold.12" too).
            parts.pop();
        } else {
            break;
        }
    }
    parts.join(".")
}

#[derive(Debug, Deserialize)]
struct KbootJson {
    /// null when the report did not compute the section.
    bt: Option<Vec<KbootStack>>,
}

#[derive(Debug, Deserialize)]
struct KbootStack {
    pid: i64,
    #[serde(default)]
    comm: String,
    #[serde(default)]
    cpu: Option<u32>,
    #[serde(default)]
    unwinder: Option<String>,
    #[serde(default)]
    frames: Vec<KbootFrame>,
}

#[derive(Debug, Deserialize)]
struct KbootFrame {
    #[serde(default)]
    function: Option<String>,
}

/// kboot's stacks from `kboot triage DUMP --section bt --all --json`, None when its
/// "bt" is null or absent. A frame without a symbol compares as `?`.
pub fn parse_kboot_json(text: &str) -> Result<Option<Vec<Stack>>, String> {
    let json: KbootJson = serde_json::from_str(text).map_err(|e| format!("kboot's JSON: {e}"))?;
    let Some(bt) = json.bt else {
        return Ok(None);
    };
    Ok(Some(
        bt.into_iter()
            .map(|s| Stack {
                pid: s.pid,
                comm: s.comm,
                cpu: s.cpu,
                functions: s
                    .frames
                    .iter()
                    .map(|f| f.function.as_deref().map(normalise).unwrap_or("?".into()))
                    .collect(),
                unwinder: s.unwinder,
            })
            .collect(),
    ))
}

/// One task present on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskComparison {
    pub pid: i64,
    pub comm: String,
    pub crash: Vec<String>,
    pub kboot: Vec<String>,
    pub unwinder: Option<String>,
    /// Functions in common in the same order (longest common subsequence).
    pub common: usize,
}

impl TaskComparison {
    pub fn identical(&self) -> bool {
        self.crash == self.kboot
    }

    /// The frames the figure counts: the longer sequence.
    pub fn frames(&self) -> usize {
        self.crash.len().max(self.kboot.len())
    }
}

/// The comparison of all tasks, and what only one side has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub tasks: Vec<TaskComparison>,
    /// (pid, comm) of tasks only crash shows.
    pub crash_only: Vec<(i64, String)>,
    /// (pid, comm) of tasks only kboot shows.
    pub kboot_only: Vec<(i64, String)>,
}

/// Tasks are matched by pid; the idle tasks (all pid 0) by name (`swapper/1`), else by
/// CPU (kboot gives the CPU of active tasks only).
pub fn compare(crash: &[Stack], kboot: &[Stack]) -> Agreement {
    let same_task = |a: &Stack, b: &Stack| {
        a.pid == b.pid && (a.pid != 0 || a.comm == b.comm || (a.cpu.is_some() && a.cpu == b.cpu))
    };
    let mut tasks = Vec::new();
    let mut crash_only = Vec::new();
    for c in crash {
        match kboot.iter().find(|k| same_task(c, k)) {
            Some(k) => tasks.push(TaskComparison {
                pid: c.pid,
                comm: c.comm.clone(),
                crash: c.functions.clone(),
                kboot: k.functions.clone(),
                unwinder: k.unwinder.clone(),
                common: common_subsequence(&c.functions, &k.functions),
            }),
            None => crash_only.push((c.pid, c.comm.clone())),
        }
    }
    let kboot_only = kboot
        .iter()
        .filter(|k| !crash.iter().any(|c| same_task(c, k)))
        .map(|k| (k.pid, k.comm.clone()))
        .collect();
    Agreement {
        tasks,
        crash_only,
        kboot_only,
    }
}

/// Length of the longest common subsequence.
fn common_subsequence(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

impl Agreement {
    pub fn identical(&self) -> usize {
        self.tasks.iter().filter(|t| t.identical()).count()
    }

    /// `bt agreement: N of M tasks identical (X%), K functions of L frames`.
    pub fn figure(&self) -> String {
        let m = self.tasks.len();
        let n = self.identical();
        let percent = if m == 0 {
            0.0
        } else {
            100.0 * n as f64 / m as f64
        };
        let k: usize = self.tasks.iter().map(|t| t.common).sum();
        let l: usize = self.tasks.iter().map(TaskComparison::frames).sum();
        format!(
            "bt agreement: {n} of {m} tasks identical ({percent:.0}%), {k} functions of {l} frames"
        )
    }

    /// Per task: `agree` with its frame count, or `differ` with both sequences.
    pub fn report_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.tasks {
            let who = format!("pid {} ({})", t.pid, t.comm);
            let unwinder = t
                .unwinder
                .as_deref()
                .map(|u| format!(", kboot: {u}"))
                .unwrap_or_default();
            if t.identical() {
                lines.push(format!("agree   {who}: {} frames{unwinder}", t.crash.len()));
            } else {
                let note = if t.kboot.is_empty() {
                    "; kboot has no kernel frame".to_string()
                } else if t.crash.is_empty() {
                    "; crash has no frame".to_string()
                } else if t.common == t.kboot.len() {
                    format!(
                        "; kboot's {} are all in crash's, in order: crash has {} more",
                        t.kboot.len(),
                        t.crash.len() - t.common
                    )
                } else if t.common == t.crash.len() {
                    format!(
                        "; crash's {} are all in kboot's, in order: kboot has {} more",
                        t.crash.len(),
                        t.kboot.len() - t.common
                    )
                } else {
                    String::new()
                };
                lines.push(format!(
                    "differ  {who}: {} in common of {}{unwinder}{note}",
                    t.common,
                    t.frames()
                ));
                let shown = |f: &[String]| {
                    if f.is_empty() {
                        "(none)".to_string()
                    } else {
                        f.join(" < ")
                    }
                };
                lines.push(format!("        crash: {}", shown(&t.crash)));
                lines.push(format!("        kboot: {}", shown(&t.kboot)));
            }
        }
        let list = |tasks: &[(i64, String)]| {
            tasks
                .iter()
                .map(|(pid, comm)| format!("{pid} ({comm})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.crash_only.is_empty() {
            lines.push(format!(
                "only crash shows {} task(s): {}",
                self.crash_only.len(),
                list(&self.crash_only)
            ));
        }
        if !self.kboot_only.is_empty() {
            lines.push(format!(
                "only kboot shows {} task(s) (not compared)",
                self.kboot_only.len()
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// crash 8.0.2's output of `sys; bt -a; foreach bt; ps; log; kmem -i; runq; net` on
    /// the kdump fixture (6.1.0-57-amd64, Debian's -dbg vmlinux), as captured; only the
    /// middle of `log` is left out. crash sees 4 tasks there: its task table misses
    /// the sleeping ones on this kernel (see bench_crash.rs).
    const CRASH_6_1: &str = include_str!("../tests/data/crash-6.1-triage-commands.txt");

    fn names(list: &str) -> Vec<String> {
        list.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn crash_bt_output_of_the_fixture_parses_into_its_tasks() {
        let stacks = parse_crash_bt(CRASH_6_1);
        let who: Vec<(i64, &str, Option<u32>)> = stacks
            .iter()
            .map(|s| (s.pid, s.comm.as_str(), s.cpu))
            .collect();
        // bt -a (init, kb-spin), then foreach bt's idle tasks; the repeats are dropped.
        assert_eq!(
            who,
            [
                (1, "init", Some(0)),
                (98, "kb-spin", Some(1)),
                (0, "swapper/0", Some(0)),
                (0, "swapper/1", Some(1)),
            ]
        );
        assert_eq!(
            stacks[0].functions,
            names(
                "machine_kexec __crash_kexec panic sysrq_handle_crash __handle_sysrq \
                 write_sysrq_trigger proc_reg_write vfs_write ksys_write do_syscall_64 \
                 __x64_sys_fcntl do_syscall_64 handle_mm_fault do_user_addr_fault \
                 exit_to_user_mode_prepare entry_SYSCALL_64_after_hwframe"
            )
        );
        assert_eq!(
            stacks[1].functions,
            names("crash_nmi_callback default_do_nmi exc_nmi asm_exc_nmi")
        );
        assert_eq!(
            stacks[3].functions,
            names(
                "__schedule schedule_idle do_idle cpu_startup_entry start_secondary \
                 secondary_startup_64_no_verify"
            )
        );
        // The kernel log's own call trace (" ? __x64_sys_fcntl+0x90/0xc0") and runq's
        // "CURRENT: PID: 1 ..." lines are not taken for bt output.
        assert_eq!(stacks.len(), 4);
    }

    #[test]
    fn exception_frames_modules_and_active_tasks_parse() {
        // crash's format for a kernel-mode exception, a module frame, an IRQ stack
        // switch and a task with no stack.
        let text = r#"PID: 4242     TASK: ffff9a0c4b2d8000  CPU: 1    COMMAND: "kworker/1:2 x"
 #0 [ffffb3a1c0003e48] machine_kexec at ffffffffa2a6a8e6
 #1 [ffffb3a1c0003ea0] __crash_kexec at ffffffffa2b6e4ca
--- <IRQ stack> ---
 #2 [ffffb3a1c0213d58] asm_exc_invalid_op at ffffffffa3200ad6
    [exception RIP: dummy_xmit.isra.0+22]
    RIP: ffffffffc05a1016  RSP: ffffb3a1c0213e08  RFLAGS: 00010246
    RAX: 0000000000000000  RBX: ffff9a0c44a1c000  RCX: 0000000000000000
    ORIG_RAX: ffffffffffffffff  CS: 0010  SS: 0018
 #3 [ffffb3a1c0213e10] dev_hard_start_xmit at ffffffffa2f0c2a1 [dummy]
 #4 [ffffb3a1c0213e60] worker_thread.cold.12 at ffffffffa2ad5c9e

PID: 7        TASK: ffff9a0c40221840  CPU: 0    COMMAND: "idle"
(active)
"#;
        let stacks = parse_crash_bt(text);
        assert_eq!(stacks.len(), 2);
        assert_eq!(stacks[0].comm, "kworker/1:2 x");
        assert_eq!(
            stacks[0].functions,
            names(
                "machine_kexec __crash_kexec asm_exc_invalid_op dummy_xmit \
                 dev_hard_start_xmit worker_thread"
            )
        );
        assert_eq!(stacks[1].functions, Vec::<String>::new());
    }

    #[test]
    fn clone_suffixes_and_offsets_are_normalised() {
        for (raw, want) in [
            ("__handle_sysrq.cold", "__handle_sysrq"),
            ("tcp_v4_rcv.isra.0", "tcp_v4_rcv"),
            ("ext4_map_blocks.constprop.3", "ext4_map_blocks"),
            ("do_one.part.0.isra.0", "do_one"),
            ("foo.constprop.0.cold", "foo"),
            ("bar.cold.12", "bar"),
            ("sysrq_handle_crash+0x16/0x20", "sysrq_handle_crash"),
            ("dummy_xmit.isra.0+22", "dummy_xmit"),
            (
                "entry_SYSCALL_64_after_hwframe",
                "entry_SYSCALL_64_after_hwframe",
            ),
            // Not a clone suffix: kept.
            ("_sub_I_65535_0.0", "_sub_I_65535_0.0"),
        ] {
            assert_eq!(normalise(raw), want, "{raw}");
        }
    }

    /// kboot's JSON as issue 16 specifies it, written by hand: the panic task as an exact
    /// ORC unwind (without crash's stale frames), kb-spin identical, one idle task,
    /// and one sleeping task crash does not show.
    const KBOOT_JSON: &str = r#"{"bt": [
      {"pid": 1, "comm": "init", "cpu": 0, "state": "R", "unwinder": "orc", "error": null,
       "frames": [
        {"address": 18446744071995241807, "function": "machine_kexec", "offset": 239, "size": 336, "module": null},
        {"address": 1, "function": "__crash_kexec", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "panic", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "sysrq_handle_crash", "offset": 22, "size": 32, "module": null},
        {"address": 1, "function": "__handle_sysrq.cold", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "write_sysrq_trigger", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "proc_reg_write", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "vfs_write", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "ksys_write", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "do_syscall_64", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "entry_SYSCALL_64_after_hwframe", "offset": 1, "size": 2, "module": null}]},
      {"pid": 98, "comm": "kb-spin", "cpu": 1, "state": "R", "unwinder": "orc", "error": null,
       "frames": [
        {"address": 1, "function": "crash_nmi_callback", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "default_do_nmi", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "exc_nmi", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "asm_exc_nmi", "offset": 1, "size": 2, "module": null}]},
      {"pid": 0, "comm": "swapper/1", "cpu": 1, "state": "R", "unwinder": "frame pointer", "error": null,
       "frames": [
        {"address": 1, "function": "__schedule", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": null, "offset": 0, "size": 0, "module": null},
        {"address": 1, "function": "do_idle", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "cpu_startup_entry", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "start_secondary", "offset": 1, "size": 2, "module": null},
        {"address": 1, "function": "secondary_startup_64_no_verify", "offset": 1, "size": 2, "module": null}]},
      {"pid": 107, "comm": "kb-dstate", "cpu": null, "state": "D", "unwinder": "orc", "error": null,
       "frames": [{"address": 1, "function": "__schedule", "offset": 1, "size": 2, "module": null}]}
    ], "system": {}}"#;

    #[test]
    fn the_comparator_counts_tasks_and_functions_against_real_crash_output() {
        let crash = parse_crash_bt(CRASH_6_1);
        let kboot = parse_kboot_json(KBOOT_JSON).unwrap().unwrap();
        assert_eq!(kboot.len(), 4);
        assert_eq!(kboot[2].functions[1], "?");
        let agreement = compare(&crash, &kboot);
        // init: kboot's 11 in crash's 16 in order; kb-spin: 4 of 4; swapper/1: 5 of 6.
        assert_eq!(
            agreement
                .tasks
                .iter()
                .map(|t| (t.pid, t.identical(), t.common, t.frames()))
                .collect::<Vec<_>>(),
            [(1, false, 11, 16), (98, true, 4, 4), (0, false, 5, 6)]
        );
        assert_eq!(agreement.crash_only, [(0, "swapper/0".to_string())]);
        assert_eq!(agreement.kboot_only, [(107, "kb-dstate".to_string())]);
        assert_eq!(
            agreement.figure(),
            "bt agreement: 1 of 3 tasks identical (33%), 20 functions of 26 frames"
        );
        let lines = agreement.report_lines();
        assert!(
            lines[0].starts_with("differ  pid 1 (init): 11 in common of 16, kboot: orc; kboot's 11 are all in crash's, in order: crash has 5 more"),
            "{lines:#?}"
        );
        assert!(lines[1].contains("crash: machine_kexec < __crash_kexec"));
        assert!(lines[2].ends_with("do_syscall_64 < entry_SYSCALL_64_after_hwframe"));
        assert_eq!(lines[3], "agree   pid 98 (kb-spin): 4 frames, kboot: orc");
        assert!(lines
            .iter()
            .any(|l| l == "only crash shows 1 task(s): 0 (swapper/0)"));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("only kboot shows 1 task(s)")));
    }

    #[test]
    fn a_task_kboot_shows_without_kernel_frames_differs_with_both_sides_shown() {
        // kb-spin was in user mode when the NMI stopped its CPU: crash shows the NMI
        // handler's frames, a walk from the saved user registers has none.
        let crash = parse_crash_bt(CRASH_6_1);
        let kboot = vec![Stack {
            pid: 98,
            comm: "kb-spin".into(),
            cpu: Some(1),
            functions: Vec::new(),
            unwinder: Some("none".into()),
        }];
        let agreement = compare(&crash, &kboot);
        assert_eq!(
            agreement.report_lines()[..3],
            [
                "differ  pid 98 (kb-spin): 0 in common of 4, kboot: none; kboot has no kernel frame",
                "        crash: crash_nmi_callback < default_do_nmi < exc_nmi < asm_exc_nmi",
                "        kboot: (none)",
            ]
        );
        assert_eq!(agreement.crash_only.len(), 3);
    }

    #[test]
    fn the_figure_of_nothing_compared_is_zero() {
        let agreement = compare(&[], &[]);
        assert_eq!(
            agreement.figure(),
            "bt agreement: 0 of 0 tasks identical (0%), 0 functions of 0 frames"
        );
        let a = names("a b c d");
        assert_eq!(common_subsequence(&a, &names("a c d")), 3);
        assert_eq!(common_subsequence(&a, &names("d c b a")), 1);
        assert_eq!(common_subsequence(&a, &[]), 0);
        assert_eq!(parse_kboot_json("{\"system\": {}}"), Ok(None));
        assert_eq!(parse_kboot_json("{\"bt\": null}"), Ok(None));
        assert!(parse_kboot_json("triage: unknown section bt").is_err());
    }
}
