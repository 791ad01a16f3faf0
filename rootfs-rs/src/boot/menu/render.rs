//! Draws the boot menu: the whole screen for a `MenuState` as ANSI text (80x24 on a serial
//! console that reports 0x0).

use crate::boot::menu::state::MenuState;

/// A serial console reports 0x0: assume the classic 80x24 there.
pub fn screen_size(width: u16, height: u16) -> (usize, usize) {
    if width == 0 || height == 0 {
        return (80, 24);
    }
    (usize::from(width).max(20), usize::from(height).max(8))
}

/// Cuts `text` to `width` characters, padding with blanks when `pad`.
fn fit(text: &str, width: usize, pad: bool) -> String {
    let mut out: String = text.chars().take(width).collect();
    if pad {
        let len = out.chars().count();
        out.extend(std::iter::repeat_n(' ', width - len));
    }
    out
}

/// A submenu entry's full label ("Advanced options…>Debian, with Linux 6.1 (recovery)")
/// rarely fits; its own title is what tells the entries apart, so that is kept.
fn display_label(label: &str, width: usize) -> String {
    match label.rsplit_once('>') {
        Some((_, own)) if label.chars().count() > width => format!("> {own}"),
        _ => label.to_string(),
    }
}

const REVERSE: &str = "\x1b[7m";
const NORMAL: &str = "\x1b[0m";

/// The whole screen for `state` on a `width` x `height` terminal (0x0 means 80x24): ANSI
/// clear, lines ending in CR LF (raw mode has no output processing), cursor placed last.
pub fn render(state: &MenuState, width: u16, height: u16) -> String {
    let (width, height) = screen_size(width, height);
    let (mut lines, cursor) = match state.edit_line() {
        None => (browse_lines(state, width, height), None),
        Some((line, cursor)) => {
            let line: Vec<char> = line.chars().collect();
            edit_lines(state, &line, cursor, width, height)
        }
    };
    lines.truncate(height);
    let mut out = String::from("\x1b[H\x1b[2J");
    out.push_str(&lines.join("\r\n"));
    match cursor {
        Some((row, col)) => out.push_str(&format!("\x1b[{};{}H\x1b[?25h", row + 1, col + 1)),
        None => out.push_str("\x1b[?25l"),
    }
    out
}

fn browse_lines(state: &MenuState, width: usize, height: usize) -> Vec<String> {
    let count = state.items.len();
    // Title, blank, list, blank, two lines about the selected entry, status, help.
    let rows = height.saturating_sub(7).max(1);
    let top = state.selected.saturating_sub(rows - 1);
    let shown = top..(top + rows).min(count);
    let mut title = String::from("kboot boot menu");
    if count > rows {
        title.push_str(&format!(
            "  (entries {}-{} of {count})",
            shown.start + 1,
            shown.end
        ));
    }
    let mut lines = vec![fit(&title, width, false), String::new()];
    if count == 0 {
        lines.push(fit("No boot entries found on any disk.", width, false));
    }
    let number_width = count.to_string().len();
    let device_width = state
        .items
        .iter()
        .map(|i| i.device.len())
        .max()
        .unwrap_or(0)
        .min(12);
    let label_width = (width * 45 / 100).max(16);
    for index in shown {
        let item = &state.items[index];
        let mark = if index == state.default { '*' } else { ' ' };
        let text = format!(
            " {:>nw$}{mark} {}  {}  {}",
            index + 1,
            fit(&display_label(&item.label, label_width), label_width, true),
            fit(&item.device, device_width, true),
            item.kernel,
            nw = number_width
        );
        if index == state.selected {
            lines.push(format!("{REVERSE}{}{NORMAL}", fit(&text, width, true)));
        } else {
            lines.push(fit(&text, width, false).trim_end().to_string());
        }
    }
    lines.push(String::new());
    // The full label and what exactly boots, since the list columns cut both.
    let (about, boots) = match state.items.get(state.selected) {
        Some(item) => (
            item.label.clone(),
            format!("{}:{} {}", item.device, item.kernel, item.cmdline),
        ),
        None => (String::new(), String::new()),
    };
    lines.push(fit(&about, width, false));
    lines.push(fit(&boots, width, false));
    let status = match (
        &state.message,
        state.countdown,
        state.items.get(state.selected),
    ) {
        (Some(message), _, _) => message.clone(),
        (None, Some(left), Some(item)) => format!(
            "Booting '{}' in {left} s. Press any key to stop.",
            item.label
        ),
        (None, _, _) => String::new(),
    };
    lines.push(fit(&status, width, false));
    lines.push(fit(
        "Up/Down j/k or number: select  Enter: boot  e: edit  p: path  c: shell  r: rescan  q: quit",
        width,
        false,
    ));
    lines
}

