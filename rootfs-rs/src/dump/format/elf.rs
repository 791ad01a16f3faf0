//! ELF64 core files (/proc/vmcore, makedumpfile -E, QEMU dump-guest-memory): PT_LOAD → physical
//! ranges served with positional reads, PT_NOTE → CPU registers and VMCOREINFO.

use crate::dump::error::{bad, DumpError};
use crate::dump::format::bytes::{le_u16, le_u32, le_u64, slice};
use crate::dump::format::notes::{interpret, parse_notes, NoteInfo};
use crate::dump::format::source::{read_vec, PhysMemory, ReadAt};

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const ET_CORE: u16 = 4;
const PN_XNUM: u16 = 0xffff;
/// Start of the x86_64 kernel text mapping.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// One PT_LOAD segment: physical range and where its bytes are in the file.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub paddr: u64,
    pub vaddr: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub mem_size: u64,
    /// Bytes of p_filesz actually present (less than file_size in a truncated file).
    pub available: u64,
}

/// Physical memory of an ELF core file.
pub struct ElfDump<S: ReadAt> {
    src: S,
    /// Sorted by physical address.
    segments: Vec<Segment>,
    notes: NoteInfo,
    /// The PT_NOTE contents as stored (a saved dump carries them unchanged).
    note_bytes: Vec<u8>,
}

fn check_ident(ehdr: &[u8]) -> Result<(), DumpError> {
    if ehdr.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(bad("not an ELF file"));
    }
    if ehdr[4] != 2 || ehdr[5] != 1 {
        return Err(bad("only little-endian ELF64 core files are supported"));
    }
    if le_u16(ehdr, 16, "e_type")? != ET_CORE {
        return Err(bad("ELF file is not a core file (e_type != ET_CORE)"));
    }
    Ok(())
}

impl<S: ReadAt> ElfDump<S> {
    /// Opens a complete core file; a PT_LOAD reaching past the end of the file is an error.
    pub fn open(src: S) -> Result<Self, DumpError> {
        Self::open_with(src, false)
    }

    /// Opens a core file that may be truncated (a copy of /proc/vmcore cut short): segments
    /// are clipped to the file and their missing bytes read as `NotInDump`.
    pub fn open_truncated(src: S) -> Result<Self, DumpError> {
        Self::open_with(src, true)
    }

    fn open_with(src: S, allow_truncated: bool) -> Result<Self, DumpError> {
        let ehdr = read_vec(&src, 0, EHDR_SIZE as u64, "ELF header")?;
        check_ident(&ehdr)?;
        let phoff = le_u64(&ehdr, 32, "e_phoff")?;
        let shoff = le_u64(&ehdr, 40, "e_shoff")?;
        let phentsize = le_u16(&ehdr, 54, "e_phentsize")? as usize;
        if phentsize != PHDR_SIZE {
            return Err(bad(format!(
                "e_phentsize is {phentsize}, expected {PHDR_SIZE}"
            )));
        }
        let mut phnum = le_u16(&ehdr, 56, "e_phnum")? as u64;
        if phnum == PN_XNUM as u64 {
            // Too many segments for e_phnum: the real count is in section header 0's sh_info.
            let sh0 = read_vec(&src, shoff, 64, "section header 0")?;
            phnum = le_u32(&sh0, 44, "sh_info")? as u64;
        }
        let table = read_vec(&src, phoff, phnum * PHDR_SIZE as u64, "program headers")?;
        let mut segments = Vec::new();
        let mut note_bytes = Vec::new();
        for i in 0..phnum as usize {
            let ph = slice(&table, i * PHDR_SIZE, PHDR_SIZE, "program header")?;
            let p_type = le_u32(ph, 0, "p_type")?;
            let file_offset = le_u64(ph, 8, "p_offset")?;
            let vaddr = le_u64(ph, 16, "p_vaddr")?;
            let paddr = le_u64(ph, 24, "p_paddr")?;
            let file_size = le_u64(ph, 32, "p_filesz")?;
            let mem_size = le_u64(ph, 40, "p_memsz")?;
            let end = file_offset.checked_add(file_size);
            let in_file = end.is_some_and(|end| end <= src.size());
            match p_type {
                PT_LOAD => {
                    let clipped = allow_truncated && end.is_some();
                    if (!in_file && !clipped)
                        || paddr.checked_add(mem_size.max(file_size)).is_none()
                    {
                        return Err(bad(format!("PT_LOAD {i} lies outside the file")));
                    }
                    let available = file_size.min(src.size().saturating_sub(file_offset));
                    segments.push(Segment {
                        paddr,
                        vaddr,
                        file_offset,
                        file_size,
                        mem_size: mem_size.max(file_size),
                        available,
                    });
                }
                PT_NOTE => {
                    if !in_file {
                        return Err(bad(format!("PT_NOTE {i} lies outside the file")));
                    }
                    note_bytes.extend(read_vec(&src, file_offset, file_size, "PT_NOTE")?);
                }
                _ => {}
            }
        }
        if segments.iter().all(|s| s.available == 0 && s.file_size > 0) {
            return Err(bad(
                "ELF core file has no PT_LOAD segment with data in the file",
            ));
        }
        segments.sort_by_key(|s| s.paddr);
        let notes = interpret(&parse_notes(&note_bytes)?)?;
        Ok(ElfDump {
            src,
            segments,
            notes,
            note_bytes,
        })
    }

