//! find: walk paths and print those matching -name/-iname/-type/-path/-maxdepth/-mindepth/
//! -newer/-size, with !, -a, -o, ( ) and -print/-exec CMD {} ;.
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::util::glob::matches;
use crate::util::walk::{walk, Visit};
use crate::util::{finish, warn_err};

const USAGE: &str = "usage: find [PATH...] [EXPRESSION]\nTests: -name PAT -iname PAT -path PAT -type [fdlbcps] -size [+-]N[ckMG] -newer FILE -maxdepth N -mindepth N\nActions: -print -exec CMD {} ;   Operators: ! -not -a -o ( )";

#[derive(Debug)]
enum Expr {
    Name(String, bool),
    Path(String),
    Type(char),
    Size(char, u64, u64),
    Newer(i64),
    Print,
    Exec(Vec<String>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    True,
}

struct ExprParser<'a> {
    words: &'a [String],
    pos: usize,
    max_depth: Option<usize>,
    min_depth: usize,
    has_action: bool,
}

impl ExprParser<'_> {
    fn arg(&mut self, what: &str) -> Result<String, String> {
        let v = self
            .words
            .get(self.pos)
            .cloned()
            .ok_or_else(|| format!("missing argument to '{what}'"))?;
        self.pos += 1;
        Ok(v)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut lhs = self.and()?;
        while matches!(
            self.words.get(self.pos).map(|s| s.as_str()),
            Some("-o") | Some("-or")
        ) {
            self.pos += 1;
            lhs = Expr::Or(Box::new(lhs), Box::new(self.and()?));
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut lhs = self.not()?;
        loop {
            match self.words.get(self.pos).map(|s| s.as_str()) {
                None | Some("-o") | Some("-or") | Some(")") => return Ok(lhs),
                Some("-a") | Some("-and") => self.pos += 1,
                _ => {}
            }
            lhs = Expr::And(Box::new(lhs), Box::new(self.not()?));
        }
    }

    fn not(&mut self) -> Result<Expr, String> {
        if matches!(
            self.words.get(self.pos).map(|s| s.as_str()),
            Some("!") | Some("-not")
        ) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let w = self.arg("expression")?;
        Ok(match w.as_str() {
            "(" => {
                let e = self.or()?;
                if self.arg("(")? != ")" {
                    return Err("missing ')'".into());
                }
                e
            }
            "-name" => Expr::Name(self.arg("-name")?, false),
            "-iname" => Expr::Name(self.arg("-iname")?.to_lowercase(), true),
            "-path" | "-wholename" => Expr::Path(self.arg("-path")?),
            "-type" => {
                let t = self.arg("-type")?;
                match t.as_str() {
                    "f" | "d" | "l" | "b" | "c" | "p" | "s" => {
                        Expr::Type(t.chars().next().unwrap_or('f'))
                    }
                    _ => return Err(format!("unknown argument to -type: {t}")),
                }
            }
            "-size" => size(&self.arg("-size")?)?,
            "-newer" => {
                let f = self.arg("-newer")?;
                let m = std::fs::metadata(&f)
                    .map_err(|e| format!("{f}: {}", crate::util::reason(&e)))?;
                Expr::Newer(m.mtime())
            }
            "-maxdepth" | "-mindepth" => {
                let v = self.arg(&w)?;
                let n: usize = v.parse().map_err(|_| format!("invalid {w} '{v}'"))?;
                if w == "-maxdepth" {
                    self.max_depth = Some(n);
                } else {
                    self.min_depth = n;
                }
                Expr::True
            }
            "-print" => {
                self.has_action = true;
                Expr::Print
            }
            "-exec" => {
                let mut cmd = Vec::new();
                loop {
                    let a = self.arg("-exec")?;
                    if a == ";" {
                        break;
                    }
                    cmd.push(a);
                }
                if cmd.is_empty() {
                    return Err("missing argument to '-exec'".into());
                }
                self.has_action = true;
                Expr::Exec(cmd)
            }
            other => return Err(format!("unknown predicate '{other}'")),
        })
    }
}

