//! A FAT32 volume writer for EFI system partitions (Microsoft "FAT32 File System
//! Specification" 1.03 for the layout; VFAT long names for anything not 8.3).
//!
//! Our own writer rather than `fatfs`: the crate's volumes fail `fsck.fat -n` (see
//! docs/architecture.md, "Own GPT and FAT32 writers"), and an image built in one pass from a sorted tree with contiguous files
//! and fixed timestamps is reproducible by construction.

use std::collections::BTreeMap;
use std::fmt;

const SECTOR: usize = 512;
const RESERVED_SECTORS: usize = 32;
const FAT_COUNT: usize = 2;
const DIR_ENTRY: usize = 32;
const END_OF_CHAIN: u32 = 0x0FFF_FFFF;
/// Fewer clusters than this and every FAT driver treats the volume as FAT16.
const MIN_FAT32_CLUSTERS: usize = 65525;
/// 1980-01-01, the FAT epoch: the same stamp on every entry keeps images reproducible.
const FIXED_DATE: u16 = (1 << 5) | 1;

const ATTR_VOLUME_ID: u8 = 0x08;
const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
const ATTR_LONG_NAME: u8 = 0x0F;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FatError {
    TooSmall {
        bytes: u64,
    },
    TooFull {
        needed_clusters: usize,
        clusters: usize,
    },
    BadPath(String),
    Conflict(String),
}

impl fmt::Display for FatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FatError::TooSmall { bytes } => {
                write!(f, "a FAT32 volume needs at least {MIN_FAT32_CLUSTERS} clusters; {bytes} bytes is too small")
            }
            FatError::TooFull {
                needed_clusters,
                clusters,
            } => {
                write!(
                    f,
                    "files need {needed_clusters} clusters but the volume has {clusters}"
                )
            }
            FatError::BadPath(p) => write!(f, "invalid FAT path {p:?}"),
            FatError::Conflict(p) => write!(
                f,
                "{p}: clashes with another name (FAT names are case-insensitive)"
            ),
        }
    }
}

impl std::error::Error for FatError {}

#[derive(Debug, Default, Clone)]
struct Dir {
    subdirs: BTreeMap<String, Dir>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Dir {
    fn child_names(&self) -> impl Iterator<Item = &String> {
        self.subdirs.keys().chain(self.files.keys())
    }
}

/// Builds a FAT32 volume from a set of files; directories are implied by the paths.
#[derive(Debug, Clone)]
pub struct FatBuilder {
    volume_id: u32,
    label: [u8; 11],
    hidden_sectors: u32,
    root: Dir,
}

impl FatBuilder {
    /// `label` is upper-cased and cut to 11 characters.
    pub fn new(volume_id: u32, label: &str) -> Self {
        let mut padded = [b' '; 11];
        for (dst, src) in padded.iter_mut().zip(
            label
                .bytes()
                .filter(u8::is_ascii)
                .map(|b| b.to_ascii_uppercase()),
        ) {
            *dst = src;
        }
        FatBuilder {
            volume_id,
            label: padded,
            hidden_sectors: 0,
            root: Dir::default(),
        }
    }

    /// The partition's start LBA, recorded in the BPB for firmware that looks at it.
    pub fn set_hidden_sectors(&mut self, lba: u32) -> &mut Self {
        self.hidden_sectors = lba;
        self
    }

    pub fn add_file(&mut self, path: &str, data: Vec<u8>) -> Result<&mut Self, FatError> {
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let Some((file_name, dirs)) = components.split_last() else {
            return Err(FatError::BadPath(path.to_string()));
        };
        if components.iter().any(|c| {
            *c == "."
                || *c == ".."
                || c.len() > 255
                || c.contains(['\\', ':', '*', '?', '"', '<', '>', '|'])
        }) {
            return Err(FatError::BadPath(path.to_string()));
        }
        let mut dir = &mut self.root;
        for name in dirs {
            if dir.files.keys().any(|f| f.eq_ignore_ascii_case(name)) {
                return Err(FatError::Conflict(path.to_string()));
            }
            let key = match dir.subdirs.keys().find(|d| d.eq_ignore_ascii_case(name)) {
                Some(existing) => existing.clone(),
                None => name.to_string(),
            };
            dir = dir.subdirs.entry(key).or_default();
        }
        if dir.child_names().any(|n| n.eq_ignore_ascii_case(file_name)) {
            return Err(FatError::Conflict(path.to_string()));
        }
        dir.files.insert(file_name.to_string(), data);
        Ok(self)
    }

