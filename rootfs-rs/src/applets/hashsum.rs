//! md5sum and sha256sum: print or (-c) check message digests.
use std::ffi::OsString;
use std::io::{self, Read, Write};

use crate::util::hash::{hex, md5, sha256, Digest};
use crate::util::io::{display_path, inputs_or_stdin, open_input};
use crate::util::{finish, warn_err, Parser};

pub fn main_md5(args: &[OsString]) -> i32 {
    run("md5sum", args, md5)
}

pub fn main_sha256(args: &[OsString]) -> i32 {
    run("sha256sum", args, sha256)
}

fn digest_of(path: &OsString, new: &dyn Fn() -> Box<dyn Digest>) -> io::Result<String> {
    let mut input = open_input(path)?;
    let mut d = new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => d.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&d.finish()))
}

fn run(applet: &'static str, args: &[OsString], new: fn() -> Box<dyn Digest>) -> i32 {
    let usage: &'static str = if applet == "md5sum" {
        "usage: md5sum [-c] [FILE...]\nPrint or check MD5 checksums."
    } else {
        "usage: sha256sum [-c] [FILE...]\nPrint or check SHA-256 checksums."
    };
    let mut check = false;
    let files = match Parser::new(applet, usage, args)
        .longs(&[("check", 'c')])
        .parse(|p, c| match c {
            'c' => {
                check = true;
                Ok(())
            }
            'b' | 't' => Ok(()),
            _ => Err(p.unknown(c)),
        }) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let files = inputs_or_stdin(files);
    let result = if check {
        verify(applet, &files, &new)
    } else {
        print(applet, &files, &new)
    };
    finish(applet, result)
}

fn print(applet: &str, files: &[OsString], new: &dyn Fn() -> Box<dyn Digest>) -> io::Result<i32> {
    let mut out = crate::util::stdout();
    let mut status = 0;
    for f in files {
        match digest_of(f, new) {
            Ok(h) => writeln!(out, "{h}  {}", f.to_string_lossy())?,
            Err(e) => {
                out.flush()?;
                warn_err(applet, display_path(f), &e);
                status = 1;
            }
        }
    }
    out.flush()?;
    Ok(status)
}

fn verify(applet: &str, lists: &[OsString], new: &dyn Fn() -> Box<dyn Digest>) -> io::Result<i32> {
    let mut out = crate::util::stdout();
    let mut failed = 0;
    let mut status = 0;
    for list in lists {
        let text = match crate::util::io::read_all(list) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            Err(e) => {
                warn_err(applet, display_path(list), &e);
                status = 1;
                continue;
            }
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Some((want, name)) = line.split_once(' ') else {
                crate::warn!(
                    "{applet}: {}: improperly formatted line",
                    display_path(list)
                );
                status = 1;
                continue;
            };
            let name = name.trim_start_matches([' ', '*']);
            match digest_of(&OsString::from(name), new) {
                Ok(h) if h.eq_ignore_ascii_case(want) => writeln!(out, "{name}: OK")?,
                Ok(_) => {
                    writeln!(out, "{name}: FAILED")?;
                    failed += 1;
                }
                Err(e) => {
                    out.flush()?;
                    warn_err(applet, name, &e);
                    writeln!(out, "{name}: FAILED open or read")?;
                    failed += 1;
                }
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        crate::warn!("{applet}: WARNING: {failed} computed checksum(s) did NOT match");
        status = 1;
    }
    Ok(status)
}
