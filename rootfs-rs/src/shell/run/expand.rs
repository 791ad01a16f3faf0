//! Word expansion: quotes, `~`, `$VAR`/`${…}` forms, `$(…)`/backticks, `$((…))`, field
//! splitting of unquoted results, then pathname globbing.
use crate::shell::Shell;
use crate::util::glob;

/// A field being built: the literal text and a glob pattern where quoted wildcards are escaped.
#[derive(Default, Clone)]
struct Field {
    text: String,
    pattern: String,
    wildcard: bool,
    /// A quoted empty string still makes a field.
    present: bool,
}

impl Field {
    fn push(&mut self, c: char, quoted: bool) {
        self.text.push(c);
        if matches!(c, '*' | '?' | '[' | '\\') && quoted {
            self.pattern.push('\\');
        } else if matches!(c, '*' | '?' | '[') {
            self.wildcard = true;
        }
        self.pattern.push(c);
        self.present = true;
    }

    fn push_str(&mut self, s: &str, quoted: bool) {
        for c in s.chars() {
            self.push(c, quoted);
        }
        self.present = true;
    }
}

struct Expansion {
    fields: Vec<Field>,
    current: Field,
}

impl Expansion {
    fn break_field(&mut self) {
        if self.current.present {
            self.fields.push(std::mem::take(&mut self.current));
        }
    }

    /// Unquoted expansion result: split on IFS whitespace.
    fn push_split(&mut self, value: &str, ifs: &str) {
        for c in value.chars() {
            if ifs.contains(c) {
                self.break_field();
            } else {
                self.current.push(c, false);
            }
        }
    }
}

impl Shell {
    /// Expand a word to fields (with splitting and globbing): command arguments, `for` lists.
    pub fn expand_fields(&mut self, raw: &str) -> Result<Vec<String>, String> {
        let mut e = Expansion {
            fields: Vec::new(),
            current: Field::default(),
        };
        self.expand_into(raw, &mut e, true)?;
        e.break_field();
        let mut out = Vec::new();
        for f in e.fields {
            if f.wildcard {
                let matches = glob::expand(&f.pattern);
                if !matches.is_empty() {
                    out.extend(matches);
                    continue;
                }
            }
            out.push(f.text);
        }
        Ok(out)
    }

