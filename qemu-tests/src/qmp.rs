//! A minimal QMP client (QEMU's JSON protocol on a unix socket, `MachineConfig::qmp`):
//! commands written as JSON text by hand, replies read line by line — `"return"` or
//! `"error"` answers the command, `"event"` lines are skipped. Enough for screen dumps,
//! keys on the machine's own keyboard (PS/2 → the VGA console), reading guest memory,
//! and passing other commands through (`device_add`, `human-monitor-command`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Qmp {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The string value of a `{"return": "..."}` reply (human-monitor-command's output).
pub fn return_string(reply: &str) -> Option<String> {
    let start = reply.find("\"return\"")? + "\"return\"".len();
    let rest = reply[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The QEMU key name (qcode) for an ASCII character, and whether Shift is needed.
pub fn qcode(c: char) -> Option<(String, bool)> {
    let plain = |name: &str| Some((name.to_string(), false));
    let shifted = |name: &str| Some((name.to_string(), true));
    match c {
        'a'..='z' | '0'..='9' => plain(&c.to_string()),
        'A'..='Z' => shifted(&c.to_ascii_lowercase().to_string()),
        ' ' => plain("spc"),
        '\n' | '\r' => plain("ret"),
        '\t' => plain("tab"),
        '-' => plain("minus"),
        '_' => shifted("minus"),
        '=' => plain("equal"),
        '+' => shifted("equal"),
        '/' => plain("slash"),
        '?' => shifted("slash"),
        '.' => plain("dot"),
        '>' => shifted("dot"),
        ',' => plain("comma"),
        '<' => shifted("comma"),
        ';' => plain("semicolon"),
        ':' => shifted("semicolon"),
        '\'' => plain("apostrophe"),
        '"' => shifted("apostrophe"),
        '[' => plain("bracket_left"),
        ']' => plain("bracket_right"),
        '\\' => plain("backslash"),
        '|' => shifted("backslash"),
        '`' => plain("grave_accent"),
        _ => None,
    }
}

impl Qmp {
    /// Connects to QEMU's QMP socket (waiting up to `timeout` for it to appear) and
    /// leaves capabilities negotiation mode.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp, String> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(err) if Instant::now() >= deadline => {
                    return Err(format!("QMP {}: {err}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| format!("QMP: {e}"))?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| format!("QMP: {e}"))?);
        let mut qmp = Qmp { stream, reader };
        let greeting = qmp.line()?;
        if !greeting.contains("\"QMP\"") {
            return Err(format!("not a QMP greeting: {greeting}"));
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("QMP: QEMU closed the connection".into()),
            Ok(_) => Ok(line),
            Err(err) => Err(format!("QMP: {err}")),
        }
    }

    /// Runs `command` with `arguments` (a JSON object's text) and returns the reply line,
    /// or the error reply as Err.
    pub fn execute(&mut self, command: &str, arguments: Option<&str>) -> Result<String, String> {
        let request = match arguments {
            Some(args) => format!(
                "{{\"execute\": {}, \"arguments\": {args}}}\n",
                json_string(command)
            ),
            None => format!("{{\"execute\": {}}}\n", json_string(command)),
        };
        self.stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("QMP {command}: {e}"))?;
        loop {
            let line = self.line()?;
            let reply = line.trim_start();
            if reply.starts_with("{\"return\"") {
                return Ok(line);
            }
            if reply.starts_with("{\"error\"") {
                return Err(format!("QMP {command}: {}", line.trim()));
            }
            // An event (or anything else): not the answer.
        }
    }

    /// The screen as QEMU shows it, written as a PPM file (`screendump`).
    pub fn screendump_ppm(&mut self, ppm: &Path) -> Result<(), String> {
        let args = format!("{{\"filename\": {}}}", json_string(&ppm.to_string_lossy()));
        self.execute("screendump", Some(&args)).map(|_| ())
    }

    /// The screen as a PNG file (dumped as PPM next to it, then converted here).
    pub fn screendump(&mut self, png: &Path) -> Result<(), String> {
        let ppm = png.with_extension("ppm");
        self.screendump_ppm(&ppm)?;
        let bytes = std::fs::read(&ppm).map_err(|e| format!("{}: {e}", ppm.display()))?;
        let encoded = crate::png::ppm_to_png(&bytes)?;
        let _ = std::fs::remove_file(&ppm);
        std::fs::write(png, encoded).map_err(|e| format!("{}: {e}", png.display()))
    }

    /// `size` bytes of guest physical memory from `address` (`pmemsave` into `scratch`).
    pub fn read_physical(
        &mut self,
        address: u64,
        size: u64,
        scratch: &Path,
    ) -> Result<Vec<u8>, String> {
        let args = format!(
            "{{\"val\": {address}, \"size\": {size}, \"filename\": {}}}",
            json_string(&scratch.to_string_lossy())
        );
        self.execute("pmemsave", Some(&args))?;
        let bytes = std::fs::read(scratch).map_err(|e| format!("{}: {e}", scratch.display()));
        let _ = std::fs::remove_file(scratch);
        bytes
    }

    /// The VGA text buffer (0xB8000, 32 KiB: 80-column rows of character + attribute
    /// bytes) as text rows. vgacon scrolls by moving the screen's start in this buffer,
    /// so the screen is 25 of these rows, not necessarily the first.
    pub fn vga_text_rows(&mut self, scratch: &Path) -> Result<Vec<String>, String> {
        let memory = self.read_physical(0xB8000, 0x8000, scratch)?;
        Ok(memory
            .chunks(160)
            .map(|row| {
                row.chunks(2)
                    .map(|cell| match cell[0] {
                        0x20..=0x7E => char::from(cell[0]),
                        _ => ' ',
                    })
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect())
    }

    fn key_event(&mut self, qcode: &str, down: bool) -> Result<(), String> {
        let args = format!(
            "{{\"events\": [{{\"type\": \"key\", \"data\": {{\"down\": {down}, \"key\": {{\"type\": \"qcode\", \"data\": {}}}}}}}]}}",
            json_string(qcode)
        );
        self.execute("input-send-event", Some(&args)).map(|_| ())
    }

    /// Presses and releases one key (a QEMU qcode: "a", "ret", "down", "esc", …) on the
    /// machine's keyboard (`input-send-event` without a device: the PS/2 keyboard).
    pub fn send_key(&mut self, qcode: &str) -> Result<(), String> {
        self.key_event(qcode, true)?;
        std::thread::sleep(Duration::from_millis(20));
        self.key_event(qcode, false)?;
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    }

    /// Ctrl + `qcode` (Ctrl-E: the editor's end of line).
    pub fn send_ctrl(&mut self, qcode: &str) -> Result<(), String> {
        self.key_event("ctrl", true)?;
        self.send_key(qcode)?;
        self.key_event("ctrl", false)
    }

    /// Types ASCII `text` on the machine's keyboard (Shift where needed).
    pub fn send_text(&mut self, text: &str) -> Result<(), String> {
        for c in text.chars() {
            let (name, shift) = qcode(c).ok_or_else(|| format!("no key for {c:?}"))?;
            if shift {
                self.key_event("shift", true)?;
            }
            self.send_key(&name)?;
            if shift {
                self.key_event("shift", false)?;
            }
        }
        Ok(())
    }

    /// `device_add` with `arguments` (a JSON object's text, e.g. `{"driver": "usb-storage",
    /// "id": "stick", "drive": "d1"}`).
    pub fn device_add(&mut self, arguments: &str) -> Result<String, String> {
        self.execute("device_add", Some(arguments))
    }

    /// A human monitor command (`drive_add`, `info block`, `xp …`) and its output.
    pub fn human_monitor_command(&mut self, command: &str) -> Result<String, String> {
        let args = format!("{{\"command-line\": {}}}", json_string(command));
        let reply = self.execute("human-monitor-command", Some(&args))?;
        return_string(&reply).ok_or_else(|| format!("QMP: no output in {}", reply.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_round_trip() {
        let text = "a \"b\" \\ c\r\n";
        let quoted = json_string(text);
        assert_eq!(quoted, r#""a \"b\" \\ c\r\n""#);
        assert_eq!(
            return_string(&format!("{{\"return\": {quoted}}}")).as_deref(),
            Some(text)
        );
        assert_eq!(
            return_string(r#"{"return": "x\u0041"}"#).as_deref(),
            Some("xA")
        );
        assert_eq!(return_string(r#"{"return": {}}"#), None);
    }

    #[test]
    fn characters_map_to_key_names() {
        assert_eq!(qcode('j'), Some(("j".into(), false)));
        assert_eq!(qcode('J'), Some(("j".into(), true)));
        assert_eq!(qcode(':'), Some(("semicolon".into(), true)));
        assert_eq!(qcode('\r'), Some(("ret".into(), false)));
        assert_eq!(qcode('é'), None);
    }
}
