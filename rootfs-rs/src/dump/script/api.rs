//! The dump API of scripts, with the names PyKdump and drgn users know: readSymbol,
//! readSU, member, per_cpu, container_of, list walks, for_each_task, alias (a field renamed
//! across kernels), section() (the built-in report's data), … Each calls the engine's own
//! helpers; docs/scripting.md lists them.

use super::host::{dump_exc, DumpHost};
use super::interp::{Host, Interp, R};
use super::value::{Dict, Key, Obj};
use crate::dump::kernel::lists::{
    hlist_for_each_entry, hlist_nulls_for_each_entry, list_for_each_entry, ListIter,
};
use crate::dump::kernel::x86_64::KernelMemory;
use crate::dump::report::json::{report_json, Json};
use crate::dump::report::{fill, Options, Report, Section};
use std::rc::Rc;

const FUNCTIONS: &[&str] = &[
    "readSymbol",
    "sym2addr",
    "addr2sym",
    "readSU",
    "Deref",
    "Addr",
    "member",
    "readmem",
    "readU8",
    "readU16",
    "readU32",
    "readU64",
    "readPtr",
    "readS32",
    "readS64",
    "readString",
    "readPtrs",
    "per_cpu",
    "container_of",
    "list_for_each_entry",
    "hlist_for_each_entry",
    "hlist_nulls_for_each_entry",
    "for_each_task",
    "has_member",
    "alias",
    "kernel_release",
    "section",
    "sizeof",
    "offsetof",
    "nr_cpus",
    "jiffies",
    "hash_chains",
];

/// Largest readmem / readPtrs in one call.
const MAX_READ: usize = 16 << 20;

/// Where each section's data is in triage.json.
fn json_key(section: Section) -> &'static str {
    match section {
        Section::Sys => "system",
        Section::Panic => "panic",
        Section::Log => "log_tail",
        Section::Ps => "tasks",
        Section::Mem => "memory",
        Section::Runq => "runqueues",
        Section::Net => "network",
        Section::Mod => "modules",
        Section::Mount => "mounts",
        Section::Slab => "slab",
        Section::Bt => "bt",
        Section::Hung => "hung_tasks",
        Section::Warnings => "warnings",
    }
}

pub fn json_to_obj(j: &Json) -> Obj {
    match j {
        Json::Null => Obj::None,
        Json::Bool(b) => Obj::Bool(*b),
        Json::Int(i) => Obj::Int(i128::from(*i)),
        Json::UInt(u) => Obj::Int(i128::from(*u)),
        Json::Float(f) => Obj::Float(*f),
        Json::Str(s) => Obj::str(s),
        Json::Arr(a) => Obj::list(a.iter().map(json_to_obj).collect()),
        Json::Obj(fields) => {
            let mut d = Dict::default();
            for (k, v) in fields {
                let key: Rc<str> = k.as_str().into();
                d.insert(Key::Str(key.clone()), Obj::Str(key), json_to_obj(v));
            }
            Obj::dict(d)
        }
    }
}

fn text_arg(it: &Interp, args: &[Obj], i: usize, f: &str) -> R<String> {
    match args.get(i) {
        Some(Obj::Str(s)) => Ok(s.to_string()),
        other => Err(it.exc(
            "TypeError",
            format!(
                "{f}() argument {} must be str, not {}",
                i + 1,
                other.map_or("nothing".into(), Obj::type_name)
            ),
        )),
    }
}

fn addr_arg(it: &Interp, args: &[Obj], i: usize, f: &str) -> R<u64> {
    super::builtins::int_arg(it, args, i, f).map(|a| a as u64)
}

impl<'d> DumpHost<'d> {
    fn walk(
        &mut self,
        it: &Interp,
        walker: Result<ListIter<'d>, crate::dump::DumpError>,
        what: &str,
    ) -> R<Obj> {
        let mut out = Vec::new();
        for e in walker.map_err(|e| dump_exc(it, &e, what))? {
            let v = e.map_err(|e| dump_exc(it, &e, what))?;
            out.push(self.handle(v));
        }
        it.check_memory(0)?;
        Ok(Obj::list(out))
    }

