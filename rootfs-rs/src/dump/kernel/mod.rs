//! `Dump`: an opened vmcore with every layer wired together (memory, VMCOREINFO, translation,
//! kallsyms, BTF), the entry point for programmatic triage. Below it in this folder: x86_64
//! address translation, kallsyms, BTF, type names, typed values and kernel lists.

pub mod btf;
pub mod kallsyms;
pub mod lists;
pub mod types;
pub mod value;
pub mod x86_64;

use super::error::{bad, DumpError};
use crate::dump::format::cache::CachedPhys;
use crate::dump::format::notes::NoteInfo;
use crate::dump::format::open::{open_path_with, DumpFormat};
use crate::dump::format::source::PhysMemory;
use crate::dump::format::vmcoreinfo::VmcoreInfo;
use crate::dump::kernel::btf::Btf;
use crate::dump::kernel::kallsyms::Kallsyms;
use crate::dump::kernel::x86_64::{KernelMemory, X86_64};
use std::path::Path;
use std::sync::{Arc, OnceLock};

const PAGE_CACHE_PAGES: usize = 1024; // 4 MiB
const MAX_BTF: u64 = 64 << 20;

pub struct Dump {
    pub format: DumpFormat,
    /// Page compression of the container ("none", "zlib", …).
    pub compression: &'static str,
    /// Why pages are missing (truncated file, incomplete flag), None for a whole dump.
    pub incomplete: Option<String>,
    pub notes: NoteInfo,
    pub vmcoreinfo: VmcoreInfo,
    pub mem: X86_64,
    pub kallsyms: Kallsyms,
    pub btf: Btf,
    percpu_offsets: OnceLock<Vec<u64>>,
}

/// The first stage of opening: container, VMCOREINFO and address translation, without
/// kallsyms or BTF. Enough for what VMCOREINFO alone describes (the kernel log), so a dump
/// whose kallsyms or BTF cannot be read still yields that much.
pub struct KernelCore {
    pub format: DumpFormat,
    pub compression: &'static str,
    pub incomplete: Option<String>,
    pub notes: NoteInfo,
    pub vmcoreinfo: VmcoreInfo,
    pub mem: X86_64,
    phys_end: Option<u64>,
}

impl KernelCore {
    /// Opens the container and sets up translation; a truncated ELF file is accepted.
    pub fn open(path: &Path) -> Result<KernelCore, DumpError> {
        let opened = open_path_with(path, true)?;
        let text = opened.notes.vmcoreinfo.as_deref().ok_or_else(|| {
            DumpError::Missing(format!(
                "{}: VMCOREINFO (QEMU dumps need -device vmcoreinfo and the guest's fw_cfg driver)",
                path.display()
            ))
        })?;
        let vmcoreinfo = VmcoreInfo::parse(text)?;
        let phys_base = vmcoreinfo.phys_base().or(opened.phys_base).ok_or_else(|| {
            DumpError::Missing("phys_base (no NUMBER(phys_base), no kernel text segment)".into())
        })?;
        let phys = Arc::new(CachedPhys::new(opened.phys, PAGE_CACHE_PAGES));
        let phys_end = phys.phys_end();
        let mem = X86_64::new(phys, &vmcoreinfo, phys_base)?;
        Ok(KernelCore {
            format: opened.format,
            compression: opened.compression,
            incomplete: opened.incomplete,
            notes: opened.notes,
            vmcoreinfo,
            mem,
            phys_end,
        })
    }
}

impl KernelMemory for KernelCore {
    fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        self.mem.read_virt(vaddr, buf)
    }
}

impl Dump {
    /// Opens a dump; a truncated ELF file opens too, with `incomplete` saying so.
    pub fn open(path: &Path) -> Result<Dump, DumpError> {
        Dump::from_core(KernelCore::open(path)?)
    }

    /// Completes an opened core with kallsyms and BTF.
    pub fn from_core(core: KernelCore) -> Result<Dump, DumpError> {
        let KernelCore {
            format,
            compression,
            incomplete,
            notes,
            vmcoreinfo,
            mut mem,
            phys_end,
        } = core;
        let kallsyms = Kallsyms::load(&mem, &vmcoreinfo)?;
        if let Some(end) = phys_end {
            let base = match kallsyms.lookup("page_offset_base") {
                Some(var) => mem.read_u64(var)?,
                None => mem.default_page_offset(),
            };
            mem.set_direct_map(base, end);
        }
        let btf = load_btf(&mem, &kallsyms)?;
        Ok(Dump {
            format,
            compression,
            incomplete,
            notes,
            vmcoreinfo,
            mem,
            kallsyms,
            btf,
            percpu_offsets: OnceLock::new(),
        })
    }

    /// Address of a kernel symbol (kallsyms, then VMCOREINFO).
    pub fn symbol(&self, name: &str) -> Result<u64, DumpError> {
        self.kallsyms
            .lookup(name)
            .or_else(|| self.vmcoreinfo.symbol(name))
            .ok_or_else(|| DumpError::Missing(format!("symbol {name}")))
    }

    /// Number of possible CPU ids (nr_cpu_ids).
    pub fn nr_cpu_ids(&self) -> Result<u32, DumpError> {
        self.read_u32(self.symbol("nr_cpu_ids")?)
    }

    /// __per_cpu_offset[cpu] for every cpu < nr_cpu_ids, read once.
    pub fn percpu_offsets(&self) -> Result<&[u64], DumpError> {
        if let Some(v) = self.percpu_offsets.get() {
            return Ok(v);
        }
        let n = self.nr_cpu_ids()?;
        if n == 0 || n > 65536 {
            return Err(bad(format!("nr_cpu_ids = {n} is implausible")));
        }
        let base = self.symbol("__per_cpu_offset")?;
        let offsets = (0..n as u64)
            .map(|cpu| self.read_u64(base + cpu * 8))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.percpu_offsets.get_or_init(|| offsets))
    }

    /// Address of a per-CPU variable's instance on `cpu`.
    pub fn per_cpu_addr(&self, var_addr: u64, cpu: u32) -> Result<u64, DumpError> {
        let offsets = self.percpu_offsets()?;
        let off = offsets.get(cpu as usize).ok_or_else(|| {
            DumpError::Missing(format!("cpu {cpu} (nr_cpu_ids = {})", offsets.len()))
        })?;
        Ok(var_addr.wrapping_add(*off))
    }

    /// Page size of the dumped kernel.
    pub fn page_size(&self) -> u64 {
        self.vmcoreinfo.page_size.unwrap_or(4096)
    }
}

impl KernelMemory for Dump {
    fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        self.mem.read_virt(vaddr, buf)
    }
}

/// The BTF blob lies in kernel memory between __start_BTF and __stop_BTF.
fn load_btf(mem: &X86_64, syms: &Kallsyms) -> Result<Btf, DumpError> {
    let start = syms.require("__start_BTF")?;
    let stop = syms.require("__stop_BTF")?;
    let len = stop
        .checked_sub(start)
        .filter(|&l| l > 0 && l <= MAX_BTF)
        .ok_or_else(|| {
            bad(format!(
                "__start_BTF {start:#x} .. __stop_BTF {stop:#x} is not a plausible BTF range"
            ))
        })?;
    let mut blob = vec![0u8; len as usize];
    mem.read_virt(start, &mut blob)?;
    Btf::parse(blob)
}
