//! The boot menu in a real boot: kboot finds a Debian-style GRUB install on a disk this
//! test builds (GPT, ext4 /boot with grub.cfg, a kernel and an initrd), shows it, and
//! boots the default entry with kexec; the second kernel must come up with the entry's
//! command line. Also: a broken grub.cfg on a second disk must not stop the menu.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
const MARKER: &str = "kboot.test=kexec-from-grub-cfg";

fn gpt_ext4_disk(path: &Path, label: &str, files: &[(&str, Vec<u8>)]) {
    qemu_tests::disks::gpt_ext4_disk(path, label, files).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn menu_finds_grub_entry_and_kexecs_it() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir: PathBuf = qemu_tests::machine::workspace_root().join("target/qemu-tests/menu");
    std::fs::create_dir_all(&dir).unwrap();
    let kernel = std::fs::read(artifacts.bzimage()).unwrap();
    let initrd = std::fs::read(artifacts.initramfs()).unwrap();
    let good = dir.join("debian.img");
    gpt_ext4_disk(
        &good,
        "DEBROOT",
        &[
            (
                "boot/grub/grub.cfg",
                qemu_tests::disks::debian_grub_cfg(
                    "/boot/vmlinuz-6.1.0-kboot",
                    "/boot/initrd.img-6.1.0-kboot",
                    &format!("console=ttyS0,115200 kboot.mode=shell {MARKER}"),
                ),
            ),
            ("boot/vmlinuz-6.1.0-kboot", kernel),
            ("boot/initrd.img-6.1.0-kboot", initrd),
        ],
    );
    let broken = dir.join("broken.img");
    gpt_ext4_disk(
        &broken,
        "BROKEN",
        &[(
            "boot/grub/grub.cfg",
            b"menuentry 'unterminated {\n\tlinux /nope\n\x00\xff garbage".to_vec(),
        )],
    );

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=2".into();
    config.memory_mib = 768;
    config.extra_disks = vec![good, broken];
    let mut qemu = Qemu::start("menu_kexec", &config).unwrap();
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot: menu", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Debian GNU/Linux", STEP)
        .unwrap_or_else(|e| panic!("the GRUB entry is not in the menu: {e}"));
    qemu.expect("kboot: booting 'Debian GNU/Linux'", STEP)
        .unwrap_or_else(|e| panic!("the default entry was not booted: {e}"));
    // The second kernel: it prints the command line GRUB's entry asked for.
    qemu.expect(MARKER, BOOT)
        .unwrap_or_else(|e| panic!("kexec'd kernel did not start with the entry's cmdline: {e}"));
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("second kernel did not reach userspace: {e}"));
    let (cmdline, _) = qemu
        .shell("cat /proc/cmdline", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        cmdline.contains("root=/dev/vda1 ro") && cmdline.contains(MARKER),
        "{cmdline}"
    );
    qemu.send("poweroff\n").unwrap();
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

