//! uname: print system information (-a -s -n -r -v -m).
use std::ffi::OsString;
use std::io::Write;

use crate::util::{finish, Parser};

const USAGE: &str = "usage: uname [-asnrvm]\n  -a all  -s kernel name  -n node name  -r release  -v version  -m machine";

pub fn main(args: &[OsString]) -> i32 {
    let mut want = [false; 5];
    let rest = match Parser::new("uname", USAGE, args)
        .longs(&[
            ("all", 'a'),
            ("kernel-name", 's'),
            ("nodename", 'n'),
            ("kernel-release", 'r'),
            ("machine", 'm'),
        ])
        .parse(|p, c| {
            match c {
                'a' => want = [true; 5],
                's' => want[0] = true,
                'n' => want[1] = true,
                'r' => want[2] = true,
                'v' => want[3] = true,
                'm' => want[4] = true,
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(extra) = rest.first() {
        return Parser::usage_error(
            "uname",
            USAGE,
            &format!("extra operand '{}'", extra.to_string_lossy()),
            1,
        );
    }
    if !want.iter().any(|&w| w) {
        want[0] = true;
    }
    let u = rustix::system::uname();
    let fields = [
        u.sysname(),
        u.nodename(),
        u.release(),
        u.version(),
        u.machine(),
    ];
    let words: Vec<String> = fields
        .iter()
        .zip(want)
        .filter(|(_, w)| *w)
        .map(|(f, _)| f.to_string_lossy().into_owned())
        .collect();
    let mut line = words.join(" ");
    if want == [true; 5] {
        line.push_str(" GNU/Linux");
    }
    finish("uname", writeln!(std::io::stdout(), "{line}").map(|_| 0))
}
