//! Hand-back to the first-stage loader: an entry kexec cannot start (GRUB `chainloader`:
//! Windows, another EFI application) is booted by GRUB itself after a reboot, by setting
//! `next_entry` in GRUB's environment block exactly as `grub-reboot` does. Only that one
//! 1024-byte file is written, with its filesystem mounted read-write just for the write
//! (`on_writable_filesystem`, which boot counting's rename shares).

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::blockdev::fstype::probe_file;
use crate::blockdev::mounts::{unmount, Mounted};
use crate::boot::config::grubenv::{set_var, GRUBENV_SIZE};
use crate::boot::scan::volume::DiscoveredEntry;

const MOUNT_POINT: &str = "/run/kboot/handback";

/// The grubenv next to the grub.cfg an entry came from ("grub: /boot/grub/grub.cfg").
pub fn grubenv_path(entry: &DiscoveredEntry) -> Option<PathBuf> {
    let cfg = entry.entry.source.strip_prefix("grub: ")?;
    Some(Path::new(cfg).parent()?.join("grubenv"))
}

/// Whether GRUB can be asked to boot this entry on the next start.
pub fn can_hand_back(entry: &DiscoveredEntry) -> bool {
    matches!(
        entry.entry.kind,
        crate::boot::entry::EntryKind::Chainload { .. }
    ) && grubenv_path(entry).is_some()
}

/// Unmounts every mount of `node` (the menu's read-only scan mounts) so it can be mounted
/// read-write; the menu rescans afterwards anyway.
fn release(node: &Path) {
    for line in crate::blockdev::mounts::read_mounts() {
        if Path::new(&line.source) == node {
            let _ = unmount(&line.target);
        }
    }
}

/// Sets next_entry=<entry label> in the grubenv of the entry's GRUB config, in place.
pub fn grub_reboot(entry: &DiscoveredEntry) -> Result<String, String> {
    let env = grubenv_path(entry).ok_or("not an entry of a grub.cfg")?;
    on_writable_filesystem(&entry.config_device, |root| {
        write_next_entry(
            &root.join(env.strip_prefix("/").unwrap_or(&env)),
            &entry.entry.label,
        )
    })?;
    Ok(format!("{}:{}", entry.config_device, env.display()))
}

/// Runs `change` on the filesystem of block device `device` (a name under /dev) mounted
/// read-write just for it: the menu's read-only mounts of it are released first, and it
/// is synced and unmounted before this returns. The one way kboot writes to a disk.
pub fn on_writable_filesystem<T>(
    device: &str,
    change: impl FnOnce(&Path) -> Result<T, String>,
) -> Result<T, String> {
    let node = Path::new("/dev").join(device);
    let file = std::fs::File::open(&node).map_err(|e| format!("{}: {e}", node.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let size = if size == 0 {
        std::fs::read_to_string(format!("/sys/class/block/{device}/size"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map_or(u64::MAX, |sectors| sectors * 512)
    } else {
        size
    };
    let fs = probe_file(&file, 0, size)
        .map_err(|e| format!("{}: {e}", node.display()))?
        .ok_or_else(|| format!("{}: no filesystem found", node.display()))?;
    release(&node);
    let at = Path::new(MOUNT_POINT);
    let mounted = Mounted::writable(&node, at, fs.kind)?;
    let result = change(at);
    rustix::fs::sync();
    let unmounted = mounted.unmount();
    let value = result?;
    unmounted?;
    Ok(value)
}

/// Edits (or creates) a grubenv file in place: GRUB itself later rewrites the same blocks.
fn write_next_entry(path: &Path, title: &str) -> Result<(), String> {
    let mut old = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_end(&mut old);
    }
    let block = set_var(&old, "next_entry", title)?;
    debug_assert_eq!(block.len(), GRUBENV_SIZE);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all_at(&block, 0)
        .and_then(|_| file.set_len(GRUBENV_SIZE as u64))
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_entry_is_written_in_place_keeping_other_variables() {
        let dir = std::env::temp_dir().join(format!("kboot-handback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = dir.join("grubenv");
        let start = set_var(b"", "saved_entry", "Debian GNU/Linux").unwrap();
        std::fs::write(&env, &start).unwrap();
        write_next_entry(&env, "Windows Boot Manager (on /dev/sda1)").unwrap();
        let text = String::from_utf8(std::fs::read(&env).unwrap()).unwrap();
        assert_eq!(text.len(), GRUBENV_SIZE);
        assert!(text.contains(
            "saved_entry=Debian GNU/Linux\nnext_entry=Windows Boot Manager (on /dev/sda1)\n"
        ));
        // A missing grubenv is created, as grub-editenv would.
        write_next_entry(&dir.join("new"), "x").unwrap();
        assert_eq!(
            std::fs::metadata(dir.join("new")).unwrap().len(),
            GRUBENV_SIZE as u64
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
