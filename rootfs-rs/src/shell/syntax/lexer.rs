//! Shell tokenizer: words keep their raw text (quotes included) for later expansion; operators
//! and redirections are separate tokens; every token records its byte span in the source.

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Word(String),
    /// `;` `&` `&&` `||` `|` `(` `)` `;;` and newline (as "\n").
    Op(&'static str),
    /// An optional fd number and one of `<` `>` `>>` `<&` `>&` `<>`; the target word follows.
    Redir(Option<u32>, &'static str),
    /// The body of a here-document (replaces its delimiter word) and whether `$` expands in it.
    HereDoc(String, bool),
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, PartialEq)]
pub enum LexError {
    /// Input ends inside quotes or a substitution: an interactive shell asks for more.
    Incomplete,
}

const OPS: [&str; 9] = ["&&", "||", ";;", ";", "&", "|", "(", ")", "\n"];
const REDIRS: [&str; 8] = ["<<-", "<<", ">>", "<&", ">&", "<>", "<", ">"];

pub fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut tokens = Vec::new();
    // Here-documents whose bodies start after the next newline: (delimiter token, strip tabs).
    let mut pending_heredocs: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' || c == b'\r' {
            i += 1;
            continue;
        }
        if c == b'\\' && b.get(i + 1) == Some(&b'\n') {
            i += 2;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if let Some(op) = OPS.iter().find(|op| src[i..].starts_with(**op)) {
            tokens.push(Token {
                tok: Tok::Op(op),
                start: i,
                end: i + op.len(),
            });
            i += op.len();
            if *op == "\n" {
                for (index, strip_tabs) in pending_heredocs.drain(..) {
                    i = read_heredoc(src, i, &mut tokens[index], strip_tabs)?;
                }
            }
            continue;
        }
        // An all-digit word directly followed by < or > is the fd of a redirection.
        let digits = b[i..].iter().take_while(|d| d.is_ascii_digit()).count();
        let at = i + digits;
        if let Some(r) = REDIRS.iter().find(|r| src[at..].starts_with(**r)) {
            let fd = if digits > 0 {
                src[i..at].parse().ok()
            } else {
                None
            };
            if digits == 0 || fd.is_some() {
                tokens.push(Token {
                    tok: Tok::Redir(fd, r),
                    start: i,
                    end: at + r.len(),
                });
                i = at + r.len();
                continue;
            }
        }
        let end = word_end(b, i)?;
        if let Some(Token {
            tok: Tok::Redir(_, op @ ("<<" | "<<-")),
            ..
        }) = tokens.last()
        {
            pending_heredocs.push((tokens.len(), *op == "<<-"));
        }
        tokens.push(Token {
            tok: Tok::Word(src[i..end].to_string()),
            start: i,
            end,
        });
        i = end;
    }
    if !pending_heredocs.is_empty() {
        return Err(LexError::Incomplete);
    }
    Ok(tokens)
}

/// Read the here-document body starting at `i` up to the delimiter line; the delimiter
/// token becomes a HereDoc. Returns the index after the delimiter line.
fn read_heredoc(
    src: &str,
    mut i: usize,
    token: &mut Token,
    strip_tabs: bool,
) -> Result<usize, LexError> {
    let Tok::Word(raw) = &token.tok else {
        return Ok(i);
    };
    // Any quoting in the delimiter turns expansion off.
    let expand = !raw.contains(['\'', '"', '\\']);
    let delimiter: String = raw
        .chars()
        .filter(|c| !matches!(c, '\'' | '"' | '\\'))
        .collect();
    let mut body = String::new();
    loop {
        let Some(rest) = src.get(i..).filter(|r| !r.is_empty()) else {
            return Err(LexError::Incomplete);
        };
        let line_end = rest.find('\n').map(|p| p + 1).unwrap_or(rest.len());
        let line = &rest[..line_end];
        i += line_end;
        let content = line.strip_suffix('\n').unwrap_or(line);
        let content = if strip_tabs {
            content.trim_start_matches('\t')
        } else {
            content
        };
        if content == delimiter {
            break;
        }
        body.push_str(content);
        body.push('\n');
    }
    token.tok = Tok::HereDoc(body, expand);
    Ok(i)
}

