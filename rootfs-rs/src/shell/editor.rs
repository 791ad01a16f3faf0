//! Interactive front end: `kboot# ` prompt with raw-mode line editing (left/right, home/end,
//! backspace/delete, Ctrl-A/E/K/U/W/L/C/D), history on up/down (optionally kept in a file),
//! and tab completion of commands (applets, builtins, PATH) and paths. `kboot triage -i`
//! uses the same editor with its own completer and history file.
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::path::PathBuf;

use rustix::termios::{self, InputModes, LocalModes, OptionalActions, SpecialCodeIndex};

use super::{parse, Flow, ParseError, Shell};

enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    Up,
    Down,
    Home,
    End,
    Tab,
    Ctrl(u8),
    Eof,
    Ignore,
}

struct Terminal {
    fd: BorrowedFd<'static>,
    saved: termios::Termios,
}

impl Terminal {
    fn raw() -> io::Result<Terminal> {
        let fd = rustix::stdio::stdin();
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.local_modes
            .remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG | LocalModes::IEXTEN);
        raw.input_modes.remove(InputModes::ICRNL | InputModes::IXON);
        raw.special_codes[SpecialCodeIndex::VMIN] = 1;
        raw.special_codes[SpecialCodeIndex::VTIME] = 0;
        termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
        Ok(Terminal { fd, saved })
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, OptionalActions::Now, &self.saved);
    }
}

