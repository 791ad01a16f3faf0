//! env: print the environment, or run a command in a modified one (-i, -u NAME, NAME=VALUE).
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;

use crate::util::{finish, Parser};

const USAGE: &str = "usage: env [-i] [-u NAME]... [NAME=VALUE]... [COMMAND [ARG...]]\nRun COMMAND in a modified environment, or print the environment.";

pub fn main(args: &[OsString]) -> i32 {
    let mut clear = false;
    let mut unset: Vec<String> = Vec::new();
    let mut parser = Parser::new("env", USAGE, args).code(125);
    parser.stop_at_operand = true;
    let operands = match parser.parse(|p, c| match c {
        'i' => {
            clear = true;
            Ok(())
        }
        'u' => {
            unset.push(p.value()?);
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut vars: Vec<(OsString, OsString)> = if clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    vars.retain(|(k, _)| !unset.iter().any(|u| k == u.as_str()));
    let mut rest = operands.as_slice();
    while let Some((k, v)) = rest.first().and_then(split_assignment) {
        vars.retain(|(old, _)| *old != k);
        vars.push((k, v));
        rest = &rest[1..];
    }
    let Some((cmd, cmd_args)) = rest.split_first() else {
        return finish("env", print(&vars));
    };
    let mut command = crate::applets::command_for(cmd);
    command.args(cmd_args).env_clear().envs(vars);
    let err = command.exec();
    crate::util::warn_err("env", cmd.to_string_lossy(), &err);
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

fn split_assignment(arg: &OsString) -> Option<(OsString, OsString)> {
    let bytes = arg.as_bytes();
    let eq = bytes.iter().position(|&b| b == b'=')?;
    if eq == 0 {
        return None;
    }
    Some((
        std::ffi::OsStr::from_bytes(&bytes[..eq]).to_owned(),
        std::ffi::OsStr::from_bytes(&bytes[eq + 1..]).to_owned(),
    ))
}

fn print(vars: &[(OsString, OsString)]) -> std::io::Result<i32> {
    let mut out = crate::util::stdout();
    for (k, v) in vars {
        out.write_all(k.as_bytes())?;
        out.write_all(b"=")?;
        out.write_all(v.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(0)
}
