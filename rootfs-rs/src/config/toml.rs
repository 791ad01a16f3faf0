//! kboot.toml tables: the `key = value` lines of one `[table]`, the small TOML subset that
//! `[menu]`, `[net]` and `[dump]` use (the `[entry.NAME]` tables of a kboot.conf or a served
//! kboot.toml are boot entries and are read by `boot::config::kboot_conf`, which shares the
//! quoting and comment rules of `config::text`).

use crate::config::text::strip_comment;

/// One `key = value` line of a kboot.toml table, with "file:line" for messages.
pub struct TableEntry {
    pub at: String,
    pub key: String,
    pub value: String,
}

/// The `key = value` lines of table `[name]` in kboot.toml text (a small TOML subset:
/// tables, one key per line, `#` comments); malformed lines of that table become warnings.
pub fn toml_table(text: &str, name: &str, source: &str) -> (Vec<TableEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut inside = false;
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            inside = line.trim_start_matches('[').trim_end_matches(']').trim() == name;
            continue;
        }
        if !inside {
            continue;
        }
        let at = format!("{source}:{}", index + 1);
        match line.split_once('=') {
            Some((key, value)) => entries.push(TableEntry {
                at,
                key: key.trim().to_string(),
                value: value.trim().to_string(),
            }),
            None => warnings.push(format!("{at}: expected key = value")),
        }
    }
    (entries, warnings)
}
