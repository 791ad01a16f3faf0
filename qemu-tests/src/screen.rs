//! What a person at the serial console sees: the console's byte stream replayed on a
//! small terminal (80x24 by default, what kboot assumes on a serial line), so tests read
//! the screen as it looks, not the escape sequences that drew it. The menu redraws only
//! the lines that change (cursor moves, erase-line), so the raw stream no longer holds
//! one clean copy of each row.
//!
//! Handled: printable text with autowrap, CR, LF (scrolling at the bottom), BS, and the
//! CSI sequences kboot and the kernel use: cursor position (H, f), cursor moves (A–D),
//! erase in display (J) and in line (K); others (colours, cursor visibility) are read
//! and ignored.

pub struct Terminal {
    width: usize,
    height: usize,
    cells: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Terminal {
    pub fn new(width: usize, height: usize) -> Terminal {
        Terminal {
            width,
            height,
            cells: vec![vec![' '; width]; height],
            row: 0,
            col: 0,
        }
    }

    /// The screen after `output`, on a `width` x `height` terminal.
    pub fn replay(output: &str, width: usize, height: usize) -> Terminal {
        let mut t = Terminal::new(width, height);
        t.feed(output);
        t
    }

    pub fn feed(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => {
                    if chars.peek() == Some(&'[') {
                        chars.next();
                        let mut params = String::new();
                        let mut last = None;
                        for p in chars.by_ref() {
                            if ('\x40'..='\x7e').contains(&p) {
                                last = Some(p);
                                break;
                            }
                            params.push(p);
                        }
                        if let Some(command) = last {
                            self.csi(&params, command);
                        }
                    }
                }
                '\r' => self.col = 0,
                '\n' => self.line_feed(),
                '\x08' => self.col = self.col.saturating_sub(1),
                c if c.is_control() => {}
                c => {
                    if self.col >= self.width {
                        self.col = 0;
                        self.line_feed();
                    }
                    self.cells[self.row][self.col] = c;
                    self.col += 1;
                }
            }
        }
    }

    fn line_feed(&mut self) {
        if self.row + 1 < self.height {
            self.row += 1;
        } else {
            self.cells.remove(0);
            self.cells.push(vec![' '; self.width]);
        }
    }

    fn csi(&mut self, params: &str, command: char) {
        if params.starts_with('?') {
            return; // private modes: cursor visibility and the like
        }
        let numbers: Vec<usize> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
        let arg = |i: usize, default: usize| match numbers.get(i) {
            Some(0) | None => default,
            Some(&n) => n,
        };
        match command {
            'H' | 'f' => {
                self.row = arg(0, 1).min(self.height) - 1;
                self.col = arg(1, 1).min(self.width) - 1;
            }
            'A' => self.row = self.row.saturating_sub(arg(0, 1)),
            'B' => self.row = (self.row + arg(0, 1)).min(self.height - 1),
            'C' => self.col = (self.col + arg(0, 1)).min(self.width - 1),
            'D' => self.col = self.col.saturating_sub(arg(0, 1)),
            'J' => match numbers.first().copied().unwrap_or(0) {
                2 | 3 => self.cells = vec![vec![' '; self.width]; self.height],
                _ => {
                    let (row, col) = (self.row, self.col.min(self.width));
                    self.cells[row][col..].fill(' ');
                    for line in &mut self.cells[row + 1..] {
                        line.fill(' ');
                    }
                }
            },
            'K' => {
                let col = self.col.min(self.width);
                match numbers.first().copied().unwrap_or(0) {
                    2 => self.cells[self.row].fill(' '),
                    1 => self.cells[self.row][..col].fill(' '),
                    _ => self.cells[self.row][col..].fill(' '),
                }
            }
            _ => {}
        }
    }

    /// The screen's rows, trailing blanks removed.
    pub fn lines(&self) -> Vec<String> {
        self.cells
            .iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_string())
            .collect()
    }

    pub fn text(&self) -> String {
        self.lines().join("\n")
    }
}

/// The number of the menu row showing `label` on the screen the console output leaves
/// (rows look like " 3* Label  vda1  /boot/…"; the lines about the selection below the
/// list show the label without a number). None when no row shows it.
pub fn entry_number(output: &str, label: &str) -> Option<String> {
    let screen = Terminal::replay(output, 80, 24);
    screen.lines().iter().find_map(|line| {
        let rest = line.trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let after = rest[digits.len()..].trim_start_matches(['*', ' ']);
        (!digits.is_empty() && after.starts_with(label)).then_some(digits)
    })
}

/// `entry_number` for a test: panics with the screen when no row shows `label`.
pub fn menu_row(output: &str, label: &str) -> String {
    entry_number(output, label).unwrap_or_else(|| {
        let screen = Terminal::replay(output, 80, 24).text();
        panic!("{label:?} has no numbered row in the menu:\n{screen}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_draw_then_line_updates_leave_the_screen_a_person_sees() {
        let full = "kernel noise\r\nmore\r\n\x1b[H\x1b[2Jkboot boot menu\r\n\r\n\
                    \x1b[7m 1* Corrupt Kernel  vda1  /boot/x\x1b[0m\r\n 2  Debian  vda1  /boot/y\r\n\
                    \r\nCorrupt Kernel\r\nBooting 'Corrupt Kernel' in 60 s.\x1b[?25l";
        let update = "\x1b[7;1H\x1b[2KBooting 'Corrupt Kernel' in 59 s.\x1b[?25l\
                      \x1b[3;1H\x1b[2K 1* Corrupt Kernel  vda1  /boot/x\
                      \x1b[4;1H\x1b[2K\x1b[7m 2  Debian  vda1  /boot/y\x1b[0m\
                      \x1b[6;1H\x1b[2KDebian";
        let output = format!("{full}{update}");
        let screen = Terminal::replay(&output, 80, 24);
        let lines = screen.lines();
        assert_eq!(lines[0], "kboot boot menu");
        assert_eq!(lines[2], " 1* Corrupt Kernel  vda1  /boot/x");
        assert_eq!(lines[3], " 2  Debian  vda1  /boot/y");
        assert_eq!(lines[5], "Debian");
        assert_eq!(lines[6], "Booting 'Corrupt Kernel' in 59 s.");
        assert_eq!(
            entry_number(&output, "Corrupt Kernel").as_deref(),
            Some("1")
        );
        assert_eq!(entry_number(&output, "Debian").as_deref(), Some("2"));
        assert_eq!(entry_number(&output, "Missing"), None);
    }

    #[test]
    fn text_wraps_and_scrolls() {
        let mut t = Terminal::new(4, 2);
        t.feed("abcdef\r\nxy\x1b[1Dz");
        assert_eq!(t.lines(), ["ef", "xz"]);
        t.feed("\x1b[1;1H\x1b[K");
        assert_eq!(t.lines(), ["", "xz"]);
    }
}
