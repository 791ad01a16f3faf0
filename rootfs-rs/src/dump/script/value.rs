//! Values of the Python subset: integers are i128 (enough for every kernel address and
//! 64-bit counter), containers are shared and mutable like Python's, dump objects are
//! handles into the host's table.

use super::ast::FuncDef;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

#[derive(Clone)]
pub enum Obj {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    List(Rc<RefCell<Vec<Obj>>>),
    Tuple(Rc<[Obj]>),
    Dict(Rc<RefCell<Dict>>),
    Set(Rc<RefCell<Dict>>),
    Range(i128, i128, i128),
    Func(Rc<Closure>),
    /// A built-in function or a host API function, by name.
    Builtin(Rc<str>),
    /// A method of a built-in value (`"a,b".split`), bound to its receiver.
    Method(Rc<(Obj, Rc<str>)>),
    Class(Rc<Class>),
    Instance(Rc<Instance>),
    /// An object in the dump: index into the host's table.
    Host(u32),
}

impl std::fmt::Debug for Obj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::format::repr(self))
    }
}

/// A user function with the scope it was defined in (closures).
pub struct Closure {
    pub def: Rc<FuncDef>,
    pub defaults: Vec<Obj>,
    /// Scopes of the enclosing functions, innermost first.
    pub enclosing: Vec<Rc<RefCell<Scope>>>,
}

pub type Scope = HashMap<Rc<str>, Obj, BuildHasherDefault<FxHasher>>;

/// The multiply-rotate hash of rustc (FxHash): variable lookups hash short names on every
/// access, where SipHash's DoS resistance buys nothing and costs a third of a loop's time.
#[derive(Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub struct Class {
    pub name: Rc<str>,
    pub base: Option<Rc<Class>>,
    pub attrs: RefCell<Scope>,
}

impl Class {
    pub fn is_subclass_of(&self, other: &Class) -> bool {
        let mut c = Some(self);
        while let Some(k) = c {
            if std::ptr::eq(k, other) {
                return true;
            }
            c = k.base.as_deref();
        }
        false
    }

    pub fn lookup(&self, name: &str) -> Option<Obj> {
        let mut c = Some(self);
        while let Some(k) = c {
            if let Some(v) = k.attrs.borrow().get(name) {
                return Some(v.clone());
            }
            c = k.base.as_deref();
        }
        None
    }
}

pub struct Instance {
    pub class: Rc<Class>,
    pub attrs: RefCell<Scope>,
}

/// Hashable form of a value (dict keys, set members).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Key {
    None,
    Int(i128),
    Float(u64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Vec<Key>),
    Host(u32),
    Id(usize),
}

/// An insertion-ordered dict.
#[derive(Default)]
pub struct Dict {
    pub entries: Vec<(Obj, Obj)>,
    index: HashMap<Key, usize, BuildHasherDefault<FxHasher>>,
}

impl Dict {
    pub fn get(&self, k: &Key) -> Option<&Obj> {
        self.index.get(k).map(|&i| &self.entries[i].1)
    }

