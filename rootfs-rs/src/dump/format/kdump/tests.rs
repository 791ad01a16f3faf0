//! Synthetic kdump-compressed files: every compression kind, excluded pages, corrupt headers.

use crate::dump::format::kdump::*;
use crate::dump::format::source::MemSource;

const BS: usize = 4096;

fn page_pattern(pfn: u8) -> Vec<u8> {
    (0..BS)
        .map(|i| (i as u8).wrapping_mul(pfn).wrapping_add(pfn))
        .collect()
}

/// Builds a file with pfns 0..8: 0 raw, 1 zlib, 2 lzo, 3 snappy, 4 zstd, 5 excluded, 6 hole, 7 raw.
fn build() -> Vec<u8> {
    let mut f = vec![0u8; 4 * BS];
    f[..8].copy_from_slice(SIGNATURE);
    f[8..12].copy_from_slice(&6i32.to_le_bytes());
    f[UTS_OFFSET + 2 * UTS_FIELD..][..5].copy_from_slice(b"6.1.0");
    f[428..432].copy_from_slice(&(BS as i32).to_le_bytes());
    f[432..436].copy_from_slice(&1i32.to_le_bytes());
    f[436..440].copy_from_slice(&2u32.to_le_bytes());
    f[440..444].copy_from_slice(&8u32.to_le_bytes());
    let sub = BS;
    f[sub..sub + 8].copy_from_slice(&0x1234000u64.to_le_bytes());
    f[sub + 96..sub + 104].copy_from_slice(&8u64.to_le_bytes());
    f[2 * BS] = 0b1011_1111; // present: all but pfn 6
    f[3 * BS] = 0b1001_1111; // dumped: all but 5 and 6
    let dumped: [u8; 6] = [0, 1, 2, 3, 4, 7];
    let descs = 4 * BS;
    f.resize(descs + BS, 0);
    for (i, &pfn) in dumped.iter().enumerate() {
        let page = page_pattern(pfn);
        let (flags, data) = match pfn {
            1 => (DUMP_DH_COMPRESSED_ZLIB, {
                use std::io::Write;
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
                z.write_all(&page).unwrap();
                z.finish().unwrap()
            }),
            2 => (DUMP_DH_COMPRESSED_LZO, {
                let (mut table, mut out) = (Vec::new(), Vec::new());
                crate::dump::save::lzo::compress(&page, &mut table, &mut out);
                out
            }),
            3 => (
                DUMP_DH_COMPRESSED_SNAPPY,
                snap::raw::Encoder::new().compress_vec(&page).unwrap(),
            ),
            4 => (
                DUMP_DH_COMPRESSED_ZSTD,
                ruzstd::encoding::compress_to_vec(
                    page.as_slice(),
                    ruzstd::encoding::CompressionLevel::Fastest,
                ),
            ),
            _ => (0, page),
        };
        let off = f.len() as u64;
        let d = descs + i * 24;
        f[d..d + 8].copy_from_slice(&off.to_le_bytes());
        f[d + 8..d + 12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        f[d + 12..d + 16].copy_from_slice(&flags.to_le_bytes());
        f.extend(data);
    }
    f
}

#[test]
fn every_compression_kind_decodes() {
    let d = KdumpDump::open(MemSource(build())).unwrap();
    assert_eq!(d.header().release, "6.1.0");
    assert_eq!(d.header().phys_base, 0x1234000);
    for pfn in [0u8, 1, 2, 3, 4, 7] {
        let mut buf = vec![0u8; BS];
        d.read_phys(pfn as u64 * BS as u64, &mut buf)
            .unwrap_or_else(|e| panic!("pfn {pfn}: {e}"));
        assert_eq!(buf, page_pattern(pfn), "pfn {pfn}");
    }
    // A read that spans two differently compressed pages.
    let mut span = [0u8; 16];
    d.read_phys(2 * BS as u64 - 8, &mut span).unwrap();
    assert_eq!(&span[..8], &page_pattern(1)[BS - 8..]);
    assert_eq!(&span[8..], &page_pattern(2)[..8]);
}

#[test]
fn excluded_and_missing_pages_are_clear_errors() {
    let d = KdumpDump::open(MemSource(build())).unwrap();
    let mut b = [0u8; 8];
    assert!(
        matches!(d.read_phys(5 * BS as u64 + 8, &mut b), Err(DumpError::PageExcluded(a)) if a == 5 * BS as u64)
    );
    assert!(matches!(
        d.read_phys(6 * BS as u64, &mut b),
        Err(DumpError::NotInDump(_))
    ));
    assert!(matches!(
        d.read_phys(100 * BS as u64, &mut b),
        Err(DumpError::NotInDump(_))
    ));
}

#[test]
fn corrupt_files_are_errors_not_panics() {
    let good = build();
    for cut in [0, 7, 400, BS + 50, 3 * BS, 4 * BS + 30] {
        assert!(
            KdumpDump::open(MemSource(good[..cut].to_vec())).is_err(),
            "cut at {cut}"
        );
    }
    let mut bad_bs = good.clone();
    bad_bs[428..432].copy_from_slice(&3000i32.to_le_bytes());
    assert!(KdumpDump::open(MemSource(bad_bs)).is_err());
    let mut big_mapnr = good.clone();
    big_mapnr[BS + 96..BS + 104].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(KdumpDump::open(MemSource(big_mapnr)).is_err());
    // A page descriptor pointing past the end, and compressed bytes flipped: read errors.
    let mut bad_desc = good.clone();
    bad_desc[4 * BS..4 * BS + 8].copy_from_slice(&(1u64 << 50).to_le_bytes());
    let d = KdumpDump::open(MemSource(bad_desc)).unwrap();
    assert!(d.read_phys(0, &mut [0u8; 8]).is_err());
    let mut flipped = good.clone();
    let zlib_off = u64::from_le_bytes(good[4 * BS + 24..4 * BS + 32].try_into().unwrap()) as usize;
    for b in &mut flipped[zlib_off..zlib_off + 40] {
        *b ^= 0x5a;
    }
    let d = KdumpDump::open(MemSource(flipped)).unwrap();
    assert!(d.read_phys(BS as u64, &mut [0u8; 8]).is_err());
    // Any single flipped header byte: error or success, never a panic.
    for i in (0..480).chain(BS..BS + 104) {
        let mut f = good.clone();
        f[i] ^= 0xff;
        if let Ok(d) = KdumpDump::open(MemSource(f)) {
            let _ = d.read_phys(0, &mut [0u8; 64]);
        }
    }
}
