//! hostname: print or set the host name (optionally from a file with -F).
use std::ffi::OsString;
use std::io::Write;

use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: hostname [-F FILE] [NAME]\nPrint the host name, or set it to NAME (or the first line of FILE).";

pub fn main(args: &[OsString]) -> i32 {
    let mut from_file: Option<String> = None;
    let rest = match Parser::new("hostname", USAGE, args).parse(|p, c| match c {
        'F' => {
            from_file = Some(p.value()?);
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let new_name = match (from_file, rest.first()) {
        (Some(f), _) => match std::fs::read_to_string(&f) {
            Ok(t) => Some(t.lines().next().unwrap_or("").trim().to_string()),
            Err(e) => {
                warn_err("hostname", &f, &e);
                return 1;
            }
        },
        (None, Some(n)) => Some(n.to_string_lossy().into_owned()),
        (None, None) => None,
    };
    match new_name {
        Some(name) => match rustix::system::sethostname(name.as_bytes()) {
            Ok(()) => 0,
            Err(e) => {
                warn_err("hostname", &name, &e.into());
                1
            }
        },
        None => {
            let u = rustix::system::uname();
            finish(
                "hostname",
                writeln!(std::io::stdout(), "{}", u.nodename().to_string_lossy()).map(|_| 0),
            )
        }
    }
}
