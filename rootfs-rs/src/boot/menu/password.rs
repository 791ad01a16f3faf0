//! The menu password (`[menu] password` in kboot.toml): a SHA-256-crypt hash (`$5$…`, the
//! format of glibc/libxcrypt crypt(3) as `openssl passwd -5` and `mkpasswd -m sha-256`
//! write it; algorithm from Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"),
//! built on kboot's own SHA-256 so the password costs no crate. `kboot mkpasswd` makes one.

use std::ffi::OsString;
use std::io::{Read, Write};

use crate::util::hash::sha256;

/// Rounds when the hash names none (the format's default).
const DEFAULT_ROUNDS: u32 = 5000;
/// Rounds `kboot mkpasswd` uses: ten times the format's default against offline
/// guessing. 200 000 rounds measured 0.25 s (CPU) natively on this project's build
/// machine, so a check costs ~0.06 s there, and some ten times that under QEMU's TCG.
pub const MKPASSWD_ROUNDS: u32 = 50_000;
const MIN_ROUNDS: u64 = 1000;
const MAX_ROUNDS: u64 = 999_999_999;
const MAX_SALT: usize = 16;
/// crypt(3)'s base-64 alphabet.
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut d = sha256();
    for part in parts {
        d.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&d.finish());
    out
}

/// `bytes` repeated to `len` bytes.
fn repeated(bytes: &[u8; 32], len: usize) -> Vec<u8> {
    bytes.iter().copied().cycle().take(len).collect()
}

/// A parsed `$5$[rounds=N$]SALT[$HASH]` setting.
struct Setting<'a> {
    rounds: Option<u32>,
    salt: &'a str,
}

fn parse_setting(hash: &str) -> Option<Setting<'_>> {
    let rest = hash.strip_prefix("$5$")?;
    let (rounds, rest) = match rest.strip_prefix("rounds=") {
        Some(r) => {
            let (n, rest) = r.split_once('$')?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n = n.parse::<u64>().unwrap_or(MAX_ROUNDS);
            (Some(n.clamp(MIN_ROUNDS, MAX_ROUNDS) as u32), rest)
        }
        None => (None, rest),
    };
    let salt = rest.split('$').next().unwrap_or("");
    let salt = salt.get(..salt.len().min(MAX_SALT))?;
    Some(Setting { rounds, salt })
}

/// crypt(3) with a SHA-256 setting: the full hash string, or None when `setting` is not
/// a `$5$` one.
pub fn sha256_crypt(password: &str, setting: &str) -> Option<String> {
    let Setting { rounds, salt } = parse_setting(setting)?;
    let (p, s) = (password.as_bytes(), salt.as_bytes());
    let b = digest(&[p, s, p]);
    let mut a_parts: Vec<&[u8]> = vec![p, s];
    let b_for_len = repeated(&b, p.len());
    a_parts.push(&b_for_len);
    let mut bits = p.len();
    while bits > 0 {
        a_parts.push(if bits & 1 == 1 { &b } else { p });
        bits >>= 1;
    }
    let a = digest(&a_parts);
    let p_seq = repeated(&digest(&vec![p; p.len()]), p.len());
    let s_seq = repeated(&digest(&vec![s; 16 + a[0] as usize]), s.len());
    let mut c = a;
    for i in 0..rounds.unwrap_or(DEFAULT_ROUNDS) {
        let mut d = sha256();
        d.update(if i % 2 == 1 { &p_seq } else { &c });
        if i % 3 != 0 {
            d.update(&s_seq);
        }
        if i % 7 != 0 {
            d.update(&p_seq);
        }
        d.update(if i % 2 == 1 { &c } else { &p_seq });
        c.copy_from_slice(&d.finish());
    }
    let mut out = String::from("$5$");
    if let Some(n) = rounds {
        out.push_str(&format!("rounds={n}$"));
    }
    out.push_str(salt);
    out.push('$');
    let mut push = |b2: u8, b1: u8, b0: u8, n: usize| {
        let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
        for _ in 0..n {
            out.push(ITOA64[(w & 0x3f) as usize] as char);
            w >>= 6;
        }
    };
    for i in 0..10 {
        // The format's byte order: (0,10,20), (21,1,11), (12,22,2), … rotating by one.
        let (x, y, z) = (i, i + 10, i + 20);
        match i % 3 {
            0 => push(c[x], c[y], c[z], 4),
            1 => push(c[z], c[x], c[y], 4),
            _ => push(c[y], c[z], c[x], 4),
        }
    }
    push(0, c[31], c[30], 3);
    Some(out)
}

/// Whether the hash is one kboot can check (`$5$…` with a hash part).
pub fn is_supported(hash: &str) -> bool {
    parse_setting(hash).is_some() && hash.matches('$').count() >= 3
}

