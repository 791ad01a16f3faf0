//! The one reader of kboot.toml (and of kboot.conf, its TOML subset with `[entry.NAME]`
//! tables): the text is parsed once into a `Document` of lines, each already split into a
//! table header or a `key = value` pair, and every part of kboot takes its values from
//! that document: `[menu]`, `[net]` and `[dump]` through `Document::table`, the boot
//! entries of kboot.conf and a served kboot.toml through `Document::statements`, values
//! (strings, arrays, numbers, booleans) through `Value::parse`.
//!
//! The two views keep what the two readers before them did where they differed:
//! - a line that starts with `[` and contains `=` (`[a = b]`) is the header of a table
//!   named `a = b` for `table`, but a `key = value` line (key `[a`) for `statements`;
//! - an array over several lines (`initrd = [` … `]`) is joined into one statement by
//!   `statements`; `table` sees its lines one by one (`key = [`, then lines without `=`,
//!   which are warnings), as `[net] dns` never took arrays over several lines;
//! - quoting: kboot.conf removes quotes around keys (`"kernel" = …`) and types values
//!   (`Value::parse`: `timeout = "3"` is a string); `[menu]`, `[net]` and `[dump]` get keys
//!   and values as written and unquote values themselves (`[menu] timeout = "3"` is "not a
//!   number", `"timeout" = 3` an unknown key).

use crate::config::text::{parse_quoted, strip_comment};

/// kboot.toml text, read once: one `Line` per line of the text.
pub struct Document {
    lines: Vec<Line>,
}

/// One line: its number (from 1), its text without the comment and the blanks around it,
/// and what it is.
struct Line {
    number: usize,
    text: String,
    kind: LineKind,
}

enum LineKind {
    Blank,
    /// `[name]`: any line that starts with `[`, the name being the text between the
    /// brackets, trimmed.
    Header {
        name: String,
    },
    /// `key = value` (split at the first `=`, both sides trimmed, the value unparsed).
    Pair {
        key: String,
        value: String,
    },
    /// Text that is neither.
    Other,
}

/// One `key = value` line of a kboot.toml table, with "file:line" for messages.
pub struct TableEntry {
    pub at: String,
    pub key: String,
    pub value: String,
}

/// One statement of kboot.conf's reading of the document (see `Document::statements`).
pub enum Statement {
    /// `[name]` (`[entry.NAME]` for an entry).
    Table { line: usize, name: String },
    /// `key = value`, an array over several lines joined into one value; `line` is the
    /// first line's.
    Pair {
        line: usize,
        key: String,
        value: String,
    },
    /// A line without `=`: its text.
    Malformed { line: usize, text: String },
}

impl Document {
    pub fn parse(text: &str) -> Document {
        let lines = text
            .lines()
            .enumerate()
            .map(|(index, raw)| {
                let text = strip_comment(raw).trim().to_string();
                let kind = if text.is_empty() {
                    LineKind::Blank
                } else if let Some(header) = text.strip_prefix('[') {
                    LineKind::Header {
                        name: header
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .trim()
                            .to_string(),
                    }
                } else if let Some((key, value)) = text.split_once('=') {
                    LineKind::Pair {
                        key: key.trim().to_string(),
                        value: value.trim().to_string(),
                    }
                } else {
                    LineKind::Other
                };
                Line {
                    number: index + 1,
                    text,
                    kind,
                }
            })
            .collect();
        Document { lines }
    }

    /// The `key = value` lines of table `[name]` (`source` names the file in messages:
    /// "source:line"); lines of that table without `=` become warnings.
    pub fn table(&self, name: &str, source: &str) -> (Vec<TableEntry>, Vec<String>) {
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        let mut inside = false;
        for line in &self.lines {
            let at = || format!("{source}:{}", line.number);
            match &line.kind {
                LineKind::Blank => {}
                LineKind::Header { name: header } => inside = header == name,
                _ if !inside => {}
                LineKind::Pair { key, value } => entries.push(TableEntry {
                    at: at(),
                    key: key.clone(),
                    value: value.clone(),
                }),
                LineKind::Other => warnings.push(format!("{}: expected key = value", at())),
            }
        }
        (entries, warnings)
    }

    /// The document as kboot.conf reads it: headers (lines starting with `[` without `=`),
    /// pairs (keys still quoted, arrays over several lines joined with a blank, up to the
    /// first line with `]`) and malformed lines, blank lines left out.
    pub fn statements(&self) -> Vec<Statement> {
        let mut statements = Vec::new();
        let mut lines = self.lines.iter();
        while let Some(line) = lines.next() {
            let number = line.number;
            match &line.kind {
                LineKind::Blank => continue,
                LineKind::Header { name } if !line.text.contains('=') => {
                    statements.push(Statement::Table {
                        line: number,
                        name: name.clone(),
                    });
                    continue;
                }
                _ => {}
            }
            let mut text = line.text.clone();
            if text.contains("= [") || text.contains("=[") {
                while !text.contains(']') {
                    let Some(more) = lines.next() else { break };
                    text.push(' ');
                    text.push_str(&more.text);
                }
            }
            statements.push(match text.split_once('=') {
                Some((key, value)) => Statement::Pair {
                    line: number,
                    key: key.to_string(),
                    value: value.trim().to_string(),
                },
                None => Statement::Malformed { line: number, text },
            });
        }
        statements
    }
}

/// A value of kboot.conf's TOML subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    List(Vec<String>),
    Int(i64),
    Bool(bool),
    /// Unquoted text that is not a number or boolean (allowed for `default` and old-style lines).
    Bare(String),
}

impl Value {
    /// A quoted string, an array of quoted strings, an integer, a boolean, else bare text;
    /// None for a malformed quote or array, or nothing.
    pub fn parse(text: &str) -> Option<Value> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_views_of_one_document() {
        let doc = Document::parse("top = 1\n[a = b]\nx = 2\n[net]\ndns = [\n\"1.1.1.1\",\n]\n");
        let (entries, warnings) = doc.table("a = b", "f");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].at, "f:3");
        assert!(warnings.is_empty());
        let (entries, warnings) = doc.table("net", "f");
        assert_eq!(
            (entries[0].key.as_str(), entries[0].value.as_str()),
            ("dns", "[")
        );
        assert_eq!(
            warnings,
            ["f:6: expected key = value", "f:7: expected key = value"]
        );
        let statements = doc.statements();
        assert_eq!(statements.len(), 5);
        assert!(matches!(&statements[1], Statement::Pair { line: 2, key, .. } if key == "[a "));
        assert!(
            matches!(&statements[4], Statement::Pair { line: 5, value, .. } if value == "[ \"1.1.1.1\", ]")
        );
    }
}
