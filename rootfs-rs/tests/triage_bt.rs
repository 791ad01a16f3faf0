//! Stacks (`bt`) and hung tasks on the real dumps, checked against what the guest's own
//! kernel printed: the panic's call trace on the console, the moment the D-state probe
//! started (its KERN_CRIT line's printk time), and the syscalls the fixture helpers sleep in.

#[path = "triage_common/mod.rs"]
mod common;

use common::{kdump_fixture, qemu_fixture, suite_fixture, SUITES};
use rootfs_rs::dump::helpers::bt::Backtrace;
use rootfs_rs::dump::report::stacks::BtScope;
use rootfs_rs::dump::report::{build, Options, Report};
use rootfs_rs::dump::unwind::Method;
use std::path::{Path, PathBuf};

/// pause(2)'s number on x86_64: the syscall the fixture helpers sleep in.
const NR_PAUSE: u64 = 34;

fn report(dump: &Path, sections: &[&str], bt: BtScope) -> Report {
    build(
        dump,
        &Options {
            sections: sections.iter().map(|s| s.to_string()).collect(),
            bt,
            ..Options::default()
        },
    )
}

fn kdump_variants(dir: &Path) -> Vec<PathBuf> {
    [
        "vmcore.proc.elf",
        "vmcore.d31.lzo",
        "vmcore.d31.zlib",
        "vmcore.d31.elf",
        "vmcore.d31.lzo.flat",
    ]
    .iter()
    .map(|n| dir.join(n))
    .collect()
}

fn qemu_variants(dir: &Path) -> Vec<PathBuf> {
    ["vmcore.elf", "vmcore.kdump-zlib"]
        .iter()
        .map(|n| dir.join(n))
        .collect()
}

/// `[ 9.04] text` → (seconds, text) for console lines that carry a printk time.
fn console_lines(serial: &str) -> Vec<(f64, String)> {
    serial
        .lines()
        .filter_map(|l| {
            let l = l.trim_end_matches('\r');
            let rest = l.strip_prefix('[')?;
            let (ts, text) = rest.split_once(']')?;
            Some((ts.trim().parse().ok()?, text.trim_start().to_string()))
        })
        .collect()
}

/// The frames below panic() of the first "Call Trace:" the console printed, as
/// "func+0x16/0x20" (lines marked "?" are the kernel's own guesses and are left out).
fn console_call_trace(serial: &str) -> Vec<String> {
    let lines = console_lines(serial);
    let start = lines
        .iter()
        .position(|(_, t)| t == "Call Trace:")
        .expect("a Call Trace on the console");
    lines[start + 1..]
        .iter()
        .map(|(_, t)| t.as_str())
        .take_while(|t| *t != "</TASK>")
        .filter(|t| *t != "<TASK>" && !t.starts_with('?') && t.contains("+0x"))
        .map(|t| t.split_whitespace().next().unwrap_or("").to_string())
        // panic() printed it from dump_stack: the frames above panic's caller differ.
        .skip_while(|f| !f.starts_with("panic+"))
        .skip(1)
        .collect()
}

fn locations(bt: &Backtrace) -> Vec<String> {
    bt.frames
        .iter()
        .filter(|f| f.method != Method::Guessed)
        .map(|f| f.location())
        .collect()
}

fn assert_clean(bt: &Backtrace, name: &str) {
    assert!(
        bt.error.is_none(),
        "{name}: pid {} has no stack: {:?}",
        bt.pid,
        bt.error
    );
    assert!(
        bt.stopped.is_none(),
        "{name}: pid {} ({}) stopped: {:?}\n{:#?}",
        bt.pid,
        bt.comm,
        bt.stopped,
        locations(bt)
    );
    assert!(
        bt.frames
            .iter()
            .all(|f| f.method == Method::Orc || f.method == Method::Scanned),
        "{name}: pid {} has frames not unwound by ORC",
        bt.pid
    );
}

