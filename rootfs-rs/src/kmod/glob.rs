//! Alias patterns of modules.alias: fnmatch(3) globs (`*`, `?`, `[...]`, `[!...]`) as kmod
//! matches them (flags 0), over modaliases like `pci:v00008086d000010D3sv...`.
//!
//! The matching itself is the shell's (`util::glob`, the same fnmatch semantics). What this
//! file adds is speed: a Debian kernel has ~25,000 alias lines and coldplug asks about every
//! device, so each pattern keeps its literal prefix (`pci:v00008086d000010D3sv` for e1000e)
//! and most patterns are refused by one `starts_with` before the glob engine runs.

/// One alias pattern, normalised as kmod normalises aliases (`-` → `_` outside brackets).
#[derive(Debug, Clone)]
pub struct AliasPattern {
    pattern: String,
    /// The text before the first wildcard: every match starts with it.
    prefix_len: usize,
    /// No wildcard at all: equality is the whole test.
    literal: bool,
}

impl AliasPattern {
    /// None for a pattern kmod would refuse (an unbalanced `]`, or `[` never closed).
    pub fn new(pattern: &str) -> Option<AliasPattern> {
        let pattern = normalize_alias(pattern)?;
        let prefix_len = pattern
            .bytes()
            .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
            .unwrap_or(pattern.len());
        Some(AliasPattern {
            literal: prefix_len == pattern.len(),
            prefix_len,
            pattern,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Does the (already normalised) alias match?
    pub fn matches(&self, alias: &str) -> bool {
        if self.literal {
            return self.pattern == alias;
        }
        alias.starts_with(&self.pattern[..self.prefix_len])
            && crate::util::glob::matches(&self.pattern, alias)
    }
}

/// kmod's `alias_normalize`: `-` becomes `_` except inside `[...]` (where `-` is a range);
/// a `]` outside brackets or a `[` never closed makes the alias invalid.
///
/// Byte by byte: the boot reads ~1,500 alias lines before its first driver load (25,000
/// with a distro kernel), and decoding them char by char was most of that time. The three
/// bytes it looks for are ASCII, so they never occur inside a multi-byte UTF-8 sequence.
pub fn normalize_alias(alias: &str) -> Option<String> {
    let mut out = alias.as_bytes().to_vec();
    let mut in_bracket = false;
    for byte in out.iter_mut() {
        match *byte {
            b'[' if !in_bracket => in_bracket = true,
            b']' if in_bracket => in_bracket = false,
            b']' => return None,
            b'-' if !in_bracket => *byte = b'_',
            _ => {}
        }
    }
    if in_bracket {
        return None;
    }
    // ASCII replaced by ASCII: still valid UTF-8.
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(pattern: &str, alias: &str) -> bool {
        let p = AliasPattern::new(pattern).expect("valid pattern");
        p.matches(&normalize_alias(alias).expect("valid alias"))
    }

    #[test]
    fn e1000e_pci_alias() {
        let p = "pci:v00008086d000010D3sv*sd*bc*sc*i*";
        assert!(hit(
            p,
            "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"
        ));
        assert!(!hit(
            p,
            "pci:v00008086d000010D4sv00008086sd00000000bc02sc00i00"
        ));
        assert!(!hit(
            p,
            "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"
        ));
    }

    #[test]
    fn nvme_class_alias() {
        // nvme matches any vendor by class 01 (storage), subclass 08 (NVM), prog-if 02.
        let p = "pci:v*d*sv*sd*bc01sc08i02*";
        assert!(hit(
            p,
            "pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02"
        ));
        assert!(!hit(
            p,
            "pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc06i01"
        ));
    }

    #[test]
    fn usb_storage_interface_alias() {
        // usb-storage binds by interface class 08, subclass 06 (SCSI), protocol 50 (bulk-only).
        let p = "usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*";
        let stick = "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00";
        assert!(hit(p, stick));
        assert!(!hit(p, "usb:v046DpC52Bd1201dc00dsc00dp00ic03isc01ip01in00"));
        // The module is usb-storage; aliases name usb_storage after normalisation.
        assert_eq!(
            normalize_alias("usb-storage").as_deref(),
            Some("usb_storage")
        );
    }

    #[test]
    fn hid_generic_alias_with_wildcards_only() {
        let p = "hid:b*g0001v*p*";
        assert!(hit(p, "hid:b0003g0001v0000046Dp0000C52B"));
        assert!(!hit(p, "hid:b0003g0004v0000046Dp0000C52B"));
    }

    #[test]
    fn xhci_pci_class_alias() {
        // xhci_pci: serial bus controller (0C), USB (03), prog-if 30 (xHCI).
        let p = "pci:v*d*sv*sd*bc0Csc03i30*";
        assert!(hit(
            p,
            "pci:v00008086d0000A36Dsv00001028sd0000085Cbc0Csc03i30"
        ));
        assert!(!hit(
            p,
            "pci:v00008086d0000A36Dsv00001028sd0000085Cbc0Csc03i20"
        ));
    }

    #[test]
    fn sdhci_pci_class_alias() {
        // sdhci-pci: system peripheral (08), SD host (05), any prog-if.
        let p = "pci:v*d*sv*sd*bc08sc05i*";
        assert!(hit(
            p,
            "pci:v00001217d00008621sv00001028sd0000087Ebc08sc05i01"
        ));
        assert!(!hit(
            p,
            "pci:v00001217d00008621sv00001028sd0000087Ebc08sc80i00"
        ));
    }

    #[test]
    fn character_classes_and_question_marks() {
        let p = "acpi*:PNP0[Aa]0[38]:*";
        assert!(hit(p, "acpi:PNP0A03:"));
        assert!(hit(p, "acpi:PNP0a08:PNP0A03:"));
        assert!(!hit(p, "acpi:PNP0A05:"));
        assert!(hit("pci:v0000[0-9A-F]???d*", "pci:v00008086d000010D3"));
        assert!(!hit("pci:v0000[!8]???d*", "pci:v00008086d000010D3"));
        // Inside brackets a dash is a range and is not normalised.
        assert_eq!(
            normalize_alias("of:N*T*Cfoo-[a-c]").as_deref(),
            Some("of:N*T*Cfoo_[a-c]")
        );
    }

    #[test]
    fn literal_aliases_and_invalid_ones() {
        assert!(hit("char-major-10-237", "char_major_10_237"));
        assert!(!hit("char-major-10-237", "char-major-10-2370"));
        assert!(AliasPattern::new("pci:v]").is_none());
        assert!(AliasPattern::new("pci:v[0-9").is_none());
    }
}
