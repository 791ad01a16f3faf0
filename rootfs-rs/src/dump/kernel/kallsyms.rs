//! kallsyms decoded from the dump's memory (VMCOREINFO SYMBOL(kallsyms_*), kernel ≥ 6.0): the
//! token-compressed names and the three address encodings, verified against VMCOREINFO symbols.

use crate::dump::error::{bad, DumpError};
use crate::dump::format::vmcoreinfo::VmcoreInfo;
use crate::dump::kernel::x86_64::KernelMemory;

const MAX_SYMS: u32 = 10_000_000;
const CHUNK: usize = 64 * 1024;

/// How kallsyms_offsets (or kallsyms_addresses) turn into addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressEncoding {
    /// kallsyms_addresses: absolute u64 values.
    Absolute,
    /// kallsyms_offsets relative to kallsyms_relative_base (u32 offsets).
    Relative,
    /// CONFIG_KALLSYMS_ABSOLUTE_PERCPU: non-negative offsets are absolute (per-CPU symbols),
    /// negative ones are base − 1 − offset.
    AbsolutePercpu,
    /// Kernel ≥ 7.0 (no kallsyms_relative_base): each 32-bit offset is relative to its own
    /// slot in kallsyms_offsets, like ORC's ip table.
    PlaceRelative,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    addr: u64,
    name_off: u32,
    name_len: u16,
    kind: u8,
}

/// A kernel symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub addr: u64,
    /// nm-style type letter (T, t, D, d, B, A, …).
    pub kind: char,
}

/// The decoded symbol table.
pub struct Kallsyms {
    names: String,
    entries: Vec<Entry>,
    by_addr: Vec<u32>,
    by_name: Vec<u32>,
    pub encoding: AddressEncoding,
    /// VMCOREINFO symbols that were compared with decoded ones, and how many matched.
    pub verified: (usize, usize),
    /// The tables were found by scanning the kernel image (VMCOREINFO before 6.0 names none).
    pub scanned: bool,
}

/// Sequential reader over kernel memory, fetching 64 KiB at a time.
struct Stream<'a, M: KernelMemory + ?Sized> {
    mem: &'a M,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl<M: KernelMemory + ?Sized> Stream<'_, M> {
    fn byte(&mut self) -> Result<u8, DumpError> {
        if self.pos == self.buf.len() {
            // Near the end of readable memory a full chunk may fail: retry with the rest of
            // the page, then with one byte.
            let page_rest = 4096 - (self.next % 4096) as usize;
            let mut result = Ok(());
            for size in [CHUNK, page_rest, 1] {
                self.buf.resize(size, 0);
                result = self.mem.read_virt(self.next, &mut self.buf);
                if result.is_ok() {
                    break;
                }
            }
            result?;
            self.next += self.buf.len() as u64;
            self.pos = 0;
        }
        self.pos += 1;
        Ok(self.buf[self.pos - 1])
    }
}

fn required(info: &VmcoreInfo, name: &str) -> Result<u64, DumpError> {
    info.required_symbol(name).map_err(|_| {
        DumpError::Missing(format!(
            "VMCOREINFO SYMBOL({name}) (kallsyms in VMCOREINFO needs kernel ≥ 6.0)"
        ))
    })
}

impl Kallsyms {
    pub fn load(mem: &(impl KernelMemory + ?Sized), info: &VmcoreInfo) -> Result<Self, DumpError> {
        if info.symbol("kallsyms_num_syms").is_some() {
            return Self::load_named(mem, info);
        }
        let mut named = info.clone();
        for (name, addr) in scan::find_tables(mem, info)? {
            named.insert_symbol(name, addr);
        }
        let mut table = Self::load_named(mem, &named)?;
        table.scanned = true;
        Ok(table)
    }

