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
