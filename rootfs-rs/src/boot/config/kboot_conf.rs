//! kboot.conf: a TOML subset ([entry.NAME] tables, read by `config::toml`, the one reader of
//! kboot.toml) plus kboot 2006's `label=kernel args` lines.

use std::path::Path;

use crate::boot::entry::{
    choose_default, join_cmdline, parse_file, BootEntry, FsRef, Parsed, MAX_ENTRIES,
};
use crate::boot::fs::ConfigFs;
use crate::config::text::unquote;
use crate::config::toml::{Document, Statement, Value};

pub fn parse_kboot_conf(fs: &dyn ConfigFs, path: &Path) -> Parsed {
    parse_file(fs, path, "kboot", parse_kboot_text)
}

struct Table {
    name: String,
    line: usize,
    label: Option<String>,
    kernel: Option<String>,
    initrds: Vec<String>,
    cmdline: String,
}

/// kboot.conf or a served kboot.toml: parsed into a `config::toml::Document`, read here.
pub fn parse_kboot_text(text: &str, source: &str, out: &mut Parsed) {
    parse_kboot_document(&Document::parse(text), source, out)
}

/// The boot entries of a kboot.conf document: `[entry.NAME]` tables, and `default`,
/// `timeout` and kboot 2006's `label=kernel args` lines before the first table.
pub fn parse_kboot_document(doc: &Document, source: &str, out: &mut Parsed) {
    let mut reader = Reader::default();
    for statement in doc.statements() {
        match statement {
            Statement::Table { line, name } => reader.table(&name, source, line, out),
            Statement::Pair { line, key, value } => {
                reader.pair(&unquote(&key), &value, source, line, out)
            }
            Statement::Malformed { line, text } => out.warn(
                source,
                line,
                format!(
                    "expected key = value, got '{}'",
                    text.chars().take(60).collect::<String>()
                ),
            ),
        }
    }
    for table in reader.tables {
        let Some(kernel) = table.kernel else {
            out.warn(
                source,
                table.line,
                format!("[entry.{}] has no kernel; skipped", table.name),
            );
            continue;
        };
        let label = table.label.as_deref().unwrap_or(&table.name);
        let mut entry = BootEntry::with_absolute_paths(label, &kernel, &table.initrds, source);
        entry.cmdline = join_cmdline([table.cmdline.as_str()]);
        entry.id = table.name;
        out.entries.push(entry);
    }
    choose_default(out, source, reader.default.as_deref(), |e, d| e.id == d);
}

/// What has been read so far.
#[derive(Default)]
struct Reader {
    default: Option<String>,
    tables: Vec<Table>,
    /// Inside a table that is not an entry (or one past MAX_ENTRIES): its keys are ignored.
    in_other_table: bool,
    /// The "too many entries" warning was given.
    too_many: bool,
}

impl Reader {
    fn table(&mut self, header: &str, source: &str, number: usize, out: &mut Parsed) {
        match header.strip_prefix("entry.") {
            Some(_) if self.tables.len() + out.entries.len() >= MAX_ENTRIES => {
                warn_too_many(&mut self.too_many, out, source, number);
                self.in_other_table = true;
            }
            Some(name) if !name.is_empty() => {
                self.tables.push(Table {
                    name: unquote(name),
                    line: number,
                    label: None,
                    kernel: None,
                    initrds: Vec::new(),
                    cmdline: String::new(),
                });
                self.in_other_table = false;
            }
            _ => {
                out.warn(source, number, format!("unknown table [{header}] ignored"));
                self.in_other_table = true;
            }
        }
    }

    fn pair(&mut self, key: &str, raw_value: &str, source: &str, number: usize, out: &mut Parsed) {
        // A value that does not parse is reported even in an ignored table.
        let Some(value) = parse_value(raw_value) else {
            out.warn(source, number, format!("{key}: cannot parse value"));
            return;
        };
        if self.in_other_table {
            return;
        }
        match self.tables.last_mut() {
            Some(table) => set_entry_key(table, key, value, source, number, out),
            None => self.top_level_key(key, value, source, number, out),
        }
    }

