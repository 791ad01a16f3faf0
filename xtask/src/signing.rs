//! Secure Boot signing of kboot.efi: `cargo xtask image --sign-key KEY --sign-cert CERT`
//! runs sbsign (Authenticode, what shim and the firmware check against db or the MOK
//! list) and checks the result with sbverify before it replaces the unsigned file, so
//! disk.img and installs carry the signed image. docs/secure-boot.md: enrolling the
//! certificate.

use std::path::Path;

use anyhow::Context;

use crate::process::{run_quiet, tool};

/// Signs the PE file `efi` in place with `key` (PEM private key) and `cert` (PEM
/// certificate), then verifies the signature against `cert`.
pub fn sign_efi(efi: &Path, key: &Path, cert: &Path) -> crate::Result<()> {
    for (what, path) in [("--sign-key", key), ("--sign-cert", cert)] {
        if !path.is_file() {
            anyhow::bail!("{what} {}: no such file", path.display());
        }
    }
    let signed = efi.with_extension("efi.signed");
    run_quiet(
        tool("sbsign")?
            .arg("--key")
            .arg(key)
            .arg("--cert")
            .arg(cert)
            .arg("--output")
            .arg(&signed)
            .arg(efi),
    )
    .with_context(|| format!("sbsign could not sign {}", efi.display()))?;
    verify(&signed, cert)?;
    std::fs::rename(&signed, efi)
        .with_context(|| format!("failed to replace {} by its signed copy", efi.display()))
}

/// Whether `efi` carries a valid signature by `cert` (sbverify --cert).
pub fn verify(efi: &Path, cert: &Path) -> crate::Result<()> {
    run_quiet(tool("sbverify")?.arg("--cert").arg(cert).arg(efi))
        .with_context(|| format!("{} is not signed by {}", efi.display(), cert.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// systemd's EFI stub: a real PE/COFF image (kboot.efi is built on it).
    const STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

    /// A throwaway self-signed key and certificate made with openssl in `dir`.
    fn throwaway_key(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let (key, cert) = (
            dir.join(format!("{name}.key")),
            dir.join(format!("{name}.crt")),
        );
        run_quiet(
            tool("openssl")
                .unwrap()
                .args([
                    "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .arg("-subj")
                .arg(format!("/CN=kboot test {name}/"))
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        )
        .unwrap();
        (key, cert)
    }

    #[test]
    fn a_signed_image_verifies_with_its_certificate_only() {
        let dir = std::env::temp_dir().join(format!("kboot-sign-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let efi = dir.join("kboot.efi");
        std::fs::copy(STUB, &efi).unwrap_or_else(|e| panic!("{STUB}: {e}"));
        let (key, cert) = throwaway_key(&dir, "db");
        let (_, other) = throwaway_key(&dir, "other");
        assert!(verify(&efi, &cert).is_err(), "unsigned image verified");
        sign_efi(&efi, &key, &cert).unwrap();
        verify(&efi, &cert).unwrap();
        assert!(
            verify(&efi, &other).is_err(),
            "verified with a foreign certificate"
        );
        assert!(!dir.join("kboot.efi.signed").exists());
        // Tampering with one byte of the signed image breaks the signature.
        let mut bytes = std::fs::read(&efi).unwrap();
        let middle = bytes.len() / 3;
        bytes[middle] ^= 0xff;
        std::fs::write(&efi, &bytes).unwrap();
        assert!(verify(&efi, &cert).is_err(), "a tampered image verified");
        let missing = sign_efi(&efi, &dir.join("nokey"), &cert).unwrap_err();
        assert!(missing.to_string().contains("--sign-key"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
