//! Tokens of the Python subset: indentation becomes Indent/Dedent tokens, newlines inside
//! brackets are ignored, strings carry their prefix (f, b, r) so the parser can split
//! f-strings.

use super::error::{syntax, ScriptError};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Name(String),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// An f-string's raw body (escapes already processed), split by the parser.
    FStr(String),
    Op(&'static str),
    Newline,
    Indent,
    Dedent,
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
}

/// Deepest bracket or block nesting accepted.
const MAX_NESTING: usize = 100;

/// Longest first, so "**=" wins over "**" and "*".
const OPS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "->", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", ":=", "+", "-", "*", "/", "%", "&", "|", "^", "~",
    "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "=", "@",
];

struct Lexer<'s> {
    src: &'s [u8],
    pos: usize,
    line: u32,
    depth: usize,
    indents: Vec<usize>,
    out: Vec<Token>,
}

pub fn tokenize(src: &str) -> Result<Vec<Token>, ScriptError> {
    let mut lx = Lexer {
        src: src.as_bytes(),
        pos: 0,
        line: 1,
        depth: 0,
        indents: vec![0],
        out: Vec::new(),
    };
    lx.run()?;
    Ok(lx.out)
}

impl Lexer<'_> {
    fn push(&mut self, tok: Tok) {
        self.out.push(Token {
            tok,
            line: self.line,
        });
    }

    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.pos + off).copied().unwrap_or(0)
    }

    fn run(&mut self) -> Result<(), ScriptError> {
        let mut at_line_start = true;
        while self.pos < self.src.len() {
            if at_line_start && self.depth == 0 {
                // A blank or comment-only line leaves us at the start of the next one.
                at_line_start = self.indentation()?;
                if at_line_start {
                    continue;
                }
            }
            let c = self.peek(0);
            match c {
                b'\n' => {
                    self.pos += 1;
                    if self.depth == 0 {
                        self.push(Tok::Newline);
                        at_line_start = true;
                    }
                    self.line += 1;
                }
                b' ' | b'\t' | b'\r' | b'\x0c' => self.pos += 1,
                b'#' => self.skip_comment(),
                b'\\' if self.peek(1) == b'\n' => {
                    self.pos += 2;
                    self.line += 1;
                }
                b'0'..=b'9' => self.number()?,
                b'.' if self.peek(1).is_ascii_digit() => self.number()?,
                b'"' | b'\'' => self.string(Prefix::default())?,
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => self.word()?,
                _ => self.op()?,
            }
        }
        if !matches!(
            self.out.last().map(|t| &t.tok),
            None | Some(Tok::Newline) | Some(Tok::Dedent)
        ) {
            self.push(Tok::Newline);
        }
        while self.indents.len() > 1 {
            self.indents.pop();
            self.push(Tok::Dedent);
        }
        self.push(Tok::Eof);
        Ok(())
    }

    fn skip_comment(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    /// Measures the indentation of a new line; true when the line is blank or a comment.
    fn indentation(&mut self) -> Result<bool, ScriptError> {
        let mut width = 0;
        while let b' ' | b'\t' = self.peek(0) {
            width += if self.peek(0) == b'\t' {
                8 - width % 8
            } else {
                1
            };
            self.pos += 1;
        }
        match self.peek(0) {
            b'\n' => {
                self.pos += 1;
                self.line += 1;
                return Ok(true);
            }
            b'#' => {
                self.skip_comment();
                if self.peek(0) == b'\n' {
                    self.pos += 1;
                    self.line += 1;
                }
                return Ok(true);
            }
            b'\r' if self.peek(1) == b'\n' => {
                self.pos += 2;
                self.line += 1;
                return Ok(true);
            }
            0 => return Ok(true),
            _ => {}
        }
        let current = self.indents.last().copied().unwrap_or(0);
        if width > current {
            if self.indents.len() >= MAX_NESTING {
                return Err(syntax(self.line, "blocks nested too deeply"));
            }
            self.indents.push(width);
            self.push(Tok::Indent);
        } else {
            while width < self.indents.last().copied().unwrap_or(0) {
                self.indents.pop();
                self.push(Tok::Dedent);
            }
            if width != self.indents.last().copied().unwrap_or(0) {
                return Err(syntax(self.line, "unindent does not match any outer level"));
            }
        }
        Ok(false)
    }

    fn number(&mut self) -> Result<(), ScriptError> {
        let start = self.pos;
        let radix = match (self.peek(0), self.peek(1) | 0x20) {
            (b'0', b'x') => 16,
            (b'0', b'o') => 8,
            (b'0', b'b') => 2,
            _ => 10,
        };
        if radix != 10 {
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'_' {
                self.pos += 1;
            }
            let text: String =
                String::from_utf8_lossy(&self.src[digits_start..self.pos]).replace('_', "");
            let v = i128::from_str_radix(&text, radix)
                .map_err(|_| syntax(self.line, format!("bad number {text:?}")))?;
            self.push(Tok::Int(v));
            return Ok(());
        }
        let mut float = false;
        while let c @ (b'0'..=b'9' | b'_' | b'.' | b'e' | b'E') = self.peek(0) {
            if c == b'.' || c == b'e' || c == b'E' {
                float = true;
                if (c == b'e' || c == b'E') && matches!(self.peek(1), b'+' | b'-') {
                    self.pos += 1;
                }
            }
            self.pos += 1;
        }
        let text = String::from_utf8_lossy(&self.src[start..self.pos]).replace('_', "");
        let tok = if float {
            Tok::Float(
                text.parse()
                    .map_err(|_| syntax(self.line, format!("bad number {text:?}")))?,
            )
        } else {
            Tok::Int(
                text.parse()
                    .map_err(|_| syntax(self.line, format!("bad number {text:?}")))?,
            )
        };
        self.push(tok);
        Ok(())
    }

    fn word(&mut self) -> Result<(), ScriptError> {
        let start = self.pos;
        while self.peek(0).is_ascii_alphanumeric() || self.peek(0) == b'_' || self.peek(0) >= 0x80 {
            self.pos += 1;
        }
        let word = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        if matches!(self.peek(0), b'"' | b'\'') && word.len() <= 2 {
            let lower = word.to_ascii_lowercase();
            if lower.chars().all(|c| matches!(c, 'r' | 'b' | 'f')) {
                let prefix = Prefix {
                    raw: lower.contains('r'),
                    bytes: lower.contains('b'),
                    format: lower.contains('f'),
                };
                return self.string(prefix);
            }
        }
        self.push(Tok::Name(word));
        Ok(())
    }

    fn op(&mut self) -> Result<(), ScriptError> {
        for op in OPS {
            if self.src[self.pos..].starts_with(op.as_bytes()) {
                self.pos += op.len();
                match *op {
                    // The parser and evaluator recurse once per level: a bound keeps a
                    // hostile script from overflowing the stack.
                    "(" | "[" | "{" if self.depth >= MAX_NESTING => {
                        return Err(syntax(self.line, "brackets nested too deeply"))
                    }
                    "(" | "[" | "{" => self.depth += 1,
                    ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                self.push(Tok::Op(op));
                return Ok(());
            }
        }
        Err(syntax(
            self.line,
            format!("unexpected character {:?}", self.peek(0) as char),
        ))
    }

    fn string(&mut self, prefix: Prefix) -> Result<(), ScriptError> {
        let quote = self.peek(0);
        let triple = self.peek(1) == quote && self.peek(2) == quote;
        let qlen = if triple { 3 } else { 1 };
        self.pos += qlen;
        let start_line = self.line;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek(0);
            if self.pos >= self.src.len() {
                return Err(syntax(start_line, "unterminated string"));
            }
            if c == quote && (!triple || (self.peek(1) == quote && self.peek(2) == quote)) {
                self.pos += qlen;
                break;
            }
            if c == b'\n' {
                if !triple {
                    return Err(syntax(start_line, "unterminated string"));
                }
                self.line += 1;
            }
            if c == b'\\' && !prefix.raw {
                self.pos += 1;
                self.escape(&mut out, prefix.bytes)?;
                continue;
            }
            out.push(c);
            self.pos += 1;
        }
        let tok = if prefix.bytes {
            Tok::Bytes(out)
        } else {
            let s = String::from_utf8(out).map_err(|_| syntax(start_line, "invalid UTF-8"))?;
            if prefix.format {
                Tok::FStr(s)
            } else {
                Tok::Str(s)
            }
        };
        let line = self.line;
        self.line = start_line;
        self.push(tok);
        self.line = line;
        Ok(())
    }

    fn escape(&mut self, out: &mut Vec<u8>, bytes: bool) -> Result<(), ScriptError> {
        let c = self.peek(0);
        self.pos += 1;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'0' => Some(0),
            b'\\' => Some(b'\\'),
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'v' => Some(11),
            b'\n' => {
                self.line += 1;
                return Ok(());
            }
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        let digits = match c {
            b'x' => 2,
            b'u' if !bytes => 4,
            b'U' if !bytes => 8,
            _ => {
                out.extend_from_slice(&[b'\\', c]);
                return Ok(());
            }
        };
        let hex = self
            .src
            .get(self.pos..self.pos + digits)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| syntax(self.line, "bad escape in string"))?;
        self.pos += digits;
        if bytes {
            out.push(hex as u8);
        } else {
            let ch = char::from_u32(hex).ok_or_else(|| syntax(self.line, "bad escape"))?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }
}

#[derive(Default, Clone, Copy)]
struct Prefix {
    raw: bool,
    bytes: bool,
    format: bool,
}
