//! The fuzz registry (rootfs_rs::fuzz::TARGETS) in the normal test suite, without
//! cargo-fuzz or nightly: every regression input under rootfs-rs/fuzz/regressions/<target>/
//! (crashes the campaigns found, fixed since), every seed, and a few thousand random and
//! mutated inputs per target must return, quickly, without a panic.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rootfs_rs::fuzz::{seeds::seeds, Target, TARGETS};

/// One input taking longer than this is a hang (the slowest seeds take milliseconds).
const SLOW: Duration = Duration::from_secs(5);
/// Random rounds per target stop after this long, to keep the test under ~30 s.
const BUDGET: Duration = Duration::from_millis(900);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run_timed(target: &Target, input: &[u8], what: &str) {
    let start = Instant::now();
    (target.run)(input);
    let took = start.elapsed();
    if took > SLOW {
        let keep = workspace().join("target/fuzz/slow").join(target.name);
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::write(keep.join("input"), input);
        panic!(
            "{}: {what} took {took:?} (kept in {})",
            target.name,
            keep.display()
        );
    }
}

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

/// Byte flips, "interesting" values, truncation, extension and splices of text the
/// parsers look for.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    const WORDS: &[&[u8]] = &[
        b"\n",
        b"\0",
        b"{",
        b"}",
        b"$",
        b"\"",
        b"\\",
        b"=",
        b"/",
        b":",
        b"..",
        b"menuentry",
        b"source",
        b"include",
        b"goto",
        b"chain",
        b"[",
        b"]",
        b"\r\n\r\n",
    ];
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        if d.is_empty() {
            d.extend(rng.bytes(16));
        }
        let at = rng.below(d.len());
        match rng.below(6) {
            0 => d[at] ^= 1 << rng.below(8),
            1 => d[at] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)],
            2 => {
                let v = [0u64, u64::MAX, 1 << 40, 0xffff_ffff, 4096][rng.below(5)].to_le_bytes();
                let end = (at + 8).min(d.len());
                d[at..end].copy_from_slice(&v[..end - at]);
            }
            3 => d.truncate(at),
            4 => {
                let word = WORDS[rng.below(WORDS.len())];
                d.splice(at..at, word.iter().copied());
            }
            _ => {
                let n = rng.below(64);
                d.extend(rng.bytes(n));
            }
        }
    }
    d
}

#[test]
fn every_target_has_seeds_and_survives_them() {
    for target in TARGETS {
        let seeds = seeds(target.name, &workspace());
        assert!(!seeds.is_empty(), "{}: no seeds", target.name);
        for (i, seed) in seeds.iter().enumerate() {
            run_timed(target, seed, &format!("seed {i}"));
        }
    }
}

#[test]
fn every_regression_input_is_replayed() {
    let dir = workspace().join("rootfs-rs/fuzz/regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("rootfs-rs/fuzz/regressions") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let Some(target) = TARGETS.iter().find(|t| t.name == name) else {
            panic!("{}: not a registry target", path.display());
        };
        for input in std::fs::read_dir(&path).expect("regression directory") {
            let input = input.expect("directory entry").path();
            let bytes = std::fs::read(&input).expect("regression input");
            run_timed(target, &bytes, &input.display().to_string());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no regression inputs under {}", dir.display());
}

#[test]
fn every_target_survives_random_and_mutated_input() {
    for target in TARGETS {
        let seeds = seeds(target.name, &workspace());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.name.len() as u64);
        let start = Instant::now();
        for i in 0..2000 {
            if i >= 20 && start.elapsed() > BUDGET {
                break;
            }
            let input = if seeds.is_empty() || i % 4 == 0 {
                let len = rng.below(4096);
                rng.bytes(len)
            } else {
                mutate(&mut rng, &seeds[i % seeds.len()])
            };
            run_timed(target, &input, &format!("random input {i}"));
        }
    }
}

/// rootfs-rs/fuzz/Cargo.toml has one binary per registry entry, and no other.
#[test]
fn the_fuzz_crate_builds_every_target() {
    let manifest = std::fs::read_to_string(workspace().join("rootfs-rs/fuzz/Cargo.toml"))
        .expect("rootfs-rs/fuzz/Cargo.toml");
    let bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "rootfs-rs-fuzz")
        .collect();
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(bins, names);
}
