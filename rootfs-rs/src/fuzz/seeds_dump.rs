//! Seeds of the dump targets: the start of each vmcore fixture under target/fixtures (ELF
//! headers and notes, kdump headers and bitmaps, flattened records), their VMCOREINFO
//! text, a BTF blob cut down from the fixtures' vmlinux.btf, and hand-made inputs for the
//! targets whose input is laid out by the entry point itself (kallsyms, printk, ORC).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::dump::kernel::btf::Btf;

const HEAD_BYTES: u64 = 64 << 10;
/// The fixture directories (a clean checkout has none: then only hand-made seeds).
const FIXTURE_DIRS: &[&str] = &[
    "kdump",
    "kdump-bullseye",
    "kdump-sid",
    "kdump-trixie",
    "qemu",
];

fn head(path: &Path, len: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    File::open(path)
        .ok()?
        .take(len)
        .read_to_end(&mut out)
        .ok()?;
    (!out.is_empty()).then_some(out)
}

/// The first bytes of every fixture file named `file` (in each fixture directory).
fn heads(root: &Path, files: &[&str], len: u64) -> Vec<Vec<u8>> {
    let fixtures = &root.join("target/fixtures");
    FIXTURE_DIRS
        .iter()
        .flat_map(|dir| files.iter().map(move |f| fixtures.join(dir).join(f)))
        .filter_map(|p| head(&p, len))
        .collect()
}

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// An ELF vmcore cut after its program headers and PT_NOTE segments (the loads are gone:
/// reads of memory fail, which is one of the paths to fuzz).
fn elf_through_notes(head: &[u8]) -> Option<Vec<u8>> {
    let (phoff, phentsize, phnum) = (
        u64_at(head, 0x20)?,
        u16_at(head, 0x36)?,
        u16_at(head, 0x38)?,
    );
    let mut end = phoff + phentsize * phnum;
    for i in 0..phnum {
        let ph = usize::try_from(phoff + i * phentsize).ok()?;
        if u16_at(head, ph)? == 4 {
            end = end.max(u64_at(head, ph + 8)? + u64_at(head, ph + 32)?);
        }
    }
    Some(head[..usize::try_from(end).ok()?.min(head.len())].to_vec())
}

/// The VMCOREINFO note's text (it starts with OSRELEASE=).
fn vmcoreinfo_text(head: &[u8]) -> Option<Vec<u8>> {
    let start = head.windows(10).position(|w| w == b"OSRELEASE=")?;
    let len = head[start..].iter().position(|&b| b == 0)?;
    Some(head[start..start + len].to_vec())
}

/// The fixtures' BTF with only its first types and strings: the header rewritten, and
/// the type section cut where the parser accepts it.
fn small_btf(root: &Path) -> Option<Vec<u8>> {
    let blob = head(&root.join("target/fixtures/vmlinux.btf"), 8 << 20)?;
    let field = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(blob.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let (hdr_len, type_off, type_len) = (field(4)?.max(24), field(8)?, field(12)?);
    let (str_off, str_len) = (field(16)?, field(20)?);
    let types = blob.get(hdr_len + type_off..hdr_len + type_off + type_len)?;
    let strings = blob.get(hdr_len + str_off..hdr_len + str_off + str_len.min(24 << 10))?;
    (0..1024).find_map(|cut| {
        let types = types.get(..types.len().min(16 << 10).checked_sub(4 * cut)?)?;
        let mut out = blob.get(..hdr_len)?.to_vec();
        for (at, v) in [
            (8, 0),
            (12, types.len()),
            (16, types.len()),
            (20, strings.len()),
        ] {
            out[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(types);
        out.extend_from_slice(strings);
        Btf::parse(out.clone()).is_ok().then_some(out)
    })
}

fn with_prefix(prefix: &[u8], len: usize) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.resize(len, 0);
    v
}

pub fn dump_seeds(name: &str, root: &Path) -> Vec<Vec<u8>> {
    let elf_heads = || heads(root, &["vmcore.d31.elf", "vmcore.elf"], HEAD_BYTES);
    match name {
        "elf" => {
            let mut s: Vec<_> = elf_heads()
                .iter()
                .filter_map(|h| elf_through_notes(h))
                .collect();
            s.push(with_prefix(b"\x7fELF\x02\x01\x01", 4096));
            s
        }
        "vmcoreinfo" => {
            let mut s: Vec<_> = elf_heads()
                .iter()
                .filter_map(|h| vmcoreinfo_text(h))
                .collect();
            s.push(b"OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(prb)=ffffffff8a000000\nOFFSET(printk_ringbuffer.desc_ring)=0\nSIZE(prb_desc)=24\nNUMBER(phys_base)=-5\nLENGTH(zone.free_area)=11\nCRASHTIME=1\n".to_vec());
            s
        }
        "kdump" => {
            let files = ["vmcore.d31.zlib", "vmcore.d31.lzo", "vmcore.d31.snappy"];
            let mut s = heads(root, &files, HEAD_BYTES);
            s.extend(heads(
                root,
                &["vmcore.d31.zstd", "vmcore.kdump-zlib"],
                HEAD_BYTES,
            ));
            s.push(with_prefix(b"KDUMP   ", 16384));
            s
        }
        "flattened" => {
            let files = ["vmcore.d31.lzo.flat", "vmcore.kdump-zlib.flat"];
            let mut s = heads(root, &files, HEAD_BYTES);
            s.push(with_prefix(b"makedumpfile", 8192));
            s
        }
        "btf" => {
            let mut s: Vec<_> = small_btf(root).into_iter().collect();
            s.push(with_prefix(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0], 512));
            s
        }
        "kallsyms" => vec![with_prefix(&[3, 0, 0, 0], 9000)],
        "printk" => {
            let mut seed = vec![0u8; 4096];
            seed[0] = 4; // count_bits
            seed[24] = 10; // size_bits
            vec![seed]
        }
        "orc_unwind" => {
            // A plausible start: ip in the text range, sp and bp inside the stack.
            let mut seed = vec![0u8; 8192];
            seed[0..8].copy_from_slice(&0x100u64.to_le_bytes());
            seed[8..16].copy_from_slice(&0x40u64.to_le_bytes());
            seed[16..24].copy_from_slice(&0x80u64.to_le_bytes());
            vec![seed]
        }
        _ => Vec::new(),
    }
}
