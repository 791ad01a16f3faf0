//! Booting a unified kernel image by kexec: its `.linux` section becomes the kernel file
//! and `.ucode` + `.initrd` (of the chosen profile) the initrd, both written to tmpfs
//! (kexec_file_load takes file descriptors). Under kernel lockdown a refusal is explained:
//! the running kernel only kexecs a `.linux` signed by a key it trusts.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::boot::config::pe::Section;
use crate::boot::config::uki::{file_profile_sections, section_text};
use crate::boot::fs::read_file_at;
use crate::boot::launch::kexec::{io_error, KexecError};

/// Copied in pieces of this size, so a large initrd is never held in memory whole.
const CHUNK: usize = 1 << 20;

/// The staged files of one UKI: the kernel and, when the image has one, the initrd;
/// and where they came from (the image and its chosen profile's sections), for the TPM
/// measurements systemd-stub would have made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// The image's own `.cmdline` (of the profile), for an entry that has none (a type #1
    /// entry's `uki-url` without `options`: the image was not at hand when it was listed).
    pub cmdline: Option<String>,
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

/// The sections named in `names` that `chosen` has, in that order (the last of a name).
fn pick<'a>(file: &'a File, chosen: &[Section], names: &[&str]) -> Vec<(&'a File, Section)> {
    names
        .iter()
        .filter_map(|n| chosen.iter().rev().find(|s| s.name == *n))
        .map(|s| (file, s.clone()))
        .collect()
}

/// Writes `pieces` (each but the last padded to 4 bytes, as concatenated cpio archives
/// are) to `to`; false when there is none.
fn write_sections(pieces: &[(&File, Section)], to: &Path) -> Result<bool, KexecError> {
    if pieces.is_empty() {
        return Ok(false);
    }
    let mut out = File::create(to).map_err(|e| io_error(to.display(), e))?;
    let last = pieces.len() - 1;
    for (index, (file, section)) in pieces.iter().enumerate() {
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

/// Extracts the kernel and initrd of `profile` from the UKI at `uki` into `staging`; the
/// `.ucode` of its `addons` (host paths, in systemd-stub's order) goes first in the initrd.
pub fn stage(
    uki: &Path,
    profile: Option<u32>,
    addons: &[PathBuf],
    staging: &Path,
) -> Result<Staged, KexecError> {
    let invalid = |path: &Path, e: String| {
        io_error(
            path.display(),
            io::Error::new(io::ErrorKind::InvalidData, e),
        )
    };
    let file = File::open(uki).map_err(|e| io_error(uki.display(), e))?;
    let chosen = file_profile_sections(&file, profile).map_err(|e| invalid(uki, e))?;
    let addon_files = addons
        .iter()
        .map(|path| {
            let file = File::open(path).map_err(|e| io_error(path.display(), e))?;
            let sections = file_profile_sections(&file, None).map_err(|e| invalid(path, e))?;
            Ok((file, sections))
        })
        .collect::<Result<Vec<_>, KexecError>>()?;
    std::fs::create_dir_all(staging).map_err(|e| io_error(staging.display(), e))?;
    let pid = std::process::id();
    let kernel = staging.join(format!("uki-linux-{pid}"));
    if !write_sections(&pick(&file, &chosen, &[".linux"]), &kernel)? {
        return Err(io_error(
            uki.display(),
            io::Error::new(io::ErrorKind::InvalidData, "no .linux section"),
        ));
    }
    let initrd = staging.join(format!("uki-initrd-{pid}"));
    let mut pieces: Vec<(&File, Section)> = addon_files
        .iter()
        .flat_map(|(file, sections)| pick(file, sections, &[".ucode"]))
        .collect();
    pieces.extend(pick(&file, &chosen, &[".ucode", ".initrd"]));
    let has_initrd = write_sections(&pieces, &initrd)?;
    let read = |offset, len| read_file_at(&file, offset, len).map_err(|e| e.to_string());
    let cmdline = section_text(&read, &chosen, ".cmdline").map_err(|e| invalid(uki, e))?;
    Ok(Staged {
        kernel,
        initrd: has_initrd.then_some(initrd),
        cmdline,
        image: uki.to_path_buf(),
        sections: chosen,
    })
}

/// A refusal by a locked-down kernel (`lockdown::refusal`), completed for a UKI: kexec
/// checks the signature of the `.linux` section it is given, not the UKI's own.
pub fn explain(error: KexecError) -> KexecError {
    match error {
        KexecError::LockedDown(why) => KexecError::LockedDown(format!(
            "{why} — for a unified kernel image that is its .linux section, which must itself \
             be a signed kernel (kexec does not check the UKI's own signature)"
        )),
        other => other,
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
        let staged = stage(&uki, None, &[], &dir.join("run")).unwrap();
        assert_eq!(std::fs::read(&staged.kernel).unwrap(), b"KERNEL");
        let initrd = staged.initrd.clone().unwrap();
        assert_eq!(std::fs::read(&initrd).unwrap(), b"UC\0\0base-initrd");
        let second = stage(&uki, Some(1), &[], &dir.join("run")).unwrap();
        assert_eq!(
            std::fs::read(second.initrd.unwrap()).unwrap(),
            b"UC\0\0other"
        );
        staged.remove();
        assert!(!staged.kernel.exists());
        std::fs::write(&uki, build(&[(".osrel", b"ID=x")])).unwrap();
        let err = stage(&uki, None, &[], &dir.join("run"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no .linux section"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn addon_microcode_goes_before_the_images_own_initrd() {
        let dir = temp_dir("addons");
        let uki = dir.join("x.efi");
        std::fs::write(
            &uki,
            build(&[
                (".linux", b"KERNEL"),
                (".ucode", b"OLD"),
                (".initrd", b"INITRD"),
            ]),
        )
        .unwrap();
        let global = dir.join("global.addon.efi");
        std::fs::write(&global, build(&[(".cmdline", b"quiet")])).unwrap();
        let ucode = dir.join("ucode.addon.efi");
        std::fs::write(&ucode, build(&[(".ucode", b"NEWUC")])).unwrap();
        let staged = stage(&uki, None, &[global, ucode.clone()], &dir.join("run")).unwrap();
        assert_eq!(
            std::fs::read(staged.initrd.clone().unwrap()).unwrap(),
            b"NEWUC\0\0\0OLD\0INITRD"
        );
        std::fs::remove_file(&ucode).unwrap();
        let err = stage(&uki, None, &[ucode], &dir.join("run"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ucode.addon.efi"), "{err}");
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
            &[],
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
    fn lockdown_refusals_name_the_signed_linux_section() {
        let refused = KexecError::LockedDown("the running kernel is locked down".into());
        let message = explain(refused).to_string();
        assert!(
            message.starts_with("the running kernel is locked down"),
            "{message}"
        );
        assert!(message.contains(".linux section"), "{message}");
        assert!(message.contains("signed kernel"), "{message}");
        let busy = explain(KexecError::Busy).to_string();
        assert!(!busy.contains(".linux"), "{busy}");
    }
}
