//! Methods of built-in values (str, bytes, list, dict, set), of script-defined classes'
//! instances, and of dump objects (passed to the host).

use super::builtins::{int_arg, kwarg, sort};
use super::format::{format_spec, to_str};
use super::interp::{Interp, R};
use super::value::{Key, Obj};
use std::rc::Rc;

pub fn call_method(
    it: &mut Interp,
    recv: &Obj,
    name: &str,
    args: Vec<Obj>,
    kw: Vec<(Rc<str>, Obj)>,
) -> R<Obj> {
    let a = &args;
    let missing = |it: &Interp| {
        it.exc(
            "AttributeError",
            format!("'{}' object has no attribute '{name}'", recv.type_name()),
        )
    };
    match recv {
        Obj::Instance(inst) => {
            let f = inst.class.lookup(name).ok_or_else(|| missing(it))?;
            let mut full = vec![recv.clone()];
            full.extend(args);
            it.call(f, full, kw)
        }
        Obj::Host(h) => {
            let h = *h;
            match it.host.take() {
                Some(host) => {
                    let r = host.method(it, h, name, args);
                    it.host = Some(host);
                    r
                }
                None => Err(missing(it)),
            }
        }
        Obj::Builtin(m) if &**m == "sys" && name == "exit" => {
            super::builtins::call(it, "exit", args, kw)
        }
        Obj::Str(s) => str_method(it, s, name, a, &kw).and_then(|o| o.ok_or_else(|| missing(it))),
        Obj::Bytes(b) => match name {
            "decode" => Ok(Obj::Str(String::from_utf8_lossy(b).into_owned().into())),
            "hex" => Ok(Obj::Str(
                b.iter()
                    .map(|c| format!("{c:02x}"))
                    .collect::<String>()
                    .into(),
            )),
            _ => Err(missing(it)),
        },
        Obj::List(l) => {
            match name {
                "append" => l.borrow_mut().push(arg0(it, a)?),
                "extend" => {
                    let items = it.iterate(&arg0(it, a)?)?;
                    l.borrow_mut().extend(items);
                }
                "insert" => {
                    let len = l.borrow().len() as i128;
                    let i = int_arg(it, a, 0, name)?;
                    let i = if i < 0 { (i + len).max(0) } else { i.min(len) } as usize;
                    l.borrow_mut()
                        .insert(i, a.get(1).cloned().unwrap_or(Obj::None));
                }
                "pop" => {
                    let len = l.borrow().len();
                    let i = match a.first() {
                        Some(v) => it.norm_index(v, len)?,
                        None if len > 0 => len - 1,
                        None => return Err(it.exc("IndexError", "pop from empty list")),
                    };
                    return Ok(l.borrow_mut().remove(i));
                }
                "sort" => {
                    let items = std::mem::take(&mut *l.borrow_mut());
                    let sorted = sort(it, items, kwarg(&kw, "key"), kwarg(&kw, "reverse"))?;
                    *l.borrow_mut() = sorted;
                }
                "reverse" => l.borrow_mut().reverse(),
                "copy" => return Ok(Obj::list(l.borrow().clone())),
                "clear" => l.borrow_mut().clear(),
                "index" | "count" | "remove" => {
                    let v = arg0(it, a)?;
                    let pos: Vec<usize> = l
                        .borrow()
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| super::value::equal(x, &v))
                        .map(|(i, _)| i)
                        .collect();
                    return match (name, pos.first()) {
                        ("count", _) => Ok(Obj::Int(pos.len() as i128)),
                        ("index", Some(&i)) => Ok(Obj::Int(i as i128)),
                        ("remove", Some(&i)) => {
                            l.borrow_mut().remove(i);
                            Ok(Obj::None)
                        }
                        _ => Err(it.exc("ValueError", "value is not in list")),
                    };
                }
                _ => return Err(missing(it)),
            }
            Ok(Obj::None)
        }
        Obj::Tuple(t) => match name {
            "index" | "count" => {
                let v = arg0(it, a)?;
                let pos: Vec<usize> = (0..t.len())
                    .filter(|&i| super::value::equal(&t[i], &v))
                    .collect();
                match (name, pos.first()) {
                    ("count", _) => Ok(Obj::Int(pos.len() as i128)),
                    (_, Some(&i)) => Ok(Obj::Int(i as i128)),
                    _ => Err(it.exc("ValueError", "value is not in tuple")),
                }
            }
            _ => Err(missing(it)),
        },
        Obj::Dict(d) => {
            let pairs = |f: &dyn Fn(&(Obj, Obj)) -> Obj| -> Obj {
                Obj::list(d.borrow().entries.iter().map(f).collect())
            };
            match name {
                "items" => Ok(pairs(&|(k, v)| Obj::tuple(vec![k.clone(), v.clone()]))),
                "keys" => Ok(pairs(&|(k, _)| k.clone())),
                "values" => Ok(pairs(&|(_, v)| v.clone())),
                "copy" => {
                    let mut c = super::value::Dict::default();
                    for (k, v) in &d.borrow().entries {
                        if let Some(key) = k.key() {
                            c.insert(key, k.clone(), v.clone());
                        }
                    }
                    Ok(Obj::dict(c))
                }
                "get" | "setdefault" | "pop" => {
                    let k = arg0(it, a)?;
                    let key = it.hash_key(&k)?;
                    let default = a.get(1).cloned();
                    let found = d.borrow().get(&key).cloned();
                    match (name, found) {
                        ("pop", Some(_)) => Ok(d.borrow_mut().remove(&key).unwrap_or(Obj::None)),
                        (_, Some(v)) => Ok(v),
                        ("setdefault", None) => {
                            let v = default.unwrap_or(Obj::None);
                            d.borrow_mut().insert(key, k, v.clone());
                            Ok(v)
                        }
                        ("pop", None) => {
                            default.ok_or_else(|| it.exc("KeyError", super::format::repr(&k)))
                        }
                        _ => Ok(default.unwrap_or(Obj::None)),
                    }
                }
                "update" => {
                    if let Some(Obj::Dict(other)) = a.first() {
                        let entries = other.borrow().entries.clone();
                        for (k, v) in entries {
                            let key = it.hash_key(&k)?;
                            d.borrow_mut().insert(key, k, v);
                        }
                    }
                    for (k, v) in kw {
                        d.borrow_mut().insert(Key::Str(k.clone()), Obj::Str(k), v);
                    }
                    Ok(Obj::None)
                }
                _ => Err(missing(it)),
            }
        }
        Obj::Set(d) => match name {
            "add" | "discard" | "remove" => {
                let v = arg0(it, a)?;
                let key = it.hash_key(&v)?;
                if name == "add" {
                    d.borrow_mut().insert(key, v, Obj::None);
                } else if d.borrow_mut().remove(&key).is_none() && name == "remove" {
                    return Err(it.exc("KeyError", super::format::repr(&v)));
                }
                Ok(Obj::None)
            }
            "update" => {
                for v in it.iterate(&arg0(it, a)?)? {
                    let key = it.hash_key(&v)?;
                    d.borrow_mut().insert(key, v, Obj::None);
                }
                Ok(Obj::None)
            }
            _ => Err(missing(it)),
        },
        _ => Err(missing(it)),
    }
}

