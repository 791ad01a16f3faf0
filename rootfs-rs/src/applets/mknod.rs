//! mknod: make block (b), character (c/u) or fifo (p) special files; -m MODE.
use std::ffi::OsString;

use rustix::fs::{FileType, Mode};

use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: mknod [-m MODE] NAME TYPE [MAJOR MINOR]\nTYPE is b (block), c or u (character), p (fifo).";

pub fn main(args: &[OsString]) -> i32 {
    let mut mode = 0o666;
    let ops = match Parser::new("mknod", USAGE, args).parse(|p, c| match c {
        'm' => {
            let v = p.value()?;
            mode = crate::util::mode::apply_mode(&v, 0o666, false)
                .ok_or_else(|| crate::util::args::Stop::Usage(format!("invalid mode '{v}'")))?;
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let ops = crate::util::args::strings(&ops);
    let (kind, needs_numbers) = match ops.get(1).map(|s| s.as_str()) {
        Some("b") => (FileType::BlockDevice, true),
        Some("c") | Some("u") => (FileType::CharacterDevice, true),
        Some("p") => (FileType::Fifo, false),
        Some(t) => {
            return Parser::usage_error("mknod", USAGE, &format!("invalid device type '{t}'"), 1)
        }
        None => return Parser::usage_error("mknod", USAGE, "missing operand", 1),
    };
    let expected = if needs_numbers { 4 } else { 2 };
    if ops.len() != expected {
        let msg = if needs_numbers {
            "special files require major and minor device numbers"
        } else {
            "fifos do not have major and minor device numbers"
        };
        return Parser::usage_error("mknod", USAGE, msg, 1);
    }
    let dev = if needs_numbers {
        let num = |s: &str| crate::util::fmt::parse_c_number(s).and_then(|n| u32::try_from(n).ok());
        match (num(&ops[2]), num(&ops[3])) {
            (Some(major), Some(minor)) => rustix::fs::makedev(major, minor),
            _ => {
                crate::warn!("mknod: invalid major or minor number");
                return 1;
            }
        }
    } else {
        0
    };
    if let Err(e) = rustix::fs::mknodat(
        rustix::fs::CWD,
        ops[0].as_str(),
        kind,
        Mode::from_raw_mode(mode),
        dev,
    ) {
        warn_err("mknod", &ops[0], &e.into());
        return 1;
    }
    // mknod(2) applies the umask; an explicit -m must not be narrowed by it.
    let _ = rustix::fs::chmod(ops[0].as_str(), Mode::from_raw_mode(mode));
    0
}
