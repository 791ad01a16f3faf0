//! makedumpfile's flattened format as output (what `makedumpfile -F` writes): every
//! positional write becomes an (offset, size) record on a stream, so a dump can go over a
//! network connection that cannot seek. `makedumpfile -R` rearranges it into a plain
//! kdump-compressed file; kboot reads it as it is (`dump::format::flattened`). Without its
//! end marker (a transfer cut short) neither accepts it.

use super::writer::DumpSink;
use std::io::{self, Write};
use std::sync::Mutex;

/// The header block: signature, type 1 (flat header), version 1, zero-padded.
const HEADER_SIZE: usize = 4096;

/// A flattened dump being written to `W`.
pub struct FlatStream<W: Write> {
    out: Mutex<W>,
}

impl<W: Write> FlatStream<W> {
    /// Writes the header block.
    pub fn new(mut out: W) -> io::Result<FlatStream<W>> {
        let mut header = vec![0u8; HEADER_SIZE];
        header[..12].copy_from_slice(crate::dump::format::flattened::SIGNATURE);
        header[16..24].copy_from_slice(&1i64.to_be_bytes());
        header[24..32].copy_from_slice(&1i64.to_be_bytes());
        out.write_all(&header)?;
        Ok(FlatStream {
            out: Mutex::new(out),
        })
    }

    /// Writes the end marker and returns the stream.
    pub fn finish(self) -> io::Result<W> {
        let mut out = self
            .out
            .into_inner()
            .map_err(|_| io::Error::other("a writer panicked"))?;
        out.write_all(&(-1i64).to_be_bytes())?;
        out.write_all(&(-1i64).to_be_bytes())?;
        out.flush()?;
        Ok(out)
    }
}

impl<W: Write> DumpSink for FlatStream<W> {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| io::Error::other("a writer panicked"))?;
        let offset = i64::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
        out.write_all(&offset.to_be_bytes())?;
        out.write_all(&(buf.len() as i64).to_be_bytes())?;
        out.write_all(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::format::flattened::Flattened;
    use crate::dump::format::source::{MemSource, ReadAt};

    #[test]
    fn out_of_order_writes_read_back_as_the_logical_file() {
        let flat = FlatStream::new(Vec::new()).expect("header");
        flat.write_all_at(b"world", 6).expect("write");
        flat.write_all_at(b"hello ", 0).expect("write");
        flat.write_all_at(b"W", 6).expect("rewrite");
        let bytes = flat.finish().expect("end");
        let file = Flattened::open(MemSource(bytes.clone())).expect("a valid flattened file");
        let mut back = [0u8; 11];
        file.read_at(0, &mut back).expect("read");
        assert_eq!(&back, b"hello World");
        // Cut short (no end marker): refused.
        let cut = MemSource(bytes[..bytes.len() - 16].to_vec());
        assert!(Flattened::open(cut).is_err());
    }
}
