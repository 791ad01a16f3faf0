//! touch: create files or set their times to now (or -d 'YYYY-MM-DD HH:MM:SS' / -r FILE); -c.
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;

use rustix::fs::{AtFlags, Timespec, Timestamps};

use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: touch [-c] [-d DATE | -r FILE] FILE...\nUpdate file times, creating missing files (unless -c).";

pub fn main(args: &[OsString]) -> i32 {
    let mut no_create = false;
    let mut when: Option<i64> = None;
    let ops = match Parser::new("touch", USAGE, args).parse(|p, c| {
        match c {
            'c' => no_create = true,
            'a' | 'm' => {}
            'd' => {
                let v = p.value()?;
                let secs = crate::util::fmt::parse_datetime(&v).ok_or_else(|| {
                    crate::util::args::Stop::Usage(format!("invalid date format '{v}'"))
                })?;
                when = Some(secs);
            }
            'r' => {
                let v = p.value()?;
                let m = std::fs::metadata(&v).map_err(|e| {
                    crate::util::args::Stop::Usage(format!("{v}: {}", crate::util::reason(&e)))
                })?;
                when = Some(m.mtime());
            }
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.is_empty() {
        return Parser::usage_error("touch", USAGE, "missing file operand", 1);
    }
    let stamp = match when {
        Some(s) => Timespec {
            tv_sec: s,
            tv_nsec: 0,
        },
        None => rustix::time::clock_gettime(rustix::time::ClockId::Realtime),
    };
    let times = Timestamps {
        last_access: stamp,
        last_modification: stamp,
    };
    let mut status = 0;
    for f in &ops {
        if std::fs::symlink_metadata(f).is_err() {
            if no_create {
                continue;
            }
            if let Err(e) = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(f)
            {
                warn_err(
                    "touch",
                    format!("cannot touch '{}'", f.to_string_lossy()),
                    &e,
                );
                status = 1;
                continue;
            }
        }
        if let Err(e) =
            rustix::fs::utimensat(rustix::fs::CWD, f.as_os_str(), &times, AtFlags::empty())
        {
            warn_err(
                "touch",
                format!("setting times of '{}'", f.to_string_lossy()),
                &e.into(),
            );
            status = 1;
        }
    }
    status
}
