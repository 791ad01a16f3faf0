//! ls: list directory contents (-l -a -A -h -R -1 -d), byte-order sorted, columns on a tty.
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::util::fmt::{human, ls_time, mode_string};
use crate::util::users::NameCache;
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: ls [-1aAdhlR] [FILE...]\nList directory contents.\n  -l long  -a all  -A almost all  -h human sizes  -R recursive  -1 one per line  -d directories themselves";

#[derive(Default)]
struct Options {
    long: bool,
    all: bool,
    almost_all: bool,
    human: bool,
    recursive: bool,
    one_per_line: bool,
    directory: bool,
    classify: bool,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut o = Options::default();
    let operands = match Parser::new("ls", USAGE, args)
        .code(2)
        .longs(&[
            ("all", 'a'),
            ("almost-all", 'A'),
            ("recursive", 'R'),
            ("human-readable", 'h'),
            ("directory", 'd'),
        ])
        .parse(|p, c| {
            match c {
                'l' => o.long = true,
                'a' => o.all = true,
                'A' => o.almost_all = true,
                'h' => o.human = true,
                'R' => o.recursive = true,
                '1' => o.one_per_line = true,
                'd' => o.directory = true,
                'F' => o.classify = true,
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if !rustix::termios::isatty(rustix::stdio::stdout()) {
        o.one_per_line = true;
    }
    finish("ls", run(operands, &o))
}

struct Entry {
    name: OsString,
    path: PathBuf,
    meta: Metadata,
}

/// The operands split into files (and with -d, directories) listed as they are and
/// directories listed by content, with status 2 if one cannot be accessed.
fn sort_operands(operands: &[OsString], o: &Options) -> (Vec<Entry>, Vec<PathBuf>, i32) {
    let mut status = 0;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for op in operands {
        let path = PathBuf::from(op);
        // Operands follow symlinks unless listing long or with -d.
        let meta = if o.long || o.directory {
            std::fs::symlink_metadata(&path)
        } else {
            std::fs::metadata(&path)
        };
        let meta = match meta.or_else(|_| std::fs::symlink_metadata(&path)) {
            Ok(m) => m,
            Err(e) => {
                warn_err(
                    "ls",
                    format!("cannot access '{}'", op.to_string_lossy()),
                    &e,
                );
                status = 2;
                continue;
            }
        };
        let is_dir = meta.is_dir()
            || (meta.file_type().is_symlink()
                && !o.long
                && std::fs::metadata(&path)
                    .map(|m| m.is_dir())
                    .unwrap_or(false));
        if is_dir && !o.directory {
            dirs.push(path);
        } else {
            files.push(Entry {
                name: op.clone(),
                path,
                meta,
            });
        }
    }
    (files, dirs, status)
}

fn run(mut operands: Vec<OsString>, o: &Options) -> io::Result<i32> {
    if operands.is_empty() {
        operands.push(".".into());
    }
    operands.sort();
    let (files, dirs, mut status) = sort_operands(&operands, o);
    let mut out = crate::util::stdout();
    let mut names = NameCache::default();
    let show_headers = operands.len() > 1 || o.recursive;
    let mut first = true;
    if !files.is_empty() {
        print_entries(&mut out, &files, o, &mut names, false)?;
        first = false;
    }
    let mut queue = dirs;
    while !queue.is_empty() {
        let dir = queue.remove(0);
        if !first {
            writeln!(out)?;
        }
        first = false;
        if show_headers {
            writeln!(out, "{}:", dir.display())?;
        }
        let entries = match list_dir(&dir, o) {
            Ok(e) => e,
            Err(e) => {
                out.flush()?;
                warn_err(
                    "ls",
                    format!("cannot open directory '{}'", dir.display()),
                    &e,
                );
                status = if status == 0 { 1 } else { status };
                continue;
            }
        };
        print_entries(&mut out, &entries, o, &mut names, true)?;
        if o.recursive {
            let subdirs: Vec<PathBuf> = entries
                .iter()
                .filter(|e| e.meta.is_dir() && e.name != "." && e.name != "..")
                .map(|e| e.path.clone())
                .collect();
            // Depth-first: children come right after their parent.
            for (i, d) in subdirs.into_iter().enumerate() {
                queue.insert(i, d);
            }
        }
    }
    out.flush()?;
    Ok(status)
}

fn list_dir(dir: &Path, o: &Options) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    if o.all {
        for special in [".", ".."] {
            let path = dir.join(special);
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                entries.push(Entry {
                    name: special.into(),
                    path,
                    meta,
                });
            }
        }
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        if name.as_bytes().starts_with(b".") && !o.all && !o.almost_all {
            continue;
        }
        let path = e.path();
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            entries.push(Entry { name, path, meta });
        }
    }
    entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(entries)
}

