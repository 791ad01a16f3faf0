//! GUID partition tables (UEFI spec 2.x, chapter 5) with a protective MBR.
//!
//! Written by hand rather than through the `gpt` crate so that every byte — disk and
//! partition GUIDs included — is under our control and the image is reproducible.

use std::fmt;

pub const SECTOR: u64 = 512;
const ENTRY_COUNT: u64 = 128;
const ENTRY_SIZE: u64 = 128;
/// Sectors taken by the entry array: 128 entries × 128 bytes.
const ENTRY_SECTORS: u64 = ENTRY_COUNT * ENTRY_SIZE / SECTOR;

pub const BIOS_BOOT_TYPE: Guid = Guid::from_fields(
    0x21686148,
    0x6449,
    0x6E6F,
    *b"\x74\x4E\x65\x65\x64\x45\x46\x49",
);
pub const ESP_TYPE: Guid = Guid::from_fields(
    0xC12A7328,
    0xF81F,
    0x11D2,
    [0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B],
);

/// A GUID in its on-disk (mixed-endian) byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9]
        )?;
        b[10..].iter().try_for_each(|x| write!(f, "{x:02X}"))
    }
}

#[derive(Debug, Clone)]
pub struct Partition {
    pub type_guid: Guid,
    pub unique_guid: Guid,
    pub first_lba: u64,
    /// Inclusive, as in the spec.
    pub last_lba: u64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GptError {
    TooSmall { disk_sectors: u64 },
    OutOfRange { name: String },
    Overlap { a: String, b: String },
    TooManyPartitions,
}

impl fmt::Display for GptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GptError::TooSmall { disk_sectors } => {
                write!(f, "disk of {disk_sectors} sectors is too small for a GPT")
            }
            GptError::OutOfRange { name } => {
                write!(f, "partition {name:?} lies outside the usable LBA range")
            }
            GptError::Overlap { a, b } => write!(f, "partitions {a:?} and {b:?} overlap"),
            GptError::TooManyPartitions => write!(f, "more than {ENTRY_COUNT} partitions"),
        }
    }
}

impl std::error::Error for GptError {}

/// First and last LBA a partition may use on a disk of `disk_sectors` sectors.
pub fn usable_range(disk_sectors: u64) -> (u64, u64) {
    (2 + ENTRY_SECTORS, disk_sectors - 2 - ENTRY_SECTORS)
}

/// Writes the protective MBR, primary and backup GPT into `disk` (whose length is the
/// disk size). The MBR's boot code area (bytes 0..440) is left as the caller set it.
pub fn write_gpt(
    disk: &mut [u8],
    disk_guid: Guid,
    partitions: &[Partition],
) -> Result<(), GptError> {
    let disk_sectors = disk.len() as u64 / SECTOR;
    if disk_sectors < 2 * (2 + ENTRY_SECTORS) + 1 {
        return Err(GptError::TooSmall { disk_sectors });
    }
    if partitions.len() as u64 > ENTRY_COUNT {
        return Err(GptError::TooManyPartitions);
    }
    let (first_usable, last_usable) = usable_range(disk_sectors);
    for (i, p) in partitions.iter().enumerate() {
        if p.first_lba < first_usable || p.last_lba > last_usable || p.first_lba > p.last_lba {
            return Err(GptError::OutOfRange {
                name: p.name.clone(),
            });
        }
        if let Some(q) = partitions[..i]
            .iter()
            .find(|q| q.first_lba <= p.last_lba && p.first_lba <= q.last_lba)
        {
            return Err(GptError::Overlap {
                a: q.name.clone(),
                b: p.name.clone(),
            });
        }
    }

    write_protective_mbr(disk, disk_sectors);

    let entries = entry_array(partitions);
    let entries_crc = crc32fast::hash(&entries);
    let backup_entries_lba = disk_sectors - 1 - ENTRY_SECTORS;
    put(disk, 2 * SECTOR, &entries);
    put(disk, backup_entries_lba * SECTOR, &entries);

    let header = |my_lba: u64, alternate_lba: u64, entries_lba: u64| {
        let mut h = [0u8; 92];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&my_lba.to_le_bytes());
        h[32..40].copy_from_slice(&alternate_lba.to_le_bytes());
        h[40..48].copy_from_slice(&first_usable.to_le_bytes());
        h[48..56].copy_from_slice(&last_usable.to_le_bytes());
        h[56..72].copy_from_slice(&disk_guid.0);
        h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        h[80..84].copy_from_slice(&(ENTRY_COUNT as u32).to_le_bytes());
        h[84..88].copy_from_slice(&(ENTRY_SIZE as u32).to_le_bytes());
        h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let crc = crc32fast::hash(&h);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    };
    put(disk, SECTOR, &header(1, disk_sectors - 1, 2));
    put(
        disk,
        (disk_sectors - 1) * SECTOR,
        &header(disk_sectors - 1, 1, backup_entries_lba),
    );
    Ok(())
}

