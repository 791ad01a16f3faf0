//! Resolves each entry's filesystem reference (UUID, label, GRUB or Linux device name) across
//! all scanned filesystems, so a kernel on a separate /boot is loaded from the right one.

use std::collections::HashSet;
use std::path::Path;

use crate::boot::entry::{BootEntry, BootKey, FsRef};
use crate::boot::fs::{ConfigFs, DirFs};
use crate::boot::scan::volume::{DiscoveredEntry, Discovery, ScannedVolume, Volume};

/// Turns per-filesystem parse results into the menu's entries; `warnings` come first.
pub fn resolve(scanned: Vec<ScannedVolume>, mut warnings: Vec<String>) -> Discovery {
    let mut out = Discovery::default();
    // The same entry placed on the same device (found through two configs) is listed once.
    let mut listed: HashSet<(String, BootKey)> = HashSet::new();
    let volumes: Vec<&Volume> = scanned.iter().map(|s| &s.volume).collect();
    for (index, source) in scanned.iter().enumerate() {
        let device = &source.volume.device;
        warnings.extend(
            source
                .parsed
                .warnings
                .iter()
                .map(|w| format!("{device}: {w}")),
        );
        let before = out.entries.len();
        for entry in &source.parsed.entries {
            match place_entry(entry, index, &scanned, &volumes, &mut warnings) {
                Ok(found) => {
                    if listed.insert((found.device.clone(), found.entry.boot_key())) {
                        out.entries.push(found);
                    }
                }
                Err(problem) => warnings.push(format!("{device}: '{}': {problem}", entry.label)),
            }
        }
        if out.entries.len() > before && out.timeout_secs.is_none() {
            out.timeout_secs = source.parsed.timeout_secs;
        }
    }
    out.warnings = warnings;
    out
}

fn place_entry(
    entry: &BootEntry,
    config_index: usize,
    scanned: &[ScannedVolume],
    volumes: &[&Volume],
    warnings: &mut Vec<String>,
) -> Result<DiscoveredEntry, String> {
    let config = &scanned[config_index];
    let target = match (&entry.kind, &entry.root_fs) {
        (kind, Some(fsref)) if kind.is_kexec() => {
            let at = find_volume(fsref, &config.volume, volumes).ok_or_else(|| {
                format!(
                    "filesystem {} not found on any disk; entry dropped",
                    describe(fsref)
                )
            })?;
            &scanned[at]
        }
        _ => config,
    };
    if entry.kind.is_kexec() && !entry.kernel_is_url() {
        let fs = DirFs::new(&target.root);
        if !fs.is_file(&entry.kernel) {
            return Err(format!(
                "kernel {} not found on {}; entry dropped",
                entry.kernel.display(),
                target.volume.device
            ));
        }
        // Kept like discover() keeps it: loading then names the missing file.
        for missing in entry.initrds.iter().filter(|i| !fs.is_file(i)) {
            warnings.push(format!(
                "{}: '{}': initrd {} not found on {}",
                config.volume.device,
                entry.label,
                missing.display(),
                target.volume.device
            ));
        }
    }
    Ok(DiscoveredEntry {
        entry: entry.clone(),
        device: target.volume.device.clone(),
        fs_uuid: target.volume.fs.uuid.clone(),
        fs_label: target.volume.fs.label.clone(),
        mount_point: target.root.clone(),
        config_device: config.volume.device.clone(),
    })
}

fn describe(fsref: &FsRef) -> String {
    match fsref {
        FsRef::Uuid(u) => format!("UUID={u}"),
        FsRef::Label(l) => format!("LABEL={l}"),
        FsRef::Device(d) => format!("({d})"),
    }
}

/// Index of the volume `fsref` names. Among clones with the same UUID or label the one on
/// the config's own disk wins.
pub fn find_volume(fsref: &FsRef, config: &Volume, volumes: &[&Volume]) -> Option<usize> {
    let matches: Vec<usize> = volumes
        .iter()
        .enumerate()
        .filter(|(_, v)| match fsref {
            FsRef::Uuid(u) => {
                v.fs.uuid
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(u))
            }
            FsRef::Label(l) => v.fs.label.as_deref() == Some(l.as_str()),
            FsRef::Device(d) => names_device(d, v),
        })
        .map(|(i, _)| i)
        .collect();
    matches
        .iter()
        .copied()
        .find(|&i| volumes[i].disk_index == config.disk_index)
        .or_else(|| matches.first().copied())
}

