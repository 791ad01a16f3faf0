//! The counting options head and tail share: `-n [-+]N`, `-N`, `-c [-+]N`, `-q` (and `-f`
//! for tail), and the byte length of the first N lines.

use std::ffi::OsString;

use crate::util::io::inputs_or_stdin;
use crate::util::Parser;

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
