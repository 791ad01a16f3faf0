//! The filesystems the menu can mount: blkid's probes (type, UUID, label from the
//! superblock) narrowed to the kinds it knows how to mount read-only.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

pub use crate::blockdev::probe::PROBE_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    Ext2,
    Ext3,
    Ext4,
    Vfat,
    Xfs,
    Btrfs,
    Iso9660,
}

impl FsKind {
    /// The name `blkid` and `mount -t` use.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext2 => "ext2",
            FsKind::Ext3 => "ext3",
            FsKind::Ext4 => "ext4",
            FsKind::Vfat => "vfat",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::Iso9660 => "iso9660",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsInfo {
    pub kind: FsKind,
    pub uuid: Option<String>,
    pub label: Option<String>,
}

/// Reads the start of a volume (`start` bytes into `file`, at most `size` bytes) and probes it.
pub fn probe_file(file: &File, start: u64, size: u64) -> io::Result<Option<FsInfo>> {
    let wanted = usize::try_from(size.min(PROBE_BYTES as u64)).unwrap_or(PROBE_BYTES);
    let mut head = vec![0u8; wanted];
    let mut filled = 0;
    while filled < head.len() {
        match file.read_at(&mut head[filled..], start + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    head.truncate(filled);
    Ok(probe(&head))
}

/// Identifies the filesystem whose first bytes are `head` (shorter input just finds less).
/// One set of signature probes serves blkid and the menu: this keeps what can be mounted.
pub fn probe(head: &[u8]) -> Option<FsInfo> {
    let p = crate::blockdev::probe::probe_bytes(head)?;
    let kind = match p.fs_type {
        "ext2" => FsKind::Ext2,
        "ext3" => FsKind::Ext3,
        "ext4" => FsKind::Ext4,
        "vfat" => FsKind::Vfat,
        "xfs" => FsKind::Xfs,
        "btrfs" => FsKind::Btrfs,
        "iso9660" => FsKind::Iso9660,
        _ => return None, // swap, LUKS: nothing to read boot configs from
    };
    Some(FsInfo {
        kind,
        uuid: p.uuid,
        label: p.label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_input_find_nothing() {
        assert_eq!(probe(&[]), None);
        assert_eq!(probe(&[0u8; 600]), None);
        assert_eq!(probe(&[0xFFu8; PROBE_BYTES]), None);
    }

    const EXT_SB: usize = 1024;
    const EXT_COMPAT_HAS_JOURNAL: u32 = 0x4;
    const EXT_INCOMPAT_JOURNAL_DEV: u32 = 0x8;

    #[test]
    fn ext_features_decide_the_version() {
        let mut head = vec![0u8; 2048];
        head[EXT_SB + 0x38..EXT_SB + 0x3A].copy_from_slice(&0xEF53u16.to_le_bytes());
        head[EXT_SB + 0x68] = 0xAB;
        head[EXT_SB + 0x78..EXT_SB + 0x7C].copy_from_slice(b"root");
        let kind = |head: &[u8]| probe(head).map(|i| i.kind);
        assert_eq!(kind(&head), Some(FsKind::Ext2));
        head[EXT_SB + 0x5C] = EXT_COMPAT_HAS_JOURNAL as u8;
        assert_eq!(kind(&head), Some(FsKind::Ext3));
        head[EXT_SB + 0x60] = 0x40; // extents
        assert_eq!(kind(&head), Some(FsKind::Ext4));
        head[EXT_SB + 0x60] = EXT_INCOMPAT_JOURNAL_DEV as u8;
        assert_eq!(kind(&head), None);
        head[EXT_SB + 0x60] = 0;
        let info = probe(&head);
        assert_eq!(
            info.as_ref().and_then(|i| i.uuid.clone()).as_deref(),
            Some("ab000000-0000-0000-0000-000000000000")
        );
        assert_eq!(info.and_then(|i| i.label).as_deref(), Some("root"));
    }

    #[test]
    fn an_mbr_is_not_fat() {
        let mut mbr = vec![0u8; 512];
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        mbr[446 + 4] = 0x83;
        assert_eq!(probe(&mbr), None);
    }
}
