//! Positional reads from the dump file (never loads it whole) and the physical-memory trait.

use crate::dump::error::{bad, DumpError};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Something that can serve bytes at an offset: the dump file itself or a flattened view of it.
pub trait ReadAt: Send + Sync {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DumpError>;
    /// Logical size in bytes.
    fn size(&self) -> u64;
    /// Bytes really stored; less than `size` for a sparse source (a flattened dump's gaps
    /// read as zeros), so work over a region can be bounded by what the input holds.
    fn stored(&self) -> u64 {
        self.size()
    }
}

/// Physical memory of the crashed machine, as stored in some dump format.
pub trait PhysMemory: Send + Sync {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), DumpError>;
    /// End of the highest physical range the dump describes, if known.
    fn phys_end(&self) -> Option<u64> {
        None
    }
}

/// A dump file read with pread(2).
pub struct DumpFile {
    file: File,
    size: u64,
    name: String,
}

impl DumpFile {
    pub fn open(path: &Path) -> Result<Self, DumpError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| DumpError::Io {
            context: name.clone(),
            source,
        })?;
        let size = file
            .metadata()
            .map_err(|source| DumpError::Io {
                context: name.clone(),
                source,
            })?
            .len();
        Ok(DumpFile { file, size, name })
    }
}

impl ReadAt for DumpFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.size) {
            return Err(bad(format!(
                "{}: read of {} bytes at offset {offset:#x} goes past the end ({:#x})",
                self.name,
                buf.len(),
                self.size
            )));
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|source| DumpError::Io {
                context: format!("{}: read at {offset:#x}", self.name),
                source,
            })
    }
    fn size(&self) -> u64 {
        self.size
    }
}

/// An in-memory byte buffer; used by tests to feed crafted or corrupted headers.
pub struct MemSource(pub Vec<u8>);

impl ReadAt for MemSource {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let start = usize::try_from(offset).map_err(|_| bad("offset too large"))?;
        let src = crate::dump::format::bytes::slice(&self.0, start, buf.len(), "memory source")?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
}

/// Reads `len` bytes at `offset` into a new vector, refusing absurd sizes from corrupt headers.
pub(crate) fn read_vec(
    src: &dyn ReadAt,
    offset: u64,
    len: u64,
    what: &str,
) -> Result<Vec<u8>, DumpError> {
    const LIMIT: u64 = 64 << 20;
    if len > LIMIT {
        return Err(bad(format!(
            "{what}: size {len} is implausible (limit {LIMIT})"
        )));
    }
    let mut v = vec![0u8; len as usize];
    src.read_at(offset, &mut v).map_err(|e| match e {
        DumpError::Format(m) => bad(format!("{what}: {m}")),
        other => other,
    })?;
    Ok(v)
}
