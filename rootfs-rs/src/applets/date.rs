//! date: print the time (UTC), with +FORMAT (%Y %m %d %H %M %S %s %a %b %j %F %T %%), or -s to set it.
use std::ffi::OsString;
use std::io::Write;

use crate::util::fmt::{civil, now, Civil, WEEKDAYS};
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

/// Days since the epoch of a civil date (inverse of `civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn parse_datetime(text: &str) -> Option<i64> {
    if let Some(epoch) = text.strip_prefix('@') {
        return epoch.parse().ok();
    }
    let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() < 2 {
        return None;
    }
    let (y, mo, da): (i64, u32, u32) = (d[0].parse().ok()?, d[1].parse().ok()?, d[2].parse().ok()?);
    let (h, mi): (i64, i64) = (t[0].parse().ok()?, t[1].parse().ok()?);
    let s: i64 = t.get(2).map(|s| s.parse()).unwrap_or(Ok(0)).ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    if !(-100_000..=100_000).contains(&y) {
        return None;
    }
    Some(days_from_civil(y, mo, da) * 86400 + h * 3600 + mi * 60 + s)
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
