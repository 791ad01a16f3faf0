//! Per-page compressors for the kdump-compressed writer, each keeping its working state
//! between pages (a fresh zlib compressor per page would cost more than the page).

/// Page compression of a written dump; the header and descriptor flag values are the
/// kdump format's DUMP_DH_COMPRESSED_* bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zlib,
    Lzo,
    Snappy,
    Zstd,
    None,
}

impl Compression {
    pub fn parse(name: &str) -> Option<Compression> {
        Some(match name {
            "zlib" => Compression::Zlib,
            "lzo" => Compression::Lzo,
            "snappy" => Compression::Snappy,
            "zstd" => Compression::Zstd,
            "none" => Compression::None,
            _ => return None,
        })
    }

    pub fn flag(self) -> u32 {
        match self {
            Compression::Zlib => 0x1,
            Compression::Lzo => 0x2,
            Compression::Snappy => 0x4,
            Compression::Zstd => 0x20,
            Compression::None => 0,
        }
    }
}

/// zlib-rs at level 2. makedumpfile -c uses level 1 (Z_BEST_SPEED) of C zlib; zlib-rs's
/// level 1 is a different, quicker algorithm whose files were 27 % bigger on the 6.1
/// fixture, while its level 2 came within 1.2 % of makedumpfile's size (level 3: 0.8 %, for
/// 32 % more time).
const ZLIB_LEVEL: i32 = 2;

enum State {
    Zlib(Box<flate2::Compress>),
    Lzo(Vec<u16>),
    Snappy(snap::raw::Encoder),
    Zstd,
    None,
}

pub struct PageCompressor {
    kind: Compression,
    state: State,
    out: Vec<u8>,
}

impl PageCompressor {
    pub fn new(kind: Compression) -> PageCompressor {
        let state = match kind {
            Compression::Zlib => State::Zlib(Box::new(flate2::Compress::new(
                flate2::Compression::new(ZLIB_LEVEL as u32),
                true,
            ))),
            Compression::Lzo => State::Lzo(Vec::new()),
            Compression::Snappy => State::Snappy(snap::raw::Encoder::new()),
            Compression::Zstd => State::Zstd,
            Compression::None => State::None,
        };
        PageCompressor {
            kind,
            state,
            out: Vec::new(),
        }
    }

    /// Compresses one page. Returns the bytes to store and the descriptor flag: the page
    /// itself with flag 0 when compression does not make it smaller (as makedumpfile does).
    pub fn compress<'a>(&'a mut self, page: &'a [u8]) -> (&'a [u8], u32) {
        let ok = match &mut self.state {
            State::Zlib(c) => zlib(c, page, &mut self.out),
            State::Lzo(table) => {
                super::lzo::compress(page, table, &mut self.out);
                true
            }
            State::Snappy(enc) => {
                self.out.resize(snap::raw::max_compress_len(page.len()), 0);
                match enc.compress(page, &mut self.out) {
                    Ok(n) => {
                        self.out.truncate(n);
                        true
                    }
                    Err(_) => false,
                }
            }
            State::Zstd => {
                self.out = ruzstd::encoding::compress_to_vec(
                    page,
                    ruzstd::encoding::CompressionLevel::Fastest,
                );
                true
            }
            State::None => false,
        };
        if ok && self.out.len() < page.len() {
            (&self.out, self.kind.flag())
        } else {
            (page, 0)
        }
    }
}

/// One zlib stream of `page` into `out`; false if it did not fit in a page (incompressible).
fn zlib(c: &mut flate2::Compress, page: &[u8], out: &mut Vec<u8>) -> bool {
    c.reset();
    out.clear();
    out.reserve(page.len());
    matches!(
        c.compress_vec(page, out, flate2::FlushCompress::Finish),
        Ok(flate2::Status::StreamEnd)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::format::kdump::decompress;

    #[test]
    fn every_compressor_round_trips_through_the_reader() {
        let mut text = Vec::new();
        while text.len() < 4096 {
            text.extend_from_slice(b"kboot page compression round trip; ");
        }
        text.truncate(4096);
        let noise: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for kind in ["zlib", "lzo", "snappy", "zstd", "none"] {
            let kind = Compression::parse(kind).unwrap();
            let mut c = PageCompressor::new(kind);
            // Twice each: state carried between pages must not leak into the next one.
            for page in [&text, &noise, &text] {
                let (data, flag) = c.compress(page);
                let data = data.to_vec();
                if page == &text && kind != Compression::None {
                    assert_eq!(flag, kind.flag(), "{kind:?}");
                    assert!(data.len() < 1024, "{kind:?}: {}", data.len());
                }
                assert_eq!(&decompress(flag, &data, 4096).unwrap(), page, "{kind:?}");
            }
        }
        assert_eq!(Compression::parse("gzip"), None);
    }
}
