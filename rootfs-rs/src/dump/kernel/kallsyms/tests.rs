//! Synthetic kallsyms tables in each address encoding, decoded from fake kernel memory.

use crate::dump::kernel::kallsyms::*;

/// Kernel memory made of a few byte regions.
struct Regions(Vec<(u64, Vec<u8>)>);

impl KernelMemory for Regions {
    fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        for (base, bytes) in &self.0 {
            if vaddr >= *base && vaddr + buf.len() as u64 <= base + bytes.len() as u64 {
                let off = (vaddr - base) as usize;
                buf.copy_from_slice(&bytes[off..off + buf.len()]);
                return Ok(());
            }
        }
        Err(DumpError::Unmapped(vaddr))
    }
}

const NAMES: u64 = 0xffffffff82000000;
const NUM: u64 = 0xffffffff82100000;
const TOKENS: u64 = 0xffffffff82200000;
const INDEX: u64 = 0xffffffff82300000;
const ADDRS: u64 = 0xffffffff82400000;
const BASE_VAR: u64 = 0xffffffff82500000;
const BASE: u64 = 0xffffffff81000000;

/// (type+name, address): a per-CPU symbol, text symbols, and one "big" (> 127 token) name.
fn symbols() -> Vec<(String, u64)> {
    vec![
        ("Dfixed_percpu_data".to_string(), 0x0),
        ("Drunqueues".to_string(), 0x2c8c0),
        ("T_stext".to_string(), BASE + 0x200000),
        ("tdo_xyz".to_string(), BASE + 0x201000),
        (format!("t{}", "a".repeat(200)), BASE + 0x202000),
    ]
}

/// Token 0 is the two-character "xy"; every other token b is the single byte b.
fn memory(encoding: AddressEncoding) -> (Regions, VmcoreInfo) {
    let mut table = Vec::new();
    let mut index = Vec::new();
    for b in 0u16..256 {
        index.extend_from_slice(&(table.len() as u16).to_le_bytes());
        if b == 0 {
            table.extend_from_slice(b"xy");
        } else {
            table.push(b as u8);
        }
        table.push(0);
    }
    let mut names = Vec::new();
    let syms = symbols();
    for (name, _) in &syms {
        let tokens: Vec<u8> = name.replace("xy", "\0").into_bytes();
        if tokens.len() > 127 {
            names.push(0x80 | (tokens.len() & 0x7f) as u8);
            names.push((tokens.len() >> 7) as u8);
        } else {
            names.push(tokens.len() as u8);
        }
        names.extend(tokens);
    }
    let mut addrs = Vec::new();
    for (i, &(_, a)) in syms.iter().enumerate() {
        match encoding {
            AddressEncoding::PlaceRelative => {
                let slot = ADDRS + 4 * i as u64;
                addrs.extend_from_slice(&(a.wrapping_sub(slot) as i64 as i32).to_le_bytes())
            }
            AddressEncoding::Absolute => addrs.extend_from_slice(&a.to_le_bytes()),
            AddressEncoding::Relative => {
                addrs.extend_from_slice(&((a.wrapping_sub(BASE)) as u32).to_le_bytes())
            }
            AddressEncoding::AbsolutePercpu => {
                let off = if a < BASE {
                    a as i32
                } else {
                    (BASE as i64 - 1 - a as i64) as i32
                };
                addrs.extend_from_slice(&off.to_le_bytes());
            }
        }
    }
    let regions = vec![
        (NAMES, names),
        (NUM, (syms.len() as u32).to_le_bytes().to_vec()),
        (TOKENS, table),
        (INDEX, index),
        (ADDRS, addrs),
        (BASE_VAR, BASE.to_le_bytes().to_vec()),
    ];
    let addr_key = match encoding {
        AddressEncoding::Absolute => format!("SYMBOL(kallsyms_addresses)={ADDRS:x}\n"),
        AddressEncoding::PlaceRelative => format!("SYMBOL(kallsyms_offsets)={ADDRS:x}\n"),
        _ => format!(
            "SYMBOL(kallsyms_offsets)={ADDRS:x}\nSYMBOL(kallsyms_relative_base)={BASE_VAR:x}\n"
        ),
    };
    let text = format!(
        "OSRELEASE=test\nSYMBOL(kallsyms_names)={NAMES:x}\nSYMBOL(kallsyms_num_syms)={NUM:x}\n\
         SYMBOL(kallsyms_token_table)={TOKENS:x}\nSYMBOL(kallsyms_token_index)={INDEX:x}\n{addr_key}\
         SYMBOL(_stext)={:x}\n",
        BASE + 0x200000
    );
    (Regions(regions), VmcoreInfo::parse(&text).unwrap())
}

