//! C-style backslash escapes for echo -e and printf.

/// Expand `\n`, `\t`, `\\`, `\0NNN`/`\NNN` octal, `\xHH`; returns the bytes and whether `\c`
/// (stop all output) was seen.
pub fn unescape(text: &str, octal_needs_zero: bool) -> (Vec<u8>, bool) {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'v' => Some(11),
            b'e' => Some(27),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        match c {
            b'c' => return (out, true),
            b'x' => {
                let (v, n) = digits(&b[i..], 16, 2);
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                } else {
                    out.push(v as u8);
                    i += n;
                }
            }
            b'0'..=b'7' => {
                // echo wants \0NNN; printf also takes \NNN.
                let start = if c == b'0' && octal_needs_zero {
                    i
                } else {
                    i - 1
                };
                let (v, n) = digits(&b[start..], 8, 3);
                if c != b'0' && octal_needs_zero {
                    out.push(b'\\');
                    out.push(c);
                } else {
                    out.push(v as u8);
                    i = start + n;
                }
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    (out, false)
}

fn digits(b: &[u8], radix: u32, max: usize) -> (u32, usize) {
    let mut v = 0u32;
    let mut n = 0;
    while n < max && n < b.len() {
        match (b[n] as char).to_digit(radix) {
            Some(d) => v = v * radix + d,
            None => break,
        }
        n += 1;
    }
    (v, n)
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn escapes() {
        assert_eq!(unescape("a\\tb\\n", true).0, b"a\tb\n");
        assert_eq!(unescape("\\0101\\x41", true).0, b"AA");
        assert_eq!(unescape("\\101", false).0, b"A");
        assert_eq!(unescape("x\\cy", true), (b"x".to_vec(), true));
    }
}