#[test]
fn the_panic_stack_is_the_consoles_call_trace() {
    let dirs = kdump_fixture()
        .into_iter()
        .chain(SUITES.iter().filter_map(|s| suite_fixture("kdump", s)));
    for dir in dirs {
        panic_stack_matches_console(&dir);
    }
}

fn panic_stack_matches_console(dir: &Path) {
    let serial = std::fs::read_to_string(dir.join("serial.log")).expect("serial.log");
    let console = console_call_trace(&serial);
    assert!(
        console.iter().any(|f| f.starts_with("sysrq_handle_crash+")),
        "console trace {console:?}"
    );
    for dump in kdump_variants(dir).into_iter().filter(|d| d.exists()) {
        let name = dump.display().to_string();
        let r = report(&dump, &["bt"], BtScope::Active);
        let bts = r.backtraces.as_deref().expect("bt section");
        assert_eq!(bts.len(), 2, "{name}: one stack per CPU");
        let panic = &bts[0];
        assert!(
            panic.active && panic.cpu == 0,
            "{name}: the panicking CPU first"
        );
        assert_clean(panic, &name);
        let ours = locations(panic);
        // The console's trace (printed by panic()) is a suffix-in-order of our frames,
        // offsets and sizes included.
        let mut at = 0;
        for want in &console {
            let found = ours[at..].iter().position(|f| f == want);
            assert!(
                found.is_some(),
                "{name}: {want} missing or out of order in {ours:?}"
            );
            at += found.unwrap_or(0) + 1;
        }
        let fns = panic.functions();
        let pos = |f: &str| fns.iter().position(|x| x == f);
        assert!(
            pos("sysrq_handle_crash") < pos("write_sysrq_trigger"),
            "{name}: {fns:?}"
        );
        assert!(pos("sysrq_handle_crash").is_some(), "{name}: {fns:?}");
        // Entered by write(2) from user mode: the user registers close the stack.
        let user = panic
            .user_regs
            .as_ref()
            .expect("user registers of the write");
        assert_eq!(user.values[15], 1, "{name}: orig_rax is write(2)");
        // CPU 1 ran the RT hog in user mode: no kernel frames, its user registers.
        let hog = &bts[1];
        assert_eq!((hog.comm.as_str(), hog.cpu), ("kb-spin", 1), "{name}");
        assert!(hog.frames.is_empty() && hog.user_regs.is_some(), "{name}");
    }
}

#[test]
fn every_task_unwinds_to_the_bottom_of_its_stack() {
    // 6.1, and 5.10, 6.12 and 7.x: the ORC entry layout changed in 6.4.
    let mut dirs: Vec<(PathBuf, Vec<PathBuf>)> = [
        kdump_fixture().map(|d| (d.clone(), kdump_variants(&d))),
        qemu_fixture().map(|d| (d.clone(), qemu_variants(&d))),
    ]
    .into_iter()
    .flatten()
    .collect();
    for suite in SUITES {
        if let Some(d) = suite_fixture("kdump", suite) {
            dirs.push((d.clone(), vec![d.join("vmcore.proc.elf")]));
        }
        if let Some(d) = suite_fixture("qemu", suite) {
            dirs.push((d.clone(), vec![d.join("vmcore.elf")]));
        }
    }
    for (_, dumps) in dirs {
        for dump in dumps {
            let name = dump.display().to_string();
            let r = report(&dump, &["bt"], BtScope::All);
            let bts = r.backtraces.as_deref().expect("bt section");
            assert!(bts.len() > 50, "{name}: {} tasks", bts.len());
            for bt in bts {
                assert_clean(bt, &name);
                if !bt.active {
                    // Off the CPU: switched out in __schedule, the first frame.
                    assert_eq!(
                        bt.functions().first().map(String::as_str),
                        Some("__schedule"),
                        "{name}: pid {}",
                        bt.pid
                    );
                }
                // Kernel threads end in ret_from_fork, user tasks in user mode, idle tasks
                // in the boot code.
                let last = bt.functions().last().cloned().unwrap_or_default();
                assert!(
                    bt.user_regs.is_some()
                        || last.starts_with("ret_from_fork")
                        || last.ends_with("startup_64")
                        || last.starts_with("secondary_startup_64"),
                    "{name}: pid {} ({}) ends in {last}",
                    bt.pid,
                    bt.comm
                );
            }
        }
    }
}

