//! systemd's Boot Loader Interface (https://systemd.io/BOOT_LOADER_INTERFACE): EFI
//! variables under the vendor GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f through which
//! `bootctl`, `systemctl reboot --boot-loader-entry=` and `systemd-analyze` talk to the
//! boot loader. kboot reads the one-shot and default entry and the menu timeouts, and
//! publishes what it is, what it found and what it booted. Strings are UTF-16LE with a
//! terminating NUL. Every function takes the efivarfs directory, so tests use a plain one.

use std::io;
use std::path::Path;

use crate::boot::config::boot_count::without_counter;
use crate::boot::efi::{
    delete_vendor_var, read_vendor_var, ucs2 as encode_string, write_vendor_var,
};
use crate::boot::entry::{BootEntry, EntryKind};

pub const LOADER_GUID: &str = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

/// EFI_LOADER_FEATURE_* bits (systemd's src/fundamental/efivars-fundamental.h) for what
/// kboot honours: LoaderConfigTimeout, LoaderConfigTimeoutOneShot, LoaderEntryDefault,
/// LoaderEntryOneShot (bits 0-3) and XBOOTLDR partitions (bit 5: every filesystem is
/// scanned for /loader/entries and /EFI/Linux).
pub const FEATURES: u64 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5);
/// EFI_LOADER_FEATURE_BOOT_COUNTING, set while boot counting is on.
pub const FEATURE_BOOT_COUNTING: u64 = 1 << 4;

/// The text of a UTF-16LE string variable, up to its first NUL.
pub fn decode_string(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

fn read_string(dir: &Path, name: &str) -> Option<String> {
    read_vendor_var(dir, LOADER_GUID, name).map(|d| decode_string(&d))
}

/// What the running system asked of the boot loader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    /// LoaderEntryOneShot (already deleted), else LoaderEntryDefault.
    pub entry: Option<String>,
    /// Countdown in seconds from LoaderConfigTimeoutOneShot (deleted), else
    /// LoaderConfigTimeout: Some(None) shows the menu without countdown (`menu-force`).
    pub timeout: Option<Option<u32>>,
}

fn parse_timeout(text: &str) -> Option<Option<u32>> {
    match text.trim() {
        "menu-force" => Some(None),
        "menu-hidden" | "menu-disabled" => Some(Some(0)),
        n => n.parse().ok().map(Some),
    }
}

/// Reads the requests; the one-shot variables are deleted once read (systemd-boot does the
/// same), so a failing entry does not boot again and again. Problems are warnings.
pub fn take_requests(dir: &Path, warn: &mut dyn FnMut(String)) -> Requests {
    let mut take = |name: &str| {
        let value = read_string(dir, name)?;
        if let Err(e) = delete_vendor_var(dir, LOADER_GUID, name) {
            warn(format!("{name}: cannot delete it after use: {e}"));
        }
        Some(value)
    };
    let one_shot_entry = take("LoaderEntryOneShot");
    let one_shot_timeout = take("LoaderConfigTimeoutOneShot");
    Requests {
        entry: one_shot_entry
            .or_else(|| read_string(dir, "LoaderEntryDefault"))
            .filter(|e| !e.is_empty()),
        timeout: one_shot_timeout
            .or_else(|| read_string(dir, "LoaderConfigTimeout"))
            .and_then(|t| parse_timeout(&t)),
    }
}

/// The id systemd-boot gives an entry: a type #1 entry's file name (with `.conf`, the
/// boot counter `+LEFT[-DONE]` removed), a UKI's file name; other entries keep theirs.
pub fn loader_id(entry: &BootEntry) -> String {
    if entry.source.starts_with("bls:") {
        return format!("{}.conf", without_counter(&entry.id)).to_lowercase();
    }
    match entry.kind {
        EntryKind::Uki { .. } => without_counter(&entry.id).to_lowercase(),
        _ => entry.id.clone(),
    }
}

/// Whether `requested` (as bootctl writes it) names `entry`: its systemd id, or its own
/// id (a type #1 entry's name without `.conf`), case-insensitively.
pub fn names_entry(entry: &BootEntry, requested: &str) -> bool {
    loader_id(entry).eq_ignore_ascii_case(requested) || entry.id.eq_ignore_ascii_case(requested)
}

