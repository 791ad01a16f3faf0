//! The unwinder's view of a `Dump`: stack words from kernel memory, the vmlinux ORC table
//! (`__start_orc_unwind_ip` … via kallsyms), each loaded module's text range, ORC table
//! (`mod->arch.orc_unwind*`) and symbols (`mod->kallsyms`), so frames in module code are
//! unwound and named `func+0x1a/0x60 [module]`.

use super::orc::{OrcEntry, OrcLayout, OrcTable};
use super::UnwindEnv;
use crate::dump::error::DumpError;
use crate::dump::kernel::Dump;
use crate::dump::{list_for_each_entry, KernelMemory, Value};

/// More modules than any system loads: the walk stops there on a corrupt list.
const MAX_MODULES: usize = 4096;
/// A module with more symbols than this has a corrupt count.
const MAX_MODULE_SYMS: u64 = 1_000_000;
const ELF64_SYM_SIZE: u64 = 24;
const STT_FUNC: u8 = 2;

/// A loaded module's code.
pub struct ModuleText {
    pub name: String,
    pub base: u64,
    pub size: u64,
    orc: Option<OrcTable>,
    /// (address, size, name) of its function symbols, sorted by address.
    symbols: Vec<(u64, u64, String)>,
}

/// A named code address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSymbol {
    pub name: String,
    pub offset: u64,
    /// Distance to the next symbol (what the kernel prints after the slash), 0 if unknown.
    pub size: u64,
    pub module: Option<String>,
}

pub struct DumpEnv<'d> {
    pub dump: &'d Dump,
    vmlinux_orc: Option<OrcTable>,
    /// vmlinux code: [_stext, _etext) and the init text [_sinittext, _einittext), which boot
    /// stacks (rest_init → start_kernel) still return into after it is freed.
    text: Vec<(u64, u64)>,
    pub modules: Vec<ModuleText>,
    /// Why the vmlinux ORC table could not be read (the walk falls back to frame pointers).
    pub orc_error: Option<String>,
    /// Problems reading the module list (the rest still works).
    pub module_errors: Vec<String>,
}

impl<'d> DumpEnv<'d> {
    pub fn new(dump: &'d Dump) -> DumpEnv<'d> {
        let mut layout = OrcLayout::from_btf(dump);
        let (vmlinux_orc, orc_error) = match vmlinux_orc(dump, layout) {
            Ok(mut t) => {
                layout = t.detect_numbering();
                (Some(t), None)
            }
            Err(e) => (None, Some(e.to_string())),
        };
        let text = [("_stext", "_etext"), ("_sinittext", "_einittext")]
            .iter()
            .filter_map(|(a, b)| Some((dump.symbol(a).ok()?, dump.symbol(b).ok()?)))
            .collect();
        let mut module_errors = Vec::new();
        let modules = match module_texts(dump, layout, &mut module_errors) {
            Ok(m) => m,
            Err(e) => {
                module_errors.push(format!("module list: {e}"));
                Vec::new()
            }
        };
        DumpEnv {
            dump,
            vmlinux_orc,
            text,
            modules,
            orc_error,
            module_errors,
        }
    }

    fn in_vmlinux_text(&self, ip: u64) -> bool {
        self.text
            .iter()
            .any(|(start, end)| (*start..*end).contains(&ip))
    }

    fn module_at(&self, addr: u64) -> Option<&ModuleText> {
        self.modules
            .iter()
            .find(|m| addr >= m.base && addr - m.base < m.size)
    }

    /// `func+off/size [module]` material for a code address.
    pub fn symbolize(&self, addr: u64) -> Option<CodeSymbol> {
        if let Some(m) = self.module_at(addr) {
            let pos = m.symbols.partition_point(|s| s.0 <= addr);
            let (start, size, name) = m.symbols.get(pos.checked_sub(1)?)?;
            return Some(CodeSymbol {
                name: name.clone(),
                offset: addr - start,
                size: *size,
                module: Some(m.name.clone()),
            });
        }
        let (sym, offset) = self.dump.kallsyms.symbolize(addr)?;
        Some(CodeSymbol {
            name: sym.name.to_string(),
            offset,
            size: self.dump.kallsyms.size_of(sym.addr).unwrap_or(0),
            module: None,
        })
    }
}

impl UnwindEnv for DumpEnv<'_> {
    fn read_u64(&self, addr: u64) -> Option<u64> {
        self.dump.read_u64(addr).ok()
    }

    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Option<()> {
        self.dump.read_virt(addr, buf).ok()
    }

    fn orc(&self, ip: u64) -> Option<OrcEntry> {
        if let Some(m) = self.module_at(ip) {
            return m.orc.as_ref()?.lookup(ip);
        }
        if !self.in_vmlinux_text(ip) {
            return None;
        }
        self.vmlinux_orc.as_ref()?.lookup(ip)
    }

