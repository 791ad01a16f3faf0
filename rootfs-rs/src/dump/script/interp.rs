//! The tree-walking evaluator: statements, scopes, calls, classes, exceptions and the
//! time and memory limits (checked every few thousand steps and before big allocations).

use super::ast::*;
use super::error::ScriptError;
use super::value::{Class, Closure, Instance, Obj, Scope};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

pub type R<T> = Result<T, ScriptError>;

/// What the dump side provides: API functions by name and the objects in the dump.
pub trait Host {
    /// Whether `name` is a host function (consulted after the script's own names).
    fn has_function(&self, name: &str) -> bool;
    fn call(
        &mut self,
        it: &mut Interp,
        name: &str,
        args: Vec<Obj>,
        kw: Vec<(Rc<str>, Obj)>,
    ) -> R<Obj>;
    fn getattr(&mut self, it: &mut Interp, handle: u32, name: &str) -> R<Obj>;
    fn method(&mut self, it: &mut Interp, handle: u32, name: &str, args: Vec<Obj>) -> R<Obj>;
    fn repr(&self, handle: u32) -> String;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub time: Duration,
    pub memory: usize,
}

pub enum Flow {
    Normal,
    Break,
    Continue,
    Return(Obj),
}

/// A function activation: its locals and the scopes it closes over (innermost first).
pub struct Frame {
    pub locals: Rc<RefCell<Scope>>,
    pub enclosing: Vec<Rc<RefCell<Scope>>>,
    pub globals_decl: HashSet<Rc<str>>,
    pub module: bool,
}

const CHECK_EVERY: u32 = 2048;
const MAX_DEPTH: usize = 200;

pub struct Interp<'h> {
    pub globals: Rc<RefCell<Scope>>,
    pub host: Option<&'h mut dyn Host>,
    pub classes: HashMap<&'static str, Rc<Class>>,
    pub out: &'h mut dyn std::io::Write,
    deadline: Instant,
    limits: Limits,
    memory_base: isize,
    steps: u32,
    depth: usize,
    pub line: u32,
}

/// Built-in exception classes and their parents, parents first.
const EXCEPTIONS: &[(&str, &str)] = &[
    ("BaseException", ""),
    ("Exception", "BaseException"),
    ("SystemExit", "BaseException"),
    ("ArithmeticError", "Exception"),
    ("ZeroDivisionError", "ArithmeticError"),
    ("OverflowError", "ArithmeticError"),
    ("LookupError", "Exception"),
    ("IndexError", "LookupError"),
    ("KeyError", "LookupError"),
    ("ValueError", "Exception"),
    ("TypeError", "Exception"),
    ("AttributeError", "Exception"),
    ("NameError", "Exception"),
    ("RuntimeError", "Exception"),
    ("NotImplementedError", "RuntimeError"),
    ("RecursionError", "RuntimeError"),
    ("AssertionError", "Exception"),
    ("StopIteration", "Exception"),
    ("OSError", "Exception"),
    ("PermissionError", "OSError"),
    ("DumpError", "Exception"),
    ("PageMissing", "DumpError"),
];

