//! The kernel log (like dmesg): the lockless printk ring buffer (`prb`, 5.10+) and the older
//! variable-length `log_buf` records, both located through VMCOREINFO so BTF is not needed.

use crate::dump::error::{bad, DumpError};
use crate::dump::format::vmcoreinfo::VmcoreInfo;
use crate::dump::kernel::x86_64::KernelMemory;
use crate::dump::kernel::Dump;

/// One printk record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub ts_nsec: u64,
    /// Syslog level 0 (emerg) .. 7 (debug).
    pub level: u8,
    pub caller_id: u32,
    pub text: String,
}

impl LogRecord {
    /// dmesg-style lines: "[   12.345678] text", one per line of a multi-line record.
    pub fn lines(&self) -> Vec<String> {
        let secs = self.ts_nsec / 1_000_000_000;
        let micros = (self.ts_nsec % 1_000_000_000) / 1000;
        self.text
            .split('\n')
            .map(|l| format!("[{secs:5}.{micros:06}] {l}"))
            .collect()
    }
}

// Limits that keep a corrupt header from making us allocate gigabytes.
const MAX_COUNT_BITS: u64 = 22;
const MAX_DATA_BITS: u64 = 26;
const MAX_LOG_BUF: u64 = 64 << 20;

/// Where the fields of the 5.10+ ring buffer are, from VMCOREINFO OFFSET()/SIZE() lines.
#[derive(Debug, Clone, Copy)]
pub struct PrbLayout {
    pub desc_ring: u64,
    pub text_data_ring: u64,
    pub count_bits: u64,
    pub descs: u64,
    pub infos: u64,
    pub head_id: u64,
    pub tail_id: u64,
    pub desc_size: u64,
    pub state_var: u64,
    pub text_blk_lpos: u64,
    pub lpos_begin: u64,
    pub lpos_next: u64,
    pub info_size: u64,
    pub info_seq: u64,
    pub info_ts_nsec: u64,
    pub info_text_len: u64,
    pub info_caller_id: u64,
    pub size_bits: u64,
    pub data: u64,
}

impl PrbLayout {
    /// Whether each field the decoder reads lies inside its struct: a corrupt VMCOREINFO
    /// saying `SIZE(prb_desc)=0` would otherwise let a ring of millions of descriptors fit
    /// in an empty array.
    fn fields_fit(&self) -> bool {
        let inside = |size: u64, fields: &[(&[u64], u64)]| {
            fields
                .iter()
                .all(|(parts, len)| off(parts).saturating_add(*len) <= size)
        };
        inside(
            self.desc_size,
            &[
                (&[self.state_var], 8),
                (&[self.text_blk_lpos, self.lpos_begin], 8),
                (&[self.text_blk_lpos, self.lpos_next], 8),
            ],
        ) && inside(
            self.info_size,
            &[
                (&[self.info_seq], 8),
                (&[self.info_ts_nsec], 8),
                (&[self.info_text_len], 4),
                (&[self.info_caller_id], 4),
            ],
        )
    }

    /// Debian 6.1's layout (as its VMCOREINFO states it): tests and fuzzing feed raw bytes
    /// through it.
    pub const DEBIAN_6_1: PrbLayout = PrbLayout {
        desc_ring: 0,
        text_data_ring: 48,
        count_bits: 0,
        descs: 8,
        infos: 16,
        head_id: 24,
        tail_id: 32,
        desc_size: 24,
        state_var: 0,
        text_blk_lpos: 8,
        lpos_begin: 0,
        lpos_next: 8,
        info_size: 88,
        info_seq: 0,
        info_ts_nsec: 8,
        info_text_len: 16,
        info_caller_id: 20,
        size_bits: 0,
        data: 8,
    };
}

fn need_offset(info: &VmcoreInfo, name: &str) -> Result<u64, DumpError> {
    info.offset(name)
        .ok_or_else(|| DumpError::Missing(format!("VMCOREINFO OFFSET({name})")))
}

fn need_size(info: &VmcoreInfo, name: &str) -> Result<u64, DumpError> {
    info.size(name)
        .ok_or_else(|| DumpError::Missing(format!("VMCOREINFO SIZE({name})")))
}

