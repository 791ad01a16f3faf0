//! systemd's automatic boot assessment and Boot Loader Interface in a real UEFI boot
//! (issue #18): kboot counts a try of a BLS entry named `NAME+3.conf` by renaming it to
//! `NAME+2-1.conf` on the disk before kexec, and the booted system finds
//! LoaderBootCountPath naming that file and LoaderDevicePartUUID naming kboot's own ESP.

use std::path::Path;
use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(180);
const STEP: Duration = Duration::from_secs(60);
const LOADER_GUID: &str = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

/// The UTF-16 string in the `hexdump -C` of an efivarfs file printed after `marker`
/// (the 4 attribute bytes skipped).
fn dumped_variable(output: &str, marker: &str) -> Option<String> {
    let after = &output[output
        .find(&format!("{marker}\n"))
        .or_else(|| output.find(marker))?..];
    let mut bytes = Vec::new();
    for line in after.lines().skip(1) {
        // The next variable's marker ends this one's dump.
        if MARKERS.iter().any(|m| line.starts_with(m)) {
            break;
        }
        // Lines of another shape (a kernel message printed between hexdump's lines, or
        // its closing offset line) are not part of the dump.
        let Some((offset, rest)) = line.split_once("  ") else {
            continue;
        };
        if offset.len() != 8 || !offset.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let hex = rest.split('|').next().unwrap_or("");
        bytes.extend(
            hex.split_whitespace()
                .filter_map(|b| u8::from_str_radix(b, 16).ok()),
        );
    }
    let units: Vec<u16> = bytes
        .get(4..)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// What the target's script prints before each variable's hexdump, and after the last.
const MARKERS: [&str; 3] = ["DEVICE-PART-UUID", "BOOT-COUNT-PATH", "END-OF-VARIABLES"];

/// The file names in a directory of the ext4 partition at 1 MiB of `disk`, read on the host.
fn ext4_listing(disk: &Path, dir: &str, scratch: &Path) -> Vec<String> {
    let part = scratch.join("part.img");
    qemu_tests::disks::ext4_partition_checked(disk, &part)
        .unwrap_or_else(|e| panic!("after the rename: {e}"));
    let listed = qemu_tests::host_tools::command("debugfs")
        .arg("-R")
        .arg(format!("ls -p {dir}"))
        .arg(&part)
        .output()
        .unwrap();
    assert!(listed.status.success());
    // `ls -p`: one "/INODE/MODE/UID/GID/NAME/SIZE/" line per entry.
    let mut names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.split('/').nth(5))
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// The unique partition GUID of partition `number` of `disk`, as sgdisk prints it.
fn partition_guid(disk: &Path, number: u32) -> String {
    let out = qemu_tests::host_tools::command("sgdisk")
        .arg("-i")
        .arg(number.to_string())
        .arg(disk)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Partition unique GUID: "))
        .unwrap_or_else(|| panic!("sgdisk -i {number}: {text}"))
        .trim()
        .to_ascii_lowercase()
}

#[test]
fn a_counted_bls_entry_is_renamed_before_kexec_and_the_target_sees_the_loader_variables() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = qemu_tests::machine::workspace_root().join("target/qemu-tests/boot-counting");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let efivars = "/sys/firmware/efi/efivars";
    // Debian builds efivarfs as a module: the target loads it from its initrd.
    let kernel_path = qemu_tests::machine::debian_kernel();
    let release = kernel_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let module = format!("/lib/modules/{release}/kernel/fs/efivarfs/efivarfs.ko");
    let efivarfs = std::fs::read(&module).unwrap_or_else(|e| panic!("{module}: {e}"));
    let script = format!(
        "mkdir -p /sys /proc\nmount -t sysfs sysfs /sys\nmount -t proc proc /proc\n\
         echo 1 > /proc/sys/kernel/printk\ninsmod /efivarfs.ko\n\
         mount -t efivarfs efivarfs {efivars}\n\
         echo DEVICE-PART-UUID\nhexdump -C {efivars}/LoaderDevicePartUUID-{LOADER_GUID}\n\
         echo BOOT-COUNT-PATH\nhexdump -C {efivars}/LoaderBootCountPath-{LOADER_GUID}\n\
         echo END-OF-VARIABLES\n"
    );
    let initrd =
        qemu_tests::disks::target_initrd_running(&dir, &script, &[("efivarfs.ko", efivarfs)]);
    let kernel = std::fs::read(&kernel_path).unwrap();
    // Different options: two entries booting the same thing would be listed once.
    let entry = |title: &str, test: &str| {
        format!(
            "title {title}\nlinux /boot/vmlinuz\ninitrd /boot/initrd.img\n\
             options console=ttyS0,115200 kboot.test={test}\n"
        )
        .into_bytes()
    };
    let disk = dir.join("counted.img");
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "COUNTED",
        &[
            (
                "boot/loader/entries/counted+3.conf",
                entry("Counted Entry", "counted"),
            ),
            (
                "boot/loader/entries/spent+0-3.conf",
                entry("Spent Entry", "spent"),
            ),
            ("boot/vmlinuz", kernel),
            ("boot/initrd.img", initrd),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let esp_guid = partition_guid(&artifacts.disk_img(), 2);

    let mut config = MachineConfig::new(BootPath::Uefi, artifacts);
    config.memory_mib = 1024;
    config.extra_disks = vec![disk.clone()];
    let mut qemu = Qemu::start("boot_counting", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Spent Entry (no tries left)", STEP)
        .unwrap_or_else(|e| panic!("the entry with no tries left is not marked: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let output = qemu.output();
    let counted = qemu_tests::screen::menu_row(&output, "Counted Entry");
    let spent = qemu_tests::screen::menu_row(&output, "Spent Entry");
    let row = |n: &str| {
        n.parse::<usize>()
            .unwrap_or_else(|_| panic!("menu row {n:?}"))
    };
    assert!(
        row(&counted) < row(&spent),
        "the spent entry does not sort last"
    );
    qemu.send(&format!("{counted}\r")).unwrap();
    qemu.expect(
        "kboot: boot counting: vdb1:/boot/loader/entries/counted+2-1.conf",
        STEP,
    )
    .unwrap_or_else(|e| panic!("no try counted: {e}"));
    qemu.expect("END-OF-VARIABLES", BOOT)
        .unwrap_or_else(|e| panic!("the target did not print the loader variables: {e}"));
    let output = qemu.output();
    assert_eq!(
        dumped_variable(&output, "BOOT-COUNT-PATH").as_deref(),
        Some("\\boot\\loader\\entries\\counted+2-1.conf"),
        "LoaderBootCountPath"
    );
    assert_eq!(
        dumped_variable(&output, "DEVICE-PART-UUID").map(|g| g.to_ascii_lowercase()),
        Some(esp_guid),
        "LoaderDevicePartUUID is not kboot's ESP"
    );
    assert!(qemu.wait_exit(STEP).is_some(), "target did not power off");
    drop(qemu);
    assert_eq!(
        ext4_listing(&disk, "/boot/loader/entries", &dir),
        ["counted+2-1.conf", "spent+0-3.conf"]
    );
}
