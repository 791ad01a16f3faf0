//! dmesg: print the kernel log from /dev/kmsg ([seconds] message); -c clears after reading,
//! -C only clears, -n LEVEL sets the console log level, -r shows raw <prio> prefixes,
//! -K FILE reads a recorded /dev/kmsg stream (util-linux 2.39's --kmsg-file).
//!
//! Output follows util-linux: the kernel's `\xNN` escapes are decoded, a record of
//! several lines prints its continuation lines indented to the message column, and
//! bytes that would act on the terminal (control characters, invalid UTF-8) are shown
//! as `\xNN` again.
use std::ffi::OsString;
use std::io::Write;

use rustix::fs::{Mode, OFlags};

use crate::util::{finish, warn_err, Parser};

const USAGE: &str =
    "usage: dmesg [-c|-C] [-n LEVEL] [-r] [-K FILE]\nPrint or control the kernel ring buffer.";

/// One /dev/kmsg record: "prio,seq,usec,flags;text" and dictionary lines (" KEY=value").
pub fn format_record(record: &str, raw: bool) -> Option<String> {
    let (header, rest) = record.split_once(';')?;
    let mut fields = header.split(',');
    let prio: u32 = fields.next()?.parse().ok()?;
    let _seq = fields.next()?;
    let usec: u64 = fields.next()?.parse().ok()?;
    let text = rest.lines().next().unwrap_or("");
    let stamp = format!("[{:5}.{:06}]", usec / 1_000_000, usec % 1_000_000);
    let prefix = if raw {
        format!("<{}>{stamp} ", prio & 7)
    } else {
        format!("{stamp} ")
    };
    let message = printable(&unescape_kmsg(text), prefix.chars().count());
    Some(format!("{prefix}{message}"))
}

/// The kernel escapes non-printable bytes (and newlines inside a record) as \xHH.
fn unescape_kmsg(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let hex = |i: usize| b.get(i).and_then(|c| (*c as char).to_digit(16));
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let (Some(hi), Some(lo)) = (hex(i + 2), hex(i + 3)) {
                out.push((hi * 16 + lo) as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The decoded message as util-linux writes it: a newline followed by more text starts
/// a continuation line indented by `indent` columns; whitespace passes; other control
/// characters and bytes that are not UTF-8 are escaped as \xNN so the log cannot drive
/// the terminal.
fn printable(message: &[u8], indent: usize) -> String {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    let mut out = String::with_capacity(message.len());
    let mut offset = 0;
    for chunk in message.utf8_chunks() {
        for (i, c) in chunk.valid().char_indices() {
            match c {
                '\n' => {
                    out.push('\n');
                    if offset + i + 1 < message.len() {
                        out.extend(std::iter::repeat_n(' ', indent));
                    }
                }
                c if c.is_control() && !c.is_ascii_whitespace() && c != '\x0b' => {
                    let mut buf = [0u8; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{byte:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
        offset += chunk.valid().len() + chunk.invalid().len();
    }
    out
}

pub fn main(args: &[OsString]) -> i32 {
    let (mut clear_after, mut clear_only, mut raw) = (false, false, false);
    let mut level: Option<u8> = None;
    let mut kmsg_file: Option<String> = None;
    let ops = match Parser::new("dmesg", USAGE, args)
        .longs(&[
            ("kmsg-file", 'K'),
            ("raw", 'r'),
            ("read-clear", 'c'),
            ("clear", 'C'),
        ])
        .parse(|p, c| {
            match c {
                'c' => clear_after = true,
                'C' => clear_only = true,
                'r' => raw = true,
                'K' => kmsg_file = Some(p.value()?),
                'n' => {
                    let v = p.value()?;
                    level = Some(v.parse().ok().filter(|l| (1..=8).contains(l)).ok_or_else(
                        || crate::util::args::Stop::Usage(format!("invalid level '{v}'")),
                    )?);
                }
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if !ops.is_empty() {
        return Parser::usage_error("dmesg", USAGE, "extra operand", 1);
    }
    if let Some(l) = level {
        if let Err(e) = crate::sys::set_console_log_level(l) {
            warn_err("dmesg", "setting console level", &e);
            return 1;
        }
        return 0;
    }
    if let Some(path) = kmsg_file {
        return finish("dmesg", print_recorded(&path, raw));
    }
    if !clear_only {
        let printed = finish("dmesg", print_log(raw));
        if printed != 0 {
            return printed;
        }
    }
    if clear_after || clear_only {
        if let Err(e) = crate::sys::clear_kernel_log() {
            warn_err("dmesg", "klogctl", &e);
            return 1;
        }
    }
    0
}

/// A recorded /dev/kmsg stream: one record per line ("prio,seq,usec,flags;text"; the
/// text's own newlines are escaped), dictionary lines start with a space.
fn print_recorded(path: &str, raw: bool) -> std::io::Result<i32> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            warn_err("dmesg", path, &e);
            return Ok(1);
        }
    };
    let mut out = crate::util::stdout();
    for line in String::from_utf8_lossy(&data).lines() {
        if line.starts_with(' ') || line.is_empty() {
            continue;
        }
        if let Some(text) = format_record(line, raw) {
            writeln!(out, "{text}")?;
        }
    }
    out.flush()?;
    Ok(0)
}

fn print_log(raw: bool) -> std::io::Result<i32> {
    let fd = match rustix::fs::open(
        "/dev/kmsg",
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            warn_err("dmesg", "/dev/kmsg", &e.into());
            return Ok(1);
        }
    };
    let mut out = crate::util::stdout();
    // Each read returns exactly one record; EAGAIN means we reached the end.
    let mut buf = vec![0u8; 8192];
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) | Err(rustix::io::Errno::AGAIN) => break,
            Ok(n) => {
                if let Some(line) = format_record(&String::from_utf8_lossy(&buf[..n]), raw) {
                    writeln!(out, "{line}")?;
                }
            }
            // Overwritten records: skip ahead.
            Err(rustix::io::Errno::PIPE) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                out.flush()?;
                warn_err("dmesg", "/dev/kmsg", &e.into());
                return Ok(1);
            }
        }
    }
    out.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::format_record;

    #[test]
    fn kmsg_records() {
        assert_eq!(
            format_record(
                "6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net",
                false
            )
            .as_deref(),
            Some("[    5.140900] NET: Registered protocol family 10")
        );
        assert_eq!(
            format_record("3,1,12,-;a\\x09b", true).as_deref(),
            Some("<3>[    0.000012] a\tb")
        );
        assert_eq!(format_record("garbage", false), None);
        assert_eq!(
            format_record("6,2,3,-;odd \\x\u{e9}", false).as_deref(),
            Some("[    0.000003] odd \\x\u{e9}")
        );
    }
}
