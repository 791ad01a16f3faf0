//! grep: print lines matching a basic regular expression; -i -v -c -n -r -l -q -h -H -F -e.
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;

use crate::util::io::{display_path, read_all, split_lines};
use crate::util::regex::Regex;
use crate::util::walk::{walk, Visit};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: grep [-icvnrlqhHF] [-e PATTERN]... [PATTERN] [FILE...]\nSearch for lines matching a basic regular expression.";

#[derive(Default)]
struct Options {
    ignore_case: bool,
    invert: bool,
    count: bool,
    line_numbers: bool,
    recursive: bool,
    files_only: bool,
    quiet: bool,
    with_name: Option<bool>,
    fixed: bool,
}

enum Matcher {
    Regex(Vec<Regex>),
    Fixed(Vec<Vec<u8>>, bool),
}

impl Matcher {
    fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Matcher::Regex(rs) => rs.iter().any(|r| r.is_match(line)),
            Matcher::Fixed(words, fold) => words.iter().any(|w| {
                w.is_empty()
                    || line.windows(w.len()).any(|win| {
                        if *fold {
                            win.eq_ignore_ascii_case(w)
                        } else {
                            win == w.as_slice()
                        }
                    })
            }),
        }
    }
}

pub fn main(args: &[OsString]) -> i32 {
    let mut o = Options::default();
    let mut patterns: Vec<String> = Vec::new();
    let ops = match Parser::new("grep", USAGE, args)
        .code(2)
        .longs(&[
            ("ignore-case", 'i'),
            ("invert-match", 'v'),
            ("count", 'c'),
            ("line-number", 'n'),
            ("recursive", 'r'),
            ("files-with-matches", 'l'),
            ("quiet", 'q'),
        ])
        .parse(|p, c| {
            match c {
                'i' => o.ignore_case = true,
                'v' => o.invert = true,
                'c' => o.count = true,
                'n' => o.line_numbers = true,
                'r' | 'R' => o.recursive = true,
                'l' => o.files_only = true,
                'q' | 's' => o.quiet = c == 'q' || o.quiet,
                'h' => o.with_name = Some(false),
                'H' => o.with_name = Some(true),
                'F' => o.fixed = true,
                'G' => {}
                'e' => patterns.push(p.value()?),
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut files = ops.into_iter();
    if patterns.is_empty() {
        match files.next() {
            Some(p) => patterns.push(p.to_string_lossy().into_owned()),
            None => return Parser::usage_error("grep", USAGE, "no pattern given", 2),
        }
    }
    // A pattern with newlines is several patterns.
    let patterns: Vec<String> = patterns
        .iter()
        .flat_map(|p| p.split('\n').map(String::from).collect::<Vec<_>>())
        .collect();
    let matcher = if o.fixed {
        Matcher::Fixed(
            patterns.iter().map(|p| p.as_bytes().to_vec()).collect(),
            o.ignore_case,
        )
    } else {
        let compiled: Result<Vec<Regex>, String> = patterns
            .iter()
            .map(|p| Regex::new(p, o.ignore_case))
            .collect();
        match compiled {
            Ok(rs) => Matcher::Regex(rs),
            Err(msg) => {
                crate::warn!("grep: {msg}");
                return 2;
            }
        }
    };
    let mut files: Vec<OsString> = files.collect();
    if files.is_empty() {
        files.push(if o.recursive { ".".into() } else { "-".into() });
    }
    finish("grep", run(&files, &o, &matcher))
}

struct Search<'a> {
    o: &'a Options,
    matcher: &'a Matcher,
    show_names: bool,
    any_match: bool,
    error: bool,
}

impl Search<'_> {
    fn file(&mut self, out: &mut impl Write, path: &OsString) -> io::Result<()> {
        let data = match read_all(path) {
            Ok(d) => d,
            Err(e) => {
                out.flush()?;
                warn_err("grep", display_path(path), &e);
                self.error = true;
                return Ok(());
            }
        };
        let name = display_path(path);
        let mut count = 0u64;
        for (i, line) in split_lines(&data).iter().enumerate() {
            if self.matcher.is_match(line) == self.o.invert {
                continue;
            }
            count += 1;
            self.any_match = true;
            if self.o.quiet {
                return Ok(());
            }
            if self.o.count || self.o.files_only {
                continue;
            }
            if self.show_names {
                write!(out, "{name}:")?;
            }
            if self.o.line_numbers {
                write!(out, "{}:", i + 1)?;
            }
            out.write_all(line)?;
            out.write_all(b"\n")?;
        }
        if self.o.quiet {
            return Ok(());
        }
        if self.o.files_only {
            if count > 0 {
                writeln!(out, "{name}")?;
            }
        } else if self.o.count {
            if self.show_names {
                write!(out, "{name}:")?;
            }
            writeln!(out, "{count}")?;
        }
        Ok(())
    }
}

fn run(files: &[OsString], o: &Options, matcher: &Matcher) -> io::Result<i32> {
    let mut out = crate::util::stdout();
    let show_names = o.with_name.unwrap_or(files.len() > 1 || o.recursive);
    let mut s = Search {
        o,
        matcher,
        show_names,
        any_match: false,
        error: false,
    };
    for f in files {
        let is_dir = std::fs::metadata(f).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir && o.recursive {
            let mut paths = Vec::new();
            walk(
                Path::new(f),
                true,
                &mut |p, m, _, v| {
                    if matches!(v, Visit::Pre) && m.is_file() {
                        paths.push(p.as_os_str().to_owned());
                    }
                    true
                },
                &mut |p, e| {
                    warn_err("grep", p.display(), e);
                },
            );
            for p in paths {
                s.file(&mut out, &p)?;
                if o.quiet && s.any_match {
                    break;
                }
            }
        } else if is_dir {
            crate::warn!("grep: {}: Is a directory", f.to_string_lossy());
        } else {
            s.file(&mut out, f)?;
        }
        if o.quiet && s.any_match {
            break;
        }
    }
    out.flush()?;
    Ok(if s.error && !(o.quiet && s.any_match) {
        2
    } else if s.any_match {
        0
    } else {
        1
    })
}
