//! fstab-style tags: `LABEL=`/`UUID=` resolved to the device carrying them, and the tags
//! blkid prints for a probe.

use std::path::PathBuf;

use crate::blockdev::probe::{probe_path, Probe};
use crate::blockdev::spec::TargetSpec;

/// Resolve `UUID=…`/`LABEL=…` (as in fstab) to the first of `devices` carrying that tag;
/// any other text is returned unchanged.
pub fn resolve_tag(spec: &str, devices: &[PathBuf]) -> Option<PathBuf> {
    // Unlike `TargetSpec::parse`, only the value's quotes go (`LABEL="my disk"`), and text
    // with blanks or quotes before the tag is a path: fstab's and blkid's reading.
    let wanted = match TargetSpec::parse_tag(spec) {
        Some(TargetSpec::Uuid(v)) => TargetSpec::Uuid(v.trim_matches('"').to_string()),
        Some(TargetSpec::Label(v)) => TargetSpec::Label(v.trim_matches('"').to_string()),
        _ => return Some(PathBuf::from(spec)),
    };
    devices.iter().find_map(|dev| {
        let p = probe_path(dev).ok().flatten()?;
        wanted
            .matches_tags(p.label.as_deref(), p.uuid.as_deref())
            .then(|| dev.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blockdev::probe;

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