fn write_protective_mbr(disk: &mut [u8], disk_sectors: u64) {
    let size = u32::try_from(disk_sectors - 1).unwrap_or(u32::MAX);
    let mut entry = [0u8; 16];
    // CHS fields as the spec asks: start 0/0/2, end "beyond CHS".
    entry[1..4].copy_from_slice(&[0x00, 0x02, 0x00]);
    entry[4] = 0xEE;
    entry[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
    entry[8..12].copy_from_slice(&1u32.to_le_bytes());
    entry[12..16].copy_from_slice(&size.to_le_bytes());
    disk[440..446].fill(0);
    put(disk, 446, &entry);
    disk[462..510].fill(0);
    disk[510] = 0x55;
    disk[511] = 0xAA;
}

fn entry_array(partitions: &[Partition]) -> Vec<u8> {
    let mut entries = vec![0u8; (ENTRY_COUNT * ENTRY_SIZE) as usize];
    for (p, e) in partitions
        .iter()
        .zip(entries.chunks_mut(ENTRY_SIZE as usize))
    {
        e[0..16].copy_from_slice(&p.type_guid.0);
        e[16..32].copy_from_slice(&p.unique_guid.0);
        e[32..40].copy_from_slice(&p.first_lba.to_le_bytes());
        e[40..48].copy_from_slice(&p.last_lba.to_le_bytes());
        // Partition names are at most 36 UTF-16 code units.
        for (i, unit) in p.name.encode_utf16().take(36).enumerate() {
            e[56 + 2 * i..58 + 2 * i].copy_from_slice(&unit.to_le_bytes());
        }
    }
    entries
}

fn put(disk: &mut [u8], offset: u64, bytes: &[u8]) {
    let start = offset as usize;
    disk[start..start + bytes.len()].copy_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_guids_print_like_the_spec() {
        assert_eq!(ESP_TYPE.to_string(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert_eq!(
            BIOS_BOOT_TYPE.to_string(),
            "21686148-6449-6E6F-744E-656564454649"
        );
    }

    #[test]
    fn header_crc_verifies_and_backup_mirrors_primary() {
        let mut disk = vec![0u8; 4096 * 512];
        let part = Partition {
            type_guid: ESP_TYPE,
            unique_guid: Guid([7; 16]),
            first_lba: 2048,
            last_lba: 4000,
            name: "ESP".into(),
        };
        write_gpt(&mut disk, Guid([1; 16]), &[part]).unwrap();
        let primary = &disk[512..604];
        let mut zeroed = primary.to_vec();
        zeroed[16..20].fill(0);
        assert_eq!(crc32fast::hash(&zeroed).to_le_bytes(), primary[16..20]);
        let backup = &disk[(4095 * 512)..(4095 * 512 + 92)];
        assert_eq!(&backup[0..8], b"EFI PART");
        assert_eq!(u64::from_le_bytes(backup[24..32].try_into().unwrap()), 4095);
        assert_eq!(
            &disk[1024..1024 + 128],
            &disk[(4095 - 32) * 512..(4095 - 32) * 512 + 128]
        );
        assert_eq!(disk[450], 0xEE);
        assert_eq!(&disk[510..512], &[0x55, 0xAA]);
    }

    #[test]
    fn overlapping_partitions_are_refused() {
        let mut disk = vec![0u8; 4096 * 512];
        let p = |a, b, n: &str| Partition {
            type_guid: ESP_TYPE,
            unique_guid: Guid([0; 16]),
            first_lba: a,
            last_lba: b,
            name: n.into(),
        };
        let err = write_gpt(
            &mut disk,
            Guid([1; 16]),
            &[p(100, 200, "a"), p(200, 300, "b")],
        )
        .unwrap_err();
        assert_eq!(
            err,
            GptError::Overlap {
                a: "a".into(),
                b: "b".into()
            }
        );
        assert!(write_gpt(&mut disk, Guid([1; 16]), &[p(10, 20, "low")]).is_err());
    }
}