    fn has_orc(&self) -> bool {
        self.vmlinux_orc.is_some()
    }

    fn is_text(&self, ip: u64) -> bool {
        self.in_vmlinux_text(ip) || self.module_at(ip).is_some()
    }
}

fn vmlinux_orc(dump: &Dump, layout: OrcLayout) -> Result<OrcTable, DumpError> {
    let ips = dump.symbol("__start_orc_unwind_ip")?;
    let ips_end = dump.symbol("__stop_orc_unwind_ip")?;
    let entries = dump.symbol("__start_orc_unwind")?;
    let count = ips_end.saturating_sub(ips) / 4;
    OrcTable::read(dump, ips, entries, count, layout)
}

/// Every module's text range, ORC table and function symbols.
fn module_texts(
    dump: &Dump,
    layout: OrcLayout,
    errors: &mut Vec<String>,
) -> Result<Vec<ModuleText>, DumpError> {
    let head = dump.var("modules")?;
    let mut out = Vec::new();
    for module in list_for_each_entry(&head, "struct module", "list")?.limit(MAX_MODULES) {
        let module = module?;
        let name = module.field("name")?.string()?;
        match module_text(dump, &module, layout, &name) {
            Ok(m) => out.push(m),
            Err(e) => errors.push(format!("module {name}: {e}")),
        }
    }
    Ok(out)
}

/// The text range: `core_layout` (≤ 6.3) or `mem[MOD_TEXT]` (≥ 6.4, index 0).
fn text_range(module: &Value<'_>) -> Result<(u64, u64), DumpError> {
    if module.has_field("core_layout") {
        let layout = module.field("core_layout")?;
        let size = layout
            .field("text_size")
            .or_else(|_| layout.field("size"))?;
        return Ok((layout.field("base")?.as_u64()?, size.as_u64()?));
    }
    let text = module.field("mem")?.index(0)?;
    Ok((text.field("base")?.as_u64()?, text.field("size")?.as_u64()?))
}

fn module_text(
    dump: &Dump,
    module: &Value<'_>,
    layout: OrcLayout,
    name: &str,
) -> Result<ModuleText, DumpError> {
    let (base, size) = text_range(module)?;
    let orc = module_orc(dump, module, layout).ok().flatten();
    let symbols = module_symbols(dump, module, base, size).unwrap_or_default();
    Ok(ModuleText {
        name: name.to_string(),
        base,
        size,
        orc,
        symbols,
    })
}

fn module_orc(
    dump: &Dump,
    module: &Value<'_>,
    layout: OrcLayout,
) -> Result<Option<OrcTable>, DumpError> {
    let arch = module.field("arch")?;
    let count = arch.field("num_orcs")?.as_u64()?;
    if count == 0 {
        return Ok(None);
    }
    let ips = arch.field("orc_unwind_ip")?.as_u64()?;
    let entries = arch.field("orc_unwind")?.as_u64()?;
    OrcTable::read(dump, ips, entries, count, layout).map(Some)
}

/// Function symbols of a module inside its text, from `mod->kallsyms` (an Elf64_Sym array and
/// its string table, kept by the kernel for /proc/kallsyms).
fn module_symbols(
    dump: &Dump,
    module: &Value<'_>,
    base: u64,
    size: u64,
) -> Result<Vec<(u64, u64, String)>, DumpError> {
    let ks = module.field("kallsyms")?.deref()?;
    let symtab = ks.field("symtab")?.as_u64()?;
    let count = ks.field("num_symtab")?.as_u64()?.min(MAX_MODULE_SYMS);
    let strtab = ks.field("strtab")?.as_u64()?;
    let mut raw = vec![0u8; (count * ELF64_SYM_SIZE) as usize];
    dump.read_virt(symtab, &mut raw)?;
    let mut out = Vec::new();
    for sym in raw.chunks_exact(ELF64_SYM_SIZE as usize) {
        let name_off = u32::from_le_bytes([sym[0], sym[1], sym[2], sym[3]]);
        let info = sym[4];
        let value = u64::from_le_bytes(sym[8..16].try_into().unwrap_or([0; 8]));
        let sym_size = u64::from_le_bytes(sym[16..24].try_into().unwrap_or([0; 8]));
        if info & 0xf != STT_FUNC || value < base || value - base >= size {
            continue;
        }
        let name = dump.read_cstr(strtab + u64::from(name_off), 256)?;
        out.push((value, sym_size, String::from_utf8_lossy(&name).into_owned()));
    }
    out.sort_by_key(|s| s.0);
    Ok(out)
}
