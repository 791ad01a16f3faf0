//! The fuzz targets' entry points (src/dump/fuzz.rs, also used by triage-fuzz/) fed with thousands
//! of random and mutated inputs: every parser must return, never panic or hang.

#[path = "triage_common/mod.rs"]
mod common;

use rootfs_rs::dump::fuzz;
use std::time::{Duration, Instant};

/// xorshift64*: reproducible pseudo-random bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Byte flips, random overwrites with "interesting" values, truncation and extension.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        if d.is_empty() {
            break;
        }
        let at = rng.below(d.len());
        match rng.below(5) {
            0 => d[at] ^= 1 << rng.below(8),
            1 => d[at] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)],
            2 => {
                let v = [0u64, u64::MAX, 1 << 40, 0xffff_ffff, 4096][rng.below(5)].to_le_bytes();
                let end = (at + 8).min(d.len());
                d[at..end].copy_from_slice(&v[..end - at]);
            }
            3 => d.truncate(at),
            _ => {
                let n = rng.below(64);
                d.extend(rng.bytes(n));
            }
        }
    }
    d
}

/// Runs `target` on random inputs and on mutations of each seed; the whole run is timed so a
/// hang shows up as a failure.
fn hammer(name: &str, target: fn(&[u8]), seeds: &[Vec<u8>], rounds: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    let start = Instant::now();
    for i in 0..rounds {
        let input = if seeds.is_empty() || i % 4 == 0 {
            let len = rng.below(4096);
            rng.bytes(len)
        } else {
            mutate(&mut rng, &seeds[i % seeds.len()])
        };
        target(&input);
    }
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "{name}: {rounds} inputs took {:?}",
        start.elapsed()
    );
}

fn file_head(rel: &str, len: usize) -> Option<Vec<u8>> {
    let data = std::fs::read(common::root().join("../target/fixtures").join(rel)).ok()?;
    Some(data[..data.len().min(len)].to_vec())
}

fn with_prefix(prefix: &[u8], len: usize) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.resize(len, 0);
    v
}

#[test]
fn elf_parser_survives_random_input() {
    let mut seeds = vec![with_prefix(b"\x7fELF\x02\x01\x01", 4096)];
    seeds.extend(file_head("qemu/vmcore.elf", 64 << 10));
    hammer("elf", fuzz::elf, &seeds, 3000);
}

#[test]
fn kdump_parser_survives_random_input() {
    let mut seeds = vec![with_prefix(b"KDUMP   ", 16384)];
    seeds.extend(file_head("kdump/vmcore.d31.zlib", 256 << 10));
    hammer("kdump", fuzz::kdump, &seeds, 2000);
}

#[test]
fn flattened_parser_survives_random_input() {
    let mut seeds = vec![with_prefix(b"makedumpfile", 8192)];
    seeds.extend(file_head("kdump/vmcore.d31.lzo.flat", 256 << 10));
    hammer("flattened", fuzz::flattened, &seeds, 2000);
}

#[test]
fn vmcoreinfo_parser_survives_random_input() {
    let text = b"OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(prb)=ffffffff8a000000\nOFFSET(printk_ringbuffer.desc_ring)=0\nSIZE(prb_desc)=24\nNUMBER(phys_base)=-5\nLENGTH(zone.free_area)=11\nCRASHTIME=1\n";
    hammer("vmcoreinfo", fuzz::vmcoreinfo, &[text.to_vec()], 5000);
}

#[test]
fn btf_parser_survives_random_input() {
    let mut seeds = vec![with_prefix(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0], 512)];
    if let Ok(b) = std::fs::read("/sys/kernel/btf/vmlinux") {
        seeds.push(b[..b.len().min(32 << 10)].to_vec());
    }
    hammer("btf", fuzz::btf, &seeds, 2000);
}

#[test]
fn kallsyms_decoder_survives_random_input() {
    hammer(
        "kallsyms",
        fuzz::kallsyms,
        &[with_prefix(&[3, 0, 0, 0], 9000)],
        2000,
    );
}

#[test]
fn printk_decoders_survive_random_input() {
    let mut seed = vec![0u8; 4096];
    seed[0] = 4; // count_bits
    seed[24] = 10; // size_bits
    hammer("printk", fuzz::printk, &[seed], 3000);
}

#[test]
fn orc_unwinder_survives_random_stacks_and_tables() {
    // A seed with a plausible start: ip in the text range, sp and bp inside the stack.
    let mut seed = vec![0u8; 8192];
    seed[0..8].copy_from_slice(&0x100u64.to_le_bytes());
    seed[8..16].copy_from_slice(&0x40u64.to_le_bytes());
    seed[16..24].copy_from_slice(&0x80u64.to_le_bytes());
    hammer("orc_unwind", fuzz::orc_unwind, &[seed], 3000);
}
