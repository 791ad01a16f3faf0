//! Saving a filtered, compressed dump: an ELF vmcore (/proc/vmcore in the capture kernel, or
//! a copy of it) in, a kdump-compressed file out that makedumpfile, crash and drgn read.
//! Layers: `pages` decides what to leave out, `compress` packs pages, `writer` lays out the
//! file; this module walks the memory twice (struct pages first, then the data).

pub mod cli;
pub mod compress;
pub mod flat_out;
pub mod lzo;
pub mod pages;
pub mod parallel;
pub mod writer;

use super::error::DumpError;
use super::kernel::KernelCore;
use crate::dump::format::elf::ElfDump;
use crate::dump::format::source::{DumpFile, PhysMemory};
use crate::dump::kernel::x86_64::KernelMemory;
pub use compress::Compression;
use pages::{PageClass, PageFilter, EXCLUDE_ZERO};
use parallel::{default_threads, Compressors, StoredPage};
use std::fmt;
use std::path::Path;
pub use writer::DumpSink;
use writer::{Bitmap, HeaderInfo, KdumpWriter, UTSNAME_LEN};

/// Pages whose struct pages are read in one go (stays inside one memory section).
const CLASSIFY_CHUNK: u64 = 512;
/// Pages of data read from the vmcore in one go.
const READ_CHUNK: u64 = 256;
/// Pages compressed together, spread over the threads (4 MiB).
const BATCH_PAGES: u64 = 1024;
const PROGRESS_EVERY: u64 = 8192;
const MAX_PAGE_FRAMES: u64 = 1 << 34;

#[derive(Debug, Clone, Copy)]
pub struct SaveOptions {
    /// makedumpfile's -d: 1 zero, 2 cache, 4 cache private, 8 user, 16 free pages.
    pub dump_level: u8,
    pub compression: Compression,
    /// Compression threads; 0: one per CPU this process may run on.
    pub threads: usize,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            dump_level: 31,
            compression: Compression::Zlib,
            threads: 0,
        }
    }
}

/// What a save did, for the report and the bench.
#[derive(Debug, Clone, Default)]
pub struct SaveStats {
    /// Page frames present in the vmcore.
    pub present: u64,
    /// Pages in the saved dump, zero pages included.
    pub written: u64,
    /// Zero pages, all stored as one shared copy.
    pub zero: u64,
    pub cache: u64,
    pub cache_private: u64,
    pub user: u64,
    pub free: u64,
    /// Compression threads used.
    pub threads: usize,
    /// Pages the vmcore could not give (left out and the dump flagged incomplete).
    pub unreadable: u64,
    /// Pages its program headers promise but a truncated vmcore lacks (dump flagged incomplete).
    pub truncated: u64,
    pub file_size: u64,
    /// Why struct pages could not be used (then only zero pages are shared).
    pub filter_problem: Option<String>,
}

/// Progress of the long steps, for a capture console.
pub enum Progress {
    Classified { done: u64, total: u64 },
    Written { done: u64, total: u64 },
}

#[derive(Debug)]
pub enum SaveError {
    Read(DumpError),
    Write(std::io::Error),
}

impl SaveError {
    pub fn out_of_space(&self) -> bool {
        matches!(self, SaveError::Write(e) if e.raw_os_error() == Some(libc::ENOSPC))
    }
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveError::Read(e) => write!(f, "cannot read the vmcore: {e}"),
            SaveError::Write(e) => write!(f, "cannot write the dump: {e}"),
        }
    }
}

impl From<DumpError> for SaveError {
    fn from(e: DumpError) -> Self {
        SaveError::Read(e)
    }
}

impl From<std::io::Error> for SaveError {
    fn from(e: std::io::Error) -> Self {
        SaveError::Write(e)
    }
}

/// Page frames covered by the vmcore's PT_LOAD segments (the data actually in the file).
fn present_pages(elf: &ElfDump<DumpFile>, page: u64) -> (Bitmap, u64) {
    let max_mapnr = elf
        .segments()
        .iter()
        .map(|s| (s.paddr + s.mem_size).div_ceil(page))
        .max()
        .unwrap_or(0);
    let mut present = Bitmap::new(max_mapnr);
    for s in elf.segments() {
        let end = if s.available < s.file_size {
            (s.paddr + s.available) / page
        } else {
            (s.paddr + s.mem_size).div_ceil(page)
        };
        for pfn in s.paddr / page..end {
            present.set(pfn, true);
        }
    }
    (present, max_mapnr)
}

