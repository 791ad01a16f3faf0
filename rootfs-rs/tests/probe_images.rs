//! Partition tables and filesystems of other shapes: MBR with logical partitions, whole-disk
//! filesystems of every supported type, stale superblocks, damaged images. Each must agree
//! with partx and `blkid -p`.

#[path = "menu_common/mod.rs"]
mod common;

use std::fs::File;

use common::{
    assert_matches_blkid, assert_warnings, blkid, partx, place, run, sparse_file, volume_kinds,
    workdir, write,
};
use rootfs_rs::blockdev::fstype::FsKind;
use rootfs_rs::blockdev::partitions::{read_partition_table, TableKind};
use rootfs_rs::boot::scan::disks::discover_images;

const MIB: u64 = 1 << 20;

#[test]
fn mbr_with_logical_partitions_matches_partx_and_blkid() {
    qemu_tests::host_tools::require(&["sfdisk", "mkfs.ext2", "mkfs.fat"]);
    let dir = workdir("mbr");
    let image = dir.join("sdb.img");
    sparse_file(&image, 64);
    // Logical partitions are given starts inside the extended one (34816..116735), each
    // behind its own boot record.
    let script = "label: dos\nstart=2048, size=16M, type=83\nstart=34816, size=40M, type=5\n\
                  start=36864, size=12M, type=83\nstart=63488, size=12M, type=c\n";
    std::fs::write(dir.join("layout"), script).unwrap();
    run(
        "sh",
        &[
            "-c",
            &format!(
                "sfdisk -q {} < {}",
                image.display(),
                dir.join("layout").display()
            ),
        ],
    );
    let table = partx(&image);
    let numbers: Vec<u32> = table.keys().copied().collect();
    assert_eq!(numbers, [1, 2, 5, 6]);
    for (number, kind, label) in [(1, "ext2", "boot"), (5, "ext3", "logical5")] {
        let fs_image = dir.join(format!("p{number}.img"));
        sparse_file(&fs_image, 12);
        run(
            &format!("mkfs.{kind}"),
            &["-q", "-F", "-L", label, &fs_image.to_string_lossy()],
        );
        place(&fs_image, &image, table[&number].0 * 512);
    }
    let fat = dir.join("p6.img");
    sparse_file(&fat, 12);
    run(
        "mkfs.fat",
        &["-F", "16", "-n", "LOGICAL6", &fat.to_string_lossy()],
    );
    place(&fat, &image, table[&6].0 * 512);

    let file = File::open(&image).unwrap();
    let parsed = read_partition_table(&file, 64 * MIB).unwrap().unwrap();
    assert_eq!(parsed.kind, TableKind::Mbr);
    let ours: Vec<(u32, u64, u64)> = parsed
        .partitions
        .iter()
        .map(|p| (p.number, p.start / 512, p.size / 512))
        .collect();
    // partx reports the extended container (2) too; it holds no filesystem.
    let theirs: Vec<(u32, u64, u64)> = table
        .iter()
        .filter(|(n, _)| **n != 2)
        .map(|(n, (start, sectors, _, _))| (*n, *start, *sectors))
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(parsed.partitions[2].type_id, "0x0c");

    let scan = discover_images(std::slice::from_ref(&image));
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(
        volume_kinds(&scan.volumes),
        [
            ("sdb1", FsKind::Ext2),
            ("sdb5", FsKind::Ext3),
            ("sdb6", FsKind::Vfat)
        ]
    );
    for volume in &scan.volumes {
        assert_matches_blkid(&image, table[&volume.partition.unwrap()].0 * 512, volume);
    }
}