impl PrbLayout {
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Self, DumpError> {
        let o = |n: &str| need_offset(info, n);
        Ok(PrbLayout {
            desc_ring: o("printk_ringbuffer.desc_ring")?,
            text_data_ring: o("printk_ringbuffer.text_data_ring")?,
            count_bits: o("prb_desc_ring.count_bits")?,
            descs: o("prb_desc_ring.descs")?,
            infos: o("prb_desc_ring.infos")?,
            head_id: o("prb_desc_ring.head_id")?,
            tail_id: o("prb_desc_ring.tail_id")?,
            desc_size: need_size(info, "prb_desc")?,
            state_var: o("prb_desc.state_var")?,
            text_blk_lpos: o("prb_desc.text_blk_lpos")?,
            lpos_begin: o("prb_data_blk_lpos.begin")?,
            lpos_next: o("prb_data_blk_lpos.next")?,
            info_size: need_size(info, "printk_info")?,
            info_seq: o("printk_info.seq")?,
            info_ts_nsec: o("printk_info.ts_nsec")?,
            info_text_len: o("printk_info.text_len")?,
            info_caller_id: o("printk_info.caller_id")?,
            size_bits: o("prb_data_ring.size_bits")?,
            data: o("prb_data_ring.data")?,
        })
    }
}

/// The descriptor ring's state in one record: the two top bits of state_var.
const DESC_STATE_SHIFT: u32 = 62;
const DESC_ID_MASK: u64 = !(3u64 << DESC_STATE_SHIFT);
const DESC_COMMITTED: u64 = 1;
const DESC_FINALIZED: u64 = 2;

/// Sum of offsets that came from the dump; an overflow gives an offset no buffer has.
fn off(parts: &[u64]) -> u64 {
    parts.iter().fold(0u64, |a, &b| a.saturating_add(b))
}

/// A u64 of the ring, or None. Not `bytes::le_u64`: the ring is read once per descriptor,
/// and an error message formatted for each one of a corrupt ring's is thrown away.
fn rd_u64(buf: &[u8], off: u64) -> Option<u64> {
    rd_uint(buf, off, 8)
}

fn rd_uint(buf: &[u8], off: u64, len: usize) -> Option<u64> {
    let start = usize::try_from(off).ok()?;
    let b = buf.get(start..start.checked_add(len)?)?;
    Some(
        b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
    )
}

/// The ring's raw arrays, read out of the dump.
pub struct PrbSnapshot {
    pub count_bits: u64,
    pub head_id: u64,
    pub tail_id: u64,
    pub size_bits: u64,
    pub descs: Vec<u8>,
    pub infos: Vec<u8>,
    pub data: Vec<u8>,
}

/// Decodes every committed or finalized record between tail_id and head_id, oldest first.
/// Pure over the snapshot: corrupt input yields fewer records, never a panic.
pub fn decode_prb(l: &PrbLayout, s: &PrbSnapshot) -> Vec<LogRecord> {
    let mut out = Vec::new();
    if !l.fields_fit()
        || s.count_bits > MAX_COUNT_BITS
        || s.size_bits > MAX_DATA_BITS
        || s.size_bits < 4
    {
        return out;
    }
    let count = 1u64 << s.count_bits;
    let data_size = 1u64 << s.size_bits;
    if (s.descs.len() as u64) < count.saturating_mul(l.desc_size)
        || (s.data.len() as u64) < data_size
    {
        return out; // arrays shorter than the header says: not a ring we can trust
    }
    let mut id = s.tail_id & DESC_ID_MASK;
    let head = s.head_id & DESC_ID_MASK;
    for _ in 0..=count {
        let idx = id & (count - 1);
        if let Some(rec) = decode_desc(l, s, id, idx, data_size) {
            out.push(rec);
        }
        if id == head {
            break;
        }
        id = id.wrapping_add(1) & DESC_ID_MASK;
    }
    out.sort_by_key(|r| r.seq);
    out
}

