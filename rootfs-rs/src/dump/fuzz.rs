//! The dump parsers' fuzz targets (registered in crate::fuzz::TARGETS, run by
//! `cargo xtask fuzz` and tests/fuzz_targets.rs): each feeds arbitrary bytes to one
//! parser and exercises what a caller would do next. They must never panic.

use super::error::DumpError;
use super::helpers::log::{decode_log_buf, decode_prb, LogBufLayout, PrbLayout, PrbSnapshot};
use crate::dump::format::elf::ElfDump;
use crate::dump::format::flattened::Flattened;
use crate::dump::format::kdump::KdumpDump;
use crate::dump::format::source::{MemSource, PhysMemory};
use crate::dump::format::vmcoreinfo::VmcoreInfo;
use crate::dump::kernel::btf::Btf;
use crate::dump::kernel::kallsyms::Kallsyms;
use crate::dump::kernel::x86_64::KernelMemory;

fn touch(phys: &dyn PhysMemory) {
    let mut page = [0u8; 4096];
    for addr in [0u64, 0x1000, 0x100000, 0x1234567, u64::MAX - 10] {
        let _ = phys.read_phys(addr, &mut page);
    }
}

pub fn elf(data: &[u8]) {
    for lenient in [false, true] {
        let src = MemSource(data.to_vec());
        let opened = if lenient {
            ElfDump::open_truncated(src)
        } else {
            ElfDump::open(src)
        };
        if let Ok(e) = opened {
            touch(&e);
            let _ = (e.phys_base_from_segments(), e.missing_bytes());
        }
    }
}

pub fn kdump(data: &[u8]) {
    if let Ok(k) = KdumpDump::open(MemSource(data.to_vec())) {
        touch(&k);
        let _ = (k.header().compression(), k.header().incomplete());
    }
}

pub fn flattened(data: &[u8]) {
    if let Ok(f) = Flattened::open(MemSource(data.to_vec())) {
        let _ = crate::dump::format::open::open_source(f);
    }
    let _ = crate::dump::format::open::open_source_with(MemSource(data.to_vec()), true);
}

pub fn vmcoreinfo(data: &[u8]) {
    if let Ok(v) = VmcoreInfo::parse(&String::from_utf8_lossy(data)) {
        let _ = (
            v.phys_base(),
            v.symbols().count(),
            PrbLayout::from_vmcoreinfo(&v).is_ok(),
        );
    }
}

pub fn btf(data: &[u8]) {
    if let Ok(b) = Btf::parse(data.to_vec()) {
        for id in 1..=b.count().min(2000) {
            let _ = b.size_of(id);
            let _ = b.type_name(id);
            if let Ok(t) = b.resolve(id) {
                let _ = b.members(&t);
                let _ = b.enumerators(&t);
                let _ = b.member(id, "next");
            }
        }
    }
}

/// Kernel memory made of the input bytes, at the usual text address.
struct Buffer(Vec<u8>);
const BASE: u64 = 0xffff_ffff_8100_0000;

impl KernelMemory for Buffer {
    fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let start = vaddr
            .checked_sub(BASE)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(DumpError::Unmapped(vaddr))?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or(DumpError::Unmapped(vaddr))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

pub fn kallsyms(data: &[u8]) {
    let sym = |name: &str, off: u64| format!("SYMBOL({name})={:x}\n", BASE + off);
    let text = [
        "OSRELEASE=fuzz\n".to_string(),
        sym("kallsyms_num_syms", 0),
        sym("kallsyms_token_index", 8),
        sym("kallsyms_token_table", 520),
        sym("kallsyms_names", 2048),
        sym("kallsyms_offsets", 4096),
        sym("kallsyms_relative_base", 6144),
        sym("kallsyms_addresses", 4096),
        sym("kallsyms_markers", 8000),
        sym("_stext", 0x1000),
    ]
    .concat();
    if let Ok(info) = VmcoreInfo::parse(&text) {
        if let Ok(k) = Kallsyms::load(&Buffer(data.to_vec()), &info) {
            let _ = (
                k.lookup("_stext"),
                k.symbolize(BASE + 0x1000),
                k.iter().count(),
            );
        }
    }
}

/// Both printk formats over the input (layout of Debian 6.1, which VMCOREINFO states).
pub fn printk(data: &[u8]) {
    let l = PrbLayout::DEBIAN_6_1;
    let third = data.len() / 3;
    let word = |i: usize| {
        data.get(i * 8..i * 8 + 8).map_or(0, |b| {
            b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x))
        })
    };
    let snap = PrbSnapshot {
        count_bits: word(0) % 24,
        head_id: word(1),
        tail_id: word(2),
        size_bits: word(3) % 28,
        descs: data[..third].to_vec(),
        infos: data[third..2 * third].to_vec(),
        data: data[2 * third..].to_vec(),
    };
    let _ = decode_prb(&l, &snap);
    // A corrupt VMCOREINFO: every offset and size taken from the input, however large.
    let w = |i: usize| word(6 + i);
    let wild = PrbLayout {
        desc_ring: w(0),
        text_data_ring: w(1),
        count_bits: w(2),
        descs: w(3),
        infos: w(4),
        head_id: w(5),
        tail_id: w(6),
        desc_size: w(7) % 64,
        state_var: w(8),
        text_blk_lpos: w(9),
        lpos_begin: w(10),
        lpos_next: w(11),
        info_size: w(12) % 128,
        info_seq: w(13),
        info_ts_nsec: w(14),
        info_text_len: w(15),
        info_caller_id: w(16),
        size_bits: w(17),
        data: w(18),
    };
    let _ = decode_prb(&wild, &snap);
    let lb = LogBufLayout {
        header_size: 16,
        ts_nsec: 0,
        len: 8,
        text_len: 10,
    };
    let _ = decode_log_buf(
        &lb,
        data,
        word(4) % (data.len() as u64 + 1),
        word(5) % (data.len() as u64 + 1),
    );
}

