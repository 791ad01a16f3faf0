//! The section table of a PE/COFF image (what a unified kernel image is), read through a
//! positioned-read function so a 100 MiB UKI is never read whole: the MS-DOS header's
//! `e_lfanew`, the "PE\0\0" signature, the COFF header and the section headers (PE format,
//! "Section Table"). Every field is bounds-checked; errors name the field.

/// Reads `len` bytes at `offset` (fewer only at the end of the file).
pub type ReadAt<'a> = &'a dyn Fn(u64, usize) -> Result<Vec<u8>, String>;

/// The most sections a PE image may have (the COFF header's field is 16 bits; the PE
/// loader in Windows caps it at 96, systemd's at 96 too).
const MAX_SECTIONS: usize = 96;
const SECTION_HEADER: usize = 40;
const COFF_HEADER: usize = 20;

/// One section header: its name and where its bytes are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// File offset of the data (PointerToRawData).
    pub offset: u64,
    /// Bytes of data: VirtualSize, bounded by SizeOfRawData (which is padded to the file
    /// alignment; VirtualSize is the payload's own length).
    pub size: u64,
}

fn field<const N: usize>(buf: &[u8], off: usize, what: &str) -> Result<[u8; N], String> {
    let bytes = off
        .checked_add(N)
        .and_then(|end| buf.get(off..end))
        .ok_or_else(|| format!("{what}: need {N} bytes at offset {off}, have {}", buf.len()))?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

fn le_u16(buf: &[u8], off: usize, what: &str) -> Result<u16, String> {
    Ok(u16::from_le_bytes(field(buf, off, what)?))
}

fn le_u32(buf: &[u8], off: usize, what: &str) -> Result<u32, String> {
    Ok(u32::from_le_bytes(field(buf, off, what)?))
}

/// The section headers, in table order.
pub fn sections(read: ReadAt) -> Result<Vec<Section>, String> {
    let dos = read(0, 64)?;
    if dos.get(..2) != Some(b"MZ".as_slice()) {
        return Err("MS-DOS header: no \"MZ\" signature".to_string());
    }
    let pe_at = u64::from(le_u32(&dos, 0x3c, "MS-DOS header e_lfanew")?);
    let coff = read(pe_at, 4 + COFF_HEADER)?;
    if coff.get(..4) != Some(b"PE\0\0".as_slice()) {
        return Err(format!("PE signature: not \"PE\\0\\0\" at offset {pe_at}"));
    }
    let count = usize::from(le_u16(&coff, 6, "COFF header NumberOfSections")?);
    if count > MAX_SECTIONS {
        return Err(format!(
            "COFF header NumberOfSections: {count}, more than {MAX_SECTIONS}"
        ));
    }
    let optional = u64::from(le_u16(&coff, 20, "COFF header SizeOfOptionalHeader")?);
    let table_at = pe_at + 4 + COFF_HEADER as u64 + optional;
    let table = read(table_at, count * SECTION_HEADER)?;
    (0..count)
        .map(|i| {
            let at = i * SECTION_HEADER;
            let raw_name: [u8; 8] = field(&table, at, "section header Name")?;
            let end = raw_name.iter().position(|&b| b == 0).unwrap_or(8);
            let virtual_size = le_u32(&table, at + 8, "section header VirtualSize")?;
            let raw_size = le_u32(&table, at + 16, "section header SizeOfRawData")?;
            let offset = le_u32(&table, at + 20, "section header PointerToRawData")?;
            let size = match virtual_size {
                0 => raw_size,
                v => v.min(raw_size),
            };
            Ok(Section {
                name: String::from_utf8_lossy(&raw_name[..end]).into_owned(),
                offset: u64::from(offset),
                size: u64::from(size),
            })
        })
        .collect()
}

/// A section's bytes, or an error naming it when the file ends early.
pub fn section_bytes(read: ReadAt, section: &Section) -> Result<Vec<u8>, String> {
    let len = usize::try_from(section.size)
        .map_err(|_| format!("section {}: {} bytes", section.name, section.size))?;
    let bytes = read(section.offset, len)?;
    if bytes.len() != len {
        return Err(format!(
            "section {}: {len} bytes at offset {}, the file has {}",
            section.name,
            section.offset,
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// A positioned reader over bytes in memory.
pub fn read_slice(bytes: &[u8]) -> impl Fn(u64, usize) -> Result<Vec<u8>, String> + '_ {
    move |offset, len| {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }
}

/// A PE image with the given sections, laid out one after another (for tests: what
/// objcopy --add-section produces, without the code).
pub fn build(sections: &[(&str, &[u8])]) -> Vec<u8> {
    let table_at = 0x40 + 4 + COFF_HEADER;
    let mut data_at = table_at + sections.len() * SECTION_HEADER;
    let mut out = vec![0u8; data_at];
    out[..2].copy_from_slice(b"MZ");
    out[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    out[0x40..0x44].copy_from_slice(b"PE\0\0");
    out[0x46..0x48].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    let mut data = Vec::new();
    for (i, (name, bytes)) in sections.iter().enumerate() {
        let at = table_at + i * SECTION_HEADER;
        out[at..at + name.len()].copy_from_slice(name.as_bytes());
        let padded = bytes.len().div_ceil(512) * 512;
        out[at + 8..at + 12].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        out[at + 16..at + 20].copy_from_slice(&(padded as u32).to_le_bytes());
        out[at + 20..at + 24].copy_from_slice(&(data_at as u32).to_le_bytes());
        data.extend_from_slice(bytes);
        data.resize(data.len() + padded - bytes.len(), 0);
        data_at += padded;
    }
    out.extend(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_listed_with_their_payload_size() {
        let image = build(&[(".osrel", b"ID=x\n"), (".linux", &[1, 2, 3])]);
        let read = read_slice(&image);
        let list = sections(&read).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, ".osrel");
        assert_eq!(section_bytes(&read, &list[0]).unwrap(), b"ID=x\n");
        assert_eq!(section_bytes(&read, &list[1]).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn damaged_images_name_the_field() {
        let image = build(&[(".linux", &[1; 600])]);
        let err = |bytes: &[u8]| sections(&read_slice(bytes)).unwrap_err();
        assert!(err(b"ELF").contains("MZ"));
        assert!(err(&image[..0x42]).contains("PE signature"));
        assert!(err(&image[..0x47]).contains("NumberOfSections"));
        assert!(err(&image[..0x50]).contains("SizeOfOptionalHeader"));
        let mut many = image.clone();
        many[0x46] = 200;
        assert!(err(&many).contains("more than"));
        let short = &image[..image.len() - 500];
        let read = read_slice(short);
        let list = sections(&read).unwrap();
        assert!(section_bytes(&read, &list[0])
            .unwrap_err()
            .contains("section .linux"));
    }
}
