//! The quoting and comment rules of kboot.toml, shared with the line-oriented boot config
//! parsers (LILO, kboot.conf): `#` comments outside quotes, "…" with `\` escapes, '…' literal.

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
