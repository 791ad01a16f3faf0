//! The boot menu as a pure state machine: keys in, actions out (`render` draws a state).

use crate::boot::entry::EntryKind;
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
            EntryKind::Uki { profile: None } => format!("uki {}", found.entry.kernel.display()),
            EntryKind::Uki { profile: Some(n) } => {
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Browse,
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
    mode: Mode,
    /// Digits typed so far, so "1" then "2" selects entry 12.
    number: String,
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
            mode: Mode::Browse,
            number: String::new(),
        }
    }

    pub fn is_editing(&self) -> bool {
        matches!(self.mode, Mode::Edit { .. })
    }

    /// The line being edited and the cursor position in characters.
    pub fn edit_line(&self) -> Option<(String, usize)> {
        match &self.mode {
            Mode::Edit { line, cursor, .. } => Some((line.iter().collect(), *cursor)),
            Mode::Browse => None,
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
            Key::Enter => {
                let cmdline = self.items.get(self.selected).map(|i| i.cmdline.clone());
                cmdline.map_or(Action::None, |c| self.boot_selected(c))
            }
            Key::Char(digit @ '0'..='9') => self.type_digit(digit),
            Key::Char('e') => match self.items.get(self.selected) {
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
            Key::Char('p') => {
                self.mode = Mode::Edit {
                    line: Vec::new(),
                    cursor: 0,
                    for_path: true,
                };
                Action::Redraw
            }
            Key::Char('c' | 's' | 'q') | Key::Esc | Key::Ctrl('c') => {
                Action::Choose(MenuChoice::Shell)
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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn items(count: usize) -> Vec<MenuItem> {
        (1..=count)
            .map(|n| MenuItem {
                label: format!("Entry number {n}"),
                device: format!("vda{n}"),
                kernel: format!("/boot/vmlinuz-6.1.0-{n}-amd64"),
                cmdline: format!("root=/dev/vda{n} ro"),
            })
            .collect()
    }

    fn boot(index: usize, cmdline: &str) -> Action {
        Action::Choose(MenuChoice::Boot {
            index,
            cmdline: cmdline.to_string(),
        })
    }

    #[test]
    fn navigation_stays_in_range() {
        let mut state = MenuState::new(items(3), 1, None);
        assert_eq!(state.selected, 1);
        assert_eq!(state.handle_key(Key::Up), Action::Redraw);
        assert_eq!(state.handle_key(Key::Char('k')), Action::None);
        assert_eq!(state.selected, 0);
        state.handle_key(Key::Char('j'));
        state.handle_key(Key::Down);
        assert_eq!(state.handle_key(Key::Down), Action::None);
        assert_eq!(state.selected, 2);
        state.handle_key(Key::Home);
        assert_eq!(state.selected, 0);
        state.handle_key(Key::PageDown);
        assert_eq!(state.selected, 2);
        assert_eq!(state.handle_key(Key::Enter), boot(2, "root=/dev/vda3 ro"));
    }

    #[test]
    fn countdown_boots_default_and_any_key_stops_it() {
        let mut state = MenuState::new(items(3), 1, Some(3));
        assert_eq!(state.tick(), Action::Redraw);
        assert_eq!(state.countdown, Some(2));
        assert_eq!(state.tick(), Action::Redraw);
        assert_eq!(state.tick(), boot(1, "root=/dev/vda2 ro"));

        let mut stopped = MenuState::new(items(3), 1, Some(3));
        assert_eq!(stopped.handle_key(Key::Char('x')), Action::Redraw);
        assert_eq!(stopped.countdown, None);
        assert_eq!(stopped.tick(), Action::None);
        assert!(MenuState::new(items(3), 0, Some(0)).expired());
        // Nothing to boot: no countdown at all.
        assert_eq!(MenuState::new(Vec::new(), 0, Some(5)).countdown, None);
    }

    #[test]
    fn number_keys_select_one_and_two_digit_entries() {
        let mut state = MenuState::new(items(12), 0, None);
        state.handle_key(Key::Char('3'));
        assert_eq!(state.selected, 2);
        state.handle_key(Key::Char('1'));
        assert_eq!(state.selected, 0, "31 is out of range, so '1' starts anew");
        state.handle_key(Key::Char('2'));
        assert_eq!(state.selected, 11);
        state.handle_key(Key::Char('0'));
        assert_eq!(state.selected, 11, "'120' and '0' name nothing");
        state.handle_key(Key::Down);
        state.handle_key(Key::Char('9'));
        assert_eq!(state.selected, 8);
    }

    #[test]
    fn shell_rescan_and_quit_keys() {
        for key in [Key::Char('c'), Key::Char('s'), Key::Char('q'), Key::Esc] {
            let mut state = MenuState::new(items(2), 0, Some(5));
            assert_eq!(
                state.handle_key(key),
                Action::Choose(MenuChoice::Shell),
                "{key:?}"
            );
        }
        let mut state = MenuState::new(items(2), 0, None);
        assert_eq!(
            state.handle_key(Key::Char('r')),
            Action::Choose(MenuChoice::Rescan)
        );
        let mut empty = MenuState::new(Vec::new(), 0, None);
        assert_eq!(empty.handle_key(Key::Enter), Action::None);
        assert_eq!(empty.handle_key(Key::Char('e')), Action::None);
    }

    #[test]
    fn editing_the_command_line() {
        let mut state = MenuState::new(items(2), 0, None);
        state.handle_key(Key::Down);
        assert_eq!(state.handle_key(Key::Char('e')), Action::Redraw);
        assert_eq!(
            state.edit_line(),
            Some(("root=/dev/vda2 ro".to_string(), 17))
        );
        for c in " single".chars() {
            state.handle_key(Key::Char(c));
        }
        state.handle_key(Key::Home);
        state.handle_key(Key::Delete);
        state.handle_key(Key::Char('R'));
        state.handle_key(Key::End);
        state.handle_key(Key::Backspace);
        // 'c' and 'q' are text while editing, not shell or quit.
        state.handle_key(Key::Char('q'));
        assert_eq!(
            state.edit_line(),
            Some(("Root=/dev/vda2 ro singlq".to_string(), 24))
        );
        assert_eq!(
            state.handle_key(Key::Enter),
            boot(1, "Root=/dev/vda2 ro singlq")
        );
        assert!(!state.is_editing());
        // The entry itself is unchanged; Esc discards an edit.
        state.handle_key(Key::Char('e'));
        state.handle_key(Key::Ctrl('u'));
        assert_eq!(state.edit_line(), Some(("".to_string(), 0)));
        state.handle_key(Key::Esc);
        assert!(!state.is_editing());
        assert_eq!(state.handle_key(Key::Enter), boot(1, "root=/dev/vda2 ro"));
    }

    #[test]
    fn line_fallback_answers() {
        let state = MenuState::new(items(3), 2, None);
        assert_eq!(
            parse_line_choice("\n", &state),
            Some(MenuChoice::Boot {
                index: 2,
                cmdline: "root=/dev/vda3 ro".into()
            })
        );
        assert_eq!(
            parse_line_choice(" 1 ", &state)
                .map(|c| matches!(c, MenuChoice::Boot { index: 0, .. })),
            Some(true)
        );
        assert_eq!(parse_line_choice("c", &state), Some(MenuChoice::Shell));
        assert_eq!(parse_line_choice("r", &state), Some(MenuChoice::Rescan));
        assert_eq!(parse_line_choice("4", &state), None);
        assert_eq!(parse_line_choice("0", &state), None);
        assert_eq!(parse_line_choice("x", &state), None);
    }

    #[test]
    fn a_typed_path_name_boots_with_the_selected_command_line() {
        let mut state = MenuState::new(items(3), 0, None);
        state.handle_key(Key::Down);
        assert_eq!(state.handle_key(Key::Char('p')), Action::Redraw);
        assert!(state.is_path_prompt());
        for c in "sda1:/vmlinuz".chars() {
            state.handle_key(Key::Char(c));
        }
        assert_eq!(
            state.handle_key(Key::Enter),
            Action::Choose(MenuChoice::BootPath {
                path: "sda1:/vmlinuz".into(),
                cmdline: "root=/dev/vda2 ro".into(),
            })
        );
        assert!(!state.is_path_prompt());
        // An empty path or Esc goes back to the list; it works with no entries too.
        let mut empty = MenuState::new(Vec::new(), 0, None);
        empty.handle_key(Key::Char('p'));
        assert_eq!(empty.handle_key(Key::Enter), Action::Redraw);
        empty.handle_key(Key::Char('p'));
        empty.handle_key(Key::Char('x'));
        empty.handle_key(Key::Esc);
        assert!(!empty.is_path_prompt());
        // The line prompt takes path names too.
        assert_eq!(
            parse_line_choice("http://10.0.2.2:8000/vmlinuz\n", &state),
            Some(MenuChoice::BootPath {
                path: "http://10.0.2.2:8000/vmlinuz".into(),
                cmdline: "root=/dev/vda1 ro".into(),
            })
        );
        assert_eq!(parse_line_choice("99", &state), None);
    }
}
