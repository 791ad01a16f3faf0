//! Shell grammar: lists, and-or chains, pipelines, simple commands, if/for/while/until,
//! `{ }` groups, `( )` subshells and `name() { }` functions. Source spans are kept so a
//! pipeline stage can be re-run by a child shell.
use crate::shell::syntax::lexer::{tokenize, LexError, Tok, Token};

mod compound;

#[derive(Debug, Clone)]
pub struct Redir {
    pub fd: Option<u32>,
    pub op: &'static str,
    pub target: String,
    /// Body of a here-document and whether it is subject to `$` expansion.
    pub heredoc: Option<(String, bool)>,
}

#[derive(Debug, Clone)]
pub enum Command {
    Simple {
        assigns: Vec<(String, String)>,
        words: Vec<String>,
    },
    If {
        branches: Vec<(List, List)>,
        otherwise: Option<List>,
    },
    For {
        var: String,
        items: Option<Vec<String>>,
        body: List,
    },
    While {
        cond: List,
        body: List,
        until: bool,
    },
    /// `case WORD in PATTERN|PATTERN) LIST ;; … esac`
    Case {
        word: String,
        arms: Vec<(Vec<String>, List)>,
    },
    Group {
        body: List,
    },
    /// `( … )`: the inner source text runs in a child shell.
    Subshell {
        source: String,
    },
    Function {
        name: String,
        body: Box<Stage>,
    },
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub command: Command,
    pub redirs: Vec<Redir>,
    /// Source text of the whole stage, for running it in a child shell.
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub negate: bool,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone)]
pub struct AndOr {
    pub first: Pipeline,
    /// (true for `&&`, false for `||`, pipeline)
    pub rest: Vec<(bool, Pipeline)>,
    pub background: bool,
}

pub type List = Vec<AndOr>;

#[derive(Debug, PartialEq)]
pub enum ParseError {
    Incomplete,
    Syntax(String),
}

impl From<LexError> for ParseError {
    fn from(_: LexError) -> Self {
        ParseError::Incomplete
    }
}

pub fn parse(src: &str) -> Result<List, ParseError> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
    };
    let list = p.list(&[])?;
    match p.tokens.get(p.pos) {
        None => Ok(list),
        Some(t) => Err(ParseError::Syntax(format!(
            "syntax error near unexpected token '{}'",
            p.text(t)
        ))),
    }
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

const RESERVED_ENDS: [&str; 8] = ["then", "elif", "else", "fi", "do", "done", "}", "esac"];

pub fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => is_name(name),
        None => false,
    }
}

pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

impl<'a> Parser<'a> {
    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn at_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn skip_newlines(&mut self) {
        while self.at_op("\n") {
            self.pos += 1;
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<(), ParseError> {
        self.skip_newlines();
        match self.peek_word() {
            Some(w) if w == word => {
                self.pos += 1;
                Ok(())
            }
            Some(w) => Err(ParseError::Syntax(format!(
                "syntax error: expected '{word}' but found '{w}'"
            ))),
            None if self.pos >= self.tokens.len() => Err(ParseError::Incomplete),
            None => Err(ParseError::Syntax(format!(
                "syntax error: expected '{word}'"
            ))),
        }
    }

    /// Commands up to EOF, a `)`, or one of `ends` in command position.
    fn list(&mut self, ends: &[&str]) -> Result<List, ParseError> {
        let mut list = Vec::new();
        loop {
            while self.at_op("\n") || self.at_op(";") {
                self.pos += 1;
            }
            match self.peek() {
                None => break,
                Some(Tok::Op(")")) | Some(Tok::Op(";;")) => break,
                Some(Tok::Word(w)) if RESERVED_ENDS.contains(&w.as_str()) => {
                    if ends.contains(&w.as_str()) {
                        break;
                    }
                    return Err(ParseError::Syntax(format!(
                        "syntax error near unexpected token '{w}'"
                    )));
                }
                _ => {}
            }
            let mut and_or = self.and_or()?;
            if self.at_op("&") {
                self.pos += 1;
                and_or.background = true;
            } else if !(self.at_op(";")
                || self.at_op("\n")
                || self.peek().is_none()
                || self.at_op(")")
                || self.at_op(";;")
                || matches!(self.peek_word(), Some(w) if RESERVED_ENDS.contains(&w)))
            {
                let near = self
                    .tokens
                    .get(self.pos)
                    .map(|t| self.text(t))
                    .unwrap_or("");
                return Err(ParseError::Syntax(format!(
                    "syntax error near unexpected token '{near}'"
                )));
            }
            list.push(and_or);
        }
        if !ends.is_empty() && self.pos >= self.tokens.len() {
            return Err(ParseError::Incomplete);
        }
        Ok(list)
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let is_and = if self.at_op("&&") {
                true
            } else if self.at_op("||") {
                false
            } else {
                break;
            };
            self.pos += 1;
            self.skip_newlines();
            if self.peek().is_none() {
                return Err(ParseError::Incomplete);
            }
            rest.push((is_and, self.pipeline()?));
        }
        Ok(AndOr {
            first,
            rest,
            background: false,
        })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let negate = self.peek_word() == Some("!");
        if negate {
            self.pos += 1;
        }
        let mut stages = vec![self.stage()?];
        while self.at_op("|") {
            self.pos += 1;
            self.skip_newlines();
            if self.peek().is_none() {
                return Err(ParseError::Incomplete);
            }
            stages.push(self.stage()?);
        }
        Ok(Pipeline { negate, stages })
    }

    fn redirections(&mut self, redirs: &mut Vec<Redir>) -> Result<bool, ParseError> {
        let Some(Tok::Redir(fd, op)) = self.peek().cloned() else {
            return Ok(false);
        };
        self.pos += 1;
        match self.peek().cloned() {
            Some(Tok::Word(target)) => {
                self.pos += 1;
                redirs.push(Redir {
                    fd,
                    op,
                    target,
                    heredoc: None,
                });
                Ok(true)
            }
            Some(Tok::HereDoc(body, expand)) => {
                self.pos += 1;
                redirs.push(Redir {
                    fd,
                    op,
                    target: String::new(),
                    heredoc: Some((body, expand)),
                });
                Ok(true)
            }
            None => Err(ParseError::Syntax(
                "syntax error: missing redirection target".into(),
            )),
            Some(_) => Err(ParseError::Syntax("syntax error near redirection".into())),
        }
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        let start_tok = self.pos;
        let start = self
            .tokens
            .get(self.pos)
            .map(|t| t.start)
            .unwrap_or(self.src.len());
        let command = match self.peek().cloned() {
            Some(Tok::Word(w)) => match w.as_str() {
                "if" => self.if_command()?,
                "for" => self.for_command()?,
                "while" | "until" => self.while_command(w == "until")?,
                "case" => self.case_command()?,
                "{" => {
                    self.pos += 1;
                    let body = self.list(&["}"])?;
                    self.expect_word("}")?;
                    Command::Group { body }
                }
                _ => return self.simple(start),
            },
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let inner_start = self
                    .tokens
                    .get(self.pos)
                    .map(|t| t.start)
                    .unwrap_or(self.src.len());
                self.list(&[])?;
                let Some(close) = self.tokens.get(self.pos).filter(|t| t.tok == Tok::Op(")"))
                else {
                    return Err(ParseError::Incomplete);
                };
                let source = self.src[inner_start..close.start].to_string();
                self.pos += 1;
                Command::Subshell { source }
            }
            Some(Tok::Redir(..)) => return self.simple(start),
            None => return Err(ParseError::Incomplete),
            Some(_) => {
                let t = &self.tokens[start_tok];
                return Err(ParseError::Syntax(format!(
                    "syntax error near unexpected token '{}'",
                    self.text(t)
                )));
            }
        };
        let mut redirs = Vec::new();
        while self.redirections(&mut redirs)? {}
        Ok(Stage {
            command,
            redirs,
            source: self.source_from(start),
        })
    }

