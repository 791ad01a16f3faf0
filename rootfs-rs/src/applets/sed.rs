//! sed: stream editor for s/RE/REPLACEMENT/[gNpI] commands (also with line addresses N, $,
//! /RE/), plus d and p; -n, -e, -i (in place).
use std::ffi::OsString;
use std::io::Write;

use crate::util::io::{display_path, inputs_or_stdin, read_all, split_lines};
use crate::util::regex::Regex;
use crate::util::subst::substitute;
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: sed [-n] [-i] [-e SCRIPT]... [SCRIPT] [FILE...]\nSCRIPT: [ADDR]s/RE/REPL/[g][p][N][I], [ADDR]d, [ADDR]p; commands separated by ; or newlines.\nADDR: N, $, /RE/.";

enum Address {
    All,
    Line(usize),
    Last,
    Pattern(Regex),
}

enum Action {
    Substitute {
        re: Regex,
        replacement: Vec<u8>,
        global: bool,
        nth: usize,
        print: bool,
    },
    Delete,
    Print,
}

struct SedCommand {
    address: Address,
    action: Action,
}

/// Read a delimited field starting after the delimiter; `\delim` stands for the delimiter.
fn delimited(s: &[u8], mut i: usize, delim: u8) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::new();
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            if s[i + 1] == delim {
                out.push(delim);
            } else {
                out.push(b'\\');
                out.push(s[i + 1]);
            }
            i += 2;
            continue;
        }
        if s[i] == delim {
            return Ok((out, i + 1));
        }
        out.push(s[i]);
        i += 1;
    }
    Err("unterminated `s' command".into())
}

