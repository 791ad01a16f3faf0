//! kexec's checks before the system call (never made here): boot header, command line,
//! paths resolved inside the entry's filesystem, chainload entries refused.

#[path = "menu_common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::{fake_bzimage, workdir};
use rootfs_rs::boot::entry::{BootEntry, EntryKind};
use rootfs_rs::boot::launch::kexec::{
    check_bzimage, check_cmdline, check_plan, plan, BzImage, STAGING_DIR,
};
use rootfs_rs::boot::scan::volume::DiscoveredEntry;
use rootfs_rs::boot::signature::Policy;

fn entry_on(root: &Path, kernel: &str, initrds: &[&str]) -> DiscoveredEntry {
    let mut entry = BootEntry::linux("Test Linux", PathBuf::from(kernel), "test");
    entry.initrds = initrds.iter().map(PathBuf::from).collect();
    entry.cmdline = "root=/dev/vda2 ro".to_string();
    DiscoveredEntry {
        entry,
        device: "vda2".to_string(),
        fs_uuid: None,
        fs_label: None,
        mount_point: root.to_path_buf(),
        config_device: "vda2".to_string(),
    }
}

#[test]
fn header_checks() {
    let good = fake_bzimage();
    assert_eq!(
        check_bzimage(&good),
        Ok(BzImage {
            protocol: 0x020F,
            cmdline_max: 2047
        })
    );
    let text = b"#!/bin/sh\necho not a kernel\n".repeat(40);
    assert!(check_bzimage(&text).is_err_and(|e| e.contains("HdrS")));
    assert!(check_bzimage(&good[..0x100]).is_err_and(|e| e.contains("too short")));
    let mut old = good.clone();
    old[0x206] = 0x0A;
    assert!(check_bzimage(&old).is_err_and(|e| e.contains("2.10")));
    let mut low = good.clone();
    low[0x211] = 0;
    assert!(check_bzimage(&low).is_err_and(|e| e.contains("LOADED_HIGH")));
    let mut bits32 = good;
    bits32[0x236] = 0x02;
    assert!(check_bzimage(&bits32).is_err_and(|e| e.contains("64-bit")));
}

#[test]
fn plan_resolves_inside_the_filesystem() {
    let dir = workdir("kexec-plan");
    std::fs::create_dir_all(dir.join("boot")).unwrap();
    std::fs::write(dir.join("boot/vmlinuz-6.1"), fake_bzimage()).unwrap();
    std::fs::write(dir.join("boot/initrd.img-6.1"), b"07070").unwrap();
    // An absolute link as distributions ship it: must stay inside the scanned filesystem.
    std::os::unix::fs::symlink("/boot/vmlinuz-6.1", dir.join("vmlinuz")).unwrap();
    let found = entry_on(&dir, "/vmlinuz", &["/boot/initrd.img-6.1"]);
    let planned = plan(&found, Path::new(STAGING_DIR)).unwrap();
    assert_eq!(planned.kernel, dir.join("boot/vmlinuz-6.1"));
    assert_eq!(planned.initrds, [dir.join("boot/initrd.img-6.1")]);
    assert_eq!(
        check_plan(&planned, false, &Policy::default())
            .ok()
            .map(|i| i.protocol),
        Some(0x020F)
    );
    let mut chain = found.clone();
    chain.entry.kind = EntryKind::Chainload {
        target: "/EFI/Microsoft/Boot/bootmgfw.efi".into(),
    };
    let err = plan(&chain, Path::new(STAGING_DIR))
        .unwrap_err()
        .to_string();
    assert!(err.contains("only Linux kernels"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_line_limits() {
    let image = check_bzimage(&fake_bzimage()).unwrap();
    assert!(check_cmdline(&"a".repeat(2047), &image, false).is_ok());
    let err = check_cmdline(&"a".repeat(2048), &image, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most 2047"), "{err}");
    assert!(check_cmdline(&"a".repeat(2047), &image, true).is_err());
    let err = check_cmdline("ro\0quiet", &image, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("NUL"), "{err}");
    assert_eq!(
        check_cmdline("ro", &image, false)
            .unwrap()
            .as_bytes_with_nul(),
        b"ro\0"
    );
}

#[test]
fn text_file_is_not_a_bzimage() {
    let dir = workdir("kexec-text");
    std::fs::create_dir_all(dir.join("boot")).unwrap();
    std::fs::write(dir.join("boot/vmlinuz"), "GRUB_DEFAULT=0\n".repeat(100)).unwrap();
    let found = entry_on(&dir, "/boot/vmlinuz", &[]);
    let err = check_plan(
        &plan(&found, Path::new(STAGING_DIR)).unwrap(),
        false,
        &Policy::default(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("not a bzImage"), "{message}");
    assert!(message.contains("boot/vmlinuz"), "{message}");
    let missing = entry_on(&dir, "/boot/nothing", &[]);
    let message = check_plan(
        &plan(&missing, Path::new(STAGING_DIR)).unwrap(),
        false,
        &Policy::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(message.contains("No such file"), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}
