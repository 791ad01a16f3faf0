//! The triage report on every dump variant, checked against what the guest printed about
//! itself before the dump (release, tasks, SCHED_FIFO helper, sockets, MemTotal, log marker),
//! plus the panic on the kdump variants and partial reports from corrupted dumps.

#[path = "triage_common/mod.rs"]
mod common;

use common::{
    comm_matches, guest_view, kdump_fixture, qemu_fixture, recompressed_fixture, suite_fixture,
    GuestView, SUITES,
};
use rootfs_rs::dump::report::{build, Options, Report};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn full() -> Options {
    Options {
        full_log: true,
        ..Options::default()
    }
}

/// The variants of one fixture directory that exist on this machine.
fn variants(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.exists())
        .collect()
}

fn assert_agrees_with_guest(r: &Report, g: &GuestView, name: &str) {
    // Every section computed; the only check that may fire is the RT hog's. (It is not
    // required: in one fresh kdump fixture the hog's run time at the crash did not show,
    // a nondeterminism still to be explained — see issue #9's note.)
    let checks: Vec<_> = r
        .warnings
        .iter()
        .map(|w| (w.check.as_str(), w.message.as_str()))
        .collect();
    assert!(
        checks.iter().all(|(check, m)| *check == "rt-task"
            && m.starts_with("cpu 1: FIFO task ")
            && m.contains("(kb-spin) rt_priority 20")),
        "{name}: unexpected warnings {checks:?}"
    );
    let sys = r.system.as_ref().expect("system");
    // The load average moves between the guest's listing and the dump: the RT hog keeps a
    // CPU busy, and 10-20 s under TCG can lift the 1-minute figure from 0.00 to 0.32 (seen
    // in CI). A wrong decoding (fixed-point shift, wrong variable) is off by far more.
    for (ours, theirs) in sys.load_avg.iter().zip(&g.load_avg) {
        assert!(
            (ours - theirs).abs() < 1.0,
            "{name}: load {:?} vs guest {:?}",
            sys.load_avg,
            g.load_avg
        );
    }
    assert_eq!(sys.release, g.release, "{name}");
    assert_eq!(sys.memory_total_kib, g.mem_total_kb, "{name}: MemTotal");
    assert_eq!(sys.cpus, 2, "{name}");

    // Every task the guest listed, with its comm and parent; nothing else but idle tasks and
    // the short-lived commands the guest ran after listing itself.
    let tasks = r.tasks.as_ref().expect("tasks");
    for (pid, comm) in &g.tasks {
        let t = tasks
            .iter()
            .find(|t| t.pid == *pid)
            .unwrap_or_else(|| panic!("{name}: pid {pid} ({comm}) missing"));
        assert!(
            comm_matches(&t.comm, comm),
            "{name}: pid {pid}: {:?} vs guest {comm:?}",
            t.comm
        );
        let (ppid, rt_priority, policy) = g.stats[pid];
        assert_eq!(
            (t.ppid, t.rt_priority, t.policy),
            (ppid, rt_priority, policy),
            "{name}: pid {pid} ({comm})"
        );
    }
    let extra: Vec<_> = tasks
        .iter()
        .filter(|t| t.pid != 0 && !g.tasks.contains_key(&t.pid))
        .map(|t| &t.comm)
        .collect();
    assert!(extra.len() <= 4, "{name}: unexpected tasks {extra:?}");
    assert_eq!(
        tasks.iter().filter(|t| t.pid == 0).count(),
        2,
        "{name}: one idle task per CPU"
    );

    // The SCHED_FIFO helper, with the priority the guest gave it.
    let fifo = tasks
        .iter()
        .find(|t| t.comm == "kb-fifo")
        .expect("kb-fifo task");
    assert_eq!((fifo.policy, fifo.rt_priority), (1, 50), "{name}");
    assert!(fifo.rss_kib > 0, "{name}: a user task has RSS");
    // The helpers do not allocate after start: their RSS (threads: their process's) is what
    // /proc/<pid>/stat said.
    // Since 6.2 /proc shows only the percpu_counters' folded part; the report adds the
    // per-CPU deltas (each below the batch of 32 pages; 3 counters on 2 CPUs).
    let per_cpu_counters = !(g.release.starts_with("5.") || g.release.starts_with("6.1."));
    let slack = if per_cpu_counters { 3 * 2 * 32 * 4 } else { 0 };
    for t in tasks.iter().filter(|t| t.comm.starts_with("kb-")) {
        let guest = g.rss_pages[&t.tgid] * 4;
        assert!(
            t.rss_kib.abs_diff(guest) <= slack,
            "{name}: RSS of {} ({}): {} KiB, the guest said {guest} KiB",
            t.pid,
            t.comm,
            t.rss_kib
        );
    }

    // Sockets: the TCP listener and its connection, the unix listener and /dev/log.
    let socks = r.sockets.as_ref().expect("sockets");
    let ports = |proto: &str, state: &str| -> BTreeSet<u16> {
        socks
            .iter()
            .filter(|s| s.proto == proto && s.state == state)
            .filter_map(|s| s.local.rsplit_once(':')?.1.parse().ok())
            .collect()
    };
    assert_eq!(
        ports("tcp", "LISTEN"),
        g.tcp_listen_ports,
        "{name}: TCP listening ports"
    );
    assert_eq!(
        ports("tcp6", "LISTEN"),
        g.tcp6_listen_ports,
        "{name}: TCP6 listening ports"
    );
    assert_eq!(ports("udp", "UNCONN"), g.udp_ports, "{name}: UDP ports");
    assert_eq!(ports("udp6", "UNCONN"), g.udp6_ports, "{name}: UDP6 ports");
    assert!(
        g.tcp_listen_ports.contains(&7777)
            && g.tcp6_listen_ports.contains(&7778)
            && g.udp_ports.contains(&5514)
    );
    let find =
        |proto: &str, local: &str| socks.iter().any(|s| s.proto == proto && s.local == local);
    assert!(
        find("tcp", "0.0.0.0:7777") && find("tcp6", "[::]:7778") && find("udp", "0.0.0.0:5514"),
        "{name}"
    );
    let established: Vec<_> = socks
        .iter()
        .filter(|s| s.proto == "tcp" && s.state == "ESTABLISHED")
        .collect();
    assert_eq!(
        established.len(),
        2,
        "{name}: both ends of the loopback connection: {established:?}"
    );
    assert!(established
        .iter()
        .all(|s| s.local.starts_with("127.0.0.1:") && s.remote.starts_with("127.0.0.1:")));
    let paths: BTreeSet<String> = socks.iter().filter_map(|s| s.path.clone()).collect();
    assert_eq!(paths, g.unix_paths, "{name}: bound unix sockets");
    let unix = socks
        .iter()
        .find(|s| s.path.as_deref() == Some("/tmp/kboot-triage.sock"))
        .expect("unix listener");
    assert_eq!(
        (unix.state.as_str(), unix.kind.as_deref()),
        ("LISTENING", Some("STREAM")),
        "{name}"
    );
    let lo = r
        .interfaces
        .as_ref()
        .expect("interfaces")
        .iter()
        .find(|i| i.name == "lo")
        .cloned()
        .expect("lo");
    assert_eq!(lo.ipv4, ["127.0.0.1/8"], "{name}");

    // The marker the guest wrote to /dev/kmsg.
    let marker = format!("KBOOT-MARKER triage fixture {}", g.release);
    assert!(
        r.log_lines().iter().any(|l| l.ends_with(&marker)),
        "{name}: marker missing from the log"
    );

    // Memory: free and cache within what the guest saw (the dump is taken seconds later).
    let mem = r.memory.as_ref().expect("memory");
    let guest_free = g.meminfo["MemFree"];
    assert!(
        mem.free_kib.abs_diff(guest_free) < g.mem_total_kb / 20,
        "{name}: free {} vs guest {guest_free}",
        mem.free_kib
    );
    assert!(mem.free_kib < mem.total_kib && !mem.zones.is_empty());
    assert_eq!(
        mem.free_per_order.len(),
        11,
        "{name}: MAX_ORDER 11 on x86_64 6.1"
    );
    let rqs = r.runqueues.as_ref().expect("runqueues");
    assert_eq!(
        rqs.iter().map(|q| q.cpu).collect::<Vec<_>>(),
        [0, 1],
        "{name}"
    );
}

