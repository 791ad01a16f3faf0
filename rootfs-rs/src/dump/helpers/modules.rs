//! Loaded modules like crash's `mod` and lsmod: the `modules` list of `struct module`, with
//! each module's size as /proc/modules prints it, its state and its own taint letters.

use super::array_len;
use crate::dump::error::DumpError;
use crate::dump::kernel::btf::Kind;
use crate::dump::kernel::lists::list_for_each_entry;
use crate::dump::kernel::x86_64::KernelMemory;
use crate::dump::kernel::Dump;
use crate::dump::Value;

/// More modules than any kernel loads: past it the list is taken as corrupt.
const MAX_MODULES: usize = 16_384;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Address of the `struct module` (crash's MODULE column).
    pub addr: u64,
    pub name: String,
    /// Start of its text: what /proc/modules prints as the address.
    pub base: Option<u64>,
    /// Bytes, as /proc/modules and lsmod print them: every part of the module's memory
    /// (core + init [+ data] on ≤ 6.3, the sum of `mem[]` since 6.4).
    pub size: u64,
    /// module_refcount(): `refcnt` minus the base reference; None without module unloading.
    pub refcount: Option<i64>,
    /// /proc/modules' words: Live, Loading, Unloading; Unformed while being set up.
    pub state: String,
    /// The module's taint letters ("OE"), empty when it taints nothing.
    pub taints: String,
}

/// The reference module_refcount() subtracts (MODULE_REF_BASE).
const MODULE_REF_BASE: i64 = 1;

/// The word /proc/modules prints for an enumerator of `enum module_state`.
pub fn state_word(enumerator: &str) -> String {
    match enumerator {
        "MODULE_STATE_LIVE" => "Live".to_string(),
        "MODULE_STATE_COMING" => "Loading".to_string(),
        "MODULE_STATE_GOING" => "Unloading".to_string(),
        "MODULE_STATE_UNFORMED" => "Unformed".to_string(),
        // A state added later: its own name, in the same capitalisation.
        other => {
            let word = other.strip_prefix("MODULE_STATE_").unwrap_or(other);
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        }
    }
}

/// One entry of the kernel's `taint_flags[]`: the letter and whether it is a per-module
/// taint (`module`; a kernel without that member marks every flag as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaintFlag {
    pub c_true: u8,
    pub module: bool,
}

/// module_flags_taint(): the letters of the per-module flags set in `taints`, in bit order.
pub fn taint_letters(taints: u64, flag: impl Fn(u32) -> Option<TaintFlag>) -> String {
    (0..64)
        .filter(|bit| taints & (1u64 << bit) != 0)
        .filter_map(&flag)
        .filter(|f| f.module && f.c_true.is_ascii_uppercase())
        .map(|f| f.c_true as char)
        .collect()
}

/// Reads `taint_flags[bit]` with the layout BTF gives `struct taint_flag` (it grew a
/// description pointer after 6.1, so the entry size is not fixed).
struct TaintTable {
    addr: u64,
    entry: u64,
    module_off: Option<u64>,
}

impl TaintTable {
    fn new(dump: &Dump) -> Result<TaintTable, DumpError> {
        let addr = dump.symbol("taint_flags")?;
        let id = dump.btf.find(Kind::Struct, "taint_flag");
        let entry = match id {
            Some(id) => dump.btf.size_of(id)?.max(2),
            None => 3,
        };
        let module_off = match id {
            Some(id) => dump
                .btf
                .member(id, "module")?
                .map(|m| u64::from(m.bit_offset / 8)),
            None => Some(2),
        };
        Ok(TaintTable {
            addr,
            entry,
            module_off,
        })
    }

    fn flag(&self, dump: &Dump, bit: u32) -> Option<TaintFlag> {
        let at = self
            .addr
            .checked_add(u64::from(bit).checked_mul(self.entry)?)?;
        let c_true = dump.read_u8(at).ok()?;
        let module = match self.module_off {
            Some(off) => dump.read_u8(at.checked_add(off)?).ok()? != 0,
            None => true,
        };
        Some(TaintFlag { c_true, module })
    }
}

