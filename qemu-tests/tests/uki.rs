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
    let osrel = dir.join("osrel");
    std::fs::write(
        &osrel,
        "NAME=Debian\nPRETTY_NAME=\"Debian UKI Test\"\nID=debian\nVERSION_ID=12\n",
    )
    .unwrap();
    let cmdline = dir.join("cmdline");
    std::fs::write(&cmdline, format!("console=ttyS0,115200 {marker}")).unwrap();
    let initrd = dir.join("target-initrd.img");
    std::fs::write(&initrd, qemu_tests::disks::target_initrd(&dir)).unwrap();
    let uki = dir.join("debian.efi");
    let _ = std::fs::remove_file(&uki);
    let stub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
    let section = |name: &str, file: &std::path::Path, vma: &str| -> Vec<String> {
        vec![
            "--add-section".into(),
            format!("{name}={}", file.display()),
            "--change-section-vma".into(),
            format!("{name}={vma}"),
        ]
    };
    let mut args = Vec::new();
    args.extend(section(".osrel", &osrel, "0x20000"));
    args.extend(section(".cmdline", &cmdline, "0x30000"));
    args.extend(section(
        ".linux",
        &qemu_tests::machine::debian_kernel(),
        "0x2000000",
    ));
    args.extend(section(".initrd", &initrd, "0x4000000"));
    let status = qemu_tests::host_tools::command("objcopy")
        .args(&args)
        .arg(stub)
        .arg(&uki)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "objcopy could not build the UKI from {stub}"
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
