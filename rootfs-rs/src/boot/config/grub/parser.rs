//! GRUB script block parser: commands, if/elif/else, menuentry/submenu, function, loops.

use std::rc::Rc;

#[cfg(test)]
use crate::boot::config::grub::lexer::Part;
use crate::boot::config::grub::lexer::{Lexer, Tok, Word};

/// Blocks nested deeper than this are refused (real configs nest 3-4 levels).
const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Cmd {
        line: usize,
        words: Vec<Word>,
    },
    If {
        line: usize,
        arms: Vec<(Vec<Node>, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    /// `menuentry`/`submenu`; `complete` is false when the file ended before the closing brace.
    Menu {
        line: usize,
        submenu: bool,
        args: Vec<Word>,
        body: Rc<[Node]>,
        complete: bool,
    },
    Function {
        line: usize,
        name: String,
        body: Rc<[Node]>,
    },
    /// for/while/until: not evaluated.
    Loop {
        line: usize,
        keyword: String,
    },
}

/// How a statement list ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Keyword(String),
    RBrace,
    Eof,
}

pub struct Parser<'a> {
    lex: Lexer<'a>,
    peeked: Option<(Tok, usize)>,
    depth: usize,
    aborted: bool,
    pub problems: Vec<(usize, String)>,
}

/// Parses a whole script; problems are (line, message) pairs for warnings.
#[cfg(test)]
pub fn parse_script(text: &str) -> (Vec<Node>, Vec<(usize, String)>) {
    let mut parser = Parser::new(text);
    let mut nodes = Vec::new();
    while let Some(node) = parser.next_statement() {
        nodes.push(node);
    }
    (nodes, parser.take_problems())
}

/// Keywords that only make sense inside a compound command.
const CLOSING_KEYWORDS: &[&str] = &["then", "elif", "else", "fi", "do", "done"];

