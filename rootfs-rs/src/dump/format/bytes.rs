//! Bounds-checked little/big-endian field access on byte slices taken from a dump.

use crate::dump::error::{bad, DumpError};

/// Returns `buf[off..off+len]` or a format error naming `what`.
pub(crate) fn slice<'a>(
    buf: &'a [u8],
    off: usize,
    len: usize,
    what: &str,
) -> Result<&'a [u8], DumpError> {
    off.checked_add(len)
        .and_then(|end| buf.get(off..end))
        .ok_or_else(|| {
            bad(format!(
                "{what}: need {len} bytes at offset {off}, have {}",
                buf.len()
            ))
        })
}

fn array<const N: usize>(buf: &[u8], off: usize, what: &str) -> Result<[u8; N], DumpError> {
    let s = slice(buf, off, N, what)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

pub(crate) fn le_u16(buf: &[u8], off: usize, what: &str) -> Result<u16, DumpError> {
    Ok(u16::from_le_bytes(array(buf, off, what)?))
}
pub(crate) fn le_u32(buf: &[u8], off: usize, what: &str) -> Result<u32, DumpError> {
    Ok(u32::from_le_bytes(array(buf, off, what)?))
}
pub(crate) fn le_i32(buf: &[u8], off: usize, what: &str) -> Result<i32, DumpError> {
    Ok(i32::from_le_bytes(array(buf, off, what)?))
}
pub(crate) fn le_u64(buf: &[u8], off: usize, what: &str) -> Result<u64, DumpError> {
    Ok(u64::from_le_bytes(array(buf, off, what)?))
}
pub(crate) fn be_i64(buf: &[u8], off: usize, what: &str) -> Result<i64, DumpError> {
    Ok(i64::from_be_bytes(array(buf, off, what)?))
}

/// Text up to the first NUL (or the whole slice), lossily decoded.
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Rounds `n` up to a multiple of 4 (ELF note padding), None on overflow.
pub(crate) fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}
