//! The thin terminal side of the menu: raw mode, key decoding, and a line-reading
//! fallback when stdin is not a terminal (`consoles` runs the full-screen menu).

use std::io::{self, BufRead, Write};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};

use crate::boot::menu::state::{parse_line_choice, Key, MenuChoice, MenuState};

/// Decodes terminal input. Returns the keys and how many bytes were used; an incomplete
/// escape sequence or UTF-8 character at the end is left for the next read.
pub fn decode_keys(bytes: &[u8]) -> (Vec<Key>, usize) {
    let mut keys = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode_one(&bytes[at..]) {
            Some((key, used)) => {
                keys.extend(key);
                at += used;
            }
            None => break,
        }
    }
    (keys, at)
}

/// One key from the start of `bytes`: Some((None, n)) skips n unknown bytes; None = need more.
fn decode_one(bytes: &[u8]) -> Option<(Option<Key>, usize)> {
    let first = bytes[0];
    let key = match first {
        b'\r' | b'\n' => Key::Enter,
        0x7F | 0x08 => Key::Backspace,
        0x1B => return decode_escape(bytes),
        1..=26 => Key::Ctrl(char::from(b'a' + first - 1)),
        0x20..=0x7E => Key::Char(char::from(first)),
        0x80.. => {
            let len = match first {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => return Some((None, 1)),
            };
            let chunk = bytes.get(..len)?;
            return Some(
                match std::str::from_utf8(chunk)
                    .ok()
                    .and_then(|s| s.chars().next())
                {
                    Some(c) => (Some(Key::Char(c)), len),
                    None => (None, 1),
                },
            );
        }
        _ => return Some((None, 1)),
    };
    Some((Some(key), 1))
}

/// ESC [ X, ESC O X (application cursor mode) and ESC [ n ~; a lone ESC is only known after
/// a pause, so it is reported by the caller (`flush_escape`).
fn decode_escape(bytes: &[u8]) -> Option<(Option<Key>, usize)> {
    let second = *bytes.get(1)?;
    if second != b'[' && second != b'O' {
        return Some((Some(Key::Esc), 1));
    }
    // Parameters and intermediates run until a final byte 0x40..=0x7E.
    let end = bytes[2..].iter().position(|b| (0x40..=0x7E).contains(b))? + 2;
    let params = &bytes[2..end];
    let key = match (bytes[end], params) {
        (b'A', _) => Some(Key::Up),
        (b'B', _) => Some(Key::Down),
        (b'C', _) => Some(Key::Right),
        (b'D', _) => Some(Key::Left),
        (b'H', _) => Some(Key::Home),
        (b'F', _) => Some(Key::End),
        (b'~', b"1" | b"7") => Some(Key::Home),
        (b'~', b"4" | b"8") => Some(Key::End),
        (b'~', b"3") => Some(Key::Delete),
        (b'~', b"5") => Some(Key::PageUp),
        (b'~', b"6") => Some(Key::PageDown),
        _ => None,
    };
    Some((key, end + 1))
}

/// Restores the terminal settings when dropped.
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    pub fn enter(fd: BorrowedFd<'a>) -> io::Result<RawMode<'a>> {
        let saved = tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        // Now, not Flush: keys typed while the menu was starting (type-ahead) must survive.
        tcsetattr(fd, OptionalActions::Now, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, OptionalActions::Now, &self.saved);
    }
}

fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = timeout.map(|t| rustix::event::Timespec {
        tv_sec: t.as_secs() as i64,
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    loop {
        match poll(&mut fds, timeout.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
}

/// The plain list and a prompt: a number, empty for the default, `c` shell, `r` rescan.
/// The countdown still applies while waiting for the line.
pub fn run_line_menu(state: &mut MenuState, out: &mut dyn Write) -> io::Result<MenuChoice> {
    let stdin_ready = |wait: Duration| wait_readable(rustix::stdio::stdin(), Some(wait));
    line_menu(state, &mut io::stdin().lock(), &stdin_ready, out)
}

/// `line_menu` with its input: `ready(t)` tells whether input arrives within t.
pub fn line_menu(
    state: &mut MenuState,
    input: &mut dyn BufRead,
    ready: &dyn Fn(Duration) -> io::Result<bool>,
    out: &mut dyn Write,
) -> io::Result<MenuChoice> {
    write!(out, "{}", render_plain(state))?;
    loop {
        write!(
            out,
            "Boot which entry [1-{}, Enter: {}, a path name, c: shell, r: rescan]? ",
            state.items.len(),
            state.default + 1
        )?;
        out.flush()?;
        if let Some(seconds) = state.countdown.take() {
            if !ready(Duration::from_secs(u64::from(seconds)))? {
                writeln!(out)?;
                return Ok(parse_line_choice("", state).unwrap_or(MenuChoice::Shell));
            }
        }
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(MenuChoice::Shell);
        }
        // Input that is not a terminal is not echoed: end the prompt line here.
        writeln!(out)?;
        match parse_line_choice(&line, state) {
            Some(choice) if !state.permits(&choice) => writeln!(
                out,
                "menu: the password is needed for that: use the menu on a terminal"
            )?,
            Some(choice) => return Ok(choice),
            None => writeln!(out, "menu: no entry '{}'", line.trim())?,
        }
    }
}

/// The entries as plain numbered lines (no escapes), default marked with '*'.
pub fn render_plain(state: &MenuState) -> String {
    let mut text = String::new();
    for (index, item) in state.items.iter().enumerate() {
        let mark = if index == state.default { '*' } else { ' ' };
        text.push_str(&format!(
            "{:>3}{mark} {} ({}: {})\n",
            index + 1,
            item.label,
            item.device,
            item.kernel
        ));
    }
    if let Some(message) = &state.message {
        text.push_str(message);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_and_sequences() {
        let (keys, used) = decode_keys(b"\x1b[A\x1bOBj\r\x1b[5~\x1b[3~\x7f\x03");
        assert_eq!(
            keys,
            [
                Key::Up,
                Key::Down,
                Key::Char('j'),
                Key::Enter,
                Key::PageUp,
                Key::Delete,
                Key::Backspace,
                Key::Ctrl('c')
            ]
        );
        assert_eq!(used, 18);
    }

    fn state() -> MenuState {
        let item = |n: usize| crate::boot::menu::state::MenuItem {
            label: format!("Linux {n}"),
            device: "vda2".into(),
            kernel: format!("/boot/vmlinuz-{n}"),
            cmdline: format!("ro quiet {n}"),
        };
        MenuState::new(vec![item(1), item(2)], 1, Some(3))
    }

    #[test]
    fn line_menu_reads_a_number_after_a_bad_one() {
        let mut state = state();
        let mut out = Vec::new();
        let mut input = io::Cursor::new(b"7\n1\n".to_vec());
        let choice = line_menu(&mut state, &mut input, &|_| Ok(true), &mut out).unwrap();
        assert_eq!(
            choice,
            MenuChoice::Boot {
                index: 0,
                cmdline: "ro quiet 1".into()
            }
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("  1  Linux 1 (vda2: /boot/vmlinuz-1)\n  2* Linux 2"),
            "{text}"
        );
        assert!(text.contains("menu: no entry '7'"), "{text}");
        assert!(
            !text.contains('\x1b'),
            "no escapes on a non-terminal: {text}"
        );
    }

    #[test]
    fn line_menu_countdown_and_end_of_input() {
        let mut out = Vec::new();
        let waited = std::cell::Cell::new(Duration::ZERO);
        let silent = |t: Duration| {
            waited.set(t);
            Ok(false)
        };
        let choice = line_menu(
            &mut state(),
            &mut io::Cursor::new(Vec::new()),
            &silent,
            &mut out,
        )
        .unwrap();
        assert_eq!(waited.get(), Duration::from_secs(3));
        assert!(matches!(choice, MenuChoice::Boot { index: 1, .. }));
        let mut no_countdown = state();
        no_countdown.countdown = None;
        let choice = line_menu(
            &mut no_countdown,
            &mut io::Cursor::new(Vec::new()),
            &silent,
            &mut out,
        )
        .unwrap();
        assert_eq!(choice, MenuChoice::Shell);
    }

    #[test]
    fn incomplete_input_waits() {
        assert_eq!(decode_keys(b"k\x1b"), (vec![Key::Char('k')], 1));
        assert_eq!(decode_keys(b"\x1b[1"), (vec![], 0));
        assert_eq!(decode_keys("é".as_bytes()), (vec![Key::Char('é')], 2));
        assert_eq!(decode_keys(&"é".as_bytes()[..1]), (vec![], 0));
        // ESC followed by a plain key is Esc, then that key.
        assert_eq!(decode_keys(b"\x1bq").0, [Key::Esc, Key::Char('q')]);
        // Unknown sequences are consumed whole, not typed as text.
        assert_eq!(decode_keys(b"\x1b[99zx"), (vec![Key::Char('x')], 6));
    }
}
