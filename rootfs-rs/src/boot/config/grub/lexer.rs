//! GRUB script tokenizer: words with quoting, escapes, `\` continuation, comments, `$var`.

use std::str::Chars;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text; `quoted` parts are never split into several arguments.
    Lit { text: String, quoted: bool },
    /// `$name` / `${name}`; unquoted expansions are split on whitespace.
    Var { name: String, quoted: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    pub parts: Vec<Part>,
}

impl Word {
    /// The word's text when it is one unquoted literal: only such words can be keywords.
    pub fn keyword(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit {
                text,
                quoted: false,
            }] => Some(text.as_str()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    Word(Word),
    /// Newline or `;`.
    Sep,
    LBrace,
    RBrace,
    Eof,
}

pub(super) struct Lexer<'a> {
    chars: std::iter::Peekable<Chars<'a>>,
    pub(super) line: usize,
    pub(super) problems: Vec<(usize, String)>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            chars: text.chars().peekable(),
            line: 1,
            problems: Vec::new(),
        }
    }

    /// Next token and the line it starts on.
    pub(super) fn next_tok(&mut self) -> (Tok, usize) {
        loop {
            let Some(&c) = self.chars.peek() else {
                return (Tok::Eof, self.line);
            };
            match c {
                ' ' | '\t' | '\r' => {
                    self.chars.next();
                }
                '\\' => {
                    let mut ahead = self.chars.clone();
                    ahead.next();
                    if ahead.peek() == Some(&'\n') {
                        self.chars.next();
                        self.chars.next();
                        self.line += 1;
                    } else {
                        return self.word();
                    }
                }
                '\n' => {
                    self.chars.next();
                    self.line += 1;
                    return (Tok::Sep, self.line - 1);
                }
                ';' => {
                    self.chars.next();
                    return (Tok::Sep, self.line);
                }
                '#' => {
                    while let Some(&c) = self.chars.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.chars.next();
                    }
                }
                _ => return self.word(),
            }
        }
    }

    fn word(&mut self) -> (Tok, usize) {
        let start = self.line;
        let mut word = Word::default();
        let mut lit = String::new();
        while let Some(&c) = self.chars.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' => break,
                '\\' => {
                    self.chars.next();
                    match self.chars.next() {
                        Some('\n') => self.line += 1,
                        Some(escaped) => lit.push(escaped),
                        None => lit.push('\\'),
                    }
                }
                '\'' => {
                    self.chars.next();
                    flush(&mut word, &mut lit, false);
                    let text = self.single_quoted(start);
                    word.parts.push(Part::Lit { text, quoted: true });
                }
                '"' => {
                    self.chars.next();
                    flush(&mut word, &mut lit, false);
                    self.double_quoted(&mut word, start);
                }
                '$' => {
                    self.chars.next();
                    match self.variable() {
                        Some(name) => {
                            flush(&mut word, &mut lit, false);
                            word.parts.push(Part::Var {
                                name,
                                quoted: false,
                            });
                        }
                        None => lit.push('$'),
                    }
                }
                _ => {
                    lit.push(c);
                    self.chars.next();
                }
            }
        }
        flush(&mut word, &mut lit, false);
        match word.keyword() {
            Some("{") => (Tok::LBrace, start),
            Some("}") => (Tok::RBrace, start),
            _ => (Tok::Word(word), start),
        }
    }

    fn single_quoted(&mut self, start: usize) -> String {
        let mut text = String::new();
        loop {
            match self.chars.next() {
                Some('\'') => return text,
                Some(c) => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    text.push(c);
                }
                None => {
                    self.problems
                        .push((start, "unterminated single quote".to_string()));
                    return text;
                }
            }
        }
    }

    fn double_quoted(&mut self, word: &mut Word, start: usize) {
        let parts_before = word.parts.len();
        let mut lit = String::new();
        loop {
            match self.chars.next() {
                Some('"') => break,
                Some('\\') => match self.chars.peek().copied() {
                    Some('\n') => {
                        self.chars.next();
                        self.line += 1;
                    }
                    Some(c @ ('"' | '\\' | '$')) => {
                        self.chars.next();
                        lit.push(c);
                    }
                    _ => lit.push('\\'),
                },
                Some('$') => match self.variable() {
                    Some(name) => {
                        flush(word, &mut lit, true);
                        word.parts.push(Part::Var { name, quoted: true });
                    }
                    None => lit.push('$'),
                },
                Some(c) => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    lit.push(c);
                }
                None => {
                    self.problems
                        .push((start, "unterminated double quote".to_string()));
                    break;
                }
            }
        }
        // An empty "" still is an (empty) argument.
        if !lit.is_empty() || word.parts.len() == parts_before {
            word.parts.push(Part::Lit {
                text: lit,
                quoted: true,
            });
        }
    }

    /// After `$`: the variable name, or None when `$` is literal.
    fn variable(&mut self) -> Option<String> {
        match self.chars.peek().copied() {
            Some('{') => {
                self.chars.next();
                let mut name = String::new();
                loop {
                    match self.chars.peek().copied() {
                        Some('}') => {
                            self.chars.next();
                            return Some(name);
                        }
                        // The newline still ends the command.
                        Some('\n') | None => {
                            self.problems
                                .push((self.line, "unterminated ${ variable".to_string()));
                            return Some(name);
                        }
                        Some(c) => {
                            self.chars.next();
                            name.push(c);
                        }
                    }
                }
            }
            Some(c) if is_name_char(c) => {
                let mut name = String::new();
                while let Some(&c) = self.chars.peek() {
                    if !is_name_char(c) {
                        break;
                    }
                    name.push(c);
                    self.chars.next();
                }
                Some(name)
            }
            Some(c @ ('?' | '#' | '*' | '@')) => {
                self.chars.next();
                Some(c.to_string())
            }
            _ => None,
        }
    }
}

fn flush(word: &mut Word, lit: &mut String, quoted: bool) {
    if !lit.is_empty() {
        word.parts.push(Part::Lit {
            text: std::mem::take(lit),
            quoted,
        });
    }
}
