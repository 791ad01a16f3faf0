//! Unified kernel images (issue #18): found in `EFI/Linux/` on any scanned filesystem,
//! listed by their `.osrel` name and booted by kexec from their own sections, with
//! systemd-stub's addons (`loader/addons/`, `<uki>.extra.d/`) appended; a type #1 entry's
//! `uki-url` downloads the image when it is booted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qemu_tests::servers::{free_port, Nginx};
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
const MARKER: &str = "kboot.test=uki-cmdline";

/// A UKI of Debian's kernel, the target initrd, a `.cmdline` with MARKER and an
/// `.osrel` named "Debian UKI Test".
fn debian_uki(dir: &Path) -> PathBuf {
    let uki = dir.join("debian.efi");
    qemu_tests::disks::systemd_uki(
        dir,
        "NAME=Debian\nPRETTY_NAME=\"Debian UKI Test\"\nID=debian\nVERSION_ID=12\n",
        &format!("console=ttyS0,115200 {MARKER}"),
        &qemu_tests::disks::target_initrd(dir),
        &uki,
    );
    uki
}

/// An addon carrying `text` as its `.cmdline`.
fn addon(dir: &Path, name: &str, text: &str) -> Vec<u8> {
    let cmdline = dir.join(format!("{name}.cmdline"));
    std::fs::write(&cmdline, text).unwrap();
    let out = dir.join(format!("{name}.addon.efi"));
    qemu_tests::disks::pe_on_systemd_stub(&[(".cmdline", cmdline, "0x30000")], &out);
    std::fs::read(&out).unwrap()
}

fn machine(disk: PathBuf, cmdline: &str) -> MachineConfig {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = cmdline.into();
    config.memory_mib = 1024;
    config.extra_disks = vec![disk];
    config
}

/// Issue #18: a unified kernel image (systemd's stub + Debian's kernel + the target
/// initrd + .cmdline + .osrel) in `EFI/Linux/` is listed under its PRETTY_NAME and
/// booted by kexec from its sections: the target prints TARGET-BOOTED and the
/// command line from `.cmdline`, then the global addon's and the UKI's own addon's
/// `.cmdline` in systemd-stub's order.
#[test]
fn unified_kernel_image_is_listed_and_booted() {
    let dir = qemu_tests::machine::workspace_root().join("target/qemu-tests/uki");
    std::fs::create_dir_all(&dir).unwrap();
    let uki = debian_uki(&dir);
    let disk = dir.join("esp-like.img");
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "UKIDISK",
        &[
            ("EFI/Linux/debian.efi", std::fs::read(&uki).unwrap()),
            (
                "loader/addons/console.addon.efi",
                addon(&dir, "global", "kboot.test=global-addon"),
            ),
            (
                "EFI/Linux/debian.efi.extra.d/own.addon.efi",
                addon(&dir, "own", "kboot.test=own-addon"),
            ),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = machine(disk, "console=ttyS0,115200 kboot.timeout=1");
    let mut qemu = Qemu::start("uki_boot", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Debian UKI Test", STEP)
        .unwrap_or_else(|e| panic!("the UKI is not listed under its PRETTY_NAME: {e}"));
    qemu.expect("kboot: booting 'Debian UKI Test'", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("the UKI's .linux did not run its .initrd: {e}"));
    let with_addons = format!("{MARKER} kboot.test=global-addon kboot.test=own-addon");
    qemu.expect(&with_addons, STEP).unwrap_or_else(|e| {
        panic!("the UKI's .cmdline and its addons (global, then its own) were not used: {e}")
    });
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "target did not power off"
    );
}

/// Issue #18: a type #1 entry on a disk with systemd 258's `uki-url` (and no `options`)
/// is listed; booting it downloads the image from nginx into RAM and boots it with the
/// image's own `.cmdline`.
#[test]
fn uki_url_entry_downloads_the_image_when_booted() {
    let dir = qemu_tests::machine::workspace_root().join("target/qemu-tests/uki-url");
    let served = dir.join("www");
    std::fs::create_dir_all(&served).unwrap();
    let uki = debian_uki(&dir);
    std::fs::copy(&uki, served.join("debian.efi")).unwrap();
    let port = free_port().unwrap_or_else(|e| panic!("{e}"));
    let site = format!(
        "server {{ listen 127.0.0.1:{port}; root {}; }}",
        served.display()
    );
    let nginx = Nginx::start(&dir, &site, &[port]).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://10.0.2.2:{port}/debian.efi");
    let entry = format!("title Debian from the network\nuki-url {url}\n");
    let disk = dir.join("entries.img");
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "UKIURL",
        &[("loader/entries/net.conf", entry.into_bytes())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut config = machine(disk, "console=ttyS0,115200 ip=dhcp kboot.timeout=1");
    config.extra_args = vec!["-nic".into(), "user,model=virtio-net-pci".into()];
    let mut qemu = Qemu::start("uki_url", &config).unwrap();
    qemu.expect("Debian from the network", BOOT)
        .unwrap_or_else(|e| panic!("the uki-url entry is not listed: {e}"));
    qemu.expect(&format!("kboot: fetching {url}"), STEP)
        .unwrap_or_else(|e| panic!("the image was not downloaded when booted: {e}"));
    qemu.expect("TARGET-BOOTED", BOOT).unwrap_or_else(|e| {
        panic!(
            "the downloaded UKI did not boot: {e}\nnginx: {}",
            nginx.error_log()
        )
    });
    qemu.expect(MARKER, STEP)
        .unwrap_or_else(|e| panic!("the image's own .cmdline was not used: {e}"));
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "target did not power off"
    );
}