/// Whether efivarfs is mounted at `dir` (a non-empty directory).
pub fn available(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Microseconds since the kernel started (CLOCK_BOOTTIME through /proc/uptime), as
/// systemd-analyze reads LoaderTime*USec.
pub fn uptime_usec() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let seconds = text.split_whitespace().next()?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, "0"));
    let micros = format!("{:0<6}", fraction).get(..6)?.parse::<u64>().ok()?;
    Some(whole.parse::<u64>().ok()? * 1_000_000 + micros)
}

fn write_string(dir: &Path, name: &str, value: &str) -> io::Result<()> {
    write_vendor_var(dir, LOADER_GUID, name, &encode_string(value))
        .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))
}

/// What the menu publishes once it has scanned: LoaderInfo, LoaderFeatures,
/// LoaderEntries (ids NUL-separated) and LoaderTimeInitUSec.
pub fn publish_menu(
    dir: &Path,
    entries: &[&BootEntry],
    init_usec: Option<u64>,
    boot_counting: bool,
) -> io::Result<()> {
    write_string(
        dir,
        "LoaderInfo",
        &format!("kboot-rs {}", env!("CARGO_PKG_VERSION")),
    )?;
    let features = if boot_counting {
        FEATURES | FEATURE_BOOT_COUNTING
    } else {
        FEATURES
    };
    write_vendor_var(dir, LOADER_GUID, "LoaderFeatures", &features.to_le_bytes())?;
    let mut ids: Vec<u8> = Vec::new();
    for entry in entries {
        ids.extend(encode_string(&loader_id(entry)));
    }
    write_vendor_var(dir, LOADER_GUID, "LoaderEntries", &ids)?;
    if let Some(usec) = init_usec {
        write_string(dir, "LoaderTimeInitUSec", &usec.to_string())?;
    }
    Ok(())
}

/// LoaderDevicePartUUID: the partition GUID of the ESP kboot was started from. A value
/// set during this boot (volatile: a loader such as systemd-boot started kboot.efi and
/// said where it came from) is kept; one left non-volatile by an earlier boot is replaced.
pub fn publish_device(dir: &Path, part_uuid: &str) -> io::Result<()> {
    let name = "LoaderDevicePartUUID";
    let set_this_boot = crate::boot::efi::vendor_var_attributes(dir, LOADER_GUID, name)
        .is_some_and(|a| a & crate::boot::efi::NON_VOLATILE == 0);
    if set_this_boot {
        return Ok(());
    }
    write_string(dir, name, &part_uuid.to_ascii_lowercase())
}

/// LoaderBootCountPath: the entry file a boot counted a try on (`\loader\entries\x+2-1.conf`,
/// relative to its partition), which systemd-bless-boot renames once the boot is good;
/// its generator starts the service only when this variable exists.
pub fn publish_boot_count_path(dir: &Path, path: &str) -> io::Result<()> {
    write_string(dir, "LoaderBootCountPath", &path.replace('/', "\\"))
}