fn read_byte() -> Option<u8> {
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut b) {
            Ok(0) => return None,
            Ok(_) => return Some(b[0]),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

fn read_key() -> Key {
    let Some(b) = read_byte() else {
        return Key::Eof;
    };
    match b {
        b'\r' | b'\n' => Key::Enter,
        0x7f | 0x08 => Key::Backspace,
        b'\t' => Key::Tab,
        0x1b => match read_byte() {
            Some(b'[') | Some(b'O') => match read_byte() {
                Some(b'A') => Key::Up,
                Some(b'B') => Key::Down,
                Some(b'C') => Key::Right,
                Some(b'D') => Key::Left,
                Some(b'H') => Key::Home,
                Some(b'F') => Key::End,
                Some(d @ b'0'..=b'9') => {
                    // ESC [ n ~ forms; skip any further parameters.
                    let mut last = read_byte();
                    while matches!(last, Some(b'0'..=b'9') | Some(b';')) {
                        last = read_byte();
                    }
                    match (d, last) {
                        (b'1' | b'7', Some(b'~')) => Key::Home,
                        (b'4' | b'8', Some(b'~')) => Key::End,
                        (b'3', Some(b'~')) => Key::Delete,
                        _ => Key::Ignore,
                    }
                }
                _ => Key::Ignore,
            },
            _ => Key::Ignore,
        },
        c if c < 0x20 => Key::Ctrl(c),
        c if c < 0x80 => Key::Char(c as char),
        c => {
            // UTF-8: gather the continuation bytes.
            let len = if c >= 0xf0 {
                4
            } else if c >= 0xe0 {
                3
            } else {
                2
            };
            let mut bytes = vec![c];
            for _ in 1..len {
                bytes.extend(read_byte());
            }
            String::from_utf8(bytes)
                .ok()
                .and_then(|s| s.chars().next())
                .map(Key::Char)
                .unwrap_or(Key::Ignore)
        }
    }
}

pub struct Editor {
    history: Vec<String>,
    /// Where entered lines are appended, if anywhere.
    history_file: Option<PathBuf>,
}

/// Entries loaded from a history file (the newest); the file is rewritten with only these
/// once it holds twice as many.
const HISTORY_FILE_LIMIT: usize = 1000;
/// Only the end of a history file is read: a huge or endless file (a link to /dev/zero)
/// must not stall the prompt.
const HISTORY_FILE_MAX_READ: u64 = 1 << 20;

/// The last `max` bytes of a file, starting after a line break when cut.
fn read_tail(path: &std::path::Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let cut = len > max;
    if cut {
        f.seek(SeekFrom::Start(len - max))?;
    }
    let mut bytes = Vec::new();
    f.take(max).read_to_end(&mut bytes)?;
    if cut {
        let start = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.drain(..start);
    }
    Ok(bytes)
}

struct Line {
    chars: Vec<char>,
    cursor: usize,
}

impl Line {
    fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The keys that only edit the line (the others are ignored here).
    fn edit(&mut self, key: Key) {
        match key {
            Key::Char(c) => {
                self.chars.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.chars.remove(self.cursor);
            }
            Key::Delete if self.cursor < self.chars.len() => {
                self.chars.remove(self.cursor);
            }
            Key::Left if self.cursor > 0 => self.cursor -= 1,
            Key::Right if self.cursor < self.chars.len() => self.cursor += 1,
            Key::Home | Key::Ctrl(0x01) => self.cursor = 0,
            Key::End | Key::Ctrl(0x05) => self.cursor = self.chars.len(),
            Key::Ctrl(0x0b) => self.chars.truncate(self.cursor),
            Key::Ctrl(0x15) => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::Ctrl(0x17) => {
                let mut start = self.cursor;
                while start > 0 && self.chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.chars[start - 1] != ' ' {
                    start -= 1;
                }
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
            _ => {}
        }
    }
}

fn redraw(out: &mut impl Write, prompt: &str, line: &Line) -> io::Result<()> {
    let text: String = line.text();
    write!(out, "\r{prompt}{text}\x1b[K")?;
    let back = line.chars.len() - line.cursor;
    if back > 0 {
        write!(out, "\x1b[{back}D")?;
    }
    out.flush()
}

impl Editor {
    pub fn new() -> Self {
        Editor {
            history: Vec::new(),
            history_file: None,
        }
    }

    /// An editor whose history starts with the last entries of `path` (one a line) and
    /// appends every new entry to it. A missing file starts an empty history; a file that
    /// cannot be read or written is reported once on stderr and the editor goes on without.
    pub fn with_history_file(path: PathBuf) -> Self {
        let mut editor = Editor::new();
        match read_tail(&path, HISTORY_FILE_MAX_READ) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                let keep = lines.len().saturating_sub(HISTORY_FILE_LIMIT);
                editor.history = lines[keep..].iter().map(|l| l.to_string()).collect();
                if lines.len() >= 2 * HISTORY_FILE_LIMIT {
                    let mut text = editor.history.join("\n");
                    text.push('\n');
                    if let Err(e) = std::fs::write(&path, text) {
                        crate::warn!("history {}: {e}", path.display());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                crate::warn!("history {}: {e}", path.display());
                return editor;
            }
        }
        editor.history_file = Some(path);
        editor
    }

    /// Adds an entered line to the history (and its file), skipping blanks and repeats.
    fn remember(&mut self, text: &str) {
        if text.trim().is_empty() || self.history.last().map(String::as_str) == Some(text) {
            return;
        }
        self.history.push(text.to_string());
        let Some(path) = &self.history_file else {
            return;
        };
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{text}"));
        if let Err(e) = appended {
            crate::warn!("history {}: {e} (not saved from now on)", path.display());
            self.history_file = None;
        }
    }

    /// One edited line; None at end of input (Ctrl-D on an empty line).
    pub fn read_line(&mut self, prompt: &str, shell: &Shell) -> io::Result<Option<String>> {
        self.read_line_with(prompt, &|before| candidates(shell, before))
    }

    /// `read_line` with another completer: text before the cursor → (start of the word
    /// being completed, candidates).
    pub fn read_line_with(
        &mut self,
        prompt: &str,
        completer: &Completer,
    ) -> io::Result<Option<String>> {
        let _raw = Terminal::raw()?;
        let mut out = io::stderr().lock();
        let mut line = Line {
            chars: Vec::new(),
            cursor: 0,
        };
        let mut hist_pos = self.history.len();
        let mut draft = String::new();
        redraw(&mut out, prompt, &line)?;
        loop {
            match read_key() {
                Key::Eof => return Ok(None),
                Key::Enter => {
                    write!(out, "\r\n")?;
                    let text = line.text();
                    self.remember(&text);
                    return Ok(Some(text));
                }
                Key::Up if hist_pos > 0 => {
                    if hist_pos == self.history.len() {
                        draft = line.text();
                    }
                    hist_pos -= 1;
                    line.chars = self.history[hist_pos].chars().collect();
                    line.cursor = line.chars.len();
                }
                Key::Down if hist_pos < self.history.len() => {
                    hist_pos += 1;
                    let text = if hist_pos == self.history.len() {
                        draft.clone()
                    } else {
                        self.history[hist_pos].clone()
                    };
                    line.chars = text.chars().collect();
                    line.cursor = line.chars.len();
                }
                Key::Tab => complete(&mut out, &mut line, completer)?,
                Key::Ctrl(0x03) => {
                    write!(out, "^C\r\n")?;
                    return Ok(Some(String::new()));
                }
                Key::Ctrl(0x04) => {
                    if line.chars.is_empty() {
                        write!(out, "\r\n")?;
                        return Ok(None);
                    }
                    if line.cursor < line.chars.len() {
                        line.chars.remove(line.cursor);
                    }
                }
                Key::Ctrl(0x0c) => write!(out, "\x1b[H\x1b[2J")?,
                other => line.edit(other),
            }
            redraw(&mut out, prompt, &line)?;
        }
    }
}

impl Default for Editor {
    fn default() -> Self {
        Self::new()
    }
}

/// Candidates for the word being typed: commands in command position, else paths.
pub fn candidates(shell: &Shell, before: &str) -> (usize, Vec<String>) {
    let start = before
        .rfind([' ', '\t', '|', ';', '&', '<', '>', '('])
        .map(|i| i + 1)
        .unwrap_or(0);
    let word = &before[start..];
    let head = before[..start].trim_end();
    let command_position = head.is_empty() || head.ends_with(['|', ';', '&', '(']);
    let mut found: Vec<String> = Vec::new();
    if command_position && !word.contains('/') {
        let mut names: Vec<String> = crate::applets::list()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        names.extend(
            [
                "cd", "export", "unset", "exit", "set", "source", "read", "eval", "exec",
            ]
            .map(String::from),
        );
        names.extend(shell.functions.keys().cloned());
        for dir in shell
            .get_var("PATH")
            .unwrap_or_default()
            .split(':')
            .filter(|d| !d.is_empty())
        {
            if let Ok(entries) = std::fs::read_dir(dir) {
                names.extend(
                    entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned()),
                );
            }
        }
        found = names
            .into_iter()
            .filter(|n| n.starts_with(word))
            .map(|n| format!("{n} "))
            .collect();
    } else {
        let (dir, prefix) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let listing = if dir.is_empty() { "." } else { dir };
        let expanded = if let Some(rest) = listing.strip_prefix("~/") {
            format!("{}/{rest}", shell.get_var("HOME").unwrap_or_default())
        } else {
            listing.to_string()
        };
        if let Ok(entries) = std::fs::read_dir(&expanded) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.'))
                {
                    continue;
                }
                let is_dir = std::fs::metadata(e.path())
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
                found.push(format!("{dir}{name}{}", if is_dir { "/" } else { " " }));
            }
        }
    }
    found.sort();
    found.dedup();
    (start, found)
}

