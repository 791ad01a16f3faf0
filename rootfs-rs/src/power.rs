//! reboot and poweroff: sync, unmount what can be unmounted (read-only remount where
//! busy) so no filesystem is left dirty, then reboot(2).

use std::ffi::OsString;

use rustix::mount::{mount_remount, unmount, MountFlags, UnmountFlags};
use rustix::system::{reboot, RebootCommand};

pub fn poweroff_main(_args: &[OsString]) -> i32 {
    power_action(RebootCommand::PowerOff, "poweroff")
}

pub fn reboot_main(_args: &[OsString]) -> i32 {
    power_action(RebootCommand::Restart, "reboot")
}

fn power_action(command: RebootCommand, name: &str) -> i32 {
    quiesce_filesystems();
    match reboot(command) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("{name}: {err}");
            1
        }
    }
}

/// Pseudo filesystems hold no data; everything else is unmounted deepest first.
pub fn quiesce_filesystems() {
    rustix::fs::sync();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let pseudo = [
        "proc", "sysfs", "devtmpfs", "tmpfs", "devpts", "efivarfs", "rootfs", "ramfs",
    ];
    let mut targets: Vec<(String, String)> = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_src, target, fstype) = (f.next()?, f.next()?, f.next()?);
            Some((unescape_mount_path(target), fstype.to_string()))
        })
        .filter(|(_, fstype)| !pseudo.contains(&fstype.as_str()))
        .collect();
    targets.reverse();
    for (target, _) in targets {
        if unmount(target.as_str(), UnmountFlags::empty()).is_err() {
            let _ = mount_remount(target.as_str(), MountFlags::RDONLY, "");
        }
    }
    rustix::fs::sync();
}

/// /proc/mounts escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(
            super::unescape_mount_path(r"/mnt/my\040disk"),
            "/mnt/my disk"
        );
        assert_eq!(super::unescape_mount_path(r"/a\\b\0"), r"/a\\b\0");
    }
}
