//! `kboot triage -i DUMP`: an interactive prompt with crash(8)-like commands (sys, bt, log,
//! ps, kmem -i, runq, net, mod, mount, struct, rd, sym) and Python (`py EXPR`, or any
//! Python statement; a line ending in ':' opens a block closed by an empty line). Python
//! state persists between lines. On a terminal: the shell's line editor (left/right,
//! home/end, backspace/delete, Ctrl-A/E/K/U/W), history on up/down kept in
//! ~/.kboot_triage_history, and completion of command names; from a pipe, plain lines.

use super::host::DumpHost;
use super::interp::{Interp, Limits};
use super::value::Obj;
use super::{parser, ScriptError, DEFAULT_LIMITS};
use crate::dump::kernel::Dump;
use crate::dump::report::{fill, render_sections, Options, Report, Section};
use std::io::{BufRead, Write};

const COMMANDS: &[&str] = &[
    "sys", "bt", "log", "ps", "kmem", "runq", "net", "mod", "mount", "struct", "rd", "sym", "py",
    "help", "quit",
];

/// The prompt's history, in $HOME.
const HISTORY_FILE: &str = ".kboot_triage_history";

const HELP: &str = "commands: sys bt log ps kmem -i runq net mod mount slab hung warnings
  struct NAME ADDR   the fields of struct NAME at ADDR
  rd ADDR [N]        N 64-bit words at ADDR (default 8)
  sym NAME|ADDR      a symbol's address, or the symbol at an address
  py EXPR            Python (the script API: docs/scripting.md); any other line is Python too
  quit";

/// Runs the prompt until end of input or `quit`; returns the exit status.
pub fn run(dump: &Dump) -> i32 {
    let tty = rustix::termios::isatty(rustix::stdio::stdin());
    let mut editor = match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) if tty => crate::shell::editor::Editor::with_history_file(
            std::path::Path::new(&home).join(HISTORY_FILE),
        ),
        _ => crate::shell::editor::Editor::new(),
    };
    let mut stdin = std::io::stdin().lock();
    let mut host = DumpHost::new(dump);
    let mut stdout = std::io::stdout();
    let limits = Limits {
        time: DEFAULT_LIMITS.time * 6,
        ..DEFAULT_LIMITS
    };
    let mut it = Interp::new(Some(&mut host), &mut stdout, limits);
    let out = &mut std::io::stdout();
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "crash> "
        } else {
            "...    "
        };
        let line = if tty {
            let complete = |before: &str| -> (usize, Vec<String>) {
                let start = before.rfind(' ').map_or(0, |i| i + 1);
                let word = &before[start..];
                let found = COMMANDS
                    .iter()
                    .filter(|c| start == 0 && c.starts_with(word))
                    .map(|c| format!("{c} "))
                    .collect();
                (start, found)
            };
            match editor.read_line_with(prompt, &complete) {
                Ok(Some(l)) => l,
                Ok(None) | Err(_) => return 0,
            }
        } else {
            let mut l = String::new();
            match stdin.read_line(&mut l) {
                Ok(0) | Err(_) => return 0,
                Ok(_) => l.trim_end_matches('\n').to_string(),
            }
        };
        if !pending.is_empty() {
            if line.trim().is_empty() {
                let src = std::mem::take(&mut pending);
                python(&mut it, &src, out);
            } else {
                pending.push_str(&line);
                pending.push('\n');
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.ends_with(':') {
            pending = format!("{line}\n");
            continue;
        }
        if matches!(trimmed, "quit" | "q" | "exit") {
            return 0;
        }
        if !trimmed.is_empty() {
            command(dump, &mut it, trimmed, out);
        }
        let _ = out.flush();
    }
}

fn command(dump: &Dump, it: &mut Interp, line: &str, out: &mut dyn Write) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let section = match words.first().copied() {
        Some("kmem") => Some(Section::Mem),
        Some(w) => Section::from_name(w).filter(|_| words.len() == 1 || w == "bt"),
        None => None,
    };
    if let Some(section) = section {
        let options = Options {
            sections: vec![section.name().to_string()],
            ..Options::default()
        };
        let mut r = Report {
            options: options.clone(),
            ..Default::default()
        };
        fill(&mut r, dump, &options);
        let _ = out.write_all(render_sections(&r, &[section]).as_bytes());
        return;
    }
    let py = match words.as_slice() {
        ["help"] => {
            let _ = writeln!(out, "{HELP}");
            return;
        }
        ["struct", name, addr] => {
            let ty = if name.starts_with("struct ") {
                name.to_string()
            } else {
                format!("struct {name}")
            };
            format!(
                "_o = readSU({ty:?}, {addr})\nfor _f in _o.fields():\n    try:\n        _v = _show(member(_o, _f))\n    except Exception as _e:\n        _v = '<' + str(_e) + '>'\n    print(f'  {{_f}} = {{_v}}')"
            )
        }
        ["rd", addr] | ["rd", addr, _] => {
            let n = words.get(2).unwrap_or(&"8");
            format!("for _i in range({n}):\n    print(f'{{{addr} + _i * 8:#x}}:  {{readU64({addr} + _i * 8):016x}}')")
        }
        ["sym", what] if what.starts_with("0x") || what.chars().all(|c| c.is_ascii_digit()) => {
            format!("print(addr2sym({what}))")
        }
        ["sym", name] => format!("print(hex(sym2addr({name:?})))"),
        ["py", ..] => line[2..].trim().to_string(),
        _ => line.to_string(),
    };
    python(it, &py, out);
}

/// Runs Python; a lone expression's value is shown (as the Python prompt does).
fn python(it: &mut Interp, src: &str, out: &mut dyn Write) {
    let body = match parser::parse(src) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(out, "{}", e.describe("<prompt>"));
            return;
        }
    };
    define_helpers(it);
    let shown = matches!(body.as_slice(), [s] if matches!(s.kind, super::ast::StmtKind::Expr(_)));
    let body = if shown {
        match parser::parse(&format!("_ = ({})", src.trim())) {
            Ok(b) => b,
            Err(_) => body,
        }
    } else {
        body
    };
    let r = it.run(&body);
    match r {
        Ok(()) if shown => {
            let v = it.globals.borrow().get("_").cloned();
            if let Some(v) = v.filter(|v| !matches!(v, Obj::None)) {
                let _ = writeln!(out, "{}", super::format::repr(&v));
            }
        }
        Ok(()) | Err(ScriptError::Exit(_)) => {}
        Err(e) => {
            let _ = writeln!(out, "{}", e.describe("<prompt>"));
        }
    }
}

/// `_show(v)` for the struct command: big ints in hex.
fn define_helpers(it: &mut Interp) {
    if it.globals.borrow().contains_key("_show") {
        return;
    }
    let src = "def _show(v):\n    if isinstance(v, int) and not isinstance(v, bool) and v > 4096:\n        return hex(v)\n    return repr(v) if isinstance(v, str) else str(v)\n";
    if let Ok(body) = parser::parse(src) {
        let _ = it.run(&body);
    }
}