#[test]
fn tasks_sleeping_in_pause_show_the_syscall() {
    let mut dirs: Vec<PathBuf> = [kdump_fixture(), qemu_fixture()]
        .into_iter()
        .flatten()
        .collect();
    for suite in SUITES {
        dirs.extend(suite_fixture("kdump", suite));
        dirs.extend(suite_fixture("qemu", suite));
    }
    for dir in dirs {
        let dump = if dir.join("vmcore.proc.elf").exists() {
            dir.join("vmcore.proc.elf")
        } else {
            dir.join("vmcore.elf")
        };
        let name = dump.display().to_string();
        let r = report(&dump, &["bt"], BtScope::All);
        let bts = r.backtraces.as_deref().expect("bt section");
        // The helpers that end in pause(): the SCHED_FIFO sleeper, the socket holders.
        for comm in ["kb-fifo", "kb-udp", "kb-unix", "kb-tcp6", "kb-connect"] {
            let bt = bts
                .iter()
                .find(|b| b.comm == comm)
                .unwrap_or_else(|| panic!("{name}: no {comm}"));
            let fns = bt.functions();
            assert!(
                fns.iter()
                    .any(|f| f == "__x64_sys_pause" || f == "sys_pause"),
                "{name}: {comm}: {fns:?}"
            );
            assert_eq!(
                fns.iter().take(2).map(String::as_str).collect::<Vec<_>>(),
                ["__schedule", "schedule"],
                "{name}: {comm}"
            );
            let user = bt.user_regs.as_ref().expect("user registers");
            assert_eq!(user.values[15], NR_PAUSE, "{name}: {comm}: orig_rax");
        }
    }
}

#[test]
fn the_d_state_probe_is_listed_as_hung_with_its_wait() {
    let dirs = kdump_fixture()
        .into_iter()
        .chain(SUITES.iter().filter_map(|s| suite_fixture("kdump", s)));
    for dir in dirs {
        d_state_probe_is_hung(&dir);
    }
}

fn d_state_probe_is_hung(dir: &Path) {
    let serial = std::fs::read_to_string(dir.join("serial.log")).expect("serial.log");
    let lines = console_lines(&serial);
    let at = |prefix: &str| {
        lines
            .iter()
            .find(|(_, t)| t.starts_with(prefix))
            .map(|(ts, _)| *ts)
            .unwrap_or_else(|| panic!("no '{prefix}' on the console"))
    };
    let truth = at("Kernel panic - not syncing") - at("KBOOT-DSTATE-START");
    for dump in kdump_variants(dir).into_iter().filter(|d| d.exists()) {
        let name = dump.display().to_string();
        let r = report(&dump, &["hung"], BtScope::Active);
        let hung = r.hung.as_deref().expect("hung section");
        assert_eq!(hung.len(), 1, "{name}: {hung:?}");
        let probe = &hung[0];
        assert_eq!(probe.comm, "kb-dstate", "{name}");
        let waited = probe.waited_secs.expect("a wait time");
        assert!(
            (waited - truth).abs() < 1.0,
            "{name}: waited {waited:.2}s, the console says {truth:.2}s"
        );
        let fns = probe.backtrace.functions();
        assert!(
            fns.iter().any(|f| f == "kernel_clone") && fns.iter().any(|f| f.contains("sys_vfork")),
            "{name}: {fns:?}"
        );
        // Stacks grouped: the pause() sleepers share one stack.
        let groups = r.stack_groups.as_deref().expect("stack groups");
        let pause = groups
            .iter()
            .find(|g| g.functions.iter().any(|f| f == "__x64_sys_pause"))
            .expect("a pause group");
        assert!(pause.pids.len() >= 5, "{name}: {pause:?}");
    }
}

