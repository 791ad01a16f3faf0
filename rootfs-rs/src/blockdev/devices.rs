//! Block devices as sysfs lists them: what the boot menu and the capture kernel probe (no RAM
//! disks, unbacked loops, empty drives), and every node for blkid.

use std::path::{Path, PathBuf};

/// A block device as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    pub name: String,
    pub node: PathBuf,
    /// Whole disk this partition belongs to; None for a whole disk.
    pub parent: Option<String>,
    pub partition: Option<u32>,
    /// Partition start in 512-byte sectors (0 for disks).
    pub start: u64,
    pub size_bytes: u64,
}

fn read_attr(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The kernel names of the block devices in a sysfs class directory (`/sys/class/block`),
/// unsorted.
fn sysfs_names(sys_block: &Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_dir(sys_block)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// Devices worth probing: no RAM disks, unbacked loops, empty drives (size 0) or floppies
/// (probing an empty floppy drive blocks for a long time).
pub fn list_block_devices(sys_block: &Path, dev_dir: &Path) -> (Vec<BlockDevice>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut names = match sysfs_names(sys_block) {
        Ok(names) => names,
        Err(err) => {
            warnings.push(format!("{}: {err}", sys_block.display()));
            return (Vec::new(), warnings);
        }
    };
    names.sort_by(|a, b| natural_order(a, b));
    let mut devices = Vec::new();
    for name in names {
        let dir = sys_block.join(&name);
        let skipped = ["ram", "zram", "fd"].iter().any(|p| name.starts_with(p))
            || (name.starts_with("loop") && !dir.join("loop/backing_file").exists());
        let size_sectors: u64 = read_attr(&dir, "size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if skipped || size_sectors == 0 {
            continue;
        }
        let partition = read_attr(&dir, "partition").and_then(|s| s.parse().ok());
        let parent = partition.and_then(|_| {
            let real = std::fs::canonicalize(&dir).ok()?;
            Some(real.parent()?.file_name()?.to_string_lossy().into_owned())
        });
        devices.push(BlockDevice {
            node: dev_dir.join(name.replace('!', "/")),
            start: read_attr(&dir, "start")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            name,
            parent,
            partition,
            size_bytes: size_sectors.saturating_mul(512),
        });
    }
    (devices, warnings)
}

/// "vda2" < "vda10", so disks and partitions come in the order people count them.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| {
        let digits = s.len() - s.bytes().rev().take_while(u8::is_ascii_digit).count();
        (
            s[..digits].to_string(),
            s[digits..].parse::<u64>().unwrap_or(0),
        )
    };
    split(a).cmp(&split(b))
}

/// Every block device the kernel knows, as /dev paths, in /sys order.
pub fn all_block_devices() -> Vec<PathBuf> {
    let mut names = sysfs_names(Path::new("/sys/class/block")).unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|n| Path::new("/dev").join(n))
        .filter(|p| p.exists())
        .collect()
}
