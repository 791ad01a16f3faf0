//! SYSLINUX family configs (syslinux.cfg, isolinux.cfg, extlinux.conf, pxelinux).

use std::path::{Path, PathBuf};

use crate::boot::entry::{
    join_cmdline, split_initrd_list, BootEntry, EntryKind, Parsed, MAX_ENTRIES,
};
use crate::boot::fs::{normalize, read_text, ConfigFs};

const MAX_INCLUDE_DEPTH: usize = 16;
const MAX_INCLUDES: usize = 256;

/// Parses the config at `path`. Relative file names are resolved against its directory,
/// which is syslinux's working directory.
pub fn parse_syslinux(fs: &dyn ConfigFs, path: &Path) -> Parsed {
    let config = normalize(Path::new("/"), path);
    let base = config.parent().unwrap_or(Path::new("/")).to_path_buf();
    parse_syslinux_in(fs, &config, base)
}

/// Parses the config at `path` with `base` as the working directory: pxelinux's is the
/// directory its boot file came from, not the `pxelinux.cfg/` the config is in.
pub fn parse_syslinux_in(fs: &dyn ConfigFs, path: &Path, base: PathBuf) -> Parsed {
    let config = normalize(Path::new("/"), path);
    let root_source = format!("syslinux: {}", config.display());
    let mut state = State {
        fs,
        base,
        root_source: root_source.clone(),
        out: Parsed::default(),
        labels: Vec::new(),
        current: None,
        globals: Globals::default(),
        menus: Vec::new(),
        stack: Vec::new(),
        includes: 0,
        too_many: false,
    };
    state.include(&config, &root_source, 0);
    state.finish_label();
    state.finish()
}

#[derive(Default)]
struct Globals {
    default: Option<String>,
    ontimeout: Option<String>,
    append: Option<String>,
}

#[derive(Default)]
struct Label {
    name: String,
    menu_label: Option<String>,
    kernel: Option<String>,
    /// The keyword that named the kernel (KERNEL, LINUX, COM32, ...), lowercased.
    kernel_type: String,
    append: Option<String>,
    initrd: Option<String>,
    menu_default: bool,
    localboot: Option<String>,
    menu_path: Vec<String>,
    source: String,
}

struct State<'a> {
    fs: &'a dyn ConfigFs,
    base: PathBuf,
    root_source: String,
    out: Parsed,
    labels: Vec<Label>,
    current: Option<Label>,
    globals: Globals,
    /// Titles of the MENU BEGIN blocks we are inside.
    menus: Vec<Option<String>>,
    stack: Vec<PathBuf>,
    includes: usize,
    too_many: bool,
}

/// "MENU LABEL ^Install" → "Install" (the caret marks the hotkey).
fn clean_menu_text(text: &str) -> String {
    text.replacen('^', "", 1).trim().to_string()
}

