//! rm: remove files; -r trees, -f ignore missing files and never ask.
use std::ffi::OsString;
use std::path::Path;

use crate::util::fsops::remove_tree;
use crate::util::Parser;

const USAGE: &str = "usage: rm [-rRf] FILE...\nRemove files (and with -r, directories).";

pub fn main(args: &[OsString]) -> i32 {
    let (mut recursive, mut force) = (false, false);
    let ops = match Parser::new("rm", USAGE, args)
        .longs(&[("recursive", 'r'), ("force", 'f')])
        .parse(|p, c| {
            match c {
                'r' | 'R' => recursive = true,
                'f' => force = true,
                'i' | 'v' => {}
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.is_empty() && !force {
        return Parser::usage_error("rm", USAGE, "missing operand", 1);
    }
    let mut status = 0;
    for op in &ops {
        let path = Path::new(op);
        if recursive
            && (path == Path::new("/")
                || path.components().next_back().is_some_and(|c| {
                    matches!(
                        c,
                        std::path::Component::ParentDir | std::path::Component::CurDir
                    )
                }))
        {
            crate::warn!(
                "rm: refusing to remove '.' or '..' or '/' directory: skipping '{}'",
                path.display()
            );
            status = 1;
            continue;
        }
        if force && std::fs::symlink_metadata(path).is_err() {
            continue;
        }
        if !remove_tree("rm", path, recursive) {
            status = 1;
        }
    }
    status
}
