//! hexdump: -C canonical hex+ASCII dump (default: 16-bit words like hexdump), -n LEN, -s SKIP.
use std::ffi::OsString;
use std::io::{self, Read, Write};

use crate::util::io::{display_path, inputs_or_stdin, open_input};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str =
    "usage: hexdump [-C] [-n LENGTH] [-s OFFSET] [FILE...]\nDisplay file contents in hexadecimal.";

pub fn main(args: &[OsString]) -> i32 {
    let mut canonical = false;
    let mut length: Option<u64> = None;
    let mut skip = 0u64;
    let files = match Parser::new("hexdump", USAGE, args).parse(|p, c| {
        let bad = |v: &str| crate::util::args::Stop::Usage(format!("invalid number '{v}'"));
        match c {
            'C' => canonical = true,
            'n' => {
                let v = p.value()?;
                length = Some(
                    crate::util::fmt::parse_size(&v)
                        .or_else(|| crate::util::fmt::parse_c_number(&v))
                        .ok_or_else(|| bad(&v))?,
                );
            }
            's' => {
                let v = p.value()?;
                skip = crate::util::fmt::parse_size(&v)
                    .or_else(|| crate::util::fmt::parse_c_number(&v))
                    .ok_or_else(|| bad(&v))?;
            }
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut data = Vec::new();
    let mut status = 0;
    // Inputs are concatenated, like hexdump does.
    for f in inputs_or_stdin(files) {
        match open_input(&f).and_then(|mut r| r.read_to_end(&mut data)) {
            Ok(_) => {}
            Err(e) => {
                warn_err("hexdump", display_path(&f), &e);
                status = 1;
            }
        }
    }
    let start = (skip as usize).min(data.len());
    let end = length
        .map(|l| start.saturating_add(l as usize).min(data.len()))
        .unwrap_or(data.len());
    finish(
        "hexdump",
        dump(&data[start..end], skip, canonical).map(|_| status),
    )
}

fn dump(data: &[u8], base: u64, canonical: bool) -> io::Result<()> {
    let mut out = crate::util::stdout();
    let mut previous: Option<&[u8]> = None;
    let mut starred = false;
    for (i, chunk) in data.chunks(16).enumerate() {
        let offset = base + (i * 16) as u64;
        // Repeated full lines collapse into one "*".
        if previous == Some(chunk) && chunk.len() == 16 {
            if !starred {
                writeln!(out, "*")?;
                starred = true;
            }
            continue;
        }
        starred = false;
        previous = Some(chunk);
        if canonical {
            let mut line = format!("{offset:08x} ");
            for j in 0..16 {
                if j == 8 {
                    line.push(' ');
                }
                match chunk.get(j) {
                    Some(b) => line.push_str(&format!(" {b:02x}")),
                    None => line.push_str("   "),
                }
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            writeln!(out, "{line}  |{ascii}|")?;
        } else {
            let mut line = format!("{offset:07x}");
            for pair in chunk.chunks(2) {
                let word = u16::from(pair[0]) | (u16::from(pair.get(1).copied().unwrap_or(0)) << 8);
                line.push_str(&format!(" {word:04x}"));
            }
            writeln!(out, "{line}")?;
        }
    }
    let end = base + data.len() as u64;
    if canonical {
        if !data.is_empty() {
            writeln!(out, "{end:08x}")?;
        }
    } else {
        writeln!(out, "{end:07x}")?;
    }
    out.flush()
}