/// Size and text base: `mem[]` of `struct module_memory` (≥ 6.4, summed like
/// module_total_size()), else the layouts m_show() adds up: core + init (+ data where the
/// architecture keeps data apart; BTF has `data_layout` only then).
fn size_and_base(m: &Value<'_>) -> Result<(u64, Option<u64>), DumpError> {
    if m.has_field("mem") {
        let mem = m.field("mem")?;
        let n = array_len(&mem).unwrap_or(0);
        let mut size = 0u64;
        for i in 0..n {
            size = size.saturating_add(mem.index(i)?.field("size")?.as_u64()?);
        }
        // MOD_TEXT is the first type; it is what m_show() prints.
        let text = super::enum_value(m.dump(), "MOD_TEXT").unwrap_or(0).max(0) as u64;
        let base = mem.index(text)?.field("base")?.as_u64()?;
        return Ok((size, Some(base)));
    }
    let mut size = 0u64;
    for layout in ["core_layout", "init_layout", "data_layout"] {
        if m.has_field(layout) {
            size = size.saturating_add(m.field(&format!("{layout}.size"))?.as_u64()?);
        }
    }
    let base = m.field("core_layout.base")?.as_u64()?;
    Ok((size, Some(base)))
}

fn module(m: &Value<'_>, taints: Option<&TaintTable>) -> Result<Module, DumpError> {
    let dump = m.dump();
    let (size, base) = size_and_base(m)?;
    let state = match m.field("state")?.enum_name()? {
        Some(name) => state_word(&name),
        None => format!("state {}", m.field("state")?.as_i64()?),
    };
    let taint_bits = m.field("taints")?.as_u64()?;
    let taints = match taints {
        Some(t) => taint_letters(taint_bits, |bit| t.flag(dump, bit)),
        // No table to name them: the raw bits, so a taint is never hidden.
        None if taint_bits != 0 => format!("{taint_bits:#x}"),
        None => String::new(),
    };
    let refcount = if m.has_field("refcnt") {
        Some(m.field("refcnt")?.as_i64()? - MODULE_REF_BASE)
    } else {
        None
    };
    Ok(Module {
        addr: m.address(),
        name: m.field("name")?.string()?,
        base,
        size,
        refcount,
        state,
        taints,
    })
}

/// Every module on the `modules` list, in list order (newest first, as lsmod shows them);
/// a module that cannot be read is an error string and the walk goes on past it.
pub fn modules(dump: &Dump) -> Result<(Vec<Module>, Vec<String>), DumpError> {
    let head = dump.var("modules")?;
    let table = TaintTable::new(dump);
    let mut errors = Vec::new();
    if let Err(e) = &table {
        errors.push(format!("taint_flags: {e}"));
    }
    let mut out = Vec::new();
    for m in list_for_each_entry(&head, "struct module", "list")?.limit(MAX_MODULES) {
        match m {
            Ok(m) => match module(&m, table.as_ref().ok()) {
                Ok(v) => out.push(v),
                Err(e) => errors.push(format!("module at {:#x}: {e}", m.address())),
            },
            Err(e) => {
                errors.push(format!("modules list: {e}"));
                break;
            }
        }
    }
    Ok((out, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_proc_modules_prints_them() {
        assert_eq!(state_word("MODULE_STATE_LIVE"), "Live");
        assert_eq!(state_word("MODULE_STATE_COMING"), "Loading");
        assert_eq!(state_word("MODULE_STATE_GOING"), "Unloading");
        assert_eq!(state_word("MODULE_STATE_UNFORMED"), "Unformed");
        assert_eq!(state_word("MODULE_STATE_FROZEN"), "Frozen");
    }

    #[test]
    fn only_per_module_flags_become_letters() {
        // 6.1's table in part: bit 0 P (module), 9 W (not), 12 O, 13 E (module).
        let table = |bit: u32| {
            let (c, module) = match bit {
                0 => (b'P', true),
                9 => (b'W', false),
                12 => (b'O', true),
                13 => (b'E', true),
                _ => (b' ', false),
            };
            Some(TaintFlag { c_true: c, module })
        };
        assert_eq!(taint_letters(0, table), "");
        assert_eq!(taint_letters(1 << 12 | 1 << 13, table), "OE");
        assert_eq!(taint_letters(1 << 9 | 1 << 13 | 1, table), "PE");
        // Bits past the table's end (no letter there) are left out, not guessed.
        assert_eq!(taint_letters(1 << 40, table), "");
    }
}