    fn source_from(&self, start: usize) -> String {
        let end = self
            .tokens
            .get(self.pos.wrapping_sub(1))
            .map(|t| t.end)
            .unwrap_or(start);
        self.src
            .get(start..end.max(start))
            .unwrap_or("")
            .to_string()
    }

    fn simple(&mut self, start: usize) -> Result<Stage, ParseError> {
        let mut assigns = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut redirs = Vec::new();
        loop {
            if self.redirections(&mut redirs)? {
                continue;
            }
            let Some(Tok::Word(w)) = self.peek().cloned() else {
                break;
            };
            self.pos += 1;
            if words.is_empty() && is_assignment(&w) {
                let (name, value) = w.split_once('=').unwrap_or((&w, ""));
                assigns.push((name.to_string(), value.to_string()));
            } else {
                words.push(w);
            }
        }
        // name() { body }
        let empty_parens = matches!(
            self.tokens.get(self.pos + 1).map(|t| &t.tok),
            Some(Tok::Op(")"))
        );
        if words.len() == 1 && assigns.is_empty() && self.at_op("(") && empty_parens {
            self.pos += 2;
            self.skip_newlines();
            let body = self.stage()?;
            let name = words.remove(0);
            return Ok(Stage {
                command: Command::Function {
                    name,
                    body: Box::new(body),
                },
                redirs,
                source: self.source_from(start),
            });
        }
        if words.is_empty() && assigns.is_empty() && redirs.is_empty() {
            let near = self
                .tokens
                .get(self.pos)
                .map(|t| self.text(t))
                .unwrap_or("newline");
            return Err(ParseError::Syntax(format!(
                "syntax error near unexpected token '{near}'"
            )));
        }
        Ok(Stage {
            command: Command::Simple { assigns, words },
            redirs,
            source: self.source_from(start),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_constructs_ask_for_more() {
        assert_eq!(
            parse("if true; then echo").err(),
            Some(ParseError::Incomplete)
        );
        assert_eq!(
            parse("for x in a b; do").err(),
            Some(ParseError::Incomplete)
        );
        assert_eq!(parse("echo a &&").err(), Some(ParseError::Incomplete));
        assert_eq!(parse("echo 'x").err(), Some(ParseError::Incomplete));
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(parse("fi"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("echo a ;; b"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("| wc"), Err(ParseError::Syntax(_))));
    }

    #[test]
    fn pipeline_stage_sources() {
        let list = parse("echo a | while read x; do echo $x; done > f").unwrap_or_default();
        let stages = &list[0].first.stages;
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[1].source, "while read x; do echo $x; done > f");
        assert_eq!(stages[1].redirs.len(), 1);
    }
}

#[cfg(test)]
mod robustness {
    /// Deterministic pseudo-random inputs built from shell metacharacters: parsing must
    /// return Ok or an error, never panic or loop.
    #[test]
    fn random_input_never_panics() {
        const ALPHABET: &[&str] = &[
            "a", " ", "'", "\"", "\\", "$", "(", ")", "{", "}", ";", "&", "|", "<", ">", "2>&1",
            "\n", "#", "`", "if", "then", "fi", "for", "in", "do", "done", "while", "é", "$((",
            "${", "!", "=",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let mut src = String::new();
            for _ in 0..(seed % 24) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                src.push_str(ALPHABET[(seed >> 33) as usize % ALPHABET.len()]);
            }
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let _ = super::parse(&src);
        }
    }
}