    /// A key before the first table: `default`, `timeout` or an old-style entry.
    fn top_level_key(
        &mut self,
        key: &str,
        value: Value,
        source: &str,
        number: usize,
        out: &mut Parsed,
    ) {
        match (key, value) {
            ("default", Value::Str(s) | Value::Bare(s)) => self.default = Some(s),
            ("timeout", Value::Int(n)) => out.timeout_secs = u32::try_from(n).ok(),
            ("default" | "timeout", _) => out.warn(source, number, format!("{key}: wrong type")),
            (_, Value::Str(_) | Value::Bare(_))
                if self.tables.len() + out.entries.len() >= MAX_ENTRIES =>
            {
                warn_too_many(&mut self.too_many, out, source, number);
            }
            (_, Value::Str(s) | Value::Bare(s)) => {
                out.entries.extend(legacy_entry(key, &s, source))
            }
            _ => out.warn(source, number, format!("{key}: not an entry")),
        }
    }
}

fn warn_too_many(warned: &mut bool, out: &mut Parsed, source: &str, line: usize) {
    if !*warned {
        *warned = true;
        out.warn(
            source,
            line,
            format!("more than {MAX_ENTRIES} entries; the rest are ignored"),
        );
    }
}

fn set_entry_key(
    table: &mut Table,
    key: &str,
    value: Value,
    source: &str,
    line: usize,
    out: &mut Parsed,
) {
    match (key, value) {
        ("label", Value::Str(s)) => table.label = Some(s),
        ("kernel", Value::Str(s)) => table.kernel = Some(s),
        ("cmdline", Value::Str(s)) => table.cmdline = s,
        ("initrd", Value::Str(s)) => table.initrds = vec![s],
        ("initrd", Value::List(list)) => table.initrds = list,
        ("label" | "kernel" | "cmdline" | "initrd", _) => {
            out.warn(source, line, format!("{key}: expected a quoted string"))
        }
        _ => out.warn(
            source,
            line,
            format!("unknown key '{key}' in [entry.{}]", table.name),
        ),
    }
}

/// kboot.conf's values: `config::toml::Value`.
fn parse_value(text: &str) -> Option<Value> {
    Value::parse(text)
}

/// kboot 2006: `name=kernel args…`, kernel optionally `device:/path`, `initrd=` among the args.
fn legacy_entry(name: &str, spec: &str, source: &str) -> Option<BootEntry> {
    let mut words = spec.split_whitespace();
    let kernel_spec = words.next()?;
    let (device, kernel) = match kernel_spec.split_once(":/") {
        Some((dev, path)) if !dev.is_empty() => (Some(dev), format!("/{path}")),
        _ => (None, kernel_spec.to_string()),
    };
    let mut initrds = Vec::new();
    let mut args = Vec::new();
    for word in words {
        match word.strip_prefix("initrd=") {
            // The device part of "dev:/path" can only be the kernel's: same filesystem.
            Some(path) => initrds.push(
                path.split_once(":/")
                    .map(|(_, p)| p)
                    .unwrap_or(path)
                    .to_string(),
            ),
            None => args.push(word),
        }
    }
    let mut entry = BootEntry::with_absolute_paths(name, &kernel, &initrds, source);
    entry.cmdline = join_cmdline(args);
    entry.root_fs = device.map(|d| FsRef::Device(d.to_string()));
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn values() {
        assert_eq!(parse_value("\"a b\""), Some(Value::Str("a b".into())));
        assert_eq!(
            parse_value("[\"/a\", '/b' ]"),
            Some(Value::List(vec!["/a".into(), "/b".into()]))
        );
        assert_eq!(parse_value("[]"), Some(Value::List(vec![])));
        assert_eq!(parse_value("5"), Some(Value::Int(5)));
        assert_eq!(parse_value("[\"/a\""), None);
        assert_eq!(parse_value("\"x\" y"), None);
    }

    #[test]
    fn legacy_lines_with_device_and_initrd() {
        let mut out = Parsed::default();
        parse_kboot_text("default=old\nnew='/boot/vmlinuz root=/dev/hda1'\nold=hda2:/vmlinuz initrd=/initrd.gz ro\n", "k", &mut out);
        assert_eq!(out.entries.len(), 2);
        assert_eq!(out.entries[1].kernel, PathBuf::from("/vmlinuz"));
        assert_eq!(out.entries[1].root_fs, Some(FsRef::Device("hda2".into())));
        assert_eq!(out.entries[1].initrds, [PathBuf::from("/initrd.gz")]);
        assert_eq!(out.entries[1].cmdline, "ro");
        assert!(out.entries[1].is_default);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }
}
