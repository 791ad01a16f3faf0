//! Running what `shell::syntax` parsed: `exec` (lists, pipelines, programs), `compound`
//! (if, for, while/until, case, groups), `builtins`, `redirect` (fds 0-2 with undo on drop),
//! `expand` (quotes, parameters, substitutions, globbing) and its `arith`metic.

pub mod arith;
pub mod builtins;
pub mod compound;
pub mod exec;
pub mod expand;
pub mod redirect;
