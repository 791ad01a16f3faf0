//! wc: count lines, words and bytes (-l -w -c), coreutils column layout.
use std::ffi::OsString;
use std::io::{self, Read, Write};

use crate::util::io::{display_path, inputs_or_stdin, open_input};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: wc [-lwc] [FILE...]\nPrint line, word and byte counts.";

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: u64,
    words: u64,
    bytes: u64,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut want = [false; 3];
    let files = match Parser::new("wc", USAGE, args)
        .longs(&[("lines", 'l'), ("words", 'w'), ("bytes", 'c')])
        .parse(|p, c| {
            match c {
                'l' => want[0] = true,
                'w' => want[1] = true,
                'c' | 'm' => want[2] = true,
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !want.iter().any(|&w| w) {
        want = [true; 3];
    }
    finish("wc", run(files, want))
}

fn count(mut r: Box<dyn Read>) -> io::Result<Counts> {
    let mut c = Counts::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut in_word = false;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        c.bytes += n as u64;
        for &b in &buf[..n] {
            if b == b'\n' {
                c.lines += 1;
            }
            let space = b.is_ascii_whitespace() || b == 0x0b;
            if !space && !in_word {
                c.words += 1;
            }
            in_word = !space;
        }
    }
    Ok(c)
}

/// Column width as coreutils computes it: digits of the total size of regular files,
/// at least 7 when any input is not a regular file.
fn column_width(files: &[OsString], selected: usize) -> usize {
    if files.len() == 1 && selected == 1 {
        return 1;
    }
    let mut total = 0u64;
    let mut minimum = 1;
    for f in files {
        match std::fs::metadata(f) {
            Ok(m) if m.is_file() && f != "-" => total += m.len(),
            Ok(_) => minimum = 7,
            Err(_) if f == "-" => minimum = 7,
            Err(_) => {}
        }
    }
    total.to_string().len().max(minimum)
}

fn run(files: Vec<OsString>, want: [bool; 3]) -> io::Result<i32> {
    let named = !files.is_empty();
    let files = inputs_or_stdin(files);
    let width = column_width(&files, want.iter().filter(|&&w| w).count());
    let mut out = crate::util::stdout();
    let mut total = Counts::default();
    let mut status = 0;
    let line = |c: &Counts| {
        let fields = [c.lines, c.words, c.bytes];
        fields
            .iter()
            .zip(want)
            .filter(|(_, w)| *w)
            .map(|(v, _)| format!("{v:>width$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for f in &files {
        let counts = match open_input(f).and_then(count) {
            Ok(c) => c,
            Err(e) => {
                warn_err("wc", display_path(f), &e);
                status = 1;
                continue;
            }
        };
        total.lines += counts.lines;
        total.words += counts.words;
        total.bytes += counts.bytes;
        if named {
            writeln!(out, "{} {}", line(&counts), f.to_string_lossy())?;
        } else {
            writeln!(out, "{}", line(&counts))?;
        }
    }
    if files.len() > 1 {
        writeln!(out, "{} total", line(&total))?;
    }
    out.flush()?;
    Ok(status)
}
