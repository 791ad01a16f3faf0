//! edit: a minimal line editor for fixing a config file (e.g. grub.cfg) on a console:
//! numbered listing, replace/insert/append/delete lines, s/RE/REP/ on a line, find, write.
use std::ffi::OsString;
use std::io::{self, BufRead, Write};

use crate::util::regex::Regex;
use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: edit FILE\nEdit FILE line by line. Commands (N, M are line numbers):
  p [N[,M]]      print lines (all by default)     N         print line N
  r N TEXT       replace line N                   d N[,M]   delete lines
  i N TEXT       insert before line N             a N TEXT  append after line N
  s N/RE/REP/[g] substitute in line N             /TEXT     find lines containing TEXT
  w [FILE]       write                            q, q!, wq quit (q! discards changes)";

struct Buffer {
    lines: Vec<String>,
    dirty: bool,
}

/// "N" or "N,M" (1-based, inclusive) checked against the buffer length.
fn range(spec: &str, len: usize) -> Result<(usize, usize), String> {
    let (a, b) = spec.split_once(',').unwrap_or((spec, spec));
    let num = |s: &str| -> Result<usize, String> {
        let s = s.trim();
        if s == "$" {
            return Ok(len);
        }
        s.parse().map_err(|_| format!("bad line number '{s}'"))
    };
    let (a, b) = (num(a)?, num(b)?);
    if a == 0 || b < a || b > len {
        return Err(format!("line out of range (1-{len})"));
    }
    Ok((a, b))
}

impl Buffer {
    fn print(&self, out: &mut impl Write, from: usize, to: usize) -> io::Result<()> {
        let width = self.lines.len().to_string().len();
        for (i, l) in self.lines.iter().enumerate().take(to).skip(from - 1) {
            writeln!(out, "{:>width$}  {l}", i + 1)?;
        }
        Ok(())
    }

    /// Run one command; Ok(false) means quit.
    fn command(&mut self, line: &str, path: &str, out: &mut impl Write) -> Result<bool, String> {
        let line = line.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        let (cmd, rest) = match trimmed.find(|c: char| c.is_whitespace()) {
            Some(i) => (&trimmed[..i], trimmed[i..].trim_start()),
            None => (trimmed, ""),
        };
        let io_err = |e: io::Error| crate::util::reason(&e);
        let len = self.lines.len();
        match cmd {
            "" => {}
            "p" | "l" => {
                let (a, b) = if rest.is_empty() {
                    (1, len)
                } else {
                    range(rest, len)?
                };
                self.print(out, a, b).map_err(io_err)?;
            }
            n if n.parse::<usize>().is_ok() && rest.is_empty() => {
                let (a, b) = range(n, len)?;
                self.print(out, a, b).map_err(io_err)?;
            }
            "r" | "c" | "i" | "a" => self.put_line(cmd, rest)?,
            "d" => {
                let (a, b) = range(rest, len)?;
                self.lines.drain(a - 1..b);
                self.dirty = true;
            }
            "s" => self.substitute(rest, out)?,
            "w" | "wq" | "x" => {
                self.write(if rest.is_empty() { path } else { rest }, out)?;
                return Ok(cmd == "w");
            }
            "q" if self.dirty => {
                return Err("unsaved changes: use wq to save or q! to discard".into())
            }
            "q" | "q!" => return Ok(false),
            "h" | "?" | "help" => writeln!(out, "{USAGE}").map_err(io_err)?,
            _ if trimmed.starts_with('/') => self.search(&trimmed[1..], out)?,
            other => return Err(format!("unknown command '{other}' (h for help)")),
        }
        Ok(true)
    }

