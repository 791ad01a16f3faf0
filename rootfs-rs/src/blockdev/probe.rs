//! File system signature probes (ext2/3/4, vfat, xfs, btrfs, iso9660, swap, LUKS): TYPE,
//! LABEL and UUID from the on-disk superblocks. Pure functions over the device's first bytes,
//! so the boot menu can reuse them. Offsets are from the kernel's and the formats' docs.
use std::io::Read;
use std::path::Path;

/// How much of a device the probes look at (btrfs' superblock sits at 64 KiB).
pub const PROBE_BYTES: usize = 0x10000 + 0x1000;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Probe {
    pub fs_type: &'static str,
    pub label: Option<String>,
    pub uuid: Option<String>,
    pub block_size: Option<u32>,
    /// FAT12/16 are also "msdos" to blkid.
    pub sec_type: Option<&'static str>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Standard 8-4-4-4-12 text of a binary UUID; None if all zero.
pub fn uuid_text(b: &[u8]) -> Option<String> {
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    ))
}

/// A NUL- or space-padded label; None if empty.
fn label_text(b: &[u8], trim_spaces: bool) -> Option<String> {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    let text = String::from_utf8_lossy(&b[..end]).into_owned();
    let text = if trim_spaces {
        text.trim_end_matches(' ').to_string()
    } else {
        text
    };
    (!text.is_empty()).then_some(text)
}

fn ext(b: &[u8]) -> Option<Probe> {
    const SB: usize = 1024;
    if le16(b, SB + 0x38) != 0xEF53 {
        return None;
    }
    let compat = le32(b, SB + 0x5C);
    let incompat = le32(b, SB + 0x60);
    let ro_compat = le32(b, SB + 0x64);
    // Features ext3 understands; anything else makes it ext4 (as blkid decides).
    const EXT3_INCOMPAT: u32 = 0x0002 | 0x0004 | 0x0010;
    const EXT3_RO_COMPAT: u32 = 0x0001 | 0x0002 | 0x0004;
    const HAS_JOURNAL: u32 = 0x0004;
    const JOURNAL_DEV: u32 = 0x0008;
    if incompat & JOURNAL_DEV != 0 {
        return None;
    }
    let fs_type = if incompat & !EXT3_INCOMPAT != 0 || ro_compat & !EXT3_RO_COMPAT != 0 {
        "ext4"
    } else if compat & HAS_JOURNAL != 0 {
        "ext3"
    } else {
        "ext2"
    };
    Some(Probe {
        fs_type,
        label: label_text(&b[SB + 0x78..SB + 0x88], false),
        uuid: uuid_text(&b[SB + 0x68..SB + 0x78]),
        block_size: Some(1024u32 << le32(b, SB + 0x18).min(16)),
        sec_type: None,
    })
}

fn vfat(b: &[u8]) -> Option<Probe> {
    if b[510] != 0x55 || b[511] != 0xAA {
        return None;
    }
    let bytes_per_sector = le16(b, 11);
    let sane = matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && b[13].is_power_of_two()
        && le16(b, 14) > 0
        && matches!(b[16], 1 | 2);
    if !sane {
        return None;
    }
    // FAT32 keeps its extended BPB at 0x40, FAT12/16 at 0x24; signature 0x29 marks that
    // the volume id and label that follow are valid.
    let (ebpb, fat32) = if &b[0x52..0x57] == b"FAT32" {
        (0x40, true)
    } else if &b[0x36..0x39] == b"FAT" {
        (0x24, false)
    } else {
        return None;
    };
    let (label, uuid) = if b[ebpb + 2] == 0x29 {
        let serial = le32(b, ebpb + 3);
        (
            label_text(&b[ebpb + 7..ebpb + 18], true).filter(|l| l != "NO NAME"),
            Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF)),
        )
    } else {
        (None, None)
    };
    Some(Probe {
        fs_type: "vfat",
        label,
        uuid,
        block_size: Some(u32::from(bytes_per_sector)),
        sec_type: (!fat32).then_some("msdos"),
    })
}

fn xfs(b: &[u8]) -> Option<Probe> {
    if &b[0..4] != b"XFSB" {
        return None;
    }
    Some(Probe {
        fs_type: "xfs",
        label: label_text(&b[108..120], false),
        uuid: uuid_text(&b[32..48]),
        // blkid reports the sector size (sb_sectsize) for XFS.
        block_size: Some(u32::from(u16::from_be_bytes([b[102], b[103]]))),
        sec_type: None,
    })
}

