//! blkid: print TYPE, LABEL and UUID of block devices or image files (-o full|export|value, -s TAG).
pub mod probe;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::util::{finish, Parser};
pub use probe::{probe_bytes, probe_path, Probe};

const USAGE: &str = "usage: blkid [-o full|export|value] [-s TAG]... [DEVICE...]\nLocate/print block device attributes (all devices in /sys/class/block if none given).";

/// Every block device the kernel knows, as /dev paths, in /sys order.
pub fn all_block_devices() -> Vec<PathBuf> {
    let mut names: Vec<String> = match std::fs::read_dir("/sys/class/block") {
        Ok(d) => d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
        .into_iter()
        .map(|n| Path::new("/dev").join(n))
        .filter(|p| p.exists())
        .collect()
}

/// Resolve `UUID=…`/`LABEL=…` (as in fstab) to the first of `devices` carrying that tag;
/// any other text is returned unchanged.
pub fn resolve_tag(spec: &str, devices: &[PathBuf]) -> Option<PathBuf> {
    let (want_uuid, value) = match spec.split_once('=') {
        Some(("UUID", v)) => (true, v.trim_matches('"')),
        Some(("LABEL", v)) => (false, v.trim_matches('"')),
        _ => return Some(PathBuf::from(spec)),
    };
    devices.iter().find_map(|dev| {
        let p = probe_path(dev).ok().flatten()?;
        let tag = if want_uuid { p.uuid } else { p.label };
        // UUIDs compare without case (blkid prints FAT serials in upper case); labels exactly.
        let matches = |t: &String| {
            if want_uuid {
                t.eq_ignore_ascii_case(value)
            } else {
                t == value
            }
        };
        tag.filter(matches).map(|_| dev.clone())
    })
}

/// (TAG, value) pairs in blkid's order.
pub fn tags(p: &Probe) -> Vec<(&'static str, String)> {
    let mut t = Vec::new();
    if let Some(l) = &p.label {
        t.push(("LABEL", l.clone()));
    }
    if let Some(u) = &p.uuid {
        t.push(("UUID", u.clone()));
    }
    if let Some(b) = p.block_size {
        t.push(("BLOCK_SIZE", b.to_string()));
    }
    t.push(("TYPE", p.fs_type.to_string()));
    if let Some(s) = p.sec_type {
        t.push(("SEC_TYPE", s.to_string()));
    }
    t
}

pub fn main(args: &[OsString]) -> i32 {
    let mut format = "full".to_string();
    let mut only: Vec<String> = Vec::new();
    let devices = match Parser::new("blkid", USAGE, args).code(2).parse(|p, c| {
        match c {
            'o' => format = p.value()?,
            's' => only.push(p.value()?),
            'c' | 'p' | 'g' => {
                if c == 'c' {
                    p.value()?;
                }
            }
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if !["full", "export", "value"].contains(&format.as_str()) {
        crate::warn!("blkid: unsupported output format {format}");
        return 2;
    }
    let explicit = !devices.is_empty();
    let devices: Vec<PathBuf> = if explicit {
        devices.into_iter().map(PathBuf::from).collect()
    } else {
        all_block_devices()
    };
    let mut out = crate::util::stdout();
    let mut found = false;
    let result = (|| -> std::io::Result<()> {
        for dev in &devices {
            let probe = match probe_path(dev) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    if explicit {
                        out.flush()?;
                        crate::util::warn_err("blkid", dev.display(), &e);
                    }
                    continue;
                }
            };
            found = true;
            let tags: Vec<(&str, String)> = tags(&probe)
                .into_iter()
                .filter(|(k, _)| only.is_empty() || only.iter().any(|o| o == k))
                .collect();
            match format.as_str() {
                "export" => {
                    writeln!(out, "DEVNAME={}", dev.display())?;
                    for (k, v) in &tags {
                        writeln!(out, "{k}={v}")?;
                    }
                    writeln!(out)?;
                }
                "value" => {
                    for (_, v) in &tags {
                        writeln!(out, "{v}")?;
                    }
                }
                _ => {
                    let fields: Vec<String> =
                        tags.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                    writeln!(out, "{}: {}", dev.display(), fields.join(" "))?;
                }
            }
        }
        out.flush()
    })();
    finish("blkid", result.map(|_| if found { 0 } else { 2 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_resolve_to_the_device_that_carries_them() {
        let dir = std::env::temp_dir().join(format!("kboot-blkid-tag-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut image = vec![0u8; probe::PROBE_BYTES];
        image[1024 + 0x38] = 0x53;
        image[1024 + 0x39] = 0xEF;
        image[1024 + 0x68..1024 + 0x78].copy_from_slice(&[0xab; 16]);
        image[1024 + 0x78..1024 + 0x7c].copy_from_slice(b"boot");
        let blank = dir.join("blank");
        let disk = dir.join("disk");
        let _ = std::fs::write(&blank, vec![0u8; 4096]);
        let _ = std::fs::write(&disk, &image);
        let devices = vec![blank.clone(), disk.clone()];
        assert_eq!(resolve_tag("LABEL=boot", &devices), Some(disk.clone()));
        assert_eq!(
            resolve_tag("UUID=ABABABAB-ABAB-ABAB-ABAB-ABABABABABAB", &devices),
            Some(disk.clone())
        );
        assert_eq!(resolve_tag("LABEL=Boot", &devices), None);
        assert_eq!(
            resolve_tag("/dev/sda1", &devices),
            Some(PathBuf::from("/dev/sda1"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
