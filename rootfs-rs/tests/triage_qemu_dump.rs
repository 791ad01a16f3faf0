//! End to end on a real QEMU guest dump (Debian 6.1 kernel, KASLR on): every layer from the
//! file formats to the task walk, checked against what the guest itself printed.

#[path = "triage_common/mod.rs"]
mod common;

use common::{assert_matches_guest, guest_view, qemu_fixture};
use rootfs_rs::dump::format::open::{open_path, DumpFormat};
use rootfs_rs::dump::kernel::btf::Kind;
use rootfs_rs::dump::kernel::kallsyms::AddressEncoding;
use rootfs_rs::dump::kernel::types;
use rootfs_rs::dump::{hlist_for_each_entry, list_for_each_entry, Dump, DumpError, KernelMemory};
use std::path::Path;

const FORMATS: &[(&str, DumpFormat)] = &[
    ("vmcore.elf", DumpFormat::Elf),
    ("vmcore.kdump-zlib.flat", DumpFormat::FlattenedKdump),
    ("vmcore.kdump-zlib", DumpFormat::Kdump),
];

fn open(dir: &Path, name: &str) -> Option<Dump> {
    let p = dir.join(name);
    if !p.exists() {
        eprintln!("SKIP: {} not made (makedumpfile missing?)", p.display());
        return None;
    }
    Some(Dump::open(&p).unwrap_or_else(|e| panic!("{name}: {e}")))
}

#[test]
fn every_format_matches_the_guests_own_view() {
    let Some(dir) = qemu_fixture() else { return };
    let guest = guest_view(&dir);
    for &(name, format) in FORMATS {
        let Some(dump) = open(&dir, name) else {
            continue;
        };
        assert_eq!(dump.format, format, "{name}");
        assert_matches_guest(&dump, &guest, name);
    }
}

#[test]
fn physical_pages_agree_across_formats() {
    let Some(dir) = qemu_fixture() else { return };
    let elf = open_path(&dir.join("vmcore.elf")).unwrap();
    let others: Vec<_> = ["vmcore.kdump-zlib.flat", "vmcore.kdump-zlib"]
        .iter()
        .filter(|n| dir.join(n).exists())
        .map(|n| open_path(&dir.join(n)).unwrap())
        .collect();
    assert!(!others.is_empty());
    let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
    let mut compared = 0;
    for pfn in (0..(512u64 << 8)).step_by(61) {
        if elf.phys.read_phys(pfn << 12, &mut a).is_err() {
            continue;
        }
        for o in &others {
            o.phys
                .read_phys(pfn << 12, &mut b)
                .unwrap_or_else(|e| panic!("pfn {pfn:#x}: {e}"));
            assert!(a == b, "pfn {pfn:#x} differs");
        }
        compared += 1;
    }
    assert!(compared > 1500, "compared only {compared} pages");
    let mut beyond = [0u8; 8];
    assert!(matches!(
        elf.phys.read_phys(1 << 40, &mut beyond),
        Err(DumpError::NotInDump(_))
    ));
    assert!(matches!(
        others[0].phys.read_phys(1 << 40, &mut beyond),
        Err(DumpError::NotInDump(_))
    ));
}