    pub fn notes(&self) -> &NoteInfo {
        &self.notes
    }

    pub fn note_bytes(&self) -> &[u8] {
        &self.note_bytes
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// phys_base from a segment that maps kernel text (genuine /proc/vmcore carries one).
    pub fn phys_base_from_segments(&self) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| s.vaddr >= START_KERNEL_MAP && s.vaddr != 0)
            .map(|s| s.paddr.wrapping_sub(s.vaddr - START_KERNEL_MAP))
    }

    /// Bytes the program headers promise but the file lacks (0 for a complete file).
    pub fn missing_bytes(&self) -> u64 {
        // Saturating: hostile headers can promise more than 2^64 bytes in all.
        self.segments.iter().fold(0u64, |total, s| {
            total.saturating_add(s.file_size.saturating_sub(s.available))
        })
    }

    fn segment_for(&self, paddr: u64) -> Option<&Segment> {
        let idx = self.segments.partition_point(|s| s.paddr <= paddr);
        self.segments[..idx]
            .iter()
            .rev()
            .find(|s| paddr - s.paddr < s.mem_size)
    }
}

impl<S: ReadAt> PhysMemory for ElfDump<S> {
    fn phys_end(&self) -> Option<u64> {
        self.segments.iter().map(|s| s.paddr + s.mem_size).max()
    }

    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(DumpError::NotInDump(paddr))?;
            let seg = self.segment_for(addr).ok_or(DumpError::NotInDump(addr))?;
            let rel = addr - seg.paddr;
            let chunk = ((seg.mem_size - rel).min((buf.len() - done) as u64)) as usize;
            let out = &mut buf[done..done + chunk];
            if rel >= seg.file_size {
                out.fill(0); // p_memsz beyond p_filesz reads as zeros
            } else {
                let in_file = ((seg.file_size - rel) as usize).min(chunk);
                if rel + in_file as u64 > seg.available {
                    return Err(DumpError::NotInDump(addr.max(seg.paddr + seg.available)));
                }
                self.src
                    .read_at(seg.file_offset + rel, &mut out[..in_file])?;
                out[in_file..].fill(0);
            }
            done += chunk;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::format::source::MemSource;

    /// A minimal core file: one PT_LOAD of 16 bytes at paddr 0x1000 (memsz 32).
    fn tiny_core() -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[16..18].copy_from_slice(&ET_CORE.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = 64;
        f[ph..ph + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        f[ph + 8..ph + 16].copy_from_slice(&120u64.to_le_bytes());
        f[ph + 24..ph + 32].copy_from_slice(&0x1000u64.to_le_bytes());
        f[ph + 32..ph + 40].copy_from_slice(&16u64.to_le_bytes());
        f[ph + 40..ph + 48].copy_from_slice(&32u64.to_le_bytes());
        f.extend((1..=16).collect::<Vec<u8>>());
        f
    }

    #[test]
    fn reads_segment_and_zero_fill() {
        let d = ElfDump::open(MemSource(tiny_core())).unwrap();
        let mut b = [0u8; 4];
        d.read_phys(0x1002, &mut b).unwrap();
        assert_eq!(b, [3, 4, 5, 6]);
        let mut z = [9u8; 8];
        d.read_phys(0x100e, &mut z).unwrap();
        assert_eq!(z, [15, 16, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            d.read_phys(0x1020, &mut b),
            Err(DumpError::NotInDump(0x1020))
        ));
    }

    #[test]
    fn corrupt_headers_are_errors_not_panics() {
        let good = tiny_core();
        for cut in [0, 10, 63, 100, 119] {
            assert!(
                ElfDump::open(MemSource(good[..cut].to_vec())).is_err(),
                "cut at {cut}"
            );
        }
        // Every single-byte flip must either open or give an error, never panic.
        for i in 0..120 {
            let mut f = good.clone();
            f[i] ^= 0xff;
            let _ = ElfDump::open(MemSource(f));
        }
        let mut offset_out = good.clone();
        offset_out[64 + 8..64 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(ElfDump::open(MemSource(offset_out)).is_err());
        let mut many = good;
        many[56..58].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert!(ElfDump::open(MemSource(many)).is_err());
    }
}
