//! rmdir: remove empty directories; -p also removes emptied parents.
use std::ffi::OsString;
use std::path::Path;

use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: rmdir [-p] DIR...\nRemove empty directories.";

pub fn main(args: &[OsString]) -> i32 {
    let mut parents = false;
    let ops = match Parser::new("rmdir", USAGE, args).parse(|p, c| match c {
        'p' => {
            parents = true;
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.is_empty() {
        return Parser::usage_error("rmdir", USAGE, "missing operand", 1);
    }
    let mut status = 0;
    for op in &ops {
        let mut path = Path::new(op);
        loop {
            if let Err(e) = std::fs::remove_dir(path) {
                warn_err(
                    "rmdir",
                    format!("failed to remove '{}'", path.display()),
                    &e,
                );
                status = 1;
                break;
            }
            match path.parent() {
                Some(p) if parents && !p.as_os_str().is_empty() && p != Path::new("/") => path = p,
                _ => break,
            }
        }
    }
    status
}