/// Issue #5's scenarios 1, 3 and 4: a corrupt kernel shows the kexec error and the menu
/// stays; a BLS entry chosen by keystrokes, with `kboot_test=1` appended in the editor,
/// boots Debian's real kernel; and the disk is byte-identical afterwards.
#[test]
fn bls_entry_edited_and_booted_after_a_corrupt_kernel_fails() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir: PathBuf = qemu_tests::machine::workspace_root().join("target/qemu-tests/menu-bls");
    std::fs::create_dir_all(&dir).unwrap();
    let disk = dir.join("target.img");
    let corrupt_cfg = "set timeout=5\nmenuentry 'Corrupt Kernel' {\n\tlinux /boot/vmlinuz-corrupt root=/dev/vda1\n}\n";
    let bls = "title Debian BLS Test\nversion 6.1.0-kboot\nlinux /boot/vmlinuz-debian\ninitrd /boot/target-initrd.img\noptions console=ttyS0,115200\n";
    gpt_ext4_disk(
        &disk,
        "TARGET",
        &[
            ("boot/grub/grub.cfg", corrupt_cfg.as_bytes().to_vec()),
            (
                "boot/vmlinuz-corrupt",
                b"this is not a kernel\n".repeat(100),
            ),
            ("loader/entries/debian-test.conf", bls.as_bytes().to_vec()),
            (
                "boot/vmlinuz-debian",
                std::fs::read(qemu_tests::machine::debian_kernel()).unwrap(),
            ),
            (
                "boot/target-initrd.img",
                qemu_tests::disks::target_initrd(&dir),
            ),
        ],
    );
    let before = qemu_tests::disks::sha256(&disk);

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=60".into();
    config.memory_mib = 1024;
    config.extra_disks = vec![disk.clone()];
    let mut qemu = Qemu::start("menu_bls_edit", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Debian BLS Test", STEP)
        .unwrap_or_else(|e| panic!("BLS entry not listed: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let screen = qemu.output();
    let corrupt = qemu_tests::screen::menu_row(&screen, "Corrupt Kernel");
    let target = qemu_tests::screen::menu_row(&screen, "Debian BLS Test");

    qemu.send(&format!("{corrupt}\r")).unwrap();
    qemu.expect("not a bzImage", STEP)
        .unwrap_or_else(|e| panic!("no kexec error for the corrupt kernel: {e}"));
    // The menu is still there: choose the BLS entry, edit (e), go to the end (Ctrl-E),
    // append, boot (Enter).
    qemu.expect("Debian BLS Test", STEP)
        .unwrap_or_else(|e| panic!("menu gone after the error: {e}"));
    qemu.send(&format!("{target}")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    qemu.send("e").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    qemu.send("\x05 kboot_test=1\r").unwrap();
    qemu.expect("kboot: booting 'Debian BLS Test'", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("Debian's kernel did not run the target initrd: {e}"));
    let after_marker = qemu.expect("kboot_test=1", STEP);
    assert!(
        after_marker.is_ok(),
        "target cmdline lacks the edit (log: {})",
        qemu.log_path().display()
    );
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "target did not power off"
    );
    assert_eq!(
        qemu_tests::disks::sha256(&disk),
        before,
        "the menu wrote to the disk"
    );
}

/// Issue #7's hand-back to GRUB: a chainload entry (Windows) chosen in kboot's menu is
/// booted by GRUB after a reboot, through `next_entry` in the disk's grubenv, exactly as
/// grub-reboot writes it (checked with grub-editenv); then kboot reboots.
#[test]
fn chainload_entry_is_handed_back_to_grub_with_next_entry() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir: PathBuf =
        qemu_tests::machine::workspace_root().join("target/qemu-tests/menu-handback");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let title = "Windows Boot Manager (on /dev/sda1)";
    let mut cfg = qemu_tests::disks::debian_grub_cfg("/boot/vmlinuz", "/boot/initrd.img", "quiet");
    cfg.extend_from_slice(
        format!(
            "menuentry '{title}' --class windows --class os $menuentry_id_option 'osprober-efi-1234' {{\n\
             \tinsmod part_gpt\n\tinsmod fat\n\tchainloader /EFI/Microsoft/Boot/bootmgfw.efi\n}}\n"
        )
        .as_bytes(),
    );
    let env = dir.join("grubenv.orig");
    let made = qemu_tests::host_tools::command("grub-editenv")
        .arg(&env)
        .arg("create")
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "grub-editenv (apt install grub-common)"
    );
    let made = qemu_tests::host_tools::command("grub-editenv")
        .arg(&env)
        .args(["set", "saved_entry=gnulinux-simple-1234"])
        .status();
    assert!(made.is_ok_and(|s| s.success()));
    let disk = dir.join("handback.img");
    gpt_ext4_disk(
        &disk,
        "HANDBACK",
        &[
            ("boot/grub/grub.cfg", cfg),
            ("boot/grub/grubenv", std::fs::read(&env).unwrap()),
            ("boot/vmlinuz", std::fs::read(artifacts.bzimage()).unwrap()),
            (
                "boot/initrd.img",
                std::fs::read(artifacts.initramfs()).unwrap(),
            ),
        ],
    );

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=60".into();
    config.extra_disks = vec![disk.clone()];
    let mut qemu = Qemu::start("menu_handback", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Windows Boot Manager", STEP)
        .unwrap_or_else(|e| panic!("chainload entry not listed: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let number = qemu_tests::screen::menu_row(&qemu.output(), "Windows Boot Manager");
    qemu.send(&format!("{number}\r")).unwrap();
    qemu.expect(
        &format!("set next_entry='{title}'; rebooting into GRUB"),
        STEP,
    )
    .unwrap_or_else(|e| panic!("no hand-back: {e}"));
    assert!(
        qemu.wait_exit(STEP).is_some(),
        "kboot did not reboot after the hand-back"
    );
    drop(qemu);

    // The ext4 partition (1 MiB in, 60 MiB) read from the host without mounting.
    let part = dir.join("part.img");
    qemu_tests::disks::ext4_partition_checked(&disk, &part).unwrap_or_else(|e| panic!("{e}"));
    let got = dir.join("grubenv.after");
    let dumped = qemu_tests::host_tools::command("debugfs")
        .arg("-R")
        .arg(format!("dump /boot/grub/grubenv {}", got.display()))
        .arg(&part)
        .output()
        .unwrap();
    assert!(dumped.status.success());
    assert_eq!(std::fs::metadata(&got).unwrap().len(), 1024);
    let listed = qemu_tests::host_tools::command("grub-editenv")
        .arg(&got)
        .arg("list")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "saved_entry=gnulinux-simple-1234",
            &format!("next_entry={title}")
        ]
    );
}

/// Waits until the VGA text buffer passes `check`; returns the rows it checked.
fn wait_vga(
    qemu: &mut Qemu,
    scratch: &Path,
    what: &str,
    check: impl Fn(&[String]) -> Option<Vec<String>>,
) -> Result<Vec<String>, String> {
    let deadline = std::time::Instant::now() + STEP;
    let mut rows = Vec::new();
    while std::time::Instant::now() < deadline {
        rows = qemu.qmp()?.vga_text_rows(scratch)?;
        if let Some(seen) = check(&rows) {
            return Ok(seen);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    qemu.save_log();
    let shown: Vec<&String> = rows.iter().filter(|r| !r.is_empty()).collect();
    Err(format!(
        "{what} not on the VGA screen; its text buffer has:\n{shown:#?}"
    ))
}

/// The VGA text screen (25 rows from the menu's title; vgacon scrolls by moving the
/// screen's start in the text buffer), once it shows `wanted`.
fn vga_screen_showing(qemu: &mut Qemu, wanted: &str, scratch: &Path) -> Result<String, String> {
    let rows = wait_vga(qemu, scratch, wanted, |rows| {
        let top = rows.iter().rposition(|r| r.contains("kboot boot menu"))?;
        let screen = &rows[top..(top + 25).min(rows.len())];
        screen
            .iter()
            .any(|r| r.contains(wanted))
            .then(|| screen.to_vec())
    })?;
    Ok(rows.join("\n"))
}

/// A machine with the serial and the VGA console, a QMP socket and `disks`, booted to
/// the menu; and a scratch file for reading the VGA text buffer.
fn serial_and_vga_menu(name: &str, artifacts: Artifacts, disks: Vec<PathBuf>) -> (Qemu, PathBuf) {
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    // bochs (the std VGA's DRM driver, a module loaded by device) would turn the VGA
    // console into a framebuffer; these tests read the text buffer at 0xB8000.
    config.cmdline =
        "console=ttyS0,115200 console=tty0 kboot.timeout=60 modprobe.blacklist=bochs".into();
    config.memory_mib = 768;
    config.extra_disks = disks;
    config.qmp = true;
    let mut qemu = Qemu::start(name, &config).unwrap();
    let scratch = qemu.scratch_dir().unwrap().join("vga.bin");
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    (qemu, scratch)
}

/// Issue #14: with `console=ttyS0 console=tty0` one menu runs on both. The VGA screen
/// (read from the text buffer over QMP, and saved as a PNG) shows the menu and the
/// countdown; a key on the VGA keyboard takes the menu over (the serial console says
/// so), a key on the serial line takes it back, and an entry booted from the VGA
/// keyboard comes up on the serial console.
#[test]
fn menu_runs_on_serial_and_vga_at_once() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir: PathBuf =
        qemu_tests::machine::workspace_root().join("target/qemu-tests/menu-consoles");
    std::fs::create_dir_all(&dir).unwrap();
    let second_marker = "kboot.test=booted-from-vga";
    let mut cfg = qemu_tests::disks::debian_grub_cfg(
        "/boot/vmlinuz-6.1.0-kboot",
        "/boot/initrd.img-6.1.0-kboot",
        &format!("console=ttyS0,115200 kboot.mode=shell {MARKER}"),
    );
    cfg.extend_from_slice(
        format!(
            "menuentry 'Second entry' {{\n\tlinux /boot/vmlinuz-6.1.0-kboot {second_marker} \
             root=/dev/vda1 ro console=ttyS0,115200 kboot.mode=shell\n\
             \tinitrd /boot/initrd.img-6.1.0-kboot\n}}\n"
        )
        .as_bytes(),
    );
    let disk = dir.join("debian.img");
    gpt_ext4_disk(
        &disk,
        "DEBROOT",
        &[
            ("boot/grub/grub.cfg", cfg),
            (
                "boot/vmlinuz-6.1.0-kboot",
                std::fs::read(artifacts.bzimage()).unwrap(),
            ),
            (
                "boot/initrd.img-6.1.0-kboot",
                std::fs::read(artifacts.initramfs()).unwrap(),
            ),
        ],
    );

    let (mut qemu, scratch) = serial_and_vga_menu("menu_consoles", artifacts, vec![disk]);
    qemu.expect("Second entry", STEP)
        .unwrap_or_else(|e| panic!("the menu is not on the serial console: {e}"));
    let vga = vga_screen_showing(&mut qemu, "Booting 'Debian GNU/Linux' in", &scratch)
        .unwrap_or_else(|e| panic!("the menu is not on the VGA console: {e}"));
    assert!(vga.contains("Second entry"), "{vga}");
    let png = dir.join("menu-vga.png");
    qemu.qmp()
        .and_then(|q| q.screendump(&png))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("VGA screen ({}):\n{vga}", png.display());

    // A key on the VGA keyboard acts there and takes the menu over.
    qemu.qmp()
        .and_then(|q| q.send_key("down"))
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("menu in use on tty0 - press any key to take it back", STEP)
        .unwrap_or_else(|e| panic!("the serial console does not show the takeover: {e}"));
    // The lines under the list show what the selected entry boots.
    let selected = format!("vmlinuz-6.1.0-kboot {second_marker} root=/dev/vda1");
    let vga = vga_screen_showing(&mut qemu, &selected, &scratch).unwrap_or_else(|e| {
        panic!("Down on the VGA keyboard did not select the second entry: {e}")
    });
    assert!(
        !vga.contains("Booting '"),
        "the countdown still runs:\n{vga}"
    );
    // A key on the serial line only takes it back (the selection stays).
    qemu.send("k").unwrap();
    vga_screen_showing(
        &mut qemu,
        "menu in use on ttyS0 - press any key to take it back",
        &scratch,
    )
    .unwrap_or_else(|e| panic!("the VGA console does not show the takeback: {e}"));
    // Enter on the VGA keyboard takes it back; the next one boots the second entry.
    qemu.qmp()
        .and_then(|q| q.send_key("ret"))
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("menu in use on tty0", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.qmp()
        .and_then(|q| q.send_key("ret"))
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot: booting 'Second entry'", STEP)
        .unwrap_or_else(|e| panic!("Enter on the VGA keyboard did not boot the entry: {e}"));
    qemu.expect(second_marker, BOOT)
        .unwrap_or_else(|e| panic!("the kexec'd kernel did not start: {e}"));
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("second kernel did not reach userspace: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    qemu.send("poweroff\n").unwrap();
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

/// Issue #14: `c` pressed on the VGA keyboard starts the shell there and a shell on the
/// serial console too; leaving the VGA shell brings the menu back on the VGA console.
#[test]
fn shell_asked_for_on_vga_gives_every_console_a_shell() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let (mut qemu, scratch) = serial_and_vga_menu("menu_consoles_shell", artifacts, Vec::new());
    vga_screen_showing(&mut qemu, "c: shell", &scratch).unwrap_or_else(|e| panic!("{e}"));
    qemu.qmp()
        .and_then(|q| q.send_key("c"))
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot# ", STEP)
        .unwrap_or_else(|e| panic!("no shell on the serial console: {e}"));
    let prompt = |rows: &[String]| {
        let menu = rows.iter().any(|r| r.contains("kboot boot menu"));
        let shell = rows.iter().any(|r| r.starts_with("kboot#"));
        (shell && !menu).then(Vec::new)
    };
    wait_vga(&mut qemu, &scratch, "the shell prompt", prompt).unwrap_or_else(|e| panic!("{e}"));
    let (echoed, status) = qemu
        .shell("echo serial-shell-works", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((echoed.trim(), status), ("serial-shell-works", 0));
    qemu.qmp()
        .and_then(|q| q.send_text("exit\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    // The menu comes back on the VGA console, waiting (no countdown after the shell).
    let vga = vga_screen_showing(&mut qemu, "Up/Down: select", &scratch)
        .unwrap_or_else(|e| panic!("the menu did not come back on VGA: {e}"));
    assert!(!vga.contains("Booting '"), "{vga}");
    qemu.send("poweroff\n").unwrap();
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

/// Issue #14's hot-plug: a USB stick plugged in (QMP device_add usb-storage on the xHCI
/// controller) while the menu waits gets its entries listed without a key, and the
/// countdown goes on since nobody pressed one.
#[test]
fn a_disk_plugged_in_while_the_menu_waits_is_listed() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir: PathBuf = qemu_tests::machine::workspace_root().join("target/qemu-tests/menu-hotplug");
    std::fs::create_dir_all(&dir).unwrap();
    // Two disks with one entry each (kernels that are never booted).
    let disk = |name: &str, label: &str| {
        let path = dir.join(format!("{name}.img"));
        let cfg = format!("menuentry '{label}' {{\n\tlinux /boot/vmlinuz root=/dev/sda1\n}}\n");
        gpt_ext4_disk(
            &path,
            name,
            &[
                ("boot/grub/grub.cfg", cfg.into_bytes()),
                ("boot/vmlinuz", b"not a kernel".to_vec()),
            ],
        );
        path
    };
    let stick = disk("STICK", "Entry on the stick");
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=120".into();
    config.qmp = true;
    config.extra_disks = vec![disk("FIXED", "Entry on the fixed disk")];
    // The stick goes into a USB 3 port: xhci_pci is loaded at boot (coldplug), and
    // usb-storage only when the stick appears (the uevent listener).
    config.extra_args = vec!["-device".into(), "qemu-xhci,id=xhci".into()];
    let mut qemu = Qemu::start("menu_hotplug", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Press any key to stop.", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    let qmp = qemu.qmp().unwrap_or_else(|e| panic!("{e}"));
    let drive = format!(
        "drive_add 0 if=none,id=stick,format=raw,snapshot=on,file={}",
        stick.display()
    );
    let added = qmp
        .human_monitor_command(&drive)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(added.contains("OK"), "drive_add: {added}");
    qmp.device_add(
        r#"{"driver": "usb-storage", "drive": "stick", "bus": "xhci.0", "id": "stickdisk"}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot: menu", STEP)
        .unwrap_or_else(|e| panic!("no scan after the disk appeared: {e}"));
    qemu.expect("Entry on the stick", STEP)
        .unwrap_or_else(|e| panic!("the new disk's entry is not listed: {e}"));
    qemu.expect("Press any key to stop.", STEP)
        .unwrap_or_else(|e| panic!("the countdown stopped without a key: {e}"));
    qemu.send("c").unwrap();
    qemu.expect("kboot# ", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.send("poweroff\n").unwrap();
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}
