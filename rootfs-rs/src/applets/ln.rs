//! ln: make hard links or (-s) symbolic links; -f replaces existing destinations.
use std::ffi::OsString;

use crate::util::fsops::Transfer;
use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: ln [-sfn] TARGET... LINK_NAME|DIR\nCreate links.";

pub fn main(args: &[OsString]) -> i32 {
    let (mut symbolic, mut force, mut no_deref) = (false, false, false);
    let ops = match Parser::new("ln", USAGE, args)
        .longs(&[("symbolic", 's'), ("force", 'f')])
        .parse(|p, c| {
            match c {
                's' => symbolic = true,
                'f' => force = true,
                'n' => no_deref = true,
                'v' => {}
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let ops = if ops.len() == 1 {
        vec![ops[0].clone(), ".".into()]
    } else {
        ops
    };
    let mut transfer = match Transfer::parse("ln", USAGE, ops) {
        Ok(t) => t,
        Err(code) => return code,
    };
    // -n: a symlink to a directory is replaced, not entered.
    if no_deref
        && std::fs::symlink_metadata(&transfer.target).is_ok_and(|m| m.file_type().is_symlink())
    {
        transfer.into_dir = false;
    }
    transfer.each(|src, dest| {
        if force && std::fs::symlink_metadata(dest).is_ok_and(|m| !m.is_dir()) {
            let _ = std::fs::remove_file(dest);
        }
        let result = if symbolic {
            std::os::unix::fs::symlink(src, dest)
        } else {
            std::fs::hard_link(src, dest)
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                warn_err(
                    "ln",
                    format!("failed to create link '{}'", dest.display()),
                    &e,
                );
                false
            }
        }
    })
}
