//! Disks that fail: QEMU's blkdebug driver between the guest and a raw image, with I/O
//! errors injected at chosen sectors (docs/devel/blkdebug.rst in QEMU's tree), and where
//! a file of an ext4 image lives, so a test can aim at its blocks.

use std::path::{Path, PathBuf};

/// Which requests fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
}

/// Requests of kind `op` that touch `sector` (512 bytes) fail with EIO, every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub op: Op,
    pub sector: u64,
}

/// blkdebug's configuration for `faults`: one `inject-error` rule each, on the raw
/// format's read/write events, never cleared (`once = "off"`).
pub fn blkdebug_config(faults: &[Fault]) -> String {
    faults
        .iter()
        .map(|f| {
            let event = match f.op {
                Op::Read => "read_aio",
                Op::Write => "write_aio",
            };
            format!(
                "[inject-error]\nevent = \"{event}\"\nerrno = \"5\"\nsector = \"{}\"\nonce = \"off\"\n\n",
                f.sector
            )
        })
        .collect()
}

/// QEMU arguments for a virtio disk on `image` whose requests fail as `faults` say; the
/// rules are written next to the image. Writes that do not fail reach the image.
pub fn failing_virtio_disk(image: &Path, faults: &[Fault]) -> Result<Vec<String>, String> {
    let rules: PathBuf = image.with_extension("blkdebug.conf");
    std::fs::write(&rules, blkdebug_config(faults))
        .map_err(|e| format!("{}: {e}", rules.display()))?;
    for path in [&rules, &image.to_path_buf()] {
        if path.to_string_lossy().contains([':', ',']) {
            return Err(format!("{}: ':' or ',' in a blkdebug path", path.display()));
        }
    }
    Ok(vec![
        "-drive".into(),
        format!(
            "file=blkdebug:{}:{},format=raw,if=virtio,cache=directsync",
            rules.display(),
            image.display()
        ),
    ])
}

fn e2fs_tool(program: &str, args: &[String]) -> Result<String, String> {
    let out = crate::host_tools::command(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e} (cargo xtask deps installs e2fsprogs)"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// e2fsprogs' way of naming a filesystem `offset` bytes into an image.
fn at_offset(image: &Path, offset: u64) -> String {
    format!("{}?offset={offset}", image.display())
}

/// The block size of the ext4 filesystem `offset` bytes into `image`.
pub fn ext4_block_size(image: &Path, offset: u64) -> Result<u64, String> {
    let header = e2fs_tool("dumpe2fs", &["-h".into(), at_offset(image, offset)])?;
    header
        .lines()
        .find_map(|l| l.strip_prefix("Block size:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("{}: no block size in dumpe2fs -h", image.display()))
}

/// The disk sector holding byte 0 of `path` in the ext4 filesystem `offset` bytes into
/// `image` (debugfs `bmap`, no mounting).
pub fn ext4_file_sector(image: &Path, offset: u64, path: &str) -> Result<u64, String> {
    let block_size = ext4_block_size(image, offset)?;
    let out = e2fs_tool(
        "debugfs",
        &[
            "-R".into(),
            format!("bmap {path} 0"),
            at_offset(image, offset),
        ],
    )?;
    let block: u64 = out
        .trim()
        .parse()
        .map_err(|_| format!("debugfs bmap {path}: {out:?}"))?;
    if block == 0 {
        return Err(format!("{path}: no block 0 (empty or inline?)"));
    }
    Ok((offset + block * block_size) / 512)
}

/// Free block ranges (first, last) of the ext4 filesystem `offset` bytes into `image`,
/// in blocks, from dumpe2fs's per-group "Free blocks:" lines.
pub fn ext4_free_ranges(image: &Path, offset: u64) -> Result<Vec<(u64, u64)>, String> {
    let listing = e2fs_tool("dumpe2fs", &[at_offset(image, offset)])?;
    let mut ranges = Vec::new();
    // The per-group lines are indented; the header's total is not.
    for list in listing
        .lines()
        .filter(|l| l.starts_with(' '))
        .filter_map(|l| l.trim().strip_prefix("Free blocks: "))
    {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (first, last) = item.split_once('-').unwrap_or((item, item));
            let parse = |n: &str| {
                n.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("dumpe2fs free blocks: {item:?}"))
            };
            ranges.push((parse(first)?, parse(last)?));
        }
    }
    Ok(ranges)
}

/// Reads `path` out of the ext4 filesystem `offset` bytes into `image` (debugfs `dump`).
pub fn ext4_read_file(image: &Path, offset: u64, path: &str) -> Result<Vec<u8>, String> {
    let out = image.with_extension(format!(
        "read-{}",
        path.trim_start_matches('/').replace('/', "_")
    ));
    let _ = std::fs::remove_file(&out);
    e2fs_tool(
        "debugfs",
        &[
            "-R".into(),
            format!("dump {path} {}", out.display()),
            at_offset(image, offset),
        ],
    )?;
    std::fs::read(&out).map_err(|e| format!("{path} from {}: {e}", image.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_fault() {
        let text = blkdebug_config(&[
            Fault {
                op: Op::Read,
                sector: 2050,
            },
            Fault {
                op: Op::Write,
                sector: 9,
            },
        ]);
        assert_eq!(text.matches("[inject-error]").count(), 2);
        assert!(text.contains("event = \"read_aio\"\nerrno = \"5\"\nsector = \"2050\""));
        assert!(text.contains("event = \"write_aio\"\nerrno = \"5\"\nsector = \"9\""));
    }
}
