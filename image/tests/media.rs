//! The image library's output checked by the real tools: `cpio -t` lists exactly what
//! we meant to pack, `sgdisk -v` finds no GPT problems, `fsck.fat -n` finds no FAT
//! problems, `mtype` reads our files back, and two builds give the same bytes.

use std::path::{Path, PathBuf};

use image::cpio::CpioBuilder;
use image::initramfs::{initramfs_archive, InitramfsSpec};
use image::{DiskImageBuilder, ESP_GRUB_CFG, ESP_UEFI_APP};

/// A fresh directory per call (tests run in parallel), removed when the test passes and
/// kept for a look when it fails: each holds up to 130 MB of disk images.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = qemu_tests::host_tools::command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed for this test (cargo xtask deps): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Pseudo-random but fixed bytes, so files have no runs FAT could hide bugs in.
fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn grub_images() -> (Vec<u8>, Vec<u8>) {
    let dir = scratch("grub");
    let core = dir.join("core.img");
    let (ok, log) = tool(
        "grub-mkimage",
        &[
            "-O",
            "i386-pc",
            "-d",
            "/usr/lib/grub/i386-pc",
            "-p",
            "(hd0,gpt2)/boot/grub",
            "-o",
            core.to_str().unwrap(),
            "biosdisk",
            "part_gpt",
            "fat",
            "normal",
            "linux",
        ],
    );
    assert!(ok, "grub-mkimage: {log}");
    (
        std::fs::read("/usr/lib/grub/i386-pc/boot.img").unwrap(),
        std::fs::read(core).unwrap(),
    )
}

fn sample_disk() -> DiskImageBuilder {
    let (boot_img, core_img) = grub_images();
    let mut disk = DiskImageBuilder::new();
    disk.set_uefi_app(payload(3_000_001, 1))
        .set_kernel(payload(2_500_000, 2))
        .set_ramdisk("initramfs.cpio.gz", payload(400_000, 3))
        .set_cmdline("console=ttyS0,115200")
        .set_grub_bios(boot_img, core_img)
        .add_esp_file("loader/a-rather-long-file-name.conf", b"title x\n".to_vec())
        .add_esp_file("EMPTY", Vec::new());
    disk
}

#[test]
fn cpio_listing_matches_what_was_packed() {
    let spec = InitramfsSpec {
        binary: payload(1000, 9),
        applets: vec!["sh".into(), "ls".into(), "mount".into()],
        config_files: vec![("kboot.toml".into(), b"[build]\n".to_vec())],
        scripts: vec![("check.py".into(), b"print(1)\n".to_vec())],
        mtime: 0,
    };
    let archive = initramfs_archive(&spec).unwrap();
    let dir = scratch("cpio");
    let file = dir.join("initramfs.cpio");
    std::fs::write(&file, archive.finish()).unwrap();
    let out = qemu_tests::host_tools::command("sh")
        .arg("-c")
        .arg(format!("cpio -t < {}", file.display()))
        .output()
        .expect("cpio");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    let expected = [
        "bin",
        "bin/kboot",
        "bin/ls",
        "bin/mount",
        "bin/sh",
        "dev",
        "dev/console",
        "etc",
        "etc/kboot",
        "etc/kboot/kboot.toml",
        "init",
        "mnt",
        "proc",
        "root",
        "run",
        "sys",
        "tmp",
        "usr",
        "usr/share",
        "usr/share/kboot",
        "usr/share/kboot/scripts",
        "usr/share/kboot/scripts/check.py",
    ];
    assert_eq!(listed, expected);

    // Extract it for real and check a symlink and the binary's bytes survive.
    let out = qemu_tests::host_tools::command("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && cpio -id --no-absolute-filenames < initramfs.cpio",
            dir.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_link(dir.join("init")).unwrap(),
        Path::new("bin/kboot")
    );
    assert_eq!(
        std::fs::read(dir.join("bin/kboot")).unwrap(),
        payload(1000, 9)
    );
}

#[test]
fn cpio_is_deterministic_regardless_of_insertion_order() {
    let mut a = CpioBuilder::new(7);
    a.add_file("b/x", 0o644, vec![1]).unwrap();
    a.add_file("a", 0o644, vec![2]).unwrap();
    let mut b = CpioBuilder::new(7);
    b.add_file("a", 0o644, vec![2]).unwrap();
    b.add_file("b/x", 0o644, vec![1]).unwrap();
    assert_eq!(a.finish(), b.finish());
}

#[test]
fn disk_image_passes_sgdisk_and_fsck_and_reads_back() {
    let (disk, layout) = sample_disk().build_disk_image().unwrap();
    let dir = scratch("disk");
    let path = dir.join("disk.img");
    std::fs::write(&path, &disk).unwrap();

    let (ok, report) = tool("sgdisk", &["-v", path.to_str().unwrap()]);
    assert!(
        ok && report.contains("No problems found"),
        "sgdisk -v:\n{report}"
    );
    let (_, table) = tool("sgdisk", &["-p", path.to_str().unwrap()]);
    assert!(table.contains("EF02") && table.contains("EF00"), "{table}");

    let esp = dir.join("esp.img");
    let start = (layout.esp_first_lba * 512) as usize;
    std::fs::write(
        &esp,
        &disk[start..start + (layout.esp_sectors * 512) as usize],
    )
    .unwrap();
    let (ok, report) = tool("fsck.fat", &["-n", "-v", esp.to_str().unwrap()]);
    assert!(ok, "fsck.fat -n:\n{report}");
    assert!(report.contains("32 bit entries"), "not FAT32:\n{report}");

    let mtype = |p: &str| {
        let out = qemu_tests::host_tools::command("mtype")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i", esp.to_str().unwrap(), &format!("::{p}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mtype {p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    assert_eq!(mtype(ESP_UEFI_APP), payload(3_000_001, 1));
    assert_eq!(mtype("boot/initramfs.cpio.gz"), payload(400_000, 3));
    assert_eq!(mtype("loader/a-rather-long-file-name.conf"), b"title x\n");
    let cfg = String::from_utf8(mtype(ESP_GRUB_CFG)).unwrap();
    assert!(
        cfg.contains("linux /boot/bzImage console=ttyS0,115200"),
        "{cfg}"
    );
    let (_, label) = tool("fatlabel", &[esp.to_str().unwrap()]);
    assert_eq!(label.trim(), "KBOOT");

    // The MBR points GRUB at the BIOS boot partition, and the partition table survived.
    assert_eq!(
        u64::from_le_bytes(disk[0x5c..0x64].try_into().unwrap()),
        layout.bios_boot_lba
    );
    assert_eq!(disk[450], 0xEE);
}

#[test]
fn disk_image_is_reproducible() {
    let a = sample_disk().build_disk_image().unwrap().0;
    let b = sample_disk().build_disk_image().unwrap().0;
    assert!(a == b, "two builds from the same inputs differ");
}

#[test]
fn missing_inputs_are_named() {
    let err = DiskImageBuilder::new().build_disk_image().unwrap_err();
    assert!(err.to_string().contains("UEFI application"), "{err}");
}
