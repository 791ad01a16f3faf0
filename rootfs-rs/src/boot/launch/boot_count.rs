//! Counting a boot try (systemd's automatic boot assessment): right before kexec, an
//! entry whose file carries a counter (`NAME+LEFT[-DONE].conf`, a UKI's `.efi`) is renamed
//! to `NAME+(LEFT-1)-(DONE+1)`, with its filesystem mounted read-write just for the rename,
//! and LoaderBootCountPath names the new file so systemd-bless-boot in the booted system
//! can drop the counter once the boot is good. A failed rename never stops the boot.

use std::path::{Path, PathBuf};

use crate::boot::config::boot_count::{after_one_try, is_bad, split};
use crate::boot::entry::BootEntry;
use crate::boot::launch::handback::on_writable_filesystem;
use crate::boot::scan::volume::DiscoveredEntry;

/// The file whose name counts the entry's tries (within its filesystem): a type #1
/// entry's `.conf`, a type #2 UKI's `.efi`; None for entries without a counter.
pub fn counted_file(entry: &BootEntry) -> Option<PathBuf> {
    let path = entry
        .source
        .strip_prefix("bls: ")
        .or_else(|| entry.source.strip_prefix("uki: "))?;
    let path = Path::new(path);
    split(path.file_name()?.to_str()?)?;
    Some(path.to_path_buf())
}

/// Whether the entry has no tries left (the menu marks it; it sorts last).
pub fn has_no_tries_left(entry: &BootEntry) -> bool {
    counted_file(entry)
        .and_then(|p| p.file_name().map(|n| is_bad(&n.to_string_lossy())))
        .unwrap_or(false)
}

/// The file's path after one more try (same directory).
pub fn renamed(file: &Path) -> Option<PathBuf> {
    let next = after_one_try(file.file_name()?.to_str()?)?;
    Some(file.with_file_name(next))
}

/// Renames the entry's counted file on its disk; None when the entry is not counted,
/// else the new path within its filesystem, or why the rename failed.
pub fn count_try(found: &DiscoveredEntry) -> Option<Result<PathBuf, String>> {
    let file = counted_file(&found.entry)?;
    let next = renamed(&file)?;
    Some(on_writable_filesystem(&found.config_device, |root| {
        rename_within(root, &file, &next)
    }))
}

/// Renames `from` to `to`, both absolute within the filesystem mounted at `root`.
fn rename_within(root: &Path, from: &Path, to: &Path) -> Result<PathBuf, String> {
    let host = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    std::fs::rename(host(from), host(to))
        .map_err(|e| format!("renaming {} to {}: {e}", from.display(), to.display()))?;
    Ok(to.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(source: &str) -> BootEntry {
        BootEntry::linux("x", PathBuf::from("/vmlinuz"), source)
    }

    #[test]
    fn the_counted_file_is_the_entry_file_or_the_uki() {
        let conf = entry("bls: /loader/entries/fedora+3.conf");
        assert_eq!(
            counted_file(&conf),
            Some(PathBuf::from("/loader/entries/fedora+3.conf"))
        );
        assert!(!has_no_tries_left(&conf));
        assert!(has_no_tries_left(&entry("uki: /EFI/Linux/arch+0-3.efi")));
        assert_eq!(
            counted_file(&entry("bls: /loader/entries/fedora.conf")),
            None
        );
        assert_eq!(counted_file(&entry("grub: /boot/grub/a+1.cfg")), None);
        assert_eq!(
            renamed(Path::new("/loader/entries/fedora+3.conf")),
            Some(PathBuf::from("/loader/entries/fedora+2-1.conf"))
        );
    }

    #[test]
    fn the_rename_happens_inside_the_mounted_filesystem() {
        let root = std::env::temp_dir().join(format!("kboot-count-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("loader/entries")).unwrap();
        std::fs::write(root.join("loader/entries/f+3.conf"), "title F\n").unwrap();
        let from = Path::new("/loader/entries/f+3.conf");
        let to = renamed(from).unwrap();
        assert_eq!(rename_within(&root, from, &to).unwrap(), to);
        assert!(root.join("loader/entries/f+2-1.conf").is_file());
        assert!(!root.join("loader/entries/f+3.conf").exists());
        let again = rename_within(&root, from, &to).unwrap_err();
        assert!(again.contains("f+3.conf"), "{again}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
