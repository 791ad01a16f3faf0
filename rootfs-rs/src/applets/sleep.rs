//! sleep: pause for NUMBER[smhd] seconds (fractions allowed), summed over all operands.
use std::ffi::OsString;

use std::time::Duration;

use crate::util::args::parse_seconds;
use crate::util::Parser;

const USAGE: &str =
    "usage: sleep NUMBER[SUFFIX]...\nPause for the sum of the durations; SUFFIX is s, m, h or d.";

pub fn parse_duration(text: &str) -> Option<Duration> {
    let (num, mult) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1),
        Some((i, 'm')) => (&text[..i], 60),
        Some((i, 'h')) => (&text[..i], 3600),
        Some((i, 'd')) => (&text[..i], 86400),
        _ => (text, 1),
    };
    parse_seconds(num)?.checked_mul(mult)
}

pub fn main(args: &[OsString]) -> i32 {
    let operands = match Parser::new("sleep", USAGE, args).parse(|p, c| Err(p.unknown(c))) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if operands.is_empty() {
        return Parser::usage_error("sleep", USAGE, "missing operand", 1);
    }
    let mut total = Duration::ZERO;
    for op in &operands {
        let text = op.to_string_lossy();
        match parse_duration(&text) {
            Some(v) => total = total.saturating_add(v),
            None => {
                crate::warn!("sleep: invalid time interval '{text}'");
                return 1;
            }
        }
    }
    std::thread::sleep(total);
    0
}
