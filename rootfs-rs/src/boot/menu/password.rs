//! The menu password (`[menu] password` in kboot.toml): a SHA-512-crypt (`$6$…`) or
//! SHA-256-crypt (`$5$…`) hash, the formats of glibc/libxcrypt crypt(3) as `openssl passwd
//! -6`/`-5` and `mkpasswd -m sha-512` write them (algorithm from Ulrich Drepper's "Unix
//! crypt using SHA-256 and SHA-512"). The digests are ring's, already linked for TLS and
//! signatures, so the password costs no crate. `kboot mkpasswd` makes a `$6$` one.

use std::ffi::OsString;
use std::io::{Read, Write};

use ring::digest::{Algorithm, Context, SHA256, SHA512};

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

/// The two members of the family: they differ in the digest and in the order the
/// digest's bytes are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crypt {
    Sha256,
    Sha512,
}

impl Crypt {
    fn prefix(self) -> &'static str {
        match self {
            Crypt::Sha256 => "$5$",
            Crypt::Sha512 => "$6$",
        }
    }

    fn digest(self) -> &'static Algorithm {
        match self {
            Crypt::Sha256 => &SHA256,
            Crypt::Sha512 => &SHA512,
        }
    }

    /// The digest bytes in the order their 3-byte groups are encoded (the spec's
    /// `b64_from_24bit` calls), the last, short group padded with leading zero bytes.
    fn output_order(self, c: &[u8]) -> Vec<u8> {
        let mut order = Vec::with_capacity(c.len() + 2);
        match self {
            // (0,10,20), (21,1,11), (12,22,2), … then (-,31,30).
            Crypt::Sha256 => {
                for i in 0..10 {
                    let (x, y, z) = (c[i], c[i + 10], c[i + 20]);
                    order.extend(match i % 3 {
                        0 => [x, y, z],
                        1 => [z, x, y],
                        _ => [y, z, x],
                    });
                }
                order.extend([0, c[31], c[30]]);
            }
            // (0,21,42), (22,43,1), (44,2,23), … then (-,-,63).
            Crypt::Sha512 => {
                for i in 0..21 {
                    let (x, y, z) = (c[i], c[i + 21], c[i + 42]);
                    order.extend(match i % 3 {
                        0 => [x, y, z],
                        1 => [y, z, x],
                        _ => [z, x, y],
                    });
                }
                order.extend([0, 0, c[63]]);
            }
        }
        order
    }
}

/// A parsed `$5$`/`$6$[rounds=N$]SALT[$HASH]` setting.
struct Setting<'a> {
    crypt: Crypt,
    rounds: Option<u32>,
    salt: &'a str,
}

fn parse_setting(hash: &str) -> Option<Setting<'_>> {
    let (crypt, rest) = [Crypt::Sha512, Crypt::Sha256]
        .into_iter()
        .find_map(|c| hash.strip_prefix(c.prefix()).map(|rest| (c, rest)))?;
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
    Some(Setting {
        crypt,
        rounds,
        salt,
    })
}

/// crypt(3) with a SHA-256 or SHA-512 setting: the full hash string, or None when
/// `setting` is neither a `$5$` nor a `$6$` one.
pub fn sha_crypt(password: &str, setting: &str) -> Option<String> {
    let Setting {
        crypt,
        rounds,
        salt,
    } = parse_setting(setting)?;
    let algorithm = crypt.digest();
    let digest = |parts: &[&[u8]]| {
        let mut d = Context::new(algorithm);
        parts.iter().for_each(|part| d.update(part));
        d.finish().as_ref().to_vec()
    };
    // `bytes` repeated to `len` bytes.
    let repeated =
        |bytes: &[u8], len: usize| -> Vec<u8> { bytes.iter().copied().cycle().take(len).collect() };
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
        let mut d = Context::new(algorithm);
        d.update(if i % 2 == 1 { &p_seq } else { &c });
        if i % 3 != 0 {
            d.update(&s_seq);
        }
        if i % 7 != 0 {
            d.update(&p_seq);
        }
        d.update(if i % 2 == 1 { &c } else { &p_seq });
        c.copy_from_slice(d.finish().as_ref());
    }
    let mut out = String::from(crypt.prefix());
    if let Some(n) = rounds {
        out.push_str(&format!("rounds={n}$"));
    }
    out.push_str(salt);
    out.push('$');
    let order = crypt.output_order(&c);
    let groups = order.len() / 3;
    for (index, group) in order.chunks_exact(3).enumerate() {
        let mut w = (u32::from(group[0]) << 16) | (u32::from(group[1]) << 8) | u32::from(group[2]);
        // The last group holds only the leftover bytes: 3 characters for two, 2 for one.
        let chars = match (index + 1 == groups, crypt) {
            (false, _) => 4,
            (true, Crypt::Sha256) => 3,
            (true, Crypt::Sha512) => 2,
        };
        for _ in 0..chars {
            out.push(ITOA64[(w & 0x3f) as usize] as char);
            w >>= 6;
        }
    }
    Some(out)
}

