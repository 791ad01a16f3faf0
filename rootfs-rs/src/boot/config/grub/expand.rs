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

/// Expands one word into zero or more arguments (unquoted variables split on whitespace).
pub fn expand_word(word: &Word, vars: &HashMap<String, String>, out: &mut Vec<String>) {
    let mut current = String::new();
    let mut have = false;
    for part in &word.parts {
        match part {
            Part::Lit { text, quoted } => {
                current.push_str(text);
                have |= *quoted || !text.is_empty();
            }
            Part::Var { name, quoted: true } => {
                current.push_str(lookup_var(vars, name));
                have = true;
            }
            Part::Var {
                name,
                quoted: false,
            } => {
                let value = lookup_var(vars, name);
                let starts_blank = value.starts_with(char::is_whitespace);
                let mut fields = value.split_whitespace().peekable();
                if starts_blank && have {
                    out.push(std::mem::take(&mut current));
                    have = false;
                }
                while let Some(field) = fields.next() {
                    current.push_str(field);
                    have = true;
                    if fields.peek().is_some() {
                        out.push(std::mem::take(&mut current));
                    }
                }
                if value.ends_with(char::is_whitespace) && have {
                    out.push(std::mem::take(&mut current));
                    have = false;
                }
            }
        }
    }
    if have {
        out.push(current);
    }
}

pub fn lookup_var<'v>(vars: &'v HashMap<String, String>, name: &str) -> &'v str {
    match name {
        "?" => "0",
        _ => vars.get(name).map(String::as_str).unwrap_or(""),
    }
}

pub fn expand(words: &[Word], vars: &HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for word in words {
        expand_word(word, vars, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_text(parts: Vec<Part>, vars: &[(&str, &str)]) -> Vec<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        expand(&[Word { parts }], &vars)
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
}
