//! Standard base64 (RFC 4648 §4): minisign's keys and signatures and authorized_keys
//! lines carry their bytes in it (decoded with `=` padding required), and an SSH
//! fingerprint is the SHA-256 of a key blob in it without the padding.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|v| v as u32)
}

/// `data` in base64, with `=` padding when `padded`.
pub fn encode(data: &[u8], padded: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let group = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        let digits = chunk.len() + 1;
        for i in 0..4 {
            if i < digits {
                out.push(ALPHABET[(group >> (18 - 6 * i)) as usize & 63] as char);
            } else if padded {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes `text` encodes (blanks around it ignored), or why it is not base64.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim().as_bytes();
    if text.len() % 4 != 0 {
        return Err(format!(
            "{} characters, not a multiple of 4: truncated?",
            text.len()
        ));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (index, quad) in text.chunks_exact(4).enumerate() {
        let last = (index + 1) * 4 == text.len();
        let padding = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return Err("misplaced '=' padding".to_string());
        }
        let mut word = 0u32;
        for &c in &quad[..4 - padding] {
            let v = value(c).ok_or_else(|| format!("'{}' is not a base64 character", c as char))?;
            word = (word << 6) | v;
        }
        word <<= 6 * padding as u32;
        let bytes = word.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - padding]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    /// RFC 4648 §10's test vectors.
    #[test]
    fn rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(
                decode(encoded).as_deref(),
                Ok(plain.as_bytes()),
                "{encoded}"
            );
            assert_eq!(encode(plain.as_bytes(), true), encoded);
            assert_eq!(
                encode(plain.as_bytes(), false),
                encoded.trim_end_matches('=')
            );
        }
        assert_eq!(decode("/+8=").as_deref(), Ok(&[0xff, 0xef][..]));
        for bad in ["Zm9", "Zm=v", "Z===", "Zm9v!A==", "Zg==Zg=="] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
