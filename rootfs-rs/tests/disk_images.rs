//! A Debian-like GPT disk image built with sgdisk/mkfs.ext4/mkfs.fat/mcopy: table and
//! superblocks must agree with partx and `blkid -p`, and discovery over its filesystems (their
//! source trees standing in for mounts) must resolve cross-filesystem GRUB entries.

#[path = "menu_common/mod.rs"]
mod common;

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use common::{assert_matches_blkid, fake_bzimage, partx, place, run, sparse_file, workdir, write};
use rootfs_rs::blockdev::fstype::FsKind;
use rootfs_rs::blockdev::partitions::{read_partition_table, TableKind};
use rootfs_rs::boot::menu::main::{list_line, menu_main};
use rootfs_rs::boot::scan::disks::{discover_images, discover_trees};
use rootfs_rs::boot::scan::volume::Volume;

const ROOT_UUID: &str = "8b1f4e2c-5a3d-4c1e-9f7a-2d6b0e3c4a51";
const DATA_UUID: &str = "5d0c9a7e-1b2f-4c3d-8e9f-0a1b2c3d4e5f";

struct DebianDisk {
    image: PathBuf,
    esp: PathBuf,
    root: PathBuf,
    data: PathBuf,
}

/// vda.img, GPT: 1 ESP (FAT32, GRUB's EFI stub config), 2 Debian root (ext4, grub.cfg made by
/// grub-mkconfig, kernels in /boot), 3 a data filesystem whose own grub.cfg boots vda2's
/// kernels through `search --fs-uuid`, `--label` and `(hd0,gpt2)`.
fn build_debian_disk(dir: &Path) -> DebianDisk {
    qemu_tests::host_tools::require(&[
        "sgdisk",
        "mkfs.ext4",
        "mkfs.fat",
        "mcopy",
        "blkid",
        "partx",
    ]);
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let esp = dir.join("esp");
    write(
        &esp,
        "EFI/debian/grub.cfg",
        format!("search.fs_uuid {ROOT_UUID} root hd0,gpt2\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n"),
    );
    let root = dir.join("root");
    write(
        &root,
        "boot/grub/grub.cfg",
        std::fs::read(data_dir.join("debian12-grub.cfg")).unwrap(),
    );
    write(
        &root,
        "boot/grub/grubenv",
        std::fs::read(data_dir.join("debian12-grubenv")).unwrap(),
    );
    for version in ["6.1.0-18-amd64", "6.1.0-13-amd64"] {
        write(&root, &format!("boot/vmlinuz-{version}"), fake_bzimage());
        write(&root, &format!("boot/initrd.img-{version}"), b"070701");
    }
    write(&root, "etc/hostname", "debian\n");
    let data = dir.join("data");
    write(
        &data,
        "boot/grub/grub.cfg",
        format!(
            "set timeout=9
menuentry 'Debian again' {{
  search --no-floppy --fs-uuid --set=root {ROOT_UUID}
  linux /boot/vmlinuz-6.1.0-18-amd64 root=UUID={ROOT_UUID} ro quiet
  initrd /boot/initrd.img-6.1.0-18-amd64
}}
menuentry 'Debian by label' {{
  search --no-floppy --label --set=root debroot
  linux /boot/vmlinuz-6.1.0-18-amd64 root=LABEL=debroot ro single
}}
menuentry 'Debian by GRUB device' {{
  linux (hd0,gpt2)/boot/vmlinuz-6.1.0-13-amd64 ro nomodeset
  initrd (hd0,gpt2)/boot/initrd.img-6.1.0-13-amd64
}}
menuentry 'Lost disk' {{
  search --no-floppy --fs-uuid --set=root 0badc0de-0000-4000-8000-000000000000
  linux /vmlinuz ro
}}
menuentry 'Stale kernel' {{
  search --no-floppy --fs-uuid --set=root {ROOT_UUID}
  linux /boot/vmlinuz-5.10.0-9-amd64 ro
}}
"
        ),
    );
    let image = dir.join("vda.img");
    sparse_file(&image, 128);
    let image_arg = image.to_string_lossy().into_owned();
    run(
        "sgdisk",
        &[
            "-n",
            "1:2048:+48M",
            "-t",
            "1:ef00",
            "-c",
            "1:EFI system",
            "-n",
            "2:0:+40M",
            "-t",
            "2:8300",
            "-c",
            "2:debian",
            "-n",
            "3:0:0",
            "-t",
            "3:8300",
            "-c",
            "3:data",
            &image_arg,
        ],
    );
    let table = partx(&image);
    let offset = |n: u32| table[&n].0 * 512;
    let esp_img = dir.join("esp.img");
    sparse_file(&esp_img, 48);
    run(
        "mkfs.fat",
        &[
            "-F",
            "32",
            "-s",
            "1",
            "-n",
            "ESP",
            "-i",
            "1234ABCD",
            &esp_img.to_string_lossy(),
        ],
    );
    run(
        "mcopy",
        &[
            "-s",
            "-i",
            &esp_img.to_string_lossy(),
            &esp.join("EFI").to_string_lossy(),
            "::/",
        ],
    );
    place(&esp_img, &image, offset(1));
    for (name, tree, uuid, label, megabytes) in [
        ("root.img", &root, ROOT_UUID, "debroot", 40),
        ("data.img", &data, DATA_UUID, "data", 30),
    ] {
        let fs_image = dir.join(name);
        run(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-L",
                label,
                "-U",
                uuid,
                "-d",
                &tree.to_string_lossy(),
                &fs_image.to_string_lossy(),
                &format!("{megabytes}M"),
            ],
        );
        place(
            &fs_image,
            &image,
            offset(if label == "data" { 3 } else { 2 }),
        );
    }
    DebianDisk {
        image,
        esp,
        root,
        data,
    }
}

