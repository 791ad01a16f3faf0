//! The boot menu: `main` is the `menu` applet (discover, choose, launch; also `--list` and
//! `--boot`), `state` the pure state machine (keys in, actions out), `render` draws a state
//! as ANSI text, `term` is the thin terminal side (raw mode, keys, ticks), `conf` reads the
//! menu settings, `start` boots the choice. Only `term`, `main` and `start` touch the
//! terminal or the system.

/// Console output that cannot panic: a console that went away must not kill the menu.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! warn {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod conf;
pub mod main;
pub mod render;
pub mod start;
pub mod state;
pub mod term;

pub use main::menu_main;
