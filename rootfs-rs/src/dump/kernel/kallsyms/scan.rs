//! Finding kallsyms in the kernel image when VMCOREINFO does not name its tables (kernels
//! before 6.0 export none). scripts/kallsyms lays the tables out in .rodata, each aligned to
//! 8 bytes, in this order before 6.4: `kallsyms_offsets` (or `kallsyms_addresses`),
//! `kallsyms_relative_base`, `kallsyms_num_syms`, `kallsyms_names`, `kallsyms_markers`,
//! `kallsyms_token_table`, `kallsyms_token_index`. The token index has a shape nothing else
//! has (256 increasing 16-bit offsets from 0, each pointing just past a NUL of the token
//! table before it), so the search starts there and walks backwards through the others,
//! checking each against the next. `Kallsyms::load` then verifies the decoded addresses
//! against VMCOREINFO's own SYMBOL() values and `_stext`.

use crate::dump::error::DumpError;
use crate::dump::format::vmcoreinfo::VmcoreInfo;
use crate::dump::kernel::x86_64::KernelMemory;

/// How much of the image below the first data symbol is searched (text plus rodata of a
/// distribution kernel is 20–40 MiB).
const MAX_SCAN: u64 = 96 << 20;
const CHUNK: u64 = 1 << 20;
const INDEX_BYTES: usize = 512;
/// A token is at most this long (KSYM_NAME_LEN).
const MAX_TOKEN: u64 = 128;
/// Markers before the token table: one per 256 symbols, up to 10 million symbols.
const MAX_MARKERS: u64 = 10_000_000 / 256;
/// The symbols after the last marker take at most 256 × (1 + 127) bytes.
const MAX_LAST_BLOCK: u64 = 256 * 128;

/// The tables' addresses as VMCOREINFO would have named them.
pub fn find_tables(
    mem: &(impl KernelMemory + ?Sized),
    info: &VmcoreInfo,
) -> Result<Vec<(&'static str, u64)>, DumpError> {
    let stext = info.required_symbol("_stext")?;
    // Search downwards from the first data symbol VMCOREINFO names above the text: the
    // tables come from the last object linked into .rodata, near its end.
    let top = ["init_uts_ns", "swapper_pg_dir", "node_data"]
        .iter()
        .filter_map(|n| info.symbol(n))
        .filter(|&a| a > stext)
        .min()
        .unwrap_or(stext + MAX_SCAN)
        .min(stext + MAX_SCAN);
    let mut end = top & !7;
    let mut buf = vec![0u8; (CHUNK as usize) + INDEX_BYTES];
    while end > stext {
        let start = end.saturating_sub(CHUNK).max(stext);
        let len = (end - start) as usize + INDEX_BYTES;
        // A chunk that cannot be read (excluded or unmapped) is skipped.
        if mem.read_virt(start, &mut buf[..len]).is_ok() {
            let mut off = (len - INDEX_BYTES) & !7;
            loop {
                if let Some(idx) = token_index_at(&buf[off..off + INDEX_BYTES]) {
                    if let Some(found) = tables_from_index(mem, start + off as u64, &idx) {
                        return Ok(found);
                    }
                }
                if off < 8 {
                    break;
                }
                off -= 8;
            }
        }
        end = start;
    }
    Err(DumpError::Missing(
        "kallsyms tables (VMCOREINFO names none before kernel 6.0, and no token index was found in the kernel image)".into(),
    ))
}

/// 256 strictly increasing u16 token offsets starting at 0, each step a plausible token.
fn token_index_at(b: &[u8]) -> Option<[u16; 256]> {
    let word = |i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
    if word(0) != 0 {
        return None;
    }
    let mut idx = [0u16; 256];
    for i in 1..256 {
        idx[i] = word(i);
        let step = idx[i].checked_sub(idx[i - 1])?;
        if !(2..=MAX_TOKEN as u16).contains(&step) {
            return None;
        }
    }
    Some(idx)
}

fn read_u32(mem: &(impl KernelMemory + ?Sized), addr: u64) -> Option<u32> {
    mem.read_u32(addr).ok()
}

/// From a token index at `index_addr`: the token table right before it, the markers before
/// that, the names and num_syms before them, and the offsets and relative base first.
fn tables_from_index(
    mem: &(impl KernelMemory + ?Sized),
    index_addr: u64,
    idx: &[u16; 256],
) -> Option<Vec<(&'static str, u64)>> {
    let table = token_table(mem, index_addr, idx)?;
    let (markers, last_marker, count) = markers(mem, table)?;
    let (num_syms_addr, names) = names(mem, markers, last_marker, count)?;
    let relative_base = num_syms_addr.checked_sub(8)?;
    let num = u64::from(read_u32(mem, num_syms_addr)?);
    let offsets = relative_base.checked_sub((num * 4).next_multiple_of(8))?;
    Some(vec![
        ("kallsyms_token_index", index_addr),
        ("kallsyms_token_table", table),
        ("kallsyms_markers", markers),
        ("kallsyms_names", names),
        ("kallsyms_num_syms", num_syms_addr),
        ("kallsyms_offsets", offsets),
        // x86_64 kernels since 4.6 are base-relative: no absolute kallsyms_addresses.
        ("kallsyms_relative_base", relative_base),
    ])
}