#[test]
fn gpt_table_matches_partx() {
    let dir = workdir("gpt-table");
    let disk = build_debian_disk(&dir);
    let file = File::open(&disk.image).unwrap();
    let size = file.metadata().unwrap().len();
    let table = read_partition_table(&file, size).unwrap().unwrap();
    assert_eq!(table.kind, TableKind::Gpt);
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    let expected = partx(&disk.image);
    assert_eq!(table.partitions.len(), 3);
    for part in &table.partitions {
        let (start, sectors, uuid, name) = &expected[&part.number];
        assert_eq!(part.start, start * 512, "partition {}", part.number);
        assert_eq!(part.size, sectors * 512, "partition {}", part.number);
        assert_eq!(
            part.part_uuid.as_deref(),
            Some(uuid.to_lowercase().as_str())
        );
        assert_eq!(&part.name, name);
    }
    assert_eq!(
        table.partitions[0].type_id,
        "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
    );
    assert_eq!(
        table.partitions[1].type_id,
        "0fc63daf-8483-4772-8e79-3d69d8477de4"
    );

    // A corrupt primary header falls back to the backup at the end of the disk.
    let broken = dir.join("broken.img");
    std::fs::copy(&disk.image, &broken).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&broken)
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"XXXX", 512 + 24).unwrap();
    let file = File::open(&broken).unwrap();
    let table = read_partition_table(&file, size).unwrap().unwrap();
    assert_eq!(table.partitions.len(), 3);
    assert!(
        table.warnings[0].contains("using the backup"),
        "{:?}",
        table.warnings
    );
}