    /// `r N TEXT`/`c N TEXT` replace line N, `i N TEXT` inserts before it, `a N TEXT` after.
    fn put_line(&mut self, cmd: &str, rest: &str) -> Result<(), String> {
        let len = self.lines.len();
        let (num, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let n: usize = num
            .parse()
            .map_err(|_| format!("bad line number '{num}'"))?;
        match cmd {
            "r" | "c" => {
                range(num, len)?;
                self.lines[n - 1] = text.to_string();
            }
            "i" if (1..=len + 1).contains(&n) => self.lines.insert(n - 1, text.to_string()),
            "a" if n <= len => self.lines.insert(n, text.to_string()),
            _ => return Err(format!("line out of range (1-{len})")),
        }
        self.dirty = true;
        Ok(())
    }

    /// `s N/RE/REP/[g]`: substitutes in line N and prints it.
    fn substitute(&mut self, rest: &str, out: &mut impl Write) -> Result<(), String> {
        let len = self.lines.len();
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (num, expr) = rest.split_at(split);
        let (a, _) = range(num, len)?;
        let delim = expr.chars().next().ok_or("usage: s N/RE/REP/[g]")?;
        let parts: Vec<&str> = expr[delim.len_utf8()..].splitn(3, delim).collect();
        if parts.len() < 2 {
            return Err("usage: s N/RE/REP/[g]".into());
        }
        let re = Regex::new(parts[0], false)?;
        let global = parts.get(2).is_some_and(|f| f.contains('g'));
        let new = crate::util::subst::substitute(
            self.lines[a - 1].as_bytes(),
            &re,
            parts[1].as_bytes(),
            global,
            1,
        )
        .ok_or("no match")?;
        self.lines[a - 1] = String::from_utf8_lossy(&new).into_owned();
        self.dirty = true;
        self.print(out, a, a).map_err(|e| crate::util::reason(&e))
    }

    /// Writes the lines to `target`, each ending in a newline.
    fn write(&mut self, target: &str, out: &mut impl Write) -> Result<(), String> {
        let mut text = self.lines.join("\n");
        if !self.lines.is_empty() {
            text.push('\n');
        }
        std::fs::write(target, &text)
            .map_err(|e| format!("{target}: {}", crate::util::reason(&e)))?;
        self.dirty = false;
        writeln!(out, "wrote {} lines to {target}", self.lines.len())
            .map_err(|e| crate::util::reason(&e))
    }

    /// `/TEXT`: prints the lines containing TEXT.
    fn search(&self, needle: &str, out: &mut impl Write) -> Result<(), String> {
        let hits: Vec<usize> = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .map(|(i, _)| i + 1)
            .collect();
        if hits.is_empty() {
            return Err("not found".into());
        }
        for h in hits {
            self.print(out, h, h).map_err(|e| crate::util::reason(&e))?;
        }
        Ok(())
    }
}

pub fn main(args: &[OsString]) -> i32 {
    let ops = match Parser::new("edit", USAGE, args).parse(|p, c| Err(p.unknown(c))) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let [path] = ops.as_slice() else {
        return Parser::usage_error("edit", USAGE, "need exactly one FILE", 1);
    };
    let path = path.to_string_lossy().into_owned();
    let lines = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .lines()
            .map(String::from)
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            warn_err("edit", &path, &e);
            return 1;
        }
    };
    let mut buf = Buffer {
        lines,
        dirty: false,
    };
    let interactive = rustix::termios::isatty(rustix::stdio::stdin());
    let mut out = io::stdout().lock();
    let _ = buf.print(&mut out, 1, buf.lines.len());
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut status = 0;
    loop {
        if interactive {
            let _ = write!(out, "edit> ");
        }
        let _ = out.flush();
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                warn_err("edit", "stdin", &e);
                return 1;
            }
        }
        match buf.command(&line, &path, &mut out) {
            Ok(true) => {}
            Ok(false) => return status,
            Err(msg) => {
                let _ = out.flush();
                crate::warn!("edit: {msg}");
                status = 1;
            }
        }
    }
    if buf.dirty {
        crate::warn!("edit: end of input with unsaved changes; not written");
        return 1;
    }
    status
}
