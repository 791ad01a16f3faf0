//! Page compression on every CPU the capture kernel has. A capture kernel usually runs with
//! `nr_cpus=` above 1 on servers, and compression is what a save spends its time on: pages
//! are read in batches, each batch split into one contiguous slice per thread, compressed
//! with one compressor per thread, and written back in page order, so the file is the same
//! whatever the number of threads.

use super::compress::{Compression, PageCompressor};

/// More threads stop paying off against a single writer and reader.
const MAX_THREADS: usize = 16;
/// A slice smaller than this is not worth a thread.
const MIN_PAGES_PER_THREAD: usize = 16;

/// One page as it goes into the dump.
pub struct StoredPage {
    pub bytes: Vec<u8>,
    /// The page descriptor's compression flag (0: stored as is).
    pub flag: u32,
    /// The page was all zeros.
    pub zero: bool,
}

/// One compressor per thread.
pub struct Compressors(Vec<PageCompressor>);

/// Threads to use when the caller does not say: the CPUs this process may run on.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
}

impl Compressors {
    pub fn new(kind: Compression, threads: usize) -> Compressors {
        let n = threads.clamp(1, MAX_THREADS);
        Compressors((0..n).map(|_| PageCompressor::new(kind)).collect())
    }

    pub fn threads(&self) -> usize {
        self.0.len()
    }

    /// Compresses the pages in `data` (back to back, `page` bytes each), in order.
    pub fn compress(&mut self, data: &[u8], page: usize) -> Vec<StoredPage> {
        let pages = data.len() / page.max(1);
        let threads = self.0.len().min(pages / MIN_PAGES_PER_THREAD).max(1);
        if threads == 1 {
            return compress_slice(&mut self.0[0], data, page);
        }
        let per_thread = pages.div_ceil(threads) * page;
        let results: Vec<Option<Vec<StoredPage>>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .0
                .iter_mut()
                .zip(data.chunks(per_thread))
                .map(|(c, slice)| s.spawn(move || compress_slice(c, slice, page)))
                .collect();
            handles.into_iter().map(|h| h.join().ok()).collect()
        });
        let mut out = Vec::with_capacity(pages);
        for (slice, result) in data.chunks(per_thread).zip(results) {
            // A compressor does not panic on any input; if a thread died anyway, its pages
            // are stored uncompressed rather than lost.
            out.extend(result.unwrap_or_else(|| uncompressed(slice, page)));
        }
        out
    }
}

fn uncompressed(data: &[u8], page: usize) -> Vec<StoredPage> {
    data.chunks_exact(page)
        .map(|p| StoredPage {
            bytes: p.to_vec(),
            flag: 0,
            zero: p.iter().all(|&b| b == 0),
        })
        .collect()
}

fn compress_slice(c: &mut PageCompressor, data: &[u8], page: usize) -> Vec<StoredPage> {
    data.chunks_exact(page)
        .map(|p| {
            let (bytes, flag) = c.compress(p);
            StoredPage {
                bytes: bytes.to_vec(),
                flag,
                zero: p.iter().all(|&b| b == 0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n * 4096];
        for (i, b) in v.iter_mut().enumerate() {
            // Every third page zero, the others compressible text with a page number.
            if (i / 4096) % 3 != 0 {
                *b = b"kboot page "[(i + i / 4096) % 11];
            }
        }
        v
    }

    #[test]
    fn any_number_of_threads_gives_the_same_pages_in_order() {
        let data = pages(300);
        for kind in [Compression::Zlib, Compression::Lzo, Compression::Snappy] {
            let one = Compressors::new(kind, 1).compress(&data, 4096);
            for threads in [2, 3, 7] {
                let many = Compressors::new(kind, threads).compress(&data, 4096);
                assert_eq!(many.len(), 300);
                for (a, b) in one.iter().zip(&many) {
                    assert_eq!((&a.bytes, a.flag, a.zero), (&b.bytes, b.flag, b.zero));
                }
            }
            assert!(one[0].zero && !one[1].zero);
            assert!(one[1].bytes.len() < 4096, "{kind:?} compresses");
        }
    }

    #[test]
    fn small_batches_stay_on_one_thread() {
        let mut c = Compressors::new(Compression::Zlib, 4);
        assert_eq!(c.threads(), 4);
        assert_eq!(c.compress(&pages(3), 4096).len(), 3);
        assert!(c.compress(&[], 4096).is_empty());
    }
}
