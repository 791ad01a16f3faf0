//! Format detection: ELF core, kdump-compressed, or flattened (makedumpfile -F / QEMU kdump-*).

use crate::dump::error::{bad, DumpError};
use crate::dump::format::elf::ElfDump;
use crate::dump::format::flattened::Flattened;
use crate::dump::format::kdump::KdumpDump;
use crate::dump::format::notes::NoteInfo;
use crate::dump::format::source::{read_vec, DumpFile, PhysMemory, ReadAt};
use crate::dump::format::{flattened, kdump};
use std::path::Path;

/// Which container the dump came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    Elf,
    Kdump,
    FlattenedKdump,
    FlattenedElf,
}

/// Physical memory plus what the container itself says about the crashed kernel.
pub struct OpenedMemory {
    pub format: DumpFormat,
    pub phys: Box<dyn PhysMemory>,
    pub notes: NoteInfo,
    /// phys_base as the container knows it (ELF text segment, kdump sub header).
    pub phys_base: Option<u64>,
    /// Release from the kdump header's utsname.
    pub release: Option<String>,
    /// Page compression named by the container ("none" for ELF).
    pub compression: &'static str,
    /// Why the dump lacks pages it should hold (truncated file, incomplete flag); None if whole.
    pub incomplete: Option<String>,
}

fn from_elf<S: ReadAt + 'static>(
    src: S,
    format: DumpFormat,
    lenient: bool,
) -> Result<OpenedMemory, DumpError> {
    let elf = if lenient {
        ElfDump::open_truncated(src)?
    } else {
        ElfDump::open(src)?
    };
    let notes = elf.notes().clone();
    let phys_base = elf.phys_base_from_segments();
    let missing = elf.missing_bytes();
    let incomplete =
        (missing > 0).then(|| format!("ELF file truncated: {missing} bytes of memory missing"));
    Ok(OpenedMemory {
        format,
        phys: Box::new(elf),
        notes,
        phys_base,
        release: None,
        compression: "none",
        incomplete,
    })
}

fn from_kdump<S: ReadAt + 'static>(src: S, format: DumpFormat) -> Result<OpenedMemory, DumpError> {
    let k = KdumpDump::open(src)?;
    let notes = k.notes().clone();
    let h = k.header();
    let (phys_base, release) = (Some(h.phys_base), Some(h.release.clone()));
    let incomplete = h.incomplete().then(|| {
        "kdump header flags the dump incomplete (DUMP_DH_COMPRESSED_INCOMPLETE)".to_string()
    });
    let compression = h.compression();
    Ok(OpenedMemory {
        format,
        phys: Box::new(k),
        notes,
        phys_base,
        release,
        compression,
        incomplete,
    })
}

/// Opens any supported dump container from a source; a truncated ELF file is an error.
pub fn open_source<S: ReadAt + 'static>(src: S) -> Result<OpenedMemory, DumpError> {
    open_source_with(src, false)
}

/// Like `open_source`; with `lenient` a truncated ELF file opens with its missing memory
/// reported in `incomplete` (what triage wants: a partial report beats none).
pub fn open_source_with<S: ReadAt + 'static>(
    src: S,
    lenient: bool,
) -> Result<OpenedMemory, DumpError> {
    let magic = read_vec(&src, 0, 16.min(src.size()), "file signature")?;
    if magic.starts_with(b"\x7fELF") {
        from_elf(src, DumpFormat::Elf, lenient)
    } else if magic.starts_with(kdump::SIGNATURE) {
        from_kdump(src, DumpFormat::Kdump)
    } else if magic.starts_with(flattened::SIGNATURE) {
        let flat = Flattened::open(src)?;
        let inner = read_vec(
            &flat,
            0,
            16.min(flat.size()),
            "flattened contents signature",
        )?;
        if inner.starts_with(kdump::SIGNATURE) {
            from_kdump(flat, DumpFormat::FlattenedKdump)
        } else if inner.starts_with(b"\x7fELF") {
            from_elf(flat, DumpFormat::FlattenedElf, lenient)
        } else {
            Err(bad("flattened file holds neither a kdump nor an ELF dump"))
        }
    } else {
        Err(bad(
            "unknown dump format (not ELF core, kdump-compressed or flattened)",
        ))
    }
}

/// Opens a dump file; errors name the path.
pub fn open_path(path: &Path) -> Result<OpenedMemory, DumpError> {
    open_path_with(path, false)
}

/// `open_path` that accepts a truncated ELF file (see `open_source_with`).
pub fn open_path_with(path: &Path, lenient: bool) -> Result<OpenedMemory, DumpError> {
    let name = path.display().to_string();
    open_source_with(DumpFile::open(path)?, lenient).map_err(|e| match e {
        DumpError::Format(m) => DumpError::Format(format!("{name}: {m}")),
        other => other,
    })
}