#[test]
fn qemu_dumps_agree_with_the_guest() {
    let Some(dir) = qemu_fixture() else { return };
    let g = guest_view(&dir);
    for path in variants(
        &dir,
        &["vmcore.elf", "vmcore.kdump-zlib.flat", "vmcore.kdump-zlib"],
    ) {
        let r = build(&path, &full());
        let name = path.display().to_string();
        assert_agrees_with_guest(&r, &g, &name);
        let p = r.panic.as_ref().expect("panic section");
        assert_eq!(
            (p.message.as_deref(), p.cpu),
            (None, None),
            "{name}: the QEMU guest did not crash"
        );
        assert!(r.dump.incomplete.is_none(), "{name}");
    }
}

/// Every kernel generation a fleet runs: Debian 11's 5.10 (kallsyms found by scanning the
/// image), 13's 6.12 (page types, new ORC layout) and 7.x (place-relative kallsyms, split
/// timekeepers, SLUB sheaves), as QEMU dumps and genuine kdump captures.
#[test]
fn other_kernels_agree_with_their_guests() {
    for suite in SUITES {
        for (kind, files) in [
            ("qemu", &["vmcore.elf", "vmcore.kdump-zlib"][..]),
            (
                "kdump",
                &["vmcore.proc.elf", "vmcore.d31.lzo", "vmcore.d31.zlib"][..],
            ),
        ] {
            let Some(dir) = suite_fixture(kind, suite) else {
                continue;
            };
            let g = guest_view(&dir);
            for dump in variants(&dir, files) {
                let name = dump.display().to_string();
                let r = build(&dump, &full());
                assert_agrees_with_guest(&r, &g, &name);
                if kind == "kdump" {
                    let p = r.panic.as_ref().expect("panic section");
                    assert_eq!(
                        p.message.as_deref(),
                        Some("Kernel panic - not syncing: sysrq triggered crash"),
                        "{name}"
                    );
                }
            }
        }
    }
}