#[test]
fn qemu_dump_cpus_show_idle_and_user_mode() {
    let Some(dir) = qemu_fixture() else { return };
    for dump in qemu_variants(&dir) {
        let name = dump.display().to_string();
        let r = report(&dump, &["bt"], BtScope::Active);
        let bts = r.backtraces.as_deref().expect("bt section");
        assert_eq!(bts.len(), 2, "{name}");
        for bt in bts {
            assert_clean(bt, &name);
            if bt.comm == "kb-spin" {
                // A spinner in user mode: no kernel frames, or, when the dump caught it in
                // an interrupt (a clean-room run's fixture: hrtimer_interrupt from the
                // APIC timer), that interrupt's frames down to its entry stub; its user
                // registers either way.
                let fns = bt.functions();
                assert!(bt.user_regs.is_some(), "{name}: {fns:?}");
                assert!(
                    fns.last().is_none_or(|f| f.starts_with("asm_")),
                    "{name}: {fns:?}"
                );
            } else {
                // An idle CPU halted in the idle loop.
                let fns = bt.functions();
                assert!(fns.iter().any(|f| f == "do_idle"), "{name}: {fns:?}");
            }
        }
        // --cpu and --pid pick one stack.
        let one = report(&dump, &["bt"], BtScope::Cpu(1));
        assert_eq!(one.backtraces.as_deref().map(<[_]>::len), Some(1), "{name}");
        let pid = bts[0].pid;
        let by_pid = report(&dump, &["bt"], BtScope::Pid(pid));
        assert!(by_pid
            .backtraces
            .as_deref()
            .is_some_and(|b| !b.is_empty() && b.iter().all(|x| x.pid == pid)));
    }
}

#[test]
fn module_code_is_named_with_its_module() {
    use rootfs_rs::dump::unwind::env::DumpEnv;
    use rootfs_rs::dump::unwind::UnwindEnv;
    use rootfs_rs::dump::Dump;
    // The kdump guest loaded dummy.ko, the QEMU guest qemu_fw_cfg.ko; /proc/modules gave
    // their load addresses.
    for (dir, module) in [(kdump_fixture(), "dummy"), (qemu_fixture(), "qemu_fw_cfg")] {
        let Some(dir) = dir else { continue };
        let guest = std::fs::read_to_string(dir.join("guest.txt")).expect("guest.txt");
        let line = guest
            .lines()
            .filter_map(|l| l.strip_prefix("KBOOT-GUEST-MODULES "))
            .find(|l| l.split_whitespace().next() == Some(module))
            .unwrap_or_else(|| panic!("{module} not in the guest's /proc/modules"));
        let base = line
            .split_whitespace()
            .last()
            .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
            .expect("module address");
        let file = if module == "dummy" {
            "vmcore.d31.lzo"
        } else {
            "vmcore.elf"
        };
        let dump = Dump::open(&dir.join(file)).expect("open");
        let env = DumpEnv::new(&dump);
        assert!(env.module_errors.is_empty(), "{:?}", env.module_errors);
        let m = env
            .modules
            .iter()
            .find(|m| m.name == module)
            .expect("module found");
        assert_eq!(m.base, base, "{module}: text base");
        // Its code is text, has ORC data and is named after its module.
        let inside = base + 0x10;
        assert!(env.is_text(inside) && env.orc(inside).is_some(), "{module}");
        let sym = env.symbolize(inside).expect("a symbol");
        assert_eq!(sym.module.as_deref(), Some(module), "{sym:?}");
        assert!(sym.size > 0 && sym.offset < sym.size, "{sym:?}");
    }
}
