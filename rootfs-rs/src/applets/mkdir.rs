//! mkdir: create directories; -p parents and no error if existing; -m MODE.
use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;

use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: mkdir [-p] [-m MODE] DIR...\nCreate directories.";

pub fn main(args: &[OsString]) -> i32 {
    let mut parents = false;
    let mut mode: Option<u32> = None;
    let ops = match Parser::new("mkdir", USAGE, args)
        .longs(&[("parents", 'p'), ("mode", 'm')])
        .parse(|p, c| {
            match c {
                'p' => parents = true,
                'm' => {
                    let v = p.value()?;
                    mode = Some(crate::util::mode::apply_mode(&v, 0o777, true).ok_or_else(
                        || crate::util::args::Stop::Usage(format!("invalid mode '{v}'")),
                    )?);
                }
                'v' => {}
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.is_empty() {
        return Parser::usage_error("mkdir", USAGE, "missing operand", 1);
    }
    let mut status = 0;
    for op in &ops {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(parents);
        if let Some(m) = mode {
            b.mode(m);
        }
        if let Err(e) = b.create(op) {
            warn_err(
                "mkdir",
                format!("cannot create directory '{}'", op.to_string_lossy()),
                &e,
            );
            status = 1;
            continue;
        }
        if let Some(m) = mode {
            // The umask must not narrow an explicit -m.
            let _ = std::fs::set_permissions(op, std::os::unix::fs::PermissionsExt::from_mode(m));
        }
    }
    status
}
