//! Writes the kdump-compressed layout (header version 6, not flattened): disk_dump_header in
//! block 0, kdump_sub_header with the ELF notes and VMCOREINFO from block 1, the two page
//! bitmaps, one 24-byte page descriptor per dumped page, then the page data.

use super::compress::Compression;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Where a dump goes: positional writes, into a file or (`flat_out`) a stream.
pub trait DumpSink {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
}

impl DumpSink for File {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, buf, offset)
    }
}

const SIGNATURE: &[u8; 8] = b"KDUMP   ";
const HEADER_VERSION: i32 = 6;
const SUB_HEADER_LEN: u64 = 104;
const PAGE_DESC_LEN: u64 = 24;
pub const UTSNAME_LEN: usize = 6 * 65;
/// Buffered writes go out in pieces of this size.
const FLUSH_AT: usize = 1 << 20;
/// disk_dump_header.status bit: the dump holds only part of the pages.
const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;

/// One bit per page frame, least significant bit first (the format's bitmap order).
#[derive(Debug, Clone)]
pub struct Bitmap(Vec<u8>);

impl Bitmap {
    pub fn new(bits: u64) -> Bitmap {
        Bitmap(vec![0; bits.div_ceil(8) as usize])
    }
    pub fn get(&self, pfn: u64) -> bool {
        self.0
            .get((pfn / 8) as usize)
            .is_some_and(|b| b & (1 << (pfn % 8)) != 0)
    }
    pub fn set(&mut self, pfn: u64, on: bool) {
        if let Some(b) = self.0.get_mut((pfn / 8) as usize) {
            if on {
                *b |= 1 << (pfn % 8);
            } else {
                *b &= !(1 << (pfn % 8));
            }
        }
    }
    pub fn count(&self) -> u64 {
        self.0.iter().map(|b| u64::from(b.count_ones())).sum()
    }
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What goes into the headers.
pub struct HeaderInfo {
    /// struct new_utsname of the crashed kernel (six 65-byte fields).
    pub utsname: [u8; UTSNAME_LEN],
    pub crash_time: u64,
    pub nr_cpus: u32,
    pub phys_base: u64,
    pub dump_level: u8,
    pub compression: Compression,
    /// The ELF notes of the vmcore, whole (CPU registers, VMCOREINFO).
    pub notes: Vec<u8>,
    pub vmcoreinfo: Vec<u8>,
}

/// File offsets of each part, fixed before the first page is written.
struct Layout {
    block: u64,
    sub_hdr_blocks: u64,
    bitmap_blocks: u64,
    descs_off: u64,
    data_off: u64,
}

/// Streams page descriptors and data into `file`; the headers and bitmaps come last, so a
/// file cut short by a full disk has no valid header (and is removed by the caller anyway).
pub struct KdumpWriter<'f> {
    file: &'f dyn DumpSink,
    layout: Layout,
    max_mapnr: u64,
    reserved_descs: u64,
    descs: Vec<u8>,
    descs_written: u64,
    data: Vec<u8>,
    data_end: u64,
    zero_desc: Option<[u8; PAGE_DESC_LEN as usize]>,
}

