//! mv: rename files; across file systems copy the tree (preserving) and remove the source.
use std::ffi::OsString;

use crate::util::fsops::{copy_tree, remove_tree, CopyOptions, Transfer};
use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: mv [-f] SOURCE... DEST\nMove (rename) files.";

pub fn main(args: &[OsString]) -> i32 {
    let ops = match Parser::new("mv", USAGE, args).parse(|p, c| match c {
        'f' | 'i' | 'n' | 'v' => Ok(()),
        _ => Err(p.unknown(c)),
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let transfer = match Transfer::parse("mv", USAGE, ops) {
        Ok(t) => t,
        Err(code) => return code,
    };
    transfer.each(|src, dest| match std::fs::rename(src, dest) {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(18) => {
            // EXDEV: another file system, so copy everything and remove the original.
            let o = CopyOptions {
                recursive: true,
                preserve: true,
                no_dereference: true,
                force: true,
            };
            copy_tree("mv", src, dest, &o) && remove_tree("mv", src, true)
        }
        Err(e) => {
            warn_err(
                "mv",
                format!("cannot move '{}' to '{}'", src.display(), dest.display()),
                &e,
            );
            false
        }
    })
}
