//! The minisign formats (https://jedisct1.github.io/minisign/) and their check: a public
//! key is base64 of `"Ed" | key ID (8) | Ed25519 key (32)`; a detached signature file
//! `FILE.minisig` is four lines:
//!
//! ```text
//! untrusted comment: <anything>
//! base64("Ed" or "ED" | key ID (8) | Ed25519 signature (64))
//! trusted comment: <text>
//! base64(Ed25519 global signature (64) over signature | text)
//! ```
//!
//! "ED" (minisign's default since 0.9) signs the BLAKE2b-512 hash of the file, "Ed" (the
//! legacy `-l`) the file itself. The global signature binds the trusted comment, so both
//! are checked: a changed file and a changed comment are both refused.

use std::fmt;

use blake2::{Blake2b512, Digest};
use ring::signature::{UnparsedPublicKey, ED25519};

use crate::util::base64;

const KEY_ID_LEN: usize = 8;
const TRUSTED_PREFIX: &str = "trusted comment: ";
const UNTRUSTED_PREFIX: &str = "untrusted comment: ";

/// A key ID, shown as minisign shows it in a `.pub` file's comment: the 8 bytes as a
/// little-endian number in upper-case hex, without leading zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", u64::from_le_bytes(self.0))
    }
}

/// A trusted minisign public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub id: KeyId,
    key: [u8; 32],
}

impl PublicKey {
    /// The key from its base64 line (what `minisign -P` takes: the second line of a
    /// `minisign.pub`).
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let bytes = base64::decode(text).map_err(|e| format!("not a minisign public key: {e}"))?;
        if bytes.len() != 2 + KEY_ID_LEN + 32 || &bytes[..2] != b"Ed" {
            return Err(format!(
                "not a minisign Ed25519 public key ({} bytes, expected 42 starting with \"Ed\")",
                bytes.len()
            ));
        }
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&bytes[2..10]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[10..]);
        Ok(PublicKey { id: KeyId(id), key })
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.key)
            .verify(message, signature)
            .is_ok()
    }
}

/// A parsed `.minisig` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// "ED": the signature is over the file's BLAKE2b-512 hash.
    prehashed: bool,
    pub key_id: KeyId,
    signature: [u8; 64],
    pub trusted_comment: String,
    global: [u8; 64],
}

impl Signature {
    pub fn parse(text: &str) -> Result<Signature, String> {
        let mut lines = text.lines();
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| format!("truncated: no {what} line"))
        };
        let untrusted = next("untrusted comment")?;
        if !untrusted.starts_with(UNTRUSTED_PREFIX) {
            return Err("does not start with \"untrusted comment: \"".to_string());
        }
        let bytes = base64::decode(next("signature")?).map_err(|e| format!("signature: {e}"))?;
        let trusted = next("trusted comment")?;
        let trusted_comment = trusted
            .strip_prefix(TRUSTED_PREFIX)
            .ok_or("third line does not start with \"trusted comment: \"")?
            .to_string();
        let global_bytes = base64::decode(next("global signature")?)
            .map_err(|e| format!("global signature: {e}"))?;
        if bytes.len() != 2 + KEY_ID_LEN + 64 {
            return Err(format!(
                "signature line holds {} bytes, expected 74",
                bytes.len()
            ));
        }
        let prehashed = match &bytes[..2] {
            b"ED" => true,
            b"Ed" => false,
            other => {
                return Err(format!(
                    "unknown signature algorithm {:?} (minisign writes \"ED\" or \"Ed\")",
                    String::from_utf8_lossy(other)
                ))
            }
        };
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&bytes[2..10]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[10..]);
        let global: [u8; 64] = global_bytes.as_slice().try_into().map_err(|_| {
            format!(
                "global signature holds {} bytes, expected 64",
                global_bytes.len()
            )
        })?;
        Ok(Signature {
            prehashed,
            key_id: KeyId(key_id),
            signature,
            trusted_comment,
            global,
        })
    }

    /// "ED" (hashed) or "Ed" (legacy).
    pub fn algorithm(&self) -> &'static str {
        if self.prehashed {
            "ED"
        } else {
            "Ed"
        }
    }
}

/// Why a signed file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    UntrustedKey(KeyId),
    FileChanged,
    CommentChanged,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::UntrustedKey(id) => write!(
                f,
                "signed by an untrusted key ID {id} (not in [security] trusted_keys)"
            ),
            Mismatch::FileChanged => write!(f, "signature does not match: file changed"),
            Mismatch::CommentChanged => write!(
                f,
                "the trusted comment's signature does not match: the .minisig was altered"
            ),
        }
    }
}

/// Checks `data` against `signature` with whichever of `keys` has its key ID; returns
/// the key that signed it.
pub fn verify<'k>(
    data: &[u8],
    signature: &Signature,
    keys: &'k [PublicKey],
) -> Result<&'k PublicKey, Mismatch> {
    let key = keys
        .iter()
        .find(|k| k.id == signature.key_id)
        .ok_or(Mismatch::UntrustedKey(signature.key_id))?;
    let signed_ok = if signature.prehashed {
        key.verifies(&Blake2b512::digest(data), &signature.signature)
    } else {
        key.verifies(data, &signature.signature)
    };
    if !signed_ok {
        return Err(Mismatch::FileChanged);
    }
    let mut global_message = signature.signature.to_vec();
    global_message.extend_from_slice(signature.trusted_comment.as_bytes());
    if !key.verifies(&global_message, &signature.global) {
        return Err(Mismatch::CommentChanged);
    }
    Ok(key)
}
