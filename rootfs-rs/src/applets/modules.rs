//! insmod, rmmod, lsmod: load (finit_module), unload (delete_module) and list kernel modules.
use std::ffi::{CString, OsString};
use std::io::Write;

use crate::util::{finish, warn_err, Parser};

const MODULE_INIT_COMPRESSED_FILE: i32 = 4;

pub fn main_insmod(args: &[OsString]) -> i32 {
    const USAGE: &str = "usage: insmod FILE [PARAM=VALUE...]\nLoad a kernel module (.ko, or .ko.xz/.ko.zst/.ko.gz if the kernel decompresses).";
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
    let Ok(params) = CString::new(params.join(" ")) else {
        crate::warn!("insmod: parameters contain a NUL byte");
        return 1;
    };
    let name = file.to_string_lossy();
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => {
            warn_err("insmod", &name, &e);
            return 1;
        }
    };
    let compressed = [".xz", ".zst", ".gz"].iter().any(|s| name.ends_with(s));
    let flags = if compressed {
        MODULE_INIT_COMPRESSED_FILE
    } else {
        0
    };
    match rustix::system::finit_module(&f, &params, flags) {
        Ok(()) => 0,
        Err(e) => {
            let why = match e {
                rustix::io::Errno::EXIST => "module already loaded".to_string(),
                rustix::io::Errno::NOEXEC => "invalid module format".to_string(),
                rustix::io::Errno::NOENT => {
                    "unknown symbol in module, or unknown parameter".to_string()
                }
                other => crate::util::reason(&other.into()),
            };
            crate::warn!("insmod: cannot insert '{name}': {why}");
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
    const O_NONBLOCK: i32 = 0o4000;
    const O_TRUNC: i32 = 0o1000;
    let flags = O_NONBLOCK | if force { O_TRUNC } else { 0 };
    let mut status = 0;
    for m in &ops {
        // "rmmod /path/foo.ko" and "foo-bar" both mean module foo_bar.
        let text = m.to_string_lossy();
        let base = text.rsplit('/').next().unwrap_or(&text);
        let name = base.split(".ko").next().unwrap_or(base).replace('-', "_");
        let Ok(cname) = CString::new(name.clone()) else {
            continue;
        };
        if let Err(e) = rustix::system::delete_module(&cname, flags) {
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
