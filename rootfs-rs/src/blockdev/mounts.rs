//! Read-only mounts of scanned filesystems (no journal or log replay) and the unmount-all
//! that precedes a kexec reboot.

use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};

use crate::blockdev::fstype::FsKind;

/// (filesystem type, mount data) tried in order. The data options keep a read-only mount from
/// writing: ext3/4 `noload` skips journal replay, xfs `norecovery` skips log recovery, btrfs
/// `nologreplay` skips the log tree (`rescue=` spelling since 5.9, bare before).
pub fn mount_attempts(kind: FsKind) -> &'static [(&'static str, Option<&'static str>)] {
    match kind {
        FsKind::Ext2 => &[("ext2", None), ("ext4", Some("noload"))],
        FsKind::Ext3 => &[("ext3", Some("noload")), ("ext4", Some("noload"))],
        FsKind::Ext4 => &[("ext4", Some("noload"))],
        FsKind::Vfat => &[("vfat", None)],
        FsKind::Xfs => &[("xfs", Some("norecovery"))],
        FsKind::Btrfs => &[
            ("btrfs", Some("rescue=nologreplay")),
            ("btrfs", Some("nologreplay")),
        ],
        FsKind::Iso9660 => &[("iso9660", None)],
    }
}

fn readonly_flags() -> MountFlags {
    MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC
}

/// Mounts `node` read-only on `target` (created if missing).
pub fn mount_readonly(node: &Path, target: &Path, kind: FsKind) -> Result<(), String> {
    std::fs::create_dir_all(target).map_err(|e| format!("mkdir {}: {e}", target.display()))?;
    let mut errors = Vec::new();
    for (fstype, data) in mount_attempts(kind) {
        let data = data.map(|d| std::ffi::CString::new(d).unwrap_or_default());
        match rustix::mount::mount(node, target, *fstype, readonly_flags(), data.as_deref()) {
            Ok(()) => return Ok(()),
            Err(errno) => errors.push(format!("{fstype}: {}", mount_error(errno))),
        }
    }
    let _ = std::fs::remove_dir(target);
    Err(format!(
        "cannot mount {} read-only ({})",
        node.display(),
        errors.join("; ")
    ))
}

fn mount_error(errno: Errno) -> String {
    match errno {
        Errno::NODEV => "filesystem type not supported by this kernel".to_string(),
        Errno::PERM | Errno::ACCESS => "permission denied (not root?)".to_string(),
        Errno::INVAL => "bad superblock or unsupported mount option".to_string(),
        other => std::io::Error::from(other).to_string(),
    }
}

/// Mounts `node` read-write (no exec, no devices) on `target`: only for the few writes kboot
/// makes on purpose (a dump, a grubenv), and only for as long as they take.
pub fn mount_writable(node: &Path, target: &Path, kind: FsKind) -> Result<(), String> {
    std::fs::create_dir_all(target).map_err(|e| format!("mkdir {}: {e}", target.display()))?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let mut errors = Vec::new();
    let mut tried = Vec::new();
    for (fstype, _) in mount_attempts(kind) {
        if tried.contains(fstype) {
            continue;
        }
        tried.push(*fstype);
        match rustix::mount::mount(node, target, *fstype, flags, None) {
            Ok(()) => return Ok(()),
            Err(errno) => errors.push(format!("{fstype}: {}", mount_error(errno))),
        }
    }
    Err(format!(
        "cannot mount {} read-write ({})",
        node.display(),
        errors.join("; ")
    ))
}

/// A mount that is undone when the guard is dropped (u-root's mount.MountPoint idea): no
/// early return of the code using it can leave a filesystem mounted. `unmount` ends it
/// when the caller wants the error; `keep` hands the mount point to a longer-lived owner.
#[derive(Debug)]
pub struct Mounted {
    at: Option<PathBuf>,
}

impl Mounted {
    /// `mount_readonly`, as a guard.
    pub fn read_only(node: &Path, at: &Path, kind: FsKind) -> Result<Mounted, String> {
        mount_readonly(node, at, kind)?;
        Ok(Mounted {
            at: Some(at.to_path_buf()),
        })
    }

