//! The boot menu: `main` is the `menu` applet (discover, choose, launch; also `--list` and
//! `--boot`), `state` the pure state machine (keys in, actions out), `render` draws a state
//! as ANSI text, `term` is the thin terminal side (raw mode, keys, ticks), `conf` reads the
//! menu settings. Only `term` and `main` touch the terminal or the system.

pub mod conf;
pub mod main;
pub mod render;
pub mod state;
pub mod term;

pub use main::menu_main;
