//! Typed values in the dump (the PyKdump model): an address plus a type, with fields looked up
//! by name at run time, automatic pointer dereference, integers, enums, bitfields, strings.

use crate::dump::error::DumpError;
use crate::dump::kernel::btf::{Kind, TypeId};
use crate::dump::kernel::types::Ty;
use crate::dump::kernel::x86_64::KernelMemory;
use crate::dump::kernel::{types, Dump};

const MAX_C_STRING: usize = 4096;

/// A typed object at an address in the crashed kernel's memory.
#[derive(Clone, Copy)]
pub struct Value<'d> {
    dump: &'d Dump,
    addr: u64,
    ty: Ty,
    /// (bit offset from `addr`, width) for bitfield members.
    bitfield: Option<(u32, u32)>,
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}) {:#x}", self.type_name(), self.addr)
    }
}

/// Splits "name[3]" into ("name", Some(3)).
fn split_index(comp: &str) -> Result<(&str, Option<u64>), DumpError> {
    match comp.split_once('[') {
        None => Ok((comp, None)),
        Some((name, rest)) => {
            let idx = rest
                .strip_suffix(']')
                .and_then(|i| i.trim().parse::<u64>().ok())
                .ok_or_else(|| DumpError::Type(format!("bad index in {comp}")))?;
            Ok((name, Some(idx)))
        }
    }
}

impl Dump {
    /// A global variable, typed by the built-in table or BTF.
    pub fn var(&self, name: &str) -> Result<Value<'_>, DumpError> {
        let ty = types::global_ty(&self.btf, name)?;
        Ok(Value {
            dump: self,
            addr: self.symbol(name)?,
            ty,
            bitfield: None,
        })
    }

    /// The instance of per-CPU variable `name` on `cpu`.
    pub fn per_cpu(&self, name: &str, cpu: u32) -> Result<Value<'_>, DumpError> {
        let v = self.var(name)?;
        Ok(Value {
            addr: self.per_cpu_addr(v.addr, cpu)?,
            ..v
        })
    }

    /// An object of type `type_spec` ("struct task_struct", "unsigned long[4]", …) at `addr`.
    pub fn value_at(&self, addr: u64, type_spec: &str) -> Result<Value<'_>, DumpError> {
        Ok(Value {
            dump: self,
            addr,
            ty: types::parse_type(&self.btf, type_spec)?,
            bitfield: None,
        })
    }

    /// An object of an already resolved type at `addr`.
    pub fn typed(&self, addr: u64, ty: Ty) -> Value<'_> {
        Value {
            dump: self,
            addr,
            ty,
            bitfield: None,
        }
    }

    /// The struct containing the member `member` (dotted path) located at `addr`.
    pub fn container_of(
        &self,
        addr: u64,
        type_spec: &str,
        member: &str,
    ) -> Result<Value<'_>, DumpError> {
        let Ty::Btf(id) = types::parse_type(&self.btf, type_spec)? else {
            return Err(DumpError::Type(format!(
                "container_of needs a struct type, not {type_spec}"
            )));
        };
        let off = types::offset_of(&self.btf, id, member)?;
        Ok(Value {
            dump: self,
            addr: addr.wrapping_sub(off),
            ty: Ty::Btf(id),
            bitfield: None,
        })
    }
}

impl<'d> Value<'d> {
    pub fn address(&self) -> u64 {
        self.addr
    }

