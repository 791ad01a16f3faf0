//! Filesystem identification from superblock bytes: type, UUID and label (what `blkid -p` tells).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes a probe needs from the start of a volume: the btrfs superblock ends at 64 KiB + 4 KiB.
pub const PROBE_BYTES: usize = 0x11000;

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
pub fn probe(head: &[u8]) -> Option<FsInfo> {
    probe_ext(head)
        .or_else(|| probe_xfs(head))
        .or_else(|| probe_btrfs(head))
        .or_else(|| probe_iso9660(head))
        .or_else(|| probe_vfat(head))
}

fn bytes(head: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    head.get(offset..offset.checked_add(len)?)
}

fn le16(head: &[u8], offset: usize) -> Option<u16> {
    bytes(head, offset, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn le32(head: &[u8], offset: usize) -> Option<u32> {
    bytes(head, offset, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// 16 raw bytes as the usual 8-4-4-4-12 text; None when all zero (no UUID set).
pub fn format_uuid(raw: &[u8]) -> Option<String> {
    if raw.len() != 16 || raw.iter().all(|&b| b == 0) {
        return None;
    }
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// A fixed-size label field: stops at the first NUL, trailing blanks dropped, None if empty.
fn label_field(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..end]);
    let text = text.trim_end_matches([' ', '\0']);
    (!text.is_empty()).then(|| text.to_string())
}

// ext2/3/4 superblock (at 1024): feature words decide which of the three it is, as blkid does.
const EXT_SB: usize = 1024;
const EXT_COMPAT_HAS_JOURNAL: u32 = 0x4;
const EXT_INCOMPAT_JOURNAL_DEV: u32 = 0x8;
/// Incompat features ext2 and ext3 understand: filetype, needs_recovery (ext3), meta_bg.
const EXT2_INCOMPAT_OK: u32 = 0x2 | 0x10;
const EXT3_INCOMPAT_OK: u32 = 0x2 | 0x4 | 0x10;
/// Ro-compat features ext2/ext3 understand: sparse_super, large_file, btree_dir.
const EXT23_RO_COMPAT_OK: u32 = 0x1 | 0x2 | 0x4;

fn probe_ext(head: &[u8]) -> Option<FsInfo> {
    if le16(head, EXT_SB + 0x38)? != 0xEF53 {
        return None;
    }
    let compat = le32(head, EXT_SB + 0x5C)?;
    let incompat = le32(head, EXT_SB + 0x60)?;
    let ro_compat = le32(head, EXT_SB + 0x64)?;
    if incompat & EXT_INCOMPAT_JOURNAL_DEV != 0 {
        return None; // an external journal, not a mountable filesystem
    }
    let journal = compat & EXT_COMPAT_HAS_JOURNAL != 0;
    let old_ro = ro_compat & !EXT23_RO_COMPAT_OK == 0;
    let kind = if !journal && old_ro && incompat & !EXT2_INCOMPAT_OK == 0 {
        FsKind::Ext2
    } else if journal && old_ro && incompat & !EXT3_INCOMPAT_OK == 0 {
        FsKind::Ext3
    } else {
        FsKind::Ext4
    };
    Some(FsInfo {
        kind,
        uuid: format_uuid(bytes(head, EXT_SB + 0x68, 16)?),
        label: label_field(bytes(head, EXT_SB + 0x78, 16)?),
    })
}

fn probe_xfs(head: &[u8]) -> Option<FsInfo> {
    if bytes(head, 0, 4)? != b"XFSB" {
        return None;
    }
    Some(FsInfo {
        kind: FsKind::Xfs,
        uuid: format_uuid(bytes(head, 32, 16)?),
        label: label_field(bytes(head, 108, 12)?),
    })
}

const BTRFS_SB: usize = 0x10000;

fn probe_btrfs(head: &[u8]) -> Option<FsInfo> {
    if bytes(head, BTRFS_SB + 0x40, 8)? != b"_BHRfS_M" {
        return None;
    }
    Some(FsInfo {
        kind: FsKind::Btrfs,
        uuid: format_uuid(bytes(head, BTRFS_SB + 0x20, 16)?),
        label: label_field(bytes(head, BTRFS_SB + 0x12B, 256)?),
    })
}

/// The primary volume descriptor sits in the 2 KiB sector 16.
const ISO_PVD: usize = 16 * 2048;

fn probe_iso9660(head: &[u8]) -> Option<FsInfo> {
    let pvd = bytes(head, ISO_PVD, 2048)?;
    if pvd[0] != 1 || &pvd[1..6] != b"CD001" {
        return None;
    }
    // blkid and GRUB both name an ISO by its creation time: YYYY-MM-DD-HH-MM-SS-cc.
    let date = &pvd[813..829];
    let uuid =
        (date.iter().all(u8::is_ascii_digit) && date.iter().any(|&d| d != b'0')).then(|| {
            let d = String::from_utf8_lossy(date);
            format!(
                "{}-{}-{}-{}-{}-{}-{}",
                &d[0..4],
                &d[4..6],
                &d[6..8],
                &d[8..10],
                &d[10..12],
                &d[12..14],
                &d[14..16]
            )
        });
    Some(FsInfo {
        kind: FsKind::Iso9660,
        uuid,
        label: label_field(&pvd[40..72]),
    })
}

fn probe_vfat(head: &[u8]) -> Option<FsInfo> {
    let sector_size = le16(head, 0x0B)?;
    let per_cluster = *head.get(0x0D)?;
    let reserved = le16(head, 0x0E)?;
    let fats = *head.get(0x10)?;
    let sane = matches!(sector_size, 512 | 1024 | 2048 | 4096)
        && per_cluster.is_power_of_two()
        && reserved > 0
        && matches!(fats, 1 | 2);
    if !sane {
        return None;
    }
    // FAT32 keeps its extended BPB at 0x40, FAT12/16 at 0x24; signature 0x29 marks id+label.
    let ebpb = if bytes(head, 0x52, 5)? == b"FAT32" {
        0x40
    } else if bytes(head, 0x36, 3)? == b"FAT" {
        0x24
    } else {
        return None;
    };
    if *head.get(ebpb + 2)? != 0x29 {
        return Some(FsInfo {
            kind: FsKind::Vfat,
            uuid: None,
            label: None,
        });
    }
    let id = bytes(head, ebpb + 3, 4)?;
    let uuid = format!("{:02X}{:02X}-{:02X}{:02X}", id[3], id[2], id[1], id[0]);
    let label = label_field(bytes(head, ebpb + 7, 11)?).filter(|l| l != "NO NAME");
    Some(FsInfo {
        kind: FsKind::Vfat,
        uuid: Some(uuid),
        label,
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