#[test]
fn kdump_vmcores_agree_with_the_guest_and_show_the_panic() {
    let Some(dir) = kdump_fixture() else { return };
    let g = guest_view(&dir);
    let mut names = vec![
        "vmcore.proc.elf",
        "vmcore.d31.elf",
        "vmcore.d31.zlib",
        "vmcore.d31.lzo",
        "vmcore.d31.lzo.flat",
    ];
    if recompressed_fixture().is_some() {
        names.extend(["vmcore.d31.snappy", "vmcore.d31.zstd"]);
    }
    for path in variants(&dir, &names) {
        let r = build(&path, &full());
        let name = path.display().to_string();
        assert_agrees_with_guest(&r, &g, &name);
        let p = r.panic.as_ref().expect("panic section");
        assert_eq!(
            p.message.as_deref(),
            Some("Kernel panic - not syncing: sysrq triggered crash"),
            "{name}"
        );
        assert!(
            p.context
                .iter()
                .any(|c| c.contains("sysrq: Trigger a crash")),
            "{name}: {:?}",
            p.context
        );
        // The CPU that panicked is the one whose saved registers belong to pid 1 (init ran
        // `echo c > /proc/sysrq-trigger`), and pid 1 is what ran there.
        let cpu = p.cpu.expect("panic cpu");
        let notes = rootfs_rs::dump::Dump::open(&path).expect("open").notes;
        assert_eq!(
            notes.cpus[cpu as usize].pid,
            Some(1),
            "{name}: panic cpu {cpu}"
        );
        assert_eq!(p.task, Some((1, g.tasks[&1].clone())), "{name}");
    }
}

