//! Built-in functions (print, len, sorted, …). Methods of str, list, dict and set are in
//! `methods.rs`; the dump API is the host's (`api.rs`).

use super::format::{format_spec, repr, to_str};
use super::interp::{Interp, R};
use super::value::{Dict, Key, Obj};
use std::rc::Rc;

const BUILTINS: &[&str] = &[
    "print",
    "len",
    "range",
    "str",
    "int",
    "hex",
    "oct",
    "bin",
    "repr",
    "sorted",
    "reversed",
    "min",
    "max",
    "sum",
    "abs",
    "enumerate",
    "zip",
    "list",
    "tuple",
    "dict",
    "set",
    "isinstance",
    "bool",
    "float",
    "ord",
    "chr",
    "any",
    "all",
    "map",
    "filter",
    "getattr",
    "hasattr",
    "format",
    "round",
    "divmod",
    "exit",
    "sys",
    "open",
    "type",
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// "KeyError: 'x'" for an exception value.
pub fn exception_text(exc: &Obj) -> String {
    match exc {
        Obj::Instance(i) => {
            let msg = match i.attrs.borrow().get("args") {
                Some(Obj::Tuple(a)) if a.len() == 1 => match &a[0] {
                    Obj::Str(s) => s.to_string(),
                    other => repr(other),
                },
                Some(Obj::Tuple(a)) if a.is_empty() => String::new(),
                Some(other) => repr(other),
                None => String::new(),
            };
            if msg.is_empty() {
                i.class.name.to_string()
            } else {
                format!("{}: {msg}", i.class.name)
            }
        }
        other => repr(other),
    }
}

fn arg(it: &Interp, args: &[Obj], i: usize, f: &str) -> R<Obj> {
    args.get(i)
        .cloned()
        .ok_or_else(|| it.exc("TypeError", format!("{f}() missing argument {}", i + 1)))
}

pub fn int_arg(it: &Interp, args: &[Obj], i: usize, f: &str) -> R<i128> {
    let v = arg(it, args, i, f)?;
    v.as_int().ok_or_else(|| {
        it.exc(
            "TypeError",
            format!(
                "{f}() argument {} must be int, not {}",
                i + 1,
                v.type_name()
            ),
        )
    })
}

pub fn kwarg<'a>(kw: &'a [(Rc<str>, Obj)], name: &str) -> Option<&'a Obj> {
    kw.iter().find(|(k, _)| &**k == name).map(|(_, v)| v)
}

