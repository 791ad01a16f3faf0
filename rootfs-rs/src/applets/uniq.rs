//! uniq: collapse adjacent equal lines; -c count, -d only repeated, -u only unique, -i fold case.
use std::ffi::OsString;
use std::io::{self, Write};

use crate::util::io::{read_inputs, split_lines};
use crate::util::{finish, Parser};

const USAGE: &str = "usage: uniq [-cdui] [INPUT [OUTPUT]]\nFilter adjacent matching lines.";

pub fn main(args: &[OsString]) -> i32 {
    let (mut count, mut dups, mut uniques, mut fold) = (false, false, false, false);
    let mut files = match Parser::new("uniq", USAGE, args).parse(|p, c| {
        match c {
            'c' => count = true,
            'd' => dups = true,
            'u' => uniques = true,
            'i' => fold = true,
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let output = if files.len() > 1 { files.pop() } else { None };
    let mut status = 0;
    let data = read_inputs("uniq", files, 1, &mut status);
    let lines = split_lines(&data);
    let mut text = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len()
            && (lines[j] == lines[i] || (fold && lines[j].eq_ignore_ascii_case(lines[i])))
        {
            j += 1;
        }
        let n = j - i;
        if (!dups || n > 1) && (!uniques || n == 1) {
            if count {
                text.extend_from_slice(format!("{n:>7} ").as_bytes());
            }
            text.extend_from_slice(lines[i]);
            text.push(b'\n');
        }
        i = j;
    }
    let written: io::Result<()> = match &output {
        Some(path) => std::fs::write(path, &text).or_else(|e| {
            crate::util::warn_err("uniq", path.to_string_lossy(), &e);
            status = 1;
            Ok(())
        }),
        None => {
            let mut out = io::stdout().lock();
            out.write_all(&text).and_then(|_| out.flush())
        }
    };
    finish("uniq", written.map(|_| status))
}
