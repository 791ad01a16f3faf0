//! What a scan finds: filesystems (`Volume`), boot entries placed on the filesystem their
//! kernel lives on (`DiscoveredEntry`) and the whole result (`Discovery`). Shared by the
//! scanners, the resolver, the menu and the launchers.

use std::path::PathBuf;

use crate::blockdev::fstype::FsInfo;
use crate::boot::entry::{BootEntry, Parsed};

/// One filesystem found on a disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Kernel name ("vda2"), or for an image file its stem plus partition number.
    pub device: String,
    /// Position of its disk among all disks (GRUB's `hdN`, in name order).
    pub disk_index: usize,
    /// Partition number; None for a filesystem on the whole disk.
    pub partition: Option<u32>,
    pub fs: FsInfo,
}

/// A boot entry with the filesystem its kernel is loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredEntry {
    pub entry: BootEntry,
    /// Device holding the kernel (after `search --fs-uuid` etc. was resolved).
    pub device: String,
    pub fs_uuid: Option<String>,
    pub fs_label: Option<String>,
    /// Where that filesystem is mounted (or the tree standing for it in tests).
    pub mount_point: PathBuf,
    /// Device whose config listed the entry.
    pub config_device: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub entries: Vec<DiscoveredEntry>,
    /// Human-readable, prefixed with the device ("vdb1: grub: /boot/grub/grub.cfg:3: …").
    pub warnings: Vec<String>,
    /// Timeout of the first filesystem that had entries.
    pub timeout_secs: Option<u32>,
}

/// A volume whose filesystem is reachable at `root`, with what its configs said.
pub struct ScannedVolume {
    pub volume: Volume,
    pub root: PathBuf,
    pub parsed: Parsed,
}
