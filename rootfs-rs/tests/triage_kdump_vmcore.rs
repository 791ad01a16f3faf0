//! End to end on a genuine /proc/vmcore (Debian 6.1 crashed with sysrq c, captured by a kdump
//! kernel) and on makedumpfile's filtered (-d 31) zlib, lzo, flattened and ELF versions of it.

#[path = "triage_common/mod.rs"]
mod common;

use common::{assert_matches_guest, guest_view, kdump_fixture, recompressed_fixture};
use rootfs_rs::dump::format::elf::ElfDump;
use rootfs_rs::dump::format::open::{open_path, DumpFormat};
use rootfs_rs::dump::format::source::DumpFile;
use rootfs_rs::dump::{Dump, DumpError};

const FILES: &[(&str, DumpFormat)] = &[
    ("vmcore.proc.elf", DumpFormat::Elf),
    ("vmcore.d31.elf", DumpFormat::Elf),
    ("vmcore.d31.zlib", DumpFormat::Kdump),
    ("vmcore.d31.lzo", DumpFormat::Kdump),
    ("vmcore.d31.lzo.flat", DumpFormat::FlattenedKdump),
];
/// makedumpfile's layout with pages recompressed by the reference snappy/zstd libraries.
const RECOMPRESSED: &[&str] = &["vmcore.d31.snappy", "vmcore.d31.zstd"];

fn recompressed() -> Vec<&'static str> {
    if recompressed_fixture().is_some() {
        RECOMPRESSED.to_vec()
    } else {
        Vec::new()
    }
}

#[test]
fn genuine_and_filtered_dumps_match_the_guests_own_view() {
    let Some(dir) = kdump_fixture() else { return };
    let guest = guest_view(&dir);
    let extra = recompressed().into_iter().map(|n| (n, DumpFormat::Kdump));
    for (name, format) in FILES.iter().copied().chain(extra) {
        let dump = Dump::open(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(dump.format, format, "{name}");
        assert_matches_guest(&dump, &guest, name);
    }
}

#[test]
fn the_crashing_cpu_is_found_in_the_notes() {
    let Some(dir) = kdump_fixture() else { return };
    let dump = Dump::open(&dir.join("vmcore.proc.elf")).unwrap();
    // crash_kexec() records the CPU that crashed in panic_cpu; sysrq c ran in pid 1 (/init).
    let panic_cpu = dump.var("panic_cpu").unwrap().as_i64().unwrap();
    assert!((0..2).contains(&panic_cpu), "panic_cpu = {panic_cpu}");
    let cpu = &dump.notes.cpus[panic_cpu as usize];
    assert_eq!(cpu.pid, Some(1));
    let (sym, _) = dump.kallsyms.symbolize(cpu.reg("rip").unwrap()).unwrap();
    assert!(
        sym.name.contains("crash"),
        "crashing CPU stopped in {}",
        sym.name
    );
    let curr = dump
        .per_cpu("runqueues", panic_cpu as u32)
        .unwrap()
        .field("curr")
        .unwrap();
    assert_eq!(
        curr.field("pid").unwrap().as_i64().unwrap(),
        1,
        "rq->curr of the crashing CPU"
    );
}

#[test]
fn kernel_text_segment_gives_phys_base() {
    let Some(dir) = kdump_fixture() else { return };
    let dump = Dump::open(&dir.join("vmcore.proc.elf")).unwrap();
    let elf = ElfDump::open(DumpFile::open(&dir.join("vmcore.proc.elf")).unwrap()).unwrap();
    assert_eq!(elf.phys_base_from_segments(), dump.vmcoreinfo.phys_base());
}

#[test]
fn filtered_pages_are_reported_and_kept_pages_agree() {
    let Some(dir) = kdump_fixture() else { return };
    let full = open_path(&dir.join("vmcore.proc.elf")).unwrap();
    let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
    for name in ["vmcore.d31.zlib", "vmcore.d31.lzo", "vmcore.d31.lzo.flat"]
        .into_iter()
        .chain(recompressed())
    {
        let filtered = open_path(&dir.join(name)).unwrap();
        let (mut kept, mut excluded) = (0, 0);
        for pfn in (0..(768u64 << 8)).step_by(7) {
            match filtered.phys.read_phys(pfn << 12, &mut b) {
                Ok(()) => {
                    full.phys
                        .read_phys(pfn << 12, &mut a)
                        .unwrap_or_else(|e| panic!("{name} pfn {pfn:#x}: {e}"));
                    assert!(a == b, "{name}: pfn {pfn:#x} differs from /proc/vmcore");
                    kept += 1;
                }
                Err(DumpError::PageExcluded(addr)) => {
                    assert_eq!(addr, pfn << 12);
                    assert!(
                        full.phys.read_phys(pfn << 12, &mut a).is_ok(),
                        "excluded page exists in full dump"
                    );
                    excluded += 1;
                }
                Err(DumpError::NotInDump(_)) => {}
                Err(e) => panic!("{name}: pfn {pfn:#x}: {e}"),
            }
        }
        assert!(
            kept > 1000 && excluded > 1000,
            "{name}: kept {kept}, excluded {excluded}"
        );
    }
}