fn parse_script(script: &str) -> Result<Vec<SedCommand>, String> {
    let s = script.as_bytes();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < s.len() {
        while i < s.len() && (s[i].is_ascii_whitespace() || s[i] == b';') {
            i += 1;
        }
        if i >= s.len() {
            break;
        }
        let address = if s[i].is_ascii_digit() {
            let end = s[i..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map(|p| i + p)
                .unwrap_or(s.len());
            let n = String::from_utf8_lossy(&s[i..end])
                .parse()
                .map_err(|_| "invalid line number")?;
            i = end;
            Address::Line(n)
        } else if s[i] == b'$' {
            i += 1;
            Address::Last
        } else if s[i] == b'/' {
            let (re, next) = delimited(s, i + 1, b'/')?;
            i = next;
            Address::Pattern(Regex::new(&String::from_utf8_lossy(&re), false)?)
        } else {
            Address::All
        };
        let Some(&cmd) = s.get(i) else {
            return Err("missing command".into());
        };
        i += 1;
        let action = match cmd {
            b'd' => Action::Delete,
            b'p' => Action::Print,
            b's' => {
                let delim = *s.get(i).ok_or("unterminated `s' command")?;
                let (re, next) = delimited(s, i + 1, delim)?;
                let (replacement, next) = delimited(s, next, delim)?;
                i = next;
                let (mut global, mut print, mut nth, mut icase) = (false, false, 1, false);
                while let Some(&f) = s.get(i) {
                    match f {
                        b'g' => global = true,
                        b'p' => print = true,
                        b'I' | b'i' => icase = true,
                        b'0'..=b'9' => nth = (f - b'0') as usize,
                        _ => break,
                    }
                    i += 1;
                }
                let re = Regex::new(&String::from_utf8_lossy(&re), icase)?;
                Action::Substitute {
                    re,
                    replacement,
                    global,
                    nth: nth.max(1),
                    print,
                }
            }
            other => return Err(format!("unknown command: `{}'", other as char)),
        };
        cmds.push(SedCommand { address, action });
    }
    Ok(cmds)
}

fn run_script(cmds: &[SedCommand], data: &[u8], quiet: bool) -> Vec<u8> {
    let lines = split_lines(data);
    let mut out = Vec::with_capacity(data.len());
    for (n, line) in lines.iter().enumerate() {
        let mut text = line.to_vec();
        let mut deleted = false;
        for c in cmds {
            let applies = match &c.address {
                Address::All => true,
                Address::Line(l) => n + 1 == *l,
                Address::Last => n + 1 == lines.len(),
                Address::Pattern(re) => re.is_match(&text),
            };
            if !applies {
                continue;
            }
            match &c.action {
                Action::Delete => {
                    deleted = true;
                    break;
                }
                Action::Print => {
                    out.extend_from_slice(&text);
                    out.push(b'\n');
                }
                Action::Substitute {
                    re,
                    replacement,
                    global,
                    nth,
                    print,
                } => {
                    if let Some(new) = substitute(&text, re, replacement, *global, *nth) {
                        text = new;
                        if *print {
                            out.extend_from_slice(&text);
                            out.push(b'\n');
                        }
                    }
                }
            }
        }
        if !deleted && !quiet {
            out.extend_from_slice(&text);
            out.push(b'\n');
        }
    }
    out
}

pub fn main(args: &[OsString]) -> i32 {
    let (mut quiet, mut in_place) = (false, false);
    let mut scripts: Vec<String> = Vec::new();
    let ops = match Parser::new("sed", USAGE, args)
        .longs(&[("quiet", 'n'), ("in-place", 'i'), ("expression", 'e')])
        .parse(|p, c| {
            match c {
                'n' => quiet = true,
                'i' => in_place = true,
                'e' => scripts.push(p.value()?),
                'E' | 'r' => {}
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut files = ops.into_iter();
    if scripts.is_empty() {
        match files.next() {
            Some(s) => scripts.push(s.to_string_lossy().into_owned()),
            None => return Parser::usage_error("sed", USAGE, "no script specified", 1),
        }
    }
    let cmds = match parse_script(&scripts.join("\n")) {
        Ok(c) => c,
        Err(msg) => {
            crate::warn!("sed: -e expression: {msg}");
            return 1;
        }
    };
    let files: Vec<OsString> = files.collect();
    let mut status = 0;
    if in_place {
        if files.is_empty() {
            crate::warn!("sed: no input files");
            return 1;
        }
        for f in &files {
            let result =
                read_all(f).and_then(|data| std::fs::write(f, run_script(&cmds, &data, quiet)));
            if let Err(e) = result {
                warn_err("sed", display_path(f), &e);
                status = 1;
            }
        }
        return status;
    }
    let mut data = Vec::new();
    for f in inputs_or_stdin(files) {
        match read_all(&f) {
            Ok(mut d) => {
                if !d.is_empty() && !d.ends_with(b"\n") {
                    d.push(b'\n');
                }
                data.extend_from_slice(&d);
            }
            Err(e) => {
                warn_err("sed", display_path(&f), &e);
                status = 2;
            }
        }
    }
    let text = run_script(&cmds, &data, quiet);
    let mut out = std::io::stdout().lock();
    finish(
        "sed",
        out.write_all(&text)
            .and_then(|_| out.flush())
            .map(|_| status),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sed(script: &str, input: &str) -> String {
        let cmds = parse_script(script).unwrap_or_default();
        String::from_utf8_lossy(&run_script(&cmds, input.as_bytes(), false)).into_owned()
    }

    #[test]
    fn substitutions() {
        assert_eq!(sed("s/a/b/", "aaa\n"), "baa\n");
        assert_eq!(sed("s/a/b/g", "aaa\n"), "bbb\n");
        assert_eq!(sed("s/a/b/2", "aaa\n"), "aba\n");
        assert_eq!(sed("s/x*/-/g", "abc\n"), "-a-b-c-\n");
        assert_eq!(sed("s/\\(b\\)\\(c\\)/\\2\\1[&]/", "abcd\n"), "acb[bc]d\n");
        assert_eq!(sed("s|/boot|/mnt|", "/boot/vmlinuz\n"), "/mnt/vmlinuz\n");
        assert_eq!(sed("2d", "a\nb\nc\n"), "a\nc\n");
        assert_eq!(sed("/b/s/$/!/", "a\nb\n"), "a\nb!\n");
    }
}