#[test]
fn gpt_volumes_match_blkid_and_entries_resolve_across_filesystems() {
    let dir = workdir("gpt-discovery");
    let disk = build_debian_disk(&dir);
    let scan = discover_images(std::slice::from_ref(&disk.image));
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    let devices: Vec<&str> = scan.volumes.iter().map(|v| v.device.as_str()).collect();
    assert_eq!(devices, ["vda1", "vda2", "vda3"]);
    let table = partx(&disk.image);
    for volume in &scan.volumes {
        let number = volume.partition.unwrap();
        assert_matches_blkid(&disk.image, table[&number].0 * 512, volume);
    }
    assert_eq!(scan.volumes[0].fs.uuid.as_deref(), Some("1234-ABCD"));
    assert_eq!(scan.volumes[1].fs.kind, FsKind::Ext4);
    assert_eq!(scan.volumes[1].fs.uuid.as_deref(), Some(ROOT_UUID));
    assert_eq!(scan.volumes[2].fs.label.as_deref(), Some("data"));

    let trees = [&disk.esp, &disk.root, &disk.data];
    let pairs: Vec<(Volume, PathBuf)> = scan
        .volumes
        .iter()
        .cloned()
        .zip(trees.iter().map(|t| t.to_path_buf()))
        .collect();
    let found = discover_trees(pairs);
    let rows: Vec<String> = found
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| list_line(i + 1, e, i == 0))
        .collect();
    let expected = [
        format!("1* Debian GNU/Linux | vda2 | /boot/vmlinuz-6.1.0-18-amd64 | /boot/initrd.img-6.1.0-18-amd64 | root=UUID={ROOT_UUID} ro quiet"),
        format!("2 Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode) | vda2 | /boot/vmlinuz-6.1.0-18-amd64 | /boot/initrd.img-6.1.0-18-amd64 | root=UUID={ROOT_UUID} ro single"),
        format!("3 Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-13-amd64 | vda2 | /boot/vmlinuz-6.1.0-13-amd64 | /boot/initrd.img-6.1.0-13-amd64 | root=UUID={ROOT_UUID} ro quiet"),
        format!("4 Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-13-amd64 (recovery mode) | vda2 | /boot/vmlinuz-6.1.0-13-amd64 | /boot/initrd.img-6.1.0-13-amd64 | root=UUID={ROOT_UUID} ro single"),
        // From vda3's config: 'Debian again' boots exactly entry 1, so it is merged away.
        "5 Debian by label | vda2 | /boot/vmlinuz-6.1.0-18-amd64 |  | root=LABEL=debroot ro single".to_string(),
        "6 Debian by GRUB device | vda2 | /boot/vmlinuz-6.1.0-13-amd64 | /boot/initrd.img-6.1.0-13-amd64 | ro nomodeset".to_string(),
    ];
    assert_eq!(rows, expected, "warnings: {:#?}", found.warnings);
    for entry in &found.entries[4..] {
        assert_eq!(entry.config_device, "vda3");
        assert_eq!(
            entry.mount_point, disk.root,
            "kernel must load from vda2's filesystem"
        );
        assert_eq!(entry.fs_uuid.as_deref(), Some(ROOT_UUID));
        assert_eq!(entry.fs_label.as_deref(), Some("debroot"));
    }
    assert_eq!(found.timeout_secs, Some(5));
    let warned = |needle: &str| found.warnings.iter().any(|w| w.contains(needle));
    assert!(
        warned("vda3: 'Lost disk': filesystem UUID=0badc0de-0000-4000-8000-000000000000 not found"),
        "{:#?}",
        found.warnings
    );
    assert!(
        warned("vda3: 'Stale kernel': kernel /boot/vmlinuz-5.10.0-9-amd64 not found on vda2"),
        "{:#?}",
        found.warnings
    );
    // The ESP stub's configfile names the other filesystem: reported, no entries, no panic.
    assert!(found.entries.iter().all(|e| e.config_device != "vda1"));
}

