//! printf: formatted output (%s %b %c %d %i %u %o %x %X %e %f %g %%, flags, width, precision).
use std::ffi::OsString;
use std::io::Write;

use crate::util::finish;
use crate::util::text::unescape;

pub fn main(args: &[OsString]) -> i32 {
    let Some((fmt, rest)) = args.split_first() else {
        crate::warn!("printf: missing operand\nusage: printf FORMAT [ARGUMENT...]");
        return 1;
    };
    if fmt == "--help" {
        return finish(
            "printf",
            writeln!(std::io::stdout(), "usage: printf FORMAT [ARGUMENT...]").map(|_| 0),
        );
    }
    let fmt = fmt.to_string_lossy().into_owned();
    let args: Vec<String> = rest
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    let mut status = 0;
    let mut next = 0;
    // The format is reused while arguments remain.
    loop {
        let before = next;
        match render(&fmt, &args, &mut next, &mut out, &mut status) {
            Stop::Done if next < args.len() && next > before => continue,
            _ => break,
        }
    }
    let mut stdout = std::io::stdout().lock();
    finish(
        "printf",
        stdout
            .write_all(&out)
            .and_then(|_| stdout.flush())
            .map(|_| status),
    )
}

enum Stop {
    Done,
    Halt,
}

fn render(
    fmt: &str,
    args: &[String],
    next: &mut usize,
    out: &mut Vec<u8>,
    status: &mut i32,
) -> Stop {
    let b = fmt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                // The escaped character may be multi-byte; \NNN and \xHH take more bytes.
                let escaped_len = fmt[i + 1..].chars().next().map(char::len_utf8).unwrap_or(0);
                let mut j = i + 1 + escaped_len;
                while j < b.len() && j < i + 4 && (b[j] as char).is_ascii_hexdigit() {
                    j += 1;
                }
                let (bytes, stop) = unescape(&fmt[i..j], false);
                out.extend_from_slice(&bytes);
                if stop {
                    return Stop::Halt;
                }
                i = j;
            }
            b'%' => {
                let start = i;
                i += 1;
                while i < b.len() && b"-+ #0".contains(&b[i]) {
                    i += 1;
                }
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let Some(&conv) = b.get(i) else {
                    out.extend_from_slice(&b[start..]);
                    break;
                };
                i += 1;
                if conv == b'%' {
                    out.push(b'%');
                    continue;
                }
                let arg = args.get(*next).map(|s| s.as_str()).unwrap_or("");
                *next += 1;
                let spec = &fmt[start + 1..i - 1];
                match conversion(spec, conv, arg, out) {
                    Ok(true) => {}
                    Ok(false) => return Stop::Halt,
                    Err(msg) => {
                        crate::warn!("printf: {msg}");
                        *status = 1;
                    }
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Stop::Done
}

/// Widths beyond this are clamped so a typo cannot exhaust memory.
const MAX_WIDTH: usize = 4096;

struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
}

fn parse_spec(spec: &str) -> Spec {
    let flags_end = spec
        .find(|c: char| !"-+ #0".contains(c))
        .unwrap_or(spec.len());
    let flags = &spec[..flags_end];
    let (width, precision) = match spec[flags_end..].split_once('.') {
        Some((w, p)) => (w, Some(p.parse().unwrap_or(0).min(MAX_WIDTH))),
        None => (&spec[flags_end..], None),
    };
    Spec {
        left: flags.contains('-'),
        zero: flags.contains('0'),
        plus: flags.contains('+'),
        space: flags.contains(' '),
        alt: flags.contains('#'),
        width: width.parse().unwrap_or(0).min(MAX_WIDTH),
        precision,
    }
}

fn pad(s: &Spec, body: String, numeric: bool) -> String {
    if body.len() >= s.width {
        return body;
    }
    let fill = s.width - body.len();
    if s.left {
        format!("{body}{}", " ".repeat(fill))
    } else if s.zero && numeric {
        let sign_len = usize::from(body.starts_with(['-', '+', ' ']));
        format!(
            "{}{}{}",
            &body[..sign_len],
            "0".repeat(fill),
            &body[sign_len..]
        )
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn int_arg(arg: &str) -> Result<i128, String> {
    let t = arg.trim();
    if let Some(c) = t.strip_prefix(['\'', '"']) {
        return Ok(c.chars().next().map(|c| c as i128).unwrap_or(0));
    }
    if t.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v =
        crate::util::fmt::parse_c_number(digits).ok_or_else(|| format!("{arg}: invalid number"))?;
    Ok(if neg { -(v as i128) } else { v as i128 })
}

/// Render one conversion; Ok(false) means `\c` in a %b argument stopped output.
fn conversion(spec: &str, conv: u8, arg: &str, out: &mut Vec<u8>) -> Result<bool, String> {
    let s = parse_spec(spec);
    let text = match conv {
        b's' => {
            let t = match s.precision {
                Some(p) => arg.chars().take(p).collect(),
                None => arg.to_string(),
            };
            pad(&s, t, false)
        }
        b'b' => {
            let (bytes, stop) = unescape(arg, true);
            out.extend_from_slice(
                pad(&s, String::from_utf8_lossy(&bytes).into_owned(), false).as_bytes(),
            );
            return Ok(!stop);
        }
        b'c' => pad(
            &s,
            arg.chars().next().map(String::from).unwrap_or_default(),
            false,
        ),
        b'd' | b'i' => {
            let v = int_arg(arg)?;
            let sign = if v < 0 {
                "-"
            } else if s.plus {
                "+"
            } else if s.space {
                " "
            } else {
                ""
            };
            let mut digits = v.unsigned_abs().to_string();
            if let Some(p) = s.precision {
                digits = format!("{digits:0>p$}");
            }
            pad(&s, format!("{sign}{digits}"), s.precision.is_none())
        }
        b'u' | b'o' | b'x' | b'X' => {
            let v = int_arg(arg)?;
            let v = if v < 0 { (v as i64) as u64 } else { v as u64 };
            let body = match conv {
                b'u' => v.to_string(),
                b'o' => format!("{}{v:o}", if s.alt { "0" } else { "" }),
                b'x' => format!("{}{v:x}", if s.alt { "0x" } else { "" }),
                _ => format!("{}{v:X}", if s.alt { "0X" } else { "" }),
            };
            pad(&s, body, true)
        }
        b'f' | b'F' | b'e' | b'g' | b'E' | b'G' => {
            let v: f64 = if arg.trim().is_empty() {
                0.0
            } else {
                crate::util::fmt::parse_decimal(arg.trim())
                    .ok_or_else(|| format!("{arg}: invalid number"))?
            };
            let p = s.precision.unwrap_or(6);
            let body = match conv {
                b'e' | b'E' => exp_format(v, p, conv == b'E'),
                b'g' | b'G' => {
                    let t = format!("{v}");
                    if t.len() > 12 {
                        exp_format(v, p, conv == b'G')
                    } else {
                        t
                    }
                }
                _ => format!("{v:.p$}"),
            };
            let sign = if v >= 0.0 && s.plus { "+" } else { "" };
            pad(&s, format!("{sign}{body}"), true)
        }
        other => return Err(format!("%{}: invalid conversion", other as char)),
    };
    out.extend_from_slice(text.as_bytes());
    Ok(true)
}

fn exp_format(v: f64, precision: usize, upper: bool) -> String {
    let t = format!("{v:.precision$e}");
    // Rust prints 1.5e2; C prints 1.5e+02.
    let (mant, exp) = t.split_once('e').unwrap_or((&t, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    let e = if upper { 'E' } else { 'e' };
    format!("{mant}{e}{sign}{digits:0>2}")
}
