//! A module file's contents and its `.modinfo` section: the `key=value\0` strings the
//! kernel's MODULE_LICENSE, MODULE_ALIAS, MODULE_PARM_DESC… macros leave in the ELF object,
//! printed as kmod's modinfo prints them.
//!
//! Compressed modules are recognised by their magic bytes, not their names: gzip through
//! flate2 and zstd through ruzstd, both already in the binary for dumps. xz has no decoder
//! here (a pure-Rust one would cost ~50 KiB for a format distributions are leaving for zstd).

use std::io::{self, Read};
use std::path::Path;

/// Bigger than any real module (the largest in Debian's 6.1 tree, amdgpu, is ~20 MiB
/// uncompressed): the bound keeps a corrupt or hostile file from filling memory.
const MAX_MODULE_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    pub fn of_bytes(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    /// The name the kernel writes in /sys/module/compression for its decompressor.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

fn invalid(text: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text.into())
}

/// Decompress a module's bytes (unchanged when not compressed).
pub fn decompress(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match Compression::of_bytes(&bytes) {
        Compression::None => return Ok(bytes),
        Compression::Xz => return Err(invalid("xz-compressed module: not supported")),
        Compression::Gzip => {
            flate2::read::GzDecoder::new(&bytes[..])
                .take(MAX_MODULE_BYTES)
                .read_to_end(&mut out)?;
        }
        Compression::Zstd => {
            ruzstd::decoding::StreamingDecoder::new(&bytes[..])
                .map_err(|e| invalid(format!("zstd: {e}")))?
                .take(MAX_MODULE_BYTES)
                .read_to_end(&mut out)?;
        }
    }
    Ok(out)
}

/// The module file's ELF image, decompressed.
pub fn read_module(path: &Path) -> io::Result<Vec<u8>> {
    decompress(std::fs::read(path)?)
}

/// Reads little- or big-endian fields of a 32- or 64-bit ELF file, bounds-checked.
struct Elf<'a> {
    data: &'a [u8],
    wide: bool,
    big: bool,
}

impl Elf<'_> {
    fn uint(&self, at: usize, len: usize) -> Option<u64> {
        let bytes = self.data.get(at..at.checked_add(len)?)?;
        let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
        Some(if self.big {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        })
    }

    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, at: usize) -> Option<usize> {
        usize::try_from(self.uint(at, if self.wide { 8 } else { 4 })?).ok()
    }

    fn half(&self, at: usize) -> Option<usize> {
        usize::try_from(self.uint(at, 2)?).ok()
    }

    /// (name offset, file offset, size) of section `i`.
    fn section(&self, shoff: usize, entsize: usize, i: usize) -> Option<(usize, usize, usize)> {
        let at = shoff.checked_add(entsize.checked_mul(i)?)?;
        let name = usize::try_from(self.uint(at, 4)?).ok()?;
        let (off, size) = if self.wide {
            (self.word(at + 24)?, self.word(at + 32)?)
        } else {
            (self.word(at + 16)?, self.word(at + 20)?)
        };
        Some((name, off, size))
    }
}

/// The bytes of the section called `wanted`.
pub fn section<'a>(data: &'a [u8], wanted: &str) -> io::Result<&'a [u8]> {
    if !data.starts_with(b"\x7fELF") {
        return Err(invalid("not an ELF file (invalid module format)"));
    }
    let elf = Elf {
        data,
        wide: data.get(4) == Some(&2),
        big: data.get(5) == Some(&2),
    };
    let truncated = || invalid("truncated ELF headers");
    let (shoff, entsize, count, strndx) = if elf.wide {
        (
            elf.word(0x28),
            elf.half(0x3a),
            elf.half(0x3c),
            elf.half(0x3e),
        )
    } else {
        (
            elf.word(0x20),
            elf.half(0x2e),
            elf.half(0x30),
            elf.half(0x32),
        )
    };
    let (Some(shoff), Some(entsize), Some(count), Some(strndx)) = (shoff, entsize, count, strndx)
    else {
        return Err(truncated());
    };
    let (_, names_at, names_len) = elf.section(shoff, entsize, strndx).ok_or_else(truncated)?;
    let names = data
        .get(names_at..names_at.saturating_add(names_len))
        .ok_or_else(truncated)?;
    for i in 0..count {
        let (name, off, size) = elf.section(shoff, entsize, i).ok_or_else(truncated)?;
        let Some(tail) = names.get(name..) else {
            continue;
        };
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        if &tail[..end] == wanted.as_bytes() {
            return data
                .get(off..off.saturating_add(size))
                .ok_or_else(|| invalid(format!("section {wanted} runs past the end of the file")));
        }
    }
    Err(invalid(format!("no {wanted} section")))
}

