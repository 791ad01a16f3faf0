//! more: page text a screenful at a time when stdout is a terminal (space: page, enter: line,
//! q: quit); otherwise behaves like cat.
use std::ffi::OsString;
use std::io::{self, Read, Write};

use crate::util::io::{display_path, inputs_or_stdin, read_all, split_lines};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: more [FILE...]\nPage through text one screenful at a time.";

/// Terminal rows, with 24 for a 0x0 serial console.
pub fn terminal_rows() -> usize {
    match rustix::termios::tcgetwinsize(rustix::stdio::stdout()) {
        Ok(ws) if ws.ws_row > 0 => ws.ws_row as usize,
        _ => 24,
    }
}

pub fn main(args: &[OsString]) -> i32 {
    let files = match Parser::new("more", USAGE, args).parse(|p, c| Err(p.unknown(c))) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !rustix::termios::isatty(rustix::stdio::stdout()) {
        return super::cat::main(&files);
    }
    finish("more", page(inputs_or_stdin(files)))
}

fn page(files: Vec<OsString>) -> io::Result<i32> {
    // Keys come from the terminal even when the text comes from stdin.
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let saved = rustix::termios::tcgetattr(&tty)?;
    let mut raw = saved.clone();
    raw.local_modes
        .remove(rustix::termios::LocalModes::ICANON | rustix::termios::LocalModes::ECHO);
    rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &raw)?;
    let result = page_with(&files, &tty);
    let _ = rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &saved);
    result
}

fn page_with(files: &[OsString], mut tty: &std::fs::File) -> io::Result<i32> {
    let mut out = io::stdout().lock();
    let rows = terminal_rows().saturating_sub(1).max(1);
    let mut status = 0;
    let mut budget = rows;
    for f in files {
        let data = match read_all(f) {
            Ok(d) => d,
            Err(e) => {
                warn_err("more", display_path(f), &e);
                status = 1;
                continue;
            }
        };
        for line in split_lines(&data) {
            if budget == 0 {
                out.write_all(b"\x1b[7m--More--\x1b[0m")?;
                out.flush()?;
                let mut key = [0u8; 1];
                let n = tty.read(&mut key)?;
                out.write_all(b"\r\x1b[K")?;
                match key[0] {
                    _ if n == 0 => return Ok(status),
                    b'q' | b'Q' => return Ok(status),
                    b'\n' | b'\r' => budget = 1,
                    _ => budget = rows,
                }
            }
            out.write_all(line)?;
            out.write_all(b"\n")?;
            budget -= 1;
        }
    }
    out.flush()?;
    Ok(status)
}
