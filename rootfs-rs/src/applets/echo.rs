//! echo: print arguments; -n (no newline), -e (backslash escapes), -E.
use std::ffi::OsString;
use std::io::{self, Write};

use crate::util::finish;
use crate::util::text::unescape;

pub fn main(args: &[OsString]) -> i32 {
    let mut newline = true;
    let mut escapes = false;
    let mut rest = args;
    // echo accepts only clusters of n/e/E as options; anything else is text.
    while let Some(first) = rest.first() {
        let s = first.to_string_lossy();
        if s.len() < 2 || !s.starts_with('-') || !s[1..].chars().all(|c| "neE".contains(c)) {
            break;
        }
        for c in s[1..].chars() {
            match c {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        rest = &rest[1..];
    }
    finish("echo", run(rest, newline, escapes))
}

fn run(words: &[OsString], mut newline: bool, escapes: bool) -> io::Result<i32> {
    let mut line: Vec<u8> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        let text = w.to_string_lossy();
        if escapes {
            let (bytes, stop) = unescape(&text, true);
            line.extend_from_slice(&bytes);
            if stop {
                newline = false;
                break;
            }
        } else {
            line.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(w.as_os_str()));
        }
    }
    if newline {
        line.push(b'\n');
    }
    let mut out = io::stdout().lock();
    out.write_all(&line)?;
    out.flush()?;
    Ok(0)
}
