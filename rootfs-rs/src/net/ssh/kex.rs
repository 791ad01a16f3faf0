//! Key exchange: KEXINIT negotiation (RFC 4253 §7.1), curve25519-sha256 (RFC 8731) with an
//! ssh-ed25519 host key (RFC 8709), the exchange hash H and the keys derived from it
//! (RFC 4253 §7.2). One algorithm of each kind is offered: that is all kboot needs and
//! all any OpenSSH since 6.5 (2014) needs.

use ring::digest::{digest, Context, SHA256};

use super::wire::{msg, Reader, Writer};

pub const KEX: &str = "curve25519-sha256";
/// The pre-RFC name OpenSSH also accepts for the same method.
pub const KEX_LIBSSH: &str = "curve25519-sha256@libssh.org";
/// OpenSSH's strict key exchange (the Terrapin fix): sequence numbers restart at each
/// NEWKEYS and nothing but kex messages may come before the first.
const STRICT_SERVER: &str = "kex-strict-s-v00@openssh.com";
const STRICT_CLIENT: &str = "kex-strict-c-v00@openssh.com";
pub const HOST_KEY: &str = "ssh-ed25519";
pub const CIPHER: &str = "chacha20-poly1305@openssh.com";
/// chacha20-poly1305 brings its own authentication, so no MAC is ever used, but RFC 4253
/// still negotiates one: this is the name offered.
const MAC: &str = "hmac-sha2-256";

/// Our KEXINIT payload (kept: it is part of the exchange hash).
pub fn server_kexinit(cookie: [u8; 16]) -> Vec<u8> {
    let kex = format!("{KEX},{KEX_LIBSSH},{STRICT_SERVER}");
    Writer::new(msg::KEXINIT)
        .raw(&cookie)
        .string(kex.as_bytes())
        .string(HOST_KEY.as_bytes())
        .string(CIPHER.as_bytes())
        .string(CIPHER.as_bytes())
        .string(MAC.as_bytes())
        .string(MAC.as_bytes())
        .string(b"none")
        .string(b"none")
        .string(b"")
        .string(b"")
        .boolean(false)
        .u32(0)
        .bytes
}

/// What the client's KEXINIT allows together with ours.
#[derive(Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The client asked for strict key exchange too.
    pub strict: bool,
    /// The client sent a guessed kex packet for another method: it must be dropped.
    pub ignore_guess: bool,
}

/// Checks the client's KEXINIT against what we offer: RFC 4253 picks the client's first
/// choice we also support, and with one offer per kind that is ours or nothing.
pub fn negotiate(client_kexinit: &[u8]) -> Result<Negotiated, String> {
    let mut reader = Reader::new(client_kexinit, "KEXINIT");
    reader.byte()?;
    for _ in 0..16 {
        reader.byte()?; // the cookie
    }
    let kex = reader.name_list()?;
    let lists = [
        ("host key", HOST_KEY),
        ("cipher (client to server)", CIPHER),
        ("cipher (server to client)", CIPHER),
        ("MAC (client to server)", MAC),
        ("MAC (server to client)", MAC),
        ("compression (client to server)", "none"),
        ("compression (server to client)", "none"),
    ];
    if !kex.iter().any(|k| k == KEX || k == KEX_LIBSSH) {
        return Err(no_common("key exchange", KEX, &kex));
    }
    for (what, ours) in lists {
        let offered = reader.name_list()?;
        // The AEAD cipher authenticates by itself: whatever MAC is offered goes unused.
        let acceptable = if what.starts_with("MAC") {
            !offered.is_empty()
        } else {
            offered.iter().any(|o| o == ours)
        };
        if !acceptable {
            return Err(no_common(what, ours, &offered));
        }
    }
    reader.name_list()?; // languages
    reader.name_list()?;
    let guessed = reader.boolean()?;
    reader.u32()?;
    Ok(Negotiated {
        strict: kex.iter().any(|k| k == STRICT_CLIENT),
        // A guess is right when the client's first choice is the method we will use.
        ignore_guess: guessed && !matches!(kex.first().map(String::as_str), Some(KEX | KEX_LIBSSH)),
    })
}

fn no_common(what: &str, ours: &str, offered: &[String]) -> String {
    format!(
        "ssh: no common {what} algorithm (the client offers {}; kboot has {ours})",
        offered.join(",")
    )
}

/// The values the exchange hash covers (RFC 8731 §3.1 with RFC 4253 §8's string order).
pub struct ExchangeInputs<'a> {
    pub client_version: &'a [u8],
    pub server_version: &'a [u8],
    pub client_kexinit: &'a [u8],
    pub server_kexinit: &'a [u8],
    pub host_key_blob: &'a [u8],
    pub client_ephemeral: &'a [u8],
    pub server_ephemeral: &'a [u8],
    /// The X25519 shared secret, 32 bytes read as an unsigned big-endian integer.
    pub shared_secret: &'a [u8],
}

