//! date: print the time (UTC), with +FORMAT (%Y %m %d %H %M %S %s %a %b %j %F %T %%), or -s to set it.
use std::ffi::OsString;
use std::io::Write;

use crate::util::fmt::{civil, days_from_civil, now, parse_datetime, Civil, WEEKDAYS};
use crate::util::{finish, Parser};

const USAGE: &str = "usage: date [-u] [-d @SECONDS] [-s 'YYYY-MM-DD HH:MM:SS'] [+FORMAT]\nPrint (or set) the date; times are UTC.";

pub fn format(c: &Civil, secs: i64, fmt: &str) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let day_of_year = secs.div_euclid(86400) - days_from_civil(c.year, 1, 1) + 1;
        match chars.next() {
            Some('Y') => out.push_str(&c.year.to_string()),
            Some('m') => out.push_str(&format!("{:02}", c.month)),
            Some('d') => out.push_str(&format!("{:02}", c.day)),
            Some('e') => out.push_str(&format!("{:>2}", c.day)),
            Some('H') => out.push_str(&format!("{:02}", c.hour)),
            Some('M') => out.push_str(&format!("{:02}", c.minute)),
            Some('S') => out.push_str(&format!("{:02}", c.second)),
            Some('s') => out.push_str(&secs.to_string()),
            Some('a') => out.push_str(WEEKDAYS[c.weekday as usize]),
            Some('b') | Some('h') => out.push_str(c.month_name()),
            Some('j') => out.push_str(&format!("{day_of_year:03}")),
            Some('F') => out.push_str(&format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)),
            Some('T') => out.push_str(&format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)),
            Some('Z') => out.push_str("UTC"),
            Some('z') => out.push_str("+0000"),
            Some('n') => out.push('\n'),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

pub fn main(args: &[OsString]) -> i32 {
    let mut when: Option<String> = None;
    let mut set: Option<String> = None;
    let rest = match Parser::new("date", USAGE, args).parse(|p, c| match c {
        'u' | 'R' => Ok(()),
        'd' => {
            when = Some(p.value()?);
            Ok(())
        }
        's' => {
            set = Some(p.value()?);
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut secs = now();
    if let Some(text) = set.as_ref().or(when.as_ref()) {
        match parse_datetime(text) {
            Some(s) => secs = s,
            None => {
                crate::warn!("date: invalid date '{text}'");
                return 1;
            }
        }
    }
    if set.is_some() {
        let ts = rustix::time::Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        };
        if let Err(e) = rustix::time::clock_settime(rustix::time::ClockId::Realtime, ts) {
            crate::util::warn_err("date", "cannot set date", &e.into());
            return 1;
        }
    }
    let fmt = match rest.first().map(|a| a.to_string_lossy().into_owned()) {
        Some(f) if f.starts_with('+') => f[1..].to_string(),
        Some(f) => {
            crate::warn!("date: invalid date '{f}'");
            return 1;
        }
        None => "%a %b %e %H:%M:%S %Z %Y".to_string(),
    };
    finish(
        "date",
        writeln!(std::io::stdout(), "{}", format(&civil(secs), secs, &fmt)).map(|_| 0),
    )
}
