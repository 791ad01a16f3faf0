//! VMCOREINFO text (the kernel's crash_core key=value lines): release, page size, symbols,
//! offsets, sizes, numbers, lengths, KERNELOFFSET, CRASHTIME.

use crate::dump::error::DumpError;
use std::collections::HashMap;

/// Parsed VMCOREINFO. Unknown keys are kept in `raw`.
#[derive(Debug, Clone, Default)]
pub struct VmcoreInfo {
    pub osrelease: Option<String>,
    pub page_size: Option<u64>,
    pub kernel_offset: Option<u64>,
    pub crash_time: Option<u64>,
    symbols: HashMap<String, u64>,
    offsets: HashMap<String, u64>,
    sizes: HashMap<String, u64>,
    numbers: HashMap<String, i64>,
    lengths: HashMap<String, u64>,
    /// Every line as key → value text.
    pub raw: Vec<(String, String)>,
}

fn parse_hex(v: &str) -> Option<u64> {
    u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()
}

fn parse_dec(v: &str) -> Option<i64> {
    v.parse::<i64>().ok()
}

/// `PREFIX(name)` → name.
fn inner<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

impl VmcoreInfo {
    /// Parses the note text. Malformed lines are skipped (the kernel's own text is trusted only
    /// line by line); a text without OSRELEASE is not VMCOREINFO at all.
    pub fn parse(text: &str) -> Result<Self, DumpError> {
        let mut info = VmcoreInfo::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\0').trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            info.raw.push((key.to_string(), value.to_string()));
            match key {
                "OSRELEASE" => info.osrelease = Some(value.to_string()),
                // Only page sizes a kernel can have: everything below divides and shifts by it.
                "PAGESIZE" => {
                    info.page_size = value
                        .parse::<u64>()
                        .ok()
                        .filter(|p| p.is_power_of_two() && (4096..=65536).contains(p))
                }
                "KERNELOFFSET" => info.kernel_offset = parse_hex(value),
                "CRASHTIME" => info.crash_time = value.parse().ok(),
                _ => {
                    if let Some(n) = inner(key, "SYMBOL") {
                        parse_hex(value).map(|v| info.symbols.insert(n.to_string(), v));
                    } else if let Some(n) = inner(key, "OFFSET") {
                        parse_dec(value).map(|v| info.offsets.insert(n.to_string(), v as u64));
                    } else if let Some(n) = inner(key, "SIZE") {
                        parse_dec(value).map(|v| info.sizes.insert(n.to_string(), v as u64));
                    } else if let Some(n) = inner(key, "NUMBER") {
                        parse_dec(value).map(|v| info.numbers.insert(n.to_string(), v));
                    } else if let Some(n) = inner(key, "LENGTH") {
                        parse_dec(value).map(|v| info.lengths.insert(n.to_string(), v as u64));
                    }
                }
            }
        }
        if info.osrelease.is_none() {
            return Err(DumpError::Format("VMCOREINFO has no OSRELEASE line".into()));
        }
        Ok(info)
    }

    /// Adds a symbol found elsewhere (kallsyms tables located by scanning the image).
    pub fn insert_symbol(&mut self, name: &str, addr: u64) {
        self.symbols.insert(name.to_string(), addr);
    }

    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }
    /// `OFFSET(struct.member)`.
    pub fn offset(&self, name: &str) -> Option<u64> {
        self.offsets.get(name).copied()
    }
    pub fn size(&self, name: &str) -> Option<u64> {
        self.sizes.get(name).copied()
    }
    pub fn number(&self, name: &str) -> Option<i64> {
        self.numbers.get(name).copied()
    }
    pub fn length(&self, name: &str) -> Option<u64> {
        self.lengths.get(name).copied()
    }
    /// All SYMBOL() entries (name, address).
    pub fn symbols(&self) -> impl Iterator<Item = (&str, u64)> {
        self.symbols.iter().map(|(k, &v)| (k.as_str(), v))
    }
    /// NUMBER(phys_base) as an unsigned value.
    pub fn phys_base(&self) -> Option<u64> {
        self.number("phys_base").map(|v| v as u64)
    }
    pub fn required_symbol(&self, name: &str) -> Result<u64, DumpError> {
        self.symbol(name)
            .ok_or_else(|| DumpError::Missing(format!("VMCOREINFO SYMBOL({name})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_style_lines() {
        let text = "OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff8affb000\n\
                    OFFSET(uts_namespace.name)=0\nSIZE(list_head)=16\nNUMBER(phys_base)=111149056\n\
                    NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nLENGTH(zone.free_area)=11\nKERNELOFFSET=8400000\n\
                    CRASHTIME=1700000000\ngarbage line\nSYMBOL(bad)=zz\n\0\0";
        let v = VmcoreInfo::parse(text).unwrap();
        assert_eq!(v.osrelease.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(v.page_size, Some(4096));
        assert_eq!(v.symbol("init_uts_ns"), Some(0xffffffff8affb000));
        assert_eq!(v.symbol("bad"), None);
        assert_eq!(v.offset("uts_namespace.name"), Some(0));
        assert_eq!(v.size("list_head"), Some(16));
        assert_eq!(v.phys_base(), Some(111149056));
        assert_eq!(v.number("PAGE_BUDDY_MAPCOUNT_VALUE"), Some(-129));
        assert_eq!(v.length("zone.free_area"), Some(11));
        assert_eq!(v.kernel_offset, Some(0x8400000));
        assert_eq!(v.crash_time, Some(1700000000));
    }

    #[test]
    fn text_without_release_is_rejected() {
        assert!(VmcoreInfo::parse("PAGESIZE=4096\n").is_err());
        assert!(VmcoreInfo::parse("\u{1}\u{2}garbage").is_err());
    }
}
