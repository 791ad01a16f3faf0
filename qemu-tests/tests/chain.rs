//! Chaining from an existing GRUB (issue #7): a BIOS disk whose GRUB menu has an ordinary
//! distro entry first and kboot's generated entry (target/kboot/grub-kboot.cfg) second, with
//! kboot installed where the entry looks (/boot/kboot/). Choosing kboot in GRUB's menu must
//! boot kboot to its own menu.

use std::path::Path;
use std::time::Duration;

use qemu_tests::disks::ESP_OFFSET;
use qemu_tests::machine::workspace_root;
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(180);

fn mcopy(image: &Path, data: &[u8], dest: &str, scratch: &Path) {
    qemu_tests::disks::esp_write(image, data, dest, scratch)
        .unwrap_or_else(|e| panic!("mcopy {dest}: {e}"));
}

fn mmd(image: &Path, dir: &str) {
    let _ = qemu_tests::host_tools::command("mmd")
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

/// kboot.efi with another command line of the same length (the UKI's .cmdline section is
/// patched in place): an EFI application whose boot is recognisable on the console.
fn marked_uki(artifacts: &Artifacts) -> Vec<u8> {
    let normal = qemu_tests::machine::DEFAULT_CMDLINE.as_bytes();
    let marked = b"console=ttyS0,115200 kboot.shell ";
    assert_eq!(normal.len(), marked.len());
    let mut efi = std::fs::read(artifacts.kboot_efi()).unwrap();
    let at = efi
        .windows(normal.len())
        .position(|w| w == normal)
        .expect("the default command line inside kboot.efi");
    efi[at..at + normal.len()].copy_from_slice(marked);
    efi
}

/// Issue #7's UEFI hand-back: an EFI application on an EFI system partition of a second
/// disk is listed in kboot's menu; choosing it creates a Boot#### option, sets BootNext and
/// reboots; the firmware starts the application; the boot after that is kboot's own again.
#[test]
fn efi_application_is_handed_back_to_the_firmware_with_boot_next() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = workspace_root().join("target/qemu-tests/chain-efi");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let esp = dir.join("esp-disk.img");
    std::fs::File::create(&esp)
        .and_then(|f| f.set_len(64 << 20))
        .unwrap();
    let run = |program: &str, args: &[&str]| {
        let out = qemu_tests::host_tools::command(program)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let esp_path = esp.to_str().unwrap();
    run("sgdisk", &["-n", "1:2048:+60M", "-t", "1:ef00", esp_path]);
    run(
        "mkfs.fat",
        &[
            "-F", "32", "--offset", "2048", "-n", "TESTESP", esp_path, "61440",
        ],
    );
    let image = format!("{esp_path}@@1048576");
    run("mmd", &["-i", &image, "::EFI", "::EFI/test"]);
    let app = dir.join("app.efi");
    std::fs::write(&app, marked_uki(&artifacts)).unwrap();
    run(
        "mcopy",
        &["-i", &image, app.to_str().unwrap(), "::EFI/test/app.efi"],
    );

    let mut config = MachineConfig::new(BootPath::Uefi, artifacts);
    config.extra_disks = vec![esp.clone()];
    config.allow_reboot = true;
    let mut qemu = Qemu::start("chain_efi_bootnext", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("EFI: vdb1:", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("the EFI application is not in the menu: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let number = qemu_tests::screen::menu_row(&qemu.output(), "EFI: vdb1:");
    qemu.send(&format!("{number}\r")).unwrap();
    qemu.expect("rebooting into the firmware", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("no BootNext hand-back: {e}"));
    // The firmware starts the application: its kernel reports the marked command line.
    qemu.expect("kboot.shell", BOOT)
        .unwrap_or_else(|e| panic!("the firmware did not start the EFI application: {e}"));
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_secs(2));
    qemu.send("reboot\n").unwrap();
    // BootNext is one-shot: the next boot is kboot's own entry with its own command line.
    qemu.expect("Command line:", BOOT)
        .unwrap_or_else(|e| panic!("no boot after the application: {e}"));
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    let out = qemu.output();
    let last_boot = &out[out.rfind("Command line:").unwrap()..];
    let cmdline = last_boot.lines().next().unwrap();
    assert!(
        !cmdline.contains("kboot.shell"),
        "BootNext was not one-shot: {cmdline}"
    );
}

/// "Reboot into firmware setup": OsIndications asks OVMF to stop in its setup screen.
#[test]
fn firmware_setup_entry_reboots_into_the_setup_screen() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let mut config = MachineConfig::new(BootPath::Uefi, artifacts);
    config.allow_reboot = true;
    let mut qemu = Qemu::start("chain_fwsetup", &config).unwrap();
    qemu.expect("Reboot into firmware setup", BOOT)
        .unwrap_or_else(|e| panic!("no firmware-setup entry in the menu: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let number = qemu_tests::screen::menu_row(&qemu.output(), "Reboot into firmware setup");
    qemu.send(&format!("{number}\r")).unwrap();
    qemu.expect("rebooting into the firmware setup", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    // OVMF's setup front page (UiApp) instead of booting kboot again.
    qemu.expect("Boot Maintenance Manager", BOOT)
        .unwrap_or_else(|e| panic!("the firmware did not open its setup screen: {e}"));
}