fn arg0(it: &Interp, a: &[Obj]) -> R<Obj> {
    a.first()
        .cloned()
        .ok_or_else(|| it.exc("TypeError", "method needs an argument"))
}

fn str_method(
    it: &mut Interp,
    s: &Rc<str>,
    name: &str,
    a: &[Obj],
    kw: &[(Rc<str>, Obj)],
) -> R<Option<Obj>> {
    let text = |v: Option<&Obj>| v.map(|v| to_str(v, it));
    let string = |x: String| Ok(Some(Obj::Str(x.into())));
    let width = |i: usize| a.get(i).and_then(Obj::as_int).unwrap_or(0).max(0) as usize;
    let fill = a.get(1).map_or(" ".to_string(), |f| to_str(f, it));
    let pad = |n: usize| fill.repeat(n.saturating_sub(s.chars().count()));
    match name {
        "join" => {
            let parts: Vec<String> = it
                .iterate(&arg0(it, a)?)?
                .iter()
                .map(|v| to_str(v, it))
                .collect();
            string(parts.join(s))
        }
        "split" | "rsplit" => {
            let max = a
                .get(1)
                .or(kwarg(kw, "maxsplit"))
                .and_then(Obj::as_int)
                .unwrap_or(-1);
            let sep = text(
                a.first()
                    .filter(|v| !matches!(v, Obj::None))
                    .or(kwarg(kw, "sep")),
            );
            let parts: Vec<String> = match (sep, max) {
                (None, m) if m < 0 => s.split_whitespace().map(String::from).collect(),
                (None, m) => s
                    .trim_start()
                    .splitn(m as usize + 1, char::is_whitespace)
                    .map(String::from)
                    .collect(),
                (Some(sep), m) if m < 0 => s.split(sep.as_str()).map(String::from).collect(),
                (Some(sep), m) if name == "rsplit" => {
                    let mut v: Vec<String> = s
                        .rsplitn(m as usize + 1, sep.as_str())
                        .map(String::from)
                        .collect();
                    v.reverse();
                    v
                }
                (Some(sep), m) => s
                    .splitn(m as usize + 1, sep.as_str())
                    .map(String::from)
                    .collect(),
            };
            Ok(Some(Obj::list(
                parts.into_iter().map(|p| Obj::Str(p.into())).collect(),
            )))
        }
        "splitlines" => Ok(Some(Obj::list(s.lines().map(Obj::str).collect()))),
        "strip" | "lstrip" | "rstrip" => {
            let chars: Vec<char> =
                text(a.first()).map_or(vec![' ', '\t', '\n', '\r'], |c| c.chars().collect());
            let m = |c: char| chars.contains(&c);
            string(
                match name {
                    "strip" => s.trim_matches(m),
                    "lstrip" => s.trim_start_matches(m),
                    _ => s.trim_end_matches(m),
                }
                .to_string(),
            )
        }
        "startswith" | "endswith" => {
            let cands = match arg0(it, a)? {
                Obj::Tuple(t) => t.iter().map(|v| to_str(v, it)).collect(),
                v => vec![to_str(&v, it)],
            };
            Ok(Some(Obj::Bool(cands.iter().any(|c| {
                if name == "startswith" {
                    s.starts_with(c.as_str())
                } else {
                    s.ends_with(c.as_str())
                }
            }))))
        }
        "upper" => string(s.to_uppercase()),
        "lower" => string(s.to_lowercase()),
        "replace" => {
            let from = text(a.first()).unwrap_or_default();
            let to = text(a.get(1)).unwrap_or_default();
            string(s.replace(from.as_str(), &to))
        }
        "find" | "index" | "count" => {
            let sub = text(a.first()).unwrap_or_default();
            if name == "count" {
                return Ok(Some(Obj::Int(s.matches(sub.as_str()).count() as i128)));
            }
            match s.find(sub.as_str()) {
                Some(byte) => Ok(Some(Obj::Int(s[..byte].chars().count() as i128))),
                None if name == "find" => Ok(Some(Obj::Int(-1))),
                None => Err(it.exc("ValueError", "substring not found")),
            }
        }
        "ljust" => string(format!("{s}{}", pad(width(0)))),
        "rjust" => string(format!("{}{s}", pad(width(0)))),
        "center" => {
            let total = width(0).saturating_sub(s.chars().count());
            let left = fill.repeat(total / 2);
            string(format!("{left}{s}{}", fill.repeat(total - total / 2)))
        }
        "zfill" => string(format!(
            "{}{s}",
            "0".repeat(width(0).saturating_sub(s.chars().count()))
        )),
        "isdigit" => Ok(Some(Obj::Bool(
            !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()),
        ))),
        "isspace" => Ok(Some(Obj::Bool(
            !s.is_empty() && s.chars().all(char::is_whitespace),
        ))),
        "encode" => Ok(Some(Obj::Bytes(s.as_bytes().into()))),
        "partition" => {
            let sep = text(a.first()).unwrap_or_default();
            let (x, y, z) = match s.split_once(sep.as_str()) {
                Some((x, z)) => (x, sep.as_str(), z),
                None => (&s[..], "", ""),
            };
            Ok(Some(Obj::tuple(vec![
                Obj::str(x),
                Obj::str(y),
                Obj::str(z),
            ])))
        }
        "format" => {
            // "{} {:>5} {0}".format(...): positional fields only.
            let mut out = String::new();
            let mut auto = 0;
            let mut rest = &s[..];
            while let Some(open) = rest.find('{') {
                out.push_str(&rest[..open].replace("}}", "}"));
                if rest[open..].starts_with("{{") {
                    out.push('{');
                    rest = &rest[open + 2..];
                    continue;
                }
                let close = rest[open..]
                    .find('}')
                    .ok_or_else(|| it.exc("ValueError", "unmatched '{'"))?;
                let field = &rest[open + 1..open + close];
                let (idx, spec) = field.split_once(':').unwrap_or((field, ""));
                let v = if idx.is_empty() {
                    auto += 1;
                    a.get(auto - 1)
                } else if let Ok(i) = idx.parse::<usize>() {
                    a.get(i)
                } else {
                    kwarg(kw, idx)
                };
                let v = v
                    .cloned()
                    .ok_or_else(|| it.exc("IndexError", format!("format field {{{field}}}")))?;
                out.push_str(&format_spec(it, &v, spec)?);
                rest = &rest[open + close + 1..];
            }
            out.push_str(&rest.replace("}}", "}"));
            string(out)
        }
        _ => Ok(None),
    }
}