impl<'h> Interp<'h> {
    pub fn new(
        host: Option<&'h mut dyn Host>,
        out: &'h mut dyn std::io::Write,
        limits: Limits,
    ) -> Interp<'h> {
        let mut classes: HashMap<&'static str, Rc<Class>> = HashMap::new();
        for (name, parent) in EXCEPTIONS {
            let base = classes.get(parent).cloned();
            let class = Rc::new(Class {
                name: (*name).into(),
                base,
                attrs: RefCell::default(),
            });
            classes.insert(name, class);
        }
        Interp {
            globals: Rc::default(),
            host,
            classes,
            out,
            deadline: Instant::now() + limits.time,
            limits,
            memory_base: crate::sys::allocated_bytes(),
            steps: 0,
            depth: 0,
            line: 0,
        }
    }

    /// Runs a whole module; the limits' clock starts here.
    pub fn run(&mut self, body: &[Stmt]) -> R<()> {
        self.deadline = Instant::now() + self.limits.time;
        self.memory_base = crate::sys::allocated_bytes();
        let mut frame = Frame {
            locals: self.globals.clone(),
            enclosing: Vec::new(),
            globals_decl: HashSet::new(),
            module: true,
        };
        match self.block(&mut frame, body)? {
            Flow::Normal | Flow::Return(_) => Ok(()),
            Flow::Break | Flow::Continue => Ok(()),
        }
    }

    /// A new exception instance of built-in class `class` with message `msg`.
    pub fn exc(&self, class: &str, msg: impl Into<String>) -> ScriptError {
        let class = self
            .classes
            .get(class)
            .or_else(|| self.classes.get("Exception"))
            .cloned();
        let Some(class) = class else {
            return ScriptError::Limit("exception classes missing".into());
        };
        let inst = Instance {
            class,
            attrs: RefCell::default(),
        };
        inst.attrs
            .borrow_mut()
            .insert("args".into(), Obj::tuple(vec![Obj::str(&msg.into())]));
        ScriptError::Raised {
            exc: Obj::Instance(Rc::new(inst)),
            lines: Vec::new(),
        }
    }

    /// Stops the script past its time or memory budget.
    pub fn tick(&mut self) -> R<()> {
        self.steps = self.steps.wrapping_add(1);
        if self.steps % CHECK_EVERY == 0 {
            if Instant::now() > self.deadline {
                return Err(ScriptError::Limit(format!(
                    "time limit of {:.1} s exceeded at line {} (--script-time)",
                    self.limits.time.as_secs_f64(),
                    self.line
                )));
            }
            self.check_memory(0)?;
        }
        Ok(())
    }

    /// Fails if `extra` more bytes would pass the memory budget.
    pub fn check_memory(&self, extra: usize) -> R<()> {
        let used = crate::sys::allocated_bytes()
            .wrapping_sub(self.memory_base)
            .max(0) as usize;
        if used.saturating_add(extra) > self.limits.memory {
            return Err(ScriptError::Limit(format!(
                "memory limit of {} MiB exceeded at line {} ({} MiB in use{}) (--script-memory)",
                self.limits.memory >> 20,
                self.line,
                used >> 20,
                if extra > 0 {
                    format!(", {} MiB more asked for", extra >> 20)
                } else {
                    String::new()
                }
            )));
        }
        Ok(())
    }

    pub fn block(&mut self, f: &mut Frame, body: &[Stmt]) -> R<Flow> {
        for s in body {
            self.line = s.line;
            self.tick()?;
            let flow = self.stmt(f, s).map_err(|e| e.at_line(s.line))?;
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn stmt(&mut self, f: &mut Frame, s: &Stmt) -> R<Flow> {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.eval(f, e)?;
            }
            StmtKind::Assign(targets, value) => {
                let v = self.eval(f, value)?;
                for t in targets {
                    self.assign(f, t, v.clone())?;
                }
            }
            StmtKind::AugAssign(target, op, value) => {
                let cur = self.eval(f, target)?;
                let v = self.eval(f, value)?;
                let r = match (&cur, op) {
                    (Obj::List(l), BinOp::Add) => {
                        let items = self.iterate(&v)?;
                        l.borrow_mut().extend(items);
                        cur.clone()
                    }
                    _ => self.binop(*op, &cur, &v)?,
                };
                self.assign(f, target, r)?;
            }
            StmtKind::If(arms, orelse) => {
                for (cond, body) in arms {
                    if self.eval(f, cond)?.truthy() {
                        return self.block(f, body);
                    }
                }
                return self.block(f, orelse);
            }
            StmtKind::While(cond, body, orelse) => {
                while self.eval(f, cond)?.truthy() {
                    if let Some(done) = self.loop_body(f, body)? {
                        return Ok(done);
                    }
                }
                return self.block(f, orelse);
            }
            StmtKind::For(target, iter, body, orelse) => {
                let it = self.eval(f, iter)?;
                let mut items = self.iter_of(&it)?;
                while let Some(item) = items.next() {
                    self.assign(f, target, item)?;
                    if let Some(done) = self.loop_body(f, body)? {
                        return Ok(done);
                    }
                }
                return self.block(f, orelse);
            }
            StmtKind::Def(def) => {
                let c = self.closure(f, def)?;
                self.store(f, &def.name, c);
            }
            StmtKind::Class(def) => {
                let class = self.class_def(f, def)?;
                self.store(f, &def.name, class);
            }
            StmtKind::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(f, e)?,
                    None => Obj::None,
                };
                return Ok(Flow::Return(v));
            }
            StmtKind::Try(body, handlers, orelse, finally) => {
                return self.try_stmt(f, body, handlers, orelse, finally)
            }
            StmtKind::Raise(e) => return Err(self.raise(f, e.as_ref())?),
            StmtKind::Assert(cond, msg) => {
                if !self.eval(f, cond)?.truthy() {
                    let m = match msg {
                        Some(m) => super::format::to_str(&self.eval(f, m)?, self),
                        None => String::new(),
                    };
                    return Err(self.exc("AssertionError", m));
                }
            }
            StmtKind::Del(targets) => {
                for t in targets {
                    self.delete(f, t)?;
                }
            }
            StmtKind::Global(names) => f.globals_decl.extend(names.iter().cloned()),
            StmtKind::Import(names) => {
                for n in names {
                    let v = self.lookup(f, n).unwrap_or(Obj::Builtin(n.clone()));
                    self.store(f, n, v);
                }
            }
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Continue => return Ok(Flow::Continue),
            StmtKind::Pass => {}
        }
        Ok(Flow::Normal)
    }

    /// One pass of a loop body; Some(flow) when the loop must end with it (break, return).
    fn loop_body(&mut self, f: &mut Frame, body: &[Stmt]) -> R<Option<Flow>> {
        match self.block(f, body)? {
            Flow::Break => return Ok(Some(Flow::Normal)),
            Flow::Return(v) => return Ok(Some(Flow::Return(v))),
            Flow::Normal | Flow::Continue => {}
        }
        self.tick()?;
        Ok(None)
    }

    fn try_stmt(
        &mut self,
        f: &mut Frame,
        body: &[Stmt],
        handlers: &[Handler],
        orelse: &[Stmt],
        finally: &[Stmt],
    ) -> R<Flow> {
        let mut result = self.block(f, body);
        if let Err(ScriptError::Raised { exc, .. }) = &result {
            let exc = exc.clone();
            for h in handlers {
                if self.handler_matches(f, h, &exc)? {
                    if let Some(n) = &h.name {
                        self.store(f, n, exc.clone());
                    }
                    result = self.block(f, &h.body);
                    break;
                }
            }
        } else if let Ok(Flow::Normal) = result {
            result = self.block(f, orelse);
        }
        if !finally.is_empty() {
            match self.block(f, finally)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        result
    }

    fn handler_matches(&mut self, f: &mut Frame, h: &Handler, exc: &Obj) -> R<bool> {
        let Some(kinds) = &h.kinds else {
            return Ok(true);
        };
        let Obj::Instance(inst) = exc else {
            return Ok(false);
        };
        let k = self.eval(f, kinds)?;
        let classes = match &k {
            Obj::Tuple(t) => t.to_vec(),
            other => vec![other.clone()],
        };
        Ok(classes
            .iter()
            .any(|c| matches!(c, Obj::Class(c) if inst.class.is_subclass_of(c))))
    }

    fn raise(&mut self, f: &mut Frame, e: Option<&Expr>) -> R<ScriptError> {
        let Some(e) = e else {
            return Ok(self.exc("RuntimeError", "No active exception to reraise"));
        };
        let v = self.eval(f, e)?;
        let v = match v {
            Obj::Class(_) => self.call(v, Vec::new(), Vec::new())?,
            other => other,
        };
        match &v {
            Obj::Instance(i)
                if self
                    .classes
                    .get("BaseException")
                    .is_some_and(|b| i.class.is_subclass_of(b)) =>
            {
                if self
                    .classes
                    .get("SystemExit")
                    .is_some_and(|s| i.class.is_subclass_of(s))
                {
                    let code = i.attrs.borrow().get("args").and_then(|a| match a {
                        Obj::Tuple(t) => t.first().and_then(Obj::as_int),
                        _ => None,
                    });
                    return Ok(ScriptError::Exit(code.unwrap_or(0) as i64));
                }
                Ok(ScriptError::Raised {
                    exc: v,
                    lines: Vec::new(),
                })
            }
            _ => Ok(self.exc("TypeError", "exceptions must derive from BaseException")),
        }
    }

    pub fn closure(&mut self, f: &mut Frame, def: &Rc<FuncDef>) -> R<Obj> {
        let mut defaults = Vec::new();
        for (_, d) in &def.params {
            if let Some(d) = d {
                defaults.push(self.eval(f, d)?);
            }
        }
        let mut scope = Vec::new();
        if !f.module {
            scope.push(f.locals.clone());
            scope.extend(f.enclosing.iter().cloned());
        }
        Ok(Obj::Func(Rc::new(Closure {
            def: def.clone(),
            defaults,
            enclosing: scope,
        })))
    }

    fn class_def(&mut self, f: &mut Frame, def: &ClassDef) -> R<Obj> {
        let base = match &def.base {
            Some(b) => match self.eval(f, b)? {
                Obj::Class(c) => Some(c),
                other => {
                    return Err(self.exc(
                        "TypeError",
                        format!("cannot derive a class from {}", other.type_name()),
                    ))
                }
            },
            None => None,
        };
        let mut cf = Frame {
            locals: Rc::default(),
            enclosing: f.enclosing.clone(),
            globals_decl: HashSet::new(),
            module: false,
        };
        self.block(&mut cf, &def.body)?;
        let attrs = std::mem::take(&mut *cf.locals.borrow_mut());
        Ok(Obj::Class(Rc::new(Class {
            name: def.name.clone(),
            base,
            attrs: RefCell::new(attrs),
        })))
    }

    pub fn store(&mut self, f: &mut Frame, name: &Rc<str>, v: Obj) {
        if !f.module && f.globals_decl.contains(name) {
            self.globals.borrow_mut().insert(name.clone(), v);
        } else {
            f.locals.borrow_mut().insert(name.clone(), v);
        }
    }

    pub fn lookup(&self, f: &Frame, name: &str) -> Option<Obj> {
        if let Some(v) = f.locals.borrow().get(name) {
            return Some(v.clone());
        }
        for s in &f.enclosing {
            if let Some(v) = s.borrow().get(name) {
                return Some(v.clone());
            }
        }
        if !f.module {
            if let Some(v) = self.globals.borrow().get(name) {
                return Some(v.clone());
            }
        }
        if let Some(c) = self.classes.get(name) {
            return Some(Obj::Class(c.clone()));
        }
        if super::builtins::is_builtin(name)
            || self.host.as_ref().is_some_and(|h| h.has_function(name))
        {
            return Some(Obj::Builtin(name.into()));
        }
        None
    }

    /// Calls any callable value.
    pub fn call(&mut self, func: Obj, args: Vec<Obj>, kw: Vec<(Rc<str>, Obj)>) -> R<Obj> {
        match func {
            Obj::Func(c) => self.call_closure(&c, args, kw),
            Obj::Builtin(name) => super::builtins::call(self, &name, args, kw),
            Obj::Method(m) => super::methods::call_method(self, &m.0, &m.1, args, kw),
            Obj::Class(c) => self.instantiate(c, args, kw),
            other => Err(self.exc(
                "TypeError",
                format!("'{}' object is not callable", other.type_name()),
            )),
        }
    }

    fn instantiate(&mut self, class: Rc<Class>, args: Vec<Obj>, kw: Vec<(Rc<str>, Obj)>) -> R<Obj> {
        let inst = Rc::new(Instance {
            class: class.clone(),
            attrs: RefCell::default(),
        });
        let obj = Obj::Instance(inst.clone());
        match class.lookup("__init__") {
            Some(init) => {
                let mut a = vec![obj.clone()];
                a.extend(args);
                self.call(init, a, kw)?;
            }
            None => {
                inst.attrs
                    .borrow_mut()
                    .insert("args".into(), Obj::tuple(args));
            }
        }
        Ok(obj)
    }

    pub fn call_closure(&mut self, c: &Closure, args: Vec<Obj>, kw: Vec<(Rc<str>, Obj)>) -> R<Obj> {
        if self.depth >= MAX_DEPTH {
            return Err(self.exc("RecursionError", "maximum recursion depth exceeded"));
        }
        let def = &c.def;
        let mut locals = Scope::default();
        let nparams = def.params.len();
        let mut args = args.into_iter();
        for (name, _) in &def.params {
            if let Some(a) = args.next() {
                locals.insert(name.clone(), a);
            }
        }
        let rest: Vec<Obj> = args.collect();
        match &def.star {
            Some(s) => {
                locals.insert(s.clone(), Obj::tuple(rest));
            }
            None if !rest.is_empty() => {
                return Err(self.exc(
                    "TypeError",
                    format!(
                        "{}() takes {nparams} positional arguments but {} were given",
                        def.name,
                        nparams + rest.len()
                    ),
                ))
            }
            None => {}
        }
        let mut extra = super::value::Dict::default();
        for (k, v) in kw {
            if def.params.iter().any(|(p, _)| *p == k) {
                locals.insert(k, v);
            } else if def.kwstar.is_some() {
                extra.insert(super::value::Key::Str(k.clone()), Obj::Str(k), v);
            } else {
                return Err(self.exc(
                    "TypeError",
                    format!("{}() got an unexpected keyword argument '{k}'", def.name),
                ));
            }
        }
        if let Some(k) = &def.kwstar {
            locals.insert(k.clone(), Obj::dict(extra));
        }
        let first_default = nparams - c.defaults.len();
        for (i, (name, _)) in def.params.iter().enumerate() {
            if !locals.contains_key(name) {
                match i.checked_sub(first_default).and_then(|d| c.defaults.get(d)) {
                    Some(d) => {
                        locals.insert(name.clone(), d.clone());
                    }
                    None => {
                        return Err(self.exc(
                            "TypeError",
                            format!("{}() missing required argument '{name}'", def.name),
                        ))
                    }
                }
            }
        }
        let mut frame = Frame {
            locals: Rc::new(RefCell::new(locals)),
            enclosing: c.enclosing.clone(),
            globals_decl: HashSet::new(),
            module: false,
        };
        self.depth += 1;
        let saved_line = self.line;
        let r = self.block(&mut frame, &def.body);
        self.depth -= 1;
        self.line = saved_line;
        match r? {
            Flow::Return(v) => Ok(v),
            _ => Ok(Obj::None),
        }
    }
}
