//! insmod, rmmod, lsmod: load (finit_module), unload (delete_module) and list kernel modules.
use std::ffi::{CString, OsString};
use std::io::Write;

use crate::util::{finish, warn_err, Parser};

pub fn main_insmod(args: &[OsString]) -> i32 {
    const USAGE: &str = "usage: insmod FILE [PARAM=VALUE...]\nLoad a kernel module (.ko, .ko.gz, .ko.zst; .ko.xz if the kernel decompresses xz).";
    let ops = match Parser::new("insmod", USAGE, args).parse(|p, c| Err(p.unknown(c))) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let Some((file, params)) = ops.split_first() else {
        return Parser::usage_error("insmod", USAGE, "missing module file", 1);
    };
    let params: Vec<String> = params
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let name = file.to_string_lossy();
    // A missing file is the common mistake: say it as every file tool does.
    if let Err(e) = std::fs::metadata(file) {
        warn_err("insmod", &name, &e);
        return 1;
    }
    match crate::kmod::load::insert_file(std::path::Path::new(file), &params.join(" ")) {
        Ok(()) => 0,
        Err(crate::kmod::load::InsertError::Kernel(rustix::io::Errno::EXIST)) => {
            crate::warn!("insmod: cannot insert '{name}': module already loaded");
            1
        }
        Err(e) => {
            crate::warn!("insmod: cannot insert '{name}': {e}");
            1
        }
    }
}

pub fn main_rmmod(args: &[OsString]) -> i32 {
    const USAGE: &str = "usage: rmmod [-f] MODULE...\nUnload kernel modules.";
    let mut force = false;
    let ops = match Parser::new("rmmod", USAGE, args).parse(|p, c| match c {
        'f' => {
            force = true;
            Ok(())
        }
        'w' | 's' | 'v' => Ok(()),
        _ => Err(p.unknown(c)),
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.is_empty() {
        return Parser::usage_error("rmmod", USAGE, "missing module name", 1);
    }
    let mut status = 0;
    for m in &ops {
        // "rmmod /path/foo.ko" and "foo-bar" both mean module foo_bar.
        let text = m.to_string_lossy();
        let base = text.rsplit('/').next().unwrap_or(&text);
        let name = base.split(".ko").next().unwrap_or(base).replace('-', "_");
        let Ok(cname) = CString::new(name.clone()) else {
            continue;
        };
        if let Err(e) = crate::sys::delete_module(&cname, force) {
            warn_err("rmmod", format!("cannot remove '{name}'"), &e.into());
            status = 1;
        }
    }
    status
}

pub fn main_lsmod(args: &[OsString]) -> i32 {
    if args.iter().any(|a| a == "--help") {
        return finish(
            "lsmod",
            writeln!(
                std::io::stdout(),
                "usage: lsmod\nList loaded kernel modules."
            )
            .map(|_| 0),
        );
    }
    let text = match std::fs::read_to_string("/proc/modules") {
        Ok(t) => t,
        Err(e) => {
            warn_err("lsmod", "/proc/modules", &e);
            return 1;
        }
    };
    let mut out = crate::util::stdout();
    let result = (|| -> std::io::Result<()> {
        writeln!(out, "{:<19} {:>8}  Used by", "Module", "Size")?;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                continue;
            }
            let users = f[3].trim_end_matches(',').replace('-', "");
            let users = users.trim_end_matches(',');
            writeln!(out, "{:<19} {:>8}  {} {}", f[0], f[1], f[2], users)?;
        }
        out.flush()
    })();
    finish("lsmod", result.map(|_| 0))
}
