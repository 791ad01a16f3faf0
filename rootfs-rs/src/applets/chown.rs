//! chown: change owner and/or group (USER, USER:GROUP, :GROUP, numeric ids); -R, -h.
use std::ffi::OsString;
use std::path::Path;

use rustix::fs::{AtFlags, Gid, Uid};

use crate::util::users::{group_id, user_id};
use crate::util::walk::visit_tree;
use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: chown [-Rh] OWNER[:GROUP] FILE...\nChange file owner and group.";

fn parse_owner(spec: &str) -> Result<(Option<Uid>, Option<Gid>), String> {
    let (user, group) = match spec.split_once([':', '.']) {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let uid = if user.is_empty() {
        None
    } else {
        Some(Uid::from_raw(
            user_id(user).ok_or_else(|| format!("invalid user: '{spec}'"))?,
        ))
    };
    let gid = match group {
        Some(g) if !g.is_empty() => Some(Gid::from_raw(
            group_id(g).ok_or_else(|| format!("invalid group: '{spec}'"))?,
        )),
        _ => None,
    };
    Ok((uid, gid))
}

pub fn main(args: &[OsString]) -> i32 {
    let (mut recursive, mut no_deref) = (false, false);
    let ops = match Parser::new("chown", USAGE, args)
        .longs(&[("recursive", 'R')])
        .parse(|p, c| {
            match c {
                'R' => recursive = true,
                'h' => no_deref = true,
                'f' | 'v' => {}
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.len() < 2 {
        return Parser::usage_error("chown", USAGE, "missing operand", 1);
    }
    let (uid, gid) = match parse_owner(&ops[0].to_string_lossy()) {
        Ok(v) => v,
        Err(msg) => {
            crate::warn!("chown: {msg}");
            return 1;
        }
    };
    let mut status = 0;
    for f in &ops[1..] {
        let mut change = |path: &Path, _meta: &std::fs::Metadata, depth: usize| {
            // Only a command-line symlink is followed (unless -h).
            let flags = if no_deref || depth > 0 {
                AtFlags::SYMLINK_NOFOLLOW
            } else {
                AtFlags::empty()
            };
            if let Err(e) = rustix::fs::chownat(rustix::fs::CWD, path, uid, gid, flags) {
                warn_err(
                    "chown",
                    format!("changing ownership of '{}'", path.display()),
                    &e.into(),
                );
                status = 1;
            }
        };
        if !visit_tree("chown", Path::new(f), recursive, &mut change) {
            status = 1;
        }
    }
    status
}
