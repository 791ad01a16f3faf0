//! sh: the kboot command shell — scripts, `-c`, and an interactive prompt with line editing.
pub mod editor;
mod run;
mod syntax;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;

pub use syntax::parser::{parse, ParseError};

/// How control leaves a command list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flow {
    Normal,
    Break(u32),
    Continue(u32),
    Return(i32),
    Exit(i32),
}

pub struct Shell {
    pub vars: HashMap<String, String>,
    pub exported: HashSet<String>,
    pub params: Vec<String>,
    pub arg0: String,
    pub last_status: i32,
    pub pid: u32,
    pub last_background: Option<u32>,
    /// Function bodies with their definition text (replayed into child shells).
    pub functions: HashMap<String, (syntax::parser::Stage, String)>,
    pub interactive: bool,
    pub errexit: bool,
    pub xtrace: bool,
    /// Inside an `if`/`while` condition or a non-final `&&`/`||` part: `set -e` does not apply.
    pub condition_depth: usize,
    pub loop_depth: u32,
    /// Counts `$(…)` runs, to tell whether a bare assignment ran one.
    pub substitutions: u64,
    /// Background children, reaped by `wait` and before each interactive prompt.
    pub jobs: Vec<std::process::Child>,
}

const USAGE: &str = "usage: sh [-ex] [-c COMMAND [ARG0 [ARG...]] | SCRIPT [ARG...]]\nCommand shell: interactive when stdin is a terminal.";

impl Shell {
    pub fn new() -> Self {
        let mut shell = Shell {
            vars: HashMap::new(),
            exported: HashSet::new(),
            params: Vec::new(),
            arg0: "sh".into(),
            last_status: 0,
            pid: std::process::id(),
            last_background: None,
            functions: HashMap::new(),
            interactive: false,
            errexit: false,
            xtrace: false,
            condition_depth: 0,
            loop_depth: 0,
            substitutions: 0,
            jobs: Vec::new(),
        };
        for (k, v) in std::env::vars_os() {
            let (k, v) = (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            );
            shell.exported.insert(k.clone());
            shell.vars.insert(k, v);
        }
        if !shell.vars.contains_key("PATH") {
            shell
                .vars
                .insert("PATH".into(), "/sbin:/usr/sbin:/bin:/usr/bin".into());
            shell.exported.insert("PATH".into());
        }
        shell
    }

    pub fn get_var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    pub fn set_var(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), value.to_string());
    }

    /// Collect finished background jobs so they do not linger as zombies.
    pub fn reap_jobs(&mut self) {
        self.jobs
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
    }

    /// `wait`: block until every background job has finished; status of the last one.
    pub fn wait_jobs(&mut self) -> i32 {
        let mut status = 0;
        for mut c in self.jobs.drain(..) {
            status = c.wait().map(run::exec::wait_status).unwrap_or(127);
        }
        status
    }

    /// Parse and run a piece of source; syntax errors report status 2.
    pub fn run_source(&mut self, src: &str) -> Flow {
        match parse(src) {
            Ok(list) => self.exec_list(&list),
            Err(ParseError::Incomplete) => {
                crate::warn!("sh: syntax error: unexpected end of file");
                self.last_status = 2;
                if self.interactive {
                    Flow::Normal
                } else {
                    Flow::Exit(2)
                }
            }
            Err(ParseError::Syntax(msg)) => {
                crate::warn!("sh: {msg}");
                self.last_status = 2;
                if self.interactive {
                    Flow::Normal
                } else {
                    Flow::Exit(2)
                }
            }
        }
    }
}

impl Default for Shell {
    fn default() -> Self {
        Self::new()
    }
}

fn status_of(flow: Flow, shell: &Shell) -> i32 {
    match flow {
        Flow::Exit(code) | Flow::Return(code) => code,
        _ => shell.last_status,
    }
}

/// sh's options (`-c CMD`, `-e`, `-x`, `-i`, `--`) set on `shell`: the `-c` command,
/// whether -i was given and the index of the first operand; Err(status) to exit with
/// (after --help or a bad option).
fn parse_options(args: &[String], shell: &mut Shell) -> Result<(Option<String>, bool, usize), i32> {
    let mut command: Option<String> = None;
    let mut force_interactive = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-c" => {
                let Some(c) = args.get(i + 1) else {
                    crate::warn!("sh: -c: option requires an argument");
                    return Err(2);
                };
                command = Some(c.clone());
                i += 2;
                break;
            }
            "--help" => {
                crate::util::finish(
                    "sh",
                    std::io::Write::write_all(
                        &mut std::io::stdout(),
                        format!("{USAGE}\n").as_bytes(),
                    )
                    .map(|_| 0),
                );
                return Err(0);
            }
            "--" => {
                i += 1;
                break;
            }
            _ if a.starts_with('-') && a.len() > 1 => {
                for c in a[1..].chars() {
                    match c {
                        'e' => shell.errexit = true,
                        'x' => shell.xtrace = true,
                        'i' => force_interactive = true,
                        's' | 'l' => {}
                        _ => {
                            crate::warn!(
                                "sh: -{c}: invalid option\n{}",
                                USAGE.lines().next().unwrap_or("")
                            );
                            return Err(2);
                        }
                    }
                }
                i += 1;
            }
            _ => break,
        }
    }
    Ok((command, force_interactive, i))
}

pub fn main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut shell = Shell::new();
    let (command, force_interactive, i) = match parse_options(&args, &mut shell) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let rest = &args[i.min(args.len())..];
    if let Some(src) = command {
        if let Some((zero, params)) = rest.split_first() {
            shell.arg0 = zero.clone();
            shell.params = params.to_vec();
        }
        let flow = shell.run_source(&src);
        return status_of(flow, &shell);
    }
    if let Some((script, params)) = rest.split_first() {
        shell.arg0 = script.clone();
        shell.params = params.to_vec();
        let src = match std::fs::read(script) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                crate::util::warn_err("sh", script, &e);
                return 127;
            }
        };
        let flow = shell.run_source(&src);
        return status_of(flow, &shell);
    }
    if force_interactive
        || (rustix::termios::isatty(rustix::stdio::stdin())
            && rustix::termios::isatty(rustix::stdio::stderr()))
    {
        return editor::interactive(&mut shell);
    }
    let mut src = String::new();
    if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut src) {
        crate::util::warn_err("sh", "stdin", &e);
        return 1;
    }
    let flow = shell.run_source(&src);
    status_of(flow, &shell)
}