/// The crashed kernel's command line and taint, from `saved_command_line` and
/// `tainted_mask`, against two other witnesses: the log's own "Command line:" record
/// (printed from boot_command_line at boot) and the panic line on the guest's console
/// ("… Kdump: loaded Not tainted 6.1.0-…").
#[test]
fn cmdline_and_taint_agree_with_the_log_and_the_console() {
    let Some(dir) = kdump_fixture() else { return };
    let r = build(&dir.join("vmcore.d31.zlib"), &full());
    let sys = r.system.as_ref().expect("sys section");
    let logged = r
        .log
        .iter()
        .flatten()
        .find_map(|rec| rec.text.strip_prefix("Command line: "))
        .expect("a Command line: record in the log");
    assert_eq!(sys.cmdline.as_deref(), Some(logged));
    assert!(logged.contains("crashkernel="), "{logged}");
    let console = std::fs::read_to_string(dir.join("serial.log")).expect("serial.log");
    let panic_line = console
        .lines()
        .find(|l| l.contains(" Comm: ") && l.contains(" PID: "))
        .expect("the panic's CPU/PID line on the console");
    let console_taint = if panic_line.contains(" Not tainted ") {
        "Not tainted".to_string()
    } else {
        let after = panic_line.split("Tainted: ").nth(1).unwrap_or("");
        format!(
            "Tainted: {}",
            after.split(" 6.").next().unwrap_or(after).trim_end()
        )
    };
    assert_eq!(
        sys.tainted.as_deref().map(str::trim_end),
        Some(console_taint.as_str()),
        "{panic_line}"
    );
}

/// The log detectors (oops, BUG, WARNING, lockups, RCU stalls, hung tasks, OOM kills) on a
/// real log: the guest's own console (its serial log, not our reading of the dump) is
/// the truth for how many of each it printed, and the report must name exactly those.
#[test]
fn log_events_in_the_report_match_the_guest_console() {
    let Some(dir) = kdump_fixture() else { return };
    let console = std::fs::read_to_string(dir.join("serial.log")).expect("serial.log");
    let printed = |needle: &str| console.lines().filter(|l| l.contains(needle)).count();
    let expected = [
        ("log:oops", printed("] Oops: ")),
        ("log:warning", printed("] WARNING: CPU: ")),
        ("log:soft-lockup", printed("BUG: soft lockup - ")),
        ("log:hard-lockup", printed("Watchdog detected hard LOCKUP")),
        ("log:hung-task", printed("] INFO: task ")),
        (
            "log:oom-kill",
            printed("out of memory: Killed process") + printed("Out of memory: Killed process"),
        ),
    ];
    let r = build(&dir.join("vmcore.d31.zlib"), &full());
    for (check, count) in expected {
        let found = r.warnings.iter().filter(|w| w.check == check).count();
        assert_eq!(found, count, "{check}: {:?}", r.warnings);
    }
}

/// Copies the first `len` bytes of `src` to a scratch file, with `patch` applied.
fn scratch(src: &Path, len: u64, tag: &str, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    use std::io::Read;
    let mut data = Vec::new();
    std::fs::File::open(src)
        .expect("fixture")
        .take(len)
        .read_to_end(&mut data)
        .expect("read fixture");
    patch(&mut data);
    let dir = common::root().join("target/scratch");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let out = dir.join(format!(
        "{}.{tag}",
        src.file_name().and_then(|n| n.to_str()).unwrap_or("dump")
    ));
    std::fs::write(&out, data).expect("write scratch");
    out
}

