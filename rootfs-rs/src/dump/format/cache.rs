//! A small page cache in front of any physical-memory reader: page-table walks and struct reads
//! touch the same pages over and over, and compressed pages are expensive to decode.

use crate::dump::error::DumpError;
use crate::dump::format::source::PhysMemory;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const PAGE: u64 = 4096;

struct Pages {
    map: HashMap<u64, Box<[u8]>>,
    order: VecDeque<u64>,
}

/// Caches up to `capacity` 4 KiB pages (FIFO eviction keeps it simple and bounded).
pub struct CachedPhys {
    inner: Box<dyn PhysMemory>,
    capacity: usize,
    pages: Mutex<Pages>,
}

impl CachedPhys {
    pub fn new(inner: Box<dyn PhysMemory>, capacity: usize) -> Self {
        CachedPhys {
            inner,
            capacity: capacity.max(1),
            pages: Mutex::new(Pages {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn with_page<R>(&self, pfn: u64, f: impl FnOnce(&[u8]) -> R) -> Result<R, DumpError> {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pages.map.get(&pfn) {
            return Ok(f(p));
        }
        let mut buf = vec![0u8; PAGE as usize].into_boxed_slice();
        self.inner.read_phys(pfn * PAGE, &mut buf)?;
        let r = f(&buf);
        if pages.order.len() >= self.capacity {
            if let Some(old) = pages.order.pop_front() {
                pages.map.remove(&old);
            }
        }
        pages.order.push_back(pfn);
        pages.map.insert(pfn, buf);
        Ok(r)
    }
}

impl PhysMemory for CachedPhys {
    fn phys_end(&self) -> Option<u64> {
        self.inner.phys_end()
    }

    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(DumpError::NotInDump(paddr))?;
            let in_page = (addr % PAGE) as usize;
            let n = (PAGE as usize - in_page).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            let cached = self.with_page(addr / PAGE, |p| {
                out.copy_from_slice(&p[in_page..in_page + n])
            });
            if let Err(e) = cached {
                // The whole page may be unreadable (segment edge) while this part is fine.
                if matches!(e, DumpError::PageExcluded(_)) {
                    return Err(e);
                }
                self.inner.read_phys(addr, out)?;
            }
            done += n;
        }
        Ok(())
    }
}