/// The token table ends (padded to 8) where the index starts, and every token offset points
/// just past the previous token's NUL.
fn token_table(
    mem: &(impl KernelMemory + ?Sized),
    index_addr: u64,
    idx: &[u16; 256],
) -> Option<u64> {
    let last = u64::from(idx[255]);
    let span = last + MAX_TOKEN + 8;
    let from = index_addr.checked_sub(span)?;
    let mut bytes = vec![0u8; span as usize];
    mem.read_virt(from, &mut bytes).ok()?;
    // Candidates for the table's start, nearest first: the last token is 1..MAX_TOKEN bytes.
    let mut start = (index_addr - last - 2) & !7;
    while start >= from && index_addr - start <= span {
        let at = |a: u64| bytes.get((a - from) as usize).copied();
        let tokens_ok = (1..256).all(|i| {
            let t = start + u64::from(idx[i]);
            at(t - 1) == Some(0) && at(t).is_some_and(|c| c != 0)
        });
        // The last token's NUL, then only padding up to the index.
        let end = (start + last..index_addr).find(|&a| at(a) == Some(0));
        if tokens_ok && end.is_some_and(|e| (e + 1).next_multiple_of(8) == index_addr) {
            return Some(start);
        }
        start = start.checked_sub(8)?;
    }
    None
}

/// The markers end (padded to 8) where the token table starts: u32 offsets into the names,
/// one per 256 symbols, increasing from 0. Returns (start, last marker value, count).
fn markers(mem: &(impl KernelMemory + ?Sized), table: u64) -> Option<(u64, u64, u64)> {
    for last_at in [table.checked_sub(4)?, table.checked_sub(8)?] {
        let mut value = read_u32(mem, last_at)?;
        if value == 0 {
            continue; // padding
        }
        let last = u64::from(value);
        let mut at = last_at;
        let mut count = 1;
        while value != 0 && count <= MAX_MARKERS {
            at = at.checked_sub(4)?;
            let prev = read_u32(mem, at)?;
            if prev >= value {
                break;
            }
            value = prev;
            count += 1;
        }
        if value == 0 && at % 8 == 0 {
            return Some((at, last, count));
        }
    }
    None
}

/// The names stream ends (padded to 8) where the markers start; num_syms is the 8-byte
/// slot before it. Its symbol count must need exactly `count` markers, and the symbols
/// after the last marker must end right at the markers.
fn names(
    mem: &(impl KernelMemory + ?Sized),
    markers: u64,
    last_marker: u64,
    count: u64,
) -> Option<(u64, u64)> {
    let lowest = markers.checked_sub(last_marker + MAX_LAST_BLOCK + 16)?;
    let mut names = markers.checked_sub(last_marker)? & !7;
    while names >= lowest {
        let num_syms_addr = names - 8;
        if let Some(num) = read_u32(mem, num_syms_addr).map(u64::from) {
            if num > (count - 1) * 256 && num <= count * 256 {
                let tail = num - (count - 1) * 256;
                if block_end(mem, names + last_marker, tail)
                    .is_some_and(|end| end.next_multiple_of(8) == markers)
                {
                    return Some((num_syms_addr, names));
                }
            }
        }
        names = names.checked_sub(8)?;
    }
    None
}

/// Where `n` length-prefixed symbols starting at `at` end (read a page at a time: the
/// stream may end near the end of what can be read).
fn block_end(mem: &(impl KernelMemory + ?Sized), at: u64, n: u64) -> Option<u64> {
    let mut buf: Vec<u8> = Vec::new();
    let mut byte = |pos: usize| -> Option<u8> {
        while buf.len() <= pos {
            if buf.len() > MAX_LAST_BLOCK as usize + 256 {
                return None;
            }
            let from = at + buf.len() as u64;
            let mut page = vec![0u8; (4096 - from % 4096) as usize];
            mem.read_virt(from, &mut page).ok()?;
            buf.extend_from_slice(&page);
        }
        Some(buf[pos])
    };
    let mut pos = 0usize;
    for _ in 0..n {
        let b0 = byte(pos)?;
        let len = if b0 & 0x80 != 0 {
            (usize::from(b0 & 0x7f) | usize::from(byte(pos + 1)?) << 7) + 2
        } else {
            usize::from(b0) + 1
        };
        if len < 2 {
            return None; // an empty symbol is not in any names stream
        }
        pos += len;
    }
    Some(at + pos as u64)
}
