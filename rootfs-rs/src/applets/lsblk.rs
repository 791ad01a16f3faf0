//! lsblk: block devices and partitions from /sys/block as a tree (NAME MAJ:MIN RM SIZE RO TYPE
//! MOUNTPOINTS); -f shows FSTYPE LABEL UUID from blkid's probes instead.
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use crate::blockdev::devices::natural_order;
use crate::blockdev::mounts::MountLine;
use crate::blockdev::probe::{probe_path, Probe};
use crate::util::fmt::human;
use crate::util::table::{table, Align};
use crate::util::{finish, Parser};

const USAGE: &str = "usage: lsblk [-f] [-b]\nList block devices.";

fn read_trim(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

struct Device {
    name: String,
    sys: std::path::PathBuf,
    is_partition: bool,
}

fn devices() -> Vec<(Device, Vec<Device>)> {
    let mut disks: Vec<String> = match std::fs::read_dir("/sys/block") {
        Ok(d) => d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    disks.sort();
    disks
        .into_iter()
        .map(|name| {
            let sys = Path::new("/sys/block").join(&name);
            let mut parts: Vec<Device> = match std::fs::read_dir(&sys) {
                Ok(d) => d
                    .flatten()
                    .filter(|e| e.path().join("partition").exists())
                    .map(|e| Device {
                        name: e.file_name().to_string_lossy().into_owned(),
                        sys: e.path(),
                        is_partition: true,
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            parts.sort_by(|a, b| natural_order(&a.name, &b.name));
            (
                Device {
                    name,
                    sys,
                    is_partition: false,
                },
                parts,
            )
        })
        .collect()
}

pub fn main(args: &[OsString]) -> i32 {
    let (mut fs_mode, mut bytes) = (false, false);
    let ops = match Parser::new("lsblk", USAGE, args).parse(|p, c| {
        match c {
            'f' => fs_mode = true,
            'b' => bytes = true,
            'a' | 'p' => {}
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if !ops.is_empty() {
        return Parser::usage_error("lsblk", USAGE, "listing single devices is not supported", 1);
    }
    let mounts = crate::blockdev::mounts::read_mounts();
    let header: &[&str] = if fs_mode {
        &["NAME", "FSTYPE", "LABEL", "UUID", "MOUNTPOINTS"]
    } else {
        &["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINTS"]
    };
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (disk, parts) in devices() {
        let count = parts.len();
        rows.push(row(&disk, String::new(), &mounts, fs_mode, bytes));
        for (i, part) in parts.iter().enumerate() {
            let prefix = if i + 1 == count { "└─" } else { "├─" };
            rows.push(row(part, prefix.to_string(), &mounts, fs_mode, bytes));
        }
    }
    // Numbers right-aligned like lsblk; text left-aligned.
    let lines = table(&rows, |c| {
        if !fs_mode && matches!(c, 1..=4) {
            Align::Right
        } else {
            Align::Left
        }
    });
    let mut out = crate::util::stdout();
    let result = (|| -> std::io::Result<()> {
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        out.flush()
    })();
    finish("lsblk", result.map(|_| 0))
}

/// One device's row: its name under the tree `prefix`, then the -f or the default columns.
fn row(
    d: &Device,
    prefix: String,
    mounts: &[MountLine],
    fs_mode: bool,
    bytes: bool,
) -> Vec<String> {
    let dev_path = format!("/dev/{}", d.name);
    let mountpoints: Vec<String> = mounts
        .iter()
        .filter(|m| m.source == dev_path)
        .map(|m| m.target.to_string_lossy().into_owned())
        .collect();
    let name = format!("{prefix}{}", d.name);
    if fs_mode {
        let probe = probe_path(Path::new(&dev_path)).ok().flatten();
        let get = |f: fn(&Probe) -> Option<String>| probe.as_ref().and_then(f).unwrap_or_default();
        return vec![
            name,
            get(|p| Some(p.fs_type.to_string())),
            get(|p| p.label.clone()),
            get(|p| p.uuid.clone()),
            mountpoints.join(","),
        ];
    }
    let sectors: u64 = read_trim(&d.sys.join("size")).parse().unwrap_or(0);
    let size = if bytes {
        (sectors * 512).to_string()
    } else {
        human(sectors * 512)
    };
    let removable = if d.is_partition {
        read_trim(&d.sys.join("../removable"))
    } else {
        read_trim(&d.sys.join("removable"))
    };
    let kind = if d.is_partition {
        "part"
    } else if d.name.starts_with("loop") {
        "loop"
    } else if d.name.starts_with("sr") {
        "rom"
    } else {
        "disk"
    };
    vec![
        name,
        read_trim(&d.sys.join("dev")),
        removable,
        size,
        read_trim(&d.sys.join("ro")),
        kind.into(),
        mountpoints.join(","),
    ]
}