    /// Decodes the tables VMCOREINFO (or the scan) names.
    fn load_named(
        mem: &(impl KernelMemory + ?Sized),
        info: &VmcoreInfo,
    ) -> Result<Self, DumpError> {
        let num = mem.read_u32(required(info, "kallsyms_num_syms")?)?;
        if num == 0 || num > MAX_SYMS {
            return Err(bad(format!("kallsyms_num_syms = {num} is implausible")));
        }
        let tokens = read_tokens(
            mem,
            required(info, "kallsyms_token_table")?,
            required(info, "kallsyms_token_index")?,
        )?;
        let mut names = String::new();
        let mut entries = Vec::with_capacity(num as usize);
        let mut s = Stream {
            mem,
            next: required(info, "kallsyms_names")?,
            buf: Vec::new(),
            pos: 0,
        };
        let mut sym = Vec::new();
        for i in 0..num {
            let b0 = s.byte()?;
            let len = if b0 & 0x80 != 0 {
                (b0 & 0x7f) as usize | ((s.byte()? as usize) << 7)
            } else {
                b0 as usize
            };
            sym.clear();
            for _ in 0..len {
                sym.extend_from_slice(tokens[s.byte()? as usize].as_bytes());
            }
            let Some((&kind, name)) = sym.split_first() else {
                return Err(bad(format!("kallsyms symbol {i} is empty")));
            };
            // Length after lossy decoding: corrupt bytes become longer replacement characters.
            let text = String::from_utf8_lossy(name);
            let name_off =
                u32::try_from(names.len()).map_err(|_| bad("kallsyms names too large"))?;
            let name_len = u16::try_from(text.len())
                .map_err(|_| bad(format!("kallsyms symbol {i} too long")))?;
            names.push_str(&text);
            entries.push(Entry {
                addr: 0,
                name_off,
                name_len,
                kind,
            });
        }
        let mut table = Kallsyms {
            names,
            entries,
            by_addr: Vec::new(),
            by_name: Vec::new(),
            encoding: AddressEncoding::Absolute,
            verified: (0, 0),
            scanned: false,
        };
        let mut by_name: Vec<u32> = (0..num).collect();
        by_name.sort_by(|&a, &b| table.name_of(a).cmp(table.name_of(b)).then(a.cmp(&b)));
        table.by_name = by_name;
        table.decode_addresses(mem, info, num)?;
        let mut by_addr: Vec<u32> = (0..num).collect();
        by_addr.sort_by_key(|&i| table.entries[i as usize].addr);
        table.by_addr = by_addr;
        Ok(table)
    }

    fn name_of(&self, i: u32) -> &str {
        let e = &self.entries[i as usize];
        &self.names[e.name_off as usize..e.name_off as usize + e.name_len as usize]
    }

    fn decode_addresses(
        &mut self,
        mem: &(impl KernelMemory + ?Sized),
        info: &VmcoreInfo,
        num: u32,
    ) -> Result<(), DumpError> {
        let mut raw = vec![0u8; num as usize * 8];
        let candidates: Vec<(AddressEncoding, Vec<u64>)> =
            if let Some(addrs) = info.symbol("kallsyms_addresses") {
                mem.read_virt(addrs, &mut raw)?;
                let v = raw
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
                vec![(AddressEncoding::Absolute, v.collect())]
            } else {
                let offsets = required(info, "kallsyms_offsets")?;
                raw.truncate(num as usize * 4);
                mem.read_virt(offsets, &mut raw)?;
                let offs: Vec<i32> = raw
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let place = offs
                    .iter()
                    .enumerate()
                    .map(|(i, &o)| (offsets + 4 * i as u64).wrapping_add(o as i64 as u64))
                    .collect();
                let mut c = vec![(AddressEncoding::PlaceRelative, place)];
                // Before 7.0 the offsets are relative to kallsyms_relative_base.
                if let Some(base_var) = info.symbol("kallsyms_relative_base") {
                    let base = mem.read_u64(base_var)?;
                    let rel = offs
                        .iter()
                        .map(|&o| base.wrapping_add(o as u32 as u64))
                        .collect();
                    let pcpu = offs
                        .iter()
                        .map(|&o| {
                            if o >= 0 {
                                o as u64
                            } else {
                                base.wrapping_sub(1).wrapping_sub(o as i64 as u64)
                            }
                        })
                        .collect();
                    c.push((AddressEncoding::AbsolutePercpu, pcpu));
                    c.push((AddressEncoding::Relative, rel));
                }
                c
            };
        let mut best: Option<(usize, usize, AddressEncoding, Vec<u64>)> = None;
        for (enc, addrs) in candidates {
            let (checked, matched) = self.check_against(info, &addrs);
            if best.as_ref().is_none_or(|b| matched > b.1) {
                best = Some((checked, matched, enc, addrs));
            }
        }
        let Some((checked, matched, enc, addrs)) = best else {
            return Err(bad("no kallsyms address encoding"));
        };
        let stext_ok = match (info.symbol("_stext"), self.index_of("_stext")) {
            (Some(want), Some(i)) => addrs[i as usize] == want,
            _ => matched > 0 || checked == 0,
        };
        if !stext_ok || (checked > 0 && matched * 2 < checked) {
            return Err(bad(format!(
                "kallsyms addresses do not match VMCOREINFO ({matched} of {checked} symbols agree)"
            )));
        }
        for (e, a) in self.entries.iter_mut().zip(addrs) {
            e.addr = a;
        }
        self.encoding = enc;
        self.verified = (checked, matched);
        Ok(())
    }