fn is_meta(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')'
    )
}

/// End of the word starting at `i`, skipping over quotes and substitutions.
fn word_end(b: &[u8], mut i: usize) -> Result<usize, LexError> {
    while i < b.len() && !is_meta(b[i]) {
        i = skip_unit(b, i)?;
    }
    Ok(i)
}

/// Skip one lexical unit (a char, an escape, a quoted string, a substitution).
pub fn skip_unit(b: &[u8], i: usize) -> Result<usize, LexError> {
    match b[i] {
        b'\\' => {
            if i + 1 >= b.len() {
                return Ok(i + 1);
            }
            Ok(i + 2)
        }
        b'\'' => match b[i + 1..].iter().position(|&c| c == b'\'') {
            Some(p) => Ok(i + 1 + p + 1),
            None => Err(LexError::Incomplete),
        },
        b'"' => {
            let mut j = i + 1;
            loop {
                match b.get(j) {
                    None => return Err(LexError::Incomplete),
                    Some(b'"') => return Ok(j + 1),
                    Some(b'\\') => j += 2,
                    Some(b'$') | Some(b'`') => j = skip_unit(b, j)?,
                    Some(_) => j += 1,
                }
            }
        }
        b'`' => {
            let mut j = i + 1;
            loop {
                match b.get(j) {
                    None => return Err(LexError::Incomplete),
                    Some(b'`') => return Ok(j + 1),
                    Some(b'\\') => j += 2,
                    Some(_) => j += 1,
                }
            }
        }
        b'$' if b.get(i + 1) == Some(&b'(') => skip_balanced(b, i + 2, b'(', b')'),
        b'$' if b.get(i + 1) == Some(&b'{') => skip_balanced(b, i + 2, b'{', b'}'),
        _ => Ok(i + 1),
    }
}

/// Skip to after the `close` matching an already-consumed `open`, honouring quotes.
fn skip_balanced(b: &[u8], mut j: usize, open: u8, close: u8) -> Result<usize, LexError> {
    let mut depth = 1;
    while depth > 0 {
        let Some(&c) = b.get(j) else {
            return Err(LexError::Incomplete);
        };
        if c == open {
            depth += 1;
            j += 1;
        } else if c == close {
            depth -= 1;
            j += 1;
        } else {
            j = skip_unit(b, j)?;
        }
    }
    Ok(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src)
            .map(|t| t.into_iter().map(|t| t.tok).collect())
            .unwrap_or_default()
    }

    #[test]
    fn words_ops_and_redirections() {
        assert_eq!(
            kinds("echo 'a b' \"c $(x y)\">out 2>&1|wc&&x"),
            vec![
                Tok::Word("echo".into()),
                Tok::Word("'a b'".into()),
                Tok::Word("\"c $(x y)\"".into()),
                Tok::Redir(None, ">"),
                Tok::Word("out".into()),
                Tok::Redir(Some(2), ">&"),
                Tok::Word("1".into()),
                Tok::Op("|"),
                Tok::Word("wc".into()),
                Tok::Op("&&"),
                Tok::Word("x".into()),
            ]
        );
    }

    #[test]
    fn here_documents() {
        let toks = kinds("cat <<EOF; echo after\nline $x\n\tEOF\nEOF\necho next\n");
        assert_eq!(toks[1], Tok::Redir(None, "<<"));
        assert_eq!(toks[2], Tok::HereDoc("line $x\n\tEOF\n".into(), true));
        assert_eq!(
            toks.iter()
                .filter(|t| **t == Tok::Word("next".into()))
                .count(),
            1
        );
        let toks = kinds("cat <<-'END'\n\t$y\n\tEND\n");
        assert_eq!(toks[2], Tok::HereDoc("$y\n".into(), false));
        assert!(matches!(
            tokenize("cat <<EOF\nno end"),
            Err(LexError::Incomplete)
        ));
    }

    #[test]
    fn unterminated_quote_is_incomplete() {
        assert!(matches!(tokenize("echo 'abc"), Err(LexError::Incomplete)));
        assert!(matches!(tokenize("echo $(ls"), Err(LexError::Incomplete)));
    }
}
