//! Expression evaluation, assignment targets, attribute access, subscripts and iteration.

use super::ast::*;
use super::interp::{Frame, Interp, R};
use super::value::{range_len, Dict, Obj};
use std::rc::Rc;

/// A lazy iterator over a value: ranges are not materialised (an endless-looking
/// `range(10**12)` costs nothing until iterated), containers are snapshots.
pub enum ObjIter {
    Range(i128, i128, i128),
    Items(std::vec::IntoIter<Obj>),
}

impl Iterator for ObjIter {
    type Item = Obj;
    fn next(&mut self) -> Option<Obj> {
        match self {
            ObjIter::Range(cur, stop, step) => {
                if (*step > 0 && *cur < *stop) || (*step < 0 && *cur > *stop) {
                    let v = *cur;
                    *cur += *step;
                    Some(Obj::Int(v))
                } else {
                    None
                }
            }
            ObjIter::Items(it) => it.next(),
        }
    }
}

const OBJ_SIZE: usize = std::mem::size_of::<Obj>();

impl Interp<'_> {
    pub fn iter_of(&mut self, v: &Obj) -> R<ObjIter> {
        Ok(match v {
            Obj::Range(a, b, s) => ObjIter::Range(*a, *b, *s),
            other => ObjIter::Items(self.iterate(other)?.into_iter()),
        })
    }

    /// The items of an iterable, materialised (memory checked first for ranges).
    pub fn iterate(&mut self, v: &Obj) -> R<Vec<Obj>> {
        Ok(match v {
            Obj::List(l) => l.borrow().clone(),
            Obj::Tuple(t) => t.to_vec(),
            Obj::Str(s) => s.chars().map(|c| Obj::Str(c.to_string().into())).collect(),
            Obj::Bytes(b) => b.iter().map(|&c| Obj::Int(i128::from(c))).collect(),
            Obj::Dict(d) | Obj::Set(d) => d.borrow().entries.iter().map(|e| e.0.clone()).collect(),
            Obj::Range(a, b, s) => {
                let n = range_len(*a, *b, *s).max(0) as usize;
                self.check_memory(n.saturating_mul(OBJ_SIZE))?;
                ObjIter::Range(*a, *b, *s).collect()
            }
            other => {
                return Err(self.exc(
                    "TypeError",
                    format!("'{}' object is not iterable", other.type_name()),
                ))
            }
        })
    }

    pub fn eval(&mut self, f: &mut Frame, e: &Expr) -> R<Obj> {
        Ok(match e {
            Expr::Const(c) => c.clone(),
            Expr::Name(n) => match self.lookup(f, n) {
                Some(v) => v,
                None => return Err(self.exc("NameError", format!("name '{n}' is not defined"))),
            },
            Expr::FStr(parts) => Obj::Str(self.fstring(f, parts)?.into()),
            Expr::List(items) => Obj::list(self.items(f, items)?),
            Expr::Tuple(items) => Obj::tuple(self.items(f, items)?),
            Expr::Set(items) => {
                let items = self.items(f, items)?;
                self.make_set(items)?
            }
            Expr::Dict(pairs) => {
                let mut d = Dict::default();
                for (k, v) in pairs {
                    let k = self.eval(f, k)?;
                    let v = self.eval(f, v)?;
                    let key = self.hash_key(&k)?;
                    d.insert(key, k, v);
                }
                Obj::dict(d)
            }
            Expr::Attr(base, name) => {
                let b = self.eval(f, base)?;
                self.getattr(&b, name)?
            }
            Expr::Index(base, idx) => {
                let b = self.eval(f, base)?;
                let i = self.eval_index(f, idx)?;
                self.subscript(&b, &i)?
            }
            Expr::Slice(..) => return Err(self.exc("TypeError", "slice outside []")),
            Expr::Call(callee, args, kw) => {
                let func = self.eval(f, callee)?;
                let mut a = Vec::with_capacity(args.len());
                for arg in args {
                    match arg {
                        Expr::Star(inner) => {
                            let v = self.eval(f, inner)?;
                            a.extend(self.iterate(&v)?);
                        }
                        other => a.push(self.eval(f, other)?),
                    }
                }
                let mut k = Vec::with_capacity(kw.len());
                for (name, v) in kw {
                    k.push((name.clone(), self.eval(f, v)?));
                }
                self.call(func, a, k)?
            }
            Expr::Star(_) => return Err(self.exc("SyntaxError", "starred expression here")),
            Expr::Bin(op, a, b) => {
                let a = self.eval(f, a)?;
                let b = self.eval(f, b)?;
                self.binop(*op, &a, &b)?
            }
            Expr::Unary(op, a) => {
                let a = self.eval(f, a)?;
                self.unary(*op, &a)?
            }
            Expr::And(a, b) => {
                let a = self.eval(f, a)?;
                if !a.truthy() {
                    a
                } else {
                    self.eval(f, b)?
                }
            }
            Expr::Or(a, b) => {
                let a = self.eval(f, a)?;
                if a.truthy() {
                    a
                } else {
                    self.eval(f, b)?
                }
            }
            Expr::Compare(first, rest) => {
                let mut left = self.eval(f, first)?;
                for (op, right) in rest {
                    let right = self.eval(f, right)?;
                    if !self.compare(*op, &left, &right)? {
                        return Ok(Obj::Bool(false));
                    }
                    left = right;
                }
                Obj::Bool(true)
            }
            Expr::IfElse(cond, a, b) => {
                if self.eval(f, cond)?.truthy() {
                    self.eval(f, a)?
                } else {
                    self.eval(f, b)?
                }
            }
            Expr::Lambda(def) => self.closure(f, def)?,
            Expr::ListComp(e, comps) | Expr::GenExp(e, comps) => {
                let mut out = Vec::new();
                self.comprehend(f, comps, &mut |it, f| {
                    out.push(it.eval(f, e)?);
                    Ok(())
                })?;
                Obj::list(out)
            }
            Expr::SetComp(e, comps) => {
                let mut out = Vec::new();
                self.comprehend(f, comps, &mut |it, f| {
                    out.push(it.eval(f, e)?);
                    Ok(())
                })?;
                self.make_set(out)?
            }
            Expr::DictComp(k, v, comps) => {
                let mut d = Dict::default();
                self.comprehend(f, comps, &mut |it, f| {
                    let key = it.eval(f, k)?;
                    let val = it.eval(f, v)?;
                    let hk = it.hash_key(&key)?;
                    d.insert(hk, key, val);
                    Ok(())
                })?;
                Obj::dict(d)
            }
        })
    }

    fn items(&mut self, f: &mut Frame, items: &[Expr]) -> R<Vec<Obj>> {
        let mut out = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::Star(inner) => {
                    let v = self.eval(f, inner)?;
                    out.extend(self.iterate(&v)?);
                }
                other => out.push(self.eval(f, other)?),
            }
        }
        Ok(out)
    }

    pub fn make_set(&mut self, items: Vec<Obj>) -> R<Obj> {
        let mut d = Dict::default();
        for it in items {
            let k = self.hash_key(&it)?;
            d.insert(k, it, Obj::None);
        }
        Ok(Obj::Set(Rc::new(std::cell::RefCell::new(d))))
    }

    pub fn hash_key(&self, v: &Obj) -> R<super::value::Key> {
        v.key()
            .ok_or_else(|| self.exc("TypeError", format!("unhashable type: '{}'", v.type_name())))
    }

    /// Runs `body` for every binding of the comprehension's loops (variables in the frame).
    fn comprehend(
        &mut self,
        f: &mut Frame,
        comps: &[Comp],
        body: &mut dyn FnMut(&mut Self, &mut Frame) -> R<()>,
    ) -> R<()> {
        let Some((first, rest)) = comps.split_first() else {
            return body(self, f);
        };
        match first {
            Comp::If(cond) => {
                if self.eval(f, cond)?.truthy() {
                    self.comprehend(f, rest, body)?;
                }
            }
            Comp::For(target, iter) => {
                let it = self.eval(f, iter)?;
                for item in self.iter_of(&it)? {
                    self.tick()?;
                    self.assign(f, target, item)?;
                    self.comprehend(f, rest, body)?;
                }
            }
        }
        Ok(())
    }

    fn fstring(&mut self, f: &mut Frame, parts: &[FPart]) -> R<String> {
        let mut s = String::new();
        for p in parts {
            match p {
                FPart::Lit(l) => s.push_str(l),
                FPart::Field(e, conv, spec) => {
                    let v = self.eval(f, e)?;
                    let spec = self.fstring(f, spec)?;
                    let v = match conv {
                        Some('r') => Obj::Str(super::format::repr(&v).into()),
                        Some('s') => Obj::Str(super::format::to_str(&v, self).into()),
                        _ => v,
                    };
                    s.push_str(&super::format::format_spec(self, &v, &spec)?);
                }
            }
        }
        Ok(s)
    }

    fn eval_index(&mut self, f: &mut Frame, idx: &Expr) -> R<Obj> {
        let Expr::Slice(a, b, c) = idx else {
            return self.eval(f, idx);
        };
        let mut part = |e: &Option<Box<Expr>>| -> R<Obj> {
            match e {
                Some(e) => self.eval(f, e),
                None => Ok(Obj::None),
            }
        };
        let (a, b, c) = (part(a)?, part(b)?, part(c)?);
        // A slice travels as a 3-tuple tagged by a marker string.
        Ok(Obj::tuple(vec![Obj::str("<slice>"), a, b, c]))
    }

    pub fn assign(&mut self, f: &mut Frame, target: &Expr, v: Obj) -> R<()> {
        match target {
            Expr::Name(n) => {
                self.store(f, n, v);
                Ok(())
            }
            Expr::Tuple(items) | Expr::List(items) => {
                let vals = self.iterate(&v)?;
                let star = items.iter().position(|e| matches!(e, Expr::Star(_)));
                let ok = match star {
                    None => vals.len() == items.len(),
                    Some(_) => vals.len() + 1 >= items.len(),
                };
                if !ok {
                    return Err(self.exc(
                        "ValueError",
                        format!("cannot unpack {} values into {}", vals.len(), items.len()),
                    ));
                }
                let mut vals = vals.into_iter();
                for (i, t) in items.iter().enumerate() {
                    if let Expr::Star(inner) = t {
                        let take = vals.len() - (items.len() - i - 1);
                        let rest: Vec<Obj> = vals.by_ref().take(take).collect();
                        self.assign(f, inner, Obj::list(rest))?;
                    } else if let Some(v) = vals.next() {
                        self.assign(f, t, v)?;
                    }
                }
                Ok(())
            }
            Expr::Attr(base, name) => {
                let b = self.eval(f, base)?;
                match b {
                    Obj::Instance(i) => {
                        i.attrs.borrow_mut().insert(name.clone(), v);
                        Ok(())
                    }
                    Obj::Class(c) => {
                        c.attrs.borrow_mut().insert(name.clone(), v);
                        Ok(())
                    }
                    Obj::Host(_) => Err(self.exc("TypeError", "dump objects are read-only")),
                    other => Err(self.exc(
                        "AttributeError",
                        format!(
                            "'{}' object attribute '{name}' is read-only",
                            other.type_name()
                        ),
                    )),
                }
            }
            Expr::Index(base, idx) => {
                let b = self.eval(f, base)?;
                let i = self.eval(f, idx)?;
                self.set_item(&b, i, v)
            }
            _ => Err(self.exc("SyntaxError", "cannot assign to this expression")),
        }
    }

    fn set_item(&mut self, b: &Obj, i: Obj, v: Obj) -> R<()> {
        match b {
            Obj::List(l) => {
                let len = l.borrow().len();
                let idx = self.norm_index(&i, len)?;
                l.borrow_mut()[idx] = v;
                Ok(())
            }
            Obj::Dict(d) => {
                let k = self.hash_key(&i)?;
                d.borrow_mut().insert(k, i, v);
                Ok(())
            }
            other => Err(self.exc(
                "TypeError",
                format!(
                    "'{}' object does not support item assignment",
                    other.type_name()
                ),
            )),
        }
    }

    pub fn delete(&mut self, f: &mut Frame, t: &Expr) -> R<()> {
        match t {
            Expr::Name(n) => {
                f.locals.borrow_mut().remove(n);
                Ok(())
            }
            Expr::Index(base, idx) => {
                let b = self.eval(f, base)?;
                let i = self.eval(f, idx)?;
                match &b {
                    Obj::List(l) => {
                        let len = l.borrow().len();
                        let idx = self.norm_index(&i, len)?;
                        l.borrow_mut().remove(idx);
                        Ok(())
                    }
                    Obj::Dict(d) => {
                        let k = self.hash_key(&i)?;
                        match d.borrow_mut().remove(&k) {
                            Some(_) => Ok(()),
                            None => Err(self.exc("KeyError", super::format::repr(&i))),
                        }
                    }
                    _ => Err(self.exc("TypeError", "object does not support item deletion")),
                }
            }
            _ => Err(self.exc("SyntaxError", "cannot delete this expression")),
        }
    }

    pub fn norm_index(&self, i: &Obj, len: usize) -> R<usize> {
        let Some(i) = i.as_int() else {
            return Err(self.exc("TypeError", "indices must be integers"));
        };
        let idx = if i < 0 { i + len as i128 } else { i };
        if idx < 0 || idx >= len as i128 {
            return Err(self.exc("IndexError", "index out of range"));
        }
        Ok(idx as usize)
    }

    pub fn getattr(&mut self, b: &Obj, name: &Rc<str>) -> R<Obj> {
        match b {
            Obj::Host(h) => {
                let h = *h;
                match self.host.take() {
                    Some(host) => {
                        let r = host.getattr(self, h, name);
                        self.host = Some(host);
                        r
                    }
                    None => Err(self.exc("RuntimeError", "no dump is open")),
                }
            }
            Obj::Instance(i) => {
                if let Some(v) = i.attrs.borrow().get(name) {
                    return Ok(v.clone());
                }
                match i.class.lookup(name) {
                    Some(Obj::Func(_)) => Ok(Obj::Method(Rc::new((b.clone(), name.clone())))),
                    Some(v) => Ok(v),
                    None => Err(self.exc(
                        "AttributeError",
                        format!("'{}' object has no attribute '{name}'", i.class.name),
                    )),
                }
            }
            Obj::Class(c) => match &**name {
                "__name__" => Ok(Obj::Str(c.name.clone())),
                _ => c.lookup(name).ok_or_else(|| {
                    self.exc(
                        "AttributeError",
                        format!("type object '{}' has no attribute '{name}'", c.name),
                    )
                }),
            },
            Obj::Builtin(module) if &**module == "sys" && &**name == "argv" => {
                self.lookup_global("argv")
            }
            _ => Ok(Obj::Method(Rc::new((b.clone(), name.clone())))),
        }
    }

    fn lookup_global(&self, name: &str) -> R<Obj> {
        self.globals
            .borrow()
            .get(name)
            .cloned()
            .ok_or_else(|| self.exc("NameError", format!("name '{name}' is not defined")))
    }
}
