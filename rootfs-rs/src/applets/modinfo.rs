//! modinfo: a module's `.modinfo` fields (license, description, author, alias, depends,
//! vermagic, parm…) from the module file, found by name or alias in modules.dep or given
//! as a path; kmod's layout and exit status (1 when any module could not be read).
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::modprobe::TreeChoice;
use crate::kmod::index::Target;
use crate::kmod::modinfo::{format, modinfo_fields, params, read_module};
use crate::util::Parser;

const USAGE: &str = "usage: modinfo [-0] [-F FIELD] [-d ROOT] [-k VERSION] NAME|ALIAS|FILE...
Show the information stored in kernel modules (.ko, .ko.gz, .ko.zst).
  -F, --field FIELD  print only this field's values (filename, license, alias, parm…)
  -0, --null         end each value with a NUL instead of a newline
  -d, --basedir ROOT module tree ROOT/lib/modules/VERSION
  -k, --set-version VERSION   instead of the running kernel's";

pub fn main(args: &[OsString]) -> i32 {
    let mut field: Option<String> = None;
    let mut null = false;
    let mut tree = TreeChoice::default();
    let parsed = Parser::new("modinfo", USAGE, args)
        .longs(&[
            ("field", 'F'),
            ("null", '0'),
            ("basedir", 'b'),
            ("set-version", 'k'),
        ])
        .parse(|p, c| {
            match c {
                'F' => field = Some(p.value()?),
                '0' => null = true,
                'd' | 'b' => tree.root = Some(PathBuf::from(p.value()?)),
                'k' => tree.version = Some(p.value()?),
                _ => return Err(p.unknown(c)),
            }
            Ok(())
        });
    let ops = match parsed {
        Ok(ops) => crate::util::args::strings(&ops),
        Err(code) => return code,
    };
    if ops.is_empty() {
        return Parser::usage_error("modinfo", USAGE, "missing module or file name", 1);
    }
    let end = if null { '\0' } else { '\n' };
    let mut status = 0;
    for name in &ops {
        let files = match files_for(name, &tree) {
            Ok(files) => files,
            Err(message) => {
                crate::warn!("modinfo: ERROR: {message}");
                status = 1;
                continue;
            }
        };
        for file in files {
            if !show(&file, field.as_deref(), end) {
                status = 1;
            }
        }
    }
    status
}

/// What to show for one operand: the file itself when it is a path to one, else the
/// modules its name or alias resolves to (a built-in one has no file).
fn files_for(name: &str, tree: &TreeChoice) -> Result<Vec<Shown>, String> {
    let path = Path::new(name);
    if name.contains('/') || path.is_file() {
        return match path.is_file() {
            true => Ok(vec![Shown::File(path.to_path_buf())]),
            false => Err(format!("Module file {name} not found.")),
        };
    }
    let index = tree
        .open("modinfo")
        .map_err(|_| format!("Module {name} not found."))?;
    let found: Vec<Shown> = index
        .resolve(name)
        .into_iter()
        .map(|target| match target {
            Target::Loadable(module) => Shown::File(module.path.clone()),
            Target::Builtin(name) => Shown::Builtin(name),
        })
        .collect();
    match found.is_empty() {
        true => Err(format!("Module {name} not found.")),
        false => Ok(found),
    }
}

enum Shown {
    File(PathBuf),
    Builtin(String),
}

fn show(shown: &Shown, field: Option<&str>, end: char) -> bool {
    let mut out = crate::util::stdout();
    let (filename, fields) = match shown {
        Shown::Builtin(name) => {
            let lines = match field {
                None => vec![
                    format!("{:<16}{name}", "name:"),
                    format!("{:<16}(builtin)", "filename:"),
                ],
                Some("name") => vec![name.clone()],
                Some("filename") => vec!["(builtin)".to_string()],
                Some(_) => Vec::new(),
            };
            return emit(&mut out, &lines, end);
        }
        Shown::File(path) => {
            let fields = read_module(path).and_then(|elf| modinfo_fields(&elf));
            match fields {
                Ok(fields) => (path.display().to_string(), fields),
                Err(e) => {
                    crate::warn!(
                        "modinfo: ERROR: could not get modinfo from '{}': {e}",
                        path.display()
                    );
                    return false;
                }
            }
        }
    };
    let lines: Vec<String> = match field {
        None => format(&filename, &fields),
        Some("filename") => vec![filename],
        // `-F parm`: kmod's own layout for it, `NAME: (TYPE)` when there is no description.
        Some("parm") => params(&fields)
            .iter()
            .filter_map(|p| match (&p.description, &p.kind) {
                (None, Some(t)) => Some(format!("{}: ({t})", p.name)),
                _ => p.text(),
            })
            .collect(),
        Some(wanted) => fields
            .into_iter()
            .filter(|(key, _)| key == wanted)
            .map(|(_, value)| value)
            .collect(),
    };
    emit(&mut out, &lines, end)
}

fn emit(out: &mut impl Write, lines: &[String], end: char) -> bool {
    let result = lines.iter().try_for_each(|l| write!(out, "{l}{end}"));
    crate::util::finish("modinfo", result.and_then(|_| out.flush()).map(|_| 0)) == 0
}