fn decode_desc(
    l: &PrbLayout,
    s: &PrbSnapshot,
    id: u64,
    idx: u64,
    data_size: u64,
) -> Option<LogRecord> {
    let d = idx.checked_mul(l.desc_size)?;
    let sv = rd_u64(&s.descs, off(&[d, l.state_var]))?;
    let state = sv >> DESC_STATE_SHIFT;
    if sv & DESC_ID_MASK != id || !(state == DESC_COMMITTED || state == DESC_FINALIZED) {
        return None;
    }
    let begin = rd_u64(&s.descs, off(&[d, l.text_blk_lpos, l.lpos_begin]))?;
    let next = rd_u64(&s.descs, off(&[d, l.text_blk_lpos, l.lpos_next]))?;
    let i = idx.checked_mul(l.info_size)?;
    let text_len = rd_uint(&s.infos, off(&[i, l.info_text_len]), 2)? as usize;
    // printk_info: text_len (u16), facility (u8), then flags:5 and level:3 in one byte.
    let level = rd_uint(&s.infos, off(&[i, l.info_text_len, 3]), 1)? as u8 >> 5;
    let text = block_text(&s.data, s.size_bits, data_size, begin, next, text_len);
    Some(LogRecord {
        seq: rd_u64(&s.infos, off(&[i, l.info_seq]))?,
        ts_nsec: rd_u64(&s.infos, off(&[i, l.info_ts_nsec]))?,
        level,
        caller_id: rd_uint(&s.infos, off(&[i, l.info_caller_id]), 4)? as u32,
        text,
    })
}

/// The text of a data block [begin, next) (logical positions): a block that would wrap is
/// stored whole at the start of the ring; each block begins with its descriptor id.
fn block_text(data: &[u8], bits: u64, size: u64, begin: u64, next: u64, text_len: usize) -> String {
    if begin & 1 == 1 || next & 1 == 1 {
        return String::new(); // data-less record
    }
    let (start, len) = if begin >> bits == next >> bits {
        (begin & (size - 1), next.wrapping_sub(begin))
    } else if begin.wrapping_add(size) >> bits == next >> bits {
        (0, next & (size - 1))
    } else {
        return String::new();
    };
    let Some(text_len_avail) = len.checked_sub(8) else {
        return String::new();
    };
    let n = (text_len as u64).min(text_len_avail);
    let from = (start + 8) as usize;
    match data.get(from..from.saturating_add(n as usize)) {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => String::new(),
    }
}

fn read_bytes(
    mem: &(impl KernelMemory + ?Sized),
    addr: u64,
    len: u64,
    what: &str,
) -> Result<Vec<u8>, DumpError> {
    if len > MAX_LOG_BUF {
        return Err(bad(format!("{what}: size {len} is implausible")));
    }
    let mut v = vec![0u8; len as usize];
    mem.read_virt(addr, &mut v)?;
    Ok(v)
}

/// Reads the 5.10+ ring buffer the `prb` pointer refers to.
pub fn read_prb(
    mem: &(impl KernelMemory + ?Sized),
    info: &VmcoreInfo,
) -> Result<Vec<LogRecord>, DumpError> {
    let l = PrbLayout::from_vmcoreinfo(info)?;
    let ring = mem.read_u64(info.required_symbol("prb")?)?;
    let dr = ring.wrapping_add(l.desc_ring);
    let tr = ring.wrapping_add(l.text_data_ring);
    let count_bits = u64::from(mem.read_u32(dr.wrapping_add(l.count_bits))?);
    let size_bits = u64::from(mem.read_u32(tr.wrapping_add(l.size_bits))?);
    if count_bits > MAX_COUNT_BITS || size_bits > MAX_DATA_BITS {
        return Err(bad(format!(
            "printk ring buffer sizes 2^{count_bits} records, 2^{size_bits} bytes are implausible"
        )));
    }
    let count = 1u64 << count_bits;
    let snap = PrbSnapshot {
        count_bits,
        head_id: mem.read_u64(dr.wrapping_add(l.head_id))?,
        tail_id: mem.read_u64(dr.wrapping_add(l.tail_id))?,
        size_bits,
        descs: read_bytes(
            mem,
            mem.read_u64(dr.wrapping_add(l.descs))?,
            count.saturating_mul(l.desc_size),
            "prb descs",
        )?,
        infos: read_bytes(
            mem,
            mem.read_u64(dr.wrapping_add(l.infos))?,
            count.saturating_mul(l.info_size),
            "prb infos",
        )?,
        data: read_bytes(
            mem,
            mem.read_u64(tr.wrapping_add(l.data))?,
            1 << size_bits,
            "prb text data",
        )?,
    };
    Ok(decode_prb(&l, &snap))
}

/// Field offsets of the pre-5.10 `struct printk_log` record header.
#[derive(Debug, Clone, Copy)]
pub struct LogBufLayout {
    pub header_size: u64,
    pub ts_nsec: u64,
    pub len: u64,
    pub text_len: u64,
}

