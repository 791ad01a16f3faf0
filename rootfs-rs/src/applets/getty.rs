//! getty TTY APPLET [ARGS…]: start APPLET in a new session with TTY as its controlling
//! terminal and stdin/stdout/stderr, so Ctrl-C and job control work on that console.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::process::Command;

pub fn main(args: &[OsString]) -> i32 {
    let Some((tty, command)) = args.split_first().filter(|(_, c)| !c.is_empty()) else {
        eprintln!("usage: getty TTY APPLET [ARGS]...");
        return 2;
    };
    if let Err(err) = rustix::process::setsid() {
        eprintln!("getty: setsid: {err}");
    }
    // A session leader without a terminal acquires the first tty it opens.
    let terminal = match OpenOptions::new().read(true).write(true).open(tty) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("getty: {}: {err}", tty.to_string_lossy());
            return 1;
        }
    };
    for dup in [
        rustix::stdio::dup2_stdin,
        rustix::stdio::dup2_stdout,
        rustix::stdio::dup2_stderr,
    ] {
        if let Err(err) = dup(&terminal) {
            eprintln!("getty: dup2: {err}");
            return 1;
        }
    }
    drop(terminal);
    let err = Command::new("/proc/self/exe")
        .arg0(&command[0])
        .args(&command[1..])
        .exec();
    eprintln!("getty: exec {}: {err}", command[0].to_string_lossy());
    1
}
