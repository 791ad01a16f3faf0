//! Helpers for tests that build real disk images with the system's mkfs/partitioning tools.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rootfs_rs::blockdev::fstype::FsKind;
use rootfs_rs::boot::scan::volume::Volume;

/// Runs a command and returns its stdout; panics with its stderr on failure.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = qemu_tests::host_tools::command(program)
        .args(args)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A fresh directory for one test.
pub fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn write(root: &Path, path: &str, contents: impl AsRef<[u8]>) {
    let full = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, contents).unwrap();
}

/// What `blkid -p` says about the filesystem at `offset` bytes into `image`.
pub fn blkid(image: &Path, offset: u64) -> BTreeMap<String, String> {
    let image = image.to_string_lossy();
    let offset = offset.to_string();
    let output = qemu_tests::host_tools::command("blkid")
        .args(["-p", "-o", "export", "-O", &offset, &image])
        .output()
        .unwrap_or_else(|e| panic!("blkid: {e}"));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), unescape_export(v)))
        .collect()
}

/// `blkid -o export` puts a backslash before blanks and other special characters.
fn unescape_export(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            other => out.push(other),
        }
    }
    out
}

/// Creates an empty (sparse) file of `megabytes` MiB.
pub fn sparse_file(path: &Path, megabytes: u64) {
    let file = std::fs::File::create(path).unwrap();
    file.set_len(megabytes << 20).unwrap();
}

/// Copies a filesystem image into a disk image at `offset` bytes.
pub fn place(fs_image: &Path, disk: &Path, offset: u64) {
    run(
        "dd",
        &[
            &format!("if={}", fs_image.display()),
            &format!("of={}", disk.display()),
            "bs=512",
            &format!("seek={}", offset / 512),
            "conv=notrunc,sparse",
            "status=none",
        ],
    );
}

/// A kernel file with the x86 boot header fields kexec_file_load checks (protocol 2.15,
/// 64-bit, loaded high); the rest is filler. Enough for discovery and --dry-run, never booted.
pub fn fake_bzimage() -> Vec<u8> {
    let mut image = vec![0u8; 0x1000];
    image[0x1FE] = 0x55;
    image[0x1FF] = 0xAA;
    image[0x202..0x206].copy_from_slice(b"HdrS");
    image[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
    image[0x211] = 0x01;
    image[0x236..0x238].copy_from_slice(&0x0003u16.to_le_bytes());
    image[0x238..0x23C].copy_from_slice(&2047u32.to_le_bytes());
    image
}

/// Exactly these warnings, in order, each found by a piece of its text.
pub fn assert_warnings(warnings: &[String], expected: &[&str]) {
    assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
    for (warning, needle) in warnings.iter().zip(expected) {
        assert!(warning.contains(needle), "'{needle}' not in {warnings:#?}");
    }
}

/// Checks every volume against `blkid -p` at its offset: type, UUID, label.
pub fn assert_matches_blkid(image: &Path, offset: u64, volume: &Volume) {
    let tags = blkid(image, offset);
    assert_eq!(
        tags.get("TYPE").map(String::as_str),
        Some(volume.fs.kind.name()),
        "{}: {tags:?}",
        volume.device
    );
    assert_eq!(
        tags.get("UUID"),
        volume.fs.uuid.as_ref(),
        "{}: {tags:?}",
        volume.device
    );
    assert_eq!(
        tags.get("LABEL"),
        volume.fs.label.as_ref(),
        "{}: {tags:?}",
        volume.device
    );
}

pub fn volume_kinds(volumes: &[Volume]) -> Vec<(&str, FsKind)> {
    volumes
        .iter()
        .map(|v| (v.device.as_str(), v.fs.kind))
        .collect()
}

/// partx's view of the table: number -> (start sector, sectors, partition UUID, name).
pub fn partx(image: &Path) -> BTreeMap<u32, (u64, u64, String, String)> {
    let out = run(
        "partx",
        &[
            "-g",
            "-o",
            "NR,START,SECTORS,UUID,NAME",
            "-P",
            &image.to_string_lossy(),
        ],
    );
    out.lines()
        .map(|line| {
            let field = |key: &str| {
                line.split(&format!("{key}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("")
                    .to_string()
            };
            let number = field("NR").parse().unwrap();
            let start = field("START").parse().unwrap();
            let sectors = field("SECTORS").parse().unwrap();
            (number, (start, sectors, field("UUID"), field("NAME")))
        })
        .collect()
}
