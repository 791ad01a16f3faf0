//! Triage scripts in a Python subset, run by kboot itself (PyKdump's model: fields looked
//! up by name at run time, one script for many kernels). A small tree-walking interpreter
//! (lexer → parser → evaluator) with the dump API of `api.rs`; docs/scripting.md explains
//! why it is not an embedded third-party interpreter (size) and what the subset covers.

pub mod api;
pub mod ast;
pub mod builtins;
pub mod error;
pub mod eval;
pub mod expr;
pub mod format;
pub mod host;
pub mod interp;
pub mod lexer;
pub mod methods;
pub mod ops;
pub mod parser;
pub mod repl;
pub mod run;
pub mod value;

pub use error::ScriptError;
pub use interp::{Host, Interp, Limits};

use std::time::Duration;

/// Defaults of `--script-time` and `--script-memory`.
pub const DEFAULT_LIMITS: Limits = Limits {
    time: Duration::from_secs(10),
    memory: 64 << 20,
};

/// Parses and runs `source` with `argv` bound (as `argv` and `sys.argv`), printing to `out`.
pub fn run_source<'h>(
    source: &str,
    argv: &[String],
    host: Option<&'h mut dyn Host>,
    out: &'h mut dyn std::io::Write,
    limits: Limits,
) -> Result<(), ScriptError> {
    let body = parser::parse(source)?;
    let mut it = Interp::new(host, out, limits);
    it.globals.borrow_mut().insert(
        "argv".into(),
        value::Obj::list(argv.iter().map(|a| value::Obj::str(a)).collect()),
    );
    it.run(&body)
}

#[cfg(test)]
mod tests;
