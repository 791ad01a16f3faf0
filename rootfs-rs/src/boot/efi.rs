//! UEFI boot options through efivarfs: read BootOrder and Boot#### (EFI_LOAD_OPTION), create
//! an option for an EFI file on a GPT partition (HD() + File() device path), and set the
//! one-shot BootNext, so the firmware starts what kexec cannot. Layouts from the UEFI spec
//! (3.1.3 Load Options, 10.3 Device Path Nodes).

use std::io::{self, Write};
use std::path::Path;

pub const EFIVARS: &str = "/sys/firmware/efi/efivars";
/// EFI_GLOBAL_VARIABLE.
const GLOBAL: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
/// NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS.
const ATTRIBUTES: u32 = 0x7;
const LOAD_OPTION_ACTIVE: u32 = 0x1;

#[cfg(test)]
fn var_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}-{GLOBAL}"))
}

/// A global variable's data (without efivarfs' 4 attribute bytes).
pub fn read_var(dir: &Path, name: &str) -> Option<Vec<u8>> {
    read_vendor_var(dir, GLOBAL, name)
}

/// Writes a global variable (efivarfs wants attributes and data in one write).
pub fn write_var(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    write_vendor_var(dir, GLOBAL, name, data)
}

/// A variable of vendor `guid` (lower-case text), without the attribute bytes.
pub fn read_vendor_var(dir: &Path, guid: &str, name: &str) -> Option<Vec<u8>> {
    let raw = std::fs::read(dir.join(format!("{name}-{guid}"))).ok()?;
    raw.get(4..).map(<[u8]>::to_vec)
}

/// efivarfs marks the variables it does not know as immutable (chattr +i) so `rm -rf`
/// cannot brick a machine: the flag is cleared before a write or delete. Filesystems
/// without flags (a test directory on tmpfs) need nothing.
fn clear_immutable(path: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    if let Ok(flags) = ioctl_getflags(&file) {
        if flags.contains(IFlags::IMMUTABLE) {
            let _ = ioctl_setflags(&file, flags - IFlags::IMMUTABLE);
        }
    }
}

/// Writes a variable of vendor `guid` (non-volatile, boot and run time access).
pub fn write_vendor_var(dir: &Path, guid: &str, name: &str, data: &[u8]) -> io::Result<()> {
    let path = dir.join(format!("{name}-{guid}"));
    clear_immutable(&path);
    let mut buf = ATTRIBUTES.to_le_bytes().to_vec();
    buf.extend_from_slice(data);
    // No O_TRUNC: efivarfs replaces the whole variable with each write.
    #[allow(clippy::suspicious_open_options)]
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .open(&path)?;
    f.write_all(&buf)
}

/// Deletes a variable of vendor `guid`; a missing one is not an error.
pub fn delete_vendor_var(dir: &Path, guid: &str, name: &str) -> io::Result<()> {
    let path = dir.join(format!("{name}-{guid}"));
    clear_immutable(&path);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// One Boot#### variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOption {
    pub number: u16,
    pub description: String,
    pub device_path: Vec<u8>,
}

/// A NUL-terminated UTF-16LE string, as EFI variables hold text.
pub fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Parses an EFI_LOAD_OPTION; None if malformed.
pub fn parse_load_option(number: u16, data: &[u8]) -> Option<LoadOption> {
    let path_len = u16::from_le_bytes([*data.get(4)?, *data.get(5)?]) as usize;
    let mut units = Vec::new();
    let mut at = 6;
    loop {
        let unit = u16::from_le_bytes([*data.get(at)?, *data.get(at + 1)?]);
        at += 2;
        if unit == 0 {
            break;
        }
        units.push(unit);
    }
    Some(LoadOption {
        number,
        description: String::from_utf16_lossy(&units),
        device_path: data.get(at..at + path_len)?.to_vec(),
    })
}

/// An active EFI_LOAD_OPTION without optional data.
pub fn encode_load_option(description: &str, device_path: &[u8]) -> Vec<u8> {
    let mut out = LOAD_OPTION_ACTIVE.to_le_bytes().to_vec();
    out.extend_from_slice(&(device_path.len() as u16).to_le_bytes());
    out.extend(ucs2(description));
    out.extend_from_slice(device_path);
    out
}