fn classify_suffix(meta: &Metadata) -> &'static str {
    match crate::util::fmt::type_char(meta.mode()) {
        'd' => "/",
        'l' => "@",
        'p' => "|",
        's' => "=",
        _ if meta.mode() & 0o111 != 0 => "*",
        _ => "",
    }
}

fn print_entries(
    out: &mut impl Write,
    entries: &[Entry],
    o: &Options,
    names: &mut NameCache,
    in_dir: bool,
) -> io::Result<()> {
    if o.long {
        return print_long(out, entries, o, names, in_dir);
    }
    let labels: Vec<String> = entries.iter().map(|e| label(e, o)).collect();
    if o.one_per_line {
        for l in labels {
            writeln!(out, "{l}")?;
        }
        return Ok(());
    }
    print_columns(out, &labels, crate::util::term::terminal_width())
}

/// The name shown for an entry (with its -F suffix).
fn label(e: &Entry, o: &Options) -> String {
    let mut s = e.name.to_string_lossy().into_owned();
    if o.classify {
        s.push_str(classify_suffix(&e.meta));
    }
    s
}

/// `ls -l`: a total for a directory, then one line per entry in aligned columns.
fn print_long(
    out: &mut impl Write,
    entries: &[Entry],
    o: &Options,
    names: &mut NameCache,
    in_dir: bool,
) -> io::Result<()> {
    if in_dir {
        let blocks: u64 = entries.iter().map(|e| e.meta.blocks()).sum();
        let total = if o.human {
            human(blocks * 512)
        } else {
            (blocks / 2).to_string()
        };
        writeln!(out, "total {total}")?;
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            let size =
                if e.meta.file_type().is_block_device() || e.meta.file_type().is_char_device() {
                    let dev = e.meta.rdev();
                    format!("{}, {}", rustix::fs::major(dev), rustix::fs::minor(dev))
                } else if o.human {
                    human(e.meta.len())
                } else {
                    e.meta.len().to_string()
                };
            [
                e.meta.nlink().to_string(),
                names.user(e.meta.uid()),
                names.group(e.meta.gid()),
                size,
                ls_time(e.meta.mtime()),
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let w: Vec<usize> = (0..4).map(width).collect();
    for (e, r) in entries.iter().zip(&rows) {
        let mut line = format!(
            "{} {:>w0$} {:<w1$} {:<w2$} {:>w3$} {} {}",
            mode_string(e.meta.mode()),
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            label(e, o),
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
        if e.meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(&e.path) {
                line.push_str(&format!(" -> {}", target.display()));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Column-major layout like ls: as many columns as fit, two spaces between.
fn print_columns(out: &mut impl Write, labels: &[String], width: usize) -> io::Result<()> {
    if labels.is_empty() {
        return Ok(());
    }
    let mut cols = labels.len();
    loop {
        let rows = labels.len().div_ceil(cols);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                (0..rows)
                    .filter_map(|r| labels.get(c * rows + r))
                    .map(|l| l.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let total: usize = widths.iter().sum::<usize>() + 2 * (cols - 1);
        if total <= width || cols == 1 {
            for r in 0..rows {
                let mut line = String::new();
                for (c, w) in widths.iter().enumerate() {
                    if let Some(l) = labels.get(c * rows + r) {
                        let last = c + 1 == cols || labels.get((c + 1) * rows + r).is_none();
                        line.push_str(l);
                        if !last {
                            line.push_str(&" ".repeat(w - l.chars().count() + 2));
                        }
                    }
                }
                writeln!(out, "{line}")?;
            }
            return Ok(());
        }
        cols -= 1;
    }
}