/// Decodes `log_buf` records from `first` up to `next` (byte indexes); a record with len 0
/// marks the wrap back to index 0. Best effort: stops at the first implausible record.
pub fn decode_log_buf(l: &LogBufLayout, buf: &[u8], first: u64, next: u64) -> Vec<LogRecord> {
    let mut out = Vec::new();
    let mut idx = first;
    let mut seq = 0;
    while idx != next && out.len() < buf.len() {
        let Some(len) = rd_uint(buf, off(&[idx, l.len]), 2) else {
            break;
        };
        if len == 0 {
            if idx == 0 {
                break;
            }
            idx = 0;
            continue;
        }
        let (Some(ts), Some(text_len)) = (
            rd_u64(buf, off(&[idx, l.ts_nsec])),
            rd_uint(buf, off(&[idx, l.text_len]), 2),
        ) else {
            break;
        };
        // printk_log: text_len (u16), dict_len (u16), facility (u8), flags:5 + level:3.
        let level = rd_uint(buf, off(&[idx, l.text_len, 5]), 1).unwrap_or(0) as u8 >> 5;
        let from = usize::try_from(off(&[idx, l.header_size])).unwrap_or(usize::MAX);
        let text = buf
            .get(from..from.saturating_add(text_len as usize))
            .map(String::from_utf8_lossy);
        let Some(text) = text else { break };
        out.push(LogRecord {
            seq,
            ts_nsec: ts,
            level,
            caller_id: 0,
            text: text.into_owned(),
        });
        seq += 1;
        idx = idx.wrapping_add(len);
    }
    out
}

/// Reads the pre-5.10 `log_buf`.
pub fn read_log_buf(
    mem: &(impl KernelMemory + ?Sized),
    info: &VmcoreInfo,
) -> Result<Vec<LogRecord>, DumpError> {
    let l = LogBufLayout {
        header_size: need_size(info, "printk_log")?,
        ts_nsec: need_offset(info, "printk_log.ts_nsec")?,
        len: need_offset(info, "printk_log.len")?,
        text_len: need_offset(info, "printk_log.text_len")?,
    };
    let buf_addr = mem.read_u64(info.required_symbol("log_buf")?)?;
    let len = u64::from(mem.read_u32(info.required_symbol("log_buf_len")?)?);
    let buf = read_bytes(mem, buf_addr, len, "log_buf")?;
    let first = u64::from(mem.read_u32(info.required_symbol("log_first_idx")?)?);
    let next = u64::from(mem.read_u32(info.required_symbol("log_next_idx")?)?);
    Ok(decode_log_buf(&l, &buf, first, next))
}

/// The kernel log, oldest record first, from whichever buffer this kernel has. Needs only
/// memory and VMCOREINFO (SYMBOL/OFFSET/SIZE lines), not kallsyms or BTF.
pub fn log_from(
    mem: &(impl KernelMemory + ?Sized),
    info: &VmcoreInfo,
) -> Result<Vec<LogRecord>, DumpError> {
    if info.symbol("prb").is_some() {
        read_prb(mem, info)
    } else {
        read_log_buf(mem, info)
    }
}

