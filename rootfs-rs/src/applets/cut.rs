//! cut: select fields (-f with -d, -s) or characters/bytes (-c, -b) from each line.
use std::ffi::OsString;
use std::io::{self, Write};

use crate::util::args::Stop;
use crate::util::io::{read_inputs, split_lines};
use crate::util::{finish, Parser};

const USAGE: &str = "usage: cut -f LIST [-d DELIM] [-s] | -c LIST | -b LIST [FILE...]\nPrint selected parts of lines. LIST is N, N-M, N-, -M separated by commas.";

/// Inclusive 1-based ranges.
fn parse_list(text: &str) -> Option<Vec<(usize, usize)>> {
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                if a.is_empty() { 1 } else { a.parse().ok()? },
                if b.is_empty() {
                    usize::MAX
                } else {
                    b.parse().ok()?
                },
            ),
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        if lo == 0 || hi < lo {
            return None;
        }
        ranges.push((lo, hi));
    }
    Some(ranges)
}

fn selected(ranges: &[(usize, usize)], n: usize) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= n && n <= hi)
}

enum Mode {
    Fields,
    Chars,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut mode: Option<(Mode, Vec<(usize, usize)>)> = None;
    let mut delim = b'\t';
    let mut only_delimited = false;
    let files = match Parser::new("cut", USAGE, args).parse(|p, c| {
        match c {
            'f' | 'c' | 'b' => {
                let v = p.value()?;
                let list =
                    parse_list(&v).ok_or_else(|| Stop::Usage(format!("invalid list '{v}'")))?;
                mode = Some((if c == 'f' { Mode::Fields } else { Mode::Chars }, list));
            }
            'd' => {
                let v = p.value()?;
                if v.len() != 1 {
                    return Err(Stop::Usage(
                        "the delimiter must be a single character".into(),
                    ));
                }
                delim = v.as_bytes()[0];
            }
            's' => only_delimited = true,
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Some((mode, ranges)) = mode else {
        return Parser::usage_error(
            "cut",
            USAGE,
            "you must specify a list of bytes, characters, or fields",
            1,
        );
    };
    let mut status = 0;
    let data = read_inputs("cut", files, 1, &mut status);
    let mut text = Vec::with_capacity(data.len());
    for line in split_lines(&data) {
        match mode {
            Mode::Chars => {
                text.extend(
                    line.iter()
                        .enumerate()
                        .filter(|(i, _)| selected(&ranges, i + 1))
                        .map(|(_, &b)| b),
                );
            }
            Mode::Fields => {
                if !line.contains(&delim) {
                    if only_delimited {
                        continue;
                    }
                    text.extend_from_slice(line);
                } else {
                    let picked: Vec<&[u8]> = line
                        .split(|&b| b == delim)
                        .enumerate()
                        .filter(|(i, _)| selected(&ranges, i + 1))
                        .map(|(_, f)| f)
                        .collect();
                    text.extend_from_slice(&picked.join(&delim));
                }
            }
        }
        text.push(b'\n');
    }
    let mut out = io::stdout().lock();
    finish(
        "cut",
        out.write_all(&text)
            .and_then(|_| out.flush())
            .map(|_| status),
    )
}