#[test]
fn each_address_encoding_decodes_and_is_detected() {
    // (Plain relative offsets cannot express the per-CPU symbols below the base: next test.)
    for enc in [AddressEncoding::Absolute, AddressEncoding::AbsolutePercpu] {
        let (mem, info) = memory(enc);
        let k = Kallsyms::load(&mem, &info).unwrap_or_else(|e| panic!("{enc:?}: {e}"));
        assert_eq!(k.encoding, enc);
        assert_eq!(k.len(), 5);
        for (name, addr) in symbols() {
            assert_eq!(k.lookup(&name[1..]), Some(addr), "{enc:?} {name}");
        }
        assert_eq!(k.verified, (1, 1));
        let (sym, off) = k.symbolize(BASE + 0x201010).unwrap();
        assert_eq!((sym.name, sym.kind, off), ("do_xyz", 't', 0x10));
    }
}

#[test]
fn relative_offsets_without_percpu_symbols() {
    let (mut mem, info) = memory(AddressEncoding::Relative);
    // Rebuild with text symbols only: every offset is base-relative.
    let (_, addrs) = mem.0.iter_mut().find(|(a, _)| *a == ADDRS).unwrap();
    for (i, (_, a)) in symbols().iter().enumerate() {
        let a = if *a < BASE {
            BASE + 0x1000 * i as u64
        } else {
            *a
        };
        addrs[i * 4..i * 4 + 4].copy_from_slice(&((a - BASE) as u32).to_le_bytes());
    }
    let k = Kallsyms::load(&mem, &info).unwrap();
    assert_eq!(k.encoding, AddressEncoding::Relative);
    assert_eq!(k.lookup("_stext"), Some(BASE + 0x200000));
    assert_eq!(k.lookup("runqueues"), Some(BASE + 0x1000));
}

#[test]
fn disagreeing_stext_and_bad_tables_are_errors() {
    let (mem, info) = memory(AddressEncoding::AbsolutePercpu);
    let text: String = info
        .raw
        .iter()
        .map(|(k, v)| {
            let v = if k == "SYMBOL(_stext)" {
                "ffffffff81234567".to_string()
            } else {
                v.clone()
            };
            format!("{k}={v}\n")
        })
        .collect();
    assert!(Kallsyms::load(&mem, &VmcoreInfo::parse(&text).unwrap()).is_err());

    let (mut mem, info) = memory(AddressEncoding::Absolute);
    let (_, num) = mem.0.iter_mut().find(|(a, _)| *a == NUM).unwrap();
    num.copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        Kallsyms::load(&mem, &info).is_err(),
        "implausible symbol count"
    );
    let (_, num) = mem.0.iter_mut().find(|(a, _)| *a == NUM).unwrap();
    num.copy_from_slice(&50u32.to_le_bytes());
    assert!(
        Kallsyms::load(&mem, &info).is_err(),
        "names run past their memory"
    );

    let without = VmcoreInfo::parse("OSRELEASE=x\n").unwrap();
    assert!(matches!(
        Kallsyms::load(&mem, &without),
        Err(DumpError::Missing(_))
    ));
}

#[test]
fn place_relative_offsets_without_a_relative_base() {
    // Kernel 7.x: VMCOREINFO has no kallsyms_relative_base; each offset counts from its own
    // slot. Text symbols only (an offset reaches ±2 GiB around the table).
    let (mut mem, info) = memory(AddressEncoding::PlaceRelative);
    assert!(info.symbol("kallsyms_relative_base").is_none());
    let (_, addrs) = mem.0.iter_mut().find(|(a, _)| *a == ADDRS).unwrap();
    for (i, (_, a)) in symbols().iter().enumerate() {
        let a = if *a < BASE {
            BASE + 0x1000 * i as u64
        } else {
            *a
        };
        let slot = ADDRS + 4 * i as u64;
        addrs[i * 4..i * 4 + 4]
            .copy_from_slice(&(a.wrapping_sub(slot) as i64 as i32).to_le_bytes());
    }
    let k = Kallsyms::load(&mem, &info).unwrap();
    assert_eq!(k.encoding, AddressEncoding::PlaceRelative);
    assert_eq!(k.lookup("_stext"), Some(BASE + 0x200000));
    assert_eq!(k.lookup("runqueues"), Some(BASE + 0x1000));
}

