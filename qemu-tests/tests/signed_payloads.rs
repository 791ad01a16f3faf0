//! Signed payloads (issue #18, `[security] require_signed`): with a trusted minisign key,
//! a disk entry whose kernel and initrd carry signatures made on the host by the real
//! `minisign` boots; an entry whose kernel has one flipped byte (its signature copied
//! from the good kernel) is refused with the reason on screen and the menu stays up.

use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(180);
const STEP: Duration = Duration::from_secs(60);

#[test]
fn a_signed_entry_boots_and_a_tampered_kernel_is_refused_with_the_reason() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = qemu_tests::machine::workspace_root().join("target/qemu-tests/signed-payloads");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // A throwaway key, and the files signed with it on the host.
    let (public, _) = qemu_tests::minisign::keypair(&dir, "test");
    let kernel = std::fs::read(qemu_tests::machine::debian_kernel()).unwrap();
    let initrd = qemu_tests::disks::target_initrd_running(&dir, "", &[]);
    std::fs::write(dir.join("vmlinuz"), &kernel).unwrap();
    std::fs::write(dir.join("initrd.img"), &initrd).unwrap();
    qemu_tests::minisign::sign(&dir, "test", &["vmlinuz", "initrd.img"], false);
    let kernel_sig = std::fs::read(dir.join("vmlinuz.minisig")).unwrap();
    let initrd_sig = std::fs::read(dir.join("initrd.img.minisig")).unwrap();
    let mut tampered = kernel.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;

    let entry = |title: &str, linux: &str, test: &str| {
        format!(
            "title {title}\nlinux {linux}\ninitrd /boot/initrd.img\n\
             options console=ttyS0,115200 kboot.test={test}\n"
        )
        .into_bytes()
    };
    let disk = dir.join("signed.img");
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "SIGNED",
        &[
            (
                "boot/loader/entries/signed.conf",
                entry("Signed Entry", "/boot/vmlinuz", "signed"),
            ),
            (
                "boot/loader/entries/tampered.conf",
                entry("Tampered Entry", "/boot/vmlinuz-tampered", "tampered"),
            ),
            ("boot/vmlinuz", kernel),
            ("boot/vmlinuz.minisig", kernel_sig.clone()),
            ("boot/vmlinuz-tampered", tampered),
            ("boot/vmlinuz-tampered.minisig", kernel_sig),
            ("boot/initrd.img", initrd),
            ("boot/initrd.img.minisig", initrd_sig),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.mode=shell".into();
    config.memory_mib = 1024;
    config.extra_disks = vec![disk];
    let mut qemu = Qemu::start("signed_payloads", &config).unwrap();
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));
    qemu_tests::minisign::menu_requiring_signatures(&mut qemu, &public, "--timeout -1", STEP);
    qemu.expect("Tampered Entry", STEP)
        .unwrap_or_else(|e| panic!("the menu did not come up: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let output = qemu.output();
    let tampered_row = qemu_tests::screen::menu_row(&output, "Tampered Entry");
    let signed_row = qemu_tests::screen::menu_row(&output, "Signed Entry");
    qemu.send(&format!("{tampered_row}\r")).unwrap();
    qemu.expect("signature does not match: file changed", STEP)
        .unwrap_or_else(|e| panic!("the tampered kernel was not refused with the reason: {e}"));
    // The menu is still up: the signed entry is chosen next and boots.
    std::thread::sleep(Duration::from_secs(1));
    qemu.send(&format!("{signed_row}\r")).unwrap();
    qemu.expect("kboot: booting 'Signed Entry'", STEP)
        .unwrap_or_else(|e| panic!("the menu did not stay up after the refusal: {e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("the signed entry did not boot: {e}"));
    qemu.expect("kboot.test=", STEP)
        .unwrap_or_else(|e| panic!("the target did not print its command line: {e}"));
    std::thread::sleep(Duration::from_millis(500));
    let output = qemu.output();
    let booted = &output[output.rfind("TARGET-BOOTED").unwrap_or(0)..];
    assert!(
        booted.contains("kboot.test=signed") && !booted.contains("kboot.test=tampered"),
        "the target runs another entry's command line: {booted}"
    );
    assert!(qemu.wait_exit(STEP).is_some(), "target did not power off");
}
