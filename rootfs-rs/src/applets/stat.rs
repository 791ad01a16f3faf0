//! stat: show file status in coreutils' layout, or -c FORMAT (%n %s %a %A %u %U %g %G %F %i %h %Y %b %d %t %T); -L follows links.
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::util::fmt::{civil, mode_string};
use crate::util::users::{group_name, user_name};
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: stat [-L] [-c FORMAT] FILE...\nDisplay file status.";

fn type_name(meta: &Metadata) -> &'static str {
    match crate::util::fmt::type_char(meta.mode()) {
        'd' => "directory",
        'l' => "symbolic link",
        'b' => "block special file",
        'c' => "character special file",
        'p' => "fifo",
        's' => "socket",
        _ if meta.len() == 0 => "regular empty file",
        _ => "regular file",
    }
}

fn timestamp(secs: i64, nsec: i64) -> String {
    format!("{}.{:09} +0000", civil(secs).iso(), nsec)
}

fn custom(fmt: &str, name: &str, m: &Metadata) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let value = match chars.next() {
            Some('n') => name.to_string(),
            Some('s') => m.len().to_string(),
            Some('a') => format!("{:o}", m.mode() & 0o7777),
            Some('A') => mode_string(m.mode()),
            Some('u') => m.uid().to_string(),
            Some('U') => user_name(m.uid()),
            Some('g') => m.gid().to_string(),
            Some('G') => group_name(m.gid()),
            Some('F') => type_name(m).to_string(),
            Some('i') => m.ino().to_string(),
            Some('h') => m.nlink().to_string(),
            Some('Y') => m.mtime().to_string(),
            Some('X') => m.atime().to_string(),
            Some('b') => m.blocks().to_string(),
            Some('d') => m.dev().to_string(),
            Some('t') => format!("{:x}", rustix::fs::major(m.rdev())),
            Some('T') => format!("{:x}", rustix::fs::minor(m.rdev())),
            Some('%') => "%".into(),
            Some(other) => format!("?{other}"),
            None => "%".into(),
        };
        out.push_str(&value);
    }
    out
}

fn full(name: &str, m: &Metadata) -> String {
    let mut file = format!("  File: {name}");
    if m.file_type().is_symlink() {
        if let Ok(t) = std::fs::read_link(name) {
            file.push_str(&format!(" -> {}", t.display()));
        }
    }
    let dev = m.dev();
    let device = if m.file_type().is_block_device() || m.file_type().is_char_device() {
        format!(
            " Device type: {},{}",
            rustix::fs::major(m.rdev()),
            rustix::fs::minor(m.rdev())
        )
    } else {
        String::new()
    };
    format!(
        "{file}\n  Size: {:<15} Blocks: {:<10} IO Block: {:<6} {}\nDevice: {:x}h/{}d\tInode: {:<11} Links: {}{device}\nAccess: ({:04o}/{})  Uid: ({:>5}/{:>8})   Gid: ({:>5}/{:>8})\nAccess: {}\nModify: {}\nChange: {}\n",
        m.len(),
        m.blocks(),
        m.blksize(),
        type_name(m),
        dev,
        dev,
        m.ino(),
        m.nlink(),
        m.mode() & 0o7777,
        mode_string(m.mode()),
        m.uid(),
        user_name(m.uid()),
        m.gid(),
        group_name(m.gid()),
        timestamp(m.atime(), m.atime_nsec()),
        timestamp(m.mtime(), m.mtime_nsec()),
        timestamp(m.ctime(), m.ctime_nsec()),
    )
}

pub fn main(args: &[OsString]) -> i32 {
    let mut follow = false;
    let mut format: Option<String> = None;
    let ops = match Parser::new("stat", USAGE, args)
        .longs(&[("format", 'c'), ("dereference", 'L')])
        .parse(|p, c| {
            match c {
                'L' => follow = true,
                'c' => format = Some(p.value()?),
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.is_empty() {
        return Parser::usage_error("stat", USAGE, "missing operand", 1);
    }
    let mut out = crate::util::stdout();
    let mut status = 0;
    let result = (|| -> std::io::Result<()> {
        for f in &ops {
            let meta = if follow {
                std::fs::metadata(f)
            } else {
                std::fs::symlink_metadata(f)
            };
            let name = f.to_string_lossy();
            match meta {
                Ok(m) => match &format {
                    Some(fmt) => writeln!(out, "{}", custom(fmt, &name, &m))?,
                    None => write!(out, "{}", full(&name, &m))?,
                },
                Err(e) => {
                    out.flush()?;
                    warn_err("stat", format!("cannot stat '{name}'"), &e);
                    status = 1;
                }
            }
        }
        out.flush()
    })();
    finish("stat", result.map(|_| status))
}