/// The unwinder over hostile data: the first half of the input is a kernel stack, the second
/// an ORC table (both layouts) covering a made-up text range; the start registers come from
/// the first words. Every walk must end (frame and stack-switch limits), never panic.
pub fn orc_unwind(data: &[u8]) {
    use crate::dump::unwind::orc::{OrcEntry, OrcLayout, OrcTable, ORC_ENTRY_SIZE};
    use crate::dump::unwind::{unwind, Start, UnwindEnv};
    const TEXT: u64 = 0xffff_ffff_8100_0000;
    const STACK: u64 = 0xffff_c900_0000_0000;
    struct Env<'a> {
        stack: &'a [u8],
        table: OrcTable,
        has_orc: bool,
    }
    impl UnwindEnv for Env<'_> {
        fn read_u64(&self, addr: u64) -> Option<u64> {
            let off = usize::try_from(addr.checked_sub(STACK)?).ok()?;
            let b = self.stack.get(off..off.checked_add(8)?)?;
            Some(u64::from_le_bytes(b.try_into().ok()?))
        }
        fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Option<()> {
            buf.fill((addr & 0xff) as u8);
            Some(())
        }
        fn orc(&self, ip: u64) -> Option<OrcEntry> {
            self.table.lookup(ip)
        }
        fn has_orc(&self) -> bool {
            self.has_orc
        }
        fn is_text(&self, ip: u64) -> bool {
            (TEXT..TEXT + 0x10000).contains(&ip)
        }
    }
    let (stack, table) = data.split_at(data.len() / 2);
    let slots = table.len() / (4 + ORC_ENTRY_SIZE);
    let (ip_bytes, entry_bytes) = table.split_at(slots * 4);
    let mut ips: Vec<u64> = ip_bytes
        .chunks_exact(4)
        .map(|c| TEXT + u64::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    ips.sort_unstable();
    let entries: Vec<[u8; ORC_ENTRY_SIZE]> = entry_bytes
        .chunks_exact(ORC_ENTRY_SIZE)
        .take(slots)
        .map(|c| [c[0], c[1], c[2], c[3], c[4], c[5]])
        .collect();
    let word = |i: usize| {
        stack.get(i * 8..i * 8 + 8).map_or(0, |b| {
            b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x))
        })
    };
    for (layout, has_orc) in [
        (OrcLayout::WITH_END_BIT, true),
        (OrcLayout::WITH_END_TYPE, true),
        (OrcLayout::WITH_END_TYPE, false),
    ] {
        let env = Env {
            stack,
            table: OrcTable::from_parts(ips.clone(), entries.clone(), layout),
            has_orc,
        };
        let start = Start {
            ip: TEXT + word(0) % 0x10000,
            sp: STACK + word(1) % (stack.len() as u64 + 1),
            bp: STACK + word(2) % (stack.len() as u64 + 1),
            regs: crate::dump::unwind::regs::PtRegs::read(&env, STACK),
            exact_ip: word(3) & 1 == 1,
        };
        let u = unwind(&env, &start);
        assert!(u.frames.len() <= crate::dump::unwind::MAX_FRAMES + 1);
        if let Some(r) = &u.user_regs {
            let _ = r.lines();
        }
    }
}
