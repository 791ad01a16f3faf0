//! A filesystem named by `LABEL=`, `UUID=` or a device path (the capture target, `root=` of
//! a kernel command line, `LABEL=x:/path` path names), found by probing every block device
//! read-only; mounted read-write only when the caller asks.

use crate::blockdev::devices::list_block_devices;
use crate::blockdev::fstype::{probe_file, FsInfo};
use crate::blockdev::mounts::Mounted;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Label(String),
    Uuid(String),
    Device(PathBuf),
}

impl std::fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetSpec::Label(l) => write!(f, "LABEL={l}"),
            TargetSpec::Uuid(u) => write!(f, "UUID={u}"),
            TargetSpec::Device(d) => write!(f, "{}", d.display()),
        }
    }
}

impl TargetSpec {
    /// A capture target, `root=` or path-name filesystem: `LABEL=`/`UUID=` (UUIDs kept in
    /// lower case) or a `/dev/` path, after dropping blanks and quotes around the whole text.
    pub fn parse(text: &str) -> Option<TargetSpec> {
        let text = text.trim().trim_matches('"');
        match TargetSpec::parse_tag(text) {
            Some(TargetSpec::Uuid(uuid)) => Some(TargetSpec::Uuid(uuid.to_ascii_lowercase())),
            Some(tag) => Some(tag),
            None if text.starts_with("/dev/") => Some(TargetSpec::Device(PathBuf::from(text))),
            None => None,
        }
    }

    /// The one reader of the tag syntax, for `parse` and blkid's fstab-style `resolve_tag`:
    /// `LABEL=value` or `UUID=value`, tag names in upper case as fstab and the kernel spell
    /// them, the value as written (each caller trims it its own way). PARTUUID= and
    /// PARTLABEL= name partitions, not filesystems, and are not tags here.
    pub fn parse_tag(text: &str) -> Option<TargetSpec> {
        match text.split_once('=')? {
            ("LABEL", value) => Some(TargetSpec::Label(value.to_string())),
            ("UUID", value) => Some(TargetSpec::Uuid(value.to_string())),
            _ => None,
        }
    }

    fn matches(&self, node: &Path, fs: &FsInfo) -> bool {
        match self {
            TargetSpec::Device(d) => d == node,
            _ => self.matches_tags(fs.label.as_deref(), fs.uuid.as_deref()),
        }
    }

    /// The one rule for `LABEL=`/`UUID=` (here and blkid's fstab-style `resolve_tag`):
    /// UUIDs compare without case (blkid prints FAT serials in upper case), labels exactly.
    /// A device path matches no tags.
    pub fn matches_tags(&self, label: Option<&str>, uuid: Option<&str>) -> bool {
        match self {
            TargetSpec::Label(l) => label == Some(l.as_str()),
            TargetSpec::Uuid(u) => uuid.is_some_and(|x| x.eq_ignore_ascii_case(u)),
            TargetSpec::Device(_) => false,
        }
    }
}

/// `root=` of a kernel command line as a target (PARTUUID= and the like are not
/// filesystem identities and give None).
pub fn root_from_cmdline(cmdline: &str) -> Option<TargetSpec> {
    crate::cmdline::split_kernel_cmdline(cmdline)
        .iter()
        .filter_map(|w| w.strip_prefix("root="))
        .last()
        .and_then(TargetSpec::parse)
}

/// A filesystem found for a spec.
#[derive(Debug, Clone)]
pub struct Found {
    pub node: PathBuf,
    pub fs: FsInfo,
}

/// Probes the block devices under `sys_block` for the first filesystem `spec` names.
pub fn find(spec: &TargetSpec, sys_block: &Path, dev_dir: &Path) -> Option<Found> {
    let (devices, _) = list_block_devices(sys_block, dev_dir);
    devices.into_iter().find_map(|d| {
        let file = std::fs::File::open(&d.node).ok()?;
        let fs = probe_file(&file, 0, d.size_bytes).ok()??;
        spec.matches(&d.node, &fs)
            .then_some(Found { node: d.node, fs })
    })
}

/// Mounts the target read-write (no exec, no devices) on `at`, until the guard goes.
pub fn mount_writable(found: &Found, at: &Path) -> Result<Mounted, String> {
    Mounted::writable(&found.node, at, found.fs.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_root_arguments_parse() {
        assert_eq!(
            TargetSpec::parse("LABEL=KBOOT-DUMP"),
            Some(TargetSpec::Label("KBOOT-DUMP".into()))
        );
        assert_eq!(
            TargetSpec::parse("UUID=ABCD-1234"),
            Some(TargetSpec::Uuid("abcd-1234".into()))
        );
        assert_eq!(
            TargetSpec::parse("/dev/vdb1"),
            Some(TargetSpec::Device("/dev/vdb1".into()))
        );
        assert_eq!(TargetSpec::parse("vdb1"), None);
        assert_eq!(
            root_from_cmdline("BOOT_IMAGE=/vmlinuz root=UUID=1f2e ro quiet"),
            Some(TargetSpec::Uuid("1f2e".into()))
        );
        assert_eq!(root_from_cmdline("root=PARTUUID=1234-01 ro"), None);
        assert_eq!(root_from_cmdline("quiet"), None);
    }

    #[test]
    fn one_tag_reader_two_trimmings() {
        assert_eq!(
            TargetSpec::parse_tag("LABEL=\"my disk\""),
            Some(TargetSpec::Label("\"my disk\"".into()))
        );
        assert_eq!(TargetSpec::parse_tag("label=x"), None);
        assert_eq!(TargetSpec::parse_tag("PARTUUID=1234-01"), None);
        // parse trims quotes around the whole text, so one is left inside the label.
        assert_eq!(
            TargetSpec::parse("LABEL=\"my disk\""),
            Some(TargetSpec::Label("\"my disk".into()))
        );
    }
}
