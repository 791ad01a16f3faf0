//! The boot menu: `main` is the `menu` applet (discover, choose, launch; also `--list` and
//! `--boot`), `interactive` its scan-show-boot loop, `state` the pure state machine (keys
//! in, actions out), `render` draws a state as ANSI text, `consoles` shows it on every
//! console at once (keys from all, ticks, hot-plug), `takeover` (which console drives) and
//! `hotplug` (when the block devices changed) are its pure decisions, `term` the thin
//! terminal side (raw mode, keys, the line fallback), `conf` reads the menu settings,
//! `start` boots the choice. Only `term`, `consoles`, `interactive`, `main` and `start`
//! touch the terminal or the system.

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
pub mod consoles;
pub mod hotplug;
pub mod interactive;
pub mod main;
pub mod password;
pub mod render;
pub mod start;
pub mod state;
pub mod takeover;
pub mod term;

pub use interactive::Leave;
pub use main::{menu_main, menu_on_consoles};
