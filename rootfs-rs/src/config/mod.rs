//! kboot's own settings file, /etc/kboot/kboot.toml: where it is, reading it (once per front
//! end: the menu passes the parsed document to the menu and network settings, the capture
//! kernel to the dump settings), the one reader of its tables (`toml`, also kboot.conf's)
//! and its quoting rules (`text`). Each part of kboot interprets its own table; unknown
//! keys become warnings there.

use std::path::Path;

pub mod text;
pub mod toml;

/// Where the settings live (the menu's `--config FILE` reads another file).
pub const CONFIG_PATH: &str = "/etc/kboot/kboot.toml";

/// The text of a settings file, or "PATH: reason".
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))
}

/// A settings file read and parsed, or "PATH: reason".
pub fn load(path: &Path) -> Result<toml::Document, String> {
    read(path).map(|text| toml::Document::parse(&text))
}