/// What kboot publishes right before kexec: LoaderEntrySelected and LoaderTimeExecUSec.
/// A LoaderBootCountPath of an earlier boot is deleted (kboot's variables outlive the
/// boot): it would make systemd-bless-boot rename a file this boot did not count.
pub fn publish_boot(dir: &Path, chosen: &BootEntry, exec_usec: Option<u64>) -> io::Result<()> {
    delete_vendor_var(dir, LOADER_GUID, "LoaderBootCountPath")?;
    write_string(dir, "LoaderEntrySelected", &loader_id(chosen))?;
    if let Some(usec) = exec_usec {
        write_string(dir, "LoaderTimeExecUSec", &usec.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fake_efivars(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kboot-bli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn set(dir: &Path, name: &str, value: &str) {
        write_vendor_var(dir, LOADER_GUID, name, &encode_string(value)).unwrap();
    }

    fn bls(id: &str) -> BootEntry {
        let mut e = BootEntry::linux(
            id,
            PathBuf::from("/vmlinuz"),
            &format!("bls: /loader/entries/{id}.conf"),
        );
        e.id = id.to_string();
        e
    }

    #[test]
    fn one_shot_wins_and_is_deleted_default_and_timeout_stay() {
        let dir = fake_efivars("requests");
        set(&dir, "LoaderEntryDefault", "fedora.conf");
        set(&dir, "LoaderEntryOneShot", "arch.efi");
        set(&dir, "LoaderConfigTimeout", "7");
        set(&dir, "LoaderConfigTimeoutOneShot", "menu-force");
        let mut warnings = Vec::new();
        let first = take_requests(&dir, &mut |w| warnings.push(w));
        assert_eq!(first.entry.as_deref(), Some("arch.efi"));
        assert_eq!(first.timeout, Some(None));
        let second = take_requests(&dir, &mut |w| warnings.push(w));
        assert_eq!(second.entry.as_deref(), Some("fedora.conf"));
        assert_eq!(second.timeout, Some(Some(7)));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!dir
            .join(format!("LoaderEntryOneShot-{LOADER_GUID}"))
            .exists());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(take_requests(&dir, &mut |_| {}), Requests::default());
    }

    #[test]
    fn ids_are_systemd_boots() {
        let counted = bls("fedora-6.1+2-1");
        assert_eq!(loader_id(&counted), "fedora-6.1.conf");
        assert!(names_entry(&counted, "FEDORA-6.1.conf"));
        let plain = bls("debian");
        assert!(names_entry(&plain, "debian"));
        assert!(names_entry(&plain, "debian.conf"));
        let mut uki = BootEntry::linux("Arch", PathBuf::from("/EFI/Linux/Arch.efi"), "uki: x");
        uki.kind = EntryKind::Uki {
            profile: None,
            addons: Vec::new(),
        };
        uki.id = "Arch.efi".into();
        assert_eq!(loader_id(&uki), "arch.efi");
        uki.id = "Arch+1-2.efi".into();
        assert_eq!(loader_id(&uki), "arch.efi");
    }

    #[test]
    fn published_variables_are_what_bootctl_reads() {
        let dir = fake_efivars("publish");
        assert!(!available(&dir));
        let entries = [bls("a"), bls("b+3")];
        publish_menu(
            &dir,
            &entries.iter().collect::<Vec<_>>(),
            Some(1_500_000),
            false,
        )
        .unwrap();
        publish_boot(&dir, &entries[1], Some(2_000_000)).unwrap();
        assert!(available(&dir));
        let read = |name: &str| read_vendor_var(&dir, LOADER_GUID, name).unwrap();
        assert!(decode_string(&read("LoaderInfo")).starts_with("kboot-rs "));
        assert_eq!(read("LoaderFeatures"), FEATURES.to_le_bytes());
        let list = read("LoaderEntries");
        let ids: Vec<String> = list
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect::<Vec<_>>()
            .split(|&u| u == 0)
            .filter(|s| !s.is_empty())
            .map(String::from_utf16_lossy)
            .collect();
        assert_eq!(ids, ["a.conf", "b.conf"]);
        assert_eq!(decode_string(&read("LoaderEntrySelected")), "b.conf");
        assert_eq!(decode_string(&read("LoaderTimeInitUSec")), "1500000");
        assert_eq!(decode_string(&read("LoaderTimeExecUSec")), "2000000");
        let raw = std::fs::read(dir.join(format!("LoaderInfo-{LOADER_GUID}"))).unwrap();
        assert_eq!(&raw[..4], &7u32.to_le_bytes());
        publish_menu(&dir, &[], None, true).unwrap();
        assert_eq!(read("LoaderFeatures"), (FEATURES | (1 << 4)).to_le_bytes());
        publish_boot_count_path(&dir, "/loader/entries/b+2-1.conf").unwrap();
        assert_eq!(
            decode_string(&read("LoaderBootCountPath")),
            "\\loader\\entries\\b+2-1.conf"
        );
        publish_boot(&dir, &entries[0], None).unwrap();
        assert!(read_vendor_var(&dir, LOADER_GUID, "LoaderBootCountPath").is_none());
        // Left by an earlier boot (non-volatile): replaced.
        publish_device(&dir, "AAAAAAAA-0000-0000-0000-000000000001").unwrap();
        publish_device(&dir, "bbbbbbbb-0000-0000-0000-000000000002").unwrap();
        let device = || decode_string(&read("LoaderDevicePartUUID"));
        assert_eq!(device(), "bbbbbbbb-0000-0000-0000-000000000002");
        // Set by the loader that started kboot during this boot (volatile): kept.
        let mut volatile = 6u32.to_le_bytes().to_vec();
        volatile.extend(encode_string("cccccccc-0000-0000-0000-000000000003"));
        std::fs::write(
            dir.join(format!("LoaderDevicePartUUID-{LOADER_GUID}")),
            volatile,
        )
        .unwrap();
        publish_device(&dir, "bbbbbbbb-0000-0000-0000-000000000002").unwrap();
        assert_eq!(device(), "cccccccc-0000-0000-0000-000000000003");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
