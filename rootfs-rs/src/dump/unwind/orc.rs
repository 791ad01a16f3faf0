//! The kernel's ORC unwind tables read from the dump: `__start_orc_unwind_ip` (sorted 32-bit
//! offsets, each relative to its own slot) and `__start_orc_unwind` (one 6-byte `struct
//! orc_entry` per slot), and the same pair per module (`mod->arch.orc_unwind_ip`). The bit
//! layout of `orc_entry` changed in 6.4 (an `end` bit became two more type values), so it is
//! taken from the dump's BTF, not from a version number.

use crate::dump::error::{bad, DumpError};
use crate::dump::kernel::btf::Kind;
use crate::dump::kernel::Dump;
use crate::dump::KernelMemory;

/// Size of `struct orc_entry` (two s16 and a 16-bit bitfield word, packed).
pub const ORC_ENTRY_SIZE: usize = 6;
/// More entries than any kernel has (a 6.1 vmlinux has ~350,000): a corrupt table's length
/// is refused instead of allocating gigabytes.
const MAX_ENTRIES: u64 = 8_000_000;

/// Which register the previous frame's stack pointer (or frame pointer) is found from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcReg {
    Undefined,
    PrevSp,
    Dx,
    Di,
    Bp,
    Sp,
    R10,
    R13,
    BpIndirect,
    SpIndirect,
    Other(u8),
}

/// How register numbers are assigned. The ORC_REG_* values are macros (not in BTF), and
/// 7.x renumbered them; the numbering is recognised from the table's own statistics (see
/// `RegNumbering::detect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegNumbering {
    /// 4.14 to 6.x: PREV_SP 1, DX 2, DI 3, BP 4, SP 5, R10 6, R13 7, BP_INDIRECT 8,
    /// SP_INDIRECT 9.
    Classic,
    /// 7.x: SP 3, BP 4, PREV_SP 8, BP_INDIRECT 10, with DX 2, R10 6, R13 7 and SP_INDIRECT 9
    /// unchanged (matched entry for entry against 6.12's table: the same functions use them,
    /// in the same numbers). DI's new number has not been seen in a table: it stays unknown,
    /// and a frame that needs it is resumed by scanning.
    Renumbered,
}

impl RegNumbering {
    /// The most common base register of CALL entries is SP in every kernel: 5 in the
    /// classic numbering, 3 in the new one.
    pub fn detect(entries: &[[u8; ORC_ENTRY_SIZE]]) -> RegNumbering {
        let mut counts = [0usize; 16];
        for raw in entries {
            let word = u32::from(u16::from_le_bytes([raw[4], raw[5]]));
            counts[(word & 15) as usize] += 1;
        }
        if counts[3] > counts[5] {
            RegNumbering::Renumbered
        } else {
            RegNumbering::Classic
        }
    }
}

impl OrcReg {
    fn from_bits(v: u8, numbering: RegNumbering) -> OrcReg {
        match (numbering, v) {
            (_, 0) => OrcReg::Undefined,
            (_, 2) => OrcReg::Dx,
            (_, 4) => OrcReg::Bp,
            (_, 6) => OrcReg::R10,
            (_, 7) => OrcReg::R13,
            (_, 9) => OrcReg::SpIndirect,
            (RegNumbering::Classic, 1) => OrcReg::PrevSp,
            (RegNumbering::Classic, 3) => OrcReg::Di,
            (RegNumbering::Classic, 5) => OrcReg::Sp,
            (RegNumbering::Classic, 8) => OrcReg::BpIndirect,
            (RegNumbering::Renumbered, 3) => OrcReg::Sp,
            (RegNumbering::Renumbered, 8) => OrcReg::PrevSp,
            (RegNumbering::Renumbered, 10) => OrcReg::BpIndirect,
            (_, n) => OrcReg::Other(n),
        }
    }
}