fn header_info(core: &KernelCore, notes: Vec<u8>, opts: &SaveOptions) -> HeaderInfo {
    let v = &core.vmcoreinfo;
    let mut utsname = [0u8; UTSNAME_LEN];
    let from_kernel = v
        .symbol("init_uts_ns")
        .map(|a| a + v.offset("uts_namespace.name").unwrap_or(0))
        .is_some_and(|a| core.mem.read_virt(a, &mut utsname).is_ok());
    if !from_kernel {
        let release = v.osrelease.as_deref().unwrap_or("").as_bytes();
        for (field, text) in [(0, b"Linux".as_slice()), (2, release), (4, b"x86_64")] {
            let n = text.len().min(64);
            utsname[field * 65..field * 65 + n].copy_from_slice(&text[..n]);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    HeaderInfo {
        utsname,
        crash_time: v.crash_time.unwrap_or(now),
        nr_cpus: core.notes.cpus.len() as u32,
        phys_base: v.phys_base().unwrap_or(0),
        dump_level: opts.dump_level,
        compression: opts.compression,
        notes,
        vmcoreinfo: core
            .notes
            .vmcoreinfo
            .clone()
            .unwrap_or_default()
            .into_bytes(),
    }
}

/// Pass 1: clears from `dumped` every page the dump level leaves out, by struct page.
fn exclude_by_page_flags(
    core: &KernelCore,
    filter: &PageFilter,
    level: u8,
    dumped: &mut Bitmap,
    max_mapnr: u64,
    stats: &mut SaveStats,
    progress: &mut dyn FnMut(Progress),
) {
    let mut pfn = 0;
    while pfn < max_mapnr {
        let count = CLASSIFY_CHUNK.min(max_mapnr - pfn);
        if pfn % (PROGRESS_EVERY * 8) == 0 {
            progress(Progress::Classified {
                done: pfn,
                total: max_mapnr,
            });
        }
        let Some(pages) = filter.read_pages(&core.mem, pfn, count as usize) else {
            pfn += count;
            continue;
        };
        let mut i = 0u64;
        while i < count {
            let at = pfn + i;
            if !dumped.get(at) {
                i += 1;
                continue;
            }
            let own = pages[i as usize];
            let class = filter.classify(own, filter.head_of(&core.mem, at, own));
            let span = match class {
                PageClass::Free { order } => 1u64 << order,
                _ => 1,
            };
            if class == PageClass::Poisoned || class.level_bit() & level != 0 {
                for p in at..(at + span).min(max_mapnr) {
                    if dumped.get(p) {
                        dumped.set(p, false);
                        *match class {
                            PageClass::Cache => &mut stats.cache,
                            PageClass::CachePrivate => &mut stats.cache_private,
                            PageClass::User => &mut stats.user,
                            _ => &mut stats.free,
                        } += 1;
                    }
                }
            }
            i += span;
        }
        pfn += count;
    }
}

/// The vmcore read two ways (the kernel's view for the page filter, the ELF segments for
/// the data) and its page size; refused when its memory is beyond what can be saved.
fn open_vmcore(vmcore: &Path) -> Result<(KernelCore, ElfDump<DumpFile>, u64), SaveError> {
    let core = KernelCore::open(vmcore)?;
    let elf = ElfDump::open_truncated(DumpFile::open(vmcore)?).map_err(|e| match e {
        DumpError::Format(m) => DumpError::Format(format!(
            "{m} (saving needs an ELF vmcore: /proc/vmcore or makedumpfile -E)"
        )),
        other => other,
    })?;
    let page = core.vmcoreinfo.page_size.unwrap_or(4096);
    let highest = elf
        .segments()
        .iter()
        .map(|s| (s.paddr + s.mem_size).div_ceil(page))
        .max()
        .unwrap_or(0);
    // 64 TiB of page frames: the bitmaps alone would not fit in a capture kernel beyond.
    if highest > MAX_PAGE_FRAMES {
        return Err(SaveError::Read(DumpError::Format(format!(
            "physical memory up to page frame {highest:#x} is beyond what can be saved \
             ({MAX_PAGE_FRAMES:#x}); corrupt program headers?"
        ))));
    }
    Ok((core, elf, page))
}

/// Compresses the batch of pages (on every thread) into the dump, in order, and empties it.
fn store_batch(
    compressors: &mut Compressors,
    batch: &mut Vec<u8>,
    page_size: u64,
    opts: &SaveOptions,
    w: &mut KdumpWriter<'_>,
    stats: &mut SaveStats,
) -> Result<(), SaveError> {
    let stored: Vec<StoredPage> = compressors.compress(batch, page_size as usize);
    batch.clear();
    for page in stored {
        // Zero pages stay in the bitmap but share one stored copy: makedumpfile does the
        // same, and readers (makedumpfile --dump-dmesg, crash) fail on excluded pages that
        // the kernel's own structures point into.
        if opts.dump_level & EXCLUDE_ZERO != 0 && page.zero {
            w.add_zero_page(&page.bytes, page.flag)?;
            stats.zero += 1;
        } else {
            w.add_page(&page.bytes, page.flag)?;
        }
        stats.written += 1;
    }
    Ok(())
}

/// Writes `vmcore` (an ELF core) to `out` as a kdump-compressed dump filtered at
/// `opts.dump_level`. `out` should be a new, empty file (or a `flat_out::FlatStream`); on
/// error it holds garbage.
pub fn save_kdump(
    vmcore: &Path,
    out: &dyn DumpSink,
    opts: &SaveOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<SaveStats, SaveError> {
    let (core, elf, page) = open_vmcore(vmcore)?;
    let (present, max_mapnr) = present_pages(&elf, page);
    let mut stats = SaveStats {
        present: present.count(),
        truncated: elf.missing_bytes().div_ceil(page),
        ..Default::default()
    };
    let mut dumped = present.clone();
    if opts.dump_level & !EXCLUDE_ZERO != 0 {
        match PageFilter::new(&core.mem, &core.vmcoreinfo) {
            Ok(filter) => exclude_by_page_flags(
                &core,
                &filter,
                opts.dump_level,
                &mut dumped,
                max_mapnr,
                &mut stats,
                progress,
            ),
            Err(e) => stats.filter_problem = Some(e.to_string()),
        }
    }
    let header = header_info(&core, elf.note_bytes().to_vec(), opts);
    let mut w = KdumpWriter::new(
        out,
        page,
        max_mapnr,
        dumped.count(),
        header.notes.len() as u64,
        header.vmcoreinfo.len() as u64,
    );
    let total = dumped.count();
    let threads = if opts.threads == 0 {
        default_threads()
    } else {
        opts.threads
    };
    let mut compressors = Compressors::new(opts.compression, threads);
    stats.threads = compressors.threads();
    let mut buf = vec![0u8; (READ_CHUNK * page) as usize];
    let mut batch: Vec<u8> = Vec::with_capacity((BATCH_PAGES * page) as usize);
    let mut done = 0u64;
    let mut pfn = 0u64;
    while pfn < max_mapnr {
        if !dumped.get(pfn) {
            pfn += 1;
            continue;
        }
        let mut run = 1;
        while run < READ_CHUNK && pfn + run < max_mapnr && dumped.get(pfn + run) {
            run += 1;
        }
        let chunk = &mut buf[..(run * page) as usize];
        let whole_run_read = elf.read_phys(pfn * page, chunk).is_ok();
        for i in 0..run {
            let data = &mut chunk[(i * page) as usize..((i + 1) * page) as usize];
            if !whole_run_read && elf.read_phys((pfn + i) * page, data).is_err() {
                dumped.set(pfn + i, false);
                stats.unreadable += 1;
                continue;
            }
            batch.extend_from_slice(data);
        }
        if batch.len() as u64 >= BATCH_PAGES * page {
            store_batch(&mut compressors, &mut batch, page, opts, &mut w, &mut stats)?;
        }
        done += run;
        if done / PROGRESS_EVERY != (done - run) / PROGRESS_EVERY {
            progress(Progress::Written { done, total });
        }
        pfn += run;
    }
    store_batch(&mut compressors, &mut batch, page, opts, &mut w, &mut stats)?;
    progress(Progress::Written { done: total, total });
    stats.file_size = w.finish(
        &header,
        &present,
        &dumped,
        stats.unreadable + stats.truncated > 0,
    )?;
    Ok(stats)
}