    /// Expand a word to one string (assignments, redirection targets): no splitting or globbing.
    pub fn expand_single(&mut self, raw: &str) -> Result<String, String> {
        let fields = self.expand_unsplit(raw)?;
        Ok(fields
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Expand a `case` pattern: quoted wildcard characters are escaped so they match literally.
    pub fn expand_pattern(&mut self, raw: &str) -> Result<String, String> {
        let fields = self.expand_unsplit(raw)?;
        Ok(fields
            .into_iter()
            .map(|f| f.pattern)
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Expansion without field splitting (only "$@" can still yield several fields).
    fn expand_unsplit(&mut self, raw: &str) -> Result<Vec<Field>, String> {
        let mut e = Expansion {
            fields: Vec::new(),
            current: Field::default(),
        };
        self.expand_into(raw, &mut e, false)?;
        e.break_field();
        Ok(e.fields)
    }

    /// Here-document body: `$…` and backquotes expand; a backslash escapes `$`, backquote
    /// and backslash; quotes are ordinary characters.
    pub fn expand_heredoc(&mut self, body: &str) -> Result<String, String> {
        let chars: Vec<char> = body.chars().collect();
        let mut out = String::with_capacity(body.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' if matches!(chars.get(i + 1), Some('$' | '`' | '\\')) => {
                    out.push(chars[i + 1]);
                    i += 2;
                }
                '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
                '$' | '`' => {
                    let (value, next, _) = self.dollar(&chars, i)?;
                    out.push_str(&value.unwrap_or_else(|| "$".into()));
                    i = next;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        Ok(out)
    }

    fn ifs(&self) -> String {
        self.vars
            .get("IFS")
            .cloned()
            .unwrap_or_else(|| " \t\n".to_string())
    }

    fn expand_into(&mut self, raw: &str, e: &mut Expansion, split: bool) -> Result<(), String> {
        let chars: Vec<char> = raw.chars().collect();
        let mut i = 0;
        if chars.first() == Some(&'~') {
            let end = chars.iter().position(|&c| c == '/').unwrap_or(chars.len());
            if end == 1 {
                let home = self.get_var("HOME").unwrap_or_default();
                e.current.push_str(&home, true);
                i = 1;
            }
        }
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\'' => {
                    let close = find_char(&chars, i + 1, '\'').ok_or("unterminated quote")?;
                    let s: String = chars[i + 1..close].iter().collect();
                    e.current.push_str(&s, true);
                    i = close + 1;
                }
                '"' => {
                    i = self.expand_double_quoted(&chars, i + 1, e)?;
                }
                '\\' => {
                    // Backslash-newline is a line continuation and disappears.
                    if let Some(&n) = chars.get(i + 1).filter(|&&n| n != '\n') {
                        e.current.push(n, true);
                    }
                    i += 2;
                }
                '$' | '`' => {
                    let (value, next, _) = self.dollar(&chars, i)?;
                    i = next;
                    match value {
                        Some(v) if split => {
                            let ifs = self.ifs();
                            e.push_split(&v, &ifs);
                        }
                        Some(v) => e.current.push_str(&v, true),
                        None => e.current.push('$', false),
                    }
                }
                _ => {
                    e.current.push(c, false);
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// Inside "…": only `$`, backquote and `\` are special; returns the index after the quote.
    fn expand_double_quoted(
        &mut self,
        chars: &[char],
        mut i: usize,
        e: &mut Expansion,
    ) -> Result<usize, String> {
        e.current.present = true;
        while i < chars.len() {
            match chars[i] {
                '"' => return Ok(i + 1),
                '\\' => {
                    match chars.get(i + 1) {
                        Some(&n) if matches!(n, '$' | '`' | '"' | '\\' | '\n') => {
                            if n != '\n' {
                                e.current.push(n, true);
                            }
                        }
                        Some(&n) => {
                            e.current.push('\\', true);
                            e.current.push(n, true);
                        }
                        None => e.current.push('\\', true),
                    }
                    i += 2;
                }
                '$' | '`' => {
                    let (value, next, is_at) = self.dollar(chars, i)?;
                    i = next;
                    match value {
                        // "$@" keeps each parameter a separate field.
                        Some(_) if is_at => {
                            let params = self.params.clone();
                            for (n, p) in params.iter().enumerate() {
                                if n > 0 {
                                    e.break_field();
                                    e.current.present = true;
                                }
                                e.current.push_str(p, true);
                            }
                            if params.is_empty() && e.current.text.is_empty() {
                                e.current.present = false;
                            }
                        }
                        Some(v) => e.current.push_str(&v, true),
                        None => e.current.push('$', true),
                    }
                }
                c => {
                    e.current.push(c, true);
                    i += 1;
                }
            }
        }
        Err("unterminated double quote".into())
    }

    /// Expand the `$…` or backquote form at `chars[i]`: (value, index after it, is $@/$*).
    /// None means a lone `$` that stays literal.
    fn dollar(
        &mut self,
        chars: &[char],
        i: usize,
    ) -> Result<(Option<String>, usize, bool), String> {
        if chars[i] == '`' {
            let close = find_char(chars, i + 1, '`').ok_or("unterminated backquote")?;
            let inner: String = chars[i + 1..close].iter().collect();
            return Ok((
                Some(self.command_output(&inner.replace("\\`", "`"))),
                close + 1,
                false,
            ));
        }
        let Some(&n) = chars.get(i + 1) else {
            return Ok((None, i + 1, false));
        };
        if n == '(' && chars.get(i + 2) == Some(&'(') {
            let close =
                find_close(chars, i + 3, '(', ')').filter(|&c| chars.get(c + 1) == Some(&')'));
            let close = close.ok_or("unterminated $((")?;
            let inner: String = chars[i + 3..close].iter().collect();
            let expanded = self.expand_single(&inner)?;
            let value = crate::shell::run::arith::eval(&expanded, &mut |name| self.get_var(name))?;
            return Ok((Some(value.to_string()), close + 2, false));
        }
        if n == '(' {
            let close = find_close(chars, i + 2, '(', ')').ok_or("unterminated $(")?;
            let inner: String = chars[i + 2..close].iter().collect();
            return Ok((Some(self.command_output(&inner)), close + 1, false));
        }
        if n == '{' {
            let close = find_close(chars, i + 2, '{', '}').ok_or("bad substitution")?;
            let inner: String = chars[i + 2..close].iter().collect();
            let is_at = inner == "@";
            return Ok((Some(self.braced(&inner)?), close + 1, is_at));
        }
        if n.is_ascii_digit() || "?$#!@*-".contains(n) {
            return Ok((Some(self.special_or_var(&n.to_string())), i + 2, n == '@'));
        }
        if n == '_' || n.is_ascii_alphabetic() {
            let mut j = i + 1;
            while j < chars.len() && (chars[j] == '_' || chars[j].is_ascii_alphanumeric()) {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            return Ok((Some(self.special_or_var(&name)), j, false));
        }
        Ok((None, i + 1, false))
    }

    /// `${name}`, `${#name}`, `${name:-w}`, `${name:=w}`, `${name:+w}`, `${name-w}`,
    /// `${name#p}`, `${name##p}`, `${name%p}`, `${name%%p}`.
    fn braced(&mut self, inner: &str) -> Result<String, String> {
        if let Some(name) = inner.strip_prefix('#') {
            if !name.is_empty() {
                return Ok(self.special_or_var(name).chars().count().to_string());
            }
        }
        let name_len = inner
            .char_indices()
            .find(|&(i, c)| {
                !(c == '_' || c.is_ascii_alphanumeric() || (i == 0 && "?$#!@*".contains(c)))
            })
            .map(|(i, _)| i)
            .unwrap_or(inner.len());
        let (name, op) = inner.split_at(name_len);
        if name.is_empty() {
            return Err(format!("${{{inner}}}: bad substitution"));
        }
        let value = self.lookup(name);
        if op.is_empty() {
            return Ok(value.unwrap_or_default());
        }
        let colon = op.starts_with(':');
        let op = op.trim_start_matches(':');
        let (kind, word) = op.split_at(op.chars().next().map(|c| c.len_utf8()).unwrap_or(0));
        let unset = value.is_none() || (colon && value.as_deref() == Some(""));
        match kind {
            "-" => {
                if unset {
                    self.expand_single(word)
                } else {
                    Ok(value.unwrap_or_default())
                }
            }
            "=" => {
                if unset {
                    let v = self.expand_single(word)?;
                    self.set_var(name, &v);
                    Ok(v)
                } else {
                    Ok(value.unwrap_or_default())
                }
            }
            "+" => {
                if unset {
                    Ok(String::new())
                } else {
                    self.expand_single(word)
                }
            }
            "?" => {
                if unset {
                    let msg = self.expand_single(word)?;
                    Err(format!(
                        "{name}: {}",
                        if msg.is_empty() {
                            "parameter not set"
                        } else {
                            &msg
                        }
                    ))
                } else {
                    Ok(value.unwrap_or_default())
                }
            }
            "#" | "%" => {
                let longest = word.starts_with(kind);
                let pattern = self.expand_single(if longest { &word[1..] } else { word })?;
                Ok(strip_pattern(
                    &value.unwrap_or_default(),
                    &pattern,
                    kind == "#",
                    longest,
                ))
            }
            _ => Err(format!("${{{inner}}}: bad substitution")),
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        match name {
            "?" | "$" | "#" | "!" | "@" | "*" | "-" => Some(self.special_or_var(name)),
            _ if name.chars().all(|c| c.is_ascii_digit()) => {
                let n: usize = name.parse().ok()?;
                if n == 0 {
                    Some(self.arg0.clone())
                } else {
                    self.params.get(n - 1).cloned()
                }
            }
            _ => self.get_var(name),
        }
    }

    fn special_or_var(&self, name: &str) -> String {
        match name {
            "?" => self.last_status.to_string(),
            "$" => self.pid.to_string(),
            "#" => self.params.len().to_string(),
            "!" => self
                .last_background
                .map(|p| p.to_string())
                .unwrap_or_default(),
            "@" | "*" => self.params.join(" "),
            "-" => String::new(),
            _ => self.lookup(name).unwrap_or_default(),
        }
    }
}

/// Remove the shortest/longest prefix (`#`) or suffix (`%`) matching a wildcard pattern.
fn strip_pattern(value: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let cuts: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(value.len()))
        .collect();
    let order: Box<dyn Iterator<Item = &usize>> = match (prefix, longest) {
        (true, false) | (false, true) => Box::new(cuts.iter()),
        _ => Box::new(cuts.iter().rev()),
    };
    for &cut in order {
        if prefix && glob::matches(pattern, &value[..cut]) {
            return value[cut..].to_string();
        }
        if !prefix && glob::matches(pattern, &value[cut..]) {
            return value[..cut].to_string();
        }
    }
    value.to_string()
}

fn find_char(chars: &[char], from: usize, want: char) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        if chars[i] == '\\' && want == '`' {
            i += 2;
            continue;
        }
        if chars[i] == want {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Index of the `close` matching an already-consumed `open`, skipping quoted text.
fn find_close(chars: &[char], from: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 1;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '\'' => i = find_char(chars, i + 1, '\'')?,
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::strip_pattern;

    #[test]
    fn prefix_and_suffix_removal() {
        assert_eq!(strip_pattern("a/b/c.txt", "*/", true, false), "b/c.txt");
        assert_eq!(strip_pattern("a/b/c.txt", "*/", true, true), "c.txt");
        assert_eq!(strip_pattern("a.tar.gz", ".*", false, false), "a.tar");
        assert_eq!(strip_pattern("a.tar.gz", ".*", false, true), "a");
    }
}

#[cfg(test)]
mod robustness {
    use crate::shell::Shell;

    /// Random words (without command substitution, which would spawn processes) expand to
    /// fields or an error, never a panic.
    #[test]
    fn random_words_never_panic() {
        const PIECES: &[&str] = &[
            "a", "'", "\"", "\\", "$", "${", "}", "$((", "))", "1+", "x", ":-", "##", "%", "*",
            "?", "[", "]", "~", "/", "é", "$@", "$#", " ", "=",
        ];
        let mut shell = Shell::new();
        shell.params = vec!["p 1".into(), "p2".into()];
        shell.set_var("x", "val ue");
        let mut seed: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..3000 {
            let mut word = String::new();
            for _ in 0..(seed % 12) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                word.push_str(PIECES[(seed >> 33) as usize % PIECES.len()]);
            }
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(3);
            let _ = shell.expand_fields(&word);
            let _ = shell.expand_single(&word);
        }
    }
}