#[test]
fn kallsyms_agree_with_vmcoreinfo_and_symbolize_cpu_registers() {
    let Some(dir) = qemu_fixture() else { return };
    let Some(dump) = open(&dir, "vmcore.elf") else {
        return;
    };
    let ks = &dump.kallsyms;
    assert!(ks.len() > 50_000);
    assert_eq!(
        ks.encoding,
        AddressEncoding::AbsolutePercpu,
        "Debian 6.1 has KALLSYMS_ABSOLUTE_PERCPU"
    );
    assert_eq!(ks.lookup("_stext"), dump.vmcoreinfo.symbol("_stext"));
    let (checked, matched) = ks.verified;
    assert!(checked >= 5 && matched == checked, "{matched}/{checked}");
    for (name, addr) in dump
        .vmcoreinfo
        .symbols()
        .filter(|(n, _)| !n.starts_with("kallsyms_") && *n != "mem_section")
    {
        if let Some(got) = ks.lookup(name) {
            assert_eq!(got, addr, "{name}");
        }
    }
    // KASLR: text moved by KERNELOFFSET from the link address 0xffffffff81000000.
    let koff = dump.vmcoreinfo.kernel_offset.expect("KERNELOFFSET");
    assert_eq!(ks.lookup("_text"), Some(0xffffffff81000000 + koff));
    let (sym, off) = ks.symbolize(ks.lookup("schedule").unwrap() + 5).unwrap();
    assert_eq!((sym.name, off), ("schedule", 5));
    // Each CPU was interrupted somewhere in kernel text, except the one running the guest's
    // user-space RT hog (kb-spin, pinned to CPU 1).
    assert_eq!(dump.notes.cpus.len(), 2);
    for (i, cpu) in dump.notes.cpus.iter().enumerate() {
        let rip = cpu.reg("rip").unwrap();
        if rip < 0x0000_8000_0000_0000 {
            let curr = dump
                .per_cpu("runqueues", i as u32)
                .unwrap()
                .field("curr.comm")
                .unwrap()
                .string()
                .unwrap();
            assert_eq!((i, curr.as_str()), (1, "kb-spin"), "user-mode rip {rip:#x}");
            continue;
        }
        let (sym, off) = ks.symbolize(rip).unwrap();
        assert!(
            matches!(sym.kind, 't' | 'T'),
            "rip {rip:#x} in {} ({})",
            sym.name,
            sym.kind
        );
        assert!(off < 0x1000, "rip {rip:#x} = {}+{off:#x}", sym.name);
    }
}

#[test]
fn btf_from_the_dump_agrees_with_vmcoreinfo_offsets_and_sizes() {
    let Some(dir) = qemu_fixture() else { return };
    let Some(dump) = open(&dir, "vmcore.elf") else {
        return;
    };
    let btf = &dump.btf;
    let mut compared = 0;
    for (key, value) in &dump.vmcoreinfo.raw {
        if let Some(inner) = key
            .strip_prefix("OFFSET(")
            .and_then(|k| k.strip_suffix(')'))
        {
            let Some((s, m)) = inner.split_once('.') else {
                continue;
            };
            let Some(id) = btf.find(Kind::Struct, s) else {
                continue;
            };
            let got = types::offset_of(btf, id, m).unwrap_or_else(|e| panic!("{inner}: {e}"));
            assert_eq!(got.to_string(), *value, "OFFSET({inner})");
            compared += 1;
        } else if let Some(s) = key.strip_prefix("SIZE(").and_then(|k| k.strip_suffix(')')) {
            let id = btf
                .find(Kind::Struct, s)
                .or_else(|| btf.find(Kind::Typedef, s));
            let Some(id) = id else { continue };
            assert_eq!(btf.size_of(id).unwrap().to_string(), *value, "SIZE({s})");
            compared += 1;
        }
    }
    assert!(compared >= 40, "only {compared} VMCOREINFO facts compared");
}

