//! frontend: what PID 1 runs on the primary console in menu mode. The boot menu, and
//! when the user asks for the shell (`c`), the shell; leaving the shell returns to the
//! menu, which then waits without a countdown (the user is at the keyboard).

use std::ffi::OsString;

pub fn main(args: &[OsString]) -> i32 {
    let mut menu_args = args.to_vec();
    loop {
        match crate::boot::menu_main(&menu_args) {
            // 0: the user chose the shell (a successful kexec never returns).
            0 => {
                crate::shell::main(&[]);
                if !menu_args.iter().any(|a| a == "--timeout") {
                    menu_args.extend(["--timeout".into(), "-1".into()]);
                }
            }
            code => return code,
        }
    }
}

/// dump: the front end when we are a kdump capture kernel (see `capture`).
pub fn dump_main(_args: &[OsString]) -> i32 {
    crate::capture::run(&crate::capture::FrontEnds {
        menu: main,
        shell: crate::shell::main,
    })
}
