//! Draws the boot menu: the whole screen for a `MenuState` as ANSI text (80x24 on a serial
//! console that reports 0x0).

use crate::boot::menu::state::{MenuItem, MenuState};

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

/// `text` cut to `width` characters by dropping its middle ("Ubuntu, with Li...covery
/// mode)"): both ends of a label or a path are what tell entries apart.
fn elide_middle(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_string();
    }
    if width < 7 {
        return chars[..width].iter().collect();
    }
    let head = (width - 3).div_ceil(2);
    let tail = width - 3 - head;
    let mut out: String = chars[..head].iter().collect();
    out.push_str("...");
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Widths of the list's label, device and kernel columns within `avail` characters.
/// Labels are what a person chooses by, so they keep their full width as long as they
/// can: the kernel path gives way first, then the device, and only then are labels
/// elided (in the middle, so "(recovery mode)" stays visible).
fn column_widths(
    labels: usize,
    devices: usize,
    kernels: usize,
    avail: usize,
) -> (usize, usize, usize) {
    const MIN_KERNEL: usize = 12;
    const MIN_DEVICE: usize = 4;
    let mut kernel = kernels;
    let mut device = devices;
    let need = |k: usize, d: usize| labels + d + k;
    if need(kernel, device) > avail {
        kernel = avail
            .saturating_sub(labels + device)
            .max(MIN_KERNEL.min(kernels));
    }
    if need(kernel, device) > avail {
        device = avail
            .saturating_sub(labels + kernel)
            .max(MIN_DEVICE.min(devices));
    }
    let label = avail.saturating_sub(device + kernel).min(labels).max(1);
    (label, device, kernel)
}

/// A submenu entry's full label ("Advanced options…>Debian, with Linux 6.1 (recovery)")
/// rarely fits; its own title is what tells the entries apart, so that is kept.
fn display_label(label: &str, width: usize) -> String {
    match label.rsplit_once('>') {
        Some((_, own)) if label.chars().count() > width => format!("> {own}"),
        _ => label.to_string(),
    }
}

/// The key help: fits 80 columns whole (j/k and number keys work too; docs/userspace.md).
const HELP: &str = "Up/Down: select  Enter: boot  e: edit  p: path  c: shell  r: rescan  q: quit";

const REVERSE: &str = "\x1b[7m";
const NORMAL: &str = "\x1b[0m";

/// What is on the screen: its lines and where the cursor is (None: hidden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    lines: Vec<String>,
    cursor: Option<(usize, usize)>,
}

/// The screen for `state` on a `width` x `height` terminal (0x0 means 80x24).
pub fn screen(state: &MenuState, width: u16, height: u16) -> Screen {
    screen_with_notice(state, width, height, None)
}

/// `screen`, with `notice` (another console has the menu) in place of the status line,
/// or of the blank line above the command line in the editor.
pub fn screen_with_notice(
    state: &MenuState,
    width: u16,
    height: u16,
    notice: Option<&str>,
) -> Screen {
    let (width, height) = screen_size(width, height);
    let (mut lines, cursor) = match state.edit_line() {
        None => {
            let mut lines = browse_lines(state, width, height);
            if let (Some(notice), Some(at)) = (notice, lines.len().checked_sub(2)) {
                lines[at] = fit(notice, width, false);
            }
            (lines, None)
        }
        Some((line, cursor)) => {
            let line: Vec<char> = line.chars().collect();
            let (mut lines, cursor) = edit_lines(state, &line, cursor, width, height);
            if let (Some(notice), Some(blank)) = (notice, lines.get_mut(EDIT_BLANK_ROW)) {
                *blank = fit(notice, width, false);
            }
            (lines, cursor)
        }
    };
    lines.truncate(height);
    Screen { lines, cursor }
}

/// The editor's blank line between the entry's details and the command line.
const EDIT_BLANK_ROW: usize = 3;

fn cursor_sequence(cursor: Option<(usize, usize)>) -> String {
    match cursor {
        Some((row, col)) => format!("\x1b[{};{}H\x1b[?25h", row + 1, col + 1),
        None => "\x1b[?25l".to_string(),
    }
}

/// The whole screen for `state` on a `width` x `height` terminal (0x0 means 80x24): ANSI
/// clear, lines ending in CR LF (raw mode has no output processing), cursor placed last.
pub fn render(state: &MenuState, width: u16, height: u16) -> String {
    full(&screen(state, width, height))
}