/// Whether the hash is one kboot can check (`$5$…` or `$6$…` with a hash part).
pub fn is_supported(hash: &str) -> bool {
    parse_setting(hash).is_some() && hash.matches('$').count() >= 3
}

/// Whether `password` matches `hash` (compared in constant time).
pub fn verify(password: &str, hash: &str) -> bool {
    let Some(computed) = sha_crypt(password, hash) else {
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

/// `kboot mkpasswd [PASSWORD]`: prints the `$6$` (SHA-512-crypt) hash of PASSWORD (or of the first line
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
    match sha_crypt(&password, &format!("$6$rounds={MKPASSWD_ROUNDS}${salt}")) {
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
                sha_crypt(password, setting).as_deref(),
                Some(expected),
                "{setting}"
            );
            assert!(verify(password, expected));
            assert!(!verify("wrong", expected));
            assert!(is_supported(expected));
        }
    }

    /// SHA-512-crypt: expected values written by `openssl passwd -6`.
    #[test]
    fn sha512_hashes_are_openssls() {
        let cases = [
            (
                "Hello world!",
                "$6$saltstring",
                "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
            ),
            (
                "a much longer password of more than thirty-two bytes",
                "$6$abcdefghijklmnop",
                "$6$abcdefghijklmnop$kWYtyzWZsEUsdgRjiN/3UkDW7IVT8/vYn7iWmpvsOHcBgmHfO86Qoi3MNo7Kg2fya.nmmdw/ECl1hXn8pCiCO1",
            ),
        ];
        for (password, setting, expected) in cases {
            assert_eq!(sha_crypt(password, setting).as_deref(), Some(expected));
            assert!(verify(password, expected));
            assert!(!verify("Hello world", expected));
            assert!(is_supported(expected));
        }
    }

    /// `openssl passwd -6` run now, with a salt and passwords of odd lengths, agrees.
    #[test]
    fn sha512_hashes_match_the_host_openssl() {
        for (password, salt) in [
            ("p", "s"),
            ("päss wörd 🙂", "0123456789abcdef"),
            ("x".repeat(99).as_str(), "./AZaz09"),
        ] {
            let out = qemu_tests::host_tools::command("openssl")
                .args(["passwd", "-6", "-salt", salt, password])
                .output()
                .expect("openssl runs");
            assert!(out.status.success());
            let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert_eq!(
                sha_crypt(password, &format!("$6${salt}")),
                Some(expected.clone())
            );
            assert!(verify(password, &expected));
        }
    }

    #[test]
    fn mkpasswd_writes_sha512_crypt_with_its_rounds() {
        let salt = random_salt().expect("/dev/urandom");
        let hash = sha_crypt("pw", &format!("$6$rounds={MKPASSWD_ROUNDS}${salt}")).expect("hash");
        assert!(hash.starts_with("$6$rounds=50000$"), "{hash}");
        assert!(verify("pw", &hash) && !verify("pW", &hash));
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
            "$6$salt",
            "$7$salt$hash",
            "$1$x$y",
            "$5$rounds=x$salt$h",
            "$5$salt",
        ] {
            assert!(!is_supported(bad), "{bad}");
            assert!(!verify("", bad), "{bad}");
        }
    }
}
