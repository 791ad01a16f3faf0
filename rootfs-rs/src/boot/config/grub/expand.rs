//! GRUB word expansion ($var, field splitting) and "(device)/path" splitting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::boot::config::grub::lexer::{Part, Word};
use crate::boot::entry::FsRef;
use crate::boot::fs::normalize;

/// Splits GRUB's "(device)/path" into the filesystem reference and the absolute path.
/// `root` is the value of `$root` and the filesystem it names, for "($root)/…" and bare paths.
pub fn split_device(
    text: &str,
    root: Option<&str>,
    root_fs: Option<&FsRef>,
) -> (Option<FsRef>, PathBuf) {
    let (device, rest) = match text.strip_prefix('(').and_then(|t| t.split_once(')')) {
        Some((device, rest)) => (Some(device), rest),
        None => (None, text),
    };
    let fsref = match device {
        None => root_fs.cloned(),
        Some(dev) if root == Some(dev) => root_fs.cloned(),
        Some("") => None,
        Some(dev) => Some(FsRef::Device(dev.to_string())),
    };
    (fsref, normalize(Path::new("/"), Path::new(rest)))
}

/// What `search --set=VAR` stores in VAR. GRUB would store a device name we cannot know;
/// a stand-in unique to the filesystem lets `set root=$VAR` carry the filesystem over.
pub fn fsref_placeholder(fsref: &FsRef) -> String {
    match fsref {
        FsRef::Uuid(u) => format!("fs-uuid={u}"),
        FsRef::Label(l) => format!("fs-label={l}"),
        FsRef::Device(d) => d.clone(),
    }
}

pub fn is_var_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Takes `len` bytes from the expansion budget; None once it is spent.
fn spend(budget: &mut usize, len: usize) -> Option<()> {
    *budget = budget.checked_sub(len)?;
    Some(())
}

/// Expands one word into zero or more arguments (unquoted variables split on whitespace);
/// None when that would produce more than `budget` bytes.
pub fn expand_word(
    word: &Word,
    vars: &HashMap<String, String>,
    out: &mut Vec<String>,
    budget: &mut usize,
) -> Option<()> {
    let mut current = String::new();
    let mut have = false;
    for part in &word.parts {
        match part {
            Part::Lit { text, quoted } => {
                spend(budget, text.len())?;
                current.push_str(text);
                have |= *quoted || !text.is_empty();
            }
            Part::Var { name, quoted: true } => {
                let value = lookup_var(vars, name);
                spend(budget, value.len())?;
                current.push_str(value);
                have = true;
            }
            Part::Var {
                name,
                quoted: false,
            } => {
                let value = lookup_var(vars, name);
                spend(budget, value.len())?;
                let starts_blank = value.bytes().next().is_some_and(is_grub_space);
                let mut fields = Fields { rest: value }.peekable();
                if starts_blank && have {
                    out.push(std::mem::take(&mut current));
                    have = false;
                }
                while let Some(field) = fields.next() {
                    current.push_str(field);
                    have = true;
                    if fields.peek().is_some() {
                        // Each argument costs its String too: a megabyte of one-letter
                        // fields is half a million allocations, not a megabyte.
                        spend(budget, std::mem::size_of::<String>())?;
                        out.push(std::mem::take(&mut current));
                    }
                }
                if value.bytes().next_back().is_some_and(is_grub_space) && have {
                    out.push(std::mem::take(&mut current));
                    have = false;
                }
            }
        }
    }
    if have {
        out.push(current);
    }
    Some(())
}

/// What GRUB splits an unquoted variable's value on (`grub_isspace`: space, tab, CR,
/// LF), not Unicode's whitespace: a no-break space in a value stays inside its field.
fn is_grub_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// The fields of a value, split on `is_grub_space`. Byte by byte: a variable may hold
/// megabytes (the expansion budget is 16 MiB a parse), and decoding each char for a
/// Unicode whitespace test was most of the time of such a parse.
struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.rest.as_bytes();
        let start = bytes.iter().position(|&b| !is_grub_space(b))?;
        let end = bytes[start..]
            .iter()
            .position(|&b| is_grub_space(b))
            .map_or(bytes.len(), |len| start + len);
        // Both ends are next to ASCII bytes or at the ends: char boundaries.
        let field = self.rest.get(start..end)?;
        self.rest = self.rest.get(end..)?;
        Some(field)
    }
}

pub fn lookup_var<'v>(vars: &'v HashMap<String, String>, name: &str) -> &'v str {
    match name {
        "?" => "0",
        _ => vars.get(name).map(String::as_str).unwrap_or(""),
    }
}

