//! df: file system space usage (1K blocks, or -h human sizes); -a includes pseudo file systems.
use std::ffi::OsString;
use std::io::Write;

use crate::blockdev::mounts::{read_mounts, MountLine};
use crate::util::fmt::human;
use crate::util::table::{table, Align};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: df [-ahkT] [PATH...]\nReport file system space usage.";

pub fn main(args: &[OsString]) -> i32 {
    let (mut human_sizes, mut all, mut show_type) = (false, false, false);
    let ops = match Parser::new("df", USAGE, args).parse(|p, c| {
        match c {
            'h' => human_sizes = true,
            'a' => all = true,
            'T' => show_type = true,
            'k' | 'P' => {}
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mounts = read_mounts();
    let (selected, status) = if ops.is_empty() {
        (mounts.iter().collect(), 0)
    } else {
        mounts_holding(&ops, &mounts)
    };
    let mut rows: Vec<[String; 7]> = Vec::new();
    for m in selected {
        let Ok(st) = rustix::fs::statfs(&m.target) else {
            continue;
        };
        let bsize = st.f_frsize as u64;
        let total = st.f_blocks * bsize;
        if total == 0 && !all && ops.is_empty() {
            continue;
        }
        rows.push(usage_row(m, &st, human_sizes));
    }
    let header = [
        "Filesystem",
        "Type",
        if human_sizes { "Size" } else { "1K-blocks" },
        "Used",
        "Available",
        "Use%",
        "Mounted on",
    ]
    .map(String::from);
    let mut table_rows = vec![header];
    table_rows.extend(rows);
    // The type column only with -T; sizes and Use% right-aligned.
    let shown: Vec<Vec<String>> = table_rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .enumerate()
                .filter(|(i, _)| show_type || *i != 1)
                .map(|(_, cell)| cell)
                .collect()
        })
        .collect();
    let first_number = if show_type { 2 } else { 1 };
    let lines = table(&shown, |c| {
        if (first_number..first_number + 4).contains(&c) {
            Align::Right
        } else {
            Align::Left
        }
    });
    let mut out = crate::util::stdout();
    let result = (|| -> std::io::Result<()> {
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        out.flush()
    })();
    finish("df", result.map(|_| status))
}

/// The mount holding each path: the longest mount point that prefixes its real path. A
/// path that cannot be resolved is reported and makes the status 1.
fn mounts_holding<'a>(paths: &[OsString], mounts: &'a [MountLine]) -> (Vec<&'a MountLine>, i32) {
    let mut status = 0;
    let mut selected = Vec::new();
    for op in paths {
        match std::fs::canonicalize(op) {
            Ok(real) => {
                if let Some(m) = mounts
                    .iter()
                    .filter(|m| real.starts_with(&m.target))
                    .max_by_key(|m| m.target.as_os_str().len())
                {
                    selected.push(m);
                }
            }
            Err(e) => {
                warn_err("df", op.to_string_lossy(), &e);
                status = 1;
            }
        }
    }
    (selected, status)
}

/// Filesystem, type, size, used, available, use% and mount point of one mount.
fn usage_row(m: &MountLine, st: &rustix::fs::StatFs, human_sizes: bool) -> [String; 7] {
    let bsize = st.f_frsize as u64;
    let total = st.f_blocks * bsize;
    let free = st.f_bfree * bsize;
    let avail = st.f_bavail * bsize;
    let used = total.saturating_sub(free);
    let pct = if used + avail == 0 {
        "-".to_string()
    } else {
        format!("{}%", (used * 100).div_ceil(used + avail))
    };
    let size = |b: u64| {
        if human_sizes {
            human(b)
        } else {
            b.div_ceil(1024).to_string()
        }
    };
    [
        m.source.clone(),
        m.fstype.clone(),
        size(total),
        size(used),
        size(avail),
        pct,
        m.target.to_string_lossy().into_owned(),
    ]
}
