//! BTF (BPF Type Format) parser: header, type section, string section, all kinds up to ENUM64.
//! In a dump the blob lies in memory between __start_BTF and __stop_BTF.

use crate::dump::error::{bad, DumpError};
use crate::dump::format::bytes::{le_i32, le_u16, le_u32};

pub type TypeId = u32;
const MAGIC: u16 = 0xeb9f;
const MAX_BTF: usize = 256 << 20;
/// Arrays of arrays deeper than this are corrupt (the kernel's deepest are 3 or 4).
const MAX_ARRAY_NESTING: usize = 32;

/// BTF kinds (BTF_KIND_*). `Void` stands for type id 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Void,
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    fn from_raw(k: u32) -> Option<Kind> {
        use Kind::*;
        const ALL: [Kind; 20] = [
            Void, Int, Ptr, Array, Struct, Union, Enum, Fwd, Typedef, Volatile, Const, Restrict,
            Func, FuncProto, Var, Datasec, Float, DeclTag, TypeTag, Enum64,
        ];
        ALL.get(k as usize).copied().filter(|&k| k != Void)
    }

    /// Bytes of kind-specific data after the 12-byte common header.
    fn extra_len(self, vlen: usize) -> usize {
        use Kind::*;
        match self {
            Int | Var | DeclTag => 4,
            Array => 12,
            Struct | Union | Datasec | Enum64 => 12 * vlen,
            Enum | FuncProto => 8 * vlen,
            _ => 0,
        }
    }
}

/// One type record, borrowed from the blob.
#[derive(Debug, Clone, Copy)]
pub struct Type<'a> {
    pub id: TypeId,
    pub kind: Kind,
    pub name: &'a str,
    pub vlen: u16,
    pub kind_flag: bool,
    /// `size` for INT/STRUCT/UNION/ENUM/ENUM64/FLOAT/DATASEC, else the referenced type id.
    pub size_or_type: u32,
    extra: &'a [u8],
}

/// An INT's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntInfo {
    pub signed: bool,
    pub is_char: bool,
    pub is_bool: bool,
    pub bit_offset: u32,
    pub bits: u32,
}

/// A struct/union member.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub name: &'a str,
    pub ty: TypeId,
    /// Bit offset from the start of the containing struct.
    pub bit_offset: u32,
    /// Width of a bitfield, 0 for ordinary members.
    pub bitfield_size: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct ArrayInfo {
    pub elem: TypeId,
    pub index: TypeId,
    pub len: u32,
}

/// A parsed BTF blob.
pub struct Btf {
    data: Vec<u8>,
    strings_start: usize,
    strings_len: usize,
    /// Offset of each type record (index = id − 1) within `data`.
    offsets: Vec<u32>,
    /// (name offset, id) of named types, sorted by name, for lookups.
    by_name: Vec<(u32, TypeId)>,
}

impl Btf {
    pub fn parse(data: Vec<u8>) -> Result<Btf, DumpError> {
        if data.len() > MAX_BTF {
            return Err(bad("BTF blob is implausibly large"));
        }
        let magic = le_u16(&data, 0, "BTF header")?;
        if magic != MAGIC {
            return Err(bad(format!(
                "BTF magic is {magic:#x}, expected {MAGIC:#x} (little-endian)"
            )));
        }
        let hdr_len = le_u32(&data, 4, "BTF hdr_len")? as usize;
        let field = |off| le_u32(&data, off, "BTF header").map(|v| v as usize);
        let (type_off, type_len, str_off, str_len) =
            (field(8)?, field(12)?, field(16)?, field(20)?);
        let section = |off: usize, len: usize, what: &str| {
            hdr_len
                .checked_add(off)
                .filter(|s| s.checked_add(len).is_some_and(|e| e <= data.len()))
                .ok_or_else(|| bad(format!("BTF {what} section lies outside the blob")))
        };
        if hdr_len < 24 {
            return Err(bad("BTF header too short"));
        }
        let types_start = section(type_off, type_len, "type")?;
        let strings_start = section(str_off, str_len, "string")?;
        let mut btf = Btf {
            data,
            strings_start,
            strings_len: str_len,
            offsets: Vec::new(),
            by_name: Vec::new(),
        };
        let mut pos = types_start;
        let end = types_start + type_len;
        while pos < end {
            let info = le_u32(&btf.data, pos + 4, "BTF type")?;
            let raw_kind = (info >> 24) & 0x1f;
            let kind = Kind::from_raw(raw_kind).ok_or_else(|| {
                bad(format!(
                    "BTF type {} has unknown kind {raw_kind}",
                    btf.offsets.len() + 1
                ))
            })?;
            let len = 12 + kind.extra_len((info & 0xffff) as usize);
            if pos + len > end {
                return Err(bad(format!(
                    "BTF type {} runs past the type section",
                    btf.offsets.len() + 1
                )));
            }
            btf.offsets
                .push(u32::try_from(pos).map_err(|_| bad("BTF too large"))?);
            pos += len;
        }
        btf.index_names()?;
        Ok(btf)
    }

