//! UAPI version comparison (used for BLS sorting) and a small `*`/`?` glob matcher.

use std::cmp::Ordering;

fn is_version_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'~' | b'-' | b'^' | b'.')
}

/// Compares two version strings per the UAPI Version Format Specification:
/// `~` < end of string < `-` < `^` < `.` < letters < digits, numbers compared by value.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        while let Some((&c, rest)) = a.split_first() {
            if is_version_char(c) {
                break;
            }
            a = rest;
        }
        while let Some((&c, rest)) = b.split_first() {
            if is_version_char(c) {
                break;
            }
            b = rest;
        }
        // Separators that sort lower than anything else, in the order the spec checks them.
        let (ca, cb) = (a.first().copied(), b.first().copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            match (ca == Some(b'~'), cb == Some(b'~')) {
                (true, false) => return Ordering::Less,
                (false, true) => return Ordering::Greater,
                _ => {
                    a = &a[1..];
                    b = &b[1..];
                    continue;
                }
            }
        }
        let (Some(ca), Some(cb)) = (ca, cb) else {
            return a.len().min(1).cmp(&b.len().min(1));
        };
        for sep in [b'-', b'^', b'.'] {
            if ca == sep || cb == sep {
                if ca != sep {
                    return Ordering::Greater;
                }
                if cb != sep {
                    return Ordering::Less;
                }
            }
        }
        if matches!(ca, b'-' | b'^' | b'.') {
            a = &a[1..];
            b = &b[1..];
            continue;
        }
        match (ca.is_ascii_digit(), cb.is_ascii_digit()) {
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (true, true) => {
                let (na, ra) = split_run(a, |c| c.is_ascii_digit());
                let (nb, rb) = split_run(b, |c| c.is_ascii_digit());
                let na = trim_zeros(na);
                let nb = trim_zeros(nb);
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order != Ordering::Equal {
                    return order;
                }
                a = ra;
                b = rb;
            }
            (false, false) => {
                let (wa, ra) = split_run(a, |c| c.is_ascii_alphabetic());
                let (wb, rb) = split_run(b, |c| c.is_ascii_alphabetic());
                let order = wa.cmp(wb);
                if order != Ordering::Equal {
                    return order;
                }
                a = ra;
                b = rb;
            }
        }
    }
}

fn split_run(s: &[u8], keep: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let end = s.iter().position(|&c| !keep(c)).unwrap_or(s.len());
    s.split_at(end)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| c != b'0').unwrap_or(s.len());
    &s[start..]
}

/// Shell-style glob with `*` and `?` (enough for systemd-boot's `default` patterns).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_chain_is_strictly_increasing() {
        // The ordered example list from the UAPI Version Format Specification.
        let chain = [
            "122.1",
            "123~rc1-1",
            "123",
            "123-a",
            "123-a.1",
            "123-1",
            "123-1.1",
            "123^post1",
            "123.a-1",
            "123.1-1",
            "123a-1",
            "124-1",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(compare_versions(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn kernel_versions_and_separators() {
        assert_eq!(
            compare_versions("6.5.10-300.fc39.x86_64", "6.5.6-300.fc39.x86_64"),
            Ordering::Greater
        );
        // From the spec notes: `_` is skipped, and a `.` sorts below a digit.
        assert_eq!(compare_versions("1_2_3", "1.3.3"), Ordering::Greater);
        assert_eq!(compare_versions("007", "7"), Ordering::Equal);
        assert_eq!(compare_versions("abc", "abd"), Ordering::Less);
    }

    #[test]
    fn globs() {
        assert!(glob_match("arch.conf", "arch.conf"));
        assert!(glob_match("arch-*", "arch-lts.conf"));
        assert!(glob_match("*-6.?.*", "m-6.5.conf"));
        assert!(!glob_match("arch-*", "fedora.conf"));
        assert!(glob_match("*", ""));
    }
}