#[test]
fn a_truncated_elf_vmcore_gives_a_partial_report_and_a_warning() {
    let Some(dir) = kdump_fixture() else { return };
    let src = dir.join("vmcore.d31.elf");
    let size = std::fs::metadata(&src).expect("fixture").len();
    // A quarter of the file is cut, but never the kernel image, which physical KASLR puts
    // anywhere (without it nothing can be read: that case has its own test below).
    let cut_at = (size * 3 / 4)
        .max(common::kernel_image_end_in_file(&src) + (4 << 20))
        .min(size - (1 << 20));
    let cut = scratch(&src, cut_at, "cut75", |_| {});
    let r = build(&cut, &full());
    assert!(r.dump.opened, "{:?}", r.warnings);
    let why = r.dump.incomplete.as_deref().expect("truncation noticed");
    assert!(why.contains("truncated"), "{why}");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.check == "dump" && w.message.contains("incomplete")),
        "{:?}",
        r.warnings
    );
    assert_eq!(
        r.system.as_ref().map(|s| s.release.as_str()),
        Some(guest_view(&dir).release.as_str())
    );
    // What lies in the missing part is named in "partial" warnings, the rest is reported.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.check.starts_with("section:") && w.message.contains("not in the dump")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.memory.is_some() || r.tasks.as_ref().is_some_and(|t| !t.is_empty()) || r.log.is_some(),
        "nothing survived"
    );
    let _ = std::fs::remove_file(cut);
}

#[test]
fn truncated_kdump_and_flipped_header_bytes_never_panic() {
    let Some(dir) = kdump_fixture() else { return };
    let src = dir.join("vmcore.d31.lzo");
    let size = std::fs::metadata(&src).expect("fixture").len();
    let cut = scratch(&src, size / 2, "cut50", |_| {});
    let r = build(&cut, &full());
    assert!(
        r.warnings.iter().any(|w| w.check == "section:dump"),
        "{:?}",
        r.warnings
    );
    assert!(!r.dump.opened && r.tasks.is_none());
    for (i, at) in [0usize, 8, 428, 440, 4096, 4096 + 32, 4096 + 40, 8192, 9000]
        .into_iter()
        .enumerate()
    {
        let flipped = scratch(&src, size, &format!("flip{i}"), |d| d[at] ^= 0xa5);
        let r = build(&flipped, &full());
        // Either it still opens (the byte did not matter) or it says why it could not.
        assert!(r.dump.opened || !r.warnings.is_empty(), "flip at {at}");
        let _ = std::fs::remove_file(flipped);
    }
    let _ = std::fs::remove_file(cut);
}

#[test]
fn a_dump_without_vmcoreinfo_still_reports_its_container() {
    let Some(dir) = kdump_fixture() else { return };
    let src = dir.join("vmcore.d31.zlib");
    let size = std::fs::metadata(&src).expect("fixture").len();
    // kdump_sub_header (one block in) holds offset_vmcoreinfo, size_vmcoreinfo at 32 and 40;
    // the ELF notes copied into the file carry a VMCOREINFO note too: rename it.
    let block = 4096;
    let no_info = scratch(&src, size, "novmcoreinfo", |d| {
        d[block + 40..block + 48].fill(0);
        let head = d.len().min(1 << 20);
        let mut renamed = 0;
        for i in 0..head - 11 {
            if &d[i..i + 11] == b"VMCOREINFO\0" {
                d[i + 9] = b'X';
                renamed += 1;
            }
        }
        assert!(renamed > 0, "no VMCOREINFO note found");
    });
    let r = build(&no_info, &full());
    let w: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.check == "section:dump")
        .collect();
    assert!(w.iter().any(|w| w.message.contains("VMCOREINFO")), "{w:?}");
    assert_eq!(r.dump.format.as_deref(), Some("Kdump"));
    assert_eq!(r.dump.compression.as_deref(), Some("zlib"));
    assert_eq!(r.dump.cpus_in_notes, 2);
    let _ = std::fs::remove_file(no_info);
}