    /// The whole volume, `size_bytes` long (rounded down to whole sectors).
    pub fn build(&self, size_bytes: u64) -> Result<Vec<u8>, FatError> {
        let geometry = Geometry::for_size(size_bytes)?;
        let mut volume = Volume {
            bytes: vec![0u8; geometry.total_sectors * SECTOR],
            geometry,
            next_cluster: 2,
        };
        let root_cluster = volume.write_dir(&self.root, None, Some(&self.label))?;
        debug_assert_eq!(root_cluster, 2);
        volume.write_boot_region(self.volume_id, &self.label, self.hidden_sectors);
        Ok(volume.bytes)
    }
}

#[derive(Debug, Clone, Copy)]
struct Geometry {
    total_sectors: usize,
    sectors_per_cluster: usize,
    fat_sectors: usize,
    clusters: usize,
}

impl Geometry {
    fn for_size(size_bytes: u64) -> Result<Geometry, FatError> {
        let total_sectors = usize::try_from(size_bytes / SECTOR as u64)
            .map_err(|_| FatError::TooSmall { bytes: size_bytes })?;
        // Small clusters up to 260 MiB (as mkfs.fat does), 4 KiB beyond.
        let sectors_per_cluster = if total_sectors < 532_480 { 1 } else { 8 };
        let mut fat_sectors = 1;
        loop {
            let data = total_sectors.saturating_sub(RESERVED_SECTORS + FAT_COUNT * fat_sectors);
            let clusters = data / sectors_per_cluster;
            let needed = ((clusters + 2) * 4).div_ceil(SECTOR);
            if needed <= fat_sectors {
                if clusters < MIN_FAT32_CLUSTERS {
                    return Err(FatError::TooSmall { bytes: size_bytes });
                }
                return Ok(Geometry {
                    total_sectors,
                    sectors_per_cluster,
                    fat_sectors,
                    clusters,
                });
            }
            fat_sectors = needed;
        }
    }

    fn cluster_bytes(&self) -> usize {
        self.sectors_per_cluster * SECTOR
    }

    fn cluster_offset(&self, cluster: u32) -> usize {
        let data_start = RESERVED_SECTORS + FAT_COUNT * self.fat_sectors;
        (data_start + (cluster as usize - 2) * self.sectors_per_cluster) * SECTOR
    }
}

struct Volume {
    bytes: Vec<u8>,
    geometry: Geometry,
    next_cluster: u32,
}

impl Volume {
    /// Allocates a contiguous chain for `len` bytes and links it in both FATs.
    /// Returns 0 (the FAT convention) for an empty file.
    fn allocate(&mut self, len: usize) -> Result<u32, FatError> {
        let count = len.div_ceil(self.geometry.cluster_bytes());
        if count == 0 {
            return Ok(0);
        }
        let first = self.next_cluster;
        let needed = first as usize - 2 + count;
        if needed > self.geometry.clusters {
            return Err(FatError::TooFull {
                needed_clusters: needed,
                clusters: self.geometry.clusters,
            });
        }
        for i in 0..count as u32 {
            let next = if i + 1 == count as u32 {
                END_OF_CHAIN
            } else {
                first + i + 1
            };
            self.set_fat(first + i, next);
        }
        self.next_cluster += count as u32;
        Ok(first)
    }

    fn set_fat(&mut self, cluster: u32, value: u32) {
        for fat in 0..FAT_COUNT {
            let start = (RESERVED_SECTORS + fat * self.geometry.fat_sectors) * SECTOR
                + cluster as usize * 4;
            self.bytes[start..start + 4].copy_from_slice(&value.to_le_bytes());
        }
    }

