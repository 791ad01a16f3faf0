//! What a shell script says: `lexer` splits the source into words (raw text kept for later
//! expansion), operators and redirections with their byte spans; `parser` builds lists,
//! and-or chains, pipelines and compound commands (`parser::compound`). No side effects:
//! running is `shell::run`'s business.

pub mod lexer;
pub mod parser;
