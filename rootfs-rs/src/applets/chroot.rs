//! chroot: run a command (default: $SHELL or /bin/sh -i) with a different root directory.
use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use crate::util::{warn_err, Parser};

const USAGE: &str =
    "usage: chroot NEWROOT [COMMAND [ARG...]]\nRun COMMAND with root directory set to NEWROOT.";

pub fn main(args: &[OsString]) -> i32 {
    let mut parser = Parser::new("chroot", USAGE, args).code(125);
    parser.stop_at_operand = true;
    let ops = match parser.parse(|p, c| Err(p.unknown(c))) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let Some((root, command)) = ops.split_first() else {
        return Parser::usage_error("chroot", USAGE, "missing operand", 125);
    };
    if let Err(e) =
        rustix::process::chroot(root.as_os_str()).and_then(|_| rustix::process::chdir("/"))
    {
        warn_err(
            "chroot",
            format!(
                "cannot change root directory to '{}'",
                root.to_string_lossy()
            ),
            &e.into(),
        );
        return 125;
    }
    let (program, rest): (OsString, &[OsString]) = match command.split_first() {
        Some((p, r)) => (p.clone(), r),
        None => (
            std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into()),
            &[],
        ),
    };
    let mut cmd = std::process::Command::new(&program);
    cmd.args(rest);
    if command.is_empty() {
        cmd.arg("-i");
    }
    let err = cmd.exec();
    warn_err(
        "chroot",
        format!("failed to run command '{}'", program.to_string_lossy()),
        &err,
    );
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}