impl<'f> KdumpWriter<'f> {
    /// `reserved_descs` bounds the number of pages that will be added.
    pub fn new(
        file: &'f dyn DumpSink,
        block: u64,
        max_mapnr: u64,
        reserved_descs: u64,
        notes_len: u64,
        vmcoreinfo_len: u64,
    ) -> KdumpWriter<'f> {
        let sub_hdr_blocks = (SUB_HEADER_LEN + notes_len + vmcoreinfo_len).div_ceil(block);
        let bitmap_blocks = 2 * max_mapnr.div_ceil(8).div_ceil(block).max(1);
        let descs_off = (1 + sub_hdr_blocks + bitmap_blocks) * block;
        let data_off = descs_off + reserved_descs * PAGE_DESC_LEN;
        KdumpWriter {
            file,
            layout: Layout {
                block,
                sub_hdr_blocks,
                bitmap_blocks,
                descs_off,
                data_off,
            },
            max_mapnr,
            reserved_descs,
            descs: Vec::new(),
            descs_written: 0,
            data: Vec::new(),
            data_end: data_off,
            zero_desc: None,
        }
    }

    fn page_desc(offset: u64, size: usize, flags: u32) -> [u8; PAGE_DESC_LEN as usize] {
        let mut d = [0u8; PAGE_DESC_LEN as usize];
        d[0..8].copy_from_slice(&offset.to_le_bytes());
        d[8..12].copy_from_slice(&(size as u32).to_le_bytes());
        d[12..16].copy_from_slice(&flags.to_le_bytes());
        d
    }

    fn push_desc(&mut self, d: [u8; PAGE_DESC_LEN as usize]) -> io::Result<()> {
        let index = self.descs_written + (self.descs.len() as u64) / PAGE_DESC_LEN;
        if index >= self.reserved_descs {
            return Err(io::Error::other("more pages than descriptors reserved"));
        }
        self.descs.extend_from_slice(&d);
        if self.descs.len() >= FLUSH_AT {
            self.flush_descs()?;
        }
        Ok(())
    }

    /// Adds the next dumped page (in pfn order): its stored bytes and descriptor flag.
    pub fn add_page(&mut self, stored: &[u8], flags: u32) -> io::Result<()> {
        let offset = self.data_end + self.data.len() as u64;
        self.push_desc(Self::page_desc(offset, stored.len(), flags))?;
        self.data.extend_from_slice(stored);
        if self.data.len() >= FLUSH_AT {
            self.flush_data()?;
        }
        Ok(())
    }

    /// Adds a zero page that is not excluded: every such page shares one stored copy.
    pub fn add_zero_page(&mut self, stored: &[u8], flags: u32) -> io::Result<()> {
        match self.zero_desc {
            Some(d) => self.push_desc(d),
            None => {
                let offset = self.data_end + self.data.len() as u64;
                self.add_page(stored, flags)?;
                self.zero_desc = Some(Self::page_desc(offset, stored.len(), flags));
                Ok(())
            }
        }
    }

    fn flush_descs(&mut self) -> io::Result<()> {
        let at = self.layout.descs_off + self.descs_written * PAGE_DESC_LEN;
        self.file.write_all_at(&self.descs, at)?;
        self.descs_written += self.descs.len() as u64 / PAGE_DESC_LEN;
        self.descs.clear();
        Ok(())
    }

    fn flush_data(&mut self) -> io::Result<()> {
        self.file.write_all_at(&self.data, self.data_end)?;
        self.data_end += self.data.len() as u64;
        self.data.clear();
        Ok(())
    }

    /// Writes the remaining pages, bitmaps and headers; returns the file size.
    pub fn finish(
        mut self,
        h: &HeaderInfo,
        present: &Bitmap,
        dumped: &Bitmap,
        incomplete: bool,
    ) -> io::Result<u64> {
        self.flush_descs()?;
        self.flush_data()?;
        let l = &self.layout;
        let bitmap_len = (l.bitmap_blocks / 2 * l.block) as usize;
        let mut bitmaps = vec![0u8; 2 * bitmap_len];
        for (i, map) in [present, dumped].into_iter().enumerate() {
            let b = map.bytes();
            let n = b.len().min(bitmap_len);
            bitmaps[i * bitmap_len..i * bitmap_len + n].copy_from_slice(&b[..n]);
        }
        self.file
            .write_all_at(&bitmaps, (1 + l.sub_hdr_blocks) * l.block)?;
        self.file.write_all_at(&self.sub_header(h), l.block)?;
        let mut status = h.compression.flag();
        if incomplete {
            status |= DUMP_DH_COMPRESSED_INCOMPLETE;
        }
        self.file
            .write_all_at(&self.header(h, status, present), 0)?;
        Ok(self.data_end.max(l.data_off))
    }

    fn header(&self, h: &HeaderInfo, status: u32, present: &Bitmap) -> Vec<u8> {
        let l = &self.layout;
        let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let mut b = vec![0u8; l.block as usize];
        b[0..8].copy_from_slice(SIGNATURE);
        b[8..12].copy_from_slice(&HEADER_VERSION.to_le_bytes());
        b[12..12 + UTSNAME_LEN].copy_from_slice(&h.utsname);
        // struct timeval after utsname, 8-byte aligned: offset 408.
        b[408..416].copy_from_slice(&h.crash_time.to_le_bytes());
        let fields: [(usize, u32); 9] = [
            (424, status),
            (428, l.block as u32),
            (432, l.sub_hdr_blocks as u32),
            (436, sat(l.bitmap_blocks)),
            (440, sat(self.max_mapnr)),
            (444, sat(present.count())),
            (448, 0),
            (452, sat(self.descs_written)),
            (456, 0),
        ];
        for (at, v) in fields {
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[460..464].copy_from_slice(&h.nr_cpus.to_le_bytes());
        b
    }

    fn sub_header(&self, h: &HeaderInfo) -> Vec<u8> {
        let l = &self.layout;
        let note_off = l.block + SUB_HEADER_LEN;
        let info_off = note_off + h.notes.len() as u64;
        let mut b = vec![0u8; (l.sub_hdr_blocks * l.block) as usize];
        let mut put = |at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        put(0, h.phys_base);
        put(8, u64::from(h.dump_level)); // dump_level (i32) and split (i32) = 0
        put(16, 0); // start_pfn
        put(24, self.max_mapnr); // end_pfn
        put(32, info_off);
        put(40, h.vmcoreinfo.len() as u64);
        put(48, note_off);
        put(56, h.notes.len() as u64);
        // 64, 72: no erase info
        put(80, 0); // start_pfn_64
        put(88, self.max_mapnr);
        put(96, self.max_mapnr);
        let notes_at = SUB_HEADER_LEN as usize;
        b[notes_at..notes_at + h.notes.len()].copy_from_slice(&h.notes);
        let info_at = notes_at + h.notes.len();
        b[info_at..info_at + h.vmcoreinfo.len()].copy_from_slice(&h.vmcoreinfo);
        b
    }
}
