//! du: disk usage of trees in 1K blocks (-h human, -s summary only, -a all files); hard links count once.
use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::util::fmt::human;
use crate::util::walk::{walk, Visit};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: du [-ahs] [PATH...]\nEstimate file space usage.";

/// Adds the lines for `op` (its total; with -a or without -s, its files or directories);
/// false if something could not be read. `flags`: (-h, -s, -a).
fn measure(
    op: &Path,
    (human_sizes, summary, all): (bool, bool, bool),
    seen: &mut HashSet<(u64, u64)>,
    lines: &mut Vec<String>,
) -> bool {
    let fmt = |bytes: u64| {
        if human_sizes {
            human(bytes)
        } else {
            bytes.div_ceil(1024).to_string()
        }
    };
    let mut ok = true;
    // Sizes of the directories currently open, innermost last.
    let mut stack: Vec<u64> = Vec::new();
    walk(
        op,
        true,
        &mut |path, meta, depth, visit| {
            match visit {
                Visit::Pre => {
                    let counted =
                        meta.nlink() <= 1 || meta.is_dir() || seen.insert((meta.dev(), meta.ino()));
                    let own = if counted { meta.blocks() * 512 } else { 0 };
                    if meta.is_dir() {
                        stack.push(own);
                    } else {
                        if let Some(top) = stack.last_mut() {
                            *top += own;
                        }
                        if (all && !summary) || depth == 0 {
                            lines.push(format!("{}\t{}", fmt(own), path.display()));
                        }
                    }
                }
                Visit::Post => {
                    let total = stack.pop().unwrap_or(0);
                    if let Some(parent) = stack.last_mut() {
                        *parent += total;
                    }
                    if !summary || depth == 0 {
                        lines.push(format!("{}\t{}", fmt(total), path.display()));
                    }
                }
            }
            true
        },
        &mut |path, e| {
            warn_err("du", format!("cannot access '{}'", path.display()), e);
            ok = false;
        },
    );
    ok
}

pub fn main(args: &[OsString]) -> i32 {
    let (mut human_sizes, mut summary, mut all) = (false, false, false);
    let ops = match Parser::new("du", USAGE, args).parse(|p, c| {
        match c {
            'h' => human_sizes = true,
            's' => summary = true,
            'a' => all = true,
            'k' | 'x' => {}
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let ops = if ops.is_empty() {
        vec![OsString::from(".")]
    } else {
        ops
    };
    let mut lines = Vec::new();
    let mut status = 0;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    for op in &ops {
        if !measure(
            Path::new(op),
            (human_sizes, summary, all),
            &mut seen,
            &mut lines,
        ) {
            status = 1;
        }
    }
    let mut out = crate::util::stdout();
    let result = (|| -> std::io::Result<()> {
        for l in &lines {
            writeln!(out, "{l}")?;
        }
        out.flush()
    })();
    finish("du", result.map(|_| status))
}
