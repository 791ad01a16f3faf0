//! Parsing of compound commands: if, for, while/until and case.
use crate::shell::syntax::lexer::Tok;
use crate::shell::syntax::parser::{is_name, Command, ParseError, Parser};

impl Parser<'_> {
    pub(super) fn if_command(&mut self) -> Result<Command, ParseError> {
        self.pos += 1;
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.list(&["then"])?;
            self.expect_word("then")?;
            let body = self.list(&["elif", "else", "fi"])?;
            branches.push((cond, body));
            match self.peek_word() {
                Some("elif") => {
                    self.pos += 1;
                }
                Some("else") => {
                    self.pos += 1;
                    otherwise = Some(self.list(&["fi"])?);
                    self.expect_word("fi")?;
                    break;
                }
                _ => {
                    self.expect_word("fi")?;
                    break;
                }
            }
        }
        Ok(Command::If {
            branches,
            otherwise,
        })
    }

    pub(super) fn for_command(&mut self) -> Result<Command, ParseError> {
        self.pos += 1;
        let var = match self.peek_word() {
            Some(v) if is_name(v) => v.to_string(),
            Some(v) => {
                return Err(ParseError::Syntax(format!(
                    "syntax error: bad for loop variable '{v}'"
                )))
            }
            None => return Err(ParseError::Incomplete),
        };
        self.pos += 1;
        self.skip_newlines();
        let mut items = None;
        if self.peek_word() == Some("in") {
            self.pos += 1;
            let mut list = Vec::new();
            while let Some(w) = self.peek_word() {
                list.push(w.to_string());
                self.pos += 1;
            }
            items = Some(list);
        }
        if self.at_op(";") {
            self.pos += 1;
        }
        self.expect_word("do")?;
        let body = self.list(&["done"])?;
        self.expect_word("done")?;
        Ok(Command::For { var, items, body })
    }

    pub(super) fn case_command(&mut self) -> Result<Command, ParseError> {
        self.pos += 1;
        let word = match self.peek_word() {
            Some(w) => w.to_string(),
            None if self.pos >= self.tokens.len() => return Err(ParseError::Incomplete),
            None => return Err(ParseError::Syntax("syntax error: case needs a word".into())),
        };
        self.pos += 1;
        self.expect_word("in")?;
        let mut arms = Vec::new();
        loop {
            self.skip_newlines();
            match self.peek() {
                None => return Err(ParseError::Incomplete),
                Some(Tok::Word(w)) if w == "esac" => {
                    self.pos += 1;
                    break;
                }
                Some(Tok::Op("(")) => self.pos += 1,
                _ => {}
            }
            let mut patterns = Vec::new();
            loop {
                match self.peek().cloned() {
                    Some(Tok::Word(p)) => {
                        patterns.push(p);
                        self.pos += 1;
                    }
                    None => return Err(ParseError::Incomplete),
                    Some(_) => {
                        return Err(ParseError::Syntax("syntax error: bad case pattern".into()))
                    }
                }
                match self.peek() {
                    Some(Tok::Op("|")) => self.pos += 1,
                    Some(Tok::Op(")")) => {
                        self.pos += 1;
                        break;
                    }
                    None => return Err(ParseError::Incomplete),
                    Some(_) => {
                        return Err(ParseError::Syntax(
                            "syntax error: expected ')' after case pattern".into(),
                        ))
                    }
                }
            }
            let body = self.list(&["esac"])?;
            arms.push((patterns, body));
            if self.at_op(";;") {
                self.pos += 1;
            }
        }
        Ok(Command::Case { word, arms })
    }

    pub(super) fn while_command(&mut self, until: bool) -> Result<Command, ParseError> {
        self.pos += 1;
        let cond = self.list(&["do"])?;
        self.expect_word("do")?;
        let body = self.list(&["done"])?;
        self.expect_word("done")?;
        Ok(Command::While { cond, body, until })
    }
}
