//! Type names → BTF types, synthesized pointer/array types, and the built-in table of global
//! variables' types (BTF describes per-CPU variables only).

use crate::dump::error::DumpError;
use crate::dump::kernel::btf::{Btf, Kind, TypeId};

/// A type a `Value` can have: a BTF type, or a pointer/array built on one when BTF has no
/// such type record (e.g. `unsigned long[]` for __per_cpu_offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    Btf(TypeId),
    /// Pointer to the BTF type.
    Ptr(TypeId),
    /// Array of the BTF type; `None` when the length is unknown.
    Array(TypeId, Option<u32>),
}

/// Globals whose type BTF does not record: name → C type.
pub const GLOBAL_TYPES: &[(&str, &str)] = &[
    ("init_task", "struct task_struct"),
    ("runqueues", "struct rq"),
    ("__per_cpu_offset", "unsigned long[]"),
    ("nr_cpu_ids", "unsigned int"),
    ("jiffies", "unsigned long"),
    ("jiffies_64", "u64"),
    ("avenrun", "unsigned long[3]"),
    ("init_net", "struct net"),
    ("panic_cpu", "atomic_t"),
    ("prb", "struct printk_ringbuffer *"),
    ("printk_rb_static", "struct printk_ringbuffer"),
    ("init_uts_ns", "struct uts_namespace"),
    ("init_mm", "struct mm_struct"),
    ("init_pid_ns", "struct pid_namespace"),
    ("_totalram_pages", "atomic_long_t"),
    ("totalreserve_pages", "unsigned long"),
    ("vm_zone_stat", "atomic_long_t[]"),
    ("vm_node_stat", "atomic_long_t[]"),
    ("__cpu_online_mask", "struct cpumask"),
    ("__cpu_possible_mask", "struct cpumask"),
    ("__cpu_present_mask", "struct cpumask"),
    ("__cpu_active_mask", "struct cpumask"),
    ("tainted_mask", "unsigned long"),
    ("panic_on_oops", "int"),
    ("oops_in_progress", "int"),
    ("modules", "struct list_head"),
    ("super_blocks", "struct list_head"),
    ("slab_caches", "struct list_head"),
    ("page_offset_base", "unsigned long"),
    ("vmalloc_base", "unsigned long"),
    ("vmemmap_base", "unsigned long"),
    ("node_data", "struct pglist_data *[]"),
    ("contig_page_data", "struct pglist_data"),
    ("system_state", "enum system_states"),
    ("saved_command_line", "char *"),
    ("linux_banner", "char[]"),
    ("crashing_cpu", "int"),
    ("nr_swap_pages", "atomic_long_t"),
    ("total_swap_pages", "long"),
    ("nr_node_ids", "unsigned int"),
    ("tcp_hashinfo", "struct inet_hashinfo"),
    ("udp_table", "struct udp_table"),
    ("raw_v4_hashinfo", "struct raw_hashinfo"),
    ("raw_v6_hashinfo", "struct raw_hashinfo"),
    ("unix_socket_table", "struct hlist_head[]"),
];

/// The built-in C type of a global, if known.
pub fn global_type(name: &str) -> Option<&'static str> {
    GLOBAL_TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, t)| t)
}

/// C spellings of integer types → the names the compiler writes into BTF.
const INT_ALIASES: &[(&str, &str)] = &[
    ("unsigned long", "long unsigned int"),
    ("unsigned long int", "long unsigned int"),
    ("long", "long int"),
    ("unsigned long long", "long long unsigned int"),
    ("long long", "long long int"),
    ("unsigned", "unsigned int"),
    ("short", "short int"),
    ("unsigned short", "short unsigned int"),
];

/// Finds a named base type: "struct X", "union X", "enum X", or a typedef/int/float name.
pub fn find_base(btf: &Btf, spec: &str) -> Result<TypeId, DumpError> {
    let spec = spec.trim();
    let found = if let Some(n) = spec.strip_prefix("struct ") {
        btf.find(Kind::Struct, n.trim())
    } else if let Some(n) = spec.strip_prefix("union ") {
        btf.find(Kind::Union, n.trim())
    } else if let Some(n) = spec.strip_prefix("enum ") {
        btf.find(Kind::Enum, n.trim())
            .or_else(|| btf.find(Kind::Enum64, n.trim()))
    } else if spec == "void" {
        Some(0)
    } else {
        let name = INT_ALIASES
            .iter()
            .find(|(c, _)| *c == spec)
            .map_or(spec, |&(_, b)| b);
        [Kind::Typedef, Kind::Int, Kind::Float]
            .iter()
            .find_map(|&k| btf.find(k, name))
    };
    found.ok_or_else(|| DumpError::Missing(format!("type {spec} in BTF")))
}

