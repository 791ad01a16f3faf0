//! Tiny command-line parser shared by applets: `-la` clusters, `-n 5`/`-n5`, `--long[=v]`, `--`.
use std::ffi::OsString;
use std::io::Write;

use crate::warn;

/// Operands as (lossy) strings, for applets that treat them as text.
pub fn strings(ops: &[OsString]) -> Vec<String> {
    ops.iter()
        .map(|o| o.to_string_lossy().into_owned())
        .collect()
}

pub struct Parser<'a> {
    applet: &'static str,
    usage: &'static str,
    args: &'a [OsString],
    pos: usize,
    cluster: Vec<char>,
    cluster_pos: usize,
    long_value: Option<String>,
    longs: &'static [(&'static str, char)],
    /// Exit status for a usage error (coreutils uses 1 for most tools, 2 for ls/grep/…).
    pub usage_code: i32,
    /// Stop option parsing at the first operand (env, chroot, sh).
    pub stop_at_operand: bool,
    /// Accept `-5` as option '#' with value "5" (head, tail).
    pub numeric_option: bool,
}

/// What the option callback can fail with.
pub enum Stop {
    Usage(String),
    Help,
}

impl<'a> Parser<'a> {
    pub fn new(applet: &'static str, usage: &'static str, args: &'a [OsString]) -> Self {
        Parser {
            applet,
            usage,
            args,
            pos: 0,
            cluster: Vec::new(),
            cluster_pos: 0,
            long_value: None,
            longs: &[],
            usage_code: 1,
            stop_at_operand: false,
            numeric_option: false,
        }
    }

    /// Map long options to short letters; long-only options use private letters.
    pub fn longs(mut self, longs: &'static [(&'static str, char)]) -> Self {
        self.longs = longs;
        self
    }

    pub fn code(mut self, usage_code: i32) -> Self {
        self.usage_code = usage_code;
        self
    }

    /// The value of the option just seen: rest of the cluster, `=value`, or the next argument.
    pub fn value(&mut self) -> Result<String, Stop> {
        if let Some(v) = self.long_value.take() {
            return Ok(v);
        }
        if self.cluster_pos < self.cluster.len() {
            let v: String = self.cluster[self.cluster_pos..].iter().collect();
            self.cluster_pos = self.cluster.len();
            return Ok(v);
        }
        let opt = self
            .cluster
            .get(self.cluster_pos.wrapping_sub(1))
            .copied()
            .unwrap_or('?');
        match self.args.get(self.pos) {
            Some(v) => {
                self.pos += 1;
                Ok(v.to_string_lossy().into_owned())
            }
            None => Err(Stop::Usage(format!(
                "option requires an argument -- '{opt}'"
            ))),
        }
    }

    /// A numeric option value, with the applet's error text on failure.
    pub fn number<T: std::str::FromStr>(&mut self) -> Result<T, Stop> {
        let v = self.value()?;
        v.trim()
            .parse()
            .map_err(|_| Stop::Usage(format!("invalid number: '{v}'")))
    }

    /// A duration option value in seconds, fractions allowed ("0.2").
    pub fn seconds(&mut self) -> Result<std::time::Duration, Stop> {
        let v = self.value()?;
        parse_seconds(v.trim()).ok_or_else(|| Stop::Usage(format!("invalid number: '{v}'")))
    }

    pub fn unknown(&self, opt: char) -> Stop {
        Stop::Usage(format!("invalid option -- '{opt}'"))
    }

    fn next_opt(&mut self, operands: &mut Vec<OsString>) -> Result<Option<char>, Stop> {
        loop {
            if self.cluster_pos < self.cluster.len() {
                let c = self.cluster[self.cluster_pos];
                self.cluster_pos += 1;
                return Ok(Some(c));
            }
            let Some(arg) = self.args.get(self.pos) else {
                return Ok(None);
            };
            self.pos += 1;
            let text = arg.to_string_lossy();
            if text == "--" {
                operands.extend(self.args[self.pos..].iter().cloned());
                self.pos = self.args.len();
                return Ok(None);
            }
            if let Some(long) = text.strip_prefix("--") {
                let (name, value) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                if name == "help" {
                    return Err(Stop::Help);
                }
                let found = self.longs.iter().find(|(l, _)| *l == name);
                let Some(&(_, c)) = found else {
                    return Err(Stop::Usage(format!("unrecognized option '--{name}'")));
                };
                self.long_value = value;
                self.cluster.clear();
                self.cluster_pos = 0;
                return Ok(Some(c));
            }
            if text.len() > 1 && text.starts_with('-') {
                let body = &text[1..];
                if self.numeric_option && body.bytes().all(|b| b.is_ascii_digit()) {
                    self.long_value = Some(body.to_string());
                    return Ok(Some('#'));
                }
                self.cluster = body.chars().collect();
                self.cluster_pos = 0;
                continue;
            }
            operands.push(arg.clone());
            if self.stop_at_operand {
                operands.extend(self.args[self.pos..].iter().cloned());
                self.pos = self.args.len();
                return Ok(None);
            }
        }
    }

    /// Run `on_opt` for every option; returns the operands, or the exit status to return
    /// after `--help` (0) or a usage error (already printed).
    pub fn parse(
        self,
        mut on_opt: impl FnMut(&mut Self, char) -> Result<(), Stop>,
    ) -> Result<Vec<OsString>, i32> {
        // One non-generic body for every applet keeps the binary small.
        self.parse_dyn(&mut on_opt)
    }

    fn parse_dyn(
        mut self,
        on_opt: &mut dyn FnMut(&mut Self, char) -> Result<(), Stop>,
    ) -> Result<Vec<OsString>, i32> {
        let mut operands = Vec::new();
        loop {
            let step = match self.next_opt(&mut operands) {
                Ok(Some(c)) => on_opt(&mut self, c),
                Ok(None) => return Ok(operands),
                Err(e) => Err(e),
            };
            if let Err(stop) = step {
                return Err(self.report(stop));
            }
        }
    }

    fn report(&self, stop: Stop) -> i32 {
        match stop {
            Stop::Help => {
                let mut out = std::io::stdout().lock();
                match writeln!(out, "{}", self.usage.trim_end()) {
                    Ok(()) => 0,
                    Err(_) => 141,
                }
            }
            Stop::Usage(msg) => {
                warn!("{}: {msg}", self.applet);
                warn!("{}", self.usage.lines().next().unwrap_or(""));
                self.usage_code
            }
        }
    }

    /// Report a usage error found after option parsing (missing operand and the like).
    pub fn usage_error(applet: &'static str, usage: &'static str, msg: &str, code: i32) -> i32 {
        warn!("{applet}: {msg}");
        warn!("{}", usage.lines().next().unwrap_or(""));
        code
    }
}

/// `DIGITS[.DIGITS]` seconds as a Duration, exact to the nanosecond; unlike going
/// through f64 it refuses "inf", "nan", exponents and signs.
pub fn parse_seconds(text: &str) -> Option<std::time::Duration> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    Some(std::time::Duration::new(secs, nanos))
}

#[cfg(test)]
mod seconds_tests {
    use super::parse_seconds;
    use std::time::Duration;

    #[test]
    fn decimal_seconds() {
        assert_eq!(parse_seconds("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds(".5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds("1."), Some(Duration::from_secs(1)));
        assert_eq!(parse_seconds("0.0000000019"), Some(Duration::from_nanos(1)));
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "inf",
            "nan",
            "1.2.3",
            " 1",
            "99999999999999999999",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
