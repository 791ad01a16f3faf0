//! tail: last lines (-n N, -n +N from line N) or bytes (-c N) of files; -f follows growth.
use std::ffi::OsString;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::util::counts::{parse_counts, prefix_lines, Counts};
use crate::util::io::for_each_file;
use crate::util::{finish, warn_err};

const USAGE: &str = "usage: tail [-f] [-n [+]N] [-c [+]N] [-q] [FILE...]\nPrint the last 10 lines of each FILE; -f keeps reading as the file grows.";

pub fn main(args: &[OsString]) -> i32 {
    match parse_counts("tail", USAGE, args, true) {
        Ok(c) => finish("tail", run(&c)),
        Err(code) => code,
    }
}

/// Offset where the last `n` lines start (a final line without newline counts).
fn start_of_last_lines(data: &[u8], n: u64) -> usize {
    if n == 0 {
        return data.len();
    }
    let mut seen = 0;
    let body = if data.ends_with(b"\n") {
        &data[..data.len() - 1]
    } else {
        data
    };
    for i in (0..body.len()).rev() {
        if body[i] == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

fn run(c: &Counts) -> io::Result<i32> {
    let (lines, bytes, files) = (c.lines, c.bytes, &c.files);
    let mut out = crate::util::stdout();
    let status = for_each_file("tail", files, c.quiet, &mut out, |out, data| {
        let start = match (bytes, lines) {
            (Some(('+', n)), _) => (n.saturating_sub(1) as usize).min(data.len()),
            (Some((_, n)), _) => data.len().saturating_sub(n as usize),
            // Line N starts where the first N-1 lines end.
            (None, ('+', n)) => prefix_lines(data, n.saturating_sub(1)),
            (None, (_, n)) => start_of_last_lines(data, n),
        };
        out.write_all(&data[start..])
    })?;
    if c.follow {
        if let Some(last) = files.last().filter(|f| *f != "-") {
            return follow_file(last, &mut out).map(|_| status);
        }
    }
    Ok(status)
}

/// Poll the file for appended data until killed; restart from 0 if it was truncated.
fn follow_file(path: &OsString, out: &mut impl Write) -> io::Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            warn_err("tail", path.to_string_lossy(), &e);
            return Ok(());
        }
    };
    let mut pos = file.seek(SeekFrom::End(0))?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let len = file.metadata()?.len();
        if len < pos {
            pos = file.seek(SeekFrom::Start(0))?;
        }
        let n = file.read(&mut buf)?;
        if n == 0 {
            std::thread::sleep(std::time::Duration::from_millis(250));
            continue;
        }
        pos += n as u64;
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}
