//! head: first lines (-n N, -n -N = all but the last N) or bytes (-c N) of files.
use std::ffi::OsString;
use std::io;

use crate::util::io::{for_each_file, inputs_or_stdin};
use crate::util::{finish, Parser};

const USAGE: &str =
    "usage: head [-n [-]N] [-c [-]N] [-q] [FILE...]\nPrint the first 10 lines of each FILE.";

/// A count with an optional leading sign: `-N` means "all but the last N" in head,
/// `+N` means "starting at N" in tail.
pub fn signed_count(text: &str) -> Option<(char, u64)> {
    let (sign, digits) = match text.chars().next() {
        Some(c @ ('-' | '+')) => (c, &text[1..]),
        _ => (' ', text),
    };
    Some((sign, crate::util::fmt::parse_size(digits)?))
}

/// Options shared by head and tail.
pub struct Counts {
    pub lines: (char, u64),
    pub bytes: Option<(char, u64)>,
    pub quiet: bool,
    pub follow: bool,
    pub files: Vec<OsString>,
}

/// Parse `-n N`, `-N`, `-c N`, `-q` (and `-f` when `allow_follow`).
pub fn parse_counts(
    applet: &'static str,
    usage: &'static str,
    args: &[OsString],
    allow_follow: bool,
) -> Result<Counts, i32> {
    let mut c = Counts {
        lines: (' ', 10),
        bytes: None,
        quiet: false,
        follow: false,
        files: Vec::new(),
    };
    let mut parser = Parser::new(applet, usage, args).longs(&[
        ("lines", 'n'),
        ("bytes", 'c'),
        ("quiet", 'q'),
        ("follow", 'f'),
    ]);
    parser.numeric_option = true;
    let files = parser.parse(|p, opt| {
        let bad = |v: &str| crate::util::args::Stop::Usage(format!("invalid number: '{v}'"));
        match opt {
            'n' | '#' => {
                let v = p.value()?;
                c.lines = signed_count(&v).ok_or_else(|| bad(&v))?;
            }
            'c' => {
                let v = p.value()?;
                c.bytes = Some(signed_count(&v).ok_or_else(|| bad(&v))?);
            }
            'q' => c.quiet = true,
            'f' | 'F' if allow_follow => c.follow = true,
            _ => return Err(p.unknown(opt)),
        }
        Ok(())
    })?;
    c.files = inputs_or_stdin(files);
    Ok(c)
}

pub fn main(args: &[OsString]) -> i32 {
    match parse_counts("head", USAGE, args, false) {
        Ok(c) => finish("head", run(&c)),
        Err(code) => code,
    }
}

/// Byte length of the first `n` lines of `data`.
pub fn prefix_lines(data: &[u8], n: u64) -> usize {
    if n == 0 {
        return 0;
    }
    let mut seen = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    data.len()
}

fn line_count(data: &[u8]) -> u64 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(!data.is_empty() && !data.ends_with(b"\n"))
}

fn run(c: &Counts) -> io::Result<i32> {
    let (lines, bytes) = (c.lines, c.bytes);
    let mut out = crate::util::stdout();
    for_each_file("head", &c.files, c.quiet, &mut out, |out, data| {
        let end = match bytes {
            Some(('-', n)) => data.len().saturating_sub(n as usize),
            Some((_, n)) => data.len().min(n as usize),
            None if lines.0 == '-' => prefix_lines(data, line_count(data).saturating_sub(lines.1)),
            None => prefix_lines(data, lines.1),
        };
        out.write_all(&data[..end])
    })
}