fn common_prefix(items: &[String]) -> String {
    let Some(first) = items.first() else {
        return String::new();
    };
    let mut len = first.len();
    for s in items {
        len = len.min(
            first
                .bytes()
                .zip(s.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    first[..len].to_string()
}

/// Text before the cursor → (where the completed word starts, candidates).
pub type Completer<'a> = dyn Fn(&str) -> (usize, Vec<String>) + 'a;

fn complete(out: &mut impl Write, line: &mut Line, completer: &Completer) -> io::Result<()> {
    let before: String = line.chars[..line.cursor].iter().collect();
    let (start, found) = completer(&before);
    let word_len = before[start..].chars().count();
    let insertion = if found.len() == 1 {
        found[0].clone()
    } else {
        common_prefix(&found).trim_end().to_string()
    };
    if insertion.chars().count() > word_len {
        let new: Vec<char> = insertion.chars().collect();
        let word_start = line.cursor - word_len;
        line.chars
            .splice(word_start..line.cursor, new.iter().copied());
        line.cursor = word_start + new.len();
        return Ok(());
    }
    if found.len() > 1 {
        write!(out, "\r\n")?;
        // Show names only, directories with their slash.
        let shown: Vec<String> = found
            .iter()
            .map(|f| {
                let f = f.trim_end();
                let (body, slash) = match f.strip_suffix('/') {
                    Some(b) => (b, "/"),
                    None => (f, ""),
                };
                format!("{}{slash}", body.rsplit('/').next().unwrap_or(body))
            })
            .collect();
        let width = shown.iter().map(|s| s.chars().count()).max().unwrap_or(0) + 2;
        let cols = (crate::util::term::terminal_width() / width).max(1);
        for (i, s) in shown.iter().enumerate() {
            write!(out, "{s:<width$}")?;
            if (i + 1) % cols == 0 || i + 1 == shown.len() {
                write!(out, "\r\n")?;
            }
        }
    } else {
        write!(out, "\x07")?;
    }
    out.flush()
}

pub fn interactive(shell: &mut Shell) -> i32 {
    shell.interactive = true;
    if let Err(e) = crate::sys::block_job_signals() {
        crate::util::warn_err("sh", "signals", &e);
    }
    // No job control: Ctrl-Z would stop the shell along with the command, so switch it off.
    let saved_tty = termios::tcgetattr(rustix::stdio::stdin()).ok();
    if let Some(t) = &saved_tty {
        let mut no_suspend = t.clone();
        no_suspend.special_codes[SpecialCodeIndex::VSUSP] = 0;
        let _ = termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &no_suspend);
    }
    let status = prompt_loop(shell);
    if let Some(t) = &saved_tty {
        let _ = termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, t);
    }
    status
}

fn prompt_loop(shell: &mut Shell) -> i32 {
    let mut editor = Editor::new();
    let mut pending = String::new();
    loop {
        shell.reap_jobs();
        let prompt = if pending.is_empty() {
            shell.get_var("PS1").unwrap_or_else(|| "kboot# ".into())
        } else {
            "> ".to_string()
        };
        let line = match editor.read_line(&prompt, shell) {
            Ok(Some(l)) => l,
            Ok(None) => {
                if pending.is_empty() {
                    return shell.last_status;
                }
                crate::warn!("sh: syntax error: unexpected end of file");
                pending.clear();
                continue;
            }
            Err(e) => {
                crate::util::warn_err("sh", "terminal", &e);
                return 1;
            }
        };
        pending.push_str(&line);
        pending.push('\n');
        if matches!(parse(&pending), Err(ParseError::Incomplete)) {
            continue;
        }
        let src = std::mem::take(&mut pending);
        if let Flow::Exit(code) = shell.run_source(&src) {
            return code;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_of_commands_and_paths() {
        let shell = Shell::new();
        let (start, found) = candidates(&shell, "echo hi | sha2");
        assert_eq!(start, 10);
        assert!(found.contains(&"sha256sum ".to_string()));
        let dir = std::env::temp_dir().join(format!("kboot-complete-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("subdir"));
        let _ = std::fs::write(dir.join("file.txt"), "x");
        let (_, found) = candidates(&shell, &format!("cat {}/fi", dir.display()));
        assert_eq!(found, vec![format!("{}/file.txt ", dir.display())]);
        let (_, found) = candidates(&shell, &format!("cd {}/s", dir.display()));
        assert_eq!(found, vec![format!("{}/subdir/", dir.display())]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn history_files_are_read_from_their_end() {
        let path = std::env::temp_dir().join(format!("kboot-history-{}", std::process::id()));
        let _ = std::fs::write(&path, "first\nsecond\nthird\n");
        assert_eq!(
            read_tail(&path, 1 << 20).ok(),
            Some(b"first\nsecond\nthird\n".to_vec())
        );
        // Cut inside "second": the partial line is dropped.
        assert_eq!(read_tail(&path, 10).ok(), Some(b"third\n".to_vec()));
        let mut editor = Editor::with_history_file(path.clone());
        assert_eq!(editor.history, ["first", "second", "third"]);
        editor.remember("fourth");
        editor.remember("fourth");
        editor.remember("  ");
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("first\nsecond\nthird\nfourth\n")
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix(&["abc".into(), "abd".into()]), "ab");
        assert_eq!(common_prefix(&[]), "");
    }
}
