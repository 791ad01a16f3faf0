//! cat: concatenate files to stdout.
use std::ffi::OsString;
use std::io::{self, Write};

use crate::util::io::{display_path, inputs_or_stdin, open_input};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: cat [-nu] [FILE...]\nConcatenate FILEs (or stdin) to standard output.\n  -n  number output lines";

pub fn main(args: &[OsString]) -> i32 {
    let mut number = false;
    let files = match Parser::new("cat", USAGE, args).parse(|p, c| match c {
        'n' => {
            number = true;
            Ok(())
        }
        'u' => Ok(()),
        _ => Err(p.unknown(c)),
    }) {
        Ok(f) => f,
        Err(code) => return code,
    };
    finish("cat", run(inputs_or_stdin(files), number))
}

fn run(files: Vec<OsString>, number: bool) -> io::Result<i32> {
    let mut out = crate::util::stdout();
    let mut status = 0;
    let mut line_no = 0u64;
    let mut at_line_start = true;
    let mut buf = vec![0u8; 64 * 1024];
    for f in files {
        let mut input = match open_input(&f) {
            Ok(r) => r,
            Err(e) => {
                warn_err("cat", display_path(&f), &e);
                status = 1;
                continue;
            }
        };
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn_err("cat", display_path(&f), &e);
                    status = 1;
                    break;
                }
            };
            if !number {
                out.write_all(&buf[..n])?;
                continue;
            }
            for &b in &buf[..n] {
                if at_line_start {
                    line_no += 1;
                    write!(out, "{line_no:>6}\t")?;
                }
                out.write_all(&[b])?;
                at_line_start = b == b'\n';
            }
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(status)
}
