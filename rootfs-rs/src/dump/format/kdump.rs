//! The kdump-compressed ("KDUMP   ") format: disk_dump_header, kdump_sub_header, two page bitmaps
//! and one page descriptor per dumped page; pages stored raw or zlib/lzo/snappy/zstd compressed.

use crate::dump::error::{bad, DumpError};
use crate::dump::format::bytes::{c_string, le_i32, le_u32, le_u64, slice};
use crate::dump::format::notes::{interpret, parse_notes, NoteInfo};
use crate::dump::format::source::{read_vec, PhysMemory, ReadAt};
use std::sync::Mutex;

pub const SIGNATURE: &[u8] = b"KDUMP   ";
const HEADER_LEN: u64 = 464;
const SUB_HEADER_LEN: u64 = 104;
const PAGE_DESC_LEN: u64 = 24;
const UTS_FIELD: usize = 65;
const UTS_OFFSET: usize = 12;

const DUMP_DH_COMPRESSED_ZLIB: u32 = 0x1;
const DUMP_DH_COMPRESSED_LZO: u32 = 0x2;
const DUMP_DH_COMPRESSED_SNAPPY: u32 = 0x4;
const DUMP_DH_COMPRESSED_ZSTD: u32 = 0x20;
/// makedumpfile ran out of space: the file holds only part of the pages.
pub const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;

/// The parts of disk_dump_header and kdump_sub_header the reader uses.
#[derive(Debug, Clone)]
pub struct KdumpHeader {
    pub header_version: i32,
    /// utsname.release of the dumped kernel.
    pub release: String,
    pub machine: String,
    pub block_size: u64,
    pub sub_hdr_blocks: u64,
    pub bitmap_blocks: u64,
    pub max_mapnr: u64,
    pub nr_cpus: i32,
    pub phys_base: u64,
    pub dump_level: i32,
    /// disk_dump_header.status: compression flags and DUMP_DH_COMPRESSED_INCOMPLETE.
    pub status: u32,
    vmcoreinfo: Option<(u64, u64)>,
    note: Option<(u64, u64)>,
}

impl KdumpHeader {
    /// Name of the page compression announced in the header ("none" when pages are raw).
    pub fn compression(&self) -> &'static str {
        match self.status {
            s if s & DUMP_DH_COMPRESSED_ZLIB != 0 => "zlib",
            s if s & DUMP_DH_COMPRESSED_LZO != 0 => "lzo",
            s if s & DUMP_DH_COMPRESSED_SNAPPY != 0 => "snappy",
            s if s & DUMP_DH_COMPRESSED_ZSTD != 0 => "zstd",
            _ => "none",
        }
    }
    pub fn incomplete(&self) -> bool {
        self.status & DUMP_DH_COMPRESSED_INCOMPLETE != 0
    }
}

fn parse_header(h: &[u8], sub: &[u8]) -> Result<KdumpHeader, DumpError> {
    if !h.starts_with(SIGNATURE) {
        return Err(bad("not a kdump-compressed file"));
    }
    let header_version = le_i32(h, 8, "header_version")?;
    let uts = |i: usize| slice(h, UTS_OFFSET + i * UTS_FIELD, UTS_FIELD, "utsname").map(c_string);
    let block_size = le_i32(h, 428, "block_size")?;
    if !(512..=65536).contains(&block_size) || !(block_size as u32).is_power_of_two() {
        return Err(bad(format!("kdump block_size {block_size} is invalid")));
    }
    let sub_hdr_blocks = le_i32(h, 432, "sub_hdr_size")?;
    if sub_hdr_blocks < 0 {
        return Err(bad("kdump sub_hdr_size is negative"));
    }
    let mut max_mapnr = le_u32(h, 440, "max_mapnr")? as u64;
    if header_version >= 6 {
        max_mapnr = le_u64(sub, 96, "max_mapnr_64")?;
    }
    let range = |off: usize, min_version: i32| -> Result<Option<(u64, u64)>, DumpError> {
        if header_version < min_version {
            return Ok(None);
        }
        let (o, s) = (
            le_u64(sub, off, "sub header offset")?,
            le_u64(sub, off + 8, "sub header size")?,
        );
        Ok((o != 0 && s != 0).then_some((o, s)))
    };
    Ok(KdumpHeader {
        header_version,
        release: uts(2)?,
        machine: uts(4)?,
        block_size: block_size as u64,
        sub_hdr_blocks: sub_hdr_blocks as u64,
        bitmap_blocks: le_u32(h, 436, "bitmap_blocks")? as u64,
        max_mapnr,
        nr_cpus: le_i32(h, 460, "nr_cpus")?,
        phys_base: le_u64(sub, 0, "phys_base")?,
        status: le_u32(h, 424, "status")?,
        dump_level: if header_version >= 1 {
            le_i32(sub, 8, "dump_level")?
        } else {
            0
        },
        vmcoreinfo: range(32, 3)?,
        note: range(48, 4)?,
    })
}

