//! A tiny PNG writer for QEMU's screen dumps (PPM in, PNG out) without a host tool: RGB,
//! no filter, one fixed-Huffman deflate block whose only matches are runs of one byte
//! (distance 1). A text-mode screen is mostly runs, so it still packs well.

/// PPM (binary P6, maxval 255) to PNG bytes.
pub fn ppm_to_png(ppm: &[u8]) -> Result<Vec<u8>, String> {
    let (width, height, pixels) = parse_ppm(ppm)?;
    Ok(encode_rgb(width, height, pixels))
}

/// Width, height and the RGB bytes of a P6 image.
pub fn parse_ppm(ppm: &[u8]) -> Result<(u32, u32, &[u8]), String> {
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while at < ppm.len() && ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        if ppm.get(at) == Some(&b'#') {
            while at < ppm.len() && ppm[at] != b'\n' {
                at += 1;
            }
            continue;
        }
        let start = at;
        while at < ppm.len() && !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        if start == at {
            return Err("PPM header ends early".into());
        }
        fields.push(String::from_utf8_lossy(&ppm[start..at]).into_owned());
    }
    if fields[0] != "P6" || fields[3] != "255" {
        return Err(format!("not a P6/255 PPM: {fields:?}"));
    }
    let number = |s: &str| s.parse::<u32>().map_err(|_| format!("bad PPM size {s:?}"));
    let (width, height) = (number(&fields[1])?, number(&fields[2])?);
    let pixels = ppm
        .get(at + 1..)
        .and_then(|rest| rest.get(..width as usize * height as usize * 3))
        .ok_or("PPM pixel data is short")?;
    Ok((width, height, pixels))
}

pub fn encode_rgb(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in pixels.chunks(row) {
        raw.push(0); // filter: none
        raw.extend_from_slice(line);
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// Bits packed least significant first, as deflate wants them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u32,
    count: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= value << self.count;
        self.count += count;
        while self.count >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.count -= 8;
        }
    }

    /// A Huffman code goes out most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Deflate's fixed literal/length code for `symbol` (0..=287).
fn fixed_code(bits: &mut Bits, symbol: u32) {
    match symbol {
        0..=143 => bits.code(0x30 + symbol, 8),
        144..=255 => bits.code(0x190 + symbol - 144, 9),
        256..=279 => bits.code(symbol - 256, 7),
        _ => bits.code(0xC0 + symbol - 280, 8),
    }
}

const LENGTH_BASE: [u32; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u32; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(1, 1); // the last block
    bits.put(1, 2); // fixed Huffman codes
    let mut at = 0;
    while at < data.len() {
        let byte = data[at];
        fixed_code(&mut bits, u32::from(byte));
        at += 1;
        let run = data[at..]
            .iter()
            .take(258)
            .take_while(|&&b| b == byte)
            .count();
        if run >= 3 {
            let index = LENGTH_BASE
                .iter()
                .rposition(|&b| b <= run as u32)
                .unwrap_or(0);
            fixed_code(&mut bits, 257 + index as u32);
            bits.put(run as u32 - LENGTH_BASE[index], LENGTH_EXTRA[index]);
            bits.code(0, 5); // distance code 0: distance 1
            at += run;
        }
    }
    fixed_code(&mut bits, 256);
    let mut out = vec![0x78, 0x01];
    out.extend(bits.finish());
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn a_ppm_becomes_a_png_with_its_size() {
        let mut ppm = b"P6\n# comment\n3 2\n255\n".to_vec();
        ppm.extend(std::iter::repeat_n(0u8, 18));
        let png = ppm_to_png(&ppm).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[16..24], &[0, 0, 0, 3, 0, 0, 0, 2]);
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
        assert!(ppm_to_png(b"P5\n1 1\n255\n\0").is_err());
        assert!(ppm_to_png(b"P6\n2 2\n255\n\0\0").is_err());
    }
}
