//! lsblk: block devices and partitions from /sys/block as a tree (NAME MAJ:MIN RM SIZE RO TYPE
//! MOUNTPOINTS); -f shows FSTYPE LABEL UUID from blkid's probes instead.
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use crate::util::fmt::human;
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
            parts.sort_by_key(|p| natural_key(&p.name));
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

/// sda2 before sda10.
fn natural_key(name: &str) -> (String, u64) {
    let digits = name.len()
        - name
            .bytes()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
    (
        name[..digits].to_string(),
        name[digits..].parse().unwrap_or(0),
    )
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
    let mut rows: Vec<Vec<String>> = Vec::new();
    rows.push(if fs_mode {
        ["NAME", "FSTYPE", "LABEL", "UUID", "MOUNTPOINTS"]
            .map(String::from)
            .to_vec()
    } else {
        ["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINTS"]
            .map(String::from)
            .to_vec()
    });
    for (disk, parts) in devices() {
        let count = parts.len();
        let all = std::iter::once((String::new(), disk)).chain(parts.into_iter().enumerate().map(
            |(i, p)| {
                (
                    if i + 1 == count {
                        "└─".to_string()
                    } else {
                        "├─".to_string()
                    },
                    p,
                )
            },
        ));
        for (prefix, d) in all {
            let dev_path = format!("/dev/{}", d.name);
            let mountpoints: Vec<String> = mounts
                .iter()
                .filter(|m| m.source == dev_path)
                .map(|m| m.target.to_string_lossy().into_owned())
                .collect();
            let name = format!("{prefix}{}", d.name);
            if fs_mode {
                let probe = crate::blockdev::probe::probe_path(Path::new(&dev_path))
                    .ok()
                    .flatten();
                let get = |f: fn(&crate::blockdev::probe::Probe) -> Option<String>| {
                    probe.as_ref().and_then(f).unwrap_or_default()
                };
                rows.push(vec![
                    name,
                    get(|p| Some(p.fs_type.to_string())),
                    get(|p| p.label.clone()),
                    get(|p| p.uuid.clone()),
                    mountpoints.join(","),
                ]);
                continue;
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
            rows.push(vec![
                name,
                read_trim(&d.sys.join("dev")),
                removable,
                size,
                read_trim(&d.sys.join("ro")),
                kind.into(),
                mountpoints.join(","),
            ]);
        }
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = crate::util::stdout();
    let result = (|| -> std::io::Result<()> {
        for r in &rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                let pad = widths[c] - cell.chars().count();
                // Numbers right-aligned like lsblk; text left-aligned.
                let right = !fs_mode && matches!(c, 1..=4);
                if c > 0 {
                    line.push(' ');
                }
                if right {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if c + 1 < cols {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        out.flush()
    })();
    finish("lsblk", result.map(|_| 0))
}
