//! Finds every known boot config on one filesystem and merges their entries into one menu.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::boot::config::bls::{parse_bls, ENTRY_DIRS};
use crate::boot::config::grub::parse_grub;
use crate::boot::config::kboot_conf::parse_kboot_conf;
use crate::boot::config::lilo::parse_lilo;
use crate::boot::config::syslinux::parse_syslinux;
use crate::boot::config::uki::parse_ukis;
use crate::boot::entry::{BootEntry, BootKey, Parsed, Warning};
use crate::boot::fs::ConfigFs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Grub,
    Bls,
    Syslinux,
    Lilo,
    Kboot,
    /// Unified kernel images (BLS type #2) in a directory.
    Uki,
}

/// Config locations in priority order. `/EFI/*/grub.cfg` is expanded by listing /EFI.
pub const LOCATIONS: &[(ConfigKind, &str)] = &[
    (ConfigKind::Grub, "/boot/grub/grub.cfg"),
    (ConfigKind::Grub, "/grub/grub.cfg"),
    (ConfigKind::Grub, "/boot/grub2/grub.cfg"),
    (ConfigKind::Grub, "/grub2/grub.cfg"),
    (ConfigKind::Grub, "/EFI/*/grub.cfg"),
    (ConfigKind::Bls, "/loader/entries"),
    (ConfigKind::Uki, "/EFI/Linux"),
    // An ESP or XBOOTLDR partition mounted on /boot of the root filesystem.
    (ConfigKind::Uki, "/boot/EFI/Linux"),
    (ConfigKind::Syslinux, "/boot/extlinux/extlinux.conf"),
    (ConfigKind::Syslinux, "/extlinux/extlinux.conf"),
    // Alpine's update-extlinux writes the config next to the kernels.
    (ConfigKind::Syslinux, "/boot/extlinux.conf"),
    (ConfigKind::Syslinux, "/extlinux.conf"),
    (ConfigKind::Syslinux, "/boot/syslinux/syslinux.cfg"),
    (ConfigKind::Syslinux, "/syslinux/syslinux.cfg"),
    (ConfigKind::Syslinux, "/syslinux.cfg"),
    (ConfigKind::Syslinux, "/isolinux/isolinux.cfg"),
    (ConfigKind::Syslinux, "/boot/isolinux/isolinux.cfg"),
    (ConfigKind::Lilo, "/etc/lilo.conf"),
    (ConfigKind::Kboot, "/boot/kboot.conf"),
    (ConfigKind::Kboot, "/kboot.conf"),
    (ConfigKind::Kboot, "/etc/kboot.conf"),
];

/// The configs present on `fs`, in priority order.
pub fn find_configs(fs: &dyn ConfigFs) -> Vec<(ConfigKind, PathBuf)> {
    let mut found = Vec::new();
    for (kind, location) in LOCATIONS {
        match (kind, location.split_once("/*/")) {
            (ConfigKind::Bls, _) => {
                if ENTRY_DIRS.iter().any(|d| fs.list_dir(Path::new(d)).is_ok()) {
                    found.push((*kind, PathBuf::from(location)));
                }
            }
            (ConfigKind::Uki, _) => {
                if fs.list_dir(Path::new(location)).is_ok() {
                    found.push((*kind, PathBuf::from(location)));
                }
            }
            (_, Some((dir, file))) => {
                for sub in fs.list_dir(Path::new(dir)).unwrap_or_default() {
                    let path = Path::new(dir).join(sub).join(file);
                    if fs.is_file(&path) {
                        found.push((*kind, path));
                    }
                }
            }
            (_, None) => {
                if fs.is_file(Path::new(location)) {
                    found.push((*kind, PathBuf::from(location)));
                }
            }
        }
    }
    found
}

/// Parses one config of a known kind.
pub fn parse_config(fs: &dyn ConfigFs, kind: ConfigKind, path: &Path) -> Parsed {
    match kind {
        ConfigKind::Grub => parse_grub(fs, path),
        ConfigKind::Bls => parse_bls(fs),
        ConfigKind::Syslinux => parse_syslinux(fs, path),
        ConfigKind::Lilo => parse_lilo(fs, path),
        ConfigKind::Kboot => parse_kboot_conf(fs, path),
        ConfigKind::Uki => parse_ukis(fs, path),
    }
}