/// The kernel log of an opened dump.
pub fn kernel_log(dump: &Dump) -> Result<Vec<LogRecord>, DumpError> {
    log_from(dump, &dump.vmcoreinfo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> PrbLayout {
        PrbLayout::DEBIAN_6_1
    }

    fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
        buf[off..off + bytes.len()].copy_from_slice(bytes);
    }

    /// Descriptor `idx` with id, state and data block [begin, next); info with seq/ts/text.
    fn record(
        s: &mut PrbSnapshot,
        idx: usize,
        id: u64,
        state: u64,
        lpos: (u64, u64),
        seq: u64,
        text: &str,
    ) {
        put(&mut s.descs, idx * 24, &(state << 62 | id).to_le_bytes());
        put(&mut s.descs, idx * 24 + 8, &lpos.0.to_le_bytes());
        put(&mut s.descs, idx * 24 + 16, &lpos.1.to_le_bytes());
        let i = idx * 88;
        put(&mut s.infos, i, &seq.to_le_bytes());
        put(
            &mut s.infos,
            i + 8,
            &(seq * 1_500_000_000 + 250_000).to_le_bytes(),
        );
        put(&mut s.infos, i + 16, &(text.len() as u16).to_le_bytes());
        put(&mut s.infos, i + 19, &[(4 << 5) | 1]);
        put(
            &mut s.infos,
            i + 20,
            &(0x8000_0000u32 | seq as u32).to_le_bytes(),
        );
        // The block: descriptor id then text; a wrapping block lives at offset 0.
        let wraps = lpos.0 >> 7 != lpos.1 >> 7;
        let at = if wraps { 0 } else { (lpos.0 & 127) as usize };
        put(&mut s.data, at, &id.to_le_bytes());
        put(&mut s.data, at + 8, text.as_bytes());
    }

    #[test]
    fn ring_records_decode_in_sequence_including_a_wrapped_block() {
        let mut s = PrbSnapshot {
            count_bits: 2,
            head_id: 6,
            tail_id: 3,
            size_bits: 7,
            descs: vec![0; 4 * 24],
            infos: vec![0; 4 * 88],
            data: vec![0; 128],
        };
        record(&mut s, 0, 4, 2, (160, 176), 10, "one");
        record(&mut s, 1, 5, 2, (176, 200), 11, "two\nlines");
        record(&mut s, 2, 6, 1, (240, 280), 12, "third-wrap!");
        record(&mut s, 3, 3, 3, (200, 216), 9, "reusable"); // old: state reusable
        let recs = decode_prb(&layout(), &s);
        let texts: Vec<&str> = recs.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["one", "two\nlines", "third-wrap!"]);
        assert_eq!(
            (recs[0].seq, recs[0].level, recs[0].caller_id),
            (10, 4, 0x8000_000a)
        );
        assert_eq!(
            recs[1].lines(),
            ["[   16.500250] two", "[   16.500250] lines"]
        );
        // A descriptor whose id does not match the walk (overwritten) is skipped.
        s.head_id = 7;
        put(&mut s.descs, 3 * 24, &(2u64 << 62 | 99).to_le_bytes());
        assert_eq!(decode_prb(&layout(), &s).len(), 3);
        // Arrays shorter than the header claims: nothing, not a panic.
        s.count_bits = 10;
        assert!(decode_prb(&layout(), &s).is_empty());
    }

    #[test]
    fn a_layout_whose_fields_lie_outside_their_structs_decodes_nothing() {
        // Found by the printk fuzz target's speed: `SIZE(prb_desc)=0` made a ring of 2^22
        // descriptors fit in a few bytes, walked one empty read at a time.
        let s = PrbSnapshot {
            count_bits: 22,
            head_id: 1 << 21,
            tail_id: 0,
            size_bits: 7,
            descs: vec![0; 64],
            infos: vec![0; 64],
            data: vec![0; 128],
        };
        for bad in [
            PrbLayout {
                desc_size: 0,
                ..layout()
            },
            PrbLayout {
                state_var: 20,
                ..layout()
            },
            PrbLayout {
                info_size: 8,
                ..layout()
            },
            PrbLayout {
                lpos_next: u64::MAX,
                ..layout()
            },
        ] {
            assert!(!bad.fields_fit());
            assert!(decode_prb(&bad, &s).is_empty());
        }
        assert!(layout().fields_fit() && PrbLayout::DEBIAN_6_1.fields_fit());
    }

    #[test]
    fn log_buf_records_follow_the_wrap_marker() {
        let l = LogBufLayout {
            header_size: 16,
            ts_nsec: 0,
            len: 8,
            text_len: 10,
        };
        let mut buf = vec![0u8; 72];
        let mut rec = |at: usize, ts: u64, text: &str| {
            put(&mut buf, at, &ts.to_le_bytes());
            put(&mut buf, at + 8, &24u16.to_le_bytes());
            put(&mut buf, at + 10, &(text.len() as u16).to_le_bytes());
            put(&mut buf, at + 15, &[6 << 5]);
            put(&mut buf, at + 16, text.as_bytes());
        };
        rec(32, 1_000, "world");
        rec(0, 2_000, "again");
        // index 56 holds a zero length: the writer wrapped to 0.
        let recs = decode_log_buf(&l, &buf, 32, 24);
        let texts: Vec<&str> = recs.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["world", "again"]);
        assert_eq!((recs[0].level, recs[1].ts_nsec), (6, 2_000));
        assert!(
            decode_log_buf(&l, &buf, 70, 24).is_empty(),
            "a record past the end stops the walk"
        );
    }
}
