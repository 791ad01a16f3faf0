//! Issue #14: real machines' hardware, not only virtio. The same disk (GPT, ext4 /boot
//! with a Debian-style grub.cfg, Debian's kernel and an initrd that prints
//! TARGET-BOOTED) is attached through one storage controller at a time; the default
//! media must load that controller's modules by device, list the GRUB entry and kexec
//! Debian's kernel. NICs: DHCP through e1000e and vmxnet3, drivers that are modules.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
const MARKER: &str = "kboot.test=hardware-matrix";

/// The test disk, made once per test binary (every boot attaches it with snapshot=on).
fn test_disk() -> PathBuf {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    DISK.get_or_init(|| {
        let cfg = qemu_tests::disks::debian_grub_cfg(
            "/boot/vmlinuz-debian",
            "/boot/target-initrd.img",
            &format!("console=ttyS0,115200 {MARKER}"),
        );
        debian_disk("debian-boot.img", "HWBOOT", cfg)
    })
    .clone()
}

/// A GPT/ext4 disk in target/qemu-tests/hardware with `grub_cfg`, Debian's kernel as
/// /boot/vmlinuz-debian and the TARGET-BOOTED initrd as /boot/target-initrd.img.
fn debian_disk(file: &str, label: &str, grub_cfg: Vec<u8>) -> PathBuf {
    let dir = qemu_tests::machine::workspace_root().join("target/qemu-tests/hardware");
    std::fs::create_dir_all(&dir).unwrap();
    let disk = dir.join(file);
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        label,
        &[
            ("boot/grub/grub.cfg", grub_cfg),
            (
                "boot/vmlinuz-debian",
                std::fs::read(qemu_tests::machine::debian_kernel()).unwrap(),
            ),
            (
                "boot/target-initrd.img",
                qemu_tests::disks::target_initrd(&dir),
            ),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    disk
}

/// Boots the default media with the test disk behind `controller` (QEMU -device
/// arguments that use the drive `hw0`) and requires Debian's kernel to come up from
/// the menu's default entry.
fn boot_through(name: &str, media: Media, controller: &[&str]) {
    let artifacts = media.artifacts();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let disk = test_disk();
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=1".into();
    config.memory_mib = 1024;
    config.extra_args = vec![
        "-drive".into(),
        format!(
            "if=none,id=hw0,format=raw,snapshot=on,file={}",
            disk.display()
        ),
    ];
    config
        .extra_args
        .extend(controller.iter().map(|a| a.to_string()));
    let mut qemu = Qemu::start(&format!("{name}_{}", media.name()), &config).unwrap();
    qemu.expect("kboot: modules:", BOOT)
        .unwrap_or_else(|e| panic!("no coldplug summary: {e}"));
    qemu.expect("kboot: menu", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Debian GNU/Linux", STEP)
        .unwrap_or_else(|e| panic!("the disk behind {controller:?} was not found: {e}"));
    qemu.expect("kboot: booting 'Debian GNU/Linux'", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("Debian's kernel did not run the target initrd: {e}"));
    qemu.expect(MARKER, STEP)
        .unwrap_or_else(|e| panic!("the entry's command line was not used: {e}"));
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "target did not power off"
    );
}

/// Which media boot: the default (the lean kernel and its modules), or Debian's kernel
/// with its hardware-class modules (`cargo xtask image --kernel … --modules …`, built
/// into target/kboot-distro by `cargo xtask test`).
#[derive(Clone, Copy)]
enum Media {
    Lean,
    Distro,
}

impl Media {
    fn artifacts(self) -> Artifacts {
        match self {
            Media::Lean => Artifacts::default_location(),
            Media::Distro => {
                Artifacts::in_dir(qemu_tests::machine::workspace_root().join("target/kboot-distro"))
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Media::Lean => "lean",
            Media::Distro => "distro",
        }
    }
}

/// One test per controller and media.
macro_rules! storage_controller {
    ($lean:ident, $distro:ident, $($arg:expr),+) => {
        #[test]
        fn $lean() {
            boot_through(stringify!($lean), Media::Lean, &[$($arg),+]);
        }
        #[test]
        fn $distro() {
            boot_through(stringify!($lean), Media::Distro, &[$($arg),+]);
        }
    };
}

storage_controller!(
    nvme,
    nvme_distro_kernel,
    "-device",
    "nvme,drive=hw0,serial=kboot0001"
);
// q35's own ICH9 AHCI controller.
storage_controller!(
    ahci_ich9,
    ahci_ich9_distro_kernel,
    "-device",
    "ide-hd,drive=hw0,bus=ide.2"
);
storage_controller!(
    usb_storage_on_xhci,
    usb_storage_on_xhci_distro_kernel,
    "-device",
    "qemu-xhci,id=xhci",
    "-device",
    "usb-storage,bus=xhci.0,drive=hw0"
);
storage_controller!(
    usb_storage_on_ehci,
    usb_storage_on_ehci_distro_kernel,
    "-device",
    "usb-ehci,id=ehci",
    "-device",
    "usb-storage,bus=ehci.0,drive=hw0"
);
// QEMU's SD card needs a power-of-two size: the test disk is 64 MiB.
storage_controller!(
    sd_card_on_sdhci_pci,
    sd_card_on_sdhci_pci_distro_kernel,
    "-device",
    "sdhci-pci",
    "-device",
    "sd-card,drive=hw0"
);
storage_controller!(
    virtio_scsi,
    virtio_scsi_distro_kernel,
    "-device",
    "virtio-scsi-pci,id=vscsi",
    "-device",
    "scsi-hd,drive=hw0,bus=vscsi.0"
);
storage_controller!(
    megaraid_sas,
    megaraid_sas_distro_kernel,
    "-device",
    "megasas-gen2,id=mega",
    "-device",
    "scsi-hd,drive=hw0,bus=mega.0"
);

/// DHCP through a NIC whose driver is a module: the address QEMU's user network hands
/// out (10.0.2.15) on eth0.
fn dhcp_through(name: &str, media: Media, model: &str) {
    let artifacts = media.artifacts();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.mode=shell".into();
    config.memory_mib = 512;
    config.extra_args = vec!["-nic".into(), format!("user,model={model}")];
    let mut qemu = Qemu::start(&format!("{name}_{}", media.name()), &config).unwrap();
    qemu.expect("kboot: modules:", BOOT)
        .unwrap_or_else(|e| panic!("no coldplug summary: {e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));
    let (lease, code) = qemu
        .shell("dhcp", STEP)
        .unwrap_or_else(|e| panic!("dhcp: {e}"));
    assert_eq!(code, 0, "dhcp over {model} failed: {lease}");
    assert!(
        lease.contains("10.0.2.15"),
        "no lease over {model}: {lease}"
    );
    let (lsmod, _) = qemu.shell("lsmod", STEP).unwrap_or_else(|e| panic!("{e}"));
    let driver = if model == "vmxnet3" {
        "vmxnet3"
    } else {
        "e1000e"
    };
    assert!(lsmod.contains(driver), "{driver} not loaded: {lsmod}");
    qemu.send("poweroff\n").unwrap();
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

#[test]
fn dhcp_over_e1000e() {
    dhcp_through("hw_e1000e", Media::Lean, "e1000e");
}

#[test]
fn dhcp_over_vmxnet3() {
    dhcp_through("hw_vmxnet3", Media::Lean, "vmxnet3");
}

#[test]
fn dhcp_over_e1000e_distro_kernel() {
    dhcp_through("hw_e1000e", Media::Distro, "e1000e");
}

#[test]
fn dhcp_over_vmxnet3_distro_kernel() {
    dhcp_through("hw_vmxnet3", Media::Distro, "vmxnet3");
}

/// A disk whose grub.cfg has two entries for Debian's kernel; the second one's command
/// line carries `second`.
fn two_entry_disk(second: &str) -> PathBuf {
    let mut cfg = qemu_tests::disks::debian_grub_cfg(
        "/boot/vmlinuz-debian",
        "/boot/target-initrd.img",
        &format!("console=ttyS0,115200 {MARKER}"),
    );
    cfg.extend_from_slice(
        format!(
            "menuentry 'Second entry' {{\n\tlinux /boot/vmlinuz-debian root=/dev/vda1 ro \
             console=ttyS0,115200 {second}\n\tinitrd /boot/target-initrd.img\n}}\n"
        )
        .as_bytes(),
    );
    debian_disk("two-entries.img", "HWKEYS", cfg)
}

/// A USB keyboard (usb-kbd on qemu-xhci; usbhid is a module loaded by device) drives the
/// menu on the VGA console: Down selects the second entry, `e` edits it, Ctrl-E and text
/// append to its command line, Enter boots it. The machine has no PS/2 controller, so
/// the keys QMP sends can only arrive through the USB keyboard; the serial console shows
/// the takeover by tty0 and the booted kernel's command line.
#[test]
fn usb_keyboard_drives_the_menu_on_vga() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let second = "kboot.test=second-entry";
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 console=tty0 kboot.timeout=60".into();
    config.memory_mib = 1024;
    config.qmp = true;
    config.extra_disks = vec![two_entry_disk(second)];
    // No i8042: the USB keyboard is the machine's only keyboard, so every key the test
    // sends can only have come through usbhid.
    config.extra_args = [
        "-machine",
        "i8042=off",
        "-device",
        "qemu-xhci,id=xhci",
        "-device",
        "usb-kbd,bus=xhci.0,id=usbkbd",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let mut qemu = Qemu::start("hw_usb_keyboard", &config).unwrap();
    let modules = qemu
        .expect("kboot: modules:", BOOT)
        .and_then(|_| qemu.expect("kboot: menu", STEP));
    modules.unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Second entry", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    // usbhid loads in the background while the menu is drawn: press Down until the
    // keyboard is there (Down at the last entry stays there).
    let mut taken_over = false;
    for _ in 0..30 {
        let qmp = qemu.qmp().unwrap_or_else(|e| panic!("{e}"));
        qmp.send_key("down").unwrap_or_else(|e| panic!("{e}"));
        if qemu
            .expect("menu in use on tty0", Duration::from_secs(1))
            .is_ok()
        {
            taken_over = true;
            break;
        }
    }
    if !taken_over {
        qemu.save_log();
        panic!("the USB keyboard did not reach the VGA console's menu in 30 s");
    }
    let qmp = qemu.qmp().unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(300));
    qmp.send_text("e").unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(300));
    qmp.send_ctrl("e").unwrap_or_else(|e| panic!("{e}"));
    qmp.send_text(" usbkbd=typed")
        .unwrap_or_else(|e| panic!("{e}"));
    qmp.send_key("ret").unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot: booting 'Second entry'", STEP)
        .unwrap_or_else(|e| panic!("Enter on the USB keyboard did not boot the entry: {e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect(&format!("{second} usbkbd=typed"), STEP)
        .unwrap_or_else(|e| {
            panic!("the edit typed on the USB keyboard is not on the command line: {e}")
        });
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "target did not power off"
    );
}

/// The std VGA's DRM driver (bochs, a module) is loaded by device and fbcon takes the
/// console: /proc/fb names it; the screen is saved as a PNG for a person to look at.
#[test]
fn vga_display_driver_is_loaded_by_device() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 console=tty0 kboot.mode=shell".into();
    config.qmp = true;
    let mut qemu = Qemu::start("hw_display", &config).unwrap();
    qemu.expect("kboot: modules:", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));
    // Display drivers load in the background once the front ends run.
    let mut fb = String::new();
    for _ in 0..30 {
        fb = qemu
            .shell("cat /proc/fb", STEP)
            .unwrap_or_else(|e| panic!("{e}"))
            .0;
        if fb.contains("bochs") {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(fb.contains("bochs"), "no bochs framebuffer: {fb}");
    let png =
        qemu_tests::machine::workspace_root().join("target/qemu-tests/hardware/vga-fbcon.png");
    qemu.qmp()
        .and_then(|q| q.screendump(&png))
        .unwrap_or_else(|e| panic!("{e}"));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "screendump {} is {size} bytes", png.display());
    qemu.send("poweroff\n").unwrap();
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}
