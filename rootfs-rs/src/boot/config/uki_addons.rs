//! systemd-stub's addons: small PE files next to a UKI that add to it without rebuilding
//! (and re-signing) the image. Their `.cmdline` is appended to the UKI's command line and
//! their `.ucode` goes in front of its initrd. The stub reads the global ones in
//! `/loader/addons/` of the UKI's partition, then the UKI's own in `<name>.efi.extra.d/`,
//! each set in file-name order (systemd-stub(7)); kboot does the same. An addon with a
//! `.linux` section is a kernel, not an addon, and is refused as the stub refuses it.
//!
//! Under Secure Boot the stub has the firmware check each addon's signature; kexec cannot
//! (the signature covers the PE file, not what kexec loads), so kboot says in the docs that
//! it does not verify addons (docs/uki.md).

use std::path::{Path, PathBuf};

use crate::boot::config::pe::sections;
use crate::boot::config::uki::{fs_reader, section_text};
use crate::boot::fs::ConfigFs;

pub const GLOBAL_ADDONS: &str = "/loader/addons";
const ADDON_SUFFIX: &str = ".addon.efi";
/// A handful is normal (a console setting, a microcode update); more than this in one
/// directory is a broken or hostile ESP, and each one costs a PE parse per menu scan.
const MAX_ADDONS_PER_DIR: usize = 32;

/// The addons that apply to one UKI: their files (for the `.ucode` at boot) and their
/// command lines joined in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addons {
    pub files: Vec<PathBuf>,
    pub cmdline: String,
    /// Addons skipped, with the reason (for the scan's warnings).
    pub skipped: Vec<String>,
}

/// The per-UKI directory systemd-stub reads: `/EFI/Linux/x.efi` → `/EFI/Linux/x.efi.extra.d`.
pub fn extra_dir(uki: &Path) -> PathBuf {
    let mut name = uki.as_os_str().to_os_string();
    name.push(".extra.d");
    PathBuf::from(name)
}

/// The addons of the UKI at `uki` on `fs`, global ones first.
pub fn addons_for(fs: &dyn ConfigFs, uki: &Path) -> Addons {
    let mut found = Addons::default();
    for dir in [PathBuf::from(GLOBAL_ADDONS), extra_dir(uki)] {
        let mut names: Vec<String> = fs
            .list_dir(&dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !n.starts_with('.') && n.to_ascii_lowercase().ends_with(ADDON_SUFFIX))
            .collect();
        names.sort();
        if names.len() > MAX_ADDONS_PER_DIR {
            found.skipped.push(format!(
                "{}: {} addons, only the first {MAX_ADDONS_PER_DIR} used",
                dir.display(),
                names.len()
            ));
            names.truncate(MAX_ADDONS_PER_DIR);
        }
        for name in names {
            let path = dir.join(&name);
            match addon_cmdline(fs, &path) {
                Ok(cmdline) => {
                    if !cmdline.is_empty() {
                        if !found.cmdline.is_empty() {
                            found.cmdline.push(' ');
                        }
                        found.cmdline.push_str(&cmdline);
                    }
                    found.files.push(path);
                }
                Err(reason) => found
                    .skipped
                    .push(format!("addon {}: {reason}", path.display())),
            }
        }
    }
    found
}

/// An addon's `.cmdline` (empty when it has none: a microcode-only addon).
fn addon_cmdline(fs: &dyn ConfigFs, path: &Path) -> Result<String, String> {
    let read = fs_reader(fs, path);
    let all = sections(&read)?;
    if all.iter().any(|s| s.name == ".linux") {
        return Err("has a .linux section: a kernel image, not an addon".to_string());
    }
    Ok(section_text(&read, &all, ".cmdline")?.unwrap_or_default())
}

/// `base` with the addons' command line appended, as systemd-stub appends it.
pub fn with_addons(base: &str, addons: &Addons) -> String {
    match (base.is_empty(), addons.cmdline.is_empty()) {
        (_, true) => base.to_string(),
        (true, false) => addons.cmdline.clone(),
        (false, false) => format!("{base} {}", addons.cmdline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::config::pe::build;
    use crate::boot::fs::MemFs;

    #[test]
    fn global_addons_then_the_ukis_own_each_in_name_order() {
        let fs = MemFs::default()
            .with(
                "/loader/addons/b.addon.efi",
                build(&[(".cmdline", b"global-b\0")]),
            )
            .with(
                "/loader/addons/a.addon.efi",
                build(&[(".cmdline", b"global-a")]),
            )
            .with("/loader/addons/notes.txt", b"not an addon".to_vec())
            .with(
                "/EFI/Linux/x.efi.extra.d/z.addon.efi",
                build(&[(".cmdline", b"own-z\n")]),
            )
            .with(
                "/EFI/Linux/x.efi.extra.d/m.addon.efi",
                build(&[(".ucode", b"MICROCODE")]),
            )
            .with(
                "/EFI/Linux/y.efi.extra.d/other.addon.efi",
                build(&[(".cmdline", b"not-for-x")]),
            );
        let addons = addons_for(&fs, Path::new("/EFI/Linux/x.efi"));
        assert_eq!(addons.cmdline, "global-a global-b own-z");
        assert_eq!(
            addons.files,
            [
                "/loader/addons/a.addon.efi",
                "/loader/addons/b.addon.efi",
                "/EFI/Linux/x.efi.extra.d/m.addon.efi",
                "/EFI/Linux/x.efi.extra.d/z.addon.efi",
            ]
            .map(PathBuf::from)
        );
        assert!(addons.skipped.is_empty(), "{:?}", addons.skipped);
        assert_eq!(
            with_addons("root=/dev/sda1", &addons),
            "root=/dev/sda1 global-a global-b own-z"
        );
        assert_eq!(with_addons("", &Addons::default()), "");
    }

    #[test]
    fn a_kernel_or_a_broken_file_is_skipped_with_the_reason() {
        let fs = MemFs::default()
            .with(
                "/loader/addons/kernel.addon.efi",
                build(&[(".linux", b"KERNEL"), (".cmdline", b"evil")]),
            )
            .with("/loader/addons/short.addon.efi", b"MZ".to_vec())
            .with(
                "/loader/addons/ok.addon.efi",
                build(&[(".cmdline", b"fine")]),
            );
        let addons = addons_for(&fs, Path::new("/EFI/Linux/x.efi"));
        assert_eq!(addons.cmdline, "fine");
        assert_eq!(addons.files.len(), 1);
        assert_eq!(addons.skipped.len(), 2, "{:?}", addons.skipped);
        assert!(
            addons.skipped[0].contains("not an addon"),
            "{:?}",
            addons.skipped
        );
    }

    #[test]
    fn too_many_addons_are_cut_and_said() {
        let mut fs = MemFs::default();
        for i in 0..40 {
            fs = fs.with(
                &format!("/loader/addons/{i:02}.addon.efi"),
                build(&[(".cmdline", b"x")]),
            );
        }
        let addons = addons_for(&fs, Path::new("/EFI/Linux/x.efi"));
        assert_eq!(addons.files.len(), MAX_ADDONS_PER_DIR);
        assert!(
            addons.skipped[0].contains("40 addons"),
            "{:?}",
            addons.skipped
        );
    }
}
