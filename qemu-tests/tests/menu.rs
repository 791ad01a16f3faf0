//! The boot menu in a real boot: kboot finds a Debian-style GRUB install on a disk this
//! test builds (GPT, ext4 /boot with grub.cfg, a kernel and an initrd), shows it, and
//! boots the default entry with kexec; the second kernel must come up with the entry's
//! command line. Also: a broken grub.cfg on a second disk must not stop the menu.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
const MARKER: &str = "kboot.test=kexec-from-grub-cfg";

fn host(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e} (cargo xtask deps installs it)"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A GPT disk with one ext4 partition at 1 MiB holding `files`, built without root:
/// sgdisk writes the table, mke2fs -E offset= writes the filesystem into the partition.
fn gpt_ext4_disk(path: &Path, label: &str, files: &[(&str, Vec<u8>)]) {
    let content = path.with_extension("d");
    let _ = std::fs::remove_dir_all(&content);
    for (name, data) in files {
        let file = content.join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, data).unwrap();
    }
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path).unwrap().set_len(64 << 20).unwrap();
    let p = path.to_str().unwrap();
    host("sgdisk", &["-n", "1:2048:+60M", "-t", "1:8300", "-c", "1:boot", p]);
    host("mke2fs", &["-q", "-F", "-t", "ext4", "-L", label, "-E", "offset=1048576", "-d", content.to_str().unwrap(), p, "60M"]);
}

fn grub_cfg(cmdline: &str) -> Vec<u8> {
    format!(
        "set default=\"0\"\nset timeout=5\nfunction load_video {{\n  insmod all_video\n}}\n\
         menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class os $menuentry_id_option 'gnulinux-simple-1234' {{\n\
         \tload_video\n\tinsmod gzio\n\tinsmod part_gpt\n\tinsmod ext2\n\
         \techo\t'Loading Linux 6.1.0-kboot ...'\n\
         \tlinux\t/boot/vmlinuz-6.1.0-kboot root=/dev/vda1 ro {cmdline}\n\
         \techo\t'Loading initial ramdisk ...'\n\
         \tinitrd\t/boot/initrd.img-6.1.0-kboot\n}}\n"
    )
    .into_bytes()
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
            ("boot/grub/grub.cfg", grub_cfg(&format!("console=ttyS0,115200 kboot.mode=shell {MARKER}"))),
            ("boot/vmlinuz-6.1.0-kboot", kernel),
            ("boot/initrd.img-6.1.0-kboot", initrd),
        ],
    );
    let broken = dir.join("broken.img");
    gpt_ext4_disk(&broken, "BROKEN", &[("boot/grub/grub.cfg", b"menuentry 'unterminated {\n\tlinux /nope\n\x00\xff garbage".to_vec())]);

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=2".into();
    config.memory_mib = 768;
    config.extra_disks = vec![good, broken];
    let mut qemu = Qemu::start("menu_kexec", &config).unwrap();
    qemu.expect("kboot: ready", BOOT).unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("kboot: menu", STEP).unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Debian GNU/Linux", STEP).unwrap_or_else(|e| panic!("the GRUB entry is not in the menu: {e}"));
    qemu.expect("kboot: booting 'Debian GNU/Linux'", STEP).unwrap_or_else(|e| panic!("the default entry was not booted: {e}"));
    // The second kernel: it prints the command line GRUB's entry asked for.
    qemu.expect(MARKER, BOOT).unwrap_or_else(|e| panic!("kexec'd kernel did not start with the entry's cmdline: {e}"));
    qemu.expect("kboot: ready", BOOT).unwrap_or_else(|e| panic!("second kernel did not reach userspace: {e}"));
    let (cmdline, _) = qemu.shell("cat /proc/cmdline", STEP).unwrap_or_else(|e| panic!("{e}"));
    assert!(cmdline.contains("root=/dev/vda1 ro") && cmdline.contains(MARKER), "{cmdline}");
    qemu.send("poweroff\n").unwrap();
    assert!(qemu.wait_exit(Duration::from_secs(60)).is_some(), "no poweroff");
}
