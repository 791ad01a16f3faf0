//! Block-device scanning against a made-up sysfs tree: which devices are probed, how
//! partitions find their disk, and that an unmountable or hung device only gives a warning.

#[path = "menu_common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_warnings, run, sparse_file, workdir, write};
use rootfs_rs::blockdev::devices::list_block_devices;
use rootfs_rs::boot::scan::disks::{discover_disks, ScanOptions};

/// sysfs as the kernel lays it out: class/block/<name> links into devices/, partitions are
/// subdirectories of their disk with `partition` and `start` files, sizes in 512-byte sectors.
fn fake_sysfs(root: &Path, devices: &[(&str, Option<&str>, u64)]) {
    for (name, parent, size) in devices {
        let relative = match parent {
            Some(disk) => format!("devices/{disk}/{name}"),
            None => format!("devices/{name}"),
        };
        write(root, &format!("{relative}/size"), format!("{size}\n"));
        if let Some(number) = parent.and_then(|disk| name.strip_prefix(disk)) {
            write(
                root,
                &format!("{relative}/partition"),
                format!("{}\n", number.trim_start_matches('p')),
            );
            write(root, &format!("{relative}/start"), "2048\n");
        }
        std::fs::create_dir_all(root.join("class/block")).unwrap();
        std::os::unix::fs::symlink(
            format!("../../{relative}"),
            root.join("class/block").join(name),
        )
        .unwrap();
    }
}

#[test]
fn skips_ram_loop_empty_and_floppy_devices() {
    let dir = workdir("sysfs-list");
    fake_sysfs(
        &dir,
        &[
            ("vda", None, 204800),
            ("vda1", Some("vda"), 102400),
            ("vda10", Some("vda"), 2048),
            ("vda2", Some("vda"), 100352),
            ("nvme0n1", None, 4096),
            ("nvme0n1p1", Some("nvme0n1"), 2048),
            ("ram0", None, 8192),
            ("zram0", None, 8192),
            ("loop0", None, 8192),
            ("loop1", None, 8192),
            ("sr0", None, 0),
            ("fd0", None, 2880),
        ],
    );
    write(&dir, "devices/loop1/loop/backing_file", "/srv/disk.img\n");
    let (devices, warnings) = list_block_devices(&dir.join("class/block"), Path::new("/dev"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let summary: Vec<(String, Option<String>, Option<u32>, u64)> = devices
        .iter()
        .map(|d| (d.name.clone(), d.parent.clone(), d.partition, d.size_bytes))
        .collect();
    let row = |name: &str, parent: Option<&str>, partition: Option<u32>, sectors: u64| {
        (
            name.to_string(),
            parent.map(str::to_string),
            partition,
            sectors * 512,
        )
    };
    assert_eq!(
        summary,
        [
            row("loop1", None, None, 8192),
            row("nvme0n1", None, None, 4096),
            row("nvme0n1p1", Some("nvme0n1"), Some(1), 2048),
            row("vda", None, None, 204800),
            row("vda1", Some("vda"), Some(1), 102400),
            row("vda2", Some("vda"), Some(2), 100352),
            row("vda10", Some("vda"), Some(10), 2048),
        ]
    );
    assert_eq!(devices[4].node, Path::new("/dev/vda1"));
    assert_eq!(devices[4].start, 2048);

    let (none, warnings) = list_block_devices(&dir.join("no/such/dir"), Path::new("/dev"));
    assert!(none.is_empty());
    assert!(warnings[0].contains("no/such/dir"), "{warnings:?}");
}

#[test]
fn unmountable_and_hung_devices_become_warnings() {
    qemu_tests::host_tools::require(&["mkfs.ext4"]);
    qemu_tests::host_tools::require(&["mkfifo"]);
    let dir = workdir("sysfs-scan");
    let sys = dir.join("sys");
    fake_sysfs(
        &sys,
        &[
            ("vda", None, 32768),
            ("vdb", None, 32768),
            ("vdc", None, 32768),
        ],
    );
    let dev = dir.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    // vda: a real ext4 filesystem in a regular file: probed, but mount(2) refuses a file that
    // is not a block device, so it must come back as a warning.
    sparse_file(&dev.join("vda"), 16);
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-L",
            "fileonly",
            &dev.join("vda").to_string_lossy(),
        ],
    );
    // vdb: opening a FIFO without a writer blocks, like a device that never answers.
    run("mkfifo", &[&dev.join("vdb").to_string_lossy()]);
    // vdc: no filesystem at all: silently nothing.
    std::fs::write(dev.join("vdc"), vec![0x5Au8; 1 << 20]).unwrap();
    let options = ScanOptions {
        sys_block: sys.join("class/block"),
        dev_dir: dev.clone(),
        mount_root: dir.join("mnt"),
        time_limit: Duration::from_secs(1),
    };
    let started = Instant::now();
    let (found, mut mounts) = discover_disks(&options);
    let elapsed = started.elapsed();
    // Release the blocked scan thread.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(dev.join("vdb"));
    assert!(elapsed < Duration::from_secs(5), "scan took {elapsed:?}");
    assert!(found.entries.is_empty());
    assert_warnings(
        &found.warnings,
        &["vda: cannot mount", "vdb: no answer within 1 s"],
    );
    assert!(
        found.warnings[0].contains("read-only"),
        "{:#?}",
        found.warnings
    );
    assert!(mounts.release_all().is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("mnt"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "mount points left behind: {leftovers:?}"
    );
}
