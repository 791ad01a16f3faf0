//! Tests of the menu state machine (`state.rs`).

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
        parse_line_choice(" 1 ", &state).map(|c| matches!(c, MenuChoice::Boot { index: 0, .. })),
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

/// "secret" hashed by the host's crypt(3): `openssl passwd -5 -salt kbootsalt secret`.
const SECRET: &str = "$5$kbootsalt$/f/VOLQDp3Qst01PtQY0FMG2xYwaWa8O16d.s/gbef6";

fn type_text(state: &mut MenuState, text: &str) -> Action {
    let mut last = Action::None;
    for c in text.chars() {
        last = state.handle_key(Key::Char(c));
    }
    last
}

#[test]
fn a_password_guards_editing_the_shell_the_path_prompt_and_other_entries() {
    let mut state = MenuState::new(items(3), 0, Some(5)).with_password(Some(SECRET.into()));
    // The default boots as it is without the password.
    let mut copy = state.clone();
    assert_eq!(copy.handle_key(Key::Enter), boot(0, "root=/dev/vda1 ro"));
    for key in [Key::Char('e'), Key::Char('p'), Key::Char('c'), Key::Esc] {
        let mut s = state.clone();
        assert_eq!(s.handle_key(key), Action::Redraw);
        assert_eq!(s.password_prompt(), Some(0), "{key:?}");
        assert!(!s.is_editing());
    }
    state.handle_key(Key::Down);
    assert_eq!(state.handle_key(Key::Enter), Action::Redraw);
    assert_eq!(state.password_prompt(), Some(0));
    type_text(&mut state, "wrong");
    assert_eq!(state.password_prompt(), Some(5));
    assert_eq!(state.handle_key(Key::Enter), Action::Redraw);
    assert_eq!(state.password_prompt(), None);
    assert_eq!(state.message.as_deref(), Some("Wrong password."));
    assert_eq!(state.lock.take_penalty().map(|d| d.as_secs()), Some(1));
    assert!(!state.permits(&MenuChoice::Shell));
    // Asked again; Backspace corrects a typo; the right one does what was asked.
    state.handle_key(Key::Enter);
    type_text(&mut state, "secrex");
    state.handle_key(Key::Backspace);
    type_text(&mut state, "t");
    assert_eq!(state.handle_key(Key::Enter), boot(1, "root=/dev/vda2 ro"));
    assert_eq!(state.message, None);
    // Unlocked for the rest of this menu: no second prompt.
    assert_eq!(state.handle_key(Key::Char('e')), Action::Redraw);
    assert!(state.is_editing());
    assert!(state.permits(&MenuChoice::Shell));
}

#[test]
fn esc_leaves_the_password_prompt_and_the_line_menu_only_boots_the_default() {
    let mut state = MenuState::new(items(2), 1, None).with_password(Some(SECRET.into()));
    state.handle_key(Key::Char('c'));
    type_text(&mut state, "sec");
    assert_eq!(state.handle_key(Key::Esc), Action::Redraw);
    assert_eq!(state.password_prompt(), None);
    assert_eq!(
        state.lock.take_penalty(),
        None,
        "Esc is not a wrong attempt"
    );
    let default = parse_line_choice("", &state).unwrap();
    assert!(state.permits(&default));
    for locked in ["1", "c", "/vmlinuz"] {
        let choice = parse_line_choice(locked, &state).unwrap();
        assert!(!state.permits(&choice), "{locked}");
    }
    let edited = MenuChoice::Boot {
        index: 1,
        cmdline: "init=/bin/sh".into(),
    };
    assert!(
        !state.permits(&edited),
        "the default with another command line"
    );
    assert!(MenuState::new(items(2), 0, None).permits(&edited));
}
