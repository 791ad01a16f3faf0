//! Test disks built without root: a GPT with one ext4 partition at 1 MiB holding given
//! files (sgdisk writes the table, `mke2fs -E offset= -d` the filesystem), and a
//! Debian-style grub.cfg for them.

use std::path::{Path, PathBuf};

fn host(program: &str, args: &[&str]) -> Result<(), String> {
    let out = crate::host_tools::command(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e} (cargo xtask deps installs it)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The ESP of kboot's disk.img starts at LBA 4096 (image::DiskImageBuilder's layout).
pub const ESP_OFFSET: u64 = 4096 * 512;

/// Writes `data` as `dest` (a path such as "EFI/BOOT/BOOTX64.EFI") on the ESP of `image`,
/// a copy of kboot's disk.img, replacing what is there (`mcopy -o`); `scratch` holds the
/// file on its way.
pub fn esp_write(image: &Path, data: &[u8], dest: &str, scratch: &Path) -> Result<(), String> {
    let src = scratch.join("esp-write.tmp");
    std::fs::write(&src, data).map_err(|e| format!("{}: {e}", src.display()))?;
    let result = host(
        "mcopy",
        &[
            "-o",
            "-i",
            &format!("{}@@{ESP_OFFSET}", image.display()),
            &src.to_string_lossy(),
            &format!("::{dest}"),
        ],
    );
    let _ = std::fs::remove_file(&src);
    result
}

pub fn gpt_ext4_disk(path: &Path, label: &str, files: &[(&str, Vec<u8>)]) -> Result<(), String> {
    gpt_ext4_disk_sized(path, label, files, 64)
}

/// `gpt_ext4_disk` on a disk of `mib` MiB (at least 4): the partition fills it but for
/// the first MiB and the backup table.
pub fn gpt_ext4_disk_sized(
    path: &Path,
    label: &str,
    files: &[(&str, Vec<u8>)],
    mib: u64,
) -> Result<(), String> {
    let content = path.with_extension("d");
    let _ = std::fs::remove_dir_all(&content);
    write_tree(&content, files)?;
    gpt_ext4_from_tree(path, label, &content, mib)
}

/// Writes `files` (paths relative to `root`) under `root`, making directories as needed.
pub fn write_tree<N: AsRef<Path>>(root: &Path, files: &[(N, Vec<u8>)]) -> Result<(), String> {
    for (name, data) in files {
        let file = root.join(name);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&file, data).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

/// A GPT disk image of `mib` MiB at `path` whose one ext4 partition (1 MiB in) holds the
/// tree at `content` as it is (symlinks included).
pub fn gpt_ext4_from_tree(
    path: &Path,
    label: &str,
    content: &Path,
    mib: u64,
) -> Result<(), String> {
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path)
        .and_then(|f| f.set_len(mib.max(4) << 20))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let p = path.to_str().ok_or("non-UTF-8 path")?;
    let part_mib = mib.max(4) - 4;
    let extent = format!("1:2048:+{part_mib}M");
    host(
        "sgdisk",
        &["-n", &extent, "-t", "1:8300", "-c", "1:boot", p],
    )?;
    host(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            label,
            "-E",
            "offset=1048576",
            "-d",
            content.to_str().ok_or("non-UTF-8 path")?,
            p,
            &format!("{part_mib}M"),
        ],
    )
}

/// The ext4 partition of a `gpt_ext4_disk` (1 MiB in, 60 MiB) copied to `part` and
/// checked with `e2fsck -fn`, so a test can read it with debugfs without mounting. Err
/// carries e2fsck's findings when the filesystem is damaged.
pub fn ext4_partition_checked(disk: &Path, part: &Path) -> Result<(), String> {
    let copied = crate::host_tools::command("dd")
        .arg(format!("if={}", disk.display()))
        .arg(format!("of={}", part.display()))
        .args(["bs=1M", "skip=1", "count=60", "status=none"])
        .status()
        .map_err(|e| format!("dd: {e}"))?;
    if !copied.success() {
        return Err(format!("dd of {} failed: {copied}", disk.display()));
    }
    let fsck = crate::host_tools::command("e2fsck")
        .arg("-fn")
        .arg(part)
        .output()
        .map_err(|e| format!("e2fsck: {e}"))?;
    match fsck.status.success() {
        true => Ok(()),
        false => Err(format!(
            "filesystem damaged: {}",
            String::from_utf8_lossy(&fsck.stdout)
        )),
    }
}

/// A grub.cfg shaped like grub-mkconfig's on Debian, with one entry.
pub fn debian_grub_cfg(kernel: &str, initrd: &str, cmdline: &str) -> Vec<u8> {
    format!(
        "set default=\"0\"\nset timeout=5\nfunction load_video {{\n  insmod all_video\n}}\n\
         menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class os $menuentry_id_option 'gnulinux-simple-1234' {{\n\
         \tload_video\n\tinsmod gzio\n\tinsmod part_gpt\n\tinsmod ext2\n\
         \techo\t'Loading Linux ...'\n\
         \tlinux\t{kernel} root=/dev/vda1 ro {cmdline}\n\
         \techo\t'Loading initial ramdisk ...'\n\
         \tinitrd\t{initrd}\n}}\n"
    )
    .into_bytes()
}

