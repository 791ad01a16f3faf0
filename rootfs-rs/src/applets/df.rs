//! df: file system space usage (1K blocks, or -h human sizes); -a includes pseudo file systems.
use std::ffi::OsString;
use std::io::Write;

use crate::blockdev::mounts::{read_mounts, MountLine};
use crate::util::fmt::human;
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
    let mut status = 0;
    let mut rows: Vec<[String; 7]> = Vec::new();
    let selected: Vec<&MountLine> = if ops.is_empty() {
        mounts.iter().collect()
    } else {
        let mut sel = Vec::new();
        for op in &ops {
            // The mount holding a path is the longest mount point that prefixes its real path.
            let real = std::fs::canonicalize(op);
            match real {
                Ok(real) => {
                    if let Some(m) = mounts
                        .iter()
                        .filter(|m| real.starts_with(&m.target))
                        .max_by_key(|m| m.target.as_os_str().len())
                    {
                        sel.push(m);
                    }
                }
                Err(e) => {
                    warn_err("df", op.to_string_lossy(), &e);
                    status = 1;
                }
            }
        }
        sel
    };
    for m in selected {
        let Ok(st) = rustix::fs::statfs(&m.target) else {
            continue;
        };
        let bsize = st.f_frsize as u64;
        let total = st.f_blocks * bsize;
        if total == 0 && !all && ops.is_empty() {
            continue;
        }
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
        rows.push([
            m.source.clone(),
            m.fstype.clone(),
            size(total),
            size(used),
            size(avail),
            pct,
            m.target.to_string_lossy().into_owned(),
        ]);
    }
    let header = [
        "Filesystem".to_string(),
        "Type".to_string(),
        if human_sizes {
            "Size".into()
        } else {
            "1K-blocks".into()
        },
        "Used".into(),
        "Available".into(),
        "Use%".into(),
        "Mounted on".into(),
    ];
    let mut table = vec![header];
    table.extend(rows);
    let width = |i: usize| table.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let w: Vec<usize> = (0..7).map(width).collect();
    let mut out = crate::util::stdout();
    let result = (|| -> std::io::Result<()> {
        for r in &table {
            let kind = if show_type {
                format!(" {:<w1$}", r[1], w1 = w[1])
            } else {
                String::new()
            };
            writeln!(
                out,
                "{:<w0$}{kind} {:>w2$} {:>w3$} {:>w4$} {:>w5$} {}",
                r[0],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                w0 = w[0],
                w2 = w[2],
                w3 = w[3],
                w4 = w[4],
                w5 = w[5]
            )?;
        }
        out.flush()
    })();
    finish("df", result.map(|_| status))
}