/// A GUID's text as stored on disk (first three fields little-endian).
pub fn guid_bytes(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    Some(b)
}

/// A GUID's text (lower case) from its on-disk bytes: the inverse of `guid_bytes`.
pub fn guid_text(bytes: &[u8; 16]) -> String {
    let mut b = *bytes;
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The partition GUID of the first HD() node with a GPT signature in a device path (what
/// systemd-boot reports as LoaderDevicePartUUID); None without one or when malformed.
pub fn hd_partition_guid(device_path: &[u8]) -> Option<String> {
    let mut at = 0;
    while let Some(node) = device_path.get(at..at + 4) {
        let len = u16::from_le_bytes([node[2], node[3]]) as usize;
        if node[0] == 0x7f || len < 4 {
            return None;
        }
        // MEDIA_DEVICE_PATH / MEDIA_HARDDRIVE_DP, signature type 2 (GUID).
        if node[0] == 4 && node[1] == 1 && len == 42 {
            let hd = device_path.get(at..at + len)?;
            if hd[41] == 2 {
                return Some(guid_text(hd[24..40].try_into().ok()?));
            }
        }
        at += len;
    }
    None
}

/// The attributes of a variable of vendor `guid`, as efivarfs gives them.
pub fn vendor_var_attributes(dir: &Path, guid: &str, name: &str) -> Option<u32> {
    let raw = std::fs::read(dir.join(format!("{name}-{guid}"))).ok()?;
    Some(u32::from_le_bytes(raw.get(..4)?.try_into().ok()?))
}

/// EFI_VARIABLE_NON_VOLATILE: a variable without it was set during this boot.
pub const NON_VOLATILE: u32 = 0x1;

/// HD(partition, GPT, GUID, start, size)/File(path)/End: the short form firmware expands by
/// finding the partition on any disk. `start` and `size` in 512-byte sectors.
pub fn hd_file_device_path(
    partition: u32,
    start: u64,
    size: u64,
    guid: [u8; 16],
    file: &str,
) -> Vec<u8> {
    let mut p = vec![4, 1, 42, 0];
    p.extend_from_slice(&partition.to_le_bytes());
    p.extend_from_slice(&start.to_le_bytes());
    p.extend_from_slice(&size.to_le_bytes());
    p.extend_from_slice(&guid);
    p.extend_from_slice(&[2, 2]); // GPT partition format, GUID signature
    let name = ucs2(&file.replace('/', "\\"));
    p.extend_from_slice(&[4, 4]);
    p.extend_from_slice(&((4 + name.len()) as u16).to_le_bytes());
    p.extend(name);
    p.extend_from_slice(&[0x7f, 0xff, 4, 0]);
    p
}

/// The boot options in BootOrder, in order, skipping unreadable ones.
pub fn boot_options(dir: &Path) -> Vec<LoadOption> {
    let order = read_var(dir, "BootOrder").unwrap_or_default();
    order
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .filter_map(|n| parse_load_option(n, &read_var(dir, &format!("Boot{n:04X}"))?))
        .collect()
}

/// The option that boots `device_path`, created (outside BootOrder) if none does.
pub fn option_for(dir: &Path, description: &str, device_path: &[u8]) -> io::Result<u16> {
    let mut used = Vec::new();
    for n in 0..=0xFFFFu16 {
        match read_var(dir, &format!("Boot{n:04X}")) {
            Some(data) => {
                if parse_load_option(n, &data).is_some_and(|o| o.device_path == device_path) {
                    return Ok(n);
                }
                used.push(n);
            }
            // Options are numbered densely in practice: stop at the first long gap.
            None if n > 0x40 && used.last().is_none_or(|&u| n - u > 0x40) => break,
            None => {}
        }
    }
    let free = (0..=0xFFFFu16)
        .find(|n| !used.contains(n))
        .ok_or_else(|| io::Error::other("no free Boot#### number"))?;
    write_var(
        dir,
        &format!("Boot{free:04X}"),
        &encode_load_option(description, device_path),
    )?;
    Ok(free)
}

/// EFI_OS_INDICATIONS_BOOT_TO_FW_UI.
const BOOT_TO_FW_UI: u64 = 0x1;

fn read_u64(dir: &Path, name: &str) -> Option<u64> {
    let b = read_var(dir, name)?;
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

/// Whether the firmware can be asked to stop in its setup screen on the next start.
pub fn firmware_setup_supported(dir: &Path) -> bool {
    read_u64(dir, "OsIndicationsSupported").is_some_and(|v| v & BOOT_TO_FW_UI != 0)
}

/// Asks the firmware to enter its setup screen on the next start.
pub fn request_firmware_setup(dir: &Path) -> io::Result<()> {
    let current = read_u64(dir, "OsIndications").unwrap_or(0);
    write_var(
        dir,
        "OsIndications",
        &(current | BOOT_TO_FW_UI).to_le_bytes(),
    )
}

/// Boot `number` once, on the next start.
pub fn set_boot_next(dir: &Path, number: u16) -> io::Result<()> {
    write_var(dir, "BootNext", &number.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_options_round_trip_and_device_paths_have_the_spec_layout() {
        let guid = guid_bytes("0fc63daf-8483-4772-8e79-3d69d8477de4").unwrap();
        assert_eq!(&guid[..4], &[0xaf, 0x3d, 0xc6, 0x0f]);
        let path = hd_file_device_path(1, 2048, 4096, guid, "/EFI/test/app.efi");
        assert_eq!(&path[..4], &[4, 1, 42, 0]);
        assert_eq!(path[40..42], [2, 2]);
        assert_eq!(&path[42..44], &[4, 4]);
        assert_eq!(&path[path.len() - 4..], &[0x7f, 0xff, 4, 0]);
        let option = encode_load_option("Test app", &path);
        let back = parse_load_option(7, &option).unwrap();
        assert_eq!(back.description, "Test app");
        assert_eq!(back.device_path, path);
        assert!(parse_load_option(1, &option[..10]).is_none());
        // A firmware option: PciRoot/Pci nodes, then HD(), then File().
        let mut firmware = vec![2, 1, 12, 0, 0xd0, 0x41, 3, 0x0a, 0, 0, 0, 0];
        firmware.extend_from_slice(&[1, 1, 6, 0, 0, 0x1f]);
        firmware.extend_from_slice(&path);
        assert_eq!(
            hd_partition_guid(&firmware).as_deref(),
            Some("0fc63daf-8483-4772-8e79-3d69d8477de4")
        );
        assert_eq!(guid_text(&guid), "0fc63daf-8483-4772-8e79-3d69d8477de4");
        // A whole-disk option (OVMF's own for a removable disk) names no partition.
        assert_eq!(hd_partition_guid(&firmware[..18]), None);
        assert_eq!(
            hd_partition_guid(&[4, 1, 2, 0]),
            None,
            "a short node ends the walk"
        );
    }

    #[test]
    fn options_are_found_or_created_and_boot_next_written() {
        let dir = std::env::temp_dir().join(format!("kboot-efivars-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let shell = encode_load_option("UEFI Shell", &[0x7f, 0xff, 4, 0]);
        write_var(&dir, "Boot0000", &shell).unwrap();
        write_var(&dir, "BootOrder", &[0, 0]).unwrap();
        assert_eq!(boot_options(&dir)[0].description, "UEFI Shell");
        let path = hd_file_device_path(1, 2048, 4096, [7; 16], "\\EFI\\x.efi");
        let n = option_for(&dir, "x", &path).unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            option_for(&dir, "x", &path).unwrap(),
            1,
            "found again, not duplicated"
        );
        set_boot_next(&dir, n).unwrap();
        assert!(!firmware_setup_supported(&dir));
        write_var(&dir, "OsIndicationsSupported", &1u64.to_le_bytes()).unwrap();
        assert!(firmware_setup_supported(&dir));
        request_firmware_setup(&dir).unwrap();
        assert_eq!(read_var(&dir, "OsIndications").unwrap(), 1u64.to_le_bytes());
        assert_eq!(read_var(&dir, "BootNext").unwrap(), vec![1, 0]);
        let raw = std::fs::read(var_path(&dir, "BootNext")).unwrap();
        assert_eq!(&raw[..4], &7u32.to_le_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