#[test]
fn menu_applet_lists_and_dry_runs_from_images() {
    let dir = workdir("menu-applet");
    let disk = build_debian_disk(&dir);
    let config = dir.join("kboot.toml");
    std::fs::write(
        &config,
        "[menu]\ntimeout = 2\ndefault = \"Debian by label\"\n",
    )
    .unwrap();
    let args = |extra: &[&str]| -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--image".into(),
            disk.image.clone().into(),
            "--tree".into(),
            format!("vda2={}", disk.root.display()).into(),
            "--tree".into(),
            format!("vda3={}", disk.data.display()).into(),
            "--config".into(),
            config.clone().into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        args
    };
    assert_eq!(menu_main(&args(&["--list"])), 0);
    assert_eq!(
        menu_main(&args(&["--boot", "Debian by GRUB device", "--dry-run"])),
        0
    );
    assert_eq!(menu_main(&args(&["--boot", "6", "--dry-run"])), 0);
    assert_eq!(menu_main(&args(&["--boot", "99", "--dry-run"])), 1);
    assert_eq!(menu_main(&args(&["--boot"])), 2);
    assert_eq!(menu_main(&args(&["--list", "--boot", "1"])), 2);
    assert_eq!(menu_main(&[OsString::from("--bogus")]), 2);
    // A kernel that is not a bzImage fails the dry run with exit 1 (and the real boot with
    // "not a bzImage" before any system call).
    std::fs::write(
        disk.root.join("boot/vmlinuz-6.1.0-13-amd64"),
        "not a kernel\n",
    )
    .unwrap();
    assert_eq!(
        menu_main(&args(&["--boot", "Debian by GRUB device", "--dry-run"])),
        1
    );
}

/// The real mount path on read-only loop devices (needs root and /dev/loop*; run with
/// `cargo test -- --ignored`). Each partition gets its own loop device (offset + size limit;
/// partition scanning of loop devices is not available in every container), and only those
/// are offered to the scan, through a sysfs directory of links to their real sysfs entries.
#[test]
#[ignore]
fn real_read_only_mounts_on_loop_devices() {
    qemu_tests::host_tools::require(&["losetup"]);
    let dir = workdir("loop-mounts");
    let disk = build_debian_disk(&dir);
    let table = partx(&disk.image);
    let sys = dir.join("sys");
    std::fs::create_dir_all(&sys).unwrap();
    let mut loops = Vec::new();
    for number in 1..=3 {
        let (start, sectors, _, _) = table[&number];
        let device = run(
            "losetup",
            &[
                "-r",
                "-f",
                "--show",
                "-o",
                &(start * 512).to_string(),
                "--sizelimit",
                &(sectors * 512).to_string(),
                &disk.image.to_string_lossy(),
            ],
        );
        let name = device.trim().trim_start_matches("/dev/").to_string();
        std::os::unix::fs::symlink(Path::new("/sys/class/block").join(&name), sys.join(&name))
            .unwrap();
        loops.push(name);
    }
    let options = rootfs_rs::boot::scan::disks::ScanOptions {
        sys_block: sys,
        dev_dir: PathBuf::from("/dev"),
        mount_root: dir.join("mnt"),
        time_limit: std::time::Duration::from_secs(20),
    };
    let (found, mut mounts) = rootfs_rs::boot::scan::disks::discover_disks(&options);
    let mounted = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let released = mounts.release_all();
    let still = std::fs::read_to_string("/proc/self/mounts").unwrap();
    for name in &loops {
        run("losetup", &["-d", &format!("/dev/{name}")]);
    }
    let root_dev = loops[1].as_str();
    let ours: Vec<&str> = mounted
        .lines()
        .filter(|l| l.contains(&*dir.to_string_lossy()))
        .collect();
    // Only the filesystem holding the kernels stays mounted after discovery, read-only.
    assert_eq!(ours.len(), 1, "{ours:#?}\nwarnings: {:#?}", found.warnings);
    assert!(
        ours[0].contains(&format!("/mnt/{root_dev} ext4 ro,")),
        "{}",
        ours[0]
    );
    assert!(released.is_empty(), "{released:?}");
    assert!(
        !still.contains(&*dir.to_string_lossy()),
        "left mounted:\n{still}"
    );
    let devices: Vec<&str> = found.entries.iter().map(|e| e.device.as_str()).collect();
    // Without partition numbers "(hd0,gpt2)" names nothing: that entry is dropped with a warning.
    assert_eq!(devices, vec![root_dev; 5], "{:#?}", found.warnings);
    assert!(
        found
            .warnings
            .iter()
            .any(|w| w.contains("(hd0,gpt2) not found")),
        "{:#?}",
        found.warnings
    );
    assert_eq!(found.entries[4].config_device, loops[2]);
    assert_eq!(found.entries[4].mount_point, dir.join("mnt").join(root_dev));
}
