//! A fast LZO1X (bitstream version 0) page compressor: greedy matches from a 4-byte hash,
//! written with only three instruction kinds (format facts from the kernel's
//! Documentation/staging/lzo.rst):
//! - literal runs: the first-byte form `17 + n` (n = 1..3) at the very start, else
//!   `0000LLLL` (4 or more literals; valid because the previous match said "0 literals");
//!   1-3 literals after a match ride in that match's two low distance bits;
//! - matches: `001LLLLL` + LE16 `(distance - 1) << 2 | literals` (distance ≤ 16 KiB, so any
//!   distance within a page);
//! - end of stream: `0x11 0x00 0x00`.

const HASH_BITS: u32 = 12;
const MIN_MATCH: usize = 4;
const MAX_DISTANCE: usize = 16384;

/// Variable-length count after an opcode whose field of `bits` bits was zero.
fn push_extended(out: &mut Vec<u8>, mut rest: usize) {
    while rest > 255 {
        out.push(0);
        rest -= 255;
    }
    out.push(rest as u8);
}

/// Emits the literals `lit`, which follow the instruction that ended at `last_op` (the index
/// of its last byte, None at the start of the stream).
fn push_literals(out: &mut Vec<u8>, lit: &[u8], last_op: Option<usize>) {
    let n = lit.len();
    if n == 0 {
        return;
    }
    match last_op {
        None if n <= 3 => out.push(17 + n as u8),
        // After a match the two low bits of its distance byte hold 1-3 literals.
        Some(at) if n <= 3 => out[at - 1] |= n as u8,
        _ => {
            if n - 3 <= 15 {
                out.push((n - 3) as u8);
            } else {
                out.push(0);
                push_extended(out, n - 3 - 15);
            }
        }
    }
    out.extend_from_slice(lit);
}

fn hash(b: &[u8]) -> usize {
    let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    (v.wrapping_mul(2654435761) >> (32 - HASH_BITS)) as usize
}

/// Compresses `input` (at most a few pages) into `out` as one LZO1X stream.
pub fn compress(input: &[u8], table: &mut Vec<u16>, out: &mut Vec<u8>) {
    out.clear();
    table.clear();
    table.resize(1 << HASH_BITS, u16::MAX);
    let mut literal_start = 0;
    let mut last_op: Option<usize> = None;
    let mut i = 0;
    while i + MIN_MATCH <= input.len() {
        let h = hash(&input[i..]);
        let candidate = table[h] as usize;
        table[h] = i as u16;
        let found = candidate != u16::MAX as usize
            && candidate < i
            && i - candidate <= MAX_DISTANCE
            && input[candidate..candidate + MIN_MATCH] == input[i..i + MIN_MATCH];
        if !found {
            i += 1;
            continue;
        }
        let mut len = MIN_MATCH;
        while i + len < input.len() && input[candidate + len] == input[i + len] {
            len += 1;
        }
        push_literals(out, &input[literal_start..i], last_op);
        let distance = i - candidate;
        if len - 2 <= 31 {
            out.push(32 | (len - 2) as u8);
        } else {
            out.push(32);
            push_extended(out, len - 2 - 31);
        }
        out.extend_from_slice(&(((distance - 1) << 2) as u16).to_le_bytes());
        last_op = Some(out.len() - 1);
        i += len;
        literal_start = i;
    }
    push_literals(out, &input[literal_start..], last_op);
    out.extend_from_slice(&[0x11, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(input: &[u8]) -> usize {
        let (mut table, mut out) = (Vec::new(), Vec::new());
        compress(input, &mut table, &mut out);
        let mut back = vec![0u8; input.len()];
        let n = lzo::decompress_into(&out, &mut back)
            .unwrap_or_else(|e| panic!("{} bytes: {e}", input.len()));
        assert_eq!(&back[..n], input);
        out.len()
    }

    #[test]
    fn streams_decode_to_the_input() {
        let mut page = vec![0u8; 4096];
        assert!(round_trip(&page) < 100);
        for (i, b) in page.iter_mut().enumerate() {
            *b = (i.wrapping_mul(2654435761) >> 13) as u8;
        }
        round_trip(&page);
        let text: Vec<u8> = b"struct task_struct *next = list_next_entry(p, tasks); "
            .iter()
            .cycle()
            .take(4096)
            .copied()
            .collect();
        assert!(round_trip(&text) < 600);
        // Literal runs of every short length at the start, between and after matches.
        for n in 0..40 {
            let mut v: Vec<u8> = (0..n as u8).map(|x| x.wrapping_mul(37)).collect();
            v.extend_from_slice(&[7; 300]);
            v.extend((0..n as u8).map(|x| x.wrapping_mul(91).wrapping_add(1)));
            v.extend_from_slice(&[7; 5]);
            v.extend((0..n as u8).map(|x| x ^ 0x5a));
            round_trip(&v);
        }
    }
}