    fn section(&mut self, it: &Interp, name: &str) -> R<Obj> {
        if let Some(v) = self.sections.get(name) {
            return Ok(v.clone());
        }
        let section = Section::from_name(name).ok_or_else(|| {
            it.exc(
                "ValueError",
                format!(
                    "unknown section {name:?} (one of: {})",
                    Section::ALL.map(Section::name).join(" ")
                ),
            )
        })?;
        let options = Options {
            sections: vec![name.to_string()],
            ..Options::default()
        };
        let mut r = Report {
            options: options.clone(),
            ..Default::default()
        };
        fill(&mut r, self.dump, &options);
        let json = report_json(&r);
        let key = json_key(section);
        let data = match &json {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| json_to_obj(v)),
            _ => None,
        };
        let v = data.unwrap_or(Obj::None);
        self.sections.insert(name.to_string(), v.clone());
        Ok(v)
    }

    fn read_int(&mut self, it: &Interp, f: &str, addr: u64) -> R<Obj> {
        let d = self.dump;
        let r = match f {
            "readU8" => d.read_u8(addr).map(i128::from),
            "readU16" => d.read_u16(addr).map(i128::from),
            "readU32" => d.read_u32(addr).map(i128::from),
            "readS32" => d.read_i32(addr).map(i128::from),
            "readS64" => d.read_u64(addr).map(|v| i128::from(v as i64)),
            _ => d.read_u64(addr).map(i128::from),
        };
        r.map(Obj::Int)
            .map_err(|e| dump_exc(it, &e, &format!("{f}({addr:#x})")))
    }

    fn api(&mut self, it: &mut Interp, f: &str, a: &[Obj]) -> R<Obj> {
        let d = self.dump;
        Ok(match f {
            "readSymbol" => {
                let name = text_arg(it, a, 0, f)?;
                let v = d.var(&name).map_err(|e| dump_exc(it, &e, &name))?;
                self.to_obj(it, v)?
            }
            "sym2addr" => {
                let name = text_arg(it, a, 0, f)?;
                Obj::Int(i128::from(
                    d.symbol(&name).map_err(|e| dump_exc(it, &e, ""))?,
                ))
            }
            "addr2sym" => {
                let addr = addr_arg(it, a, 0, f)?;
                match d.kallsyms.symbolize(addr) {
                    Some((s, 0)) => Obj::str(s.name),
                    Some((s, off)) => Obj::Str(format!("{}+{off:#x}", s.name).into()),
                    None => Obj::None,
                }
            }
            "readSU" => {
                let ty = text_arg(it, a, 0, f)?;
                let addr = addr_arg(it, a, 1, f)?;
                let v = d.value_at(addr, &ty).map_err(|e| dump_exc(it, &e, &ty))?;
                self.to_obj(it, v)?
            }
            "Deref" => match a.first() {
                Some(o @ Obj::Host(_)) => o.clone(),
                Some(Obj::None) => return Err(it.exc("TypeError", "Deref(None): a NULL pointer")),
                _ => {
                    return Err(it.exc(
                        "TypeError",
                        "Deref needs a typed object (pointers to structs are followed already); \
                         for a bare address use readSU(type, addr)",
                    ))
                }
            },
            "Addr" => match a.first() {
                Some(Obj::Host(h)) => Obj::Int(i128::from(self.value(it, *h)?.address())),
                Some(o) if o.as_int().is_some() => o.clone(),
                _ => return Err(it.exc("TypeError", "Addr() needs a dump object")),
            },
            "member" => {
                let v = self.value_arg(it, a.first().unwrap_or(&Obj::None), "void")?;
                let path = text_arg(it, a, 1, f)?;
                let m = v
                    .field(&path)
                    .map_err(|e| dump_exc(it, &e, &super::host::describe(&v)))?;
                self.to_obj(it, m)?
            }
            "readmem" | "readPtrs" => {
                let addr = addr_arg(it, a, 0, f)?;
                let n = super::builtins::int_arg(it, a, 1, f)?.max(0) as usize;
                let stride = a.get(2).and_then(Obj::as_int).unwrap_or(8).max(1) as usize;
                let len = if f == "readmem" {
                    n
                } else {
                    n.saturating_mul(stride)
                };
                if len > MAX_READ {
                    return Err(it.exc(
                        "ValueError",
                        format!("{f}: {len} bytes is more than one read may ask"),
                    ));
                }
                it.check_memory(len.saturating_mul(if f == "readmem" { 1 } else { 5 }))?;
                let mut buf = vec![0u8; len];
                d.read_virt(addr, &mut buf)
                    .map_err(|e| dump_exc(it, &e, &format!("{f}({addr:#x}, {n})")))?;
                if f == "readmem" {
                    return Ok(Obj::Bytes(buf.into()));
                }
                // Pointers `stride` bytes apart: a hash table's bucket heads in one read.
                let words = buf.chunks(stride).map(|c| {
                    let mut w = [0u8; 8];
                    let k = c.len().min(8);
                    w[..k].copy_from_slice(&c[..k]);
                    Obj::Int(i128::from(u64::from_le_bytes(w)))
                });
                Obj::list(words.collect())
            }
            "readU8" | "readU16" | "readU32" | "readU64" | "readPtr" | "readS32" | "readS64" => {
                let addr = addr_arg(it, a, 0, f)?;
                self.read_int(it, f, addr)?
            }
            "readString" => {
                let addr = addr_arg(it, a, 0, f)?;
                let max = a
                    .get(1)
                    .and_then(Obj::as_int)
                    .unwrap_or(256)
                    .clamp(1, 1 << 20) as usize;
                let b = d
                    .read_cstr(addr, max)
                    .map_err(|e| dump_exc(it, &e, &format!("readString({addr:#x})")))?;
                Obj::Str(b.iter().map(|&c| c as char).collect::<String>().into())
            }
            "per_cpu" => {
                let cpu = super::builtins::int_arg(it, a, 1, f)? as u32;
                let v = match a.first() {
                    Some(Obj::Str(name)) => {
                        d.per_cpu(name, cpu).map_err(|e| dump_exc(it, &e, name))?
                    }
                    Some(o) => {
                        let v = self.value_arg(it, o, "void")?;
                        let addr = d
                            .per_cpu_addr(v.address(), cpu)
                            .map_err(|e| dump_exc(it, &e, ""))?;
                        d.typed(addr, v.ty())
                    }
                    None => return Err(it.exc("TypeError", "per_cpu(symbol, cpu)")),
                };
                self.to_obj(it, v)?
            }
            "container_of" => {
                let addr = match a.first() {
                    Some(Obj::Host(h)) => self.value(it, *h)?.address(),
                    _ => addr_arg(it, a, 0, f)?,
                };
                let ty = text_arg(it, a, 1, f)?;
                let m = text_arg(it, a, 2, f)?;
                let v = d
                    .container_of(addr, &ty, &m)
                    .map_err(|e| dump_exc(it, &e, &ty))?;
                self.handle(v)
            }
            "list_for_each_entry" | "hlist_for_each_entry" | "hlist_nulls_for_each_entry" => {
                let ty = text_arg(it, a, 0, f)?;
                let m = text_arg(it, a, 2, f)?;
                let head_type = match f {
                    "list_for_each_entry" => "struct list_head",
                    "hlist_for_each_entry" => "struct hlist_head",
                    _ => "struct hlist_nulls_head",
                };
                let head = self.value_arg(it, a.get(1).unwrap_or(&Obj::None), head_type)?;
                let walker = match f {
                    "list_for_each_entry" => list_for_each_entry(&head, &ty, &m),
                    "hlist_for_each_entry" => hlist_for_each_entry(&head, &ty, &m),
                    _ => hlist_nulls_for_each_entry(&head, &ty, &m),
                };
                self.walk(
                    it,
                    walker,
                    &format!("{f}({ty}, {:#x}, {m})", head.address()),
                )?
            }
            "for_each_task" => {
                let (tasks, errors) = crate::dump::helpers::ps::task_values(d);
                if let (true, Some(e)) = (tasks.is_empty(), errors.first()) {
                    return Err(it.exc("DumpError", e.clone()));
                }
                Obj::list(tasks.into_iter().map(|t| self.handle(t)).collect())
            }
            "has_member" => {
                let ty = text_arg(it, a, 0, f)?;
                let path = text_arg(it, a, 1, f)?;
                let v = d.value_at(0, &ty).map_err(|e| dump_exc(it, &e, &ty))?;
                Obj::Bool(v.has_field(&path))
            }
            "alias" => {
                let ty = text_arg(it, a, 0, f)?;
                let v = d.value_at(0, &ty).map_err(|e| dump_exc(it, &e, &ty))?;
                let names = it.iterate(a.get(1).unwrap_or(&Obj::None))?;
                let found = names
                    .iter()
                    .find(|n| matches!(n, Obj::Str(s) if v.has_field(s)));
                match found {
                    Some(n) => n.clone(),
                    None => {
                        return Err(it.exc(
                            "LookupError",
                            format!(
                                "{ty} has none of {}",
                                super::format::repr(&Obj::list(names.clone()))
                            ),
                        ))
                    }
                }
            }
            "kernel_release" => Obj::Str(
                crate::dump::helpers::tasks::release(d)
                    .map_err(|e| dump_exc(it, &e, "init_uts_ns"))?
                    .into(),
            ),
            "section" => {
                let name = text_arg(it, a, 0, f)?;
                self.section(it, &name)?
            }
            "sizeof" => {
                let ty = text_arg(it, a, 0, f)?;
                let v = d.value_at(0, &ty).map_err(|e| dump_exc(it, &e, &ty))?;
                Obj::Int(i128::from(v.size().map_err(|e| dump_exc(it, &e, &ty))?))
            }
            "offsetof" => {
                let ty = text_arg(it, a, 0, f)?;
                let m = text_arg(it, a, 1, f)?;
                let v = d
                    .container_of(0, &ty, &m)
                    .map_err(|e| dump_exc(it, &e, &ty))?;
                Obj::Int(-i128::from(v.address() as i64))
            }
            "hash_chains" => {
                // The heads of a hash table's non-empty chains, its bucket array read once
                // (64k buckets cost one read, not 64k calls from the script).
                let base = addr_arg(it, a, 0, f)?;
                let count = super::builtins::int_arg(it, a, 1, f)?.max(0) as u64;
                let stride = super::builtins::int_arg(it, a, 2, f)?.max(0) as u64;
                let nulls = a.get(3).is_some_and(Obj::truthy);
                let firsts = crate::dump::helpers::sockets::bucket_heads(d, base, count, stride, 0)
                    .map_err(|e| dump_exc(it, &e, &format!("hash_chains({base:#x})")))?;
                let heads = firsts
                    .iter()
                    .enumerate()
                    .filter(|(_, &p)| p != 0 && !(nulls && p & 1 == 1))
                    .map(|(i, _)| Obj::Int(i128::from(base + i as u64 * stride)))
                    .collect();
                Obj::list(heads)
            }
            "nr_cpus" => Obj::Int(i128::from(
                d.nr_cpu_ids().map_err(|e| dump_exc(it, &e, ""))?,
            )),
            "jiffies" => {
                let v = d.var("jiffies").map_err(|e| dump_exc(it, &e, "jiffies"))?;
                Obj::Int(i128::from(
                    v.as_u64().map_err(|e| dump_exc(it, &e, "jiffies"))?,
                ))
            }
            _ => return Err(it.exc("NameError", format!("name '{f}' is not defined"))),
        })
    }
}

impl Host for DumpHost<'_> {
    fn has_function(&self, name: &str) -> bool {
        FUNCTIONS.contains(&name)
    }

    fn call(
        &mut self,
        it: &mut Interp,
        name: &str,
        args: Vec<Obj>,
        _kw: Vec<(Rc<str>, Obj)>,
    ) -> R<Obj> {
        self.api(it, name, &args)
    }

    fn getattr(&mut self, it: &mut Interp, handle: u32, name: &str) -> R<Obj> {
        self.field(it, handle, name)
    }

    fn method(&mut self, it: &mut Interp, handle: u32, name: &str, args: Vec<Obj>) -> R<Obj> {
        self.obj_method(it, handle, name, &args)
    }

    fn repr(&self, handle: u32) -> String {
        self.describe_handle(handle)
    }
}
