//! which: locate commands in PATH (-a: all matches).
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::util::path::{is_executable, search_path};
use crate::util::{finish, Parser};

const USAGE: &str =
    "usage: which [-a] COMMAND...\nPrint the full path of each COMMAND found in PATH.";

/// Executable regular files named `name` in PATH, in PATH order.
pub fn find_in_path(name: &str, all: bool) -> Vec<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return if is_executable(&p) {
            vec![p]
        } else {
            Vec::new()
        };
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/sbin:/usr/sbin:/bin:/usr/bin".into());
    search_path(&path, name)
        .take(if all { usize::MAX } else { 1 })
        .collect()
}

pub fn main(args: &[OsString]) -> i32 {
    let mut all = false;
    let names = match Parser::new("which", USAGE, args).parse(|p, c| match c {
        'a' => {
            all = true;
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(n) => n,
        Err(code) => return code,
    };
    finish("which", run(&names, all))
}

fn run(names: &[OsString], all: bool) -> std::io::Result<i32> {
    let mut out = crate::util::stdout();
    let mut status = if names.is_empty() { 1 } else { 0 };
    for name in names {
        let found = find_in_path(&name.to_string_lossy(), all);
        if found.is_empty() {
            status = 1;
        }
        for p in found {
            writeln!(out, "{}", p.display())?;
        }
    }
    out.flush()?;
    Ok(status)
}
