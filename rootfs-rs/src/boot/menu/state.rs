//! The boot menu as a pure state machine: keys in, actions out (`render` draws a state).

use crate::boot::entry::EntryKind;
use crate::boot::menu::password::Lock;
use crate::boot::scan::volume::DiscoveredEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    Enter,
    Esc,
    Backspace,
    Delete,
    /// Control plus a letter, lower case ('a' for Ctrl-A).
    Ctrl(char),
    Char(char),
}

/// What one menu line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    pub label: String,
    pub device: String,
    /// Kernel path, or "chainload <target>" for entries kexec cannot start.
    pub kernel: String,
    pub cmdline: String,
}

impl MenuItem {
    pub fn from_entry(found: &DiscoveredEntry) -> MenuItem {
        let kernel = match &found.entry.kind {
            EntryKind::Linux => found.entry.kernel.display().to_string(),
            EntryKind::Chainload { target } => format!("chainload {target}"),
            EntryKind::Uki { profile: None, .. } => format!("uki {}", found.entry.kernel.display()),
            EntryKind::Uki {
                profile: Some(n), ..
            } => {
                format!("uki {} profile {n}", found.entry.kernel.display())
            }
        };
        let label = if crate::boot::launch::boot_count::has_no_tries_left(&found.entry) {
            format!("{} (no tries left)", found.entry.label)
        } else {
            found.entry.label.clone()
        };
        MenuItem {
            label,
            device: found.device.clone(),
            kernel,
            cmdline: found.entry.cmdline.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuChoice {
    /// Boot item `index` (0-based) with this command line (edited or not).
    Boot {
        index: usize,
        cmdline: String,
    },
    Shell,
    Rescan,
    /// Boot the kernel a path name names (`sda1:/vmlinuz`, `http://…`) with `cmdline`.
    BootPath {
        path: String,
        cmdline: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing changed on screen.
    None,
    Redraw,
    Choose(MenuChoice),
}

/// What the menu does once the password is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restricted {
    /// Boot the selected entry, which is not the default.
    Boot,
    Edit,
    Path,
    Shell,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Browse,
    /// Asking for the menu password before `then`.
    Password {
        typed: Vec<char>,
        then: Restricted,
    },
    /// Editing the selected entry's command line, or (`for_path`) typing a path name.
    Edit {
        line: Vec<char>,
        cursor: usize,
        for_path: bool,
    },
}

/// Entries moved by PageUp/PageDown.
const PAGE: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuState {
    pub items: Vec<MenuItem>,
    pub selected: usize,
    pub default: usize,
    /// Seconds left before the default boots; None once stopped (or never set).
    pub countdown: Option<u32>,
    /// One line shown under the list (an error after a failed boot).
    pub message: Option<String>,
    /// What the scan could not read (a failing disk, a broken config), on a line of its
    /// own: the warnings printed before the menu are drawn over on a monitor. Unlike
    /// `message` it leaves the countdown running, as GRUB boots past a broken disk.
    pub notice: Option<String>,
    mode: Mode,
    /// Digits typed so far, so "1" then "2" selects entry 12.
    number: String,
    /// `[menu] password`: editing, the path prompt, the shell and entries other than the
    /// default need it (docs/config.md).
    pub lock: Lock,
}

impl MenuState {
    pub fn new(items: Vec<MenuItem>, default: usize, timeout: Option<u32>) -> MenuState {
        let default = if default < items.len() { default } else { 0 };
        let countdown = if items.is_empty() { None } else { timeout };
        MenuState {
            items,
            selected: default,
            default,
            countdown,
            message: None,
            notice: None,
            mode: Mode::Browse,
            number: String::new(),
            lock: Lock::default(),
        }
    }

    /// The menu asking for `hash`'s password before restricted actions.
    pub fn with_password(mut self, hash: Option<String>) -> MenuState {
        self.lock = Lock::new(hash);
        self
    }

    /// The number of characters typed while the password is asked for.
    pub fn password_prompt(&self) -> Option<usize> {
        match &self.mode {
            Mode::Password { typed, .. } => Some(typed.len()),
            _ => None,
        }
    }

    /// Whether `choice` may be made without the password (the line menu's check): the
    /// default entry as it is, or a rescan.
    pub fn permits(&self, choice: &MenuChoice) -> bool {
        if !self.lock.is_locked() {
            return true;
        }
        match choice {
            MenuChoice::Rescan => true,
            MenuChoice::Boot { index, cmdline } => {
                *index == self.default
                    && self
                        .items
                        .get(*index)
                        .is_some_and(|i| &i.cmdline == cmdline)
            }
            MenuChoice::Shell | MenuChoice::BootPath { .. } => false,
        }
    }

    /// Does `what` now, or first asks for the password.
    fn restricted(&mut self, what: Restricted) -> Action {
        if self.lock.is_locked() {
            self.mode = Mode::Password {
                typed: Vec::new(),
                then: what,
            };
            return Action::Redraw;
        }
        match what {
            Restricted::Boot => self.boot_selected(self.current_cmdline()),
            Restricted::Edit => match self.items.get(self.selected) {
                Some(item) => {
                    let line: Vec<char> = item.cmdline.chars().collect();
                    let cursor = line.len();
                    self.mode = Mode::Edit {
                        line,
                        cursor,
                        for_path: false,
                    };
                    Action::Redraw
                }
                None => Action::None,
            },
            Restricted::Path => {
                self.mode = Mode::Edit {
                    line: Vec::new(),
                    cursor: 0,
                    for_path: true,
                };
                Action::Redraw
            }
            Restricted::Shell => Action::Choose(MenuChoice::Shell),
        }
    }

    fn password_key(&mut self, key: Key) -> Action {
        let Mode::Password { typed, then } = &mut self.mode else {
            return Action::None;
        };
        match key {
            Key::Enter => {
                let (entered, then): (String, Restricted) = (typed.iter().collect(), *then);
                self.mode = Mode::Browse;
                if self.lock.try_unlock(&entered) {
                    self.message = None;
                    return self.restricted(then);
                }
                self.message = Some("Wrong password.".to_string());
            }
            Key::Esc | Key::Ctrl('c') => self.mode = Mode::Browse,
            Key::Backspace | Key::Ctrl('h') => {
                typed.pop();
            }
            Key::Ctrl('u') => typed.clear(),
            Key::Char(c) if !c.is_control() => typed.push(c),
            _ => return Action::None,
        }
        Action::Redraw
    }

    pub fn is_editing(&self) -> bool {
        matches!(self.mode, Mode::Edit { .. })
    }

    /// The line being edited and the cursor position in characters.
    pub fn edit_line(&self) -> Option<(String, usize)> {
        match &self.mode {
            Mode::Edit { line, cursor, .. } => Some((line.iter().collect(), *cursor)),
            _ => None,
        }
    }

    /// True while the user types a path name to boot (the `p` prompt).
    pub fn is_path_prompt(&self) -> bool {
        matches!(self.mode, Mode::Edit { for_path: true, .. })
    }

    /// The command line a typed path boots with: the selected entry's, if any.
    fn current_cmdline(&self) -> String {
        self.items
            .get(self.selected)
            .map(|i| i.cmdline.clone())
            .unwrap_or_default()
    }

    fn boot_selected(&self, cmdline: String) -> Action {
        if self.items.is_empty() {
            return Action::None;
        }
        Action::Choose(MenuChoice::Boot {
            index: self.selected,
            cmdline,
        })
    }

    /// Called once a second while the countdown runs; boots the default when it ends.
    pub fn tick(&mut self) -> Action {
        match self.countdown {
            Some(0) | Some(1) => {
                self.countdown = None;
                let cmdline = self.items.get(self.selected).map(|i| i.cmdline.clone());
                cmdline.map_or(Action::None, |c| self.boot_selected(c))
            }
            Some(n) => {
                self.countdown = Some(n - 1);
                Action::Redraw
            }
            None => Action::None,
        }
    }

    /// Whether the countdown has already run out (timeout 0: boot without waiting).
    pub fn expired(&self) -> bool {
        self.countdown == Some(0)
    }

    pub fn handle_key(&mut self, key: Key) -> Action {
        let stopped = self.countdown.take().is_some();
        let action = match self.mode {
            Mode::Browse => self.browse_key(key),
            Mode::Edit { .. } => self.edit_key(key),
            Mode::Password { .. } => self.password_key(key),
        };
        match action {
            Action::None if stopped => Action::Redraw,
            other => other,
        }
    }

    fn select(&mut self, index: usize) -> Action {
        let index = index.min(self.items.len().saturating_sub(1));
        if index == self.selected {
            return Action::None;
        }
        self.selected = index;
        Action::Redraw
    }

    fn browse_key(&mut self, key: Key) -> Action {
        if !matches!(key, Key::Char('0'..='9')) {
            self.number.clear();
        }
        let last = self.items.len().saturating_sub(1);
        match key {
            Key::Up | Key::Char('k') => self.select(self.selected.saturating_sub(1)),
            Key::Down | Key::Char('j') => self.select(self.selected + 1),
            Key::Home | Key::Char('g') => self.select(0),
            Key::End | Key::Char('G') => self.select(last),
            Key::PageUp => self.select(self.selected.saturating_sub(PAGE)),
            Key::PageDown => self.select(self.selected + PAGE),
            Key::Enter if self.selected == self.default => {
                self.boot_selected(self.current_cmdline())
            }
            Key::Enter => self.restricted(Restricted::Boot),
            Key::Char(digit @ '0'..='9') => self.type_digit(digit),
            Key::Char('e') => self.restricted(Restricted::Edit),
            Key::Char('p') => self.restricted(Restricted::Path),
            Key::Char('c' | 's' | 'q') | Key::Esc | Key::Ctrl('c') => {
                self.restricted(Restricted::Shell)
            }
            Key::Char('r') => Action::Choose(MenuChoice::Rescan),
            _ => Action::None,
        }
    }

    /// Digits select by number; a digit that cannot extend the number typed so far starts a
    /// new one (with 12 entries: "1","2" is 12, "3","1" is 1).
    fn type_digit(&mut self, digit: char) -> Action {
        self.number.push(digit);
        let valid = |text: &str| {
            text.parse::<usize>()
                .is_ok_and(|n| n >= 1 && n <= self.items.len())
        };
        if !valid(&self.number) {
            self.number = digit.to_string();
            if !valid(&self.number) {
                self.number.clear();
                return Action::None;
            }
        }
        let index = self.number.parse::<usize>().unwrap_or(1) - 1;
        self.select(index)
    }

    fn edit_key(&mut self, key: Key) -> Action {
        let cmdline_for_path = self.current_cmdline();
        let Mode::Edit {
            line,
            cursor,
            for_path,
        } = &mut self.mode
        else {
            return Action::None;
        };
        match key {
            Key::Enter | Key::Ctrl('x') if *for_path => {
                let path: String = line.iter().collect::<String>().trim().to_string();
                self.mode = Mode::Browse;
                if path.is_empty() {
                    return Action::Redraw;
                }
                return Action::Choose(MenuChoice::BootPath {
                    path,
                    cmdline: cmdline_for_path,
                });
            }
            Key::Enter | Key::Ctrl('x') => {
                let cmdline: String = line.iter().collect();
                self.mode = Mode::Browse;
                return self.boot_selected(cmdline);
            }
            Key::Esc | Key::Ctrl('c') => self.mode = Mode::Browse,
            Key::Left | Key::Ctrl('b') => *cursor = cursor.saturating_sub(1),
            Key::Right | Key::Ctrl('f') => *cursor = (*cursor + 1).min(line.len()),
            Key::Home | Key::Ctrl('a') => *cursor = 0,
            Key::End | Key::Ctrl('e') => *cursor = line.len(),
            Key::Backspace | Key::Ctrl('h') if *cursor > 0 => {
                *cursor -= 1;
                line.remove(*cursor);
            }
            Key::Delete | Key::Ctrl('d') if *cursor < line.len() => {
                line.remove(*cursor);
            }
            Key::Ctrl('k') => line.truncate(*cursor),
            Key::Ctrl('u') => {
                line.drain(..*cursor);
                *cursor = 0;
            }
            Key::Char(c) if !c.is_control() => {
                line.insert(*cursor, c);
                *cursor += 1;
            }
            _ => return Action::None,
        }
        Action::Redraw
    }
}

/// Answers the line-based fallback prompt: a number, empty for the default, or a letter.
pub fn parse_line_choice(line: &str, state: &MenuState) -> Option<MenuChoice> {
    let line = line.trim();
    let boot = |index: usize| {
        state.items.get(index).map(|item| MenuChoice::Boot {
            index,
            cmdline: item.cmdline.clone(),
        })
    };
    match line {
        "" => boot(state.default),
        "c" | "s" | "q" => Some(MenuChoice::Shell),
        "r" => Some(MenuChoice::Rescan),
        // kboot 2006: a path name typed at the prompt boots that kernel.
        path if path.contains(['/', ':']) => Some(MenuChoice::BootPath {
            path: path.to_string(),
            cmdline: state
                .items
                .get(state.default)
                .map(|i| i.cmdline.clone())
                .unwrap_or_default(),
        }),
        number => boot(number.parse::<usize>().ok()?.checked_sub(1)?),
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
pub(crate) mod tests;
