//! Error type shared by every layer of the dump engine.

use std::fmt;

/// Everything that can go wrong while reading a dump. Bad input is always reported
/// through this type, never through a panic.
#[derive(Debug)]
pub enum DumpError {
    /// An I/O error on the dump file, with what was being read.
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The file does not follow its format (truncated, corrupt, unsupported).
    Format(String),
    /// The page holding this physical address was filtered out of the dump (e.g. makedumpfile -d).
    PageExcluded(u64),
    /// This physical address is not in the dump at all (memory hole or beyond its end).
    NotInDump(u64),
    /// A compressed page could not be decompressed.
    Decompress { paddr: u64, detail: String },
    /// The virtual address has no mapping in the kernel page tables.
    Unmapped(u64),
    /// A symbol, VMCOREINFO key, type or field that the caller needs does not exist.
    Missing(String),
    /// A value was used as the wrong kind of type (e.g. `.field()` on an integer).
    Type(String),
    /// A list walk exceeded its limit or found a cycle.
    Loop(String),
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Io { context, source } => write!(f, "{context}: {source}"),
            DumpError::Format(m) => write!(f, "bad dump: {m}"),
            DumpError::PageExcluded(a) => write!(
                f,
                "page of physical address {a:#x} was excluded from the dump"
            ),
            DumpError::NotInDump(a) => write!(f, "physical address {a:#x} is not in the dump"),
            DumpError::Decompress { paddr, detail } => {
                write!(
                    f,
                    "cannot decompress page at physical address {paddr:#x}: {detail}"
                )
            }
            DumpError::Unmapped(a) => write!(f, "virtual address {a:#x} is not mapped"),
            DumpError::Missing(m) => write!(f, "not found: {m}"),
            DumpError::Type(m) => write!(f, "type error: {m}"),
            DumpError::Loop(m) => write!(f, "list walk stopped: {m}"),
        }
    }
}

impl std::error::Error for DumpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DumpError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Shorthand for a format error.
pub(crate) fn bad(msg: impl Into<String>) -> DumpError {
    DumpError::Format(msg.into())
}
