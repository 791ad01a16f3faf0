//! Network boot over TFTP in a real boot under TCG, against QEMU's own TFTP server
//! (`-nic user,tftp=DIR,bootfile=NAME`): a PXELINUX tree whose per-MAC config wins over
//! `default`, and an iPXE menu script, each booting Debian's kernel with the target
//! initrd. The DHCP boot file has no scheme, so kboot fetches it from next-server.
use std::path::{Path, PathBuf};
use std::time::Duration;

use qemu_tests::disks::target_initrd;
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
const MAC: &str = "52:54:00:12:34:56";

fn scratch(name: &str) -> PathBuf {
    let dir = qemu_tests::machine::workspace_root()
        .join("target/qemu-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A TFTP root with Debian's kernel and the target initrd under `images/`.
fn tftp_root(dir: &Path) -> PathBuf {
    let root = dir.join("tftp");
    std::fs::create_dir_all(root.join("images")).expect("mkdir");
    std::fs::copy(
        qemu_tests::machine::debian_kernel(),
        root.join("images/vmlinuz"),
    )
    .expect("copy kernel");
    std::fs::write(root.join("images/initrd.img"), target_initrd(dir)).expect("write initrd");
    root
}

fn boot_over_tftp(name: &str, root: &Path, boot_file: &str, label: &str, marker: &str) {
    let artifacts = Artifacts::default_location();
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 ip=dhcp kboot.timeout=1".into();
    config.memory_mib = 768;
    config.extra_args = vec![
        "-nic".into(),
        format!(
            "user,model=virtio-net-pci,mac={MAC},tftp={},bootfile={boot_file}",
            root.display()
        ),
    ];
    let mut qemu = Qemu::start(name, &config).expect("qemu");
    qemu.expect("kboot: network: eth0 10.0.2.15/24 via 10.0.2.2", BOOT)
        .unwrap_or_else(|e| panic!("DHCP did not configure eth0: {e}"));
    qemu.expect(label, STEP)
        .unwrap_or_else(|e| panic!("the served entry is not in the menu: {e}"));
    qemu.expect(&format!("kboot: booting '{label}'"), STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot: fetching tftp://10.0.2.2/images/vmlinuz", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("the served kernel did not run the served initrd: {e}"));
    qemu.expect(marker, STEP)
        .unwrap_or_else(|e| panic!("the entry's cmdline was not used: {e}"));
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

#[test]
fn pxelinux_config_for_the_mac_boots_over_tftp() {
    Artifacts::default_location()
        .check()
        .unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("tftp-pxelinux");
    let root = tftp_root(&dir);
    std::fs::create_dir_all(root.join("pxelinux.cfg")).expect("mkdir");
    // kboot never runs pxelinux.0; it only has to be named.
    std::fs::write(root.join("pxelinux.0"), b"not run").expect("write");
    std::fs::write(
        root.join("pxelinux.cfg/default"),
        "DEFAULT wrong\nLABEL wrong\n  MENU LABEL Wrong default\n  KERNEL images/vmlinuz\n  APPEND console=ttyS0,115200 pxe_test=default\n",
    )
    .expect("write default");
    std::fs::write(
        root.join("pxelinux.cfg/01-52-54-00-12-34-56"),
        "DEFAULT debian\nTIMEOUT 10\nLABEL debian\n  MENU LABEL PXE Debian\n  KERNEL images/vmlinuz\n  INITRD images/initrd.img\n  APPEND console=ttyS0,115200 pxe_test=by-mac\n",
    )
    .expect("write per-MAC config");
    boot_over_tftp("tftp_pxelinux", &root, "pxelinux.0", "PXE Debian", "pxe_test=by-mac");
}

#[test]
fn ipxe_menu_script_boots_over_tftp() {
    Artifacts::default_location()
        .check()
        .unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("tftp-ipxe");
    let root = tftp_root(&dir);
    std::fs::write(
        root.join("boot.ipxe"),
        "#!ipxe\nset base images\nmenu kboot test\nitem --gap -- Linux\nitem debian iPXE Debian\nitem shell iPXE shell\nchoose --default debian --timeout 1000 target && goto ${target}\n:debian\nkernel ${base}/vmlinuz console=ttyS0,115200 ipxe_test=${net0/mac:hexhyp}\ninitrd ${base}/initrd.img\nboot\n:shell\nshell\n",
    )
    .expect("write script");
    boot_over_tftp(
        "tftp_ipxe",
        &root,
        "boot.ipxe",
        "iPXE Debian",
        "ipxe_test=52-54-00-12-34-56",
    );
}