#[test]
fn value_api_on_real_kernel_structures() {
    let Some(dir) = qemu_fixture() else { return };
    let Some(dump) = open(&dir, "vmcore.elf") else {
        return;
    };
    let init = dump.var("init_task").unwrap();
    assert_eq!(init.type_name(), "struct task_struct");
    assert_eq!(init.field("comm").unwrap().string().unwrap(), "swapper/0");
    assert_eq!(init.field("comm").unwrap().bytes().unwrap().len(), 16);
    assert!(init.has_field("se.exec_start") && !init.has_field("se.no_such_field"));
    assert!(init.field("se.exec_start").unwrap().as_u64().is_ok());
    assert!(matches!(
        init.field("no_such_field"),
        Err(DumpError::Missing(_))
    ));
    assert_eq!(
        init.field_any(&["state", "__state"]).unwrap().type_name(),
        "unsigned int"
    );
    let bit = init.field("sched_reset_on_fork").unwrap().as_u64().unwrap();
    assert!(bit <= 1);
    assert_eq!(
        dump.var("system_state")
            .unwrap()
            .enum_name()
            .unwrap()
            .as_deref(),
        Some("SYSTEM_RUNNING")
    );
    assert_eq!(
        dump.var("panic_cpu").unwrap().as_i64().unwrap(),
        -1,
        "no panic happened: PANIC_CPU_INVALID"
    );

    // Walk to pid 1 and through pointers: task->mm->... and task->parent->comm (auto-deref).
    let heads =
        list_for_each_entry(&init.field("tasks").unwrap(), "struct task_struct", "tasks").unwrap();
    let task1 = heads
        .map(Result::unwrap)
        .find(|t| t.field("pid").unwrap().as_i64().unwrap() == 1)
        .unwrap();
    assert_eq!(
        task1.field("parent.comm").unwrap().string().unwrap(),
        "swapper/0"
    );
    assert_eq!(
        task1.field("parent").unwrap().deref().unwrap().address(),
        init.address()
    );
    assert!(
        task1.field("mm.mmap_base").unwrap().as_u64().unwrap() > 0,
        "init has a user address space"
    );
    let kthreadd = dump
        .container_of(
            task1.field("tasks.next").unwrap().as_u64().unwrap(),
            "struct task_struct",
            "tasks",
        )
        .unwrap();
    assert_eq!(kthreadd.field("pid").unwrap().as_i64().unwrap(), 2);
    assert!(
        kthreadd.field("mm").unwrap().deref().is_err(),
        "kernel threads have no mm"
    );
    assert_eq!(
        dump.container_of(
            task1.field("tasks").unwrap().address(),
            "struct task_struct",
            "tasks"
        )
        .unwrap()
        .address(),
        task1.address()
    );

    // hlist: the pid's task list holds exactly its task (pid_links[PIDTYPE_PID]).
    let pid_tasks = task1.field("thread_pid.tasks[0]").unwrap();
    let on_pid: Vec<_> = hlist_for_each_entry(&pid_tasks, "struct task_struct", "pid_links")
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(on_pid.len(), 1);
    assert_eq!(on_pid[0].address(), task1.address());

    // Arrays, per-CPU variables and the run queues.
    let offsets = dump.var("__per_cpu_offset").unwrap();
    assert_eq!(dump.nr_cpu_ids().unwrap(), 2);
    for cpu in 0..2u32 {
        let rq = dump.per_cpu("runqueues", cpu).unwrap();
        assert_eq!(rq.field("cpu").unwrap().as_i64().unwrap(), cpu as i64);
        let off = offsets.index(cpu as u64).unwrap().as_u64().unwrap();
        assert_eq!(
            rq.address(),
            dump.symbol("runqueues").unwrap().wrapping_add(off)
        );
        let idle = rq.field("idle.comm").unwrap().string().unwrap();
        assert_eq!(idle, format!("swapper/{cpu}"));
    }
    assert!(
        offsets.index(5).unwrap().as_u64().is_ok(),
        "unknown-length arrays are not bounds checked"
    );
    let avenrun = dump.var("avenrun").unwrap();
    assert!(
        avenrun.index(2).is_ok() && avenrun.index(3).is_err(),
        "avenrun[3] is bounds checked"
    );
    let release = dump
        .var("init_uts_ns")
        .unwrap()
        .field("name.release")
        .unwrap();
    assert_eq!(
        release.c_bytes().unwrap(),
        dump.vmcoreinfo.osrelease.clone().unwrap().into_bytes()
    );
    let cmdline = dump.var("saved_command_line").unwrap().string().unwrap();
    assert!(cmdline.contains("console=ttyS0"), "{cmdline}");
}

