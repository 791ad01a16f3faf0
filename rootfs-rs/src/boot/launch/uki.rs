//! Booting a unified kernel image by kexec: its `.linux` section becomes the kernel file
//! and `.ucode` + `.initrd` (of the chosen profile) the initrd, both written to tmpfs
//! (kexec_file_load takes file descriptors). Under kernel lockdown a refusal is explained:
//! the running kernel only kexecs a `.linux` signed by a key it trusts.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::boot::config::pe::Section;
use crate::boot::config::uki::file_profile_sections;
use crate::boot::fs::read_file_at;
use crate::boot::launch::kexec::{io_error, KexecError};

/// Where the kernel's lockdown state is shown ("none [integrity] confidentiality").
pub const LOCKDOWN: &str = "/sys/kernel/security/lockdown";
/// Copied in pieces of this size, so a large initrd is never held in memory whole.
const CHUNK: usize = 1 << 20;

/// The staged files of one UKI: the kernel and, when the image has one, the initrd;
/// and where they came from (the image and its chosen profile's sections), for the TPM
/// measurements systemd-stub would have made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub image: PathBuf,
    pub sections: Vec<Section>,
}

impl Staged {
    /// Removes the files (the kernel has its own copy once loaded).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.kernel);
        if let Some(initrd) = &self.initrd {
            let _ = std::fs::remove_file(initrd);
        }
    }
}

fn copy_section(
    file: &File,
    section: &Section,
    out: &mut File,
    to: &Path,
) -> Result<(), KexecError> {
    let mut done = 0u64;
    while done < section.size {
        let len = CHUNK.min((section.size - done) as usize);
        let bytes = read_file_at(file, section.offset + done, len)
            .map_err(|e| io_error(format!("section {}", section.name), e))?;
        if bytes.is_empty() {
            return Err(io_error(
                format!("section {}", section.name),
                io::Error::new(io::ErrorKind::UnexpectedEof, "the file ends inside it"),
            ));
        }
        out.write_all(&bytes)
            .map_err(|e| io_error(to.display(), e))?;
        done += bytes.len() as u64;
    }
    Ok(())
}

/// Writes the sections named in `names` (in that order, each but the last padded to 4
/// bytes, as concatenated cpio archives are) to `to`; false when none was present.
fn write_sections(
    file: &File,
    chosen: &[Section],
    names: &[&str],
    to: &Path,
) -> Result<bool, KexecError> {
    let present: Vec<&Section> = names
        .iter()
        .filter_map(|n| chosen.iter().rev().find(|s| s.name == *n))
        .collect();
    if present.is_empty() {
        return Ok(false);
    }
    let mut out = File::create(to).map_err(|e| io_error(to.display(), e))?;
    let last = present.len() - 1;
    for (index, section) in present.into_iter().enumerate() {
        copy_section(file, section, &mut out, to)?;
        let pad = if index == last {
            0
        } else {
            ((4 - section.size % 4) % 4) as usize
        };
        out.write_all(&[0u8; 3][..pad])
            .map_err(|e| io_error(to.display(), e))?;
    }
    Ok(true)
}

/// Extracts the kernel and initrd of `profile` from the UKI at `uki` into `staging`.
pub fn stage(uki: &Path, profile: Option<u32>, staging: &Path) -> Result<Staged, KexecError> {
    let file = File::open(uki).map_err(|e| io_error(uki.display(), e))?;
    let chosen = file_profile_sections(&file, profile)
        .map_err(|e| io_error(uki.display(), io::Error::new(io::ErrorKind::InvalidData, e)))?;
    std::fs::create_dir_all(staging).map_err(|e| io_error(staging.display(), e))?;
    let pid = std::process::id();
    let kernel = staging.join(format!("uki-linux-{pid}"));
    if !write_sections(&file, &chosen, &[".linux"], &kernel)? {
        return Err(io_error(
            uki.display(),
            io::Error::new(io::ErrorKind::InvalidData, "no .linux section"),
        ));
    }
    let initrd = staging.join(format!("uki-initrd-{pid}"));
    let has_initrd = write_sections(&file, &chosen, &[".ucode", ".initrd"], &initrd)?;
    Ok(Staged {
        kernel,
        initrd: has_initrd.then_some(initrd),
        image: uki.to_path_buf(),
        sections: chosen,
    })
}

/// The lockdown mode in brackets ("integrity", "confidentiality"), None when "none" or
/// when the file is missing (no lockdown LSM).
pub fn lockdown_mode(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    let mode = &text[start..end];
    (mode != "none").then(|| mode.to_string())
}

