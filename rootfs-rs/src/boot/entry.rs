//! The one interface every parser produces: boot entries plus warnings.

use std::fmt;
use std::path::{Path, PathBuf};

use super::fs::{normalize, read_text, ConfigFs};

/// Which filesystem a GRUB entry asked for (`search --set=root …`, `set root=…`).
/// `None` on an entry means "the filesystem the config was found on".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsRef {
    Uuid(String),
    Label(String),
    Device(String),
}

/// Whether the entry can be loaded with kexec or names another loader.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Linux,
    /// Not kexec-able (LILO `other=`, GRUB `chainloader`, syslinux `chain.c32`).
    Chainload {
        target: String,
    },
    /// A unified kernel image (`kernel` is the .efi file): its `.linux`, `.ucode` +
    /// `.initrd` and `.cmdline` sections are booted, with the sections of `profile` (of
    /// a multi-profile image) overriding the base ones.
    Uki {
        profile: Option<u32>,
        /// systemd-stub addons whose `.ucode` goes in front of the initrd (their
        /// `.cmdline` is already in the entry's command line).
        addons: Vec<PathBuf>,
    },
}

impl EntryKind {
    /// Whether kexec starts it (a kernel file or a UKI on the entry's filesystem).
    pub fn is_kexec(&self) -> bool {
        !matches!(self, EntryKind::Chainload { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEntry {
    /// What the menu shows (GRUB submenus as "Submenu>Entry").
    pub label: String,
    /// Absolute path within the filesystem the config was found on.
    pub kernel: PathBuf,
    pub initrds: Vec<PathBuf>,
    pub cmdline: String,
    /// e.g. "grub: /boot/grub/grub.cfg", "bls: /loader/entries/x.conf".
    pub source: String,
    pub is_default: bool,
    pub root_fs: Option<FsRef>,
    pub kind: EntryKind,
    /// Stable identifier: GRUB `--id`, BLS file stem, syslinux/LILO label, kboot entry name.
    pub id: String,
}

impl BootEntry {
    /// A kernel named by URL (a type #1 entry's `uki-url`, an `@url` path): downloaded
    /// when the entry is booted, so no scanned filesystem holds it.
    pub fn kernel_is_url(&self) -> bool {
        crate::boot::scan::pxe::path_url(&self.kernel.to_string_lossy()).is_some()
    }

    /// A Linux entry whose file names are absolute within the filesystem (LILO, kboot.conf).
    pub fn with_absolute_paths(
        label: &str,
        kernel: &str,
        initrds: &[String],
        source: &str,
    ) -> BootEntry {
        let absolute = |p: &str| normalize(Path::new("/"), Path::new(p));
        let mut entry = BootEntry::linux(label, absolute(kernel), source);
        entry.initrds = initrds.iter().map(|i| absolute(i)).collect();
        entry
    }

    pub fn linux(label: &str, kernel: PathBuf, source: &str) -> BootEntry {
        BootEntry {
            label: label.to_string(),
            kernel,
            initrds: Vec::new(),
            cmdline: String::new(),
            source: source.to_string(),
            is_default: false,
            root_fs: None,
            kind: EntryKind::Linux,
            id: label.to_string(),
        }
    }

    /// What it boots (kind, kernel, initrds, command line): entries with equal keys boot
    /// the same thing whatever their labels, ids and sources, so two configs listing one
    /// kernel make one menu entry. A hash key, so duplicates among thousands of entries
    /// (a hostile config) are found in one pass.
    pub fn boot_key(&self) -> BootKey {
        BootKey {
            kind: self.kind.clone(),
            kernel: self.kernel.clone(),
            initrds: self.initrds.clone(),
            cmdline: self.cmdline.clone(),
        }
    }
}

/// See `BootEntry::boot_key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BootKey {
    kind: EntryKind,
    kernel: PathBuf,
    initrds: Vec<PathBuf>,
    cmdline: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub source: String,
    /// 1-based line number; 0 when the warning is about the file as a whole.
    pub line: usize,
    pub message: String,
}

impl Warning {
    pub fn new(source: &str, line: usize, message: impl Into<String>) -> Warning {
        Warning {
            source: source.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}:{}: {}", self.source, self.line, self.message)
        }
    }
}

/// What a parser returns: entries in menu order, warnings, and the menu timeout if one was set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub entries: Vec<BootEntry>,
    pub warnings: Vec<Warning>,
    pub timeout_secs: Option<u32>,
}

impl Parsed {
    pub fn into_pair(self) -> (Vec<BootEntry>, Vec<Warning>) {
        (self.entries, self.warnings)
    }

    pub fn warn(&mut self, source: &str, line: usize, message: impl Into<String>) {
        self.warnings.push(Warning::new(source, line, message));
    }
}

/// Entries kept per config: no usable menu is longer (distributions keep a few kernels,
/// os-prober adds a few systems), and it bounds the work on hostile input: a scan of a
/// disk with 10,000 BLS entries or a 200,000-line grub.cfg must leave a menu within
/// seconds even under emulation (qemu-tests/tests/hostile.rs).
pub const MAX_ENTRIES: usize = 512;

/// Marks the entry that `default` names (as decided by `names`) as the one default; when
/// there is no default or it names nothing, the first entry (what every boot loader here
/// does), with a warning in the second case.
pub fn choose_default(
    out: &mut Parsed,
    source: &str,
    default: Option<&str>,
    names: impl Fn(&BootEntry, &str) -> bool,
) {
    let chosen = default.and_then(|d| out.entries.iter().position(|e| names(e, d)));
    if let (Some(d), None, false) = (default, chosen, out.entries.is_empty()) {
        out.warn(
            source,
            0,
            format!("default '{d}' names no entry; using the first"),
        );
    }
    for (index, entry) in out.entries.iter_mut().enumerate() {
        entry.is_default = index == chosen.unwrap_or(0);
    }
}

/// Splits `initrd=a,b` style comma lists (syslinux, legacy kboot) into paths.
pub fn split_initrd_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Joins command-line words with single spaces, dropping empty ones.
pub fn join_cmdline<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for word in words {
        let word = word.trim();
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Reads a one-file config and hands its text to `parse` with the source label
/// "<kind>: <path>"; an unreadable file becomes a warning.
pub fn parse_file(
    fs: &dyn ConfigFs,
    path: &Path,
    kind: &str,
    parse: fn(&str, &str, &mut Parsed),
) -> Parsed {
    let path = normalize(Path::new("/"), path);
    let source = format!("{kind}: {}", path.display());
    let mut out = Parsed::default();
    match read_text(fs, &path) {
        Ok(text) => parse(&text, &source, &mut out),
        Err(err) => out.warn(&source, 0, err.to_string()),
    }
    out
}