/// A newc cpio archive of the tree at `root` (sorted, so it is reproducible).
pub fn cpio_newc(root: &Path) -> Result<Vec<u8>, String> {
    let out = crate::host_tools::command("sh")
        .arg("-c")
        .arg("find . | sort | cpio -o -H newc --quiet")
        .current_dir(root)
        .output()
        .map_err(|e| format!("cpio: {e}"))?;
    if !out.status.success() {
        return Err(format!("cpio: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

/// An unpartitioned ext4 image of `mib` MiB labelled `label` (mke2fs, no root needed).
pub fn ext4_image(path: &Path, label: &str, mib: u64) -> Result<(), String> {
    ext4_image_with(path, label, mib, None)
}

/// `ext4_image` holding the tree at `content`, when given (`mke2fs -d`).
pub fn ext4_image_with(
    path: &Path,
    label: &str,
    mib: u64,
    content: Option<&Path>,
) -> Result<(), String> {
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path)
        .and_then(|f| f.set_len(mib << 20))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let p = path.to_str().ok_or("non-UTF-8 path")?;
    let mut args = vec!["-q", "-F", "-t", "ext4", "-L", label];
    if let Some(tree) = content {
        args.extend(["-d", tree.to_str().ok_or("non-UTF-8 path")?]);
    }
    args.push(p);
    host("mke2fs", &args)
}

/// An initrd whose /init prints TARGET-BOOTED and the command line, then powers off:
/// proof that a kexec'd distro kernel started with what the entry said.
pub fn target_initrd(dir: &Path) -> Vec<u8> {
    target_initrd_running(dir, "", &[])
}

/// `target_initrd` whose /init also runs `script` (kboot applets) before powering off,
/// with `files` (path in the initrd, contents) added.
pub fn target_initrd_running(dir: &Path, script: &str, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let root = dir.join("initrd-root");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let binary = crate::machine::kboot_binary();
    std::fs::copy(binary, root.join("bin/kboot")).unwrap();
    for applet in [
        "sh", "mount", "echo", "cat", "hexdump", "mkdir", "insmod", "poweroff",
    ] {
        std::os::unix::fs::symlink("kboot", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        root.join("init"),
        format!("#!/bin/sh\nmount -t proc proc /proc\necho TARGET-\"\"BOOTED\ncat /proc/cmdline\n{script}poweroff\n"),
    )
    .unwrap();
    for (path, contents) in files {
        let at = root.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, contents).unwrap();
    }
    crate::host_tools::command("chmod")
        .args(["755", root.join("init").to_str().unwrap()])
        .status()
        .unwrap();
    cpio_newc(&root).unwrap_or_else(|e| panic!("{e}"))
}

/// The host's sha256sum of a file.
pub fn sha256(path: &Path) -> String {
    let out = crate::host_tools::command("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A unified kernel image at `out`: systemd's EFI stub with `.osrel`, `.cmdline`,
/// Debian's kernel as `.linux` and `initrd` as `.initrd` (objcopy, at the addresses
/// systemd's docs use), the section files kept in `dir`.
pub fn systemd_uki(dir: &Path, osrel: &str, cmdline: &str, initrd: &[u8], out: &Path) {
    let files = [
        ("osrel", osrel.as_bytes()),
        ("cmdline", cmdline.as_bytes()),
        ("initrd", initrd),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let kernel = crate::machine::debian_kernel();
    pe_on_systemd_stub(
        &[
            (".osrel", dir.join("osrel"), "0x20000"),
            (".cmdline", dir.join("cmdline"), "0x30000"),
            (".linux", kernel, "0x2000000"),
            (".initrd", dir.join("initrd"), "0x4000000"),
        ],
        out,
    );
}

/// systemd's EFI stub with `sections` (name, file, address) added by objcopy, at `out`:
/// a UKI, or an addon (a PE with sections and no `.linux`; Debian 12's systemd 252 has
/// no addon stub, so the kernel stub carries them).
pub fn pe_on_systemd_stub(sections: &[(&str, PathBuf, &str)], out: &Path) {
    let _ = std::fs::remove_file(out);
    let stub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
    let mut args = Vec::new();
    for (name, file, vma) in sections {
        args.push("--add-section".to_string());
        args.push(format!("{name}={}", file.display()));
        args.push("--change-section-vma".to_string());
        args.push(format!("{name}={vma}"));
    }
    let status = crate::host_tools::command("objcopy")
        .args(&args)
        .arg(stub)
        .arg(out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "objcopy could not build {} from {stub}",
        out.display()
    );
}