/// Physical memory of a kdump-compressed file.
pub struct KdumpDump<S: ReadAt> {
    src: S,
    header: KdumpHeader,
    bitmap_off: u64,
    /// Bytes per bitmap (the 2nd bitmap follows the 1st).
    bitmap_len: u64,
    /// Number of dumped pages before each bitmap block: descriptor index without a full bitmap in RAM.
    rank: Vec<u64>,
    descs_off: u64,
    notes: NoteInfo,
    /// Last bitmap block read: (which bitmap, block number, bytes).
    bitmap_cache: Mutex<Option<(u8, u64, Vec<u8>)>>,
}

impl<S: ReadAt> KdumpDump<S> {
    pub fn open(src: S) -> Result<Self, DumpError> {
        let h = read_vec(&src, 0, HEADER_LEN, "kdump header")?;
        if !h.starts_with(SIGNATURE) {
            return Err(bad("not a kdump-compressed file"));
        }
        let block = le_i32(&h, 428, "block_size")?.clamp(512, 65536) as u64;
        let sub = read_vec(&src, block, SUB_HEADER_LEN, "kdump sub header")?;
        let header = parse_header(&h, &sub)?;
        let bs = header.block_size;
        let bitmap_off = (1 + header.sub_hdr_blocks) * bs;
        let bitmap_len = header.bitmap_blocks * bs / 2;
        let descs_off = bitmap_off + header.bitmap_blocks * bs;
        // Both bitmaps must be data the input holds: a flattened dump's gaps read as
        // zeros, and a bitmap of 2^50 zero bytes in a 10 KiB file took hours to count.
        let bitmaps = header.bitmap_blocks.saturating_mul(bs);
        if header.bitmap_blocks == 0 || descs_off > src.size() || bitmaps > src.stored() {
            return Err(bad(format!(
                "kdump bitmaps ({} blocks) do not fit in the file",
                header.bitmap_blocks
            )));
        }
        if header.max_mapnr > bitmap_len * 8 {
            return Err(bad(format!(
                "kdump max_mapnr {} exceeds the bitmap",
                header.max_mapnr
            )));
        }
        let mut rank = Vec::with_capacity(bitmap_len.div_ceil(bs) as usize);
        let mut total = 0u64;
        let mut off = 0;
        while off < bitmap_len {
            rank.push(total);
            let n = bs.min(bitmap_len - off);
            let chunk = read_vec(&src, bitmap_off + bitmap_len + off, n, "kdump 2nd bitmap")?;
            total += chunk.iter().map(|b| b.count_ones() as u64).sum::<u64>();
            off += n;
        }
        if descs_off + total * PAGE_DESC_LEN > src.size() {
            return Err(bad(format!(
                "kdump file too short for {total} page descriptors"
            )));
        }
        let mut notes = match header.note {
            Some((o, s)) => interpret(&parse_notes(&read_vec(&src, o, s, "kdump notes")?)?)?,
            None => NoteInfo::default(),
        };
        if let Some((o, s)) = header.vmcoreinfo {
            let text = read_vec(&src, o, s, "kdump vmcoreinfo")?;
            notes.vmcoreinfo = Some(String::from_utf8_lossy(&text).into_owned());
        }
        Ok(KdumpDump {
            src,
            header,
            bitmap_off,
            bitmap_len,
            rank,
            descs_off,
            notes,
            bitmap_cache: Mutex::new(None),
        })
    }

    pub fn header(&self) -> &KdumpHeader {
        &self.header
    }

    pub fn notes(&self) -> &NoteInfo {
        &self.notes
    }

    /// Reads bit `pfn` of bitmap `which` (0 = present, 1 = dumped) and, for the 2nd bitmap,
    /// the number of set bits before it within its block.
    fn bitmap_bit(&self, which: u8, pfn: u64) -> Result<(bool, u64), DumpError> {
        let bs = self.header.block_size;
        let block = pfn / 8 / bs;
        let mut cache = self.bitmap_cache.lock().unwrap_or_else(|p| p.into_inner());
        let hit = matches!(&*cache, Some((w, b, _)) if *w == which && *b == block);
        if !hit {
            let start = block * bs;
            let n = bs.min(self.bitmap_len - start);
            let base = self.bitmap_off + u64::from(which) * self.bitmap_len;
            *cache = Some((
                which,
                block,
                read_vec(&self.src, base + start, n, "kdump bitmap")?,
            ));
        }
        let Some((_, _, bytes)) = cache.as_ref() else {
            return Err(bad("kdump bitmap cache empty"));
        };
        let byte = ((pfn / 8) % bs) as usize;
        let bit = (pfn % 8) as u32;
        let b = *bytes
            .get(byte)
            .ok_or_else(|| bad("kdump bitmap index out of range"))?;
        let before: u64 = bytes[..byte]
            .iter()
            .map(|x| x.count_ones() as u64)
            .sum::<u64>()
            + (b & ((1u16 << bit) - 1) as u8).count_ones() as u64;
        Ok((b & (1 << bit) != 0, before))
    }

