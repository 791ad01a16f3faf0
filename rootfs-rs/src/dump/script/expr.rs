//! Expressions of the Python subset, by precedence climbing; f-strings are split here.

use super::ast::*;
use super::error::{syntax, ScriptError};
use super::lexer::{tokenize, Tok};
use super::parser::{describe, Parser};
use super::value::Obj;
use std::rc::Rc;

type R = Result<Expr, ScriptError>;

/// Longest run of prefix operators (`- - x`, `not not x`): the evaluator recurses per
/// operator.
const MAX_PREFIX: usize = 256;

impl Parser {
    /// `a, b` (a tuple) or a single expression.
    pub fn expr_list(&mut self) -> R {
        let first = self.star_or_expr()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.ends_list() {
                break;
            }
            items.push(self.star_or_expr()?);
        }
        Ok(Expr::Tuple(items))
    }

    fn ends_list(&self) -> bool {
        matches!(self.peek(), Tok::Newline | Tok::Eof)
            || [")", "]", "}", "=", ":", ";"].iter().any(|o| self.at_op(o))
            || self.at_kw("in")
    }

    fn star_or_expr(&mut self) -> R {
        if self.eat_op("*") {
            return Ok(Expr::Star(Box::new(self.or_expr()?)));
        }
        self.expr()
    }

    /// A `for` target: names, attributes, subscripts, tuples of them.
    pub fn target_list(&mut self) -> R {
        let first = self.binary(0)?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_kw("in") {
                break;
            }
            items.push(self.binary(0)?);
        }
        Ok(Expr::Tuple(items))
    }

    pub fn expr(&mut self) -> R {
        if self.eat_kw("lambda") {
            let name: Rc<str> = "<lambda>".into();
            let mut f = self.params(&name, ":")?;
            let line = self.line();
            let body = self.expr()?;
            f.body = vec![Stmt {
                line,
                kind: StmtKind::Return(Some(body)),
            }];
            return Ok(Expr::Lambda(Rc::new(f)));
        }
        let e = self.or_expr()?;
        if self.eat_kw("if") {
            let cond = self.or_expr()?;
            self.expect_kw("else")?;
            let other = self.expr()?;
            return Ok(Expr::IfElse(Box::new(cond), Box::new(e), Box::new(other)));
        }
        Ok(e)
    }

    pub fn or_expr(&mut self) -> R {
        let mut e = self.and_expr()?;
        while self.eat_kw("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and_expr()?));
        }
        Ok(e)
    }

    fn and_expr(&mut self) -> R {
        let mut e = self.not_expr()?;
        while self.eat_kw("and") {
            e = Expr::And(Box::new(e), Box::new(self.not_expr()?));
        }
        Ok(e)
    }

    fn not_expr(&mut self) -> R {
        // Prefix operators are collected in a loop, not by recursion: `not not … x` of any
        // length cannot overflow the stack.
        let mut count = 0usize;
        while self.eat_kw("not") {
            count += 1;
        }
        if count > MAX_PREFIX {
            return self.err("too many 'not' in a row");
        }
        let mut e = self.comparison()?;
        for _ in 0..count {
            e = Expr::Unary(UnaryOp::Not, Box::new(e));
        }
        Ok(e)
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        let op = match self.peek() {
            Tok::Op("==") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            Tok::Name(n) if n == "in" => CmpOp::In,
            Tok::Name(n) if n == "is" => {
                self.pos_advance();
                return Some(if self.eat_kw("not") {
                    CmpOp::IsNot
                } else {
                    CmpOp::Is
                });
            }
            Tok::Name(n) if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") => {
                self.pos_advance();
                self.pos_advance();
                return Some(CmpOp::NotIn);
            }
            _ => return None,
        };
        self.pos_advance();
        Some(op)
    }

    fn pos_advance(&mut self) {
        self.next();
    }

    fn comparison(&mut self) -> R {
        let first = self.binary(0)?;
        let mut rest = Vec::new();
        while let Some(op) = self.cmp_op() {
            rest.push((op, self.binary(0)?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        Ok(Expr::Compare(Box::new(first), rest))
    }

    /// Binary operators from `|` (level 0) to `* / // %` (level 5).
    pub fn binary(&mut self, level: usize) -> R {
        const LEVELS: [&[(&str, BinOp)]; 6] = [
            &[("|", BinOp::BitOr)],
            &[("^", BinOp::BitXor)],
            &[("&", BinOp::BitAnd)],
            &[("<<", BinOp::LShift), (">>", BinOp::RShift)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[
                ("*", BinOp::Mul),
                ("/", BinOp::Div),
                ("//", BinOp::FloorDiv),
                ("%", BinOp::Mod),
            ],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut e = self.binary(level + 1)?;
        'outer: loop {
            for (op, b) in LEVELS[level] {
                if self.eat_op(op) {
                    e = Expr::Bin(*b, Box::new(e), Box::new(self.binary(level + 1)?));
                    continue 'outer;
                }
            }
            return Ok(e);
        }
    }

    fn unary(&mut self) -> R {
        let mut ops = Vec::new();
        loop {
            let op = [
                ("-", UnaryOp::Neg),
                ("+", UnaryOp::Pos),
                ("~", UnaryOp::Invert),
            ]
            .into_iter()
            .find(|(text, _)| self.at_op(text));
            match op {
                Some((_, u)) => {
                    self.next();
                    ops.push(u);
                }
                None => break,
            }
        }
        if ops.len() > MAX_PREFIX {
            return self.err("too many prefix operators in a row");
        }
        let base = self.postfix()?;
        let mut e = if self.eat_op("**") {
            Expr::Bin(BinOp::Pow, Box::new(base), Box::new(self.unary()?))
        } else {
            base
        };
        for u in ops.into_iter().rev() {
            e = Expr::Unary(u, Box::new(e));
        }
        Ok(e)
    }

    fn postfix(&mut self) -> R {
        let mut e = self.atom()?;
        loop {
            if self.eat_op(".") {
                e = Expr::Attr(Box::new(e), self.any_name()?);
            } else if self.eat_op("(") {
                e = self.call(e)?;
            } else if self.eat_op("[") {
                let idx = self.subscript()?;
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(idx));
            } else {
                return Ok(e);
            }
        }
    }

    fn any_name(&mut self) -> Result<Rc<str>, ScriptError> {
        match self.next() {
            Tok::Name(n) => Ok(n.into()),
            t => self.err(format!("expected a name, found {}", describe(&t))),
        }
    }

    fn subscript(&mut self) -> R {
        let part = |p: &mut Parser| -> Result<Option<Box<Expr>>, ScriptError> {
            if p.at_op(":") || p.at_op("]") {
                Ok(None)
            } else {
                Ok(Some(Box::new(p.expr()?)))
            }
        };
        let start = part(self)?;
        if !self.eat_op(":") {
            return start
                .map(|b| *b)
                .ok_or_else(|| syntax(self.line(), "empty index"));
        }
        let stop = part(self)?;
        let step = if self.eat_op(":") { part(self)? } else { None };
        Ok(Expr::Slice(start, stop, step))
    }

    fn call(&mut self, callee: Expr) -> R {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.eat_op(")") {
            if let (Tok::Name(n), Tok::Op("=")) = (self.peek().clone(), self.peek_at(1)) {
                self.next();
                self.next();
                kwargs.push((n.into(), self.expr()?));
            } else if self.eat_op("*") {
                args.push(Expr::Star(Box::new(self.expr()?)));
            } else {
                let e = self.expr()?;
                if self.at_kw("for") {
                    let comps = self.comprehension()?;
                    args.push(Expr::GenExp(Box::new(e), comps));
                } else {
                    args.push(e);
                }
            }
            if !self.at_op(")") {
                self.expect_op(",")?;
            }
        }
        Ok(Expr::Call(Box::new(callee), args, kwargs))
    }

    fn comprehension(&mut self) -> Result<Vec<Comp>, ScriptError> {
        let mut comps = Vec::new();
        loop {
            if self.eat_kw("for") {
                let target = self.target_list()?;
                self.expect_kw("in")?;
                comps.push(Comp::For(target, self.or_expr()?));
            } else if self.eat_kw("if") {
                comps.push(Comp::If(self.or_expr()?));
            } else {
                return Ok(comps);
            }
        }
    }

    fn atom(&mut self) -> R {
        let line = self.line();
        match self.next() {
            Tok::Int(i) => Ok(Expr::Const(Obj::Int(i))),
            Tok::Float(f) => Ok(Expr::Const(Obj::Float(f))),
            Tok::Str(s) => self.strings(Some(s), line),
            Tok::FStr(_) => {
                self.pos -= 1;
                self.strings(None, line)
            }
            Tok::Bytes(b) => Ok(Expr::Const(Obj::Bytes(b.into()))),
            Tok::Name(n) => Ok(match n.as_str() {
                "None" => Expr::Const(Obj::None),
                "True" => Expr::Const(Obj::Bool(true)),
                "False" => Expr::Const(Obj::Bool(false)),
                _ if super::parser::is_keyword(&n) => {
                    return self.err(format!("unexpected '{n}'"));
                }
                _ => Expr::Name(n.into()),
            }),
            Tok::Op("(") => {
                if self.eat_op(")") {
                    return Ok(Expr::Tuple(Vec::new()));
                }
                let first = self.star_or_expr()?;
                if self.at_kw("for") {
                    let comps = self.comprehension()?;
                    self.expect_op(")")?;
                    return Ok(Expr::GenExp(Box::new(first), comps));
                }
                if self.eat_op(")") {
                    return Ok(first);
                }
                Ok(Expr::Tuple(self.items_after(first, ")")?))
            }
            Tok::Op("[") => {
                if self.eat_op("]") {
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.star_or_expr()?;
                if self.at_kw("for") {
                    let comps = self.comprehension()?;
                    self.expect_op("]")?;
                    return Ok(Expr::ListComp(Box::new(first), comps));
                }
                Ok(Expr::List(self.items_after(first, "]")?))
            }
            Tok::Op("{") => self.braces(),
            t => self.err(format!("unexpected {}", describe(&t))),
        }
    }

    /// The rest of a comma-separated display after its first item, through `close`.
    fn items_after(&mut self, first: Expr, close: &str) -> Result<Vec<Expr>, ScriptError> {
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_op(close) {
                break;
            }
            items.push(self.star_or_expr()?);
        }
        self.expect_op(close)?;
        Ok(items)
    }

    fn braces(&mut self) -> R {
        if self.eat_op("}") {
            return Ok(Expr::Dict(Vec::new()));
        }
        let first = self.expr()?;
        if !self.eat_op(":") {
            if self.at_kw("for") {
                let comps = self.comprehension()?;
                self.expect_op("}")?;
                return Ok(Expr::SetComp(Box::new(first), comps));
            }
            return Ok(Expr::Set(self.items_after(first, "}")?));
        }
        let value = self.expr()?;
        if self.at_kw("for") {
            let comps = self.comprehension()?;
            self.expect_op("}")?;
            return Ok(Expr::DictComp(Box::new(first), Box::new(value), comps));
        }
        let mut pairs = vec![(first, value)];
        while self.eat_op(",") {
            if self.at_op("}") {
                break;
            }
            let k = self.expr()?;
            self.expect_op(":")?;
            pairs.push((k, self.expr()?));
        }
        self.expect_op("}")?;
        Ok(Expr::Dict(pairs))
    }

    /// Adjacent string literals concatenate; any f-string among them makes the whole an
    /// f-string.
    fn strings(&mut self, first: Option<String>, line: u32) -> R {
        let mut parts = Vec::new();
        let mut plain = true;
        if let Some(s) = first {
            parts.push(FPart::Lit(s));
        }
        loop {
            match self.peek().clone() {
                Tok::Str(s) => {
                    self.next();
                    parts.push(FPart::Lit(s));
                }
                Tok::FStr(s) => {
                    self.next();
                    plain = false;
                    parts.extend(fstring_parts(&s, line)?);
                }
                _ => break,
            }
        }
        if plain {
            let s: String = parts
                .into_iter()
                .map(|p| match p {
                    FPart::Lit(s) => s,
                    FPart::Field(..) => String::new(),
                })
                .collect();
            return Ok(Expr::Const(Obj::str(&s)));
        }
        Ok(Expr::FStr(parts))
    }
}

/// Splits an f-string body into literal text and `{expr!c:spec}` fields.
pub fn fstring_parts(s: &str, line: u32) -> Result<Vec<FPart>, ScriptError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if (c == '{' || c == '}') && chars.get(i + 1) == Some(&c) {
            lit.push(c);
            i += 2;
            continue;
        }
        if c != '{' {
            lit.push(c);
            i += 1;
            continue;
        }
        // Find the end of the expression: a top-level '!', ':' or '}'.
        let mut depth = 0;
        let mut j = i + 1;
        let mut quote: Option<char> = None;
        while j < chars.len() {
            let d = chars[j];
            match (quote, d) {
                (Some(q), _) if d == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(d),
                (None, '(' | '[' | '{') => depth += 1,
                (None, ')' | ']') => depth -= 1,
                (None, '}') if depth > 0 => depth -= 1,
                (None, '}' | ':') if depth == 0 => break,
                (None, '!') if depth == 0 && chars.get(j + 1) != Some(&'=') => break,
                _ => {}
            }
            j += 1;
        }
        let code: String = chars[i + 1..j.min(chars.len())].iter().collect();
        let mut conv = None;
        if chars.get(j) == Some(&'!') {
            conv = chars.get(j + 1).copied();
            j += 2;
        }
        let mut spec = Vec::new();
        if chars.get(j) == Some(&':') {
            let start = j + 1;
            let mut depth = 0;
            j = start;
            while j < chars.len() && !(chars[j] == '}' && depth == 0) {
                match chars[j] {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            let spec_text: String = chars[start..j.min(chars.len())].iter().collect();
            spec = fstring_parts(&spec_text, line)?;
        }
        if chars.get(j) != Some(&'}') {
            return Err(syntax(line, "f-string: expecting '}'"));
        }
        if !lit.is_empty() {
            parts.push(FPart::Lit(std::mem::take(&mut lit)));
        }
        let mut p = Parser::new(tokenize(code.trim())?);
        let e = p.expr_list()?;
        parts.push(FPart::Field(e, conv, spec));
        i = j + 1;
    }
    if !lit.is_empty() {
        parts.push(FPart::Lit(lit));
    }
    Ok(parts)
}