    /// The same typed value (bitfield position included) at another address: a member
    /// found once by name serves every struct of its type (member lookups scan BTF).
    pub fn moved_to(&self, addr: u64) -> Value<'d> {
        Value { addr, ..*self }
    }
    pub fn ty(&self) -> Ty {
        self.ty
    }
    pub fn dump(&self) -> &'d Dump {
        self.dump
    }
    pub fn type_name(&self) -> String {
        types::type_name(&self.dump.btf, self.ty)
    }
    pub fn size(&self) -> Result<u64, DumpError> {
        types::size_of(&self.dump.btf, self.ty)
    }

    fn at(&self, addr: u64, ty: Ty) -> Value<'d> {
        Value {
            dump: self.dump,
            addr,
            ty,
            bitfield: None,
        }
    }

    /// Kind after stripping typedefs and qualifiers.
    pub fn kind(&self) -> Result<Kind, DumpError> {
        Ok(match self.ty {
            Ty::Btf(id) => self.dump.btf.resolve(id)?.kind,
            Ty::Ptr(_) => Kind::Ptr,
            Ty::Array(..) => Kind::Array,
        })
    }

    /// Pointee type of a pointer type.
    fn pointee(&self) -> Result<TypeId, DumpError> {
        match self.ty {
            Ty::Ptr(t) => Ok(t),
            Ty::Btf(id) => {
                let t = self.dump.btf.resolve(id)?;
                if t.kind == Kind::Ptr {
                    Ok(t.size_or_type)
                } else {
                    Err(DumpError::Type(format!(
                        "{} is not a pointer",
                        self.type_name()
                    )))
                }
            }
            Ty::Array(..) => Err(DumpError::Type(format!(
                "{} is not a pointer",
                self.type_name()
            ))),
        }
    }

    /// Follows a pointer.
    pub fn deref(&self) -> Result<Value<'d>, DumpError> {
        let target = self.pointee()?;
        let p = self.dump.read_u64(self.addr)?;
        if p == 0 {
            return Err(DumpError::Type(format!(
                "NULL {} at {:#x}",
                self.type_name(),
                self.addr
            )));
        }
        if target == 0 {
            return Err(DumpError::Type("cannot dereference void *".into()));
        }
        Ok(self.at(p, Ty::Btf(target)))
    }

    /// The same address seen as another type.
    pub fn cast(&self, type_spec: &str) -> Result<Value<'d>, DumpError> {
        Ok(self.at(self.addr, types::parse_type(&self.dump.btf, type_spec)?))
    }

    fn is_struct_like(&self, id: TypeId) -> bool {
        self.dump
            .btf
            .resolve(id)
            .is_ok_and(|t| matches!(t.kind, Kind::Struct | Kind::Union))
    }

    /// One path component: a member of this struct, or of the struct this points to.
    fn member(&self, name: &str) -> Result<Value<'d>, DumpError> {
        let base = match self.kind()? {
            Kind::Ptr if self.is_struct_like(self.pointee()?) => self.deref()?,
            Kind::Struct | Kind::Union => *self,
            _ => {
                return Err(DumpError::Type(format!(
                    "{} has no member {name}",
                    self.type_name()
                )))
            }
        };
        let Ty::Btf(id) = base.ty else {
            return Err(DumpError::Type(format!(
                "{} has no members",
                base.type_name()
            )));
        };
        let m = self.dump.btf.member(id, name)?.ok_or_else(|| {
            DumpError::Missing(format!("member {name} of {}", self.dump.btf.type_name(id)))
        })?;
        let byte = u64::from(m.bit_offset / 8);
        let mut v = self.at(base.addr.wrapping_add(byte), Ty::Btf(m.ty));
        if m.bitfield_size != 0 {
            v.bitfield = Some((m.bit_offset % 8, m.bitfield_size));
        }
        Ok(v)
    }

    /// A member by dotted path ("se.exec_start", "name.release", "cpus[1]"); pointers to
    /// structs on the way are followed automatically.
    pub fn field(&self, path: &str) -> Result<Value<'d>, DumpError> {
        let mut v = *self;
        for comp in path.split('.') {
            let (name, index) = split_index(comp)?;
            v = v.member(name)?;
            if let Some(i) = index {
                v = v.index(i)?;
            }
        }
        Ok(v)
    }

    /// The first of several alternative paths that exists (fields renamed across kernels).
    pub fn field_any(&self, paths: &[&str]) -> Result<Value<'d>, DumpError> {
        for p in paths {
            if self.has_field(p) {
                return self.field(p);
            }
        }
        Err(DumpError::Missing(format!(
            "none of {paths:?} in {}",
            self.type_name()
        )))
    }

    /// Whether a dotted path exists, checked on types alone (no memory is read).
    pub fn has_field(&self, path: &str) -> bool {
        let btf = &self.dump.btf;
        let mut cur = match self.ty {
            Ty::Btf(id) => id,
            Ty::Ptr(t) => t,
            Ty::Array(..) => return false,
        };
        for comp in path.split('.') {
            let Ok((name, index)) = split_index(comp) else {
                return false;
            };
            let Ok(mut t) = btf.resolve(cur) else {
                return false;
            };
            if t.kind == Kind::Ptr {
                match btf.resolve(t.size_or_type) {
                    Ok(inner) => t = inner,
                    Err(_) => return false,
                }
            }
            match btf.member(t.id, name) {
                Ok(Some(m)) => cur = m.ty,
                _ => return false,
            }
            if index.is_some() {
                match btf.resolve(cur).and_then(|a| btf.array(&a)) {
                    Ok(a) => cur = a.elem,
                    Err(_) => return false,
                }
            }
        }
        true
    }

    /// Element `i` of an array, or of the memory a pointer points to.
    pub fn index(&self, i: u64) -> Result<Value<'d>, DumpError> {
        let btf = &self.dump.btf;
        let (base, elem, len) = match self.ty {
            Ty::Array(elem, len) => (self.addr, elem, len),
            Ty::Ptr(t) => (self.dump.read_u64(self.addr)?, t, None),
            Ty::Btf(id) => {
                let t = btf.resolve(id)?;
                match t.kind {
                    Kind::Array => {
                        let a = btf.array(&t)?;
                        (self.addr, a.elem, (a.len > 0).then_some(a.len))
                    }
                    Kind::Ptr => (self.dump.read_u64(self.addr)?, t.size_or_type, None),
                    _ => {
                        return Err(DumpError::Type(format!(
                            "{} cannot be indexed",
                            self.type_name()
                        )))
                    }
                }
            }
        };
        if let Some(n) = len {
            if i >= u64::from(n) {
                return Err(DumpError::Type(format!(
                    "index {i} out of bounds for {}",
                    self.type_name()
                )));
            }
        }
        let size = btf.size_of(elem)?;
        Ok(self.at(base.wrapping_add(i.wrapping_mul(size)), Ty::Btf(elem)))
    }

    /// Raw integer bits, whether the type is signed, and the width in bits.
    fn raw_int(&self) -> Result<(u64, bool, u32), DumpError> {
        let btf = &self.dump.btf;
        let (size, signed) = match self.ty {
            Ty::Ptr(_) => (8, false),
            Ty::Array(..) => {
                return Err(DumpError::Type(format!(
                    "{} is not an integer",
                    self.type_name()
                )))
            }
            Ty::Btf(id) => {
                let t = btf.resolve(id)?;
                match t.kind {
                    Kind::Int => (t.size_or_type, btf.int_info(&t)?.signed),
                    Kind::Enum | Kind::Enum64 => (t.size_or_type, t.kind_flag),
                    Kind::Ptr => (8, false),
                    Kind::Struct | Kind::Union if t.vlen == 1 => {
                        // atomic_t and friends: a struct around one integer.
                        let m = btf.members(&t)?[0];
                        return self
                            .at(self.addr + u64::from(m.bit_offset / 8), Ty::Btf(m.ty))
                            .raw_int();
                    }
                    _ => {
                        return Err(DumpError::Type(format!(
                            "{} is not an integer",
                            self.type_name()
                        )))
                    }
                }
            }
        };
        if let Some((bit, width)) = self.bitfield {
            if width == 0 || width > 64 {
                return Err(DumpError::Type(format!(
                    "bitfield of {width} bits in {}",
                    self.type_name()
                )));
            }
            let nbytes = (bit + width).div_ceil(8) as usize;
            let mut b = [0u8; 16];
            self.dump.read_virt(self.addr, &mut b[..nbytes])?;
            let v = u128::from_le_bytes(b) >> bit;
            let mask = if width >= 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            return Ok((v as u64 & mask, signed, width));
        }
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(DumpError::Type(format!(
                "{} has unsupported integer size {size}",
                self.type_name()
            )));
        }
        let mut b = [0u8; 8];
        self.dump.read_virt(self.addr, &mut b[..size as usize])?;
        Ok((u64::from_le_bytes(b), signed, size * 8))
    }

    /// The value as an unsigned integer (pointers, ints, enums, bitfields, atomic_t).
    pub fn as_u64(&self) -> Result<u64, DumpError> {
        Ok(self.raw_int()?.0)
    }

    /// The value as a signed integer, sign-extended when its type is signed.
    pub fn as_i64(&self) -> Result<i64, DumpError> {
        let (v, signed, bits) = self.raw_int()?;
        if signed && bits < 64 {
            let shift = 64 - bits;
            return Ok(((v << shift) as i64) >> shift);
        }
        Ok(v as i64)
    }

    /// For enums: the enumerator's name, if the value has one.
    pub fn enum_name(&self) -> Result<Option<String>, DumpError> {
        let Ty::Btf(id) = self.ty else {
            return Err(DumpError::Type(format!(
                "{} is not an enum",
                self.type_name()
            )));
        };
        let t = self.dump.btf.resolve(id)?;
        let v = self.as_i64()?;
        let names = self.dump.btf.enumerators(&t)?;
        Ok(names
            .iter()
            .find(|&&(_, ev)| ev == v)
            .map(|(n, _)| n.to_string()))
    }

    /// Raw bytes of the whole object.
    pub fn bytes(&self) -> Result<Vec<u8>, DumpError> {
        let size = self.size()?;
        if size > 64 << 20 {
            return Err(DumpError::Type(format!(
                "{} is too large to read whole",
                self.type_name()
            )));
        }
        let mut b = vec![0u8; size as usize];
        self.dump.read_virt(self.addr, &mut b)?;
        Ok(b)
    }

    /// A char array up to its first NUL, or the C string a `char *` points to (raw bytes).
    pub fn c_bytes(&self) -> Result<Vec<u8>, DumpError> {
        match self.kind()? {
            Kind::Array => {
                let mut b = self.bytes()?;
                if let Some(z) = b.iter().position(|&c| c == 0) {
                    b.truncate(z);
                }
                Ok(b)
            }
            Kind::Ptr => {
                let p = self.as_u64()?;
                if p == 0 {
                    return Err(DumpError::Type(format!(
                        "NULL {} at {:#x}",
                        self.type_name(),
                        self.addr
                    )));
                }
                self.dump.read_cstr(p, MAX_C_STRING)
            }
            _ => Err(DumpError::Type(format!(
                "{} is not a string",
                self.type_name()
            ))),
        }
    }

    /// `c_bytes` as text (invalid UTF-8 replaced).
    pub fn string(&self) -> Result<String, DumpError> {
        Ok(String::from_utf8_lossy(&self.c_bytes()?).into_owned())
    }
}
