//! Operators: arithmetic on i128 and f64, sequence concatenation and repetition,
//! comparisons, membership and subscripts.

use super::ast::{BinOp, CmpOp, UnaryOp};
use super::interp::{Interp, R};
use super::value::{equal, range_len, Obj};
use std::cmp::Ordering;

impl Interp<'_> {
    fn overflow(&self) -> super::error::ScriptError {
        self.exc("OverflowError", "integer result does not fit in 128 bits")
    }

    pub fn binop(&mut self, op: BinOp, a: &Obj, b: &Obj) -> R<Obj> {
        if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
            return self.int_op(op, x, y);
        }
        if let (Some(x), Some(y)) = (num(a), num(b)) {
            return self.float_op(op, x, y);
        }
        match (op, a, b) {
            (BinOp::Add, Obj::Str(x), Obj::Str(y)) => {
                self.check_memory(x.len() + y.len())?;
                Ok(Obj::Str(format!("{x}{y}").into()))
            }
            (BinOp::Add, Obj::Bytes(x), Obj::Bytes(y)) => {
                Ok(Obj::Bytes([&x[..], &y[..]].concat().into()))
            }
            (BinOp::Add, Obj::List(x), Obj::List(y)) => {
                let mut v = x.borrow().clone();
                v.extend(y.borrow().iter().cloned());
                Ok(Obj::list(v))
            }
            (BinOp::Add, Obj::Tuple(x), Obj::Tuple(y)) => {
                Ok(Obj::tuple(x.iter().chain(y.iter()).cloned().collect()))
            }
            (BinOp::Mul, seq, n) | (BinOp::Mul, n, seq)
                if n.as_int().is_some()
                    && matches!(
                        seq,
                        Obj::Str(_) | Obj::List(_) | Obj::Tuple(_) | Obj::Bytes(_)
                    ) =>
            {
                self.repeat(seq, n.as_int().unwrap_or(0))
            }
            (BinOp::Mod, Obj::Str(fmt), args) => {
                Ok(Obj::Str(super::format::percent(self, fmt, args)?.into()))
            }
            (BinOp::BitOr, Obj::Set(x), Obj::Set(y)) => {
                let mut items: Vec<Obj> = x.borrow().entries.iter().map(|e| e.0.clone()).collect();
                items.extend(y.borrow().entries.iter().map(|e| e.0.clone()));
                self.make_set(items)
            }
            (BinOp::Sub | BinOp::BitAnd, Obj::Set(x), Obj::Set(y)) => {
                // Difference keeps what y lacks, intersection what y has.
                let keep_present = op == BinOp::BitAnd;
                let y = y.borrow();
                let items = x
                    .borrow()
                    .entries
                    .iter()
                    .filter(|e| {
                        e.0.key()
                            .is_some_and(|k| y.get(&k).is_some() == keep_present)
                    })
                    .map(|e| e.0.clone())
                    .collect();
                self.make_set(items)
            }
            _ => Err(self.exc(
                "TypeError",
                format!(
                    "unsupported operand types for {op:?}: '{}' and '{}'",
                    a.type_name(),
                    b.type_name()
                ),
            )),
        }
    }

    fn repeat(&mut self, seq: &Obj, n: i128) -> R<Obj> {
        let n = n.max(0) as usize;
        let unit = match seq {
            Obj::Str(s) => s.len(),
            Obj::Bytes(b) => b.len(),
            Obj::List(l) => l.borrow().len() * std::mem::size_of::<Obj>(),
            Obj::Tuple(t) => t.len() * std::mem::size_of::<Obj>(),
            _ => 0,
        };
        // Checked before allocating: `[0] * 10**10` stops here, not in the allocator.
        self.check_memory(unit.saturating_mul(n))?;
        Ok(match seq {
            Obj::Str(s) => Obj::Str(s.repeat(n).into()),
            Obj::Bytes(b) => Obj::Bytes(b.repeat(n).into()),
            Obj::List(l) => {
                let items = l.borrow();
                Obj::list((0..n).flat_map(|_| items.iter().cloned()).collect())
            }
            Obj::Tuple(t) => Obj::tuple((0..n).flat_map(|_| t.iter().cloned()).collect()),
            _ => Obj::None,
        })
    }

    fn int_op(&mut self, op: BinOp, x: i128, y: i128) -> R<Obj> {
        let zero = || self.exc("ZeroDivisionError", "division by zero");
        let v = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::Div => {
                if y == 0 {
                    return Err(zero());
                }
                return Ok(Obj::Float(x as f64 / y as f64));
            }
            BinOp::FloorDiv => {
                if y == 0 {
                    return Err(zero());
                }
                Some(x.div_euclid(y) - i128::from(y < 0 && x.rem_euclid(y) != 0))
            }
            BinOp::Mod => {
                if y == 0 {
                    return Err(zero());
                }
                let r = x.rem_euclid(y);
                Some(if y < 0 && r != 0 { r + y } else { r })
            }
            BinOp::Pow => {
                if y < 0 {
                    return Ok(Obj::Float((x as f64).powf(y as f64)));
                }
                u32::try_from(y).ok().and_then(|e| x.checked_pow(e))
            }
            BinOp::LShift => u32::try_from(y)
                .ok()
                .filter(|&s| s < 128)
                .and_then(|s| x.checked_shl(s))
                .filter(|v| v >> y == x),
            BinOp::RShift => Some(if y >= 128 {
                if x < 0 {
                    -1
                } else {
                    0
                }
            } else {
                x >> y.max(0)
            }),
            BinOp::BitAnd => Some(x & y),
            BinOp::BitOr => Some(x | y),
            BinOp::BitXor => Some(x ^ y),
        };
        v.map(Obj::Int).ok_or_else(|| self.overflow())
    }

    fn float_op(&mut self, op: BinOp, x: f64, y: f64) -> R<Obj> {
        Ok(Obj::Float(match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div | BinOp::FloorDiv | BinOp::Mod if y == 0.0 => {
                return Err(self.exc("ZeroDivisionError", "float division by zero"))
            }
            BinOp::Div => x / y,
            BinOp::FloorDiv => (x / y).floor(),
            BinOp::Mod => x - y * (x / y).floor(),
            BinOp::Pow => x.powf(y),
            _ => return Err(self.exc("TypeError", "bit operations need integers")),
        }))
    }

    pub fn unary(&mut self, op: UnaryOp, a: &Obj) -> R<Obj> {
        match (op, a) {
            (UnaryOp::Not, _) => Ok(Obj::Bool(!a.truthy())),
            (UnaryOp::Neg, Obj::Float(f)) => Ok(Obj::Float(-f)),
            (UnaryOp::Pos, Obj::Float(f)) => Ok(Obj::Float(*f)),
            (UnaryOp::Neg, _) if a.as_int().is_some() => Ok(Obj::Int(
                a.as_int()
                    .unwrap_or(0)
                    .checked_neg()
                    .ok_or_else(|| self.overflow())?,
            )),
            (UnaryOp::Pos, _) if a.as_int().is_some() => Ok(Obj::Int(a.as_int().unwrap_or(0))),
            (UnaryOp::Invert, _) if a.as_int().is_some() => Ok(Obj::Int(!a.as_int().unwrap_or(0))),
            _ => Err(self.exc(
                "TypeError",
                format!("bad operand type for unary {op:?}: '{}'", a.type_name()),
            )),
        }
    }

    pub fn compare(&mut self, op: CmpOp, a: &Obj, b: &Obj) -> R<bool> {
        Ok(match op {
            CmpOp::Eq => equal(a, b),
            CmpOp::Ne => !equal(a, b),
            CmpOp::Is => same(a, b),
            CmpOp::IsNot => !same(a, b),
            CmpOp::In => self.contains(b, a)?,
            CmpOp::NotIn => !self.contains(b, a)?,
            CmpOp::Lt => self.order(a, b)? == Ordering::Less,
            CmpOp::Le => self.order(a, b)? != Ordering::Greater,
            CmpOp::Gt => self.order(a, b)? == Ordering::Greater,
            CmpOp::Ge => self.order(a, b)? != Ordering::Less,
        })
    }

    /// Python ordering of two values (numbers, strings, sequences).
    pub fn order(&self, a: &Obj, b: &Obj) -> R<Ordering> {
        if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
            return Ok(x.cmp(&y));
        }
        if let (Some(x), Some(y)) = (num(a), num(b)) {
            return Ok(x.partial_cmp(&y).unwrap_or(Ordering::Equal));
        }
        let seq = |x: &[Obj], y: &[Obj]| -> R<Ordering> {
            for (p, q) in x.iter().zip(y) {
                let o = self.order(p, q)?;
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            Ok(x.len().cmp(&y.len()))
        };
        match (a, b) {
            (Obj::Str(x), Obj::Str(y)) => Ok(x.cmp(y)),
            (Obj::Bytes(x), Obj::Bytes(y)) => Ok(x.cmp(y)),
            (Obj::Tuple(x), Obj::Tuple(y)) => seq(x, y),
            (Obj::List(x), Obj::List(y)) => seq(&x.borrow(), &y.borrow()),
            (Obj::None, Obj::None) => Ok(Ordering::Equal),
            _ => Err(self.exc(
                "TypeError",
                format!(
                    "'<' not supported between '{}' and '{}'",
                    a.type_name(),
                    b.type_name()
                ),
            )),
        }
    }

    pub fn contains(&mut self, container: &Obj, item: &Obj) -> R<bool> {
        Ok(match container {
            Obj::Str(s) => match item {
                Obj::Str(sub) => s.contains(&**sub),
                _ => return Err(self.exc("TypeError", "'in <string>' needs a string")),
            },
            Obj::Bytes(b) => match item.as_int() {
                Some(i) => b.iter().any(|&c| i128::from(c) == i),
                None => false,
            },
            Obj::Dict(d) | Obj::Set(d) => match item.key() {
                Some(k) => d.borrow().get(&k).is_some(),
                None => false,
            },
            Obj::List(l) => l.borrow().iter().any(|x| equal(x, item)),
            Obj::Tuple(t) => t.iter().any(|x| equal(x, item)),
            Obj::Range(a, b, s) => match item.as_int() {
                Some(i) => {
                    range_len(*a, *b, *s) > 0
                        && ((*s > 0 && i >= *a && i < *b) || (*s < 0 && i <= *a && i > *b))
                        && (i - a) % s == 0
                }
                None => false,
            },
            other => {
                return Err(self.exc(
                    "TypeError",
                    format!("argument of type '{}' is not iterable", other.type_name()),
                ))
            }
        })
    }

    pub fn subscript(&mut self, b: &Obj, i: &Obj) -> R<Obj> {
        if let Obj::Tuple(t) = i {
            if t.len() == 4 && matches!(&t[0], Obj::Str(s) if &**s == "<slice>") {
                return self.slice(b, &t[1], &t[2], &t[3]);
            }
        }
        match b {
            Obj::List(l) => {
                let l = l.borrow();
                let idx = self.norm_index(i, l.len())?;
                Ok(l[idx].clone())
            }
            Obj::Tuple(t) => Ok(t[self.norm_index(i, t.len())?].clone()),
            Obj::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                let idx = self.norm_index(i, chars.len())?;
                Ok(Obj::Str(chars[idx].to_string().into()))
            }
            Obj::Bytes(by) => Ok(Obj::Int(i128::from(by[self.norm_index(i, by.len())?]))),
            Obj::Range(a, _, s) => {
                let len = range_len(*a, b_stop(b), *s).max(0) as usize;
                let idx = self.norm_index(i, len)?;
                Ok(Obj::Int(a + s * idx as i128))
            }
            Obj::Dict(d) => {
                let k = self.hash_key(i)?;
                let v = d.borrow().get(&k).cloned();
                v.ok_or_else(|| self.exc("KeyError", super::format::repr(i)))
            }
            other => Err(self.exc(
                "TypeError",
                format!("'{}' object is not subscriptable", other.type_name()),
            )),
        }
    }

    fn slice(&mut self, b: &Obj, start: &Obj, stop: &Obj, step: &Obj) -> R<Obj> {
        let items: Vec<Obj> = match b {
            Obj::Str(s) => s.chars().map(|c| Obj::Str(c.to_string().into())).collect(),
            _ => self.iterate(b)?,
        };
        let len = items.len() as i128;
        let step = step.as_int().unwrap_or(1);
        if step == 0 {
            return Err(self.exc("ValueError", "slice step cannot be zero"));
        }
        let clamp = |v: &Obj, default: i128| -> i128 {
            match v.as_int() {
                None => default,
                Some(i) if i < 0 => (i + len).max(if step < 0 { -1 } else { 0 }),
                Some(i) => i.min(if step < 0 { len - 1 } else { len }),
            }
        };
        let (lo, hi) = if step > 0 {
            (clamp(start, 0), clamp(stop, len))
        } else {
            (clamp(start, len - 1), clamp(stop, -1))
        };
        let mut picked = Vec::new();
        let mut i = lo;
        while (step > 0 && i < hi) || (step < 0 && i > hi) {
            picked.push(items[i as usize].clone());
            i += step;
        }
        Ok(match b {
            Obj::Str(_) => Obj::Str(
                picked
                    .iter()
                    .map(|c| match c {
                        Obj::Str(s) => s.to_string(),
                        _ => String::new(),
                    })
                    .collect::<String>()
                    .into(),
            ),
            Obj::Bytes(_) => Obj::Bytes(
                picked
                    .iter()
                    .map(|c| c.as_int().unwrap_or(0) as u8)
                    .collect::<Vec<u8>>()
                    .into(),
            ),
            Obj::Tuple(_) => Obj::tuple(picked),
            _ => Obj::list(picked),
        })
    }
}

fn b_stop(b: &Obj) -> i128 {
    match b {
        Obj::Range(_, stop, _) => *stop,
        _ => 0,
    }
}

fn num(o: &Obj) -> Option<f64> {
    match o {
        Obj::Float(f) => Some(*f),
        _ => o.as_int().map(|i| i as f64),
    }
}

/// Python `is`: identity for containers, equality for small immutable values.
fn same(a: &Obj, b: &Obj) -> bool {
    match (a, b) {
        (Obj::None, Obj::None) => true,
        (Obj::Bool(x), Obj::Bool(y)) => x == y,
        (Obj::List(x), Obj::List(y)) => std::rc::Rc::ptr_eq(x, y),
        (Obj::Dict(x), Obj::Dict(y)) => std::rc::Rc::ptr_eq(x, y),
        (Obj::None, _) | (_, Obj::None) => false,
        _ => equal(a, b),
    }
}
