//! cp: copy files and (with -r/-a) directory trees; -p/-a preserve mode, owner and times.
use std::ffi::OsString;

use crate::util::fsops::{copy_tree, CopyOptions, Transfer};
use crate::util::Parser;

const USAGE: &str = "usage: cp [-rRapfPd] SOURCE... DEST\nCopy files.\n  -r/-R recursive  -a archive (-rpP)  -p preserve mode/owner/times  -f force  -P/-d copy symlinks as links";

pub fn main(args: &[OsString]) -> i32 {
    let mut o = CopyOptions {
        recursive: false,
        preserve: false,
        no_dereference: false,
        force: false,
    };
    let ops = match Parser::new("cp", USAGE, args)
        .longs(&[("recursive", 'r'), ("archive", 'a'), ("force", 'f')])
        .parse(|p, c| {
            match c {
                'r' | 'R' => {
                    o.recursive = true;
                    o.no_dereference = true;
                }
                'a' => {
                    o.recursive = true;
                    o.preserve = true;
                    o.no_dereference = true;
                }
                'p' => o.preserve = true,
                'f' => o.force = true,
                'P' | 'd' => o.no_dereference = true,
                'L' => o.no_dereference = false,
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let transfer = match Transfer::parse("cp", USAGE, ops) {
        Ok(t) => t,
        Err(code) => return code,
    };
    // Like coreutils: symlinks are followed only when not copying recursively.
    transfer.each(|src, dest| copy_tree("cp", src, dest, &o))
}