    fn write_data(&mut self, cluster: u32, data: &[u8]) {
        if cluster != 0 {
            let start = self.geometry.cluster_offset(cluster);
            self.bytes[start..start + data.len()].copy_from_slice(data);
        }
    }

    /// Lays out `dir` (its own clusters first, then its children depth-first) and returns
    /// its first cluster. `parent` is None for the root, Some(0) for children of the root.
    fn write_dir(
        &mut self,
        dir: &Dir,
        parent: Option<u32>,
        label: Option<&[u8; 11]>,
    ) -> Result<u32, FatError> {
        let short_names = assign_short_names(dir.child_names().map(String::as_str));
        let mut entry_count = usize::from(parent.is_some()) * 2 + usize::from(label.is_some());
        for name in dir.child_names() {
            entry_count += 1 + long_name_entries(name, &short_names[name]).len();
        }
        // A directory always owns at least one cluster, even when empty.
        let own = self.allocate((entry_count * DIR_ENTRY).max(1))?;
        let mut entries: Vec<[u8; DIR_ENTRY]> = Vec::with_capacity(entry_count);
        if let Some(parent) = parent {
            entries.push(short_entry(b".          ", ATTR_DIRECTORY, own, 0));
            entries.push(short_entry(b"..         ", ATTR_DIRECTORY, parent, 0));
        }
        if let Some(label) = label {
            entries.push(short_entry(label, ATTR_VOLUME_ID, 0, 0));
        }
        // Children of the root record ".." as cluster 0, per the specification.
        let child_parent = if parent.is_none() { 0 } else { own };
        for (name, sub) in &dir.subdirs {
            let cluster = self.write_dir(sub, Some(child_parent), None)?;
            entries.extend(long_name_entries(name, &short_names[name]));
            entries.push(short_entry(&short_names[name], ATTR_DIRECTORY, cluster, 0));
        }
        for (name, data) in &dir.files {
            let cluster = self.allocate(data.len())?;
            self.write_data(cluster, data);
            entries.extend(long_name_entries(name, &short_names[name]));
            entries.push(short_entry(
                &short_names[name],
                ATTR_ARCHIVE,
                cluster,
                data.len() as u32,
            ));
        }
        let table: Vec<u8> = entries.concat();
        self.write_data(own, &table);
        Ok(own)
    }