/// Whether `password` matches `hash` (compared in constant time).
pub fn verify(password: &str, hash: &str) -> bool {
    let Some(computed) = sha256_crypt(password, hash) else {
        return false;
    };
    computed.len() == hash.len()
        && computed
            .bytes()
            .zip(hash.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Longest wait after wrong passwords, in seconds.
const MAX_PENALTY_SECS: u64 = 30;

/// What the menu knows of its password: the hash (None: no password), whether it was
/// given in this menu, and the wrong attempts so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    hash: Option<String>,
    unlocked: bool,
    failures: u32,
    /// Seconds the menu waits before reading keys again (set by a wrong attempt).
    penalty: Option<u64>,
}

impl Lock {
    pub fn new(hash: Option<String>) -> Lock {
        Lock {
            hash,
            ..Lock::default()
        }
    }

    /// Whether restricted actions still need the password.
    pub fn is_locked(&self) -> bool {
        self.hash.is_some() && !self.unlocked
    }

    /// Checks a typed password: right unlocks the menu until it ends; wrong doubles the
    /// wait before the next attempt (1, 2, 4 … 30 s).
    pub fn try_unlock(&mut self, typed: &str) -> bool {
        let Some(hash) = &self.hash else {
            return true;
        };
        if verify(typed, hash) {
            self.unlocked = true;
            return true;
        }
        self.failures = self.failures.saturating_add(1);
        let doubling = 1u64 << self.failures.saturating_sub(1).min(6);
        self.penalty = Some(doubling.min(MAX_PENALTY_SECS));
        false
    }

    /// The wait a wrong attempt asked for, once.
    pub fn take_penalty(&mut self) -> Option<std::time::Duration> {
        self.penalty.take().map(std::time::Duration::from_secs)
    }
}

/// A random salt of 16 characters from /dev/urandom.
fn random_salt() -> std::io::Result<String> {
    let mut bytes = [0u8; MAX_SALT];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ITOA64[(b & 0x3f) as usize] as char)
        .collect())
}

/// `kboot mkpasswd [PASSWORD]`: prints the `$5$` hash of PASSWORD (or of the first line
/// of standard input) for `[menu] password`.
pub fn mkpasswd_main(args: &[OsString]) -> i32 {
    let password = match args {
        [] => {
            let mut line = String::new();
            if let Err(e) = std::io::stdin().read_line(&mut line) {
                warn!("mkpasswd: standard input: {e}");
                return 1;
            }
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        [one] if one != "-h" && one != "--help" => one.to_string_lossy().into_owned(),
        _ => {
            warn!("usage: mkpasswd [PASSWORD]   (without PASSWORD: the first line of stdin)");
            return 2;
        }
    };
    let salt = match random_salt() {
        Ok(salt) => salt,
        Err(e) => {
            warn!("mkpasswd: /dev/urandom: {e}");
            return 1;
        }
    };
    match sha256_crypt(&password, &format!("$5$rounds={MKPASSWD_ROUNDS}${salt}")) {
        Some(hash) => {
            let _ = writeln!(std::io::stdout(), "{hash}");
            0
        }
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values from the host's crypt(3) (libxcrypt; `openssl passwd -5` agrees).
    #[test]
    fn hashes_are_crypt3s() {
        let cases = [
            (
                "Hello world!",
                "$5$saltstring",
                "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
            ),
            (
                "Hello world!",
                "$5$rounds=10000$saltstringsaltstring",
                "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
            ),
            (
                "",
                "$5$rounds=1000$x",
                "$5$rounds=1000$x$kIBhdUvT3pHpfTjzR8s1XJu3y/HRJeFxMSffBtF8jx9",
            ),
            (
                "a much longer password of more than thirty-two bytes",
                "$5$rounds=1000$abcdefghijklmnop",
                "$5$rounds=1000$abcdefghijklmnop$QzEXYDVVqPrUAc9QEZFixL3vY1rSNSzEgjgelQRt707",
            ),
        ];
        for (password, setting, expected) in cases {
            assert_eq!(
                sha256_crypt(password, setting).as_deref(),
                Some(expected),
                "{setting}"
            );
            assert!(verify(password, expected));
            assert!(!verify("wrong", expected));
            assert!(is_supported(expected));
        }
    }

    #[test]
    fn the_lock_opens_with_the_right_password_and_slows_wrong_ones() {
        let hash = "$5$rounds=1000$x$kIBhdUvT3pHpfTjzR8s1XJu3y/HRJeFxMSffBtF8jx9";
        let mut lock = Lock::new(Some(hash.to_string()));
        assert!(lock.is_locked());
        let waits: Vec<u64> = (0..8)
            .map(|_| {
                assert!(!lock.try_unlock("guess"));
                lock.take_penalty().unwrap().as_secs()
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(lock.take_penalty(), None, "a wait is taken once");
        assert!(lock.is_locked());
        assert!(lock.try_unlock(""));
        assert!(!lock.is_locked());
        assert!(!Lock::new(None).is_locked());
    }

    #[test]
    fn other_formats_are_refused_not_accepted() {
        for bad in [
            "",
            "plain",
            "$6$salt$hash",
            "$1$x$y",
            "$5$rounds=x$salt$h",
            "$5$salt",
        ] {
            assert!(!is_supported(bad), "{bad}");
            assert!(!verify("", bad), "{bad}");
        }
    }
}