fn btrfs(b: &[u8]) -> Option<Probe> {
    const SB: usize = 0x10000;
    if b.len() < SB + 0x12B + 256 || &b[SB + 0x40..SB + 0x48] != b"_BHRfS_M" {
        return None;
    }
    Some(Probe {
        fs_type: "btrfs",
        label: label_text(&b[SB + 0x12B..SB + 0x12B + 256], false),
        uuid: uuid_text(&b[SB + 0x20..SB + 0x30]),
        block_size: Some(le32(b, SB + 0x90)),
        sec_type: None,
    })
}

fn iso9660(b: &[u8]) -> Option<Probe> {
    const PVD: usize = 0x8000;
    if b.len() < PVD + 2048 || b[PVD] != 1 || &b[PVD + 1..PVD + 6] != b"CD001" {
        return None;
    }
    // blkid's UUID for ISO images is the creation time: YYYY-MM-DD-HH-MM-SS-cc.
    let date = &b[PVD + 813..PVD + 829];
    let uuid =
        (date.iter().all(|c| c.is_ascii_digit()) && date.iter().any(|&c| c != b'0')).then(|| {
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
    Some(Probe {
        fs_type: "iso9660",
        label: label_text(&b[PVD + 40..PVD + 72], true),
        uuid,
        block_size: Some(u32::from(le16(b, PVD + 128))),
        sec_type: None,
    })
}

fn swap(b: &[u8]) -> Option<Probe> {
    // The signature ends the first page; try the common page sizes.
    for page in [4096usize, 8192, 16384, 65536] {
        if b.len() >= page && &b[page - 10..page] == b"SWAPSPACE2" {
            return Some(Probe {
                fs_type: "swap",
                label: label_text(&b[1024 + 28..1024 + 44], false),
                uuid: uuid_text(&b[1024 + 12..1024 + 28]),
                block_size: None,
                sec_type: None,
            });
        }
    }
    None
}

fn luks(b: &[u8]) -> Option<Probe> {
    if &b[0..6] != b"LUKS\xba\xbe" {
        return None;
    }
    let version = u16::from_be_bytes([b[6], b[7]]);
    Some(Probe {
        fs_type: "crypto_LUKS",
        label: if version == 2 {
            label_text(&b[24..72], false)
        } else {
            None
        },
        uuid: label_text(&b[168..208], false),
        block_size: None,
        sec_type: None,
    })
}

/// Identify the file system in `head` (the first PROBE_BYTES of a device, shorter if small).
pub fn probe_bytes(head: &[u8]) -> Option<Probe> {
    let mut buf = head.to_vec();
    if buf.len() < PROBE_BYTES {
        buf.resize(PROBE_BYTES, 0);
    }
    // Most specific signatures first: a FAT boot sector can hide inside an ISO hybrid image.
    luks(&buf)
        .or_else(|| xfs(&buf))
        .or_else(|| btrfs(&buf))
        .or_else(|| ext(&buf))
        .or_else(|| iso9660(&buf))
        .or_else(|| swap(&buf))
        .or_else(|| vfat(&buf))
}

/// Read a device or image and probe it.
pub fn probe_path(path: &Path) -> std::io::Result<Option<Probe>> {
    let file = std::fs::File::open(path)?;
    let mut head = Vec::with_capacity(PROBE_BYTES);
    file.take(PROBE_BYTES as u64).read_to_end(&mut head)?;
    Ok(probe_bytes(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext4_superblock_fields() {
        let mut b = vec![0u8; PROBE_BYTES];
        b[1024 + 0x38] = 0x53;
        b[1024 + 0x39] = 0xEF;
        b[1024 + 0x60] = 0x40; // extents
        b[1024 + 0x18] = 2; // 4 KiB blocks
        b[1024 + 0x68..1024 + 0x78].copy_from_slice(&[
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        b[1024 + 0x78..1024 + 0x7d].copy_from_slice(b"root\0");
        let p = probe_bytes(&b);
        assert_eq!(p.as_ref().map(|p| p.fs_type), Some("ext4"));
        assert_eq!(
            p.as_ref().and_then(|p| p.label.clone()),
            Some("root".into())
        );
        assert_eq!(
            p.as_ref().and_then(|p| p.uuid.clone()),
            Some("12345678-9abc-def0-0102-030405060708".into())
        );
        assert_eq!(p.and_then(|p| p.block_size), Some(4096));
    }

    #[test]
    fn nothing_on_zeroes_or_short_input() {
        assert_eq!(probe_bytes(&[0u8; 100]), None);
        assert_eq!(probe_bytes(&[]), None);
    }
}
