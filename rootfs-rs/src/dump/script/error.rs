//! How a script fails: a syntax error, a Python exception (catchable by `try`), or a limit
//! (time, memory) that stops the script whatever it catches.

use super::value::Obj;
use std::fmt;

#[derive(Debug)]
pub enum ScriptError {
    Syntax {
        line: u32,
        msg: String,
    },
    /// A raised exception (an instance of a BaseException subclass) and the lines it passed.
    Raised {
        exc: Obj,
        lines: Vec<u32>,
    },
    /// A resource limit was passed: never caught by the script.
    Limit(String),
    /// `sys.exit(code)` / `exit(code)`.
    Exit(i64),
}

pub fn syntax(line: u32, msg: impl Into<String>) -> ScriptError {
    ScriptError::Syntax {
        line,
        msg: msg.into(),
    }
}

impl ScriptError {
    /// Records that the exception passed through `line` (innermost first).
    pub fn at_line(mut self, line: u32) -> ScriptError {
        if let ScriptError::Raised { lines, .. } = &mut self {
            if lines.last() != Some(&line) && lines.len() < 64 {
                lines.push(line);
            }
        }
        self
    }

    /// The message a user sees, with the script's name.
    pub fn describe(&self, script: &str) -> String {
        match self {
            ScriptError::Syntax { line, msg } => {
                format!("{script}:{line}: SyntaxError: {msg}")
            }
            ScriptError::Raised { exc, lines } => {
                let mut s = String::from("Traceback (innermost last):\n");
                for l in lines {
                    s.push_str(&format!("  {script}, line {l}\n"));
                }
                s.push_str(&super::builtins::exception_text(exc));
                s
            }
            ScriptError::Limit(m) => format!("{script}: stopped: {m}"),
            ScriptError::Exit(code) => format!("{script}: exit status {code}"),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("script"))
    }
}
