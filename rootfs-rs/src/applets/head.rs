//! head: first lines (-n N, -n -N = all but the last N) or bytes (-c N) of files.
use std::ffi::OsString;
use std::io;

use crate::util::counts::{parse_counts, prefix_lines, Counts};
use crate::util::finish;
use crate::util::io::for_each_file;

const USAGE: &str =
    "usage: head [-n [-]N] [-c [-]N] [-q] [FILE...]\nPrint the first 10 lines of each FILE.";

pub fn main(args: &[OsString]) -> i32 {
    match parse_counts("head", USAGE, args, false) {
        Ok(c) => finish("head", run(&c)),
        Err(code) => code,
    }
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
