//! Keys: the server's ssh-ed25519 host key (supplied in OpenSSH's format, or generated on
//! first use and kept for the rest of the boot), its fingerprint as `ssh-keygen -l` prints
//! it, and the authorized user keys (ssh-ed25519 lines of an authorized_keys file) with
//! signature checks (RFC 8709).

use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use super::kex::HOST_KEY;
use super::wire::{Reader, Writer};
use crate::util::base64;

/// The host key the build supplied (`[ssh] host_key` in kboot.toml).
pub const SUPPLIED_HOST_KEY: &str = "/etc/kboot/ssh_host_ed25519_key";
/// Where a generated host key's seed is kept for the rest of the boot (tmpfs).
pub const GENERATED_HOST_KEY: &str = "/run/kboot/ssh/host_ed25519_seed";
/// The user keys allowed in (`[ssh] authorized_keys` in kboot.toml).
pub const AUTHORIZED_KEYS: &str = "/etc/kboot/authorized_keys";

pub struct HostKey {
    pair: Ed25519KeyPair,
    /// Where it came from, for the console line.
    pub origin: String,
}

impl HostKey {
    /// The supplied key when the image has one, else this boot's generated one (made now
    /// if this is the first use).
    pub fn load_or_generate(supplied: &Path, generated: &Path) -> Result<HostKey, String> {
        if supplied.exists() {
            let text = std::fs::read_to_string(supplied)
                .map_err(|err| format!("{}: {err}", supplied.display()))?;
            let seed = openssh_private_seed(&text)
                .map_err(|err| format!("{}: {err}", supplied.display()))?;
            return HostKey::from_seed(&seed, supplied.display().to_string());
        }
        if let Ok(seed) = std::fs::read(generated) {
            if seed.len() == 32 {
                return HostKey::from_seed(&seed, format!("generated, {}", generated.display()));
            }
        }
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| "no random bytes for a host key".to_string())?;
        if let Some(dir) = generated.parent() {
            std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        }
        write_private(generated, &seed)?;
        HostKey::from_seed(&seed, format!("generated now, {}", generated.display()))
    }

    fn from_seed(seed: &[u8], origin: String) -> Result<HostKey, String> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| format!("{origin}: not an Ed25519 private key"))?;
        Ok(HostKey { pair, origin })
    }

    /// The public key blob (RFC 8709 §4): string "ssh-ed25519", string key.
    pub fn public_blob(&self) -> Vec<u8> {
        public_blob(self.pair.public_key().as_ref())
    }

    /// The signature blob of `message` (RFC 8709 §6): string "ssh-ed25519", string sig.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature = self.pair.sign(message);
        Writer::default()
            .string(HOST_KEY.as_bytes())
            .string(signature.as_ref())
            .bytes
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(data))
        .map_err(|err| format!("{}: {err}", path.display()))
}

fn public_blob(key: &[u8]) -> Vec<u8> {
    Writer::default()
        .string(HOST_KEY.as_bytes())
        .string(key)
        .bytes
}

/// `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` shows it.
pub fn fingerprint(blob: &[u8]) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, blob);
    format!("SHA256:{}", base64::encode(hash.as_ref(), false))
}

/// The Ed25519 seed of an unencrypted OpenSSH private key file (`ssh-keygen -t ed25519`):
/// "openssh-key-v1\0", cipher and kdf "none", one public key, then the private section
/// with its two equal check words, the type, the public key and seed‖public.
pub fn openssh_private_seed(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let data =
        base64::decode(body.trim()).map_err(|_| "not an OpenSSH private key (bad base64)")?;
    let magic = b"openssh-key-v1\0";
    let rest = data
        .strip_prefix(magic)
        .ok_or("not an OpenSSH private key (want ssh-keygen -t ed25519 output)")?;
    let mut reader = Reader::new(rest, "private key");
    if reader.string()? != b"none" || reader.string()? != b"none" {
        return Err("the private key is encrypted (make it with ssh-keygen -N '')".into());
    }
    reader.string()?; // kdf options
    if reader.u32()? != 1 {
        return Err("the file holds more than one key".into());
    }
    reader.string()?; // public key blob
    let mut private = Reader::new(reader.string()?, "private key");
    if private.u32()? != private.u32()? {
        return Err("the private key's check words differ (corrupt file)".into());
    }
    let kind = private.text()?;
    if kind != HOST_KEY {
        return Err(format!(
            "a {kind} key; kboot's host key must be ssh-ed25519"
        ));
    }
    private.string()?;
    let secret = private.string()?;
    if secret.len() != 64 {
        return Err("the Ed25519 private key is not 64 bytes".into());
    }
    Ok(secret[..32].to_vec())
}

/// The ssh-ed25519 keys of an authorized_keys text, and a warning for each line skipped.
pub fn parse_authorized_keys(text: &str) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut keys = Vec::new();
    let mut warnings = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let kind = words.next().unwrap_or_default();
        let decoded = words.next().and_then(|w| base64::decode(w).ok());
        match decoded {
            Some(blob) if kind == HOST_KEY && ed25519_public_key(&blob).is_some() => {
                keys.push(blob)
            }
            _ if kind.starts_with("ssh-") || kind.starts_with("ecdsa-") => warnings.push(format!(
                "line {}: a {kind} key is not supported (only ssh-ed25519); skipped",
                number + 1
            )),
            _ => warnings.push(format!(
                "line {}: not a key line (key options are not supported); skipped",
                number + 1
            )),
        }
    }
    (keys, warnings)
}

/// The 32-byte key inside an ssh-ed25519 public key blob.
fn ed25519_public_key(blob: &[u8]) -> Option<&[u8]> {
    let mut reader = Reader::new(blob, "public key");
    let kind = reader.string().ok()?;
    let key = reader.string().ok()?;
    (kind == HOST_KEY.as_bytes() && key.len() == 32 && reader.rest().is_empty()).then_some(key)
}

/// Whether `signature_blob` is a valid ssh-ed25519 signature of `message` by `key_blob`.
pub fn verify(key_blob: &[u8], message: &[u8], signature_blob: &[u8]) -> bool {
    let Some(key) = ed25519_public_key(key_blob) else {
        return false;
    };
    let mut reader = Reader::new(signature_blob, "signature");
    let (Ok(kind), Ok(signature)) = (reader.string(), reader.string()) else {
        return false;
    };
    kind == HOST_KEY.as_bytes()
        && UnparsedPublicKey::new(&ED25519, key)
            .verify(message, signature)
            .is_ok()
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
