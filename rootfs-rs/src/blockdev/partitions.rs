//! Partition tables of raw disk images: GPT (with CRC checks and backup header) and MBR with
//! logical partitions, numbered the way Linux names them (sda1…, logical from 5).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const SECTOR: u64 = 512;
/// Bounds for hostile tables: GPT allows any count, real ones use 128.
const MAX_GPT_ENTRIES: u32 = 1024;
const MAX_LOGICAL: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Also called "msdos" (GRUB's `hd0,msdos1`).
    Mbr,
    Gpt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based, as in `sda2`.
    pub number: u32,
    /// Byte offset and length within the disk.
    pub start: u64,
    pub size: u64,
    /// MBR type byte as "0x83", or the GPT type GUID.
    pub type_id: String,
    /// GPT partition name; empty for MBR.
    pub name: String,
    /// GPT unique partition GUID (blkid's PARTUUID); None for MBR.
    pub part_uuid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    pub kind: TableKind,
    pub partitions: Vec<Partition>,
    /// Problems that did not stop reading (bad primary GPT, odd entries).
    pub warnings: Vec<String>,
}

/// Positioned reads of a disk: a device or image file, or its bytes in memory (the fuzz
/// targets read tables from their input).
pub trait DiskRead {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl DiskRead for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl DiskRead for &[u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fn read_at(file: &dyn DiskRead, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(word)
}

/// CRC-32 as GPT uses it (IEEE 802.3, reflected, init and final xor all ones).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// GUIDs are stored with their first three fields little-endian.
pub fn format_guid(raw: &[u8]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6],
        raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]
    )
}