/// The tables laid out as scripts/kallsyms did before 6.4 (offsets, relative base, num_syms,
/// names, markers, token table, token index; each 8-aligned) inside an image whose
/// VMCOREINFO names none of them (kernels before 6.0).
fn image_without_kallsyms_in_vmcoreinfo(count: u64) -> (Regions, VmcoreInfo, Vec<(String, u64)>) {
    let stext = BASE + 0x200000;
    let mut syms = vec![("T_stext".to_string(), stext)];
    syms.extend((0..count).map(|i| (format!("tf{i}"), stext + 0x10 * (i + 1))));
    let pad = |v: &mut Vec<u8>| v.resize(v.len().next_multiple_of(8), 0);
    let mut image = Vec::new();
    for (_, a) in &syms {
        image.extend_from_slice(&((a - BASE) as u32).to_le_bytes());
    }
    pad(&mut image);
    image.extend_from_slice(&BASE.to_le_bytes()); // kallsyms_relative_base
    image.extend_from_slice(&(syms.len() as u32).to_le_bytes()); // kallsyms_num_syms
    pad(&mut image);
    let names_at = image.len();
    let mut markers = Vec::new();
    for (i, (name, _)) in syms.iter().enumerate() {
        if i % 256 == 0 {
            markers.push((image.len() - names_at) as u32);
        }
        // Token b is the byte b (token 0 is "xy", unused here).
        image.push(name.len() as u8);
        image.extend_from_slice(name.as_bytes());
    }
    pad(&mut image);
    for m in markers {
        image.extend_from_slice(&m.to_le_bytes());
    }
    pad(&mut image);
    // Token 0 is "xy", token b the byte b; the index counts from the table's start.
    let table_at = image.len();
    let mut index = Vec::new();
    for b in 0u16..256 {
        index.extend_from_slice(&((image.len() - table_at) as u16).to_le_bytes());
        if b == 0 {
            image.extend_from_slice(b"xy");
        } else {
            image.push(b as u8);
        }
        image.push(0);
    }
    pad(&mut image);
    image.extend_from_slice(&index);
    // The image: text from _stext, the tables at +2 MiB, data (init_uts_ns) after them.
    let rodata = stext + 0x200000;
    let init_uts_ns = (rodata + image.len() as u64 + 0x1000) & !0xfff;
    let mut mem = vec![0u8; (init_uts_ns + 0x2000 - stext) as usize];
    let at = (rodata - stext) as usize;
    mem[at..at + image.len()].copy_from_slice(&image);
    let text = format!(
        "OSRELEASE=5.10.0-test\nSYMBOL(_stext)={stext:x}\nSYMBOL(init_uts_ns)={init_uts_ns:x}\n"
    );
    let syms = syms
        .into_iter()
        .map(|(n, a)| (n[1..].to_string(), a))
        .collect();
    (
        Regions(vec![(stext, mem)]),
        VmcoreInfo::parse(&text).unwrap(),
        syms,
    )
}

#[test]
fn tables_are_found_by_scanning_an_image_without_vmcoreinfo_names() {
    for count in [300, 700] {
        let (mem, info, syms) = image_without_kallsyms_in_vmcoreinfo(count);
        assert!(info.symbol("kallsyms_num_syms").is_none());
        let k = Kallsyms::load(&mem, &info).unwrap_or_else(|e| panic!("{count}: {e}"));
        assert!(k.scanned);
        assert_eq!(k.len(), syms.len());
        assert_eq!(k.encoding, AddressEncoding::Relative);
        for (name, addr) in syms.iter().step_by(37) {
            assert_eq!(k.lookup(name), Some(*addr), "{name}");
        }
    }
}

#[test]
fn an_image_without_tables_is_a_clear_error() {
    let (mut mem, info, _) = image_without_kallsyms_in_vmcoreinfo(300);
    for b in mem.0[0].1.iter_mut() {
        *b = 0;
    }
    let e = Kallsyms::load(&mem, &info).err().expect("no tables");
    assert!(e.to_string().contains("kallsyms tables"), "{e}");
}