pub fn call(it: &mut Interp, name: &str, args: Vec<Obj>, kw: Vec<(Rc<str>, Obj)>) -> R<Obj> {
    if !is_builtin(name) {
        return match it.host.take() {
            Some(host) => {
                let r = host.call(it, name, args, kw);
                it.host = Some(host);
                r
            }
            None => Err(it.exc("NameError", format!("name '{name}' is not defined"))),
        };
    }
    let a = &args;
    Ok(match name {
        "print" => {
            let sep = kwarg(&kw, "sep").map_or(" ".into(), |s| to_str(s, it));
            let end = kwarg(&kw, "end").map_or("\n".into(), |s| to_str(s, it));
            let text: Vec<String> = a.iter().map(|v| to_str(v, it)).collect();
            let line = text.join(&sep) + &end;
            it.out
                .write_all(line.as_bytes())
                .map_err(|e| it.exc("OSError", format!("print: {e}")))?;
            Obj::None
        }
        "len" => Obj::Int(len(it, &arg(it, a, 0, name)?)? as i128),
        "range" => {
            let (start, stop, step) = match a.len() {
                1 => (0, int_arg(it, a, 0, name)?, 1),
                2 => (int_arg(it, a, 0, name)?, int_arg(it, a, 1, name)?, 1),
                _ => (
                    int_arg(it, a, 0, name)?,
                    int_arg(it, a, 1, name)?,
                    int_arg(it, a, 2, name)?,
                ),
            };
            if step == 0 {
                return Err(it.exc("ValueError", "range() arg 3 must not be zero"));
            }
            Obj::Range(start, stop, step)
        }
        "str" => Obj::Str(a.first().map_or(String::new(), |v| to_str(v, it)).into()),
        "repr" => Obj::Str(repr(&arg(it, a, 0, name)?).into()),
        "int" => to_int(it, a)?,
        "float" => match arg(it, a, 0, name)? {
            Obj::Float(f) => Obj::Float(f),
            Obj::Str(s) => Obj::Float(s.trim().parse().map_err(|_| {
                it.exc(
                    "ValueError",
                    format!("could not convert string to float: {s:?}"),
                )
            })?),
            v => Obj::Float(int_arg(it, &[v], 0, name)? as f64),
        },
        "bool" => Obj::Bool(a.first().is_some_and(Obj::truthy)),
        "hex" | "oct" | "bin" => {
            let spec = match name {
                "hex" => "#x",
                "oct" => "#o",
                _ => "#b",
            };
            let v = Obj::Int(int_arg(it, a, 0, name)?);
            Obj::Str(format_spec(it, &v, spec)?.into())
        }
        "format" => {
            let spec = a.get(1).map_or(String::new(), |s| to_str(s, it));
            Obj::Str(format_spec(it, &arg(it, a, 0, name)?, &spec)?.into())
        }
        "ord" => match arg(it, a, 0, name)? {
            Obj::Str(s) if s.chars().count() == 1 => {
                Obj::Int(s.chars().next().map_or(0, |c| c as i128))
            }
            Obj::Bytes(b) if b.len() == 1 => Obj::Int(i128::from(b[0])),
            _ => return Err(it.exc("TypeError", "ord() expected a character")),
        },
        "chr" => Obj::Str(
            char::from_u32(int_arg(it, a, 0, name)? as u32)
                .map(String::from)
                .unwrap_or_default()
                .into(),
        ),
        "abs" => match arg(it, a, 0, name)? {
            Obj::Float(f) => Obj::Float(f.abs()),
            v => Obj::Int(int_arg(it, &[v], 0, name)?.abs()),
        },
        "round" => {
            let v = arg(it, a, 0, name)?;
            let f = match v {
                Obj::Float(f) => f,
                other => return Ok(other),
            };
            match a.get(1).and_then(Obj::as_int) {
                Some(n) => {
                    let m = 10f64.powi(n as i32);
                    Obj::Float((f * m).round() / m)
                }
                None => Obj::Int(f.round() as i128),
            }
        }
        "divmod" => {
            let x = arg(it, a, 0, name)?;
            let y = arg(it, a, 1, name)?;
            let q = it.binop(super::ast::BinOp::FloorDiv, &x, &y)?;
            let r = it.binop(super::ast::BinOp::Mod, &x, &y)?;
            Obj::tuple(vec![q, r])
        }
        "list" => Obj::list(match a.first() {
            Some(v) => it.iterate(v)?,
            None => Vec::new(),
        }),
        "tuple" => Obj::tuple(match a.first() {
            Some(v) => it.iterate(v)?,
            None => Vec::new(),
        }),
        "set" => {
            let items = match a.first() {
                Some(v) => it.iterate(v)?,
                None => Vec::new(),
            };
            it.make_set(items)?
        }
        "dict" => {
            let mut d = Dict::default();
            if let Some(src) = a.first() {
                let pairs: Vec<Obj> = match src {
                    Obj::Dict(x) => x
                        .borrow()
                        .entries
                        .iter()
                        .map(|(k, v)| Obj::tuple(vec![k.clone(), v.clone()]))
                        .collect(),
                    other => it.iterate(other)?,
                };
                for p in pairs {
                    let kv = it.iterate(&p)?;
                    if kv.len() != 2 {
                        return Err(it.exc("ValueError", "dict() needs pairs"));
                    }
                    let key = it.hash_key(&kv[0])?;
                    d.insert(key, kv[0].clone(), kv[1].clone());
                }
            }
            for (k, v) in kw {
                d.insert(Key::Str(k.clone()), Obj::Str(k), v);
            }
            Obj::dict(d)
        }
        "sorted" => {
            let items = it.iterate(&arg(it, a, 0, name)?)?;
            Obj::list(sort(it, items, kwarg(&kw, "key"), kwarg(&kw, "reverse"))?)
        }
        "reversed" => {
            let mut items = it.iterate(&arg(it, a, 0, name)?)?;
            items.reverse();
            Obj::list(items)
        }
        "min" | "max" => {
            let items = if a.len() == 1 {
                it.iterate(&a[0])?
            } else {
                a.clone()
            };
            if items.is_empty() {
                if let Some(d) = kwarg(&kw, "default") {
                    return Ok(d.clone());
                }
                return Err(it.exc("ValueError", format!("{name}() arg is an empty sequence")));
            }
            let mut sorted = sort(it, items, kwarg(&kw, "key"), None)?;
            if name == "min" {
                sorted.swap_remove(0)
            } else {
                sorted.pop().unwrap_or(Obj::None)
            }
        }
        "sum" => {
            let mut total = a.get(1).cloned().unwrap_or(Obj::Int(0));
            for v in it.iterate(&arg(it, a, 0, name)?)? {
                total = it.binop(super::ast::BinOp::Add, &total, &v)?;
            }
            total
        }
        "any" => Obj::Bool(it.iterate(&arg(it, a, 0, name)?)?.iter().any(Obj::truthy)),
        "all" => Obj::Bool(it.iterate(&arg(it, a, 0, name)?)?.iter().all(Obj::truthy)),
        "enumerate" => {
            let start = a.get(1).and_then(Obj::as_int).unwrap_or(0);
            let items = it.iterate(&arg(it, a, 0, name)?)?;
            Obj::list(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| Obj::tuple(vec![Obj::Int(start + i as i128), v]))
                    .collect(),
            )
        }
        "zip" => {
            let lists = a.iter().map(|v| it.iterate(v)).collect::<R<Vec<_>>>()?;
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Obj::list(
                (0..n)
                    .map(|i| Obj::tuple(lists.iter().map(|l| l[i].clone()).collect()))
                    .collect(),
            )
        }
        "map" | "filter" => {
            let f = arg(it, a, 0, name)?;
            let mut out = Vec::new();
            for v in it.iterate(&arg(it, a, 1, name)?)? {
                let r = if matches!(f, Obj::None) {
                    v.clone()
                } else {
                    it.call(f.clone(), vec![v.clone()], Vec::new())?
                };
                if name == "map" {
                    out.push(r);
                } else if r.truthy() {
                    out.push(v);
                }
            }
            Obj::list(out)
        }
        "isinstance" => {
            let v = arg(it, a, 0, name)?;
            let classes = match arg(it, a, 1, name)? {
                Obj::Tuple(t) => t.to_vec(),
                c => vec![c],
            };
            Obj::Bool(classes.iter().any(|c| match (c, &v) {
                (Obj::Class(c), Obj::Instance(i)) => i.class.is_subclass_of(c),
                (Obj::Builtin(t), v) => {
                    v.type_name() == **t || (&**t == "int" && matches!(v, Obj::Bool(_)))
                }
                _ => false,
            }))
        }
        "type" => {
            let v = arg(it, a, 0, name)?;
            match v {
                Obj::Instance(i) => Obj::Class(i.class.clone()),
                other => Obj::Builtin(other.type_name().into()),
            }
        }
        "getattr" | "hasattr" => {
            let v = arg(it, a, 0, name)?;
            let attr: Rc<str> = to_str(&arg(it, a, 1, name)?, it).into();
            match (it.getattr(&v, &attr), name) {
                (Ok(Obj::Method(m)), "hasattr") if !matches!(m.0, Obj::Instance(_)) => {
                    Obj::Bool(false)
                }
                (Ok(_), "hasattr") => Obj::Bool(true),
                (Ok(x), _) => x,
                (Err(_), "hasattr") => Obj::Bool(false),
                (Err(e), _) => match a.get(2) {
                    Some(d) => d.clone(),
                    None => return Err(e),
                },
            }
        }
        "exit" => {
            return Err(super::error::ScriptError::Exit(
                a.first().and_then(Obj::as_int).unwrap_or(0) as i64,
            ))
        }
        "open" => {
            return Err(it.exc(
                "PermissionError",
                "scripts cannot open files: they read the dump and print",
            ))
        }
        _ => return Err(it.exc("TypeError", format!("'{name}' is a module, not a function"))),
    })
}

