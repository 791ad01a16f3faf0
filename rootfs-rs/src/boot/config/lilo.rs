//! lilo.conf: global options, `image=` sections (kexec-able) and `other=` sections (chainload).

use std::path::{Path, PathBuf};

use crate::boot::entry::{
    choose_default, join_cmdline, parse_file, BootEntry, EntryKind, Parsed, MAX_ENTRIES,
};
use crate::boot::fs::ConfigFs;
use crate::config::text::{strip_comment, unquote};

/// Options that may be global or per image; per-image values win (LILO's rule, except
/// `addappend`, which is only ever added).
#[derive(Debug, Clone, Default)]
struct Options {
    append: Option<String>,
    addappend: Option<String>,
    literal: Option<String>,
    root: Option<String>,
    initrd: Option<String>,
    read_only: Option<bool>,
}

#[derive(Debug, Default)]
struct Section {
    image: String,
    other: bool,
    label: Option<String>,
    options: Options,
    line: usize,
}

pub fn parse_lilo(fs: &dyn ConfigFs, path: &Path) -> Parsed {
    parse_file(fs, path, "lilo", parse_lilo_text)
}

/// Parses lilo.conf text; paths are absolute on the filesystem LILO ran on.
pub fn parse_lilo_text(text: &str, source: &str, out: &mut Parsed) {
    let mut global = Options::default();
    let mut default = None;
    let mut sections: Vec<Section> = Vec::new();
    // Past MAX_ENTRIES sections, their options go to a section that is thrown away.
    let mut overflow: Option<Section> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let number = index + 1;
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(unquote(v))),
            None => (line.to_ascii_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("image" | "other", Some(image)) => {
                let section = Section {
                    image,
                    other: key == "other",
                    line: number,
                    ..Section::default()
                };
                if sections.len() < MAX_ENTRIES {
                    sections.push(section);
                } else {
                    if overflow.is_none() {
                        out.warn(
                            source,
                            number,
                            format!("more than {MAX_ENTRIES} images; the rest are ignored"),
                        );
                    }
                    overflow = Some(section);
                }
            }
            ("default", Some(v)) => default = Some(v),
            ("timeout", Some(v)) => {
                out.timeout_secs = v.parse::<u32>().ok().map(|t| t.div_ceil(10))
            }
            ("label", value) => {
                if let Some(section) = overflow.as_mut().or(sections.last_mut()) {
                    section.label = value;
                }
            }
            (key, value) => {
                let target = match overflow.as_mut().or(sections.last_mut()) {
                    Some(section) => &mut section.options,
                    None => &mut global,
                };
                set_option(target, key, value);
            }
        }
    }
    for section in sections {
        if section.image.is_empty() {
            out.warn(source, section.line, "image= without a file name; skipped");
            continue;
        }
        out.entries.push(section_entry(section, &global, source));
    }
    // LILO matches labels without regard to case.
    choose_default(out, source, default.as_deref(), |e, d| {
        e.id.eq_ignore_ascii_case(d)
    });
}

/// The entry of one `image=` or `other=` section, the global options under its own.
fn section_entry(section: Section, global: &Options, source: &str) -> BootEntry {
    let label = section
        .label
        .clone()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| {
            Path::new(&section.image)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| section.image.clone())
        });
    let mut entry = if section.other {
        let mut entry = BootEntry::linux(&label, PathBuf::new(), source);
        entry.kind = EntryKind::Chainload {
            target: section.image.clone(),
        };
        entry
    } else {
        let merged = merge(global, &section.options);
        let initrds: Vec<String> = merged.initrd.iter().cloned().collect();
        let mut entry = BootEntry::with_absolute_paths(&label, &section.image, &initrds, source);
        entry.cmdline = cmdline(&merged);
        entry
    };
    entry.id = label;
    entry
}

fn set_option(target: &mut Options, key: &str, value: Option<String>) {
    match (key, value) {
        ("append", v @ Some(_)) => target.append = v,
        ("addappend", v @ Some(_)) => target.addappend = v,
        ("literal", v @ Some(_)) => target.literal = v,
        ("root", v @ Some(_)) => target.root = v,
        ("initrd", v @ Some(_)) => target.initrd = v,
        ("read-only", None) => target.read_only = Some(true),
        ("read-write", None) => target.read_only = Some(false),
        // boot=, map=, vga=, bitmap=, prompt, …: about LILO itself, not the kernel.
        _ => {}
    }
}

fn merge(global: &Options, image: &Options) -> Options {
    Options {
        append: image.append.clone().or_else(|| global.append.clone()),
        addappend: image.addappend.clone().or_else(|| global.addappend.clone()),
        literal: image.literal.clone().or_else(|| global.literal.clone()),
        root: image.root.clone().or_else(|| global.root.clone()),
        initrd: image.initrd.clone().or_else(|| global.initrd.clone()),
        read_only: image.read_only.or(global.read_only),
    }
}

/// LILO hands root and ro/rw to the kernel via its boot header; kexec needs them on the
/// command line. `root=current` means "whatever LILO ran on", which we cannot know.
fn cmdline(options: &Options) -> String {
    if let Some(literal) = &options.literal {
        return join_cmdline([literal.as_str()]);
    }
    let root = options
        .root
        .as_deref()
        .filter(|r| !r.eq_ignore_ascii_case("current"))
        .map(|r| format!("root={r}"));
    let mode = options.read_only.map(|ro| if ro { "ro" } else { "rw" });
    join_cmdline([
        root.as_deref().unwrap_or(""),
        mode.unwrap_or(""),
        options.append.as_deref().unwrap_or(""),
        options.addappend.as_deref().unwrap_or(""),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_append_overrides_global_and_addappend_adds() {
        let mut out = Parsed::default();
        let text = "append=\"quiet\"\nroot=/dev/sda1\nread-only\nimage=/boot/a\n label=A\n append=\"single\"\nimage=/boot/b\n addappend=\"x=1\"\n read-write\n";
        parse_lilo_text(text, "t", &mut out);
        assert_eq!(out.entries[0].cmdline, "root=/dev/sda1 ro single");
        assert_eq!(out.entries[1].cmdline, "root=/dev/sda1 rw quiet x=1");
        assert_eq!(out.entries[1].label, "b");
        assert!(out.entries[0].is_default);
    }

    #[test]
    fn literal_replaces_everything_and_unknown_default_warns() {
        let mut out = Parsed::default();
        parse_lilo_text(
            "default=nope\nimage=/vmlinuz\n literal=\"init=/bin/sh\"\n root=/dev/sda1\n",
            "t",
            &mut out,
        );
        assert_eq!(out.entries[0].cmdline, "init=/bin/sh");
        assert_eq!(out.warnings.len(), 1);
        assert!(out.entries[0].is_default);
    }
}
