//! The signature policy (`[security]` of kboot.toml, issue #18): with `require_signed =
//! true`, every kernel and initrd kexec'd and every menu file fetched over the network
//! needs a detached minisign signature `FILE.minisig` by one of `trusted_keys`, or it is
//! refused with the reason. The keys live in the image's own /etc/kboot/kboot.toml
//! (baked in by `cargo xtask image --config`), never on the disks being booted.
//!
//! Time of check is time of use: a payload is read once into memory, that buffer is
//! verified, and the kernel gets the same bytes through a sealed memfd (`sealed`), so a
//! file changed on the disk (or the network) after the check is never what runs.

pub mod minisign;

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::OnceLock;

use crate::config::text::unquote;
use crate::config::toml::{Document, Value};
use crate::warn;
use minisign::{PublicKey, Signature};

/// Suffix of a detached signature (minisign's default name for it).
pub const SIGNATURE_SUFFIX: &str = ".minisig";
/// A `.minisig` is four short lines; anything much larger is not one.
const SIGNATURE_LIMIT: u64 = 64 * 1024;

/// What must be signed, and by whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub require_signed: bool,
    pub keys: Vec<PublicKey>,
}

impl Policy {
    /// The `[security]` table of a kboot.toml document, with warnings "source:line: …".
    /// A malformed `require_signed` counts as true and a bad key is left out: a typo
    /// must not switch the check off.
    pub fn from_config(doc: &Document, source: &str) -> (Policy, Vec<String>) {
        let mut policy = Policy::default();
        let (entries, mut warnings) = doc.table("security", source);
        for entry in entries {
            let at = &entry.at;
            match entry.key.as_str() {
                "require_signed" => {
                    policy.require_signed = entry.value != "false";
                    if !matches!(entry.value.as_str(), "true" | "false") {
                        warnings.push(format!(
                            "{at}: require_signed: not true or false: {} (taken as true)",
                            entry.value
                        ));
                    }
                }
                "trusted_keys" => {
                    let keys = match Value::parse(&entry.value) {
                        Some(Value::List(keys)) => keys,
                        Some(Value::Str(key)) => vec![key],
                        _ => {
                            warnings.push(format!(
                                "{at}: trusted_keys: expected [\"RW…\", …] on one line, got {}",
                                entry.value
                            ));
                            continue;
                        }
                    };
                    for key in keys {
                        match PublicKey::parse(&unquote(&key)) {
                            Ok(key) => policy.keys.push(key),
                            Err(e) => warnings.push(format!("{at}: trusted_keys: {key}: {e}")),
                        }
                    }
                }
                other => warnings.push(format!("{at}: unknown key '{other}' in [security]")),
            }
        }
        if policy.require_signed && policy.keys.is_empty() {
            warnings.push(format!(
                "{source}: [security] require_signed without a usable trusted key: \
                 every kernel, initrd and network menu will be refused"
            ));
        }
        (policy, warnings)
    }

    /// Checks `data` (named `name` in messages) against the text of its `.minisig`
    /// (`signature`: the file's text, or why it could not be read). Without
    /// `require_signed` everything passes.
    pub fn check(
        &self,
        name: &str,
        data: &[u8],
        signature: Result<String, String>,
    ) -> Result<(), String> {
        if !self.require_signed {
            return Ok(());
        }
        let sig_name = format!("{name}{SIGNATURE_SUFFIX}");
        let text = signature.map_err(|e| format!("{name}: no signature {sig_name} ({e})"))?;
        let signature = Signature::parse(&text).map_err(|e| format!("{sig_name}: {e}"))?;
        minisign::verify(data, &signature, &self.keys)
            .map(|_| ())
            .map_err(|why| format!("{name}: {why}"))
    }

    /// The bytes of `path`, read once and checked against `path.minisig`.
    pub fn read_verified(&self, path: &Path) -> Result<Vec<u8>, String> {
        let name = path.display().to_string();
        let mut data = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| format!("{name}: {e}"))?;
        if self.require_signed {
            let mut sig_path = path.as_os_str().to_owned();
            sig_path.push(SIGNATURE_SUFFIX);
            let signature = read_signature(Path::new(&sig_path));
            self.check(&name, &data, signature)?;
        }
        Ok(data)
    }
}

fn read_signature(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    File::open(path)
        .and_then(|f| f.take(SIGNATURE_LIMIT).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    Ok(text)
}

static POLICY: OnceLock<Policy> = OnceLock::new();

/// The image's policy, from its /etc/kboot/kboot.toml (none when the file is absent).
fn image_policy() -> Policy {
    let path = Path::new(crate::config::CONFIG_PATH);
    match crate::config::load(path) {
        Ok(doc) => {
            let (policy, warnings) = Policy::from_config(&doc, &path.display().to_string());
            warnings.iter().for_each(|w| warn!("kboot: warning: {w}"));
            policy
        }
        Err(_) => Policy::default(),
    }
}

/// The policy of this process: the image's, read once.
pub fn current() -> &'static Policy {
    POLICY.get_or_init(image_policy)
}

/// The menu's `--config` file may switch signatures on when the image does not; it never
/// switches off or replaces the image's own policy.
pub fn install_from(doc: &Document, source: &str) -> &'static Policy {
    POLICY.get_or_init(|| {
        let image = image_policy();
        if image.require_signed {
            return image;
        }
        let (policy, warnings) = Policy::from_config(doc, source);
        warnings.iter().for_each(|w| warn!("kboot: warning: {w}"));
        policy
    })
}

/// An empty memfd that can be sealed: where a verified payload is written.
pub fn memfd(name: &str) -> std::io::Result<File> {
    use rustix::fs::{memfd_create, MemfdFlags};
    let fd = memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    Ok(File::from(fd))
}

/// Seals a memfd: no writes, no resizing, no unsealing from here on.
pub fn seal(file: &File) -> std::io::Result<()> {
    use rustix::fs::{fcntl_add_seals, SealFlags};
    fcntl_add_seals(
        file,
        SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
    )?;
    Ok(())
}

/// `bytes` in a sealed memfd: the file the kernel reads for a payload that was verified
/// in memory.
pub fn sealed(name: &str, bytes: &[u8]) -> std::io::Result<File> {
    let mut file = memfd(name)?;
    file.write_all(bytes)?;
    seal(&file)?;
    Ok(file)
}

#[cfg(test)]
mod tests;
