//! A hand-made kernel module for tests: an ELF64 little-endian relocatable object whose
//! section header table has three entries (null, .shstrtab, .modinfo), which is as much of
//! a .ko as modinfo reads. Shared by kmod::modinfo's unit tests and tests/kmod_index.rs
//! (each includes it with `#[path]`), so the bytes are written down once.

/// The module's bytes, with `fields` (`key=value`) as its .modinfo strings.
pub fn tiny_ko(fields: &[&str]) -> Vec<u8> {
    let mut modinfo = Vec::new();
    for f in fields {
        modinfo.extend_from_slice(f.as_bytes());
        modinfo.push(0);
    }
    let names = b"\0.shstrtab\0.modinfo\0";
    let modinfo_at = 64usize;
    let names_at = modinfo_at + modinfo.len();
    let shoff = (names_at + names.len()).next_multiple_of(8);
    let mut elf = vec![0u8; 64];
    elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01"); // 64-bit, little-endian, version 1
    elf[16..18].copy_from_slice(&1u16.to_le_bytes()); // e_type ET_REL
    elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // e_machine x86-64
    elf[20..24].copy_from_slice(&1u32.to_le_bytes()); // e_version
    elf[40..48].copy_from_slice(&(shoff as u64).to_le_bytes()); // e_shoff
    elf[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    elf[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    elf[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
    elf[62..64].copy_from_slice(&1u16.to_le_bytes()); // e_shstrndx
    elf.extend_from_slice(&modinfo);
    elf.extend_from_slice(names);
    elf.resize(shoff, 0);
    // (sh_name, sh_type, sh_offset, sh_size)
    let sections = [
        (0u32, 0u32, 0usize, 0usize),
        (1, 3, names_at, names.len()),      // .shstrtab, SHT_STRTAB
        (11, 1, modinfo_at, modinfo.len()), // .modinfo, SHT_PROGBITS
    ];
    for (name, kind, offset, size) in sections {
        let mut header = [0u8; 64];
        header[0..4].copy_from_slice(&name.to_le_bytes());
        header[4..8].copy_from_slice(&kind.to_le_bytes());
        header[24..32].copy_from_slice(&(offset as u64).to_le_bytes());
        header[32..40].copy_from_slice(&(size as u64).to_le_bytes());
        header[48..56].copy_from_slice(&1u64.to_le_bytes()); // sh_addralign
        elf.extend_from_slice(&header);
    }
    elf
}
