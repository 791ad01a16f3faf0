//! Statements of the Python subset (recursive descent); expressions are in `expr.rs`.

use super::ast::*;
use super::error::{syntax, ScriptError};
use super::lexer::{tokenize, Tok, Token};
use std::rc::Rc;

pub struct Parser {
    toks: Vec<Token>,
    pub pos: usize,
}

pub fn parse(src: &str) -> Result<Vec<Stmt>, ScriptError> {
    let mut p = Parser::new(tokenize(src)?);
    let mut out = Vec::new();
    while !p.at(&Tok::Eof) {
        if p.eat(&Tok::Newline) {
            continue;
        }
        out.extend(p.statement()?);
    }
    Ok(out)
}

impl Parser {
    pub fn new(toks: Vec<Token>) -> Parser {
        Parser { toks, pos: 0 }
    }

    pub fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }

    pub fn peek_at(&self, off: usize) -> &Tok {
        self.toks
            .get(self.pos + off)
            .map(|t| &t.tok)
            .unwrap_or(&Tok::Eof)
    }

    pub fn line(&self) -> u32 {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(0, |t| t.line)
    }

    pub fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    pub fn at(&self, t: &Tok) -> bool {
        self.peek() == t
    }

    pub fn at_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    pub fn at_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }

    pub fn eat(&mut self, t: &Tok) -> bool {
        if self.at(t) {
            self.pos += 1;
            return true;
        }
        false
    }

    pub fn eat_op(&mut self, op: &str) -> bool {
        if self.at_op(op) {
            self.pos += 1;
            return true;
        }
        false
    }

    pub fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.pos += 1;
            return true;
        }
        false
    }

    pub fn err<T>(&self, msg: impl Into<String>) -> Result<T, ScriptError> {
        Err(syntax(self.line(), msg))
    }

    pub fn expect_op(&mut self, op: &str) -> Result<(), ScriptError> {
        if self.eat_op(op) {
            return Ok(());
        }
        self.err(format!("expected '{op}', found {}", describe(self.peek())))
    }

    pub fn expect_kw(&mut self, kw: &str) -> Result<(), ScriptError> {
        if self.eat_kw(kw) {
            return Ok(());
        }
        self.err(format!("expected '{kw}', found {}", describe(self.peek())))
    }

    pub fn name(&mut self) -> Result<Rc<str>, ScriptError> {
        match self.peek().clone() {
            Tok::Name(n) if !is_keyword(&n) => {
                self.pos += 1;
                Ok(n.into())
            }
            t => self.err(format!("expected a name, found {}", describe(&t))),
        }
    }

    fn block(&mut self) -> Result<Vec<Stmt>, ScriptError> {
        self.expect_op(":")?;
        if !self.eat(&Tok::Newline) {
            return self.simple_line();
        }
        if !self.eat(&Tok::Indent) {
            return self.err("expected an indented block");
        }
        let mut body = Vec::new();
        while !self.eat(&Tok::Dedent) {
            if self.at(&Tok::Eof) {
                break;
            }
            if self.eat(&Tok::Newline) {
                continue;
            }
            body.extend(self.statement()?);
        }
        Ok(body)
    }

    fn statement(&mut self) -> Result<Vec<Stmt>, ScriptError> {
        let line = self.line();
        let one = |kind| Ok(vec![Stmt { line, kind }]);
        let Tok::Name(word) = self.peek().clone() else {
            return self.simple_line();
        };
        match word.as_str() {
            "if" => {
                self.pos += 1;
                let mut arms = vec![(self.expr()?, self.block()?)];
                let mut orelse = Vec::new();
                loop {
                    if self.eat_kw("elif") {
                        arms.push((self.expr()?, self.block()?));
                    } else if self.eat_kw("else") {
                        orelse = self.block()?;
                        break;
                    } else {
                        break;
                    }
                }
                one(StmtKind::If(arms, orelse))
            }
            "while" => {
                self.pos += 1;
                let cond = self.expr()?;
                let body = self.block()?;
                let orelse = if self.eat_kw("else") {
                    self.block()?
                } else {
                    Vec::new()
                };
                one(StmtKind::While(cond, body, orelse))
            }
            "for" => {
                self.pos += 1;
                let target = self.target_list()?;
                self.expect_kw("in")?;
                let iter = self.expr_list()?;
                let body = self.block()?;
                let orelse = if self.eat_kw("else") {
                    self.block()?
                } else {
                    Vec::new()
                };
                one(StmtKind::For(target, iter, body, orelse))
            }
            "def" => {
                self.pos += 1;
                let name = self.name()?;
                self.expect_op("(")?;
                let mut f = self.params(&name, ")")?;
                if self.eat_op("->") {
                    self.expr()?;
                }
                f.body = self.block()?;
                one(StmtKind::Def(Rc::new(f)))
            }
            "class" => {
                self.pos += 1;
                let name = self.name()?;
                let mut base = None;
                if self.eat_op("(") {
                    if !self.at_op(")") {
                        base = Some(self.expr()?);
                    }
                    self.expect_op(")")?;
                }
                let body = self.block()?;
                one(StmtKind::Class(Rc::new(ClassDef { name, base, body })))
            }
            "try" => {
                self.pos += 1;
                let body = self.block()?;
                let mut handlers = Vec::new();
                while self.eat_kw("except") {
                    let mut h = Handler {
                        kinds: None,
                        name: None,
                        body: Vec::new(),
                    };
                    if !self.at_op(":") {
                        h.kinds = Some(self.expr()?);
                        if self.eat_kw("as") {
                            h.name = Some(self.name()?);
                        }
                    }
                    h.body = self.block()?;
                    handlers.push(h);
                }
                let orelse = if self.eat_kw("else") {
                    self.block()?
                } else {
                    Vec::new()
                };
                let finally = if self.eat_kw("finally") {
                    self.block()?
                } else {
                    Vec::new()
                };
                if handlers.is_empty() && finally.is_empty() {
                    return self.err("try needs except or finally");
                }
                one(StmtKind::Try(body, handlers, orelse, finally))
            }
            "with" | "async" | "yield" | "await" | "nonlocal" => self.err(format!(
                "'{word}' is not supported by kboot's Python subset"
            )),
            _ => self.simple_line(),
        }
    }

    /// Parameters up to `close`: `a, b=1, *rest, **kw`.
    pub fn params(&mut self, name: &Rc<str>, close: &str) -> Result<FuncDef, ScriptError> {
        let mut f = FuncDef {
            name: name.clone(),
            params: Vec::new(),
            star: None,
            kwstar: None,
            body: Vec::new(),
        };
        while !self.eat_op(close) {
            if self.eat_op("**") {
                f.kwstar = Some(self.name()?);
            } else if self.eat_op("*") {
                f.star = Some(self.name()?);
            } else {
                let p = self.name()?;
                if close != ":" && self.eat_op(":") {
                    self.expr()?;
                }
                let default = if self.eat_op("=") {
                    Some(self.expr()?)
                } else {
                    None
                };
                f.params.push((p, default));
            }
            if !self.at_op(close) {
                self.expect_op(",")?;
            }
        }
        Ok(f)
    }

    /// Simple statements separated by ';' up to the end of the line.
    fn simple_line(&mut self) -> Result<Vec<Stmt>, ScriptError> {
        let mut out = Vec::new();
        loop {
            let line = self.line();
            out.push(Stmt {
                line,
                kind: self.simple()?,
            });
            if !self.eat_op(";") || self.at(&Tok::Newline) {
                break;
            }
        }
        if !self.eat(&Tok::Newline) && !self.at(&Tok::Eof) {
            return self.err(format!("unexpected {}", describe(self.peek())));
        }
        Ok(out)
    }

    fn simple(&mut self) -> Result<StmtKind, ScriptError> {
        let ends = |p: &Parser| matches!(p.peek(), Tok::Newline | Tok::Eof) || p.at_op(";");
        if let Tok::Name(word) = self.peek().clone() {
            let kw = match word.as_str() {
                "pass" | "break" | "continue" | "return" | "raise" | "assert" | "del"
                | "global" | "import" | "from" => true,
                _ => false,
            };
            if kw {
                self.pos += 1;
                return Ok(match word.as_str() {
                    "pass" => StmtKind::Pass,
                    "break" => StmtKind::Break,
                    "continue" => StmtKind::Continue,
                    "return" if ends(self) => StmtKind::Return(None),
                    "return" => StmtKind::Return(Some(self.expr_list()?)),
                    "raise" if ends(self) => StmtKind::Raise(None),
                    "raise" => StmtKind::Raise(Some(self.expr()?)),
                    "assert" => {
                        let cond = self.expr()?;
                        let msg = if self.eat_op(",") {
                            Some(self.expr()?)
                        } else {
                            None
                        };
                        StmtKind::Assert(cond, msg)
                    }
                    "del" => StmtKind::Del(vec![self.expr()?]),
                    "global" => {
                        let mut names = vec![self.name()?];
                        while self.eat_op(",") {
                            names.push(self.name()?);
                        }
                        StmtKind::Global(names)
                    }
                    _ => self.import(&word)?,
                });
            }
        }
        let first = self.expr_list()?;
        if let Some(op) = self.aug_op() {
            let value = self.expr_list()?;
            return Ok(StmtKind::AugAssign(first, op, value));
        }
        if self.at_op(":") {
            // An annotation: `x: int = 3`.
            self.pos += 1;
            self.expr()?;
            if !self.eat_op("=") {
                return Ok(StmtKind::Pass);
            }
            return Ok(StmtKind::Assign(vec![first], self.expr_list()?));
        }
        let mut targets = vec![first];
        while self.eat_op("=") {
            targets.push(self.expr_list()?);
        }
        let value = targets
            .pop()
            .unwrap_or(Expr::Const(super::value::Obj::None));
        if targets.is_empty() {
            return Ok(StmtKind::Expr(value));
        }
        Ok(StmtKind::Assign(targets, value))
    }

    /// `import a, b` / `from a import b`: only names the host provides (sys, kboot) are
    /// accepted; they are bound to the host's module values.
    fn import(&mut self, word: &str) -> Result<StmtKind, ScriptError> {
        let mut names = Vec::new();
        if word == "from" {
            self.name()?;
            self.expect_kw("import")?;
            if self.eat_op("*") {
                return Ok(StmtKind::Pass);
            }
        }
        loop {
            let mut n = self.name()?;
            while self.eat_op(".") {
                n = self.name()?;
            }
            if self.eat_kw("as") {
                n = self.name()?;
            }
            names.push(n);
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(StmtKind::Import(names))
    }

    fn aug_op(&mut self) -> Option<BinOp> {
        let Tok::Op(op) = self.peek() else {
            return None;
        };
        let b = match *op {
            "+=" => BinOp::Add,
            "-=" => BinOp::Sub,
            "*=" => BinOp::Mul,
            "/=" => BinOp::Div,
            "//=" => BinOp::FloorDiv,
            "%=" => BinOp::Mod,
            "**=" => BinOp::Pow,
            "<<=" => BinOp::LShift,
            ">>=" => BinOp::RShift,
            "&=" => BinOp::BitAnd,
            "|=" => BinOp::BitOr,
            "^=" => BinOp::BitXor,
            _ => return None,
        };
        self.pos += 1;
        Some(b)
    }
}

pub fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "if" | "elif"
            | "else"
            | "for"
            | "while"
            | "in"
            | "not"
            | "and"
            | "or"
            | "is"
            | "def"
            | "return"
            | "class"
            | "try"
            | "except"
            | "finally"
            | "raise"
            | "import"
            | "from"
            | "as"
            | "pass"
            | "break"
            | "continue"
            | "lambda"
            | "global"
            | "del"
            | "assert"
            | "with"
            | "yield"
    )
}

pub fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("'{n}'"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Int(_) | Tok::Float(_) => "a number".into(),
        Tok::Str(_) | Tok::FStr(_) | Tok::Bytes(_) => "a string".into(),
        Tok::Newline => "end of line".into(),
        Tok::Indent => "an indent".into(),
        Tok::Dedent => "a dedent".into(),
        Tok::Eof => "end of file".into(),
    }
}