/// A refused kexec of a UKI's kernel, said plainly when lockdown is the reason.
pub fn explain(error: KexecError, lockdown: &Path) -> KexecError {
    let refused = matches!(
        error,
        KexecError::PermissionDenied | KexecError::KeyRejected
    );
    match (refused, lockdown_mode(lockdown)) {
        (true, Some(mode)) => KexecError::Other {
            what: "kexec of a unified kernel image",
            error: io::Error::other(format!(
                "the running kernel is locked down ({mode}): it only kexecs a kernel signed by \
                 a key it trusts, so the UKI's .linux section must itself be a signed kernel \
                 (the UKI's own signature is not checked by kexec) — {error}"
            )),
        },
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::config::pe::build;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kboot-uki-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn linux_and_ucode_plus_initrd_are_staged_for_the_profile() {
        let dir = temp_dir("stage");
        let image = build(&[
            (".linux", b"KERNEL"),
            (".initrd", b"base-initrd"),
            (".ucode", b"UC"),
            (".profile", b"ID=a\n"),
            (".profile", b"ID=b\n"),
            (".initrd", b"other"),
        ]);
        let uki = dir.join("x.efi");
        std::fs::write(&uki, &image).unwrap();
        let staged = stage(&uki, None, &dir.join("run")).unwrap();
        assert_eq!(std::fs::read(&staged.kernel).unwrap(), b"KERNEL");
        let initrd = staged.initrd.clone().unwrap();
        assert_eq!(std::fs::read(&initrd).unwrap(), b"UC\0\0base-initrd");
        let second = stage(&uki, Some(1), &dir.join("run")).unwrap();
        assert_eq!(
            std::fs::read(second.initrd.unwrap()).unwrap(),
            b"UC\0\0other"
        );
        staged.remove();
        assert!(!staged.kernel.exists());
        std::fs::write(&uki, build(&[(".osrel", b"ID=x")])).unwrap();
        let err = stage(&uki, None, &dir.join("run")).unwrap_err().to_string();
        assert!(err.contains("no .linux section"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The golden case: a UKI as distributions build it, objcopy onto systemd's stub.
    #[test]
    fn a_uki_made_with_objcopy_on_systemds_stub() {
        let stub = Path::new("/usr/lib/systemd/boot/efi/linuxx64.efi.stub");
        if !stub.exists() {
            eprintln!("no {}: objcopy UKI check skipped", stub.display());
            return;
        }
        let dir = temp_dir("objcopy");
        let kernel: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(
            dir.join("osrel"),
            "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\n",
        )
        .unwrap();
        std::fs::write(dir.join("cmdline"), "console=ttyS0 marker\0").unwrap();
        std::fs::write(dir.join("linux"), &kernel).unwrap();
        std::fs::write(dir.join("initrd"), b"070701initrd").unwrap();
        std::fs::create_dir_all(dir.join("esp/EFI/Linux")).unwrap();
        let section = |name: &str, vma: u32| {
            [
                "--add-section".to_string(),
                format!(".{name}={}", dir.join(name).display()),
                "--change-section-vma".to_string(),
                format!(".{name}={vma:#x}"),
            ]
        };
        let status = std::process::Command::new("objcopy")
            .args(section("osrel", 0x20000))
            .args(section("cmdline", 0x30000))
            .args(section("linux", 0x200_0000))
            .args(section("initrd", 0x300_0000))
            .arg(stub)
            .arg(dir.join("esp/EFI/Linux/debian.efi"))
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("objcopy failed or missing: objcopy UKI check skipped");
            return;
        }
        let fs = crate::boot::fs::DirFs::new(dir.join("esp"));
        let parsed = crate::boot::config::uki::parse_ukis(&fs, Path::new("/EFI/Linux"));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let entry = &parsed.entries[0];
        assert_eq!(entry.label, "Debian GNU/Linux 13 (trixie)");
        assert_eq!(entry.cmdline, "console=ttyS0 marker");
        assert_eq!(entry.id, "debian.efi");
        let staged = stage(
            &dir.join("esp/EFI/Linux/debian.efi"),
            None,
            &dir.join("run"),
        )
        .unwrap();
        assert_eq!(std::fs::read(&staged.kernel).unwrap(), kernel);
        assert_eq!(
            std::fs::read(staged.initrd.unwrap()).unwrap(),
            b"070701initrd"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lockdown_refusals_name_the_signed_kernel() {
        let dir = temp_dir("lockdown");
        let lockdown = dir.join("lockdown");
        std::fs::write(&lockdown, "none [integrity] confidentiality\n").unwrap();
        assert_eq!(lockdown_mode(&lockdown).as_deref(), Some("integrity"));
        let message = explain(KexecError::KeyRejected, &lockdown).to_string();
        assert!(message.contains("locked down (integrity)"), "{message}");
        assert!(message.contains("signed"), "{message}");
        let busy = explain(KexecError::Busy, &lockdown).to_string();
        assert!(busy.contains("EBUSY"));
        std::fs::write(&lockdown, "[none] integrity confidentiality\n").unwrap();
        assert_eq!(lockdown_mode(&lockdown), None);
        let plain = explain(KexecError::PermissionDenied, &lockdown).to_string();
        assert!(plain.contains("CAP_SYS_BOOT"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