/// What kind of frame an instruction is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcType {
    /// No unwind information (objtool could not describe this code).
    Undefined,
    /// The bottom of a stack: nothing called this.
    EndOfStack,
    /// A normal function frame: the return address is just below the previous sp.
    Call,
    /// A whole `struct pt_regs` lies at the previous sp (entry code, exceptions).
    Regs,
    /// Only the hardware iret frame (ip, cs, flags, sp, ss) lies at the previous sp.
    RegsPartial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcEntry {
    pub sp_offset: i16,
    pub bp_offset: i16,
    pub sp_reg: OrcReg,
    pub bp_reg: OrcReg,
    pub kind: OrcType,
}

/// Where the bitfields of `struct orc_entry` lie in its third and fourth bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcLayout {
    sp_reg: (u32, u32),
    bp_reg: (u32, u32),
    kind: (u32, u32),
    /// Before 6.4: a separate `end` bit, and types CALL=0, REGS=1, REGS_PARTIAL=2.
    end_bit: Option<u32>,
    pub numbering: RegNumbering,
}

impl OrcLayout {
    /// Up to 6.3: `sp_reg:4, bp_reg:4, type:2, end:1`.
    pub const WITH_END_BIT: OrcLayout = OrcLayout {
        sp_reg: (0, 4),
        bp_reg: (4, 4),
        kind: (8, 2),
        end_bit: Some(10),
        numbering: RegNumbering::Classic,
    };
    /// From 6.4: `sp_reg:4, bp_reg:4, type:3, signal:1`, with UNDEFINED and END_OF_STACK types.
    pub const WITH_END_TYPE: OrcLayout = OrcLayout {
        sp_reg: (0, 4),
        bp_reg: (4, 4),
        kind: (8, 3),
        end_bit: None,
        numbering: RegNumbering::Classic,
    };

    /// The layout the dump's BTF describes; a BTF without `struct orc_entry` (or without its
    /// bitfield sizes) gets the older layout, the one every kernel before 6.4 has.
    pub fn from_btf(dump: &Dump) -> OrcLayout {
        let btf = &dump.btf;
        let Some(id) = btf.find(Kind::Struct, "orc_entry") else {
            return OrcLayout::WITH_END_BIT;
        };
        let field = |name: &str| -> Option<(u32, u32)> {
            let m = btf.member(id, name).ok()??;
            if m.bitfield_size == 0 {
                return None;
            }
            // Bit positions within the 16-bit word after the two s16 offsets.
            Some((m.bit_offset.checked_sub(32)?, m.bitfield_size))
        };
        let (Some(sp_reg), Some(bp_reg), Some(kind)) =
            (field("sp_reg"), field("bp_reg"), field("type"))
        else {
            return OrcLayout::WITH_END_BIT;
        };
        OrcLayout {
            sp_reg,
            bp_reg,
            kind,
            end_bit: field("end").map(|(bit, _)| bit),
            numbering: RegNumbering::Classic,
        }
    }

    /// Decodes one 6-byte entry.
    pub fn decode(&self, raw: &[u8; ORC_ENTRY_SIZE]) -> OrcEntry {
        let word = u32::from(u16::from_le_bytes([raw[4], raw[5]]));
        let bits = |(at, width): (u32, u32)| {
            let mask = if width >= 16 {
                0xffff
            } else {
                (1u32 << width) - 1
            };
            ((word >> at.min(31)) & mask) as u8
        };
        let sp_reg = OrcReg::from_bits(bits(self.sp_reg), self.numbering);
        let raw_kind = bits(self.kind);
        let kind = match self.end_bit {
            Some(end) => {
                if (word >> end.min(31)) & 1 == 1 {
                    OrcType::EndOfStack
                } else if sp_reg == OrcReg::Undefined {
                    OrcType::Undefined
                } else {
                    match raw_kind {
                        0 => OrcType::Call,
                        1 => OrcType::Regs,
                        2 => OrcType::RegsPartial,
                        _ => OrcType::Undefined,
                    }
                }
            }
            None => match raw_kind {
                1 => OrcType::EndOfStack,
                2 => OrcType::Call,
                3 => OrcType::Regs,
                4 => OrcType::RegsPartial,
                _ => OrcType::Undefined,
            },
        };
        OrcEntry {
            sp_offset: i16::from_le_bytes([raw[0], raw[1]]),
            bp_offset: i16::from_le_bytes([raw[2], raw[3]]),
            sp_reg,
            bp_reg: OrcReg::from_bits(bits(self.bp_reg), self.numbering),
            kind,
        }
    }
}