/// The `key=value` strings of `.modinfo`, in section order.
pub fn modinfo_fields(elf: &[u8]) -> io::Result<Vec<(String, String)>> {
    let section = section(elf, ".modinfo")?;
    Ok(section
        .split(|&b| b == 0)
        .filter_map(|s| {
            let text = String::from_utf8_lossy(s);
            let (key, value) = text.split_once('=')?;
            Some((key.to_string(), value.to_string()))
        })
        .collect())
}

/// A module parameter from its `parm` (description) and `parmtype` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub description: Option<String>,
    pub kind: Option<String>,
}

/// The parameters, `parm` and `parmtype` merged by name, last-seen first (kmod prepends
/// each new parameter to its list, and its output is what people compare against).
pub fn params(fields: &[(String, String)]) -> Vec<Param> {
    let mut params: Vec<Param> = Vec::new();
    for (key, value) in fields {
        if key != "parm" && key != "parmtype" {
            continue;
        }
        let Some((name, rest)) = value.split_once(':') else {
            continue; // kmod also skips a parm without ':'
        };
        let at = match params.iter().position(|p| p.name == name) {
            Some(at) => at,
            None => {
                params.push(Param {
                    name: name.to_string(),
                    description: None,
                    kind: None,
                });
                params.len() - 1
            }
        };
        match key.as_str() {
            "parm" => params[at].description = Some(rest.to_string()),
            _ => params[at].kind = Some(rest.to_string()),
        }
    }
    params.reverse();
    params
}

impl Param {
    /// `NAME:DESCRIPTION (TYPE)`, `NAME:DESCRIPTION` or `NAME:TYPE`, as modinfo's `parm:` lines.
    pub fn text(&self) -> Option<String> {
        Some(match (&self.description, &self.kind) {
            (Some(d), Some(t)) => format!("{}:{d} ({t})", self.name),
            (Some(d), None) => format!("{}:{d}", self.name),
            (None, Some(t)) => format!("{}:{t}", self.name),
            (None, None) => return None,
        })
    }
}

/// kmod's modinfo layout: `filename:` first, each key padded to 16 columns in section
/// order, and the parameters as `parm: NAME:DESCRIPTION (TYPE)` lines at the end.
pub fn format(filename: &str, fields: &[(String, String)]) -> Vec<String> {
    let mut lines = vec![format!("{:<16}{filename}", "filename:")];
    for (key, value) in fields {
        if key != "parm" && key != "parmtype" {
            lines.push(format!("{:<16}{value}", format!("{key}:")));
        }
    }
    for text in params(fields).iter().filter_map(Param::text) {
        lines.push(format!("{:<16}{text}", "parm:"));
    }
    lines
}

#[cfg(test)]
#[path = "../../tests/common/ko_fixture.rs"]
pub(crate) mod ko_fixture;

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &[
        "license=GPL",
        "description=Intel(R) PRO/1000 Network Driver",
        "author=Intel Corporation",
        "parm=debug:Debug level (0=none,...,16=all)",
        "parmtype=debug:int",
        "alias=pci:v00008086d000010D3sv*sd*bc*sc*i*",
        "depends=",
        "vermagic=6.1.0-test SMP preempt mod_unload modversions ",
    ];

    #[test]
    fn modinfo_of_a_handmade_elf() {
        let elf = ko_fixture::tiny_ko(FIELDS);
        let fields = modinfo_fields(&elf).expect("parses");
        assert_eq!(fields.len(), FIELDS.len());
        assert_eq!(fields[0], ("license".into(), "GPL".into()));
        let lines = format("/m/e1000e.ko", &fields);
        assert_eq!(lines[0], "filename:       /m/e1000e.ko");
        assert_eq!(lines[1], "license:        GPL");
        assert!(lines.contains(&"depends:        ".to_string()));
        assert_eq!(
            lines.last().map(String::as_str),
            Some("parm:           debug:Debug level (0=none,...,16=all) (int)")
        );
    }

    #[test]
    fn compressed_modules_decompress() {
        use std::io::Write;
        let elf = ko_fixture::tiny_ko(FIELDS);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&elf).expect("gzip");
        let gz = gz.finish().expect("gzip");
        assert_eq!(Compression::of_bytes(&gz), Compression::Gzip);
        assert_eq!(decompress(gz).expect("gunzip"), elf);
        let zst = ruzstd::encoding::compress_to_vec(
            &elf[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(decompress(zst).expect("unzstd"), elf);
        let xz = b"\xfd7zXZ\0rest".to_vec();
        let err = decompress(xz).expect_err("xz refused");
        assert!(err
            .to_string()
            .contains("xz-compressed module: not supported"));
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        let elf = ko_fixture::tiny_ko(FIELDS);
        for cut in [0, 3, 10, 63, 64, 100, elf.len() - 1] {
            let _ = modinfo_fields(&elf[..cut]);
        }
        assert!(modinfo_fields(b"hello").is_err());
        let mut bad = elf.clone();
        bad[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(modinfo_fields(&bad).is_err());
    }
}
