//! MD5 (RFC 1321), SHA-1 and SHA-256 (FIPS 180-4), streaming, for md5sum/sha256sum and
//! the TPM's SHA-1 PCR bank.
//! Round constants are derived at start-up from their mathematical definitions instead of
//! being typed in as tables; the tests check the digests against known vectors.

/// 64-byte block buffering and length padding shared by both hashes.
struct Blocks {
    buf: [u8; 64],
    used: usize,
    total: u64,
}

impl Blocks {
    fn new() -> Self {
        Blocks {
            buf: [0; 64],
            used: 0,
            total: 0,
        }
    }

    fn update(&mut self, mut data: &[u8], mut compress: impl FnMut(&[u8; 64])) {
        self.total = self.total.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let take = (64 - self.used).min(data.len());
            self.buf[self.used..self.used + take].copy_from_slice(&data[..take]);
            self.used += take;
            data = &data[take..];
            if self.used == 64 {
                compress(&self.buf);
                self.used = 0;
            }
        }
    }

    /// Append 0x80, zeros and the bit length (encoded by `len_bytes`).
    fn finish(mut self, len_bytes: [u8; 8], mut compress: impl FnMut(&[u8; 64])) {
        let bits = len_bytes;
        let mut pad = vec![0x80u8];
        let after = (self.used + 1) % 64;
        let zeros = if after <= 56 { 56 - after } else { 120 - after };
        pad.extend(std::iter::repeat_n(0u8, zeros));
        pad.extend_from_slice(&bits);
        let total = self.total;
        self.update(&pad, &mut compress);
        self.total = total;
    }
}

pub trait Digest {
    fn update(&mut self, data: &[u8]);
    fn finish(self: Box<Self>) -> Vec<u8>;
}

/// A Merkle-Damgard hash: `N` state words, a compression function, and the byte order
/// used for message words and the length (MD5 little-endian, SHA-256 big-endian).
struct Engine<const N: usize> {
    state: [u32; N],
    k: [u32; 64],
    blocks: Blocks,
    compress: fn(&mut [u32; N], &[u32; 64], &[u8; 64]),
    big_endian: bool,
}

impl<const N: usize> Digest for Engine<N> {
    fn update(&mut self, data: &[u8]) {
        let (state, k, compress) = (&mut self.state, &self.k, self.compress);
        self.blocks.update(data, |b| compress(state, k, b));
    }

    fn finish(mut self: Box<Self>) -> Vec<u8> {
        let bits = self.blocks.total.wrapping_mul(8);
        let len = if self.big_endian {
            bits.to_be_bytes()
        } else {
            bits.to_le_bytes()
        };
        let blocks = std::mem::replace(&mut self.blocks, Blocks::new());
        let (state, k, compress) = (&mut self.state, &self.k, self.compress);
        blocks.finish(len, |b| compress(state, k, b));
        let big_endian = self.big_endian;
        self.state
            .iter()
            .flat_map(|w| {
                if big_endian {
                    w.to_be_bytes()
                } else {
                    w.to_le_bytes()
                }
            })
            .collect()
    }
}

pub fn md5() -> Box<dyn Digest> {
    let mut k = [0u32; 64];
    for (i, v) in k.iter_mut().enumerate() {
        *v = (((i as f64) + 1.0).sin().abs() * 4_294_967_296.0) as u32;
    }
    Box::new(Engine {
        state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476],
        k,
        blocks: Blocks::new(),
        compress: md5_compress,
        big_endian: false,
    })
}

/// SHA-256's round constants and initial state, derived once: the menu password's
/// SHA-256-crypt runs thousands of digests, and deriving them took most of each one.
fn sha256_constants() -> &'static ([u32; 64], [u32; 8]) {
    static CONSTANTS: std::sync::OnceLock<([u32; 64], [u32; 8])> = std::sync::OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let primes = first_primes(64);
        let mut k = [0u32; 64];
        for (v, p) in k.iter_mut().zip(&primes) {
            *v = frac_bits(f64::from(*p).cbrt());
        }
        let mut state = [0u32; 8];
        for (v, p) in state.iter_mut().zip(&primes) {
            *v = frac_bits(f64::from(*p).sqrt());
        }
        (k, state)
    })
}