/// One ORC table (vmlinux's or a module's), read whole: addresses sorted ascending.
pub struct OrcTable {
    ips: Vec<u64>,
    entries: Vec<[u8; ORC_ENTRY_SIZE]>,
    layout: OrcLayout,
}

impl OrcTable {
    /// Reads `count` slots from the two arrays at `ip_table` and `entry_table`.
    pub fn read(
        mem: &(impl KernelMemory + ?Sized),
        ip_table: u64,
        entry_table: u64,
        count: u64,
        layout: OrcLayout,
    ) -> Result<OrcTable, DumpError> {
        if count == 0 || count > MAX_ENTRIES {
            return Err(bad(format!(
                "ORC table with {count} entries is implausible"
            )));
        }
        let n = count as usize;
        let mut raw_ips = vec![0u8; n * 4];
        mem.read_virt(ip_table, &mut raw_ips)?;
        let mut raw_entries = vec![0u8; n * ORC_ENTRY_SIZE];
        mem.read_virt(entry_table, &mut raw_entries)?;
        let ips: Vec<u64> = raw_ips
            .chunks_exact(4)
            .enumerate()
            .map(|(i, c)| {
                let rel = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                (ip_table + 4 * i as u64).wrapping_add(rel as i64 as u64)
            })
            .collect();
        let entries = raw_entries
            .chunks_exact(ORC_ENTRY_SIZE)
            .map(|c| [c[0], c[1], c[2], c[3], c[4], c[5]])
            .collect();
        let table = OrcTable::from_parts(ips, entries, layout);
        if !table.ips.windows(2).all(|w| w[0] <= w[1]) {
            return Err(bad("ORC ip table is not sorted (not an ORC table?)"));
        }
        Ok(table)
    }