/// `-size [+-]N[cwkMGb]` (512-byte blocks without a unit).
fn size(s: &str) -> Result<Expr, String> {
    let (sign, rest) = match s.chars().next() {
        Some(c @ ('+' | '-')) => (c, &s[1..]),
        _ => ('=', s),
    };
    let (digits, unit) = match rest.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&rest[..i], c),
        _ => (rest, 'b'),
    };
    let unit_bytes = match unit {
        'c' => 1,
        'w' => 2,
        'k' => 1024,
        'M' => 1 << 20,
        'G' => 1 << 30,
        _ => 512,
    };
    let n = digits.parse().map_err(|_| format!("invalid -size '{s}'"))?;
    Ok(Expr::Size(sign, n, unit_bytes))
}

fn type_letter(m: &Metadata) -> char {
    match crate::util::fmt::type_char(m.mode()) {
        '-' => 'f',
        c => c,
    }
}

fn eval(e: &Expr, path: &Path, m: &Metadata, out: &mut Vec<u8>) -> bool {
    match e {
        Expr::Name(pat, fold) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.to_string_lossy().into_owned());
            if *fold {
                matches(pat, &name.to_lowercase())
            } else {
                matches(pat, &name)
            }
        }
        Expr::Path(pat) => matches(pat, &path.to_string_lossy()),
        Expr::Type(t) => type_letter(m) == *t,
        Expr::Size(sign, n, unit) => {
            let size = m.len().div_ceil(*unit);
            match sign {
                '+' => size > *n,
                '-' => size < *n,
                _ => size == *n,
            }
        }
        Expr::Newer(t) => m.mtime() > *t,
        Expr::Print => {
            out.extend_from_slice(path.to_string_lossy().as_bytes());
            out.push(b'\n');
            true
        }
        Expr::Exec(cmd) => {
            let p = path.to_string_lossy();
            let argv: Vec<String> = cmd.iter().map(|a| a.replace("{}", &p)).collect();
            let mut c = crate::applets::command_for(std::ffi::OsStr::new(&argv[0]));
            c.args(&argv[1..]);
            let _ = std::io::stdout().write_all(out);
            out.clear();
            c.status().map(|s| s.success()).unwrap_or(false)
        }
        Expr::Not(inner) => !eval(inner, path, m, out),
        Expr::And(a, b) => eval(a, path, m, out) && eval(b, path, m, out),
        Expr::Or(a, b) => eval(a, path, m, out) || eval(b, path, m, out),
        Expr::True => true,
    }
}

pub fn main(args: &[OsString]) -> i32 {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if words.first().map(|s| s.as_str()) == Some("--help") {
        return finish("find", writeln!(std::io::stdout(), "{USAGE}").map(|_| 0));
    }
    let split = words
        .iter()
        .position(|w| w.starts_with('-') || w == "!" || w == "(")
        .unwrap_or(words.len());
    let mut paths: Vec<String> = words[..split].to_vec();
    if paths.is_empty() {
        paths.push(".".into());
    }
    let mut p = ExprParser {
        words: &words[split..],
        pos: 0,
        max_depth: None,
        min_depth: 0,
        has_action: false,
    };
    let expr = if p.words.is_empty() {
        Ok(Expr::True)
    } else {
        p.or()
    };
    let expr = match expr {
        Ok(e) if p.pos == p.words.len() => e,
        Ok(_) => {
            crate::warn!("find: unexpected '{}'", p.words[p.pos]);
            return 1;
        }
        Err(msg) => {
            crate::warn!("find: {msg}");
            return 1;
        }
    };
    let expr = if p.has_action {
        expr
    } else {
        Expr::And(Box::new(expr), Box::new(Expr::Print))
    };
    let (max_depth, min_depth) = (p.max_depth, p.min_depth);
    let mut status = 0;
    let mut out = crate::util::stdout();
    let mut buf = Vec::new();
    let mut write_error = None;
    for root in &paths {
        walk(
            Path::new(root),
            false,
            &mut |path, meta, depth, visit| {
                if matches!(visit, Visit::Post) {
                    return true;
                }
                if depth >= min_depth {
                    eval(&expr, path, meta, &mut buf);
                    if write_error.is_none() {
                        if let Err(e) = out.write_all(&buf) {
                            write_error = Some(e);
                        }
                    }
                    buf.clear();
                }
                write_error.is_none() && max_depth.is_none_or(|m| depth < m)
            },
            &mut |path, e| {
                warn_err("find", path.display(), e);
                status = 1;
            },
        );
    }
    let result = match write_error {
        Some(e) => Err(e),
        None => std::io::Write::flush(&mut out),
    };
    finish("find", result.map(|_| status))
}
