//! `savedump` on the genuine /proc/vmcore fixture: the saved kdump file re-opens with the same
//! facts as the guest's own view, leaves out the same pages as Debian's makedumpfile -d 31,
//! and makedumpfile and crash read it. Bad inputs give errors and leave no file behind.

#[path = "triage_common/mod.rs"]
mod common;

use common::{assert_matches_guest, guest_view, kdump_fixture, suite_fixture, SUITES};
use rootfs_rs::dump::format::open::DumpFormat;
use rootfs_rs::dump::kernel::KernelCore;
use rootfs_rs::dump::{Dump, DumpError};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kboot"))
        .args(args)
        .output()
        .expect("run kboot")
}

fn scratch(name: &str) -> PathBuf {
    let dir = common::root().join("../target/test-scratch/triage_save");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn save(vmcore: &Path, out: &Path, flags: &[&str]) -> String {
    let mut args = vec!["savedump", "--quiet"];
    args.extend_from_slice(flags);
    args.extend([vmcore.to_str().unwrap(), out.to_str().unwrap()]);
    let o = kboot(&args);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "savedump {flags:?}: {stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

/// The 2nd ("dumped") bitmap of a kdump-compressed file, read with the format's own
/// offsets rather than through the reader under test.
fn dumped_bitmap(path: &Path) -> Vec<u8> {
    let f = std::fs::read(path).unwrap();
    let le32 = |at: usize| u32::from_le_bytes(f[at..at + 4].try_into().unwrap()) as usize;
    let (block, sub, blocks) = (le32(428), le32(432), le32(436));
    let half = blocks * block / 2;
    let start = (1 + sub) * block + half;
    f[start..start + half].to_vec()
}

#[test]
fn saved_dumps_reopen_with_the_guests_facts_in_every_compression() {
    let Some(dir) = kdump_fixture() else { return };
    let guest = guest_view(&dir);
    let vmcore = dir.join("vmcore.proc.elf");
    for (flag, compression) in [
        ("-c", "zlib"),
        ("-l", "lzo"),
        ("-p", "snappy"),
        ("-z", "zstd"),
    ] {
        let out = scratch(&format!("dump.{compression}"));
        save(&vmcore, &out, &[flag]);
        let dump = Dump::open(&out).unwrap_or_else(|e| panic!("{compression}: {e}"));
        assert_eq!(dump.format, DumpFormat::Kdump);
        assert_eq!(dump.compression, compression);
        assert!(
            dump.incomplete.is_none(),
            "{compression}: {:?}",
            dump.incomplete
        );
        assert_matches_guest(&dump, &guest, compression);
        let _ = std::fs::remove_file(&out);
    }
}

/// The page filter against the truth: the guest's own /proc/kpageflags, read just before
/// the crash. At -d 31 every slab page is kept and at least 90 % of the free (buddy) blocks
/// are left out, on 6.1 (PG_slab), on 5.10, and on 6.12 and 7.x (slab and buddy as page
/// types, which Debian 12's makedumpfile does not know).
#[test]
fn filtering_keeps_every_slab_page_and_drops_free_ones_on_every_kernel() {
    const KPF_SLAB: u64 = 1 << 7;
    const KPF_BUDDY: u64 = 1 << 10;
    let dirs = kdump_fixture()
        .into_iter()
        .chain(SUITES.iter().filter_map(|s| suite_fixture("kdump", s)));
    for dir in dirs {
        let name = dir.display().to_string();
        let kpf = std::fs::read(dir.join("kpageflags")).expect("kpageflags");
        let flags: Vec<u64> = kpf
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let out = scratch("dump.kpageflags");
        let stdout = save(&dir.join("vmcore.proc.elf"), &out, &["-d", "31"]);
        assert!(stdout.contains("pages saved"), "{name}: {stdout}");
        let bitmap = dumped_bitmap(&out);
        let kept = |pfn: usize| bitmap.get(pfn / 8).is_some_and(|b| b >> (pfn % 8) & 1 == 1);
        let with = |bit: u64| -> Vec<usize> {
            (0..flags.len()).filter(|&p| flags[p] & bit != 0).collect()
        };
        let slab = with(KPF_SLAB);
        let lost: Vec<usize> = slab.iter().copied().filter(|&p| !kept(p)).collect();
        assert!(slab.len() > 500, "{name}: {} slab pages", slab.len());
        // The snapshot is taken a moment before the crash, and writing it to disk churns
        // slab caches: a slab page may be freed in between (seen: 1 of 3845 on 6.1, which
        // makedumpfile left out as free too). More than 0.2 % would be a filter that misses
        // slab pages, which loses whole caches at once.
        eprintln!(
            "{name}: {} of {} slab pages left out; {} free blocks",
            lost.len(),
            slab.len(),
            with(KPF_BUDDY).len()
        );
        assert!(
            lost.len() * 500 <= slab.len(),
            "{name}: {} of {} slab pages left out, e.g. pfn {:#x?}",
            lost.len(),
            slab.len(),
            &lost[..lost.len().min(5)]
        );
        let buddy = with(KPF_BUDDY);
        let dropped = buddy.iter().filter(|&&p| !kept(p)).count();
        assert!(
            buddy.len() > 100 && dropped * 10 >= buddy.len() * 9,
            "{name}: {dropped} of {} free blocks left out",
            buddy.len()
        );
        let _ = std::fs::remove_file(&out);
    }
}

#[test]
fn filtering_matches_makedumpfile_and_its_readers_accept_the_file() {
    let Some(dir) = kdump_fixture() else { return };
    let ours = scratch("dump.d31");
    let stdout = save(&dir.join("vmcore.proc.elf"), &ours, &["-d", "31"]);
    assert!(stdout.contains("pages saved"), "{stdout}");

    // The same pages as Debian's makedumpfile -c -d 31 on the same vmcore, within 0.5 %.
    let theirs = dumped_bitmap(&dir.join("vmcore.d31.zlib"));
    let mine = dumped_bitmap(&ours);
    let ones = |b: &[u8]| b.iter().map(|x| x.count_ones() as usize).sum::<usize>();
    let differ: usize = mine
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a ^ b).count_ones() as usize)
        .sum();
    let total = ones(&theirs);
    assert!(total > 1000, "makedumpfile kept only {total} pages");
    assert!(
        differ * 200 <= total,
        "{differ} of {total} pages filtered differently from makedumpfile (ours keep {})",
        ones(&mine)
    );

    // makedumpfile reads the kernel log out of our file exactly as out of its own.
    let dmesg = |dump: &Path, name: &str| {
        let out = scratch(name);
        let o = qemu_tests::host_tools::command("makedumpfile")
            .arg("--dump-dmesg")
            .arg(dump)
            .arg(&out)
            .output()
            .expect("run makedumpfile");
        assert!(
            o.status.success(),
            "makedumpfile --dump-dmesg {}: {}",
            dump.display(),
            String::from_utf8_lossy(&o.stdout)
        );
        std::fs::read(&out).unwrap()
    };
    let log = dmesg(&ours, "ours.dmesg");
    assert_eq!(log, dmesg(&dir.join("vmcore.d31.zlib"), "theirs.dmesg"));
    assert!(String::from_utf8_lossy(&log).contains("sysrq triggered crash"));
    // Our own LZO1X encoder, decoded by makedumpfile's liblzo2.
    let ours_lzo = scratch("dump.d31.lzo");
    save(&dir.join("vmcore.proc.elf"), &ours_lzo, &["-l"]);
    assert_eq!(dmesg(&ours_lzo, "ours-lzo.dmesg"), log);
    let _ = std::fs::remove_file(&ours_lzo);

    // crash recognises the file and finds the release without a vmlinux.
    let guest = guest_view(&dir);
    let o = qemu_tests::host_tools::command("crash")
        .arg("--osrelease")
        .arg(&ours)
        .output()
        .expect("run crash");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), guest.release);
    let _ = std::fs::remove_file(&ours);
}