    pub fn from_parts(
        ips: Vec<u64>,
        entries: Vec<[u8; ORC_ENTRY_SIZE]>,
        layout: OrcLayout,
    ) -> OrcTable {
        OrcTable {
            ips,
            entries,
            layout,
        }
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    /// The layout with its register numbering recognised from this table's entries (done on
    /// vmlinux's table, whose size makes the statistics certain; modules reuse it).
    pub fn detect_numbering(&mut self) -> OrcLayout {
        self.layout.numbering = RegNumbering::detect(&self.entries);
        self.layout
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// First and last address the table describes.
    pub fn range(&self) -> Option<(u64, u64)> {
        Some((*self.ips.first()?, *self.ips.last()?))
    }

    /// The entry covering `ip`: the last slot whose address is ≤ ip.
    pub fn lookup(&self, ip: u64) -> Option<OrcEntry> {
        let pos = self.ips.partition_point(|&a| a <= ip);
        let i = pos.checked_sub(1)?;
        self.entries.get(i).map(|raw| self.layout.decode(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(sp: i16, bp: i16, word: u16) -> [u8; 6] {
        let (s, b, w) = (sp.to_le_bytes(), bp.to_le_bytes(), word.to_le_bytes());
        [s[0], s[1], b[0], b[1], w[0], w[1]]
    }

    #[test]
    fn old_layout_uses_the_end_bit_and_types_from_zero() {
        let l = OrcLayout::WITH_END_BIT;
        // sp_reg SP (5), bp_reg PREV_SP (1), type CALL (0).
        let e = l.decode(&raw(16, -16, 5 | (1 << 4)));
        assert_eq!(e.sp_reg, OrcReg::Sp);
        assert_eq!(e.bp_reg, OrcReg::PrevSp);
        assert_eq!(e.kind, OrcType::Call);
        assert_eq!((e.sp_offset, e.bp_offset), (16, -16));
        // type REGS (1).
        assert_eq!(l.decode(&raw(0, 0, 5 | (1 << 8))).kind, OrcType::Regs);
        // type REGS_PARTIAL (2).
        assert_eq!(
            l.decode(&raw(8, 0, 5 | (2 << 8))).kind,
            OrcType::RegsPartial
        );
        // end bit set.
        assert_eq!(l.decode(&raw(0, 0, 1 << 10)).kind, OrcType::EndOfStack);
        // sp_reg undefined without end: no information.
        assert_eq!(l.decode(&raw(0, 0, 0)).kind, OrcType::Undefined);
    }

    #[test]
    fn new_layout_has_end_and_undefined_as_types() {
        let l = OrcLayout::WITH_END_TYPE;
        assert_eq!(l.decode(&raw(0, 0, 0)).kind, OrcType::Undefined);
        assert_eq!(l.decode(&raw(0, 0, 1 << 8)).kind, OrcType::EndOfStack);
        assert_eq!(l.decode(&raw(8, 0, 5 | (2 << 8))).kind, OrcType::Call);
        assert_eq!(l.decode(&raw(0, 0, 5 | (3 << 8))).kind, OrcType::Regs);
        assert_eq!(
            l.decode(&raw(0, 0, 5 | (4 << 8))).kind,
            OrcType::RegsPartial
        );
        // The signal bit (11) does not change the type.
        assert_eq!(
            l.decode(&raw(8, 0, 5 | (2 << 8) | (1 << 11))).kind,
            OrcType::Call
        );
    }

    #[test]
    fn renumbered_registers_are_recognised_from_the_tables_statistics() {
        // 7.x: SP is 3 and PREV_SP 8 (a 6.12 function "sp 5 bp 1" is "sp 3 bp 8").
        let call_sp = |sp: u16, bp: u16| raw(16, -16, sp | bp << 4 | 2 << 8);
        let entries = vec![call_sp(3, 8), call_sp(3, 0), call_sp(3, 8), call_sp(4, 8)];
        let mut t = OrcTable::from_parts(vec![1, 2, 3, 4], entries, OrcLayout::WITH_END_TYPE);
        let l = t.detect_numbering();
        assert_eq!(l.numbering, RegNumbering::Renumbered);
        let e = l.decode(&call_sp(3, 8));
        assert_eq!(
            (e.sp_reg, e.bp_reg, e.kind),
            (OrcReg::Sp, OrcReg::PrevSp, OrcType::Call)
        );
        assert_eq!(l.decode(&call_sp(10, 4)).sp_reg, OrcReg::BpIndirect);
        // The classic numbering on a 6.x-like table.
        let entries = vec![call_sp(5, 1), call_sp(5, 0), call_sp(4, 1)];
        let mut t = OrcTable::from_parts(vec![1, 2, 3], entries, OrcLayout::WITH_END_TYPE);
        let l = t.detect_numbering();
        assert_eq!(l.numbering, RegNumbering::Classic);
        assert_eq!(l.decode(&call_sp(5, 1)).bp_reg, OrcReg::PrevSp);
        assert_eq!(l.decode(&call_sp(3, 0)).sp_reg, OrcReg::Di);
    }

    #[test]
    fn lookup_takes_the_last_entry_at_or_below() {
        let l = OrcLayout::WITH_END_TYPE;
        let t = OrcTable::from_parts(
            vec![0x1000, 0x1010, 0x1020],
            vec![
                raw(8, 0, 5 | (2 << 8)),
                raw(16, 0, 5 | (2 << 8)),
                raw(24, 0, 5 | (2 << 8)),
            ],
            l,
        );
        assert_eq!(t.lookup(0xfff), None);
        assert_eq!(t.lookup(0x1000).map(|e| e.sp_offset), Some(8));
        assert_eq!(t.lookup(0x101f).map(|e| e.sp_offset), Some(16));
        assert_eq!(t.lookup(0x9999).map(|e| e.sp_offset), Some(24));
    }
}
