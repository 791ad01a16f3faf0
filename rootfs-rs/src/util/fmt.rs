//! Number, size, permission and date formatting shared by ls, df, du, stat, date, ps.

/// Human-readable size with coreutils' rounding (always up): 1023, 1.0K, 9.9K, 10K, 1.5M.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut unit = 0;
    let mut scale = 1u128;
    while (bytes as u128) >= scale * 1024 && unit < UNITS.len() - 1 {
        scale *= 1024;
        unit += 1;
    }
    let n = bytes as u128;
    // Tenths, rounded up.
    let tenths = (n * 10).div_ceil(scale);
    if tenths < 100 {
        return format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[unit]);
    }
    let whole = n.div_ceil(scale);
    if whole >= 1024 && unit + 1 < UNITS.len() {
        return format!("1.0{}", UNITS[unit + 1]);
    }
    format!("{whole}{}", UNITS[unit])
}

/// `[-+]DIGITS[.DIGITS][e[-+]DIGITS]` as f64. Not correctly rounded past 19 significant
/// digits, which printf and sort -n do not need; in exchange the binary does without
/// core's float parser and its 10 KiB table (measured). None for anything else.
pub fn parse_decimal(text: &str) -> Option<f64> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (number, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let mut mantissa = 0u64;
    let mut scale = exponent;
    let mut significant = 0;
    for (i, b) in whole.bytes().chain(fraction.bytes()).enumerate() {
        let in_fraction = i >= whole.len();
        if significant < 19 {
            mantissa = mantissa * 10 + u64::from(b - b'0');
            significant += usize::from(mantissa > 0);
            scale -= i32::from(in_fraction);
        } else {
            scale += i32::from(!in_fraction);
        }
    }
    let value = mantissa as f64 * 10f64.powi(scale);
    Some(if negative { -value } else { value })
}

/// A transfer rate, e.g. "11.2 MiB/s".
pub fn rate(bytes: u64, secs: f64) -> String {
    format!("{:.1} MiB/s", bytes as f64 / 1_048_576.0 / secs.max(0.001))
}

/// Rewrites one progress line on stderr: "NAME: 12M of 30M (40%)"; `end_progress_line`
/// ends it.
pub fn progress_line(name: &str, done: u64, total: Option<u64>) {
    PROGRESS_SHOWN.store(true, std::sync::atomic::Ordering::Relaxed);
    let text = match total {
        Some(t) if t > 0 => format!(
            "{name}: {} of {} ({}%)",
            human(done),
            human(t),
            done * 100 / t
        ),
        _ => format!("{name}: {}", human(done)),
    };
    eprint!("\r{text}\x1b[K");
}

#[cfg(test)]
mod decimal_tests {
    use super::parse_decimal;

    #[test]
    fn decimals_parse_like_strtod_for_everyday_numbers() {
        for (text, want) in [
            ("0", 0.0),
            ("3.25", 3.25),
            ("-2", -2.0),
            ("+.5", 0.5),
            ("1e3", 1000.0),
            ("2.5E-2", 0.025),
            ("12345.67", 12345.67),
            ("007", 7.0),
        ] {
            let got = parse_decimal(text).unwrap_or(f64::NAN);
            assert!(
                (got - want).abs() <= want.abs() * 1e-15,
                "{text}: {got} != {want}"
            );
        }
        let long = parse_decimal("123456789012345678901234.5").unwrap_or(0.0);
        assert!(
            (long / 1.234_567_890_123_456_8e23 - 1.0).abs() < 1e-15,
            "{long}"
        );
        for bad in ["", ".", "-", "1.2.3", "1e", "abc", "inf", "nan", "1 "] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }
}

static PROGRESS_SHOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Moves off the progress line, if one was drawn.
pub fn end_progress_line() {
    if PROGRESS_SHOWN.swap(false, std::sync::atomic::Ordering::Relaxed) {
        eprintln!();
    }
}

/// The file type letter `ls -l` shows: d l c b p s, and '-' for regular files.
pub fn type_char(mode: u32) -> char {
    match mode & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o020000 => 'c',
        0o060000 => 'b',
        0o010000 => 'p',
        0o140000 => 's',
        _ => '-',
    }
}

/// `drwxr-xr-x` from st_mode.
pub fn mode_string(mode: u32) -> String {
    let kind = type_char(mode);
    let mut s = String::with_capacity(10);
    s.push(kind);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        s.push(if mode & bit != 0 { *c } else { '-' });
        // setuid/setgid/sticky replace the execute letters.
        let special = match i {
            2 => Some((0o4000, 's')),
            5 => Some((0o2000, 's')),
            8 => Some((0o1000, 't')),
            _ => None,
        };
        if let Some((flag, letter)) = special {
            if mode & flag != 0 {
                s.pop();
                s.push(if mode & bit != 0 {
                    letter
                } else {
                    letter.to_ascii_uppercase()
                });
            }
        }
    }
    s
}

/// Broken-down UTC time.
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub weekday: u32,
}

/// Days since 1970-01-01 to (year, month, day) — Howard Hinnant's civil-from-days algorithm.
pub fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
pub const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

impl Civil {
    pub fn month_name(&self) -> &'static str {
        MONTHS[(self.month as usize + 11) % 12]
    }
    /// `2024-01-31 12:00:00`
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(_) => 0,
    }
}

/// `ls -l` style timestamp: recent files show the time, older ones the year.
pub fn ls_time(secs: i64) -> String {
    let c = civil(secs);
    let six_months = 180 * 86400;
    if (now() - secs).abs() < six_months {
        format!(
            "{} {:>2} {:02}:{:02}",
            c.month_name(),
            c.day,
            c.hour,
            c.minute
        )
    } else {
        format!("{} {:>2}  {}", c.month_name(), c.day, c.year)
    }
}

/// Parse a whole decimal/hex/octal number in C style (0x.., 0..).
pub fn parse_c_number(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

/// Size with an optional suffix (dd, head -c): k/K=1024, M, G; kB=1000, MB, GB; b=512; w=2.
pub fn parse_size(text: &str) -> Option<u64> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let base: u64 = text[..digits].parse().ok()?;
    let mult: u64 = match &text[digits..] {
        "" | "c" => 1,
        "w" => 2,
        "b" => 512,
        "k" | "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "kB" | "KB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    base.checked_mul(mult)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_round_up_like_coreutils() {
        assert_eq!(human(1023), "1023");
        assert_eq!(human(1024), "1.0K");
        assert_eq!(human(1025), "1.1K");
        assert_eq!(human(10 * 1024), "10K");
        assert_eq!(human(10 * 1024 + 1), "11K");
        assert_eq!(human(1024 * 1024 - 1), "1.0M");
    }

    #[test]
    fn civil_dates() {
        let c = civil(0);
        assert_eq!((c.year, c.month, c.day, c.weekday), (1970, 1, 1, 4));
        let c = civil(951_782_400); // 2000-02-29
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
        let c = civil(-1);
        assert_eq!((c.year, c.month, c.day, c.hour), (1969, 12, 31, 23));
    }

    #[test]
    fn mode_strings() {
        assert_eq!(mode_string(0o40755), "drwxr-xr-x");
        assert_eq!(mode_string(0o104755), "-rwsr-xr-x");
        assert_eq!(mode_string(0o41777), "drwxrwxrwt");
        assert_eq!(mode_string(0o100644), "-rw-r--r--");
    }
}