/// H = SHA-256 of the inputs, each as an SSH string, the secret as an mpint.
pub fn exchange_hash(inputs: &ExchangeInputs) -> Vec<u8> {
    let encoded = Writer::default()
        .string(inputs.client_version)
        .string(inputs.server_version)
        .string(inputs.client_kexinit)
        .string(inputs.server_kexinit)
        .string(inputs.host_key_blob)
        .string(inputs.client_ephemeral)
        .string(inputs.server_ephemeral)
        .mpint(inputs.shared_secret);
    digest(&SHA256, &encoded.bytes).as_ref().to_vec()
}

/// RFC 4253 §7.2: the key for `letter` ('C': client to server, 'D': server to client),
/// `HASH(K || H || letter || session_id)` extended with `HASH(K || H || K1 || …)`.
pub fn derive_key<const N: usize>(
    shared_secret: &[u8],
    hash: &[u8],
    letter: u8,
    session_id: &[u8],
) -> [u8; N] {
    let secret = Writer::default().mpint(shared_secret).bytes;
    let mut context = Context::new(&SHA256);
    context.update(&secret);
    context.update(hash);
    context.update(&[letter]);
    context.update(session_id);
    let mut key = context.finish().as_ref().to_vec();
    while key.len() < N {
        let mut context = Context::new(&SHA256);
        context.update(&secret);
        context.update(hash);
        context.update(&key);
        key.extend_from_slice(context.finish().as_ref());
    }
    std::array::from_fn(|i| key[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_kexinit(kex: &str, cipher: &str) -> Vec<u8> {
        Writer::new(msg::KEXINIT)
            .raw(&[7; 16])
            .string(kex.as_bytes())
            .string(b"rsa-sha2-512,ssh-ed25519")
            .string(cipher.as_bytes())
            .string(cipher.as_bytes())
            .string(b"umac-64-etm@openssh.com")
            .string(b"umac-64-etm@openssh.com")
            .string(b"none,zlib@openssh.com")
            .string(b"none,zlib@openssh.com")
            .string(b"")
            .string(b"")
            .boolean(false)
            .u32(0)
            .bytes
    }

    #[test]
    fn an_openssh_offer_is_accepted_and_a_foreign_one_refused() {
        let offer = client_kexinit(
            "sntrup761x25519-sha512@openssh.com,curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
            "aes128-ctr,chacha20-poly1305@openssh.com",
        );
        assert_eq!(
            negotiate(&offer),
            Ok(Negotiated {
                strict: true,
                ignore_guess: false
            })
        );
        let old = client_kexinit("diffie-hellman-group14-sha1", CIPHER);
        assert!(negotiate(&old).is_err_and(|e| e.contains("no common key exchange")));
        let no_chacha = client_kexinit(KEX, "aes128-ctr");
        assert!(negotiate(&no_chacha).is_err_and(|e| e.contains("cipher (client to server)")));
        assert!(negotiate(&offer[..30]).is_err());
    }

    /// Expected values computed with Python's hashlib from the RFC 4253 §7.2 and RFC 8731
    /// definitions (an implementation independent of this one).
    #[test]
    fn exchange_hash_and_key_derivation_follow_rfc4253() {
        let secret = [0x80u8; 32]; // top bit set: the mpint gets a zero byte in front
        let inputs = ExchangeInputs {
            client_version: b"SSH-2.0-OpenSSH_9.2p1",
            server_version: b"SSH-2.0-kboot",
            client_kexinit: b"\x14client",
            server_kexinit: b"\x14server",
            host_key_blob: b"hostkey",
            client_ephemeral: &[1; 32],
            server_ephemeral: &[2; 32],
            shared_secret: &secret,
        };
        let hash = exchange_hash(&inputs);
        assert_eq!(hex(&hash), EXPECTED_H);
        let key: [u8; 64] = derive_key(&secret, &hash, b'C', &hash);
        assert_eq!(hex(&key), EXPECTED_KEY_C);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const EXPECTED_H: &str = "bbc29b3d6926b0d2a1ceb35ea087ddf8f80397e1e8b93ae60480a38e8779411f";
    const EXPECTED_KEY_C: &str = "91b0cd93e7dd7a0f0440574909cc044ab6ed7b5845f685fe2c334e64c85d6f5a\
                                  ee84ffab2a50dc1a15ac5c64de41cf7e3559ae35c37a8d3d4727a1c0ed2c5e9a";
}
