//! A minimal command prompt: reads a line, splits it on whitespace, runs the command.
//! Stands in until the real shell (issue #4) lands.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::process::Command;

pub fn main(_args: &[OsString]) -> i32 {
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        print!("kboot# ");
        let _ = std::io::stdout().flush();
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(err) => {
                eprintln!("sh: {err}");
                return 1;
            }
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((command, args)) = words.split_first() else { continue };
        match *command {
            "exit" => return 0,
            "help" => println!("commands: {} exit help; anything else is run from PATH", applet_names()),
            _ => match Command::new(command).args(args).status() {
                Ok(status) if !status.success() => println!("sh: {command}: exit status {}", status.code().unwrap_or(-1)),
                Ok(_) => {}
                Err(err) => eprintln!("sh: {command}: {err}"),
            },
        }
    }
}

fn applet_names() -> String {
    crate::multicall::APPLETS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(" ")
}
