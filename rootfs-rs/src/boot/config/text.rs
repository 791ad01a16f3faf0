//! Small text helpers shared by the line-oriented parsers (LILO, kboot.conf).

/// The part of a line before a `#` comment, ignoring `#` inside quotes.
pub fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
        escaped = false;
    }
    line
}

/// Parses a quoted string at the start of `text` ("…" with \ escapes, or '…' literal).
/// Returns the contents and the rest after the closing quote; None if not quoted or unterminated.
pub fn parse_quoted(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    let (_, quote) = chars.next().filter(|(_, q)| *q == '"' || *q == '\'')?;
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((out, &text[i + c.len_utf8()..]));
        }
        if c == '\\' && quote == '"' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, other)) => out.push(other),
                None => return None,
            }
            continue;
        }
        out.push(c);
    }
    None
}

/// A value that may or may not be quoted: quoted contents, else the trimmed text.
pub fn unquote(value: &str) -> String {
    let value = value.trim();
    match parse_quoted(value) {
        Some((inner, rest)) if rest.trim().is_empty() => inner,
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_quotes() {
        assert_eq!(strip_comment("append=\"a # b\" # c"), "append=\"a # b\" ");
        assert_eq!(strip_comment("x = 'it#s' # y"), "x = 'it#s' ");
        assert_eq!(strip_comment("x = \"q\\\"#\" #"), "x = \"q\\\"#\" ");
        assert_eq!(unquote(" \"root=/dev/sda2 ro\" "), "root=/dev/sda2 ro");
        assert_eq!(unquote("'a\\b'"), "a\\b");
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert_eq!(unquote("\"unterminated"), "\"unterminated");
        assert_eq!(
            parse_quoted("\"a\", \"b\"]"),
            Some(("a".to_string(), ", \"b\"]"))
        );
    }
}

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
