//! makedumpfile -F / QEMU kdump-* flattened files read in place: the (offset, size) records are
//! indexed once, then reads of the logical (rearranged) file are served from the records.

use crate::dump::error::{bad, DumpError};
use crate::dump::format::bytes::be_i64;
use crate::dump::format::source::{read_vec, ReadAt};
use std::collections::BTreeMap;

pub const SIGNATURE: &[u8] = b"makedumpfile";
const HEADER_SIZE: u64 = 4096;
const RECORD_HEADER: u64 = 16;
const TYPE_FLAT_HEADER: i64 = 1;

/// One piece of the logical file: [start, end) is stored at `file_pos` in the flattened file.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    end: u64,
    file_pos: u64,
}

/// The logical file described by a flattened dump.
pub struct Flattened<S: ReadAt> {
    src: S,
    pieces: Vec<Piece>,
    size: u64,
}

/// Adds [start, end) → pos; later records override earlier ones, as when they are replayed.
fn insert(map: &mut BTreeMap<u64, (u64, u64)>, start: u64, end: u64, pos: u64) {
    let overlapping: Vec<(u64, (u64, u64))> = map
        .range(..end)
        .rev()
        .take_while(|(_, &(e, _))| e > start)
        .map(|(&s, &v)| (s, v))
        .collect();
    for (s, (e, p)) in overlapping {
        map.remove(&s);
        if s < start {
            map.insert(s, (start, p));
        }
        if e > end {
            map.insert(end, (e, p + (end - s)));
        }
    }
    map.insert(start, (end, pos));
}

impl<S: ReadAt> Flattened<S> {
    pub fn open(src: S) -> Result<Self, DumpError> {
        let head = read_vec(&src, 0, 32, "flattened header")?;
        if !head.starts_with(SIGNATURE) {
            return Err(bad("not a flattened makedumpfile file"));
        }
        let kind = be_i64(&head, 16, "flattened header type")?;
        if kind != TYPE_FLAT_HEADER {
            return Err(bad(format!(
                "flattened header type {kind} is not supported"
            )));
        }
        let mut map = BTreeMap::new();
        let mut pos = HEADER_SIZE;
        let file_size = src.size();
        // Every record header is 16 bytes of the input: a flattened file inside the sparse
        // file of another (gaps read as zeros, a zero record is empty) must not make this
        // loop walk a logical size of petabytes.
        let max_records = src.stored() / RECORD_HEADER + 1;
        let mut records = 0u64;
        loop {
            records += 1;
            if records > max_records {
                return Err(bad(
                    "flattened file has more records than its bytes can hold",
                ));
            }
            if pos + RECORD_HEADER > file_size {
                return Err(bad(format!(
                    "flattened file ends without an end marker (at {pos:#x})"
                )));
            }
            let rec = read_vec(&src, pos, RECORD_HEADER, "flattened record header")?;
            let offset = be_i64(&rec, 0, "record offset")?;
            let size = be_i64(&rec, 8, "record size")?;
            if offset == -1 && size == -1 {
                break;
            }
            let data = pos + RECORD_HEADER;
            let (Ok(offset), Ok(size)) = (u64::try_from(offset), u64::try_from(size)) else {
                return Err(bad(format!(
                    "flattened record at {pos:#x} has a negative offset or size"
                )));
            };
            let Some(data_end) = data.checked_add(size).filter(|&e| e <= file_size) else {
                return Err(bad(format!(
                    "flattened record at {pos:#x} runs past the end of the file"
                )));
            };
            let end = offset
                .checked_add(size)
                .ok_or_else(|| bad("flattened record offset overflows"))?;
            if size > 0 {
                insert(&mut map, offset, end, data);
            }
            pos = data_end;
        }
        let pieces: Vec<Piece> = map
            .into_iter()
            .map(|(start, (end, file_pos))| Piece {
                start,
                end,
                file_pos,
            })
            .collect();
        let size = pieces.last().map_or(0, |p| p.end);
        Ok(Flattened { src, pieces, size })
    }

    pub fn record_count(&self) -> usize {
        self.pieces.len()
    }
}

impl<S: ReadAt> ReadAt for Flattened<S> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.size);
        if end.is_none() {
            return Err(bad(format!(
                "read at {offset:#x} past the end of the flattened dump"
            )));
        }
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let idx = self.pieces.partition_point(|p| p.start <= at);
            let piece = idx
                .checked_sub(1)
                .map(|i| self.pieces[i])
                .filter(|p| at < p.end);
            let left = (buf.len() - done) as u64;
            match piece {
                Some(p) => {
                    let n = (p.end - at).min(left) as usize;
                    self.src
                        .read_at(p.file_pos + (at - p.start), &mut buf[done..done + n])?;
                    done += n;
                }
                None => {
                    // A gap never written: reads as zeros, like a sparse rearranged file.
                    let next = self.pieces.get(idx).map_or(self.size, |p| p.start);
                    let n = (next - at).min(left) as usize;
                    buf[done..done + n].fill(0);
                    done += n;
                }
            }
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn stored(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| p.end - p.start)
            .fold(0, u64::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::format::source::MemSource;

    fn flat(records: &[(i64, &[u8])]) -> Vec<u8> {
        let mut f = vec![0u8; HEADER_SIZE as usize];
        f[..12].copy_from_slice(SIGNATURE);
        f[16..24].copy_from_slice(&1i64.to_be_bytes());
        f[24..32].copy_from_slice(&1i64.to_be_bytes());
        for (off, data) in records {
            f.extend_from_slice(&off.to_be_bytes());
            f.extend_from_slice(&(data.len() as i64).to_be_bytes());
            f.extend_from_slice(data);
        }
        f.extend_from_slice(&(-1i64).to_be_bytes());
        f.extend_from_slice(&(-1i64).to_be_bytes());
        f
    }

    #[test]
    fn later_records_override_and_gaps_read_zero() {
        let f = Flattened::open(MemSource(flat(&[
            (0, b"abcdefgh"),
            (12, b"XYZ"),
            (2, b"12"),
        ])))
        .unwrap();
        assert_eq!(f.size(), 15);
        let mut b = [0xffu8; 15];
        f.read_at(0, &mut b).unwrap();
        assert_eq!(&b, b"ab12efgh\0\0\0\0XYZ");
        assert!(f.read_at(10, &mut [0u8; 8]).is_err());
    }

    #[test]
    fn corrupt_records_are_errors() {
        let good = flat(&[(0, b"abcdefgh")]);
        assert!(Flattened::open(MemSource(good[..good.len() - 16].to_vec())).is_err());
        assert!(Flattened::open(MemSource(good[..4100].to_vec())).is_err());
        let mut neg = good.clone();
        neg[4096..4104].copy_from_slice(&(-5i64).to_be_bytes());
        assert!(Flattened::open(MemSource(neg)).is_err());
        let mut long = good.clone();
        long[4104..4112].copy_from_slice(&(1i64 << 40).to_be_bytes());
        assert!(Flattened::open(MemSource(long)).is_err());
        let mut sig = good;
        sig[0] = b'M';
        assert!(Flattened::open(MemSource(sig)).is_err());
    }
}
