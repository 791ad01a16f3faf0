//! Menu entries the firmware boots, on a machine started by UEFI: the boot options in
//! BootOrder (Windows Boot Manager, a shell…) and EFI applications found on EFI system
//! partitions. Choosing one hands it back to the firmware through BootNext and reboots.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::blockdev::devices::list_block_devices;
use crate::blockdev::fstype::FsKind;
use crate::blockdev::mounts::Mounted;
use crate::blockdev::partitions::read_partition_table;
use crate::boot::efi;
use crate::boot::entry::{BootEntry, EntryKind};
use crate::boot::launch::kexec::is_running_kernel;
use crate::boot::scan::volume::DiscoveredEntry;

const ESP_TYPE: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
/// Fallback loaders and kboot itself: booting them from kboot means booting kboot.
const SKIPPED_DIRS: [&str; 2] = ["boot", "kboot"];
const SOURCE_OPTION: &str = "uefi: ";
const SOURCE_FILE: &str = "efi: ";
const SOURCE_SETUP: &str = "fwsetup";

fn firmware_entry(
    label: String,
    target: String,
    source: String,
    device: &str,
    path: PathBuf,
) -> DiscoveredEntry {
    let mut entry = BootEntry::linux(&label, path, &source);
    entry.kind = EntryKind::Chainload { target };
    DiscoveredEntry {
        entry,
        device: device.to_string(),
        fs_uuid: None,
        fs_label: None,
        mount_point: PathBuf::new(),
        config_device: device.to_string(),
    }
}

/// An EFI system partition of a GPT disk: (kernel name, 1-based number, start and size in
/// 512-byte sectors, unique GUID).
struct Esp {
    name: String,
    node: PathBuf,
    number: u32,
    start: u64,
    size: u64,
    guid: String,
}

fn esps(sys_block: &Path, dev: &Path) -> Vec<Esp> {
    let (devices, _) = list_block_devices(sys_block, dev);
    let mut found = Vec::new();
    for disk in devices.iter().filter(|d| d.parent.is_none()) {
        let Ok(file) = std::fs::File::open(&disk.node) else {
            continue;
        };
        let Ok(Some(table)) = read_partition_table(&file, disk.size_bytes) else {
            continue;
        };
        for p in table
            .partitions
            .iter()
            .filter(|p| p.type_id.eq_ignore_ascii_case(ESP_TYPE))
        {
            let Some(part) = devices.iter().find(|d| {
                d.parent.as_deref() == Some(disk.name.as_str()) && d.partition == Some(p.number)
            }) else {
                continue;
            };
            found.push(Esp {
                name: part.name.clone(),
                node: part.node.clone(),
                number: p.number,
                start: p.start / 512,
                size: p.size / 512,
                guid: p.part_uuid.clone().unwrap_or_default(),
            });
        }
    }
    found
}

/// `\EFI\<dir>\<file>.efi` paths under a mounted ESP; with `skip_own`, not in the
/// fallback loader's and kboot's own directories.
fn efi_files(root: &Path, skip_own: bool) -> Vec<String> {
    let mut out = Vec::new();
    let Some(efi) = std::fs::read_dir(root).ok().and_then(|d| {
        d.flatten()
            .find(|e| e.file_name().eq_ignore_ascii_case("efi"))
    }) else {
        return out;
    };
    for dir in std::fs::read_dir(efi.path())
        .into_iter()
        .flatten()
        .flatten()
    {
        let dir_name = dir.file_name().to_string_lossy().into_owned();
        if skip_own
            && SKIPPED_DIRS
                .iter()
                .any(|s| dir_name.eq_ignore_ascii_case(s))
        {
            continue;
        }
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.to_ascii_lowercase().ends_with(".efi") {
                out.push(format!(
                    "\\{}\\{dir_name}\\{name}",
                    efi.file_name().to_string_lossy()
                ));
            }
        }
    }
    out.sort();
    out
}

/// Firmware entries; empty when not booted by UEFI.
pub fn firmware_entries(efivars: &Path, sys_block: &Path, dev: &Path) -> Vec<DiscoveredEntry> {
    if !efivars.is_dir() {
        return Vec::new();
    }
    let current = efi::read_var(efivars, "BootCurrent")
        .map(|b| u16::from_le_bytes([b[0], b.get(1).copied().unwrap_or(0)]));
    let mut entries: Vec<DiscoveredEntry> = efi::boot_options(efivars)
        .into_iter()
        .filter(|o| Some(o.number) != current)
        .map(|o| {
            firmware_entry(
                format!("UEFI: {}", o.description),
                format!("Boot{:04X}", o.number),
                format!("{SOURCE_OPTION}Boot{:04X}", o.number),
                "firmware",
                PathBuf::new(),
            )
        })
        .collect();
    if efi::firmware_setup_supported(efivars) {
        entries.push(firmware_entry(
            "Reboot into firmware setup".into(),
            "firmware setup".into(),
            SOURCE_SETUP.into(),
            "firmware",
            PathBuf::new(),
        ));
    }
    each_mounted_esp(sys_block, dev, |esp, at| {
        for file in efi_files(at, true) {
            entries.push(firmware_entry(
                format!("EFI: {}:{file}", esp.name),
                file.clone(),
                format!("{SOURCE_FILE}{}", esp.name),
                &esp.name,
                PathBuf::from(file),
            ));
        }
    });
    entries
}

