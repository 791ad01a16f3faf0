//! frontend: what PID 1 runs in menu mode. The boot menu, and when the user asks for the
//! shell (`c`), the shell; leaving the shell returns to the menu, which then waits without
//! a countdown (the user is at the keyboard).
//!
//! `frontend [--console TTY]... [--shell-first] [MENU ARGS]`: with `--console`, the one
//! menu also drives those terminals (PID 1 starts nothing else on them meanwhile). Asked
//! for the shell on console i (0: its own terminal), it then exits with
//! `console::SHELL_ON_CONSOLE + i`, and PID 1 starts `frontend --shell-first` on that
//! console and shells on the others. `--shell-first` starts with the shell.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::boot::Leave;
use crate::console::SHELL_ON_CONSOLE;

pub fn main(args: &[OsString]) -> i32 {
    let (others, shell_first, mut menu_args) = split_args(args);
    if shell_first {
        run_shell(&mut menu_args);
    }
    loop {
        match crate::boot::menu_on_consoles(&menu_args, &others) {
            Leave::Shell { .. } if others.is_empty() => run_shell(&mut menu_args),
            Leave::Shell { console } => return SHELL_ON_CONSOLE.saturating_add(console as i32),
            Leave::Code(code) => return code,
        }
    }
}

/// The shell on our terminal; the menu after it waits for a key.
fn run_shell(menu_args: &mut Vec<OsString>) {
    crate::shell::main(&[]);
    if !menu_args.iter().any(|a| a == "--timeout") {
        menu_args.extend(["--timeout".into(), "-1".into()]);
    }
}

/// The other consoles, `--shell-first`, and what is left for the menu.
fn split_args(args: &[OsString]) -> (Vec<PathBuf>, bool, Vec<OsString>) {
    let mut others = Vec::new();
    let mut shell_first = false;
    let mut rest = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--console" {
            others.extend(iter.next().map(PathBuf::from));
        } else if arg == "--shell-first" {
            shell_first = true;
        } else {
            rest.push(arg.clone());
        }
    }
    (others, shell_first, rest)
}

/// dump: the front end when we are a kdump capture kernel (see `capture`).
pub fn dump_main(_args: &[OsString]) -> i32 {
    crate::capture::run(&crate::capture::FrontEnds {
        menu: main,
        shell: crate::shell::main,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consoles_and_shell_first_are_taken_out_of_the_menu_arguments() {
        let args: Vec<OsString> = ["--console", "/dev/tty0", "--timeout", "3", "--shell-first"]
            .iter()
            .map(OsString::from)
            .collect();
        let (others, shell_first, rest) = split_args(&args);
        assert_eq!(others, [PathBuf::from("/dev/tty0")]);
        assert!(shell_first);
        assert_eq!(rest, ["--timeout", "3"]);
    }
}