#[test]
fn list_walks_stop_on_limits_and_cycles() {
    let Some(dir) = qemu_fixture() else { return };
    let Some(dump) = open(&dir, "vmcore.elf") else {
        return;
    };
    let head = dump.var("init_task").unwrap().field("tasks").unwrap();
    let all = list_for_each_entry(&head, "struct task_struct", "tasks")
        .unwrap()
        .count();
    assert!(all > 40);
    let limited: Vec<_> = list_for_each_entry(&head, "struct task_struct", "tasks")
        .unwrap()
        .limit(5)
        .collect();
    assert_eq!(limited.len(), 6);
    assert!(matches!(limited[5], Err(DumpError::Loop(_))));
    // A "head" that is not on the ring (the address of init_task.tasks.prev seen as a
    // list_head) leads into the ring and never comes back: the walk must report a cycle.
    let fake = dump
        .value_at(head.address() + 8, "struct list_head")
        .unwrap();
    let walked: Vec<_> = list_for_each_entry(&fake, "struct task_struct", "tasks")
        .unwrap()
        .collect();
    assert!(
        matches!(walked.last(), Some(Err(DumpError::Loop(m))) if m.contains("cycle")),
        "{:?}",
        walked.last()
    );
    assert!(walked.len() < 4 * all);
    // Unmapped memory is an error, not a crash.
    assert!(matches!(
        dump.read_u64(0xffff_c000_0000_0000),
        Err(DumpError::Unmapped(_))
    ));
}

#[test]
fn qemu_cpu_notes_and_direct_map_agree_with_the_page_tables() {
    let Some(dir) = qemu_fixture() else { return };
    let Some(dump) = open(&dir, "vmcore.elf") else {
        return;
    };
    let offsets = dump.percpu_offsets().unwrap().to_vec();
    let task1 = dump
        .var("init_task")
        .unwrap()
        .field("tasks.next")
        .unwrap()
        .as_u64()
        .unwrap();
    let (via_init_top_pgt, _) = dump.mem.walk(dump.mem.pgd, task1).unwrap();
    assert_eq!(
        dump.mem.direct_map_to_phys(task1),
        Some(via_init_top_pgt),
        "direct map shortcut"
    );
    for (i, cpu) in dump.notes.cpus.iter().enumerate() {
        // In kernel mode GS holds the CPU's per-CPU offset; in user mode the swapped one does.
        let gs = [cpu.gs_base, cpu.kernel_gs_base];
        assert!(
            gs.contains(&Some(offsets[i])),
            "cpu {i}: gs {gs:x?}, __per_cpu_offset {:#x}",
            offsets[i]
        );
        // Each CPU's CR3 (whatever process it ran) maps the kernel half identically.
        let cr3 = cpu.cr3.expect("QEMU note has CR3") & 0x000f_ffff_ffff_f000;
        assert_eq!(
            dump.mem.walk(cr3, task1).unwrap().0,
            via_init_top_pgt,
            "cpu {i}"
        );
        let prb = dump.symbol("prb").unwrap();
        assert_eq!(
            dump.mem.walk(cr3, prb).unwrap().0,
            dump.mem.kernel_text_to_phys(prb).unwrap()
        );
    }
}

#[test]
fn truncated_and_corrupted_real_dumps_give_errors() {
    use rootfs_rs::dump::format::open::open_source;
    use rootfs_rs::dump::format::source::MemSource;
    let Some(dir) = qemu_fixture() else { return };
    for name in ["vmcore.elf", "vmcore.kdump-zlib.flat", "vmcore.kdump-zlib"] {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let mut head = vec![0u8; 256 << 10];
        std::io::Read::read_exact(&mut std::fs::File::open(&path).unwrap(), &mut head).unwrap();
        for cut in [0usize, 1, 16, 100, 4096, 8192, 64 << 10, 256 << 10] {
            assert!(
                open_source(MemSource(head[..cut].to_vec())).is_err(),
                "{name} cut at {cut}"
            );
        }
        // Flipped bytes in the headers: an error or a working reader, never a panic or hang.
        for i in (0..16384).step_by(13) {
            let mut f = head.clone();
            f[i] ^= 0x5a;
            if let Ok(m) = open_source(MemSource(f)) {
                let _ = m.phys.read_phys(0x100000, &mut [0u8; 64]);
            }
        }
    }
}
