//! tr: translate, delete (-d) or squeeze (-s) characters; sets take ranges, escapes, [:class:].
use std::ffi::OsString;
use std::io::{self, Read, Write};

use crate::util::{finish, Parser};

const USAGE: &str =
    "usage: tr [-cds] SET1 [SET2]\nTranslate, squeeze and/or delete bytes from stdin to stdout.";

/// Expand a tr set into its bytes, in order.
pub fn expand_set(spec: &str) -> Result<Vec<u8>, String> {
    let (raw, _) = crate::util::text::unescape(spec, false);
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'[' && raw.get(i + 1) == Some(&b':') {
            if let Some(end) = raw[i + 2..].windows(2).position(|w| w == b":]") {
                let name = String::from_utf8_lossy(&raw[i + 2..i + 2 + end]).into_owned();
                let test: fn(&u8) -> bool = match name.as_str() {
                    "upper" => u8::is_ascii_uppercase,
                    "lower" => u8::is_ascii_lowercase,
                    "digit" => u8::is_ascii_digit,
                    "alpha" => u8::is_ascii_alphabetic,
                    "alnum" => u8::is_ascii_alphanumeric,
                    "space" => |b: &u8| b.is_ascii_whitespace() || *b == 0x0b,
                    "blank" => |b: &u8| *b == b' ' || *b == b'\t',
                    "punct" => u8::is_ascii_punctuation,
                    "xdigit" => u8::is_ascii_hexdigit,
                    "cntrl" => u8::is_ascii_control,
                    _ => return Err(format!("invalid character class '{name}'")),
                };
                out.extend((0..=255u8).filter(test));
                i += 2 + end + 2;
                continue;
            }
        }
        if i + 2 < raw.len() && raw[i + 1] == b'-' {
            let (lo, hi) = (raw[i], raw[i + 2]);
            if hi < lo {
                return Err(format!(
                    "range-endpoints of '{}-{}' are in reverse collating sequence order",
                    lo as char, hi as char
                ));
            }
            out.extend(lo..=hi);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    Ok(out)
}

/// What tr does to each byte.
struct Tables {
    /// SET1 (complemented with -c): the bytes deleted with -d.
    set1: [bool; 256],
    /// The translation SET1 → SET2 (identity for the other bytes).
    map: [u8; 256],
    /// The bytes squeezed with -s, after translation.
    squeeze_set: [bool; 256],
}

impl Tables {
    fn new(sets: &[Vec<u8>], complement: bool, delete: bool, squeeze: bool) -> Tables {
        let mut set1 = [false; 256];
        for &b in &sets[0] {
            set1[b as usize] = true;
        }
        if complement {
            for v in set1.iter_mut() {
                *v = !*v;
            }
        }
        // Translation table: SET2 is padded with its last byte.
        let mut map: [u8; 256] = std::array::from_fn(|i| i as u8);
        let target = sets.get(1);
        if !delete {
            if let Some(set2) = sets.get(1).filter(|s| !s.is_empty()) {
                let sources: Vec<u8> = if complement {
                    (0..=255u8).filter(|b| set1[*b as usize]).collect()
                } else {
                    sets[0].clone()
                };
                for (i, &from) in sources.iter().enumerate() {
                    map[from as usize] = *set2.get(i).unwrap_or(&set2[set2.len() - 1]);
                }
            }
        }
        let mut squeeze_set = [false; 256];
        let squeeze_source = if delete || sets.len() == 2 {
            target
        } else {
            Some(&sets[0])
        };
        if squeeze {
            match squeeze_source {
                Some(s) if !(sets.len() == 1 && complement) => {
                    s.iter().for_each(|&b| squeeze_set[b as usize] = true)
                }
                _ => squeeze_set = set1,
            }
        }
        Tables {
            set1,
            map,
            squeeze_set,
        }
    }
}

pub fn main(args: &[OsString]) -> i32 {
    let (mut complement, mut delete, mut squeeze) = (false, false, false);
    let sets = match Parser::new("tr", USAGE, args).parse(|p, c| {
        match c {
            'c' | 'C' => complement = true,
            'd' => delete = true,
            's' => squeeze = true,
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let needed = if delete && !squeeze || squeeze && sets.len() == 1 {
        1
    } else {
        2
    };
    if sets.len() < needed || sets.len() > 2 {
        return Parser::usage_error("tr", USAGE, "wrong number of operands", 1);
    }
    let parsed: Result<Vec<Vec<u8>>, String> = sets
        .iter()
        .map(|s| expand_set(&s.to_string_lossy()))
        .collect();
    let sets = match parsed {
        Ok(s) => s,
        Err(msg) => {
            crate::warn!("tr: {msg}");
            return 1;
        }
    };
    let Tables {
        set1,
        map,
        squeeze_set,
    } = Tables::new(&sets, complement, delete, squeeze);
    let mut input = Vec::new();
    if let Err(e) = io::stdin().read_to_end(&mut input) {
        crate::util::warn_err("tr", "read error", &e);
        return 1;
    }
    let mut text = Vec::with_capacity(input.len());
    let mut last: Option<u8> = None;
    for b in input {
        if delete && set1[b as usize] {
            continue;
        }
        let t = map[b as usize];
        if squeeze && squeeze_set[t as usize] && last == Some(t) {
            continue;
        }
        text.push(t);
        last = Some(t);
    }
    let mut out = io::stdout().lock();
    finish(
        "tr",
        out.write_all(&text).and_then(|_| out.flush()).map(|_| 0),
    )
}