#[test]
fn a_truncated_vmcore_saves_what_it_has_and_says_incomplete() {
    let Some(dir) = kdump_fixture() else { return };
    let cut = scratch("vmcore.cut.elf");
    let whole = std::fs::read(dir.join("vmcore.proc.elf")).unwrap();
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let out = scratch("dump.cut");
    let stdout = save(&cut, &out, &[]);
    assert!(stdout.contains("incomplete"), "{stdout}");
    // The container, VMCOREINFO and the page tables open, flagged incomplete. Whether
    // kallsyms and BTF are among the saved two thirds depends on where KASLR put the
    // kernel in this boot's fixture, so the full open may fail, but only by naming the
    // missing page.
    let core = KernelCore::open(&out).unwrap_or_else(|e| panic!("{e}"));
    assert!(core.incomplete.is_some());
    assert_eq!(core.format, DumpFormat::Kdump);
    match Dump::from_core(core) {
        Ok(dump) => assert!(dump.incomplete.is_some()),
        Err(e) => assert!(matches!(e, DumpError::PageExcluded(_)), "{e}"),
    }
    // Triage still reports what it can, and says the dump is incomplete.
    let o = kboot(&["triage", out.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(
        report.contains("incomplete"),
        "{report}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_file(&cut);
    let _ = std::fs::remove_file(&out);
}

#[test]
fn bad_inputs_are_errors_and_leave_no_output() {
    let Some(dir) = kdump_fixture() else { return };
    let out = scratch("dump.bad");
    // A kdump file is not an ELF vmcore; a text file is not a dump at all.
    let garbage = scratch("garbage");
    std::fs::write(&garbage, "not a dump\n").unwrap();
    let kdump = dir.join("vmcore.d31.zlib");
    for input in [
        kdump.as_path(),
        garbage.as_path(),
        Path::new("/nonexistent/vmcore"),
    ] {
        let o = kboot(&["savedump", input.to_str().unwrap(), out.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", input.display());
        assert!(err.contains("savedump: "), "{err}");
        assert!(!out.exists(), "{} left {}", input.display(), out.display());
    }
    // An existing output is never overwritten.
    std::fs::write(&out, "keep me").unwrap();
    let o = kboot(&[
        "savedump",
        dir.join("vmcore.proc.elf").to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    for usage in [
        &["savedump"][..],
        &["savedump", "-d", "99", "a", "b"],
        &["savedump", "-q", "a", "b"],
    ] {
        assert_eq!(kboot(usage).status.code(), Some(2), "{usage:?}");
    }
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&garbage);
}