    /// Decompressed contents of page `pfn`.
    fn page(&self, pfn: u64) -> Result<Vec<u8>, DumpError> {
        let bs = self.header.block_size;
        let paddr = pfn * bs;
        if pfn >= self.header.max_mapnr {
            return Err(DumpError::NotInDump(paddr));
        }
        let (dumped, before) = self.bitmap_bit(1, pfn)?;
        if !dumped {
            let (present, _) = self.bitmap_bit(0, pfn)?;
            return Err(if present {
                DumpError::PageExcluded(paddr)
            } else {
                DumpError::NotInDump(paddr)
            });
        }
        let block = (pfn / 8 / bs) as usize;
        let index = self
            .rank
            .get(block)
            .copied()
            .ok_or_else(|| bad("kdump rank index out of range"))?
            + before;
        let d = read_vec(
            &self.src,
            self.descs_off + index * PAGE_DESC_LEN,
            PAGE_DESC_LEN,
            "page descriptor",
        )?;
        let offset = le_u64(&d, 0, "page offset")?;
        let size = le_u32(&d, 8, "page size")? as u64;
        let flags = le_u32(&d, 12, "page flags")?;
        if size > bs || offset.checked_add(size).is_none_or(|e| e > self.src.size()) {
            return Err(bad(format!(
                "page descriptor of pfn {pfn:#x} is invalid (offset {offset:#x}, size {size})"
            )));
        }
        let data = read_vec(&self.src, offset, size, "page data")?;
        decompress(flags, &data, bs as usize)
            .map_err(|detail| DumpError::Decompress { paddr, detail })
    }
}

/// One zlib stream that must expand to at most `page_size` bytes.
fn inflate(data: &[u8], page_size: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(page_size);
    match flate2::Decompress::new(true).decompress_vec(
        data,
        &mut out,
        flate2::FlushDecompress::Finish,
    ) {
        Ok(flate2::Status::StreamEnd) => Ok(out),
        Ok(_) => Err(format!(
            "zlib: stream truncated or longer than a page ({page_size} bytes)"
        )),
        Err(e) => Err(format!("zlib: {e}")),
    }
}

/// Decompresses one page according to its descriptor flags.
pub fn decompress(flags: u32, data: &[u8], page_size: usize) -> Result<Vec<u8>, String> {
    let page = if flags & DUMP_DH_COMPRESSED_ZLIB != 0 {
        inflate(data, page_size)?
    } else if flags & DUMP_DH_COMPRESSED_LZO != 0 {
        let mut out = vec![0u8; page_size];
        let n = lzo::decompress_into(data, &mut out).map_err(|e| format!("lzo: {e}"))?;
        out.truncate(n);
        out
    } else if flags & DUMP_DH_COMPRESSED_SNAPPY != 0 {
        let len = snap::raw::decompress_len(data).map_err(|e| format!("snappy: {e}"))?;
        if len != page_size {
            return Err(format!(
                "snappy: page expands to {len} bytes, expected {page_size}"
            ));
        }
        let mut out = vec![0u8; page_size];
        snap::raw::Decoder::new()
            .decompress(data, &mut out)
            .map_err(|e| format!("snappy: {e}"))?;
        out
    } else if flags & DUMP_DH_COMPRESSED_ZSTD != 0 {
        let mut out = vec![0u8; page_size];
        let n = ruzstd::decoding::FrameDecoder::new()
            .decode_all(data, &mut out)
            .map_err(|e| format!("zstd: {e}"))?;
        out.truncate(n);
        out
    } else {
        data.to_vec()
    };
    if page.len() != page_size {
        return Err(format!(
            "page has {} bytes, expected {page_size}",
            page.len()
        ));
    }
    Ok(page)
}

impl<S: ReadAt> PhysMemory for KdumpDump<S> {
    fn phys_end(&self) -> Option<u64> {
        self.header.max_mapnr.checked_mul(self.header.block_size)
    }

    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let bs = self.header.block_size;
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(DumpError::NotInDump(paddr))?;
            let page = self.page(addr / bs)?;
            let in_page = (addr % bs) as usize;
            let n = (page.len() - in_page).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[in_page..in_page + n]);
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