/// Reads the partition table of a disk of `disk_size` bytes; Ok(None) when it has none.
pub fn read_partition_table(
    file: &dyn DiskRead,
    disk_size: u64,
) -> Result<Option<PartitionTable>, String> {
    if disk_size < 2 * SECTOR {
        return Ok(None);
    }
    let mbr = read_at(file, 0, SECTOR as usize).map_err(|e| format!("reading MBR: {e}"))?;
    if mbr[510] != 0x55 || mbr[511] != 0xAA {
        return Ok(None);
    }
    let primaries: Vec<(u8, u64, u64)> = (0..4)
        .map(|i| {
            let e = &mbr[446 + 16 * i..446 + 16 * (i + 1)];
            (e[4], u64::from(le32(e, 8)), u64::from(le32(e, 12)))
        })
        .collect();
    if primaries.iter().any(|&(kind, _, _)| kind == 0xEE) {
        return read_gpt(file, disk_size).map(Some);
    }
    // A FAT boot sector also ends in 55AA; its "partition entries" are code, so demand sane ones.
    let valid = primaries
        .iter()
        .all(|&(kind, start, _)| kind == 0 || start > 0)
        && mbr[446..510].chunks(16).all(|e| e[0] & 0x7F == 0);
    if !valid || primaries.iter().all(|&(kind, _, _)| kind == 0) {
        return Ok(None);
    }
    Ok(Some(read_mbr(file, &primaries)))
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

fn read_mbr(file: &dyn DiskRead, primaries: &[(u8, u64, u64)]) -> PartitionTable {
    let mut table = PartitionTable {
        kind: TableKind::Mbr,
        partitions: Vec::new(),
        warnings: Vec::new(),
    };
    let mut extended = None;
    for (index, &(kind, start, len)) in primaries.iter().enumerate() {
        if kind == 0 || len == 0 {
            continue;
        }
        if is_extended(kind) {
            extended = Some(start);
            continue;
        }
        table
            .partitions
            .push(mbr_partition(index as u32 + 1, kind, start, len));
    }
    if let Some(ext_start) = extended {
        read_logical(file, ext_start, &mut table);
    }
    table
}

fn mbr_partition(number: u32, kind: u8, start: u64, len: u64) -> Partition {
    Partition {
        number,
        start: start * SECTOR,
        size: len * SECTOR,
        type_id: format!("0x{kind:02x}"),
        name: String::new(),
        part_uuid: None,
    }
}

/// Walks the chain of extended boot records: each holds one logical partition (relative to
/// itself) and a link to the next (relative to the extended partition).
fn read_logical(file: &dyn DiskRead, ext_start: u64, table: &mut PartitionTable) {
    let mut ebr = ext_start;
    let mut seen = Vec::new();
    for number in 5..5 + MAX_LOGICAL as u32 {
        if seen.contains(&ebr) {
            table
                .warnings
                .push(format!("extended partition chain loops at sector {ebr}"));
            return;
        }
        seen.push(ebr);
        let sector = match read_at(file, ebr * SECTOR, SECTOR as usize) {
            Ok(s) if s[510] == 0x55 && s[511] == 0xAA => s,
            Ok(_) => {
                return table
                    .warnings
                    .push(format!("no boot record at sector {ebr}"))
            }
            Err(err) => return table.warnings.push(format!("reading sector {ebr}: {err}")),
        };
        let (kind, rel, len) = (
            sector[446 + 4],
            u64::from(le32(&sector, 446 + 8)),
            u64::from(le32(&sector, 446 + 12)),
        );
        if kind != 0 && len != 0 {
            table
                .partitions
                .push(mbr_partition(number, kind, ebr + rel, len));
        }
        let next = u64::from(le32(&sector, 462 + 8));
        if sector[462 + 4] == 0 || next == 0 {
            return;
        }
        ebr = ext_start + next;
    }
    table.warnings.push(format!(
        "more than {MAX_LOGICAL} logical partitions; the rest are ignored"
    ));
}

fn read_gpt(file: &dyn DiskRead, disk_size: u64) -> Result<PartitionTable, String> {
    let last_lba = disk_size / SECTOR - 1;
    let mut warnings = Vec::new();
    let primary = gpt_header(file, 1);
    let header = match primary {
        Ok(h) => h,
        Err(err) => {
            warnings.push(format!("primary GPT header: {err}; using the backup"));
            gpt_header(file, last_lba)
                .map_err(|e| format!("GPT: primary and backup headers bad ({e})"))?
        }
    };
    let mut partitions = Vec::new();
    for index in 0..header.count {
        let at = index as usize * header.entry_size as usize;
        let entry = &header.entries[at..at + 128];
        if entry[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let (first, last) = (le64(entry, 32), le64(entry, 40));
        if last < first || last > last_lba {
            warnings.push(format!(
                "GPT entry {}: sectors {first}..{last} outside the disk; skipped",
                index + 1
            ));
            continue;
        }
        let name: Vec<u16> = entry[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        partitions.push(Partition {
            number: index + 1,
            start: first * SECTOR,
            size: (last - first + 1) * SECTOR,
            type_id: format_guid(&entry[0..16]),
            name: String::from_utf16_lossy(&name),
            part_uuid: Some(format_guid(&entry[16..32])),
        });
    }
    Ok(PartitionTable {
        kind: TableKind::Gpt,
        partitions,
        warnings,
    })
}

struct GptHeader {
    count: u32,
    entry_size: u32,
    entries: Vec<u8>,
}

fn gpt_header(file: &dyn DiskRead, lba: u64) -> Result<GptHeader, String> {
    let raw = read_at(file, lba * SECTOR, SECTOR as usize).map_err(|e| e.to_string())?;
    if &raw[0..8] != b"EFI PART" {
        return Err(format!("no \"EFI PART\" signature at sector {lba}"));
    }
    let size = le32(&raw, 12) as usize;
    if !(92..=SECTOR as usize).contains(&size) {
        return Err(format!("header size {size} out of range"));
    }
    let mut copy = raw[..size].to_vec();
    copy[16..20].fill(0);
    if crc32(&copy) != le32(&raw, 16) {
        return Err("header CRC mismatch".to_string());
    }
    let (entries_lba, count, entry_size) = (le64(&raw, 72), le32(&raw, 80), le32(&raw, 84));
    if count > MAX_GPT_ENTRIES || !(128..=4096).contains(&entry_size) || entry_size % 8 != 0 {
        return Err(format!(
            "{count} entries of {entry_size} bytes: not a sane table"
        ));
    }
    let entries = read_at(
        file,
        entries_lba.saturating_mul(SECTOR),
        (count * entry_size) as usize,
    )
    .map_err(|e| format!("reading entries at sector {entries_lba}: {e}"))?;
    if crc32(&entries) != le32(&raw, 88) {
        return Err("partition entry array CRC mismatch".to_string());
    }
    Ok(GptHeader {
        count,
        entry_size,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn guid_byte_order() {
        // The EFI System Partition type GUID as stored on disk.
        let raw = [
            0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E,
            0xC9, 0x3B,
        ];
        assert_eq!(format_guid(&raw), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    }
}