    /// `mount_writable`, as a guard.
    pub fn writable(node: &Path, at: &Path, kind: FsKind) -> Result<Mounted, String> {
        mount_writable(node, at, kind)?;
        Ok(Mounted {
            at: Some(at.to_path_buf()),
        })
    }

    /// Guards a mount made elsewhere (a network filesystem: `net::nfs::mount`).
    pub fn adopt(at: &Path) -> Mounted {
        Mounted {
            at: Some(at.to_path_buf()),
        }
    }

    /// Unmounts now (see `unmount`), returning what went wrong.
    pub fn unmount(mut self) -> Result<(), String> {
        match self.at.take() {
            Some(at) => unmount(&at),
            None => Ok(()),
        }
    }

    /// Leaves the filesystem mounted; the caller now owns the mount point.
    pub fn keep(mut self) -> PathBuf {
        self.at.take().unwrap_or_default()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(at) = self.at.take() {
            let _ = unmount(&at);
        }
    }
}

/// Unmounts `target` and removes the empty mount point; a busy mount is detached lazily so
/// the name is free again. A mount point that is gone was unmounted already (by someone
/// who needed the device, e.g. the GRUB hand-back): nothing to do.
pub fn unmount(target: &Path) -> Result<(), String> {
    let result = match rustix::mount::unmount(target, UnmountFlags::empty()) {
        Err(Errno::BUSY) => rustix::mount::unmount(target, UnmountFlags::DETACH),
        Err(Errno::NOENT) => return Ok(()),
        other => other,
    };
    result.map_err(|e| format!("umount {}: {}", target.display(), std::io::Error::from(e)))?;
    let _ = std::fs::remove_dir(target);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountLine {
    pub source: String,
    pub target: PathBuf,
    pub fstype: String,
    /// Mount options as the kernel lists them ("rw,relatime").
    pub options: String,
}

/// The mounts of this process, innermost last: the one reader of /proc/self/mounts (an
/// unreadable file is no mounts).
pub fn read_mounts() -> Vec<MountLine> {
    parse_mounts(&std::fs::read_to_string("/proc/self/mounts").unwrap_or_default())
}

/// Parses /proc/self/mounts (fields separated by blanks, octal escapes such as `\040`).
pub fn parse_mounts(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let source = unescape_octal(fields.next()?);
            let target = unescape_octal(fields.next()?);
            let fstype = fields.next()?.to_string();
            let options = fields.next().unwrap_or_default().to_string();
            Some(MountLine {
                source,
                target: PathBuf::from(target),
                fstype,
                options,
            })
        })
        .collect()
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        match digits {
            Some(d) if bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) => {
                let value = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Before kexec: every block-device filesystem is unmounted, innermost first; one that is
/// busy (or the root) is remounted read-only instead so nothing is left dirty. Returns the
/// problems, which do not stop the reboot.
pub fn release_block_mounts(mounts: &[MountLine]) -> Vec<String> {
    let mut problems = Vec::new();
    for line in mounts.iter().rev() {
        if !line.source.starts_with("/dev/") {
            continue;
        }
        if line.target != Path::new("/")
            && rustix::mount::unmount(&line.target, UnmountFlags::empty()).is_ok()
        {
            continue;
        }
        if let Err(errno) = rustix::mount::mount_remount(&line.target, MountFlags::RDONLY, "") {
            problems.push(format!(
                "{} on {}: neither unmounted nor remounted read-only: {}",
                line.source,
                line.target.display(),
                std::io::Error::from(errno)
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_with_escapes() {
        let text = "/dev/vda2 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n/dev/vdb1 /run/kboot/mnt/my\\040disk vfat ro 0 0\n";
        let mounts = parse_mounts(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[2].target, PathBuf::from("/run/kboot/mnt/my disk"));
        assert_eq!(mounts[2].fstype, "vfat");
        assert_eq!(mounts[0].source, "/dev/vda2");
        assert_eq!(unescape_octal("a\\134b\\"), "a\\b\\");
    }

    #[test]
    fn journal_replay_is_always_disabled() {
        for kind in [FsKind::Ext3, FsKind::Ext4] {
            assert!(mount_attempts(kind)
                .iter()
                .all(|(_, data)| *data == Some("noload")));
        }
        assert_eq!(mount_attempts(FsKind::Xfs), &[("xfs", Some("norecovery"))]);
    }
}