impl<'a> Parser<'a> {
    pub fn new(text: &'a str) -> Parser<'a> {
        Parser {
            lex: Lexer::new(text),
            peeked: None,
            depth: 0,
            aborted: false,
            problems: Vec::new(),
        }
    }

    /// The next top-level statement, so a caller can execute a file while parsing it and
    /// only keep the parts it needs (menu entry bodies).
    pub fn next_statement(&mut self) -> Option<Node> {
        loop {
            let (tok, line) = self.take();
            match tok {
                Tok::Eof => return None,
                Tok::Sep => {}
                Tok::LBrace => self.problems.push((line, "unexpected '{'".to_string())),
                Tok::RBrace => self.problems.push((line, "unexpected '}'".to_string())),
                Tok::Word(word) => match word.keyword() {
                    Some(k) if CLOSING_KEYWORDS.contains(&k) => {
                        self.problems.push((line, format!("unexpected '{k}'")))
                    }
                    _ => return Some(self.statement(word, line)),
                },
            }
        }
    }

    /// Lexer and parser problems so far, by line.
    pub fn take_problems(&mut self) -> Vec<(usize, String)> {
        let mut problems = std::mem::take(&mut self.lex.problems);
        problems.append(&mut self.problems);
        problems.sort_by_key(|(line, _)| *line);
        problems
    }

    fn peek(&mut self) -> &(Tok, usize) {
        let aborted = self.aborted;
        let lex = &mut self.lex;
        self.peeked.get_or_insert_with(|| {
            if aborted {
                (Tok::Eof, lex.line)
            } else {
                lex.next_tok()
            }
        })
    }

    fn take(&mut self) -> (Tok, usize) {
        self.peek();
        self.peeked.take().unwrap_or((Tok::Eof, self.lex.line))
    }

    /// Statements until one of `terminators` starts a command, a `}`, or the end.
    fn list(&mut self, terminators: &[&str]) -> (Vec<Node>, End) {
        let mut nodes = Vec::new();
        loop {
            let (tok, line) = self.take();
            let first = match tok {
                Tok::Eof => return (nodes, End::Eof),
                Tok::RBrace => return (nodes, End::RBrace),
                Tok::Sep => continue,
                Tok::LBrace => {
                    self.problems.push((line, "unexpected '{'".to_string()));
                    continue;
                }
                Tok::Word(w) => w,
            };
            if let Some(k) = first.keyword() {
                if terminators.contains(&k) {
                    return (nodes, End::Keyword(k.to_string()));
                }
            }
            nodes.push(self.statement(first, line));
        }
    }

    /// One statement whose first word has been read.
    fn statement(&mut self, first: Word, line: usize) -> Node {
        if let Some(k) = first.keyword().map(str::to_string) {
            if let Some(node) = self.compound(&k, line) {
                return node;
            }
        }
        let mut words = vec![first];
        while let Tok::Word(_) = self.peek().0 {
            if let (Tok::Word(w), _) = self.take() {
                words.push(w);
            }
        }
        Node::Cmd { line, words }
    }

    /// Nested list with a depth guard; past the limit parsing stops for the whole file.
    fn nested(&mut self, terminators: &[&str], line: usize) -> (Vec<Node>, End) {
        if self.depth >= MAX_NESTING {
            if !self.aborted {
                self.problems.push((
                    line,
                    format!("blocks nested deeper than {MAX_NESTING}; rest of file ignored"),
                ));
            }
            self.aborted = true;
            self.peeked = None;
            return (Vec::new(), End::Eof);
        }
        self.depth += 1;
        let result = self.list(terminators);
        self.depth -= 1;
        result
    }

    fn compound(&mut self, keyword: &str, line: usize) -> Option<Node> {
        match keyword {
            "if" => Some(self.if_block(line)),
            "menuentry" | "submenu" => Some(self.menu(keyword == "submenu", line)),
            "function" => Some(self.function(line)),
            "for" | "while" | "until" => Some(self.loop_block(keyword, line)),
            _ => None,
        }
    }

    fn if_block(&mut self, line: usize) -> Node {
        let mut arms = Vec::new();
        let mut otherwise = Vec::new();
        loop {
            let (cond, end) = self.nested(&["then"], line);
            if end != End::Keyword("then".to_string()) {
                self.problems
                    .push((line, "'if' without 'then'".to_string()));
                return Node::If {
                    line,
                    arms,
                    otherwise,
                };
            }
            let (body, end) = self.nested(&["elif", "else", "fi"], line);
            arms.push((cond, body));
            match end {
                End::Keyword(k) if k == "elif" => continue,
                End::Keyword(k) if k == "else" => {
                    let (body, end) = self.nested(&["fi"], line);
                    otherwise = body;
                    if end != End::Keyword("fi".to_string()) {
                        self.problems.push((line, "'if' without 'fi'".to_string()));
                    }
                }
                End::Keyword(_) => {}
                _ => self.problems.push((line, "'if' without 'fi'".to_string())),
            }
            return Node::If {
                line,
                arms,
                otherwise,
            };
        }
    }

    /// The words before a block's `{`; None when the block never opens.
    fn block_header(&mut self, what: &str, line: usize) -> Option<Vec<Word>> {
        let mut words = Vec::new();
        loop {
            match self.take().0 {
                Tok::Word(w) => words.push(w),
                Tok::Sep => {}
                Tok::LBrace => return Some(words),
                Tok::RBrace | Tok::Eof => {
                    self.problems.push((line, format!("{what} without '{{'")));
                    return None;
                }
            }
        }
    }

    /// The block's statements up to its `}`; false when the file ended first.
    fn block_body(&mut self, what: &str, line: usize) -> (Rc<[Node]>, bool) {
        let (body, end) = self.nested(&[], line);
        let complete = end == End::RBrace;
        // Past the nesting limit every open block ends unclosed: the one warning about
        // the limit says it all.
        if !complete && !self.aborted {
            self.problems
                .push((line, format!("{what} without closing '}}'")));
        }
        (Rc::from(body), complete)
    }

    fn menu(&mut self, submenu: bool, line: usize) -> Node {
        let Some(args) = self.block_header("menu entry", line) else {
            let body = Rc::from(Vec::new());
            return Node::Menu {
                line,
                submenu,
                args: Vec::new(),
                body,
                complete: false,
            };
        };
        let (body, complete) = self.block_body("menu entry", line);
        Node::Menu {
            line,
            submenu,
            args,
            body,
            complete,
        }
    }

    fn function(&mut self, line: usize) -> Node {
        let header = self.block_header("function", line).unwrap_or_default();
        let name = header
            .first()
            .and_then(Word::keyword)
            .unwrap_or_default()
            .to_string();
        let (body, _) = self.block_body(&format!("function '{name}'"), line);
        Node::Function { line, name, body }
    }

    fn loop_block(&mut self, keyword: &str, line: usize) -> Node {
        let (_, end) = self.nested(&["do"], line);
        if end == End::Keyword("do".to_string()) {
            let (_, end) = self.nested(&["done"], line);
            if end != End::Keyword("done".to_string()) {
                self.problems
                    .push((line, format!("'{keyword}' without 'done'")));
            }
        } else {
            self.problems
                .push((line, format!("'{keyword}' without 'do'")));
        }
        Node::Loop {
            line,
            keyword: keyword.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str, quoted: bool) -> Part {
        Part::Lit {
            text: text.to_string(),
            quoted,
        }
    }

    fn words_of(script: &str) -> Vec<Vec<Part>> {
        let (nodes, problems) = parse_script(script);
        assert!(problems.is_empty(), "{problems:?}");
        nodes
            .into_iter()
            .flat_map(|n| match n {
                Node::Cmd { words, .. } => words.into_iter().map(|w| w.parts).collect::<Vec<_>>(),
                other => panic!("unexpected node {other:?}"),
            })
            .collect()
    }

    #[test]
    fn quotes_escapes_and_variables() {
        let words = words_of("echo 'a b'\"c $x\"\\ d ${y}z # comment\n");
        assert_eq!(words[0], vec![lit("echo", false)]);
        assert_eq!(
            words[1],
            vec![
                lit("a b", true),
                lit("c ", true),
                Part::Var {
                    name: "x".into(),
                    quoted: true
                },
                lit(" d", false)
            ]
        );
        assert_eq!(
            words[2],
            vec![
                Part::Var {
                    name: "y".into(),
                    quoted: false
                },
                lit("z", false)
            ]
        );
        assert_eq!(words.len(), 3);
    }

    #[test]
    fn line_continuation_joins_lines_and_counts_them() {
        let (nodes, _) = parse_script("linux /vmlinuz \\\n  ro\ninitrd /i\n");
        assert!(matches!(&nodes[0], Node::Cmd { line: 1, words } if words.len() == 3));
        assert!(matches!(&nodes[1], Node::Cmd { line: 3, .. }));
    }

    #[test]
    fn if_elif_else_and_menu_blocks() {
        let (nodes, problems) = parse_script(
            "if a; then b; elif c; then d; else e; fi\nmenuentry 'x' --id y {\n linux /k\n}\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            matches!(&nodes[0], Node::If { arms, otherwise, .. } if arms.len() == 2 && otherwise.len() == 1)
        );
        assert!(
            matches!(&nodes[1], Node::Menu { args, body, complete: true, .. } if args.len() == 3 && body.len() == 1)
        );
    }

    #[test]
    fn truncated_menu_is_incomplete() {
        let (nodes, problems) = parse_script("menuentry 'x' {\n linux /k\n");
        assert!(matches!(
            &nodes[0],
            Node::Menu {
                complete: false,
                ..
            }
        ));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn deep_nesting_stops_parsing() {
        let script = "if a; then\n".repeat(10_000);
        let (_, problems) = parse_script(&script);
        assert!(
            problems.iter().any(|(_, m)| m.contains("nested deeper")),
            "{problems:?}"
        );
    }
}