    fn write_boot_region(&mut self, volume_id: u32, label: &[u8; 11], hidden_sectors: u32) {
        let g = self.geometry;
        let mut boot = [0u8; SECTOR];
        boot[0..3].copy_from_slice(&[0xEB, 0x58, 0x90]);
        boot[3..11].copy_from_slice(b"MSWIN4.1");
        boot[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
        boot[13] = g.sectors_per_cluster as u8;
        boot[14..16].copy_from_slice(&(RESERVED_SECTORS as u16).to_le_bytes());
        boot[16] = FAT_COUNT as u8;
        boot[21] = 0xF8; // fixed disk
        boot[24..26].copy_from_slice(&32u16.to_le_bytes()); // sectors per track
        boot[26..28].copy_from_slice(&64u16.to_le_bytes()); // heads
        boot[28..32].copy_from_slice(&hidden_sectors.to_le_bytes());
        boot[32..36].copy_from_slice(&(g.total_sectors as u32).to_le_bytes());
        boot[36..40].copy_from_slice(&(g.fat_sectors as u32).to_le_bytes());
        boot[44..48].copy_from_slice(&2u32.to_le_bytes()); // root directory cluster
        boot[48..50].copy_from_slice(&1u16.to_le_bytes()); // FSInfo sector
        boot[50..52].copy_from_slice(&6u16.to_le_bytes()); // backup boot sector
        boot[64] = 0x80;
        boot[66] = 0x29; // extended boot signature: the next three fields are valid
        boot[67..71].copy_from_slice(&volume_id.to_le_bytes());
        boot[71..82].copy_from_slice(label);
        boot[82..90].copy_from_slice(b"FAT32   ");
        // Not bootable: the jump lands on `hlt; jmp $-1` instead of zeros.
        boot[90..93].copy_from_slice(&[0xF4, 0xEB, 0xFD]);
        boot[510..512].copy_from_slice(&[0x55, 0xAA]);

        let used = self.next_cluster as usize - 2;
        let mut fsinfo = [0u8; SECTOR];
        fsinfo[0..4].copy_from_slice(&0x4161_5252u32.to_le_bytes());
        fsinfo[484..488].copy_from_slice(&0x6141_7272u32.to_le_bytes());
        fsinfo[488..492].copy_from_slice(&((g.clusters - used) as u32).to_le_bytes());
        fsinfo[492..496].copy_from_slice(&self.next_cluster.to_le_bytes());
        fsinfo[508..512].copy_from_slice(&0xAA55_0000u32.to_le_bytes());

        for base in [0, 6] {
            self.bytes[base * SECTOR..(base + 1) * SECTOR].copy_from_slice(&boot);
            self.bytes[(base + 1) * SECTOR..(base + 2) * SECTOR].copy_from_slice(&fsinfo);
            self.bytes[(base + 3) * SECTOR - 2..(base + 3) * SECTOR].copy_from_slice(&[0x55, 0xAA]);
        }
        self.set_fat(0, 0x0FFF_FF00 | 0xF8);
        self.set_fat(1, END_OF_CHAIN);
    }
}

fn short_entry(name: &[u8; 11], attr: u8, cluster: u32, size: u32) -> [u8; DIR_ENTRY] {
    let mut e = [0u8; DIR_ENTRY];
    e[0..11].copy_from_slice(name);
    e[11] = attr;
    for date_field in [16, 18, 24] {
        e[date_field..date_field + 2].copy_from_slice(&FIXED_DATE.to_le_bytes());
    }
    e[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
    e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
    e[28..32].copy_from_slice(&size.to_le_bytes());
    e
}

const SHORT_NAME_SPECIALS: &[u8] = b"!#$%&'()-@^_`{}~";

fn is_short_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || SHORT_NAME_SPECIALS.contains(&b)
}

/// The 8.3 form of `name` when it already is a plain upper-case 8.3 name.
fn exact_short_name(name: &str) -> Option<[u8; 11]> {
    let (base, ext) = name.split_once('.').unwrap_or((name, ""));
    let valid = |s: &str, max: usize| s.len() <= max && s.bytes().all(is_short_char);
    if base.is_empty() || !valid(base, 8) || !valid(ext, 3) {
        return None;
    }
    let mut out = [b' '; 11];
    out[..base.len()].copy_from_slice(base.as_bytes());
    out[8..8 + ext.len()].copy_from_slice(ext.as_bytes());
    Some(out)
}

/// Short names for a directory's children: exact where possible, else `BASE~N.EXT`.
fn assign_short_names<'a>(names: impl Iterator<Item = &'a str>) -> BTreeMap<String, [u8; 11]> {
    let names: Vec<&str> = names.collect();
    let mut taken: Vec<[u8; 11]> = names.iter().filter_map(|n| exact_short_name(n)).collect();
    let mut out = BTreeMap::new();
    for name in names {
        if let Some(exact) = exact_short_name(name) {
            out.insert(name.to_string(), exact);
            continue;
        }
        let clean = |s: &str| -> Vec<u8> {
            s.bytes()
                .map(|b| b.to_ascii_uppercase())
                .filter(|b| is_short_char(*b))
                .collect()
        };
        let trimmed = name.trim_start_matches('.');
        let (base, ext) = match trimmed.rsplit_once('.') {
            Some((b, e)) => (clean(b), clean(e)),
            None => (clean(trimmed), Vec::new()),
        };
        let base = if base.is_empty() {
            b"FILE".to_vec()
        } else {
            base
        };
        for n in 1u32.. {
            let tail = format!("~{n}");
            let keep = base.len().min(8 - tail.len());
            let mut candidate = [b' '; 11];
            candidate[..keep].copy_from_slice(&base[..keep]);
            candidate[keep..keep + tail.len()].copy_from_slice(tail.as_bytes());
            let ext_len = ext.len().min(3);
            candidate[8..8 + ext_len].copy_from_slice(&ext[..ext_len]);
            if !taken.contains(&candidate) {
                taken.push(candidate);
                out.insert(name.to_string(), candidate);
                break;
            }
        }
    }
    out
}

fn short_name_checksum(short: &[u8; 11]) -> u8 {
    short
        .iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// VFAT long-name entries for `name`, in on-disk order (last fragment first).
fn long_name_entries(name: &str, short: &[u8; 11]) -> Vec<[u8; DIR_ENTRY]> {
    if exact_short_name(name).is_some() {
        return Vec::new();
    }
    let mut units: Vec<u16> = name.encode_utf16().collect();
    if !units.len().is_multiple_of(13) {
        units.push(0);
        while !units.len().is_multiple_of(13) {
            units.push(0xFFFF);
        }
    }
    let checksum = short_name_checksum(short);
    let count = units.len() / 13;
    let mut entries: Vec<[u8; DIR_ENTRY]> = units
        .chunks(13)
        .enumerate()
        .map(|(i, chunk)| {
            let mut e = [0u8; DIR_ENTRY];
            e[0] = (i as u8 + 1) | if i + 1 == count { 0x40 } else { 0 };
            e[11] = ATTR_LONG_NAME;
            e[13] = checksum;
            let slots = (1..11)
                .step_by(2)
                .chain((14..26).step_by(2))
                .chain((28..32).step_by(2));
            for (slot, unit) in slots.zip(chunk) {
                e[slot..slot + 2].copy_from_slice(&unit.to_le_bytes());
            }
            e
        })
        .collect();
    entries.reverse();
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_is_fat32_for_the_esp_size() {
        let g = Geometry::for_size(64 << 20).unwrap();
        assert!(g.clusters >= MIN_FAT32_CLUSTERS);
        assert!((g.clusters + 2) * 4 <= g.fat_sectors * SECTOR);
        assert!(matches!(
            Geometry::for_size(16 << 20),
            Err(FatError::TooSmall { .. })
        ));
    }

    #[test]
    fn short_names_are_exact_or_tilde_numbered() {
        assert_eq!(&exact_short_name("BOOTX64.EFI").unwrap(), b"BOOTX64 EFI");
        assert!(exact_short_name("grub.cfg").is_none());
        let names = assign_short_names(
            [
                "initramfs.cpio.gz",
                "initramfs.cpio.zst",
                "initramfs.gz",
                "EFI",
            ]
            .into_iter(),
        );
        assert_eq!(&names["initramfs.cpio.gz"], b"INITRA~1GZ ");
        // Only the whole 8.3 name must be unique, so a different extension keeps ~1.
        assert_eq!(&names["initramfs.cpio.zst"], b"INITRA~1ZST");
        assert_eq!(&names["initramfs.gz"], b"INITRA~2GZ ");
        assert_eq!(&names["EFI"], b"EFI        ");
    }

    #[test]
    fn long_name_entries_carry_the_checksum_and_order() {
        let short = *b"INITRA~1GZ ";
        let entries = long_name_entries("initramfs.cpio.gz", &short);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0][0], 0x42);
        assert_eq!(entries[1][0], 0x01);
        assert!(entries
            .iter()
            .all(|e| e[13] == short_name_checksum(&short) && e[11] == ATTR_LONG_NAME));
        assert_eq!(&entries[1][1..3], &[b'i', 0]);
    }

    #[test]
    fn case_insensitive_clash_is_an_error() {
        let mut b = FatBuilder::new(1, "X");
        b.add_file("EFI/BOOT/a", vec![1]).unwrap();
        assert!(matches!(
            b.add_file("efi/boot/A", vec![2]),
            Err(FatError::Conflict(_))
        ));
        assert!(matches!(
            b.add_file("efi/../x", vec![2]),
            Err(FatError::BadPath(_))
        ));
    }
}