    pub fn insert(&mut self, key: Key, k: Obj, v: Obj) {
        match self.index.get(&key) {
            Some(&i) => self.entries[i].1 = v,
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push((k, v));
            }
        }
    }

    pub fn remove(&mut self, k: &Key) -> Option<Obj> {
        let i = self.index.remove(k)?;
        let (_, v) = self.entries.remove(i);
        for slot in self.index.values_mut() {
            if *slot > i {
                *slot -= 1;
            }
        }
        Some(v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Obj {
    pub fn str(s: &str) -> Obj {
        Obj::Str(s.into())
    }

    pub fn list(v: Vec<Obj>) -> Obj {
        Obj::List(Rc::new(RefCell::new(v)))
    }

    pub fn tuple(v: Vec<Obj>) -> Obj {
        Obj::Tuple(v.into())
    }

    pub fn dict(d: Dict) -> Obj {
        Obj::Dict(Rc::new(RefCell::new(d)))
    }

    pub fn type_name(&self) -> String {
        match self {
            Obj::None => "NoneType".into(),
            Obj::Bool(_) => "bool".into(),
            Obj::Int(_) => "int".into(),
            Obj::Float(_) => "float".into(),
            Obj::Str(_) => "str".into(),
            Obj::Bytes(_) => "bytes".into(),
            Obj::List(_) => "list".into(),
            Obj::Tuple(_) => "tuple".into(),
            Obj::Dict(_) => "dict".into(),
            Obj::Set(_) => "set".into(),
            Obj::Range(..) => "range".into(),
            Obj::Func(_) => "function".into(),
            Obj::Builtin(_) | Obj::Method(_) => "builtin_function_or_method".into(),
            Obj::Class(_) => "type".into(),
            Obj::Instance(i) => i.class.name.to_string(),
            Obj::Host(_) => "dump object".into(),
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            Obj::None => false,
            Obj::Bool(b) => *b,
            Obj::Int(i) => *i != 0,
            Obj::Float(f) => *f != 0.0,
            Obj::Str(s) => !s.is_empty(),
            Obj::Bytes(b) => !b.is_empty(),
            Obj::List(l) => !l.borrow().is_empty(),
            Obj::Tuple(t) => !t.is_empty(),
            Obj::Dict(d) | Obj::Set(d) => !d.borrow().is_empty(),
            Obj::Range(a, b, s) => range_len(*a, *b, *s) > 0,
            _ => true,
        }
    }

    /// The hashable key, None for unhashable values (lists, dicts).
    pub fn key(&self) -> Option<Key> {
        Some(match self {
            Obj::None => Key::None,
            Obj::Bool(b) => Key::Int(i128::from(*b)),
            Obj::Int(i) => Key::Int(*i),
            Obj::Float(f) if f.fract() == 0.0 && f.abs() < 1e30 => Key::Int(*f as i128),
            Obj::Float(f) => Key::Float(f.to_bits()),
            Obj::Str(s) => Key::Str(s.clone()),
            Obj::Bytes(b) => Key::Bytes(b.clone()),
            Obj::Tuple(t) => Key::Tuple(t.iter().map(Obj::key).collect::<Option<_>>()?),
            Obj::Host(h) => Key::Host(*h),
            Obj::Class(c) => Key::Id(Rc::as_ptr(c) as *const u8 as usize),
            Obj::Instance(i) => Key::Id(Rc::as_ptr(i) as *const u8 as usize),
            Obj::Func(f) => Key::Id(Rc::as_ptr(f) as *const u8 as usize),
            Obj::Builtin(b) => Key::Str(format!("<builtin {b}>").into()),
            _ => return None,
        })
    }

    pub fn as_int(&self) -> Option<i128> {
        match self {
            Obj::Int(i) => Some(*i),
            Obj::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }
}

pub fn range_len(start: i128, stop: i128, step: i128) -> i128 {
    if step > 0 && stop > start {
        (stop - start + step - 1) / step
    } else if step < 0 && stop < start {
        (start - stop - step - 1) / -step
    } else {
        0
    }
}

/// Python `==`.
pub fn equal(a: &Obj, b: &Obj) -> bool {
    match (a, b) {
        (Obj::None, Obj::None) => true,
        (Obj::Float(x), _) => b.as_int().map(|i| i as f64).or(float_of(b)) == Some(*x),
        (_, Obj::Float(y)) => a.as_int().map(|i| i as f64) == Some(*y),
        (Obj::Int(_) | Obj::Bool(_), Obj::Int(_) | Obj::Bool(_)) => a.as_int() == b.as_int(),
        (Obj::Str(x), Obj::Str(y)) => x == y,
        (Obj::Bytes(x), Obj::Bytes(y)) => x == y,
        (Obj::List(x), Obj::List(y)) => Rc::ptr_eq(x, y) || seq_equal(&x.borrow(), &y.borrow()),
        (Obj::Tuple(x), Obj::Tuple(y)) => seq_equal(x, y),
        (Obj::Dict(x), Obj::Dict(y)) | (Obj::Set(x), Obj::Set(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.entries.iter().all(|(k, v)| {
                    k.key()
                        .and_then(|key| y.get(&key))
                        .is_some_and(|w| equal(v, w))
                })
        }
        (Obj::Range(a1, b1, s1), Obj::Range(a2, b2, s2)) => (a1, b1, s1) == (a2, b2, s2),
        (Obj::Host(x), Obj::Host(y)) => x == y,
        _ => match (a.key(), b.key()) {
            (Some(Key::Id(x)), Some(Key::Id(y))) => x == y,
            (Some(Key::Str(x)), Some(Key::Str(y))) if matches!(a, Obj::Builtin(_)) => x == y,
            _ => false,
        },
    }
}

fn float_of(o: &Obj) -> Option<f64> {
    match o {
        Obj::Float(f) => Some(*f),
        _ => None,
    }
}

fn seq_equal(x: &[Obj], y: &[Obj]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
}