/// Whether a device name from a config means `volume`: the kernel name itself ("vda2",
/// "/dev/vda2"), GRUB's "hd0,gpt2" / "hd0,msdos2" / "hd0,2" / "hd0", or an old-style name
/// whose letter counts disks ("hda2" is the first disk's second partition).
fn names_device(name: &str, volume: &Volume) -> bool {
    let name = name.trim_start_matches('(').trim_end_matches(')');
    let name = name.strip_prefix("/dev/").unwrap_or(name);
    if name == volume.device {
        return true;
    }
    match parse_disk_partition(name) {
        Some((disk, partition)) => disk == volume.disk_index && partition == volume.partition,
        None => false,
    }
}

fn parse_disk_partition(name: &str) -> Option<(usize, Option<u32>)> {
    if let Some(rest) = name
        .strip_prefix("hd")
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    {
        let (disk, part) = match rest.split_once(',') {
            Some((d, p)) => (
                d,
                Some(p.trim_start_matches(|c: char| c.is_ascii_alphabetic())),
            ),
            None => (rest, None),
        };
        let partition = match part {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        return Some((disk.parse().ok()?, partition));
    }
    let rest = ["xvd", "hd", "sd", "vd"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))?;
    let mut chars = rest.chars();
    let letter = chars.next().filter(char::is_ascii_lowercase)?;
    let digits = chars.as_str();
    let partition = if digits.is_empty() {
        None
    } else {
        Some(digits.parse().ok()?)
    };
    Some((usize::from(letter as u8 - b'a'), partition))
}

/// Where `entry`'s kernel file is on the host (inside its mount point, symlinks resolved).
pub fn kernel_host_path(
    entry: &DiscoveredEntry,
    path: &Path,
) -> std::io::Result<std::path::PathBuf> {
    DirFs::new(&entry.mount_point).host_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blockdev::fstype::FsInfo;
    use crate::blockdev::fstype::FsKind;

    fn volume(device: &str, disk: usize, partition: Option<u32>, uuid: &str) -> Volume {
        Volume {
            device: device.to_string(),
            disk_index: disk,
            partition,
            fs: FsInfo {
                kind: FsKind::Ext4,
                uuid: Some(uuid.to_string()),
                label: Some(format!("L{device}")),
            },
        }
    }

    #[test]
    fn device_names_of_all_styles() {
        let vdb1 = volume("vdb1", 1, Some(1), "u");
        for name in [
            "vdb1",
            "/dev/vdb1",
            "(hd1,gpt1)",
            "hd1,msdos1",
            "hd1,1",
            "hdb1",
            "sdb1",
        ] {
            assert!(names_device(name, &vdb1), "{name}");
        }
        for name in ["hd0,gpt1", "hd1", "vdb2", "hd1,gptx", "vd", "hdz"] {
            assert!(!names_device(name, &vdb1), "{name}");
        }
        let whole = volume("sr0", 2, None, "u");
        assert!(names_device("hd2", &whole));
    }

    #[test]
    fn uuid_clone_on_own_disk_wins() {
        let a = volume("vda2", 0, Some(2), "ABCD");
        let b = volume("vdb2", 1, Some(2), "abcd");
        let volumes = [&a, &b];
        let fsref = FsRef::Uuid("abcd".into());
        assert_eq!(find_volume(&fsref, &b, &volumes), Some(1));
        assert_eq!(find_volume(&fsref, &a, &volumes), Some(0));
        assert_eq!(
            find_volume(&FsRef::Label("Lvdb2".into()), &a, &volumes),
            Some(1)
        );
        assert_eq!(find_volume(&FsRef::Uuid("nope".into()), &a, &volumes), None);
    }
}