/// Parses "T", "T *" or "T[N]" / "T[]" (one level of pointer or array on a named base type;
/// "T *[]" is an array of pointers, looked up as an existing BTF pointer type).
pub fn parse_type(btf: &Btf, spec: &str) -> Result<Ty, DumpError> {
    let spec = spec.trim();
    if let Some(open) = spec.find('[') {
        let inner = &spec[open + 1..];
        let len_text = inner
            .strip_suffix(']')
            .ok_or_else(|| DumpError::Type(format!("bad type {spec}")))?;
        let len = if len_text.trim().is_empty() {
            None
        } else {
            Some(
                len_text
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| DumpError::Type(format!("bad array length in {spec}")))?,
            )
        };
        let elem_spec = spec[..open].trim();
        let elem = match elem_spec.strip_suffix('*') {
            Some(base) => pointer_type(btf, find_base(btf, base)?)
                .ok_or_else(|| DumpError::Missing(format!("pointer type {elem_spec} in BTF")))?,
            None => find_base(btf, elem_spec)?,
        };
        return Ok(Ty::Array(elem, len));
    }
    if let Some(base) = spec.strip_suffix('*') {
        return Ok(Ty::Ptr(find_base(btf, base)?));
    }
    Ok(Ty::Btf(find_base(btf, spec)?))
}

/// An existing BTF PTR type to `target` (needed only for arrays of pointers).
fn pointer_type(btf: &Btf, target: TypeId) -> Option<TypeId> {
    (1..=btf.count()).find(|&id| {
        btf.ty(id)
            .is_ok_and(|t| t.kind == Kind::Ptr && t.size_or_type == target)
    })
}

/// Type of a global: the built-in table, else a BTF VAR of that name (per-CPU variables).
pub fn global_ty(btf: &Btf, name: &str) -> Result<Ty, DumpError> {
    if let Some(spec) = global_type(name) {
        return parse_type(btf, spec);
    }
    if let Some(var) = btf.find(Kind::Var, name) {
        return Ok(Ty::Btf(btf.ty(var)?.size_or_type));
    }
    Err(DumpError::Missing(format!(
        "type of global {name} (not in BTF; add it to GLOBAL_TYPES)"
    )))
}

/// Size in bytes of a `Ty`.
pub fn size_of(btf: &Btf, ty: Ty) -> Result<u64, DumpError> {
    match ty {
        Ty::Btf(id) => btf.size_of(id),
        Ty::Ptr(_) => Ok(8),
        Ty::Array(elem, len) => Ok(btf
            .size_of(elem)?
            .saturating_mul(u64::from(len.unwrap_or(0)))),
    }
}

/// C-like name of a `Ty`.
pub fn type_name(btf: &Btf, ty: Ty) -> String {
    match ty {
        Ty::Btf(id) => btf.type_name(id),
        Ty::Ptr(id) => format!("{} *", btf.type_name(id)),
        Ty::Array(id, Some(n)) => format!("{}[{n}]", btf.type_name(id)),
        Ty::Array(id, None) => format!("{}[]", btf.type_name(id)),
    }
}

/// Byte offset of a dotted member path inside a struct type, without following pointers
/// (what container_of needs).
pub fn offset_of(btf: &Btf, id: TypeId, path: &str) -> Result<u64, DumpError> {
    let mut cur = id;
    let mut bits = 0u64;
    for comp in path.split('.') {
        let m = btf.member(cur, comp)?.ok_or_else(|| {
            DumpError::Missing(format!("member {comp} of {}", btf.type_name(cur)))
        })?;
        if m.bitfield_size != 0 {
            return Err(DumpError::Type(format!("{path} is a bitfield")));
        }
        bits += u64::from(m.bit_offset);
        cur = m.ty;
    }
    Ok(bits / 8)
}