impl State<'_> {
    fn include(&mut self, path: &Path, source: &str, line: usize) {
        if self.stack.iter().any(|p| p == path) {
            self.out.warn(
                source,
                line,
                format!("{}: include loop, not read again", path.display()),
            );
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH || self.includes >= MAX_INCLUDES {
            self.out.warn(
                source,
                line,
                format!("{}: too many nested or repeated includes", path.display()),
            );
            return;
        }
        let text = match read_text(self.fs, path) {
            Ok(text) => text,
            Err(err) => return self.out.warn(source, line, err.to_string()),
        };
        self.includes += 1;
        self.stack.push(path.to_path_buf());
        let file_source = format!("syslinux: {}", path.display());
        let mut lines = text.lines().enumerate();
        while let Some((index, raw)) = lines.next() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = split_keyword(line);
            if keyword == "text" && split_keyword(rest).0 == "help" {
                // Help text runs until ENDTEXT and is not configuration.
                for (_, help) in lines.by_ref() {
                    if split_keyword(help.trim()).0 == "endtext" {
                        break;
                    }
                }
                continue;
            }
            self.directive(&keyword, rest, &file_source, index + 1);
        }
        self.stack.pop();
    }

    fn directive(&mut self, keyword: &str, rest: &str, source: &str, line: usize) {
        match keyword {
            "label" => {
                self.finish_label();
                let menu_path = self.menus.iter().flatten().cloned().collect();
                self.current = Some(Label {
                    name: rest.to_string(),
                    menu_path,
                    source: source.to_string(),
                    ..Label::default()
                });
            }
            "menu" => self.menu(rest, source, line),
            "include" => {
                let file = rest.split_whitespace().next().unwrap_or("");
                let path = normalize(&self.base, Path::new(file));
                self.include(&path, source, line);
            }
            "default" => self.globals.default = Some(rest.to_string()),
            "ontimeout" => self.globals.ontimeout = Some(rest.to_string()),
            "timeout" => {
                // Tenths of a second; 0 means wait forever.
                self.out.timeout_secs = rest
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|t| *t > 0)
                    .map(|t| t.div_ceil(10));
            }
            "kernel" | "linux" | "boot" | "bss" | "pxe" | "fdimage" | "comboot" | "com32"
            | "config" => match self.current.as_mut() {
                Some(label) => {
                    label.kernel = Some(rest.to_string());
                    label.kernel_type = keyword.to_string();
                }
                None if keyword == "config" => {
                    let path = normalize(
                        &self.base,
                        Path::new(rest.split_whitespace().next().unwrap_or("")),
                    );
                    self.include(&path, source, line);
                }
                None => self
                    .out
                    .warn(source, line, format!("'{keyword}' outside a LABEL ignored")),
            },
            "append" => match self.current.as_mut() {
                Some(label) => label.append = Some(rest.to_string()),
                None => self.globals.append = Some(rest.to_string()),
            },
            "initrd" => {
                if let Some(label) = self.current.as_mut() {
                    label.initrd = Some(rest.to_string());
                }
            }
            "localboot" => {
                if let Some(label) = self.current.as_mut() {
                    label.localboot = Some(rest.to_string());
                }
            }
            _ => {}
        }
    }

    fn menu(&mut self, rest: &str, source: &str, line: usize) {
        let (word, text) = split_keyword(rest);
        match (word.as_str(), self.current.as_mut()) {
            ("label", Some(label)) => label.menu_label = Some(clean_menu_text(text)),
            ("label", None) => {
                if let Some(title) = self.menus.last_mut() {
                    *title = Some(clean_menu_text(text));
                }
            }
            ("default", Some(label)) => label.menu_default = true,
            ("begin", _) => {
                self.finish_label();
                self.menus.push(None);
            }
            ("title", None) => {
                if let Some(title @ None) = self.menus.last_mut() {
                    *title = Some(clean_menu_text(text));
                }
            }
            ("end", _) => {
                self.finish_label();
                if self.menus.pop().is_none() {
                    self.out.warn(source, line, "MENU END without MENU BEGIN");
                }
            }
            ("include", _) => {
                let file = text.split_whitespace().next().unwrap_or("");
                let path = normalize(&self.base, Path::new(file));
                self.include(&path, source, line);
            }
            _ => {}
        }
    }

    fn finish_label(&mut self) {
        let Some(label) = self.current.take() else {
            return;
        };
        if self.labels.len() < MAX_ENTRIES {
            self.labels.push(label);
        } else if !self.too_many {
            self.too_many = true;
            self.out.warn(
                &label.source,
                0,
                format!("more than {MAX_ENTRIES} labels; the rest are ignored"),
            );
        }
    }

    fn finish(mut self) -> Parsed {
        if !self.menus.is_empty() {
            self.out
                .warn(&self.root_source, 0, "MENU BEGIN without MENU END");
        }
        let labels = std::mem::take(&mut self.labels);
        let mut entries = Vec::new();
        let mut names = Vec::new();
        let mut menu_default = None;
        for label in labels {
            let is_menu_default = label.menu_default;
            let name = label.name.clone();
            if let Some(entry) = self.to_entry(label) {
                if is_menu_default && menu_default.is_none() {
                    menu_default = Some(entries.len());
                }
                names.push(name);
                entries.push(entry);
            }
        }
        let by_name = |wanted: &Option<String>| {
            let wanted = wanted.as_deref()?.split_whitespace().next()?;
            names.iter().position(|n| n.eq_ignore_ascii_case(wanted))
        };
        let chosen = by_name(&self.globals.ontimeout)
            .or(menu_default)
            .or_else(|| by_name(&self.globals.default));
        let implicit = chosen.is_none().then(|| self.implicit_default()).flatten();
        if let Some(entry) = implicit {
            entries.insert(0, entry);
        }
        let chosen = chosen.unwrap_or(0);
        if let Some(entry) = entries.get_mut(chosen) {
            entry.is_default = true;
        }
        self.out.entries = entries;
        self.out
    }

    /// `DEFAULT vmlinuz root=…` naming a kernel rather than a label boots that kernel.
    fn implicit_default(&self) -> Option<BootEntry> {
        let default = self.globals.default.as_deref()?;
        let (kernel, args) = default
            .split_once(char::is_whitespace)
            .unwrap_or((default, ""));
        if kernel.to_ascii_lowercase().ends_with(".c32") || kernel.is_empty() {
            return None;
        }
        let source = self.root_source.clone();
        let label = Label {
            name: kernel.to_string(),
            kernel: Some(kernel.to_string()),
            kernel_type: "kernel".into(),
            append: Some(args.to_string()),
            source,
            ..Label::default()
        };
        self.to_entry(label)
    }

    fn to_entry(&self, label: Label) -> Option<BootEntry> {
        let title = label
            .menu_label
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| label.name.clone());
        let mut path = label.menu_path.clone();
        path.push(title);
        let display = path.join(">");
        if let Some(drive) = &label.localboot {
            let target = format!("localboot {drive}");
            return Some(chainload(&display, target, &label));
        }
        let kernel_spec = label.kernel.as_deref()?;
        let (kernel, kernel_args) = kernel_spec
            .split_once(char::is_whitespace)
            .unwrap_or((kernel_spec, ""));
        let append = label
            .append
            .as_deref()
            .or(self.globals.append.as_deref())
            .unwrap_or("");
        let append = if append.trim() == "-" { "" } else { append };
        let module = kernel.to_ascii_lowercase();
        let is_module = label.kernel_type == "com32"
            || label.kernel_type == "comboot"
            || module.ends_with(".c32")
            || module.ends_with(".com")
            || module.ends_with(".cbt");
        if is_module
            || matches!(
                label.kernel_type.as_str(),
                "boot" | "bss" | "pxe" | "fdimage" | "config"
            )
        {
            // chain.c32 and boot sectors start another loader; other modules (menus, hdt,
            // reboot) are not boot targets at all.
            if !(module.ends_with("chain.c32")
                || matches!(label.kernel_type.as_str(), "boot" | "bss"))
            {
                return None;
            }
            let target = join_cmdline([kernel, kernel_args, append]);
            return Some(chainload(&display, target, &label));
        }
        let (initrds, words) = initrds_and_words(kernel_args, append, label.initrd.as_deref());
        let mut entry = BootEntry::linux(
            &display,
            normalize(&self.base, Path::new(kernel)),
            &label.source,
        );
        entry.initrds = initrds
            .iter()
            .map(|i| normalize(&self.base, Path::new(i)))
            .collect();
        entry.cmdline = join_cmdline(words);
        entry.id = label.name;
        Some(entry)
    }
}

