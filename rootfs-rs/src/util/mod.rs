//! Helpers shared by applets and the shell: argument parsing, output/error reporting, formats.
pub mod args;
pub mod base64;
pub mod counts;
pub mod fmt;
pub mod fsops;
pub mod glob;
pub mod hash;
pub mod io;
pub mod mode;
pub mod path;
pub mod regex;
pub mod subst;
pub mod table;
pub mod term;
pub mod text;
pub mod users;
pub mod walk;

pub use args::Parser;
pub use io::{finish, reason, stdout, warn_err};

/// Print to stderr without ever panicking (stderr may be closed).
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
