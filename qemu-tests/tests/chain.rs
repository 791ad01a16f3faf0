//! Chaining from an existing GRUB (issue #7): a BIOS disk whose GRUB menu has an ordinary
//! distro entry first and kboot's generated entry (target/kboot/grub-kboot.cfg) second, with
//! kboot installed where the entry looks (/boot/kboot/). Choosing kboot in GRUB's menu must
//! boot kboot to its own menu.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use qemu_tests::machine::workspace_root;
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(180);
/// The ESP of kboot's disk.img starts at LBA 4096 (image::DiskImageBuilder's layout).
const ESP_OFFSET: u64 = 4096 * 512;

fn mcopy(image: &Path, data: &[u8], dest: &str, scratch: &Path) {
    let src = scratch.join("mcopy.tmp");
    std::fs::write(&src, data).unwrap();
    let out = Command::new("mcopy")
        .arg("-o")
        .arg("-i")
        .arg(format!("{}@@{ESP_OFFSET}", image.display()))
        .arg(&src)
        .arg(format!("::{dest}"))
        .output()
        .expect("mcopy (apt install mtools)");
    assert!(
        out.status.success(),
        "mcopy {dest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mmd(image: &Path, dir: &str) {
    let _ = Command::new("mmd")
        .arg("-i")
        .arg(format!("{}@@{ESP_OFFSET}", image.display()))
        .arg(format!("::{dir}"))
        .output();
}

#[test]
fn grub_menu_entry_from_the_snippet_boots_kboot() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = workspace_root().join("target/qemu-tests/chain");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A copy of the built disk: its GRUB BIOS setup, with a user's grub.cfg.
    let disk = dir.join("disk.img");
    std::fs::copy(artifacts.disk_img(), &disk).unwrap();
    let snippet = std::fs::read_to_string(artifacts.dir.join("grub-kboot.cfg"))
        .expect("target/kboot/grub-kboot.cfg (cargo xtask image)");
    let grub_cfg = format!(
        "serial --unit=0 --speed=115200\nterminal_input console serial\n\
         terminal_output console serial\nset timeout=60\nset default=0\n\
         menuentry 'Debian GNU/Linux' --class debian {{\n\
         \techo 'the ordinary entry was booted'\n\tlinux /boot/vmlinuz-6.1.0-missing root=/dev/sda1\n}}\n\
         {snippet}"
    );
    mcopy(&disk, grub_cfg.as_bytes(), "boot/grub/grub.cfg", &dir);
    mmd(&disk, "boot/kboot");
    let initramfs = artifacts.initramfs();
    let initramfs_name = initramfs
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    mcopy(
        &disk,
        &std::fs::read(artifacts.bzimage()).unwrap(),
        "boot/kboot/bzImage",
        &dir,
    );
    mcopy(
        &disk,
        &std::fs::read(&initramfs).unwrap(),
        &format!("boot/kboot/{initramfs_name}"),
        &dir,
    );

    let config = MachineConfig::new(BootPath::Bios, Artifacts::in_dir(&dir));
    let mut qemu = Qemu::start("chain_grub", &config).unwrap();
    qemu.expect("Debian GNU/Linux", BOOT)
        .unwrap_or_else(|e| panic!("GRUB menu did not show the ordinary entry: {e}"));
    qemu.expect("kboot", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("GRUB menu did not show the kboot entry: {e}"));
    std::thread::sleep(Duration::from_secs(2));
    // Ctrl-N: GRUB's "next entry" key (no escape sequence to parse), then Enter.
    qemu.send("\x0e").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    qemu.send("\r").unwrap();
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("kboot did not start from GRUB's entry: {e}"));
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("kboot's menu did not come up: {e}"));
    assert!(
        !qemu.output().contains("the ordinary entry was booted"),
        "GRUB booted the wrong entry"
    );
}
