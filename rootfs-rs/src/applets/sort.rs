//! sort: sort lines bytewise (C locale); -r -n -u, -k N (key from field N), -t SEP.
use std::cmp::Ordering;
use std::ffi::OsString;
use std::io::{self, Write};

use crate::util::io::{read_inputs, split_lines};
use crate::util::{finish, Parser};

const USAGE: &str =
    "usage: sort [-rnuf] [-t SEP] [-k N] [-o FILE] [FILE...]\nSort lines of text (byte order).";

struct Options {
    reverse: bool,
    numeric: bool,
    unique: bool,
    fold: bool,
    key: Option<usize>,
    separator: Option<u8>,
    output: Option<String>,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut o = Options {
        reverse: false,
        numeric: false,
        unique: false,
        fold: false,
        key: None,
        separator: None,
        output: None,
    };
    let files =
        match Parser::new("sort", USAGE, args).code(2).parse(|p, c| {
            match c {
                'r' => o.reverse = true,
                'n' => o.numeric = true,
                'u' => o.unique = true,
                'f' => o.fold = true,
                'k' => {
                    let v = p.value()?;
                    let field = v
                        .split([',', '.'])
                        .next()
                        .unwrap_or("")
                        .trim_end_matches(|c: char| c.is_alphabetic());
                    o.key = Some(field.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(
                        || crate::util::args::Stop::Usage(format!("invalid key '{v}'")),
                    )?);
                }
                't' => o.separator = p.value()?.bytes().next(),
                'o' => o.output = Some(p.value()?),
                's' => {}
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
            Ok(f) => f,
            Err(code) => return code,
        };
    finish("sort", run(files, &o))
}

/// The sort key of a line: from field `key` to the end of the line.
fn key<'a>(line: &'a [u8], o: &Options) -> &'a [u8] {
    let Some(field) = o.key else { return line };
    let mut i = 0;
    for _ in 1..field {
        match o.separator {
            Some(sep) => match line[i..].iter().position(|&b| b == sep) {
                Some(p) => i += p + 1,
                None => return &[],
            },
            None => {
                // Fields are separated by the transition from blank to non-blank; leading
                // blanks belong to the field.
                while i < line.len() && line[i].is_ascii_whitespace() {
                    i += 1;
                }
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i >= line.len() {
                    return &[];
                }
            }
        }
    }
    &line[i..]
}

/// Leading number (blanks, sign, digits, fraction) as f64; no number sorts as zero.
fn numeric_value(text: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(text);
    let t = s.trim_start();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map(|(i, _)| i)
        .unwrap_or(t.len());
    crate::util::fmt::parse_decimal(&t[..end]).unwrap_or(0.0)
}

fn compare_keys(a: &[u8], b: &[u8], o: &Options) -> Ordering {
    let (ka, kb) = (key(a, o), key(b, o));
    if o.numeric {
        numeric_value(ka)
            .partial_cmp(&numeric_value(kb))
            .unwrap_or(Ordering::Equal)
    } else if o.fold {
        ka.to_ascii_uppercase().cmp(&kb.to_ascii_uppercase())
    } else {
        ka.cmp(kb)
    }
}

fn run(files: Vec<OsString>, o: &Options) -> io::Result<i32> {
    let mut status = 0;
    let data = read_inputs("sort", files, 2, &mut status);
    let mut lines = split_lines(&data);
    lines.sort_by(|a, b| {
        // Equal keys fall back to comparing whole lines, as coreutils does without -s.
        let ord =
            compare_keys(a, b, o).then_with(|| if o.unique { Ordering::Equal } else { a.cmp(b) });
        if o.reverse {
            ord.reverse()
        } else {
            ord
        }
    });
    if o.unique {
        lines.dedup_by(|a, b| compare_keys(a, b, o) == Ordering::Equal);
    }
    let mut buf = Vec::with_capacity(data.len());
    for l in lines {
        buf.extend_from_slice(l);
        buf.push(b'\n');
    }
    match &o.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &buf) {
                crate::util::warn_err("sort", path, &e);
                return Ok(2);
            }
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
    Ok(status)
}
