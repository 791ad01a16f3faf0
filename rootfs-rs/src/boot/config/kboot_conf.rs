//! kboot.conf: a TOML subset ([entry.NAME] tables) plus kboot 2006's `label=kernel args` lines.

use std::path::Path;

use crate::boot::entry::{
    choose_default, join_cmdline, parse_file, BootEntry, FsRef, Parsed, MAX_ENTRIES,
};
use crate::boot::fs::ConfigFs;
use crate::config::text::{parse_quoted, strip_comment, unquote};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Str(String),
    List(Vec<String>),
    Int(i64),
    Bool(bool),
    /// Unquoted text that is not a number or boolean (allowed for `default` and old-style lines).
    Bare(String),
}

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

pub fn parse_kboot_text(text: &str, source: &str, out: &mut Parsed) {
    let mut default: Option<String> = None;
    let mut tables: Vec<Table> = Vec::new();
    let mut in_other_table = false;
    let mut too_many = false;
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let number = index + 1;
        let mut line = strip_comment(raw).trim().to_string();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') && !line.contains('=') {
            let header = line.trim_start_matches('[').trim_end_matches(']').trim();
            match header.strip_prefix("entry.") {
                Some(_) if tables.len() + out.entries.len() >= MAX_ENTRIES => {
                    warn_too_many(&mut too_many, out, source, number);
                    in_other_table = true;
                }
                Some(name) if !name.is_empty() => {
                    tables.push(Table {
                        name: unquote(name),
                        line: number,
                        label: None,
                        kernel: None,
                        initrds: Vec::new(),
                        cmdline: String::new(),
                    });
                    in_other_table = false;
                }
                _ => {
                    out.warn(source, number, format!("unknown table [{header}] ignored"));
                    in_other_table = true;
                }
            }
            continue;
        }
        // Arrays may span lines until the closing bracket.
        if line.contains("= [") || line.contains("=[") {
            while !line.contains(']') {
                let Some((_, more)) = lines.next() else { break };
                line.push(' ');
                line.push_str(strip_comment(more).trim());
            }
        }
        let Some((key, raw_value)) = line.split_once('=') else {
            out.warn(
                source,
                number,
                format!(
                    "expected key = value, got '{}'",
                    line.chars().take(60).collect::<String>()
                ),
            );
            continue;
        };
        let key = unquote(key);
        let Some(value) = parse_value(raw_value.trim()) else {
            out.warn(source, number, format!("{key}: cannot parse value"));
            continue;
        };
        if in_other_table {
            continue;
        }
        match tables.last_mut() {
            Some(table) => set_entry_key(table, &key, value, source, number, out),
            None => match (key.as_str(), value) {
                ("default", Value::Str(s) | Value::Bare(s)) => default = Some(s),
                ("timeout", Value::Int(n)) => out.timeout_secs = u32::try_from(n).ok(),
                ("default" | "timeout", _) => {
                    out.warn(source, number, format!("{key}: wrong type"))
                }
                (_, Value::Str(_) | Value::Bare(_))
                    if tables.len() + out.entries.len() >= MAX_ENTRIES =>
                {
                    warn_too_many(&mut too_many, out, source, number);
                }
                (_, Value::Str(s) | Value::Bare(s)) => {
                    out.entries.extend(legacy_entry(&key, &s, source))
                }
                _ => out.warn(source, number, format!("{key}: not an entry")),
            },
        }
    }
    for table in tables {
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
    choose_default(out, source, default.as_deref(), |e, d| e.id == d);
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

fn parse_value(text: &str) -> Option<Value> {
    if let Some(inner) = text.strip_prefix('[') {
        let mut items = Vec::new();
        let mut rest = inner.trim_start();
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                return after.trim().is_empty().then_some(Value::List(items));
            }
            let (item, after) = parse_quoted(rest)?;
            items.push(item);
            rest = after.trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        }
    }
    if text.starts_with('"') || text.starts_with('\'') {
        return match parse_quoted(text) {
            Some((s, rest)) if rest.trim().is_empty() => Some(Value::Str(s)),
            _ => None,
        };
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(Value::Int(n));
    }
    match text {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "" => None,
        _ => Some(Value::Bare(text.to_string())),
    }
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