/// Calls `visit` with every EFI system partition mounted read-only at its directory.
fn each_mounted_esp(sys_block: &Path, dev: &Path, mut visit: impl FnMut(&Esp, &Path)) {
    for esp in esps(sys_block, dev) {
        let at = Path::new("/run/kboot/esp").join(&esp.name);
        let Ok(mounted) = Mounted::read_only(&esp.node, &at, FsKind::Vfat) else {
            continue;
        };
        visit(&esp, &at);
        drop(mounted);
    }
}

/// Bytes of an EFI file read to find its bzImage version string (in the setup code).
const VERSION_PROBE_BYTES: u64 = 64 * 1024;

/// The partition GUID of the EFI system partition kboot.efi was started from, for the
/// Boot Loader Interface's LoaderDevicePartUUID. The kernel's EFI stub passes no device
/// path on, so kboot looks for itself: the ESP holding an EFI file whose bzImage version
/// string is the running kernel's (release and build stamp). Where several hold one, or
/// none does (kboot started by GRUB from another filesystem), the partition of the boot
/// option the firmware started (BootCurrent's HD() node) decides.
pub fn loader_partition(efivars: &Path, sys_block: &Path, dev: &Path) -> Option<String> {
    let current = efi::read_var(efivars, "BootCurrent")
        .and_then(|b| Some(u16::from_le_bytes([*b.first()?, *b.get(1)?])));
    let from_option = current
        .and_then(|n| efi::parse_load_option(n, &efi::read_var(efivars, &format!("Boot{n:04X}"))?))
        .and_then(|option| efi::hd_partition_guid(&option.device_path));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let version = std::fs::read_to_string("/proc/sys/kernel/version").ok()?;
    let mut holding = Vec::new();
    each_mounted_esp(sys_block, dev, |esp, at| {
        let running = efi_files(at, false).iter().any(|file| {
            let path = at.join(file.trim_start_matches('\\').replace('\\', "/"));
            let mut head = Vec::new();
            std::fs::File::open(&path)
                .and_then(|f| f.take(VERSION_PROBE_BYTES).read_to_end(&mut head))
                .is_ok()
                && is_running_kernel(&head, &release, &version)
        });
        if running {
            holding.push(esp.guid.to_ascii_lowercase());
        }
    });
    choose_loader_partition(&holding, from_option)
}

/// One ESP holding the running kernel is the answer; among several (or none) the boot
/// option's partition.
fn choose_loader_partition(holding: &[String], from_option: Option<String>) -> Option<String> {
    match holding {
        [one] => Some(one.clone()),
        [] => from_option,
        several => from_option.filter(|g| several.iter().any(|h| h.eq_ignore_ascii_case(g))),
    }
}

/// Whether the firmware, not kexec, boots this entry.
pub fn is_firmware_entry(e: &DiscoveredEntry) -> bool {
    e.entry.source.starts_with(SOURCE_OPTION)
        || e.entry.source.starts_with(SOURCE_FILE)
        || e.entry.source == SOURCE_SETUP
}

/// Whether the entry is "Reboot into firmware setup".
pub fn is_firmware_setup(e: &DiscoveredEntry) -> bool {
    e.entry.source == SOURCE_SETUP
}

/// Sets BootNext for the entry (creating a Boot#### option for an EFI file); returns the
/// option number. (The firmware-setup entry is `efi::request_firmware_setup` instead.)
pub fn hand_back(
    e: &DiscoveredEntry,
    efivars: &Path,
    sys_block: &Path,
    dev: &Path,
) -> Result<u16, String> {
    let number = if let Some(option) = e.entry.source.strip_prefix(SOURCE_OPTION) {
        u16::from_str_radix(option.trim_start_matches("Boot"), 16)
            .map_err(|_| format!("bad boot option {option}"))?
    } else {
        let esp = esps(sys_block, dev)
            .into_iter()
            .find(|p| p.name == e.device)
            .ok_or_else(|| format!("{}: EFI system partition not found", e.device))?;
        let guid = efi::guid_bytes(&esp.guid).ok_or("partition has no GUID")?;
        let file = e.entry.kernel.to_string_lossy();
        let path = efi::hd_file_device_path(esp.number, esp.start, esp.size, guid, &file);
        efi::option_for(efivars, &e.entry.label, &path).map_err(|err| format!("Boot####: {err}"))?
    };
    efi::set_boot_next(efivars, number).map_err(|err| format!("BootNext: {err}"))?;
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_esp_holding_the_running_kernel_wins_else_the_boot_option_decides() {
        let a = "aaaaaaaa-0000-0000-0000-000000000001".to_string();
        let b = "bbbbbbbb-0000-0000-0000-000000000002".to_string();
        assert_eq!(
            choose_loader_partition(std::slice::from_ref(&a), Some(b.clone())),
            Some(a.clone())
        );
        assert_eq!(
            choose_loader_partition(&[], Some(b.clone())),
            Some(b.clone())
        );
        assert_eq!(choose_loader_partition(&[], None), None);
        let both = [a.clone(), b.clone()];
        assert_eq!(
            choose_loader_partition(&both, Some(b.to_uppercase())),
            Some(b.to_uppercase())
        );
        assert_eq!(
            choose_loader_partition(&both, Some("cccccccc-0000-0000-0000-000000000003".into())),
            None,
            "two copies and a boot option naming neither: no guess"
        );
        assert_eq!(choose_loader_partition(&both, None), None);
    }
}