/// An entry that starts another loader (`localboot`, chain.c32, a boot sector).
fn chainload(display: &str, target: String, label: &Label) -> BootEntry {
    let mut entry = BootEntry::linux(display, PathBuf::new(), &label.source);
    entry.kind = EntryKind::Chainload { target };
    entry.id = label.name.clone();
    entry
}

/// The initrds (the last `initrd=` on the kernel line or in APPEND, else the INITRD
/// directive) and the other words of the command line.
fn initrds_and_words<'a>(
    kernel_args: &'a str,
    append: &'a str,
    initrd: Option<&str>,
) -> (Vec<String>, Vec<&'a str>) {
    let mut initrds = Vec::new();
    let mut words = Vec::new();
    for word in kernel_args
        .split_whitespace()
        .chain(append.split_whitespace())
    {
        match word.strip_prefix("initrd=") {
            Some(list) => initrds = split_initrd_list(list),
            None => words.push(word),
        }
    }
    if initrds.is_empty() {
        if let Some(list) = initrd {
            initrds = split_initrd_list(list);
        }
    }
    (initrds, words)
}

/// Splits off the first word, lowercased (syslinux keywords are case-insensitive).
fn split_keyword(line: &str) -> (String, &str) {
    match line.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((word, rest)) => (word.to_ascii_lowercase(), rest.trim()),
        None => (line.to_ascii_lowercase(), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::fs::MemFs;

    #[test]
    fn keywords_are_case_insensitive_and_initrd_comes_from_append() {
        let fs = MemFs::new().with(
            "/syslinux/syslinux.cfg",
            "Default Second\nLABEL first\n  KERNEL vmlinuz\nlabel second\n  Menu Label ^Second one\n  kernel /boot/vmlinuz\n  APPEND ro initrd=/boot/a.img,b.img quiet\n",
        );
        let parsed = parse_syslinux(&fs, Path::new("/syslinux/syslinux.cfg"));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let e = &parsed.entries;
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].kernel, PathBuf::from("/syslinux/vmlinuz"));
        assert_eq!(e[1].label, "Second one");
        assert_eq!(
            e[1].initrds,
            [
                PathBuf::from("/boot/a.img"),
                PathBuf::from("/syslinux/b.img")
            ]
        );
        assert_eq!(e[1].cmdline, "ro quiet");
        assert!(!e[0].is_default && e[1].is_default);
    }

    #[test]
    fn default_naming_a_kernel_boots_it() {
        let fs = MemFs::new().with(
            "/extlinux.conf",
            "DEFAULT /vmlinuz root=/dev/sda1 initrd=/initrd.img\nTIMEOUT 25\n",
        );
        let parsed = parse_syslinux(&fs, Path::new("/extlinux.conf"));
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.entries[0].cmdline, "root=/dev/sda1");
        assert_eq!(parsed.entries[0].initrds, [PathBuf::from("/initrd.img")]);
        assert!(parsed.entries[0].is_default);
        assert_eq!(parsed.timeout_secs, Some(3));
    }
}