/// makedumpfile --dump-dmesg is an independent reader of the same ring buffer: the texts must
/// be identical (it indents continuation lines where the kernel console repeats the prefix).
#[test]
fn the_log_matches_makedumpfile_dump_dmesg() {
    let Some(dir) = kdump_fixture() else { return };
    let out = common::root().join("target/scratch");
    std::fs::create_dir_all(&out).expect("scratch dir");
    for name in ["vmcore.proc.elf", "vmcore.d31.zlib"] {
        let theirs = out.join(format!("{name}.dmesg"));
        let _ = std::fs::remove_file(&theirs);
        let Ok(status) = qemu_tests::host_tools::command("makedumpfile")
            .arg("--dump-dmesg")
            .arg(dir.join(name))
            .arg(&theirs)
            .output()
        else {
            eprintln!("SKIP: makedumpfile missing");
            return;
        };
        assert!(
            status.status.success(),
            "makedumpfile --dump-dmesg {name} failed"
        );
        let text = std::fs::read_to_string(&theirs).expect("dmesg text");
        // Text after the "[ seconds] " prefix, leading blanks dropped (indentation differs).
        let strip = |l: &str| {
            l.split_once("] ")
                .filter(|_| l.starts_with('['))
                .map_or(l, |(_, t)| t)
                .trim_start()
                .to_string()
        };
        let expected: Vec<String> = text.lines().map(strip).collect();
        let r = build(
            &dir.join(name),
            &Options {
                full_log: true,
                sections: vec!["log".into()],
                ..Options::default()
            },
        );
        let ours: Vec<String> = r.log_lines().iter().map(|l| strip(l)).collect();
        assert!(
            expected.len() > 300,
            "{name}: makedumpfile printed {} lines",
            expected.len()
        );
        assert_eq!(ours, expected, "{name}");
        let _ = std::fs::remove_file(theirs);
    }
}

/// With BTF unreadable, the kernel log (described by VMCOREINFO alone) is still reported.
#[test]
fn without_btf_the_log_and_panic_message_are_still_reported() {
    use rootfs_rs::dump::format::elf::ElfDump;
    use rootfs_rs::dump::format::source::DumpFile;
    let Some(dir) = kdump_fixture() else { return };
    let src = dir.join("vmcore.d31.elf");
    let dump = rootfs_rs::dump::Dump::open(&src).expect("open");
    let btf_pa = dump
        .mem
        .kernel_text_to_phys(dump.symbol("__start_BTF").expect("__start_BTF"))
        .expect("in the image");
    let elf = ElfDump::open(DumpFile::open(&src).expect("file")).expect("elf");
    // The kernel image can be in two segments (its own and all of RAM): break every copy.
    let offsets: Vec<usize> = elf
        .segments()
        .iter()
        .filter(|s| (s.paddr..s.paddr + s.file_size).contains(&btf_pa))
        .map(|s| (s.file_offset + btf_pa - s.paddr) as usize)
        .collect();
    assert!(!offsets.is_empty());
    let size = std::fs::metadata(&src).expect("fixture").len();
    let broken = scratch(&src, size, "nobtf", |d| {
        for &at in &offsets {
            assert_eq!(&d[at..at + 2], &[0x9f, 0xeb], "BTF magic where expected");
            d[at..at + 2].fill(0);
        }
    });
    let r = build(&broken, &full());
    let w: Vec<_> = r
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.check, w.message))
        .collect();
    assert!(
        w.iter()
            .any(|m| m.starts_with("section:dump") && m.contains("only the log")),
        "{w:?}"
    );
    assert!(r.tasks.is_none() && r.system.is_none() && !r.dump.opened);
    assert_eq!(r.dump.format.as_deref(), Some("Elf"));
    let marker = format!("KBOOT-MARKER triage fixture {}", guest_view(&dir).release);
    assert!(
        r.log_lines().iter().any(|l| l.ends_with(&marker)),
        "marker missing"
    );
    let p = r.panic.as_ref().expect("panic from the log");
    assert_eq!(
        p.message.as_deref(),
        Some("Kernel panic - not syncing: sysrq triggered crash")
    );
    let _ = std::fs::remove_file(broken);
}
