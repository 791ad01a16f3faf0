//! blkid: print TYPE, LABEL and UUID of block devices or image files (-o full|export|value, -s TAG).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::blockdev::devices::all_block_devices;
use crate::blockdev::probe::probe_path;
use crate::blockdev::tags::tags;
use crate::util::{finish, Parser};

const USAGE: &str = "usage: blkid [-o full|export|value] [-s TAG]... [DEVICE...]\nLocate/print block device attributes (all devices in /sys/class/block if none given).";

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
