//! Dump objects as script values (PyKdump's model): a struct is a handle whose attributes
//! are its fields, read when asked; integers become ints, pointers to structs are followed
//! (NULL is None), char arrays become strings with one character per byte, other arrays
//! lists. Errors become Python exceptions naming the type and address.

use super::interp::{Interp, R};
use super::value::Obj;
use crate::dump::error::DumpError;
use crate::dump::helpers::array_len;
use crate::dump::kernel::btf::Kind;
use crate::dump::kernel::types::Ty;
use crate::dump::kernel::Dump;
use crate::dump::Value;
use std::collections::HashMap;

/// Arrays longer than this are refused as lists (index them with `member(obj, "a[i]")`).
const MAX_ARRAY_LIST: u64 = 1 << 16;

/// Methods of dump objects (a field of the same name wins).
const METHODS: &[&str] = &["hasField", "castTo", "member", "Addr", "typeName", "fields"];

pub struct DumpHost<'d> {
    pub dump: &'d Dump,
    objects: Vec<Value<'d>>,
    handles: HashMap<(u64, Ty), u32>,
    /// (struct type, member) → the member's offset and typed value in the struct where it
    /// was first looked up (None: no such member).
    fields: HashMap<(Ty, String), Option<(u64, Value<'d>)>>,
    pub(super) sections: HashMap<String, Obj>,
}

/// The Python exception for a dump error: PageMissing for pages the dump does not hold,
/// DumpError for other reading problems, LookupError/TypeError for wrong names and types.
pub fn dump_exc(it: &Interp, e: &DumpError, context: &str) -> super::ScriptError {
    let class = match e {
        DumpError::PageExcluded(_) | DumpError::NotInDump(_) => "PageMissing",
        DumpError::Missing(_) => "LookupError",
        DumpError::Type(_) => "TypeError",
        _ => "DumpError",
    };
    if context.is_empty() {
        return it.exc(class, e.to_string());
    }
    it.exc(class, format!("{context}: {e}"))
}

/// "struct task_struct at 0xffff…" for messages.
pub fn describe(v: &Value<'_>) -> String {
    format!("{} at {:#x}", v.type_name(), v.address())
}

impl<'d> DumpHost<'d> {
    pub fn new(dump: &'d Dump) -> DumpHost<'d> {
        DumpHost {
            dump,
            objects: Vec::new(),
            handles: HashMap::new(),
            fields: HashMap::new(),
            sections: HashMap::new(),
        }
    }

    /// The same object (address and type) always gets the same handle, so `==` works.
    pub fn handle(&mut self, v: Value<'d>) -> Obj {
        let key = (v.address(), v.ty());
        if let Some(&h) = self.handles.get(&key) {
            return Obj::Host(h);
        }
        let h = self.objects.len() as u32;
        self.objects.push(v);
        self.handles.insert(key, h);
        Obj::Host(h)
    }

    pub fn value(&self, it: &Interp, h: u32) -> R<Value<'d>> {
        self.objects
            .get(h as usize)
            .copied()
            .ok_or_else(|| it.exc("RuntimeError", format!("stale dump object #{h}")))
    }