    /// Counts VMCOREINFO SYMBOL() entries whose decoded address agrees.
    fn check_against(&self, info: &VmcoreInfo, addrs: &[u64]) -> (usize, usize) {
        let mut checked = 0;
        let mut matched = 0;
        for (name, want) in info.symbols() {
            // kallsyms_* are what we decode with; SYMBOL(mem_section) holds the pointer's value.
            if name.starts_with("kallsyms_") || name == "mem_section" {
                continue;
            }
            if let Some(i) = self.index_of(name) {
                checked += 1;
                matched += usize::from(addrs[i as usize] == want);
            }
        }
        (checked, matched)
    }

    fn index_of(&self, name: &str) -> Option<u32> {
        let pos = self.by_name.partition_point(|&i| self.name_of(i) < name);
        self.by_name
            .get(pos)
            .copied()
            .filter(|&i| self.name_of(i) == name)
    }

    fn symbol(&self, i: u32) -> Symbol<'_> {
        let e = &self.entries[i as usize];
        Symbol {
            name: self.name_of(i),
            addr: e.addr,
            kind: e.kind as char,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Address of a symbol by exact name (the first one if the name repeats).
    pub fn lookup(&self, name: &str) -> Option<u64> {
        self.index_of(name).map(|i| self.entries[i as usize].addr)
    }

    /// Like `lookup`, with an error naming the symbol.
    pub fn require(&self, name: &str) -> Result<u64, DumpError> {
        self.lookup(name)
            .ok_or_else(|| DumpError::Missing(format!("kallsyms symbol {name}")))
    }

    /// The symbol at or before `addr` and the offset into it.
    pub fn symbolize(&self, addr: u64) -> Option<(Symbol<'_>, u64)> {
        let pos = self
            .by_addr
            .partition_point(|&i| self.entries[i as usize].addr <= addr);
        let i = *self.by_addr.get(pos.checked_sub(1)?)?;
        let sym = self.symbol(i);
        Some((sym, addr - sym.addr))
    }

    /// Distance from the symbol at `addr` to the next symbol at a higher address: the size
    /// the kernel prints after the slash in `func+0x16/0x20`.
    pub fn size_of(&self, addr: u64) -> Option<u64> {
        let pos = self
            .by_addr
            .partition_point(|&i| self.entries[i as usize].addr <= addr);
        let next = self.by_addr.get(pos)?;
        Some(self.entries[*next as usize].addr - addr)
    }

    /// All symbols in address order.
    pub fn iter(&self) -> impl Iterator<Item = Symbol<'_>> {
        self.by_addr.iter().map(|&i| self.symbol(i))
    }
}

fn read_tokens(
    mem: &(impl KernelMemory + ?Sized),
    table: u64,
    index: u64,
) -> Result<Vec<String>, DumpError> {
    let mut idx = [0u8; 512];
    mem.read_virt(index, &mut idx)?;
    let mut tokens = Vec::with_capacity(256);
    for i in 0..256 {
        let off = u16::from_le_bytes([idx[2 * i], idx[2 * i + 1]]) as u64;
        let t = mem.read_cstr(table + off, 256)?;
        tokens.push(String::from_utf8_lossy(&t).into_owned());
    }
    Ok(tokens)
}

mod scan;

#[cfg(test)]
mod tests;