pub fn sha256() -> Box<dyn Digest> {
    let (k, state) = *sha256_constants();
    Box::new(Engine {
        state,
        k,
        blocks: Blocks::new(),
        compress: sha256_compress,
        big_endian: true,
    })
}

const MD5_SHIFTS: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/// SHA-1, for TPMs whose SHA-1 PCR bank is active (its round constants are
/// ⌊2³⁰·√n⌋ for n = 2, 3, 5, 10, kept in the first four slots of `k`).
pub fn sha1() -> Box<dyn Digest> {
    let mut k = [0u32; 64];
    for (v, n) in k.iter_mut().zip([2.0f64, 3.0, 5.0, 10.0]) {
        *v = (n.sqrt() * 1_073_741_824.0) as u32;
    }
    Box::new(Engine {
        state: [
            0x6745_2301,
            0xefcd_ab89,
            0x98ba_dcfe,
            0x1032_5476,
            0xc3d2_e1f0,
        ],
        k,
        blocks: Blocks::new(),
        compress: sha1_compress,
        big_endian: true,
    })
}

fn sha1_compress(state: &mut [u32; 5], k: &[u32; 64], block: &[u8; 64]) {
    let mut w = [0u32; 80];
    for (i, word) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    for i in 16..80 {
        w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
    }
    let mut v = *state;
    for (i, wi) in w.iter().enumerate() {
        let [a, b, c, d, e] = v;
        let f = match i / 20 {
            0 => (b & c) | (!b & d),
            2 => (b & c) | (b & d) | (c & d),
            _ => b ^ c ^ d,
        };
        let t = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k[i / 20])
            .wrapping_add(*wi);
        v = [t, a, b.rotate_left(30), c, d];
    }
    for (s, x) in state.iter_mut().zip(v) {
        *s = s.wrapping_add(x);
    }
}

fn md5_compress(state: &mut [u32; 4], k: &[u32; 64], block: &[u8; 64]) {
    let mut m = [0u32; 16];
    for (i, w) in m.iter_mut().enumerate() {
        *w = u32::from_le_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    for i in 0..64 {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        let shift = MD5_SHIFTS[(i / 16) * 4 + i % 4];
        let rotated = a
            .wrapping_add(f)
            .wrapping_add(k[i])
            .wrapping_add(m[g])
            .rotate_left(shift);
        a = d;
        d = c;
        c = b;
        b = b.wrapping_add(rotated);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d]) {
        *s = s.wrapping_add(v);
    }
}

fn first_primes(n: usize) -> Vec<u32> {
    let mut primes = Vec::with_capacity(n);
    let mut candidate = 2u32;
    while primes.len() < n {
        if primes.iter().all(|p| !candidate.is_multiple_of(*p)) {
            primes.push(candidate);
        }
        candidate += 1;
    }
    primes
}

fn frac_bits(x: f64) -> u32 {
    ((x - x.floor()) * 4_294_967_296.0) as u32
}

fn sha256_compress(state: &mut [u32; 8], k: &[u32; 64], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for i in 0..16 {
        w[i] = u32::from_be_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let mut v = *state;
    for i in 0..64 {
        let [a, b, c, d, e, f, g, h] = v;
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(k[i])
            .wrapping_add(w[i]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (s, x) in state.iter_mut().zip(v) {
        *s = s.wrapping_add(x);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(mut d: Box<dyn Digest>, parts: &[&[u8]]) -> String {
        for p in parts {
            d.update(p);
        }
        hex(&d.finish())
    }

    #[test]
    fn md5_vectors() {
        assert_eq!(digest(md5(), &[b""]), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            digest(md5(), &[b"a", b"bc"]),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn sha1_vectors() {
        assert_eq!(
            digest(sha1(), &[b"abc"]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            digest(
                sha1(),
                &[
                    b"abcdbcdecdefdefgefghfghighij",
                    b"hijkijkljklmklmnlmnomnopnopq"
                ]
            ),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn sha256_vectors() {
        assert_eq!(
            digest(sha256(), &[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![b'a'; 1000];
        let parts: Vec<&[u8]> = std::iter::repeat_n(&long[..], 1000).collect();
        assert_eq!(
            digest(sha256(), &parts),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }
}