    /// The dump value an argument stands for: a struct handle, or `type_spec` at an integer
    /// address.
    pub fn value_arg(&self, it: &Interp, o: &Obj, type_spec: &str) -> R<Value<'d>> {
        match o {
            Obj::Host(h) => self.value(it, *h),
            _ => match o.as_int() {
                Some(a) => self
                    .dump
                    .value_at(a as u64, type_spec)
                    .map_err(|e| dump_exc(it, &e, "")),
                None => Err(it.exc(
                    "TypeError",
                    format!(
                        "expected a dump object or an address, not {}",
                        o.type_name()
                    ),
                )),
            },
        }
    }

    fn kind_of(&self, id: u32) -> Option<(Kind, u64)> {
        let t = self.dump.btf.resolve(id).ok()?;
        let size = if t.kind == Kind::Int {
            u64::from(t.size_or_type)
        } else {
            0
        };
        Some((t.kind, size))
    }

    /// The BTF id a pointer value points to.
    fn pointee(&self, v: &Value<'d>) -> Option<u32> {
        match v.ty() {
            Ty::Ptr(t) => Some(t),
            Ty::Btf(id) => self
                .dump
                .btf
                .resolve(id)
                .ok()
                .filter(|t| t.kind == Kind::Ptr)
                .map(|t| t.size_or_type),
            Ty::Array(..) => None,
        }
    }

    fn array_elem(&self, v: &Value<'d>) -> Option<u32> {
        match v.ty() {
            Ty::Array(e, _) => Some(e),
            Ty::Btf(id) => {
                let t = self.dump.btf.resolve(id).ok()?;
                self.dump.btf.array(&t).ok().map(|a| a.elem)
            }
            Ty::Ptr(_) => None,
        }
    }

    /// A dump value as a script value.
    pub fn to_obj(&mut self, it: &Interp, v: Value<'d>) -> R<Obj> {
        self.convert(v).map_err(|e| dump_exc(it, &e, &describe(&v)))
    }

    fn convert(&mut self, v: Value<'d>) -> Result<Obj, DumpError> {
        match v.kind()? {
            Kind::Struct | Kind::Union => Ok(self.handle(v)),
            Kind::Ptr => {
                let p = v.as_u64()?;
                let target = self.pointee(&v).and_then(|t| self.kind_of(t));
                match target {
                    Some((Kind::Struct | Kind::Union, _)) if p == 0 => Ok(Obj::None),
                    Some((Kind::Struct | Kind::Union, _)) => Ok(self.handle(v.deref()?)),
                    _ => Ok(Obj::Int(i128::from(p))),
                }
            }
            Kind::Array => {
                let elem = self.array_elem(&v);
                if let Some((Kind::Int, 1)) = elem.and_then(|e| self.kind_of(e)) {
                    let bytes = v.c_bytes()?;
                    return Ok(Obj::Str(
                        bytes.iter().map(|&b| b as char).collect::<String>().into(),
                    ));
                }
                let n = array_len(&v).unwrap_or(0);
                if n > MAX_ARRAY_LIST {
                    return Err(DumpError::Type(format!(
                        "array of {n} elements: index it with member(obj, \"name[i]\")"
                    )));
                }
                (0..n)
                    .map(|i| v.index(i).and_then(|e| self.convert(e)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Obj::list)
            }
            Kind::Int | Kind::Enum | Kind::Enum64 => Ok(Obj::Int(if signed(&v)? {
                i128::from(v.as_i64()?)
            } else {
                i128::from(v.as_u64()?)
            })),
            other => Err(DumpError::Type(format!(
                "{} ({other:?}) has no script value",
                v.type_name()
            ))),
        }
    }

    /// `obj.name`: a field of a struct (the member is looked up once per struct type).
    pub fn field(&mut self, it: &Interp, h: u32, name: &str) -> R<Obj> {
        let v = self.value(it, h)?;
        let key = (v.ty(), name.to_string());
        let found = match self.fields.get(&key) {
            Some(f) => *f,
            None => {
                let f = if v.has_field(name) {
                    let m = v.field(name).map_err(|e| dump_exc(it, &e, &describe(&v)))?;
                    Some((m.address().wrapping_sub(v.address()), m))
                } else {
                    None
                };
                self.fields.insert(key, f);
                f
            }
        };
        match found {
            Some((offset, m)) => self.to_obj(it, m.moved_to(v.address().wrapping_add(offset))),
            None if METHODS.contains(&name) => {
                Ok(Obj::Method(std::rc::Rc::new((Obj::Host(h), name.into()))))
            }
            None => Err(it.exc(
                "AttributeError",
                format!("{} has no member '{name}'", describe(&v)),
            )),
        }
    }

    /// Methods of dump objects: hasField, castTo, Addr, typeName, member.
    pub fn obj_method(&mut self, it: &Interp, h: u32, name: &str, args: &[Obj]) -> R<Obj> {
        let v = self.value(it, h)?;
        let text = |i: usize| -> R<String> {
            match args.get(i) {
                Some(Obj::Str(s)) => Ok(s.to_string()),
                _ => Err(it.exc("TypeError", format!("{name}() needs a string argument"))),
            }
        };
        match name {
            "hasField" => Ok(Obj::Bool(v.has_field(&text(0)?))),
            "castTo" => {
                let c = v
                    .cast(&text(0)?)
                    .map_err(|e| dump_exc(it, &e, &describe(&v)))?;
                self.to_obj(it, c)
            }
            "member" => {
                let f = v
                    .field(&text(0)?)
                    .map_err(|e| dump_exc(it, &e, &describe(&v)))?;
                self.to_obj(it, f)
            }
            "Addr" => Ok(Obj::Int(i128::from(v.address()))),
            "typeName" => Ok(Obj::Str(v.type_name().into())),
            "fields" => {
                let btf = &self.dump.btf;
                let names = match v.ty() {
                    Ty::Btf(id) => btf.resolve(id).and_then(|t| {
                        btf.members(&t)
                            .map(|m| m.iter().map(|m| Obj::str(m.name)).collect())
                    }),
                    _ => Ok(Vec::new()),
                };
                names
                    .map(Obj::list)
                    .map_err(|e| dump_exc(it, &e, &describe(&v)))
            }
            _ => Err(it.exc(
                "AttributeError",
                format!("{} has no method '{name}'", describe(&v)),
            )),
        }
    }

    pub fn describe_handle(&self, h: u32) -> String {
        self.objects
            .get(h as usize)
            .map_or_else(|| format!("<dump object #{h}>"), describe)
    }
}

fn signed(v: &Value<'_>) -> Result<bool, DumpError> {
    let Ty::Btf(id) = v.ty() else {
        return Ok(false);
    };
    let btf = &v.dump().btf;
    let t = btf.resolve(id)?;
    Ok(match t.kind {
        Kind::Int => btf.int_info(&t)?.signed,
        Kind::Enum | Kind::Enum64 => t.kind_flag,
        _ => false,
    })
}
