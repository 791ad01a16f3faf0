//! Boot counting names (systemd's automatic boot assessment, the Boot Loader
//! Specification's "Boot counting"): an entry file `NAME+LEFT[-DONE].conf` (or a UKI
//! `NAME+LEFT[-DONE].efi`) is tried LEFT more times; each boot renames it to
//! `NAME+(LEFT-1)-(DONE+1)`, systemd-bless-boot drops the counter once a boot is good, and
//! an entry with no tries left is "bad": sorted after all others. Pure name arithmetic.

/// The counter in a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Tries left.
    pub left: u32,
    /// Tries done (0 when the name has none).
    pub done: u32,
}

/// Counters larger than this are not counters (systemd-boot's INT_MAX limit).
const MAX_COUNT: u64 = i32::MAX as u64;

/// The suffixes boot counting applies to, the counter right before them.
const SUFFIXES: [&str; 2] = [".conf", ".efi"];

/// Splits `name` (a file name, or a type #1 entry id without `.conf`) into the name without
/// counter, the counter and the suffix. The counter follows the last `+` and must end
/// right before the suffix; anything else (`a+b.conf`, `x+1-2-3.conf`) counts nothing.
pub fn split(name: &str) -> Option<(&str, Counter, &str)> {
    let suffix_at = SUFFIXES
        .iter()
        .find_map(|s| {
            let at = name.len().checked_sub(s.len())?;
            name.get(at..)?.eq_ignore_ascii_case(s).then_some(at)
        })
        .unwrap_or(name.len());
    let (stem, suffix) = name.split_at(suffix_at);
    let (base, counter) = stem.rsplit_once('+')?;
    let (left, done) = match counter.split_once('-') {
        Some((left, done)) => (left, Some(done)),
        None => (counter, None),
    };
    let number = |text: &str| -> Option<u32> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<u64>()
            .ok()
            .filter(|&n| n <= MAX_COUNT)
            .map(|n| n as u32)
    };
    let counter = Counter {
        left: number(left)?,
        done: match done {
            Some(done) => number(done)?,
            None => 0,
        },
    };
    Some((base, counter, suffix))
}

/// The name without its counter (`fedora+2-1.conf` → `fedora.conf`); others unchanged.
pub fn without_counter(name: &str) -> String {
    match split(name) {
        Some((base, _, suffix)) => format!("{base}{suffix}"),
        None => name.to_string(),
    }
}

/// Whether the name carries a counter with no tries left: the entry is not tried again.
pub fn is_bad(name: &str) -> bool {
    split(name).is_some_and(|(_, counter, _)| counter.left == 0)
}

/// The name after one more try, as systemd-boot renames it: LEFT down by one (not below
/// zero), DONE up by one. None when the name has no counter.
pub fn after_one_try(name: &str) -> Option<String> {
    let (base, counter, suffix) = split(name)?;
    Some(format!(
        "{base}+{}-{}{suffix}",
        counter.left.saturating_sub(1),
        (counter.done as u64 + 1).min(MAX_COUNT)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_parsed_where_systemd_boot_parses_them() {
        let c = |left, done| Counter { left, done };
        assert_eq!(split("fedora+3.conf"), Some(("fedora", c(3, 0), ".conf")));
        assert_eq!(split("fedora+2-1"), Some(("fedora", c(2, 1), "")));
        assert_eq!(split("a+b+0-3.EFI"), Some(("a+b", c(0, 3), ".EFI")));
        assert_eq!(split("arch-6.9+1.efi"), Some(("arch-6.9", c(1, 0), ".efi")));
        for none in [
            "fedora.conf",
            "x+.conf",
            "x+1-.conf",
            "x+-1.conf",
            "x+1-2-3.conf",
            "x+a.conf",
            "x+1 .conf",
            "x+99999999999.conf",
            "x+1.conf.bak",
        ] {
            assert_eq!(split(none), None, "{none}");
        }
    }

    #[test]
    fn a_try_moves_one_from_left_to_done_and_zero_left_is_bad() {
        assert_eq!(after_one_try("f+3.conf").as_deref(), Some("f+2-1.conf"));
        assert_eq!(after_one_try("f+2-1.conf").as_deref(), Some("f+1-2.conf"));
        assert_eq!(after_one_try("f+1-2").as_deref(), Some("f+0-3"));
        assert_eq!(after_one_try("f+0-3.efi").as_deref(), Some("f+0-4.efi"));
        assert_eq!(after_one_try("f.conf"), None);
        assert!(!is_bad("f+1-2.conf"));
        assert!(is_bad("f+0-3.conf"));
        assert!(is_bad("f+0"));
        assert!(!is_bad("f.conf"));
        assert_eq!(without_counter("Fedora+0-3.conf"), "Fedora.conf");
        assert_eq!(without_counter("arch+1.efi"), "arch.efi");
        assert_eq!(without_counter("plain"), "plain");
    }
}