/// `next` drawn from scratch.
pub fn full(next: &Screen) -> String {
    let mut out = String::from("\x1b[H\x1b[2J");
    out.push_str(&next.lines.join("\r\n"));
    out.push_str(&cursor_sequence(next.cursor));
    out
}

/// What turns `prev` on the terminal into `next`: only the lines that changed, each
/// rewritten in place. A countdown tick is then one short status line, not a whole
/// screen every second (at 115200 baud a full 80x24 screen takes ~170 ms and flickers).
pub fn repaint(prev: &Screen, next: &Screen) -> String {
    if prev.lines.len() != next.lines.len() {
        return full(next);
    }
    let mut out = String::new();
    for (row, (old, new)) in prev.lines.iter().zip(&next.lines).enumerate() {
        if old != new {
            out.push_str(&format!("\x1b[{};1H\x1b[2K{new}", row + 1));
        }
    }
    if !out.is_empty() || prev.cursor != next.cursor {
        out.push_str(&cursor_sequence(next.cursor));
    }
    out
}

fn browse_lines(state: &MenuState, width: usize, height: usize) -> Vec<String> {
    let count = state.items.len();
    // Title, blank, list, blank, two lines about the selected entry, the scan's notice
    // if any, status, help.
    let fixed = 7 + usize::from(state.notice.is_some());
    let rows = height.saturating_sub(fixed).max(1);
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
    let widest = |f: fn(&MenuItem) -> &str| {
        state
            .items
            .iter()
            .map(|i| f(i).chars().count())
            .max()
            .unwrap_or(0)
    };
    // " 12* " before the label, two blanks between the columns.
    let avail = width.saturating_sub(number_width + 3 + 4);
    let (devices, kernels) = (widest(|i| &i.device), widest(|i| &i.kernel));
    // Submenu entries shrink to their own title when the full path does not fit: size
    // the columns again with those shorter labels.
    let (first_guess, _, _) = column_widths(widest(|i| &i.label), devices, kernels, avail);
    let shown_labels = state
        .items
        .iter()
        .map(|i| display_label(&i.label, first_guess).chars().count())
        .max()
        .unwrap_or(0);
    let (label_width, device_width, kernel_width) =
        column_widths(shown_labels, devices, kernels, avail);
    for index in shown {
        let item = &state.items[index];
        let mark = if index == state.default { '*' } else { ' ' };
        let label = elide_middle(&display_label(&item.label, label_width), label_width);
        let text = format!(
            " {:>nw$}{mark} {}  {}  {}",
            index + 1,
            fit(&label, label_width, true),
            fit(
                &elide_middle(&item.device, device_width),
                device_width,
                true
            ),
            elide_middle(&item.kernel, kernel_width),
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
    if let Some(notice) = &state.notice {
        lines.push(fit(notice, width, false));
    }
    let status = match (
        &state.message,
        state.countdown,
        state.items.get(state.selected),
    ) {
        _ if state.password_prompt().is_some() => format!(
            "Password: {}",
            "*".repeat(state.password_prompt().unwrap_or(0))
        ),
        (Some(message), _, _) => message.clone(),
        (None, Some(left), Some(item)) => format!(
            "Booting '{}' in {left} s. Press any key to stop.",
            item.label
        ),
        (None, _, _) => String::new(),
    };
    lines.push(fit(&status, width, false));
    lines.push(fit(HELP, width, false));
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
        // Its own title, elided in the middle when even that is too long: the start and
        // "(recovery mode)" both stay visible.
        assert!(
            lines[3].starts_with(" 2  > Debian GNU/Linux, with L"),
            "{lines:#?}"
        );
        assert!(lines[3].contains("(recovery mode)"), "{lines:#?}");
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
    fn a_scan_notice_has_its_own_line_and_the_countdown_stays() {
        let mut state = MenuState::new(items(40), 0, Some(3));
        state.notice = Some("Warning: vdb: I/O error (os error 5)".into());
        let lines = visible_lines(&render(&state, 80, 24));
        assert!(lines.len() <= 24, "{lines:#?}");
        let notice = lines.iter().position(|l| l.starts_with("Warning: vdb"));
        let status = lines
            .iter()
            .position(|l| l.starts_with("Booting 'Entry number 1' in 3 s"));
        assert!(
            matches!((notice, status), (Some(n), Some(s)) if n + 1 == s),
            "{lines:#?}"
        );
        // The list gives the line up: one entry fewer than without the notice.
        state.notice = None;
        let without = visible_lines(&render(&state, 80, 24));
        let listed = |l: &[String]| l.iter().filter(|l| l.contains("Entry number")).count();
        assert_eq!(listed(&lines) + 1, listed(&without), "{lines:#?}");
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

    /// Ubuntu's normal and recovery entries differ only at the end of the label: on 80
    /// columns both must be told apart, with the device column and kernel path giving way.
    #[test]
    fn labels_that_differ_at_the_end_stay_distinct_on_80_columns() {
        let mut list = items(2);
        for item in &mut list {
            item.device = "nvme0n1p2".into();
            item.kernel = "/boot/vmlinuz-5.10.0-32-amd64".into();
        }
        list[0].label = "Ubuntu, with Linux 5.10.0-32-amd64".into();
        list[1].label = "Ubuntu, with Linux 5.10.0-32-amd64 (recovery mode)".into();
        let lines = visible_lines(&render(&MenuState::new(list.clone(), 0, None), 80, 24));
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:#?}");
        assert!(
            lines[3].contains("Ubuntu, with Linux 5.10.0-32-amd64 (recovery mode)"),
            "{lines:#?}"
        );
        assert!(lines[3].contains("nvme0n1p2"), "{lines:#?}");
        // Too narrow for whole labels: elided in the middle, the ends kept, still distinct.
        let narrow = visible_lines(&render(&MenuState::new(list, 0, None), 50, 24));
        assert!(
            narrow.iter().all(|l| l.chars().count() <= 50),
            "{narrow:#?}"
        );
        let (first, second) = (narrow[2].trim_end(), narrow[3].trim_end());
        assert!(
            second.contains("...") && second.contains("mode)"),
            "{narrow:#?}"
        );
        assert_ne!(first[..first.len().min(30)], second[..second.len().min(30)]);
        assert_eq!(elide_middle("abcdefghij", 9), "abc...hij");
        assert_eq!(elide_middle("short", 9), "short");
    }

    #[test]
    fn the_help_line_fits_80_columns_whole() {
        let lines = visible_lines(&render(&MenuState::new(items(2), 0, None), 80, 24));
        let help = lines.last().cloned().unwrap_or_default();
        assert_eq!(help, HELP);
        assert!(HELP.chars().count() <= 80);
        assert!(help.ends_with("q: quit"));
    }

    /// A countdown tick rewrites the status line only.
    #[test]
    fn a_countdown_tick_repaints_one_line() {
        let mut state = MenuState::new(items(3), 0, Some(5));
        let before = screen(&state, 80, 24);
        state.tick();
        let after = screen(&state, 80, 24);
        let update = repaint(&before, &after);
        assert!(!update.contains("\x1b[2J"), "{update:?}");
        assert_eq!(update.matches("\x1b[2K").count(), 1, "{update:?}");
        assert!(update.contains("in 4 s."), "{update:?}");
        assert!(update.len() < 120, "{} bytes: {update:?}", update.len());
        // Nothing changed: nothing sent.
        assert_eq!(repaint(&after, &after), "");
        // Moving the selection rewrites the two rows and the lines about the selection.
        state.handle_key(Key::Down);
        let moved = repaint(&after, &screen(&state, 80, 24));
        assert!(moved.matches("\x1b[2K").count() >= 2, "{moved:?}");
        assert_eq!(
            full(&after),
            render(&MenuState::new(items(3), 0, Some(4)), 80, 24)
        );
    }

    /// Another console has the menu: the notice replaces the countdown or message line
    /// (the editor keeps its command line and shows the notice above it).
    #[test]
    fn the_notice_replaces_the_status_line() {
        let notice = "menu in use on tty0 - press any key to take it back";
        let mut state = MenuState::new(items(2), 0, Some(5));
        let lines = visible_lines(&full(&screen_with_notice(&state, 80, 24, Some(notice))));
        assert_eq!(lines[lines.len() - 2], notice);
        assert!(!lines.iter().any(|l| l.contains("Booting")));
        state.handle_key(Key::Char('e'));
        let lines = visible_lines(&full(&screen_with_notice(&state, 80, 24, Some(notice))));
        assert_eq!(lines[EDIT_BLANK_ROW], notice);
        assert_eq!(lines[EDIT_BLANK_ROW + 1], "root=/dev/vda1 ro");
    }
}