pub fn discover_in(fs: &dyn ConfigFs) -> (Vec<BootEntry>, Vec<Warning>) {
    discover(fs).into_pair()
}

/// All entries of all configs on `fs`: stale kernels dropped, duplicates (same kernel, initrds
/// and command line) removed keeping the first, exactly one default (from the first config
/// that has entries), and that config's timeout.
pub fn discover(fs: &dyn ConfigFs) -> Parsed {
    discover_with(fs, false)
}

/// Like `discover`, but an entry that names another filesystem (`root_fs`, e.g. GRUB's
/// `search --fs-uuid` for a separate /boot) and whose kernel is not on `fs` is kept: the
/// caller that sees all filesystems checks it there.
pub fn discover_across(fs: &dyn ConfigFs) -> Parsed {
    discover_with(fs, true)
}

fn discover_with(fs: &dyn ConfigFs, defer_foreign: bool) -> Parsed {
    let mut out = Parsed::default();
    let mut have_primary = false;
    // What the entries of earlier configs boot.
    let mut listed: HashSet<BootKey> = HashSet::new();
    for (kind, path) in find_configs(fs) {
        let parsed = parse_config(fs, kind, &path);
        out.warnings.extend(parsed.warnings);
        let mut kept: Vec<BootEntry> = Vec::new();
        let mut kept_at: HashMap<BootKey, usize> = HashMap::new();
        for entry in parsed.entries {
            if !keep_entry(fs, &entry, defer_foreign, &mut out.warnings) {
                continue;
            }
            let key = entry.boot_key();
            // A default that duplicates an entry of the same config passes its flag on.
            match kept_at.get(&key) {
                Some(&twin) => kept[twin].is_default |= entry.is_default,
                None if !listed.contains(&key) => {
                    kept_at.insert(key, kept.len());
                    kept.push(entry);
                }
                None => {}
            }
        }
        if kept.is_empty() {
            continue;
        }
        listed.extend(kept_at.into_keys());
        if have_primary {
            kept.iter_mut().for_each(|e| e.is_default = false);
        } else {
            have_primary = true;
            out.timeout_secs = parsed.timeout_secs;
        }
        out.entries.append(&mut kept);
    }
    if !out.entries.iter().any(|e| e.is_default) {
        if let Some(first) = out.entries.first_mut() {
            first.is_default = true;
        }
    }
    out
}

/// The id of the entries that start kboot itself: its media's grub.cfg and the snippets
/// `cargo xtask image` writes (GRUB `--id kboot`, BLS kboot.conf, LILO `label=kboot`).
/// Offering them would let the countdown kexec kboot into itself, again and again.
pub const SELF_ID: &str = "kboot";

fn keep_entry(
    fs: &dyn ConfigFs,
    entry: &BootEntry,
    defer_foreign: bool,
    warnings: &mut Vec<Warning>,
) -> bool {
    if entry.id == SELF_ID {
        return false;
    }
    if !entry.kind.is_kexec() {
        return true;
    }
    if defer_foreign && entry.root_fs.is_some() && !fs.is_file(&entry.kernel) {
        return true;
    }
    if entry.kernel_is_url() {
        return true;
    }
    if !fs.is_file(&entry.kernel) {
        // Why, when it is more than a missing file (a symlink loop, an I/O error).
        let problem = match fs.read_at(&entry.kernel, 0, 0) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => format!("kernel {e}"),
            _ => format!(
                "kernel {} not found on this filesystem",
                entry.kernel.display()
            ),
        };
        warnings.push(Warning::new(
            &entry.source,
            0,
            format!("'{}': {problem}; entry dropped", entry.label),
        ));
        return false;
    }
    for initrd in entry.initrds.iter().filter(|i| !fs.is_file(i)) {
        warnings.push(Warning::new(
            &entry.source,
            0,
            format!(
                "'{}': initrd {} not found on this filesystem",
                entry.label,
                initrd.display()
            ),
        ));
    }
    true
}