fn to_int(it: &Interp, a: &[Obj]) -> R<Obj> {
    let base = a.get(1).and_then(Obj::as_int);
    Ok(match a.first() {
        None => Obj::Int(0),
        Some(Obj::Float(f)) => Obj::Int(f.trunc() as i128),
        Some(Obj::Str(s)) => {
            let t = s.trim().replace('_', "");
            let (neg, t) = match t.strip_prefix('-') {
                Some(r) => (true, r.to_string()),
                None => (false, t),
            };
            let (radix, digits) = match (base, t.get(..2)) {
                (Some(16) | Some(0), Some("0x" | "0X")) => (16, &t[2..]),
                (Some(8) | Some(0), Some("0o" | "0O")) => (8, &t[2..]),
                (Some(2) | Some(0), Some("0b" | "0B")) => (2, &t[2..]),
                (Some(b), _) if b > 1 => (b as u32, &t[..]),
                _ => (10, &t[..]),
            };
            let v = i128::from_str_radix(digits, radix).map_err(|_| {
                it.exc(
                    "ValueError",
                    format!("invalid literal for int() with base {radix}: {s:?}"),
                )
            })?;
            Obj::Int(if neg { -v } else { v })
        }
        Some(v) => Obj::Int(int_arg(it, &[v.clone()], 0, "int")?),
    })
}

pub fn len(it: &Interp, v: &Obj) -> R<usize> {
    Ok(match v {
        Obj::Str(s) => s.chars().count(),
        Obj::Bytes(b) => b.len(),
        Obj::List(l) => l.borrow().len(),
        Obj::Tuple(t) => t.len(),
        Obj::Dict(d) | Obj::Set(d) => d.borrow().len(),
        Obj::Range(a, b, s) => super::value::range_len(*a, *b, *s).max(0) as usize,
        other => {
            return Err(it.exc(
                "TypeError",
                format!("object of type '{}' has no len()", other.type_name()),
            ))
        }
    })
}

/// Stable sort by key function (or the items), the first comparison error reported.
pub fn sort(
    it: &mut Interp,
    items: Vec<Obj>,
    key: Option<&Obj>,
    reverse: Option<&Obj>,
) -> R<Vec<Obj>> {
    let mut keyed = Vec::with_capacity(items.len());
    for v in items {
        let k = match key {
            Some(f) if !matches!(f, Obj::None) => {
                it.call(f.clone(), vec![v.clone()], Vec::new())?
            }
            _ => v.clone(),
        };
        keyed.push((k, v));
    }
    let mut err = None;
    keyed.sort_by(|a, b| match it.order(&a.0, &b.0) {
        Ok(o) => o,
        Err(e) => {
            err.get_or_insert(e);
            std::cmp::Ordering::Equal
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    if reverse.is_some_and(Obj::truthy) {
        keyed.reverse();
    }
    Ok(keyed.into_iter().map(|(_, v)| v).collect())
}