    fn index_names(&mut self) -> Result<(), DumpError> {
        let mut by_name = Vec::new();
        for id in 1..=self.offsets.len() as u32 {
            let t = self.ty(id)?;
            if !t.name.is_empty() && !matches!(t.kind, Kind::Func | Kind::DeclTag | Kind::Datasec) {
                by_name.push((
                    le_u32(&self.data, self.offsets[id as usize - 1] as usize, "name")?,
                    id,
                ));
            }
        }
        by_name.sort_by(|a, b| self.str_at(a.0).cmp(self.str_at(b.0)).then(a.1.cmp(&b.1)));
        self.by_name = by_name;
        Ok(())
    }

    /// The string section (its bounds were checked by `parse`).
    fn strings(&self) -> &[u8] {
        &self.data[self.strings_start..self.strings_start + self.strings_len]
    }

    /// String at `off` in the string section ("" if out of range or not UTF-8).
    pub fn str_at(&self, off: u32) -> &str {
        let Some(s) = self.strings().get(off as usize..) else {
            return "";
        };
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or("")
    }

    /// Number of types (ids 1..=count).
    pub fn count(&self) -> u32 {
        self.offsets.len() as u32
    }

    pub fn ty(&self, id: TypeId) -> Result<Type<'_>, DumpError> {
        if id == 0 {
            return Ok(Type {
                id,
                kind: Kind::Void,
                name: "void",
                vlen: 0,
                kind_flag: false,
                size_or_type: 0,
                extra: &[],
            });
        }
        let pos = *self
            .offsets
            .get(id as usize - 1)
            .ok_or_else(|| bad(format!("BTF type id {id} out of range")))?
            as usize;
        let d = &self.data;
        let info = le_u32(d, pos + 4, "BTF type")?;
        let kind = Kind::from_raw((info >> 24) & 0x1f).ok_or_else(|| bad("BTF kind"))?;
        let vlen = (info & 0xffff) as u16;
        let extra_len = kind.extra_len(vlen as usize);
        Ok(Type {
            id,
            kind,
            name: self.str_at(le_u32(d, pos, "BTF name")?),
            vlen,
            kind_flag: info & (1 << 31) != 0,
            size_or_type: le_u32(d, pos + 8, "BTF size")?,
            extra: &d[pos + 12..pos + 12 + extra_len],
        })
    }

    /// All ids of types with this name (any kind).
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = TypeId> + 'a {
        let start = self
            .by_name
            .partition_point(|&(n, _)| self.str_at(n) < name);
        self.by_name[start..]
            .iter()
            .take_while(move |&&(n, _)| self.str_at(n) == name)
            .map(|&(_, id)| id)
    }

    /// First type of `kind` called `name`; a complete struct/union wins over a FWD.
    pub fn find(&self, kind: Kind, name: &str) -> Option<TypeId> {
        self.named(name)
            .find(|&id| self.ty(id).is_ok_and(|t| t.kind == kind))
    }

    /// Strips typedefs and qualifiers.
    pub fn resolve(&self, mut id: TypeId) -> Result<Type<'_>, DumpError> {
        for _ in 0..64 {
            let t = self.ty(id)?;
            match t.kind {
                Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                    id = t.size_or_type
                }
                _ => return Ok(t),
            }
        }
        Err(bad(format!("BTF typedef chain from {id} too long")))
    }

    /// Size in bytes of a type. Arrays of arrays are followed in a loop with a bound:
    /// hostile BTF can make an array its own element type.
    pub fn size_of(&self, id: TypeId) -> Result<u64, DumpError> {
        let mut count = 1u64;
        let mut elem = id;
        for _ in 0..MAX_ARRAY_NESTING {
            let t = self.resolve(elem)?;
            let size = match t.kind {
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Float
                | Kind::Datasec => t.size_or_type as u64,
                Kind::Ptr => 8,
                Kind::Array => {
                    let a = self.array(&t)?;
                    count = count.saturating_mul(a.len as u64);
                    elem = a.elem;
                    continue;
                }
                _ => {
                    return Err(DumpError::Type(format!(
                        "{} has no size",
                        self.type_name(id)
                    )))
                }
            };
            return Ok(size.saturating_mul(count));
        }
        Err(bad(format!("BTF array nesting from {id} too deep")))
    }

    pub fn int_info(&self, t: &Type<'_>) -> Result<IntInfo, DumpError> {
        if t.kind != Kind::Int {
            return Err(DumpError::Type(format!("{} is not an integer", t.name)));
        }
        let v = le_u32(t.extra, 0, "BTF int")?;
        let enc = (v >> 24) & 0xf;
        Ok(IntInfo {
            signed: enc & 1 != 0,
            is_char: enc & 2 != 0,
            is_bool: enc & 4 != 0,
            bit_offset: (v >> 16) & 0xff,
            bits: v & 0xff,
        })
    }

    pub fn array(&self, t: &Type<'_>) -> Result<ArrayInfo, DumpError> {
        if t.kind != Kind::Array {
            return Err(DumpError::Type(format!("type {} is not an array", t.id)));
        }
        Ok(ArrayInfo {
            elem: le_u32(t.extra, 0, "BTF array")?,
            index: le_u32(t.extra, 4, "BTF array")?,
            len: le_u32(t.extra, 8, "BTF array")?,
        })
    }

    /// Direct members of a struct or union (anonymous members are returned as-is).
    pub fn members<'a>(&'a self, t: &Type<'a>) -> Result<Vec<Member<'a>>, DumpError> {
        if !matches!(t.kind, Kind::Struct | Kind::Union) {
            return Err(DumpError::Type(format!(
                "{} is not a struct or union",
                self.type_name(t.id)
            )));
        }
        (0..t.vlen as usize).map(|i| self.member_at(t, i)).collect()
    }

    /// Member `i` of the struct or union `t` (whose kind the caller checked).
    fn member_at<'a>(&'a self, t: &Type<'a>, i: usize) -> Result<Member<'a>, DumpError> {
        let off = le_u32(t.extra, i * 12 + 8, "BTF member")?;
        let (bit_offset, bitfield_size) = if t.kind_flag {
            (off & 0xff_ffff, off >> 24)
        } else {
            (off, 0)
        };
        Ok(Member {
            name: self.str_at(le_u32(t.extra, i * 12, "BTF member")?),
            ty: le_u32(t.extra, i * 12 + 4, "BTF member")?,
            bit_offset,
            bitfield_size,
        })
    }

    /// Whether the string at `off` is `name` (or, for "", empty), without decoding it:
    /// a member lookup compares every member's name of a struct of hundreds.
    fn str_is(&self, off: u32, name: &str) -> bool {
        let Some(s) = self.strings().get(off as usize..) else {
            return name.is_empty();
        };
        match s.get(..name.len()) {
            Some(prefix) => prefix == name.as_bytes() && s.get(name.len()).is_none_or(|&b| b == 0),
            None => false,
        }
    }

    /// Finds a member by name, looking into anonymous structs/unions; offsets are cumulative.
    pub fn member(&self, id: TypeId, name: &str) -> Result<Option<Member<'_>>, DumpError> {
        self.member_depth(id, name, 0)
    }

    fn member_depth(
        &self,
        id: TypeId,
        name: &str,
        depth: u32,
    ) -> Result<Option<Member<'_>>, DumpError> {
        if depth > 32 {
            return Err(bad("BTF anonymous member nesting too deep"));
        }
        let t = self.resolve(id)?;
        if !matches!(t.kind, Kind::Struct | Kind::Union) {
            return self.members(&t).map(|_| None); // the error names the type
        }
        for i in 0..t.vlen as usize {
            let name_off = le_u32(t.extra, i * 12, "BTF member")?;
            if !self.str_is(name_off, name) && !self.str_is(name_off, "") {
                continue;
            }
            let m = self.member_at(&t, i)?;
            if m.name == name {
                return Ok(Some(m));
            }
            if m.name.is_empty() {
                let inner = self.resolve(m.ty)?;
                if matches!(inner.kind, Kind::Struct | Kind::Union) {
                    if let Some(mut found) = self.member_depth(m.ty, name, depth + 1)? {
                        found.bit_offset = found.bit_offset.saturating_add(m.bit_offset);
                        return Ok(Some(found));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Enumerators (name, value) of an ENUM or ENUM64.
    pub fn enumerators(&self, t: &Type<'_>) -> Result<Vec<(&str, i64)>, DumpError> {
        let mut out = Vec::with_capacity(t.vlen as usize);
        for i in 0..t.vlen as usize {
            match t.kind {
                Kind::Enum => out.push((
                    self.str_at(le_u32(t.extra, i * 8, "BTF enum")?),
                    if t.kind_flag {
                        le_i32(t.extra, i * 8 + 4, "BTF enum")? as i64
                    } else {
                        le_u32(t.extra, i * 8 + 4, "BTF enum")? as i64
                    },
                )),
                Kind::Enum64 => {
                    let lo = le_u32(t.extra, i * 12 + 4, "BTF enum64")? as u64;
                    let hi = le_u32(t.extra, i * 12 + 8, "BTF enum64")? as u64;
                    out.push((
                        self.str_at(le_u32(t.extra, i * 12, "BTF enum64")?),
                        (hi << 32 | lo) as i64,
                    ));
                }
                _ => {
                    return Err(DumpError::Type(format!(
                        "{} is not an enum",
                        self.type_name(t.id)
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Parameter (name, type) list of a FUNC_PROTO.
    pub fn params(&self, t: &Type<'_>) -> Result<Vec<(&str, TypeId)>, DumpError> {
        (0..t.vlen as usize)
            .map(|i| {
                Ok((
                    self.str_at(le_u32(t.extra, i * 8, "BTF param")?),
                    le_u32(t.extra, i * 8 + 4, "BTF param")?,
                ))
            })
            .collect()
    }

    /// (var type id, offset, size) entries of a DATASEC.
    pub fn datasec_vars(&self, t: &Type<'_>) -> Result<Vec<(TypeId, u32, u32)>, DumpError> {
        (0..t.vlen as usize)
            .map(|i| {
                Ok((
                    le_u32(t.extra, i * 12, "BTF datasec")?,
                    le_u32(t.extra, i * 12 + 4, "BTF datasec")?,
                    le_u32(t.extra, i * 12 + 8, "BTF datasec")?,
                ))
            })
            .collect()
    }

    /// C-like name of a type, for messages: "struct list_head *", "char[16]".
    pub fn type_name(&self, id: TypeId) -> String {
        self.type_name_depth(id, 0)
    }

    fn type_name_depth(&self, id: TypeId, depth: u32) -> String {
        let Ok(t) = self.ty(id) else {
            return format!("<bad type {id}>");
        };
        if depth > 16 {
            return "...".into();
        }
        let inner = |tid| self.type_name_depth(tid, depth + 1);
        match t.kind {
            Kind::Struct => format!("struct {}", t.name),
            Kind::Union => format!("union {}", t.name),
            Kind::Enum | Kind::Enum64 => format!("enum {}", t.name),
            Kind::Fwd => format!(
                "{} {}",
                if t.kind_flag { "union" } else { "struct" },
                t.name
            ),
            Kind::Ptr => format!("{} *", inner(t.size_or_type)),
            Kind::Const => format!("const {}", inner(t.size_or_type)),
            Kind::Volatile => format!("volatile {}", inner(t.size_or_type)),
            Kind::Restrict | Kind::TypeTag => inner(t.size_or_type),
            Kind::Array => match self.array(&t) {
                Ok(a) => format!("{}[{}]", inner(a.elem), a.len),
                Err(_) => "<bad array>".into(),
            },
            Kind::FuncProto => "function".into(),
            _ => t.name.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