#[test]
fn whole_disk_filesystems_match_blkid() {
    let dir = workdir("whole");
    let tree = dir.join("tree");
    write(
        &tree,
        "boot/grub/grub.cfg",
        "menuentry x { linux /vmlinuz }\n",
    );
    let mut images = Vec::new();
    let mut add = |name: &str, megabytes: u64, tool: &str, args: &[&str]| {
        qemu_tests::host_tools::require(&[tool]);
        let path = dir.join(name);
        sparse_file(&path, megabytes);
        let mut full: Vec<&str> = args.to_vec();
        let path_text = path.to_string_lossy().into_owned();
        full.push(&path_text);
        run(tool, &full);
        images.push(path);
    };
    add("xfs.img", 300, "mkfs.xfs", &["-q", "-f", "-L", "xfsboot"]);
    add(
        "btrfs.img",
        128,
        "mkfs.btrfs",
        &["-q", "-f", "-L", "btrfs root"],
    );
    add(
        "fat32.img",
        40,
        "mkfs.fat",
        &["-F", "32", "-s", "1", "-n", "STICK"],
    );
    add(
        "ext4.img",
        16,
        "mkfs.ext4",
        &["-q", "-F", "-L", "a-very-long-lbl"],
    );
    qemu_tests::host_tools::require(&["xorriso"]);
    let iso = dir.join("cd.iso");
    run(
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-quiet",
            "-V",
            "KBOOT_LIVE",
            "-o",
            &iso.to_string_lossy(),
            &tree.to_string_lossy(),
        ],
    );
    images.push(iso);

    let scan = discover_images(&images);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(
        volume_kinds(&scan.volumes),
        [
            ("xfs", FsKind::Xfs),
            ("btrfs", FsKind::Btrfs),
            ("fat32", FsKind::Vfat),
            ("ext4", FsKind::Ext4),
            ("cd", FsKind::Iso9660)
        ]
    );
    for (volume, image) in scan.volumes.iter().zip(&images) {
        assert!(
            volume.fs.uuid.is_some() && volume.fs.label.is_some(),
            "{volume:?}"
        );
        assert_matches_blkid(image, 0, volume);
    }
    assert_eq!(scan.volumes[1].fs.label.as_deref(), Some("btrfs root"));
}

#[test]
fn damaged_images_give_warnings_not_panics() {
    let dir = workdir("damaged");
    let garbage = dir.join("garbage.img");
    let bytes: Vec<u8> = (0..2 * MIB).map(|i| (i * 7 + i / 13) as u8).collect();
    std::fs::write(&garbage, bytes).unwrap();
    let empty = dir.join("empty.img");
    std::fs::write(&empty, b"").unwrap();
    // A protective MBR pointing at a GPT that is not there.
    let fake_gpt = dir.join("fakegpt.img");
    let mut mbr = vec![0u8; 4096];
    mbr[446 + 4] = 0xEE;
    mbr[446 + 8] = 1;
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    std::fs::write(&fake_gpt, mbr).unwrap();
    let missing = dir.join("missing.img");
    let scan = discover_images(&[garbage, empty, fake_gpt, missing]);
    assert!(scan.volumes.is_empty(), "{:?}", scan.volumes);
    assert_warnings(
        &scan.warnings,
        &[
            "fakegpt.img: GPT: primary and backup headers bad",
            "missing.img: No such file",
        ],
    );
    let partitions = read_partition_table(&File::open(dir.join("fakegpt.img")).unwrap(), 4096);
    assert!(partitions.is_err());
}

#[test]
fn stale_superblock_under_a_partition_table_is_ignored() {
    qemu_tests::host_tools::require(&["sfdisk", "mkfs.ext4", "mkfs.fat"]);
    let dir = workdir("stale");
    let image = dir.join("sdc.img");
    sparse_file(&image, 32);
    run(
        "mkfs.ext4",
        &["-q", "-F", "-L", "old", &image.to_string_lossy()],
    );
    // Partitioned afterwards without wiping: the old ext4 superblock at 1 KiB survives.
    let layout = dir.join("layout");
    std::fs::write(&layout, "label: dos\nstart=2048, size=8M, type=c\n").unwrap();
    run(
        "sh",
        &[
            "-c",
            &format!(
                "sfdisk -q --wipe never {} < {}",
                image.display(),
                layout.display()
            ),
        ],
    );
    // blkid -p still reports it (it lists every signature); a boot menu must not mount it.
    assert_eq!(
        blkid(&image, 0).get("TYPE").map(String::as_str),
        Some("ext4")
    );
    let fat = dir.join("p1.img");
    sparse_file(&fat, 8);
    run("mkfs.fat", &["-n", "NEW", &fat.to_string_lossy()]);
    place(&fat, &image, 2048 * 512);
    let scan = discover_images(std::slice::from_ref(&image));
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(volume_kinds(&scan.volumes), [("sdc1", FsKind::Vfat)]);
}