/// The arguments `words` expand to, or None when they would take more than what is left
/// of `budget` bytes (the budget of a whole parse: variables that double each other
/// reach gigabytes in forty lines).
pub fn expand(
    words: &[Word],
    vars: &HashMap<String, String>,
    budget: &mut usize,
) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for word in words {
        expand_word(word, vars, &mut out, budget)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_text(parts: Vec<Part>, vars: &[(&str, &str)]) -> Vec<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        expand(&[Word { parts }], &vars, &mut usize::MAX.clone()).unwrap_or_default()
    }

    fn var(name: &str, quoted: bool) -> Part {
        Part::Var {
            name: name.into(),
            quoted,
        }
    }

    fn lit(text: &str, quoted: bool) -> Part {
        Part::Lit {
            text: text.into(),
            quoted,
        }
    }

    #[test]
    fn fields_split_on_grubs_blanks_only() {
        let vars = [("v", "\ta\r\nb c\u{a0}d\u{2003}e  "), ("u", "é ü")];
        // A no-break space and an em space are not blanks to GRUB.
        assert_eq!(
            expand_text(vec![var("v", false)], &vars),
            ["a", "b", "c\u{a0}d\u{2003}e"]
        );
        // Leading and trailing blanks end the words beside them.
        assert_eq!(
            expand_text(
                vec![lit("x", false), var("v", false), lit("y", false)],
                &vars
            ),
            ["x", "a", "b", "c\u{a0}d\u{2003}e", "y"]
        );
        assert_eq!(expand_text(vec![var("u", false)], &vars), ["é", "ü"]);
    }

    #[test]
    fn unquoted_variables_split_quoted_ones_do_not() {
        let vars = [("opts", "root=/dev/sda1  ro "), ("empty", "")];
        assert_eq!(
            expand_text(vec![var("opts", false)], &vars),
            ["root=/dev/sda1", "ro"]
        );
        assert_eq!(
            expand_text(vec![var("opts", true)], &vars),
            ["root=/dev/sda1  ro "]
        );
        assert_eq!(
            expand_text(vec![lit("x=", false), var("opts", false)], &vars),
            ["x=root=/dev/sda1", "ro"]
        );
        assert!(expand_text(vec![var("empty", false)], &vars).is_empty());
        assert_eq!(expand_text(vec![var("empty", true)], &vars), [""]);
        assert_eq!(
            expand_text(vec![var("missing", false), lit("", true)], &vars),
            [""]
        );
    }

    #[test]
    fn device_prefixes() {
        let uuid = FsRef::Uuid("u".into());
        assert_eq!(
            split_device("(hd0,gpt2)/boot/vmlinuz", Some("x"), Some(&uuid)),
            (
                Some(FsRef::Device("hd0,gpt2".into())),
                PathBuf::from("/boot/vmlinuz")
            )
        );
        assert_eq!(
            split_device("(x)/vmlinuz", Some("x"), Some(&uuid)),
            (Some(uuid.clone()), PathBuf::from("/vmlinuz"))
        );
        assert_eq!(
            split_device("/vmlinuz", None, None),
            (None, PathBuf::from("/vmlinuz"))
        );
        assert_eq!(
            split_device("(hd0)", None, None),
            (Some(FsRef::Device("hd0".into())), PathBuf::from("/"))
        );
    }

    #[test]
    fn doubling_variables_stop_at_the_expansion_budget() {
        // Found by the grub fuzz target: forty lines of `set a="$a$a"` took gigabytes.
        let mut text = String::from("set a=0123456789abcdef\n");
        text.push_str(&"set a=\"$a$a\"\n".repeat(40));
        text.push_str("menuentry 'after' { linux /vmlinuz }\n");
        let fs = crate::boot::fs::MemFs::new().with("/boot/grub/grub.cfg", text);
        let started = std::time::Instant::now();
        let parsed = super::super::parse_grub(&fs, std::path::Path::new("/boot/grub/grub.cfg"));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            parsed.entries.is_empty(),
            "the rest of the config is ignored"
        );
        assert!(
            parsed
                .warnings
                .iter()
                .any(|w| w.message.contains("expand to more than")),
            "{:?}",
            parsed.warnings
        );
    }

    #[test]
    fn an_expansion_spends_its_bytes() {
        let vars: HashMap<String, String> = [("a".to_string(), "xyz".to_string())].into();
        let word = Word {
            parts: vec![var("a", true), lit("--", false)],
        };
        let mut budget = 5;
        assert_eq!(
            expand(std::slice::from_ref(&word), &vars, &mut budget),
            Some(vec!["xyz--".to_string()])
        );
        assert_eq!(budget, 0);
        assert_eq!(expand(&[word], &vars, &mut budget), None);
    }
}