/// The editor screen and the cursor's (row, column), both 0-based.
fn edit_lines(
    state: &MenuState,
    line: &[char],
    cursor: usize,
    width: usize,
    height: usize,
) -> (Vec<String>, Option<(usize, usize)>) {
    let item = state.items.get(state.selected);
    let label = item.map_or("", |i| i.label.as_str());
    let (title, detail) = if state.is_path_prompt() {
        (
            "Boot a kernel by path name: sda1:/boot/vmlinuz, LABEL=root:/vmlinuz, http://host/vmlinuz".to_string(),
            item.map_or("with an empty command line".to_string(), |i| {
                format!("with the command line of '{}'", i.label)
            }),
        )
    } else {
        (
            format!("Edit the command line of '{label}'"),
            item.map_or(String::new(), |i| {
                format!("kernel {} on {}", i.kernel, i.device)
            }),
        )
    };
    let mut lines = vec![
        fit(&title, width, false),
        fit(
            "Enter or Ctrl-X: boot   Esc: cancel   Ctrl-A/E: start/end   Ctrl-K/U: cut",
            width,
            false,
        ),
        fit(&detail, width, false),
        String::new(),
    ];
    let first_row = lines.len();
    let room = height.saturating_sub(first_row).max(1);
    // The line wraps at the screen width; rows scroll so the cursor's row stays visible.
    let cursor_row = cursor / width;
    let top = cursor_row.saturating_sub(room - 1);
    let total_rows = line.len() / width + 1;
    for row in top..total_rows.min(top + room) {
        let end = ((row + 1) * width).min(line.len());
        lines.push(line[row * width..end].iter().collect());
    }
    (lines, Some((first_row + cursor_row - top, cursor % width)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::menu::state::tests::items;
    use crate::boot::menu::state::Key;
    use crate::boot::menu::state::MenuState;

    /// Screen lines without escape sequences.
    fn visible_lines(screen: &str) -> Vec<String> {
        let mut plain = String::new();
        let mut chars = screen.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() {
                        break;
                    }
                }
                continue;
            }
            plain.push(c);
        }
        plain.split("\r\n").map(str::to_string).collect()
    }

    #[test]
    fn render_80x24_highlights_selection_and_marks_default() {
        let mut state = MenuState::new(items(3), 1, Some(4));
        let screen = render(&state, 80, 24);
        assert!(screen.starts_with("\x1b[H\x1b[2J"));
        let lines = visible_lines(&screen);
        assert!(lines.len() <= 24);
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:#?}");
        let highlighted: Vec<&str> = screen
            .split("\r\n")
            .filter(|l| l.starts_with(REVERSE))
            .collect();
        assert_eq!(highlighted.len(), 1);
        assert!(highlighted[0].contains("Entry number 2"));
        assert!(highlighted[0].contains("vda2"));
        assert!(highlighted[0].contains("/boot/vmlinuz-6.1.0-2-amd64"));
        let row2 = lines.iter().find(|l| l.contains("Entry number 2")).cloned();
        assert!(
            row2.is_some_and(|l| l.trim_start().starts_with("2*")),
            "{lines:#?}"
        );
        assert!(lines
            .iter()
            .any(|l| l == "Booting 'Entry number 2' in 4 s. Press any key to stop."));
        state.handle_key(Key::Up);
        let lines = visible_lines(&render(&state, 80, 24));
        assert!(!lines.iter().any(|l| l.contains("Booting")));
    }

    #[test]
    fn long_submenu_labels_keep_their_own_title() {
        let mut list = items(2);
        list[1].label = "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)".into();
        let lines = visible_lines(&render(&MenuState::new(list.clone(), 0, None), 80, 24));
        assert!(
            lines[3].starts_with(" 2  > Debian GNU/Linux, with Linux 6.1.0"),
            "{lines:#?}"
        );
        let mut state = MenuState::new(list, 1, None);
        let lines = visible_lines(&render(&state, 80, 24));
        assert_eq!(
            lines[5],
            "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-18-amd6"
        );
        assert_eq!(
            lines[6],
            "vda2:/boot/vmlinuz-6.1.0-2-amd64 root=/dev/vda2 ro"
        );
        state.handle_key(Key::Up);
        let lines = visible_lines(&render(&state, 80, 24));
        assert_eq!(lines[5], "Entry number 1");
        assert_eq!(display_label("Short>Entry", 36), "Short>Entry");
    }

    #[test]
    fn render_0x0_is_80x24_and_long_lists_scroll() {
        let mut state = MenuState::new(items(40), 0, None);
        assert_eq!(render(&state, 0, 0), render(&state, 80, 24));
        state.handle_key(Key::End);
        let screen = render(&state, 0, 0);
        let lines = visible_lines(&screen);
        assert!(lines.len() <= 24);
        assert!(lines[0].contains("of 40"), "{}", lines[0]);
        assert!(lines.iter().any(|l| l.contains("Entry number 40")));
        assert!(!lines.iter().any(|l| l.contains("Entry number 1 ")));
        let narrow = visible_lines(&render(&state, 30, 10));
        assert!(narrow.len() <= 10);
        assert!(
            narrow.iter().all(|l| l.chars().count() <= 30),
            "{narrow:#?}"
        );
    }

    #[test]
    fn render_edit_places_cursor_on_wrapped_line() {
        let mut long = items(1);
        long[0].cmdline = "x".repeat(100);
        let mut state = MenuState::new(long, 0, None);
        state.handle_key(Key::Char('e'));
        let screen = render(&state, 80, 24);
        // 100 characters: row 4 holds 80, row 5 the other 20; cursor after the last one.
        assert!(screen.ends_with("\x1b[6;21H\x1b[?25h"), "{screen:?}");
        let lines = visible_lines(&screen);
        assert_eq!(lines[4], "x".repeat(80));
        state.handle_key(Key::Home);
        assert!(render(&state, 80, 24).ends_with("\x1b[5;1H\x1b[?25h"));
    }
}
