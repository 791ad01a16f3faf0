//! Unified kernel images (issue #18): found in `EFI/Linux/` on any scanned filesystem,
//! listed by their `.osrel` name and booted by kexec from their own sections.

use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);

/// Issue #18: a unified kernel image (systemd's stub + Debian's kernel + the target
/// initrd + .cmdline + .osrel) in `EFI/Linux/` is listed under its PRETTY_NAME and
/// booted by kexec from its sections: the target prints TARGET-BOOTED and the
/// command line from `.cmdline`.
#[test]
fn unified_kernel_image_is_listed_and_booted() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = qemu_tests::machine::workspace_root().join("target/qemu-tests/uki");
    std::fs::create_dir_all(&dir).unwrap();
    let marker = "kboot.test=uki-cmdline";
    let uki = dir.join("debian.efi");
    qemu_tests::disks::systemd_uki(
        &dir,
        "NAME=Debian\nPRETTY_NAME=\"Debian UKI Test\"\nID=debian\nVERSION_ID=12\n",
        &format!("console=ttyS0,115200 {marker}"),
        &qemu_tests::disks::target_initrd(&dir),
        &uki,
    );
    let disk = dir.join("esp-like.img");
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "UKIDISK",
        &[("EFI/Linux/debian.efi", std::fs::read(&uki).unwrap())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=1".into();
    config.memory_mib = 1024;
    config.extra_disks = vec![disk];
    let mut qemu = Qemu::start("uki_boot", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Debian UKI Test", STEP)
        .unwrap_or_else(|e| panic!("the UKI is not listed under its PRETTY_NAME: {e}"));
    qemu.expect("kboot: booting 'Debian UKI Test'", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("the UKI's .linux did not run its .initrd: {e}"));
    qemu.expect(marker, STEP)
        .unwrap_or_else(|e| panic!("the UKI's .cmdline was not used: {e}"));
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "target did not power off"
    );
}
