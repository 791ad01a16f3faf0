//! umount: unmount file systems (-l lazy, -f force, -a all except / and the kernel's own).
use std::ffi::OsString;

use rustix::mount::UnmountFlags;

use crate::blockdev::mounts::read_mounts;
use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: umount [-lf] DIR|DEVICE... | umount -a\nUnmount file systems.";

pub fn main(args: &[OsString]) -> i32 {
    let mut flags = UnmountFlags::empty();
    let mut all = false;
    let ops = match Parser::new("umount", USAGE, args).parse(|p, c| {
        match c {
            'l' => flags |= UnmountFlags::DETACH,
            'f' => flags |= UnmountFlags::FORCE,
            'a' => all = true,
            'n' | 'v' | 'r' => {}
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut targets: Vec<String> = ops
        .iter()
        .map(|o| o.to_string_lossy().into_owned())
        .collect();
    if all {
        let keep = ["/", "/proc", "/sys", "/dev"];
        targets = read_mounts()
            .into_iter()
            .rev()
            .map(|m| m.target.to_string_lossy().into_owned())
            .filter(|t| !keep.contains(&t.as_str()))
            .collect();
    } else if targets.is_empty() {
        return Parser::usage_error("umount", USAGE, "missing operand", 1);
    }
    let mut status = 0;
    for t in &targets {
        // A device name unmounts where it is mounted.
        let target = read_mounts()
            .into_iter()
            .rev()
            .find(|m| &m.source == t)
            .map(|m| m.target.to_string_lossy().into_owned())
            .unwrap_or_else(|| t.clone());
        if let Err(e) = rustix::mount::unmount(target.as_str(), flags) {
            warn_err("umount", t, &e.into());
            status = 32;
        }
    }
    status
}
