//! Host prerequisites: Debian/Ubuntu packages and the rustup musl target. `cargo xtask
//! image` checks them first; `.ci/run` calls `cargo xtask deps` so CI installs exactly
//! what a developer's machine gets.

use std::process::Command;

/// (package, why it is needed)
pub const APT_PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86", "QEMU boot tests and `xtask qemu`"),
    ("ovmf", "UEFI firmware for the UEFI boot path"),
    ("grub-pc-bin", "GRUB i386-pc modules for the BIOS boot path"),
    ("grub-common", "grub-mkimage"),
    ("systemd-boot-efi", "the EFI stub kboot.efi is built on"),
    ("binutils", "objcopy, to assemble kboot.efi"),
    ("lld", "links the kboot binary (identical code folding)"),
    ("linux-source", "kernel sources for the lean kernel"),
    ("make", "kernel build"),
    ("gcc", "kernel build"),
    ("flex", "kernel build (kconfig)"),
    ("bison", "kernel build (kconfig)"),
    ("bc", "kernel build"),
    ("libelf-dev", "kernel build (objtool)"),
    ("libssl-dev", "kernel build (sign-file, extract-cert)"),
    ("xz-utils", "unpacking linux-source"),
    ("cpio", "tests: `cpio -t` reads our initramfs back"),
    ("dosfstools", "tests: fsck.fat checks the ESP"),
    ("gdisk", "tests: sgdisk -v checks the GPT"),
    ("mtools", "tests: reading files from the ESP"),
    ("e2fsprogs", "tests: test disks"),
    (
        "linux-image-amd64",
        "bench: Debian's kernel side by side with ours",
    ),
    (
        "busybox-static",
        "bench: the peer of the kboot multi-call binary",
    ),
    ("xfsprogs", "tests: blkid against real xfs"),
    ("btrfs-progs", "tests: blkid against real btrfs"),
    ("genisoimage", "tests: blkid against real iso9660"),
    ("cryptsetup-bin", "tests: blkid against real LUKS"),
    ("iproute2", "tests: `ip` compared with iproute2"),
    (
        "util-linux",
        "tests: blkid and partx, the references for ours",
    ),
    (
        "makedumpfile",
        "triage tests: filtered/compressed dumps, and the --dump-dmesg peer",
    ),
    (
        "kexec-tools",
        "triage tests: loading the capture kernel in the fixture guest",
    ),
    (
        "python3-venv",
        "triage tests: QMP client, snappy/zstd recompression venv",
    ),
    ("time", "bench: /usr/bin/time for peak RSS"),
    (
        "fdisk",
        "tests: MBR images with logical partitions (sfdisk)",
    ),
    ("xorriso", "tests: iso9660 images for the probes"),
];

pub const RUST_TARGET: &str = "x86_64-unknown-linux-musl";

/// One dpkg-query for all packages (it prints nothing for unknown ones).
pub fn missing_packages() -> Vec<&'static str> {
    let names: Vec<&str> = APT_PACKAGES.iter().map(|(p, _)| *p).collect();
    let listing = Command::new("dpkg-query")
        .arg("-W")
        .arg("-f=${Package} ${Status}\n")
        .args(&names)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let installed: Vec<&str> = listing
        .lines()
        .filter(|l| l.ends_with("install ok installed"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    names
        .into_iter()
        .filter(|p| !installed.contains(p))
        .collect()
}

pub fn musl_target_installed() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == RUST_TARGET)
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run_checked(cmd: &mut Command) -> crate::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

/// Installs what is missing; when not root, says exactly what to run instead.
pub fn ensure() -> crate::Result<()> {
    let missing = missing_packages();
    if !missing.is_empty() {
        if !is_root() {
            return Err(format!(
                "missing host packages: {}\n  fix: sudo apt-get install -y --no-install-recommends {}",
                missing.join(" "),
                missing.join(" ")
            ));
        }
        println!("    installing: {}", missing.join(" "));
        let apt = |args: &[&str]| {
            let mut c = Command::new("apt-get");
            c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
            c
        };
        run_checked(&mut apt(&["update", "-qq"]))?;
        run_checked(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(&missing))?;
    }
    if !musl_target_installed() {
        match run_checked(Command::new("rustup").args(["target", "add", RUST_TARGET])) {
            Ok(()) => {}
            Err(e) => println!("    warning: {e}; the userspace will be built for the gnu target with +crt-static instead"),
        }
    }
    Ok(())
}

pub fn run_cli(check_only: bool) -> crate::Result<()> {
    if check_only {
        let missing = missing_packages();
        for (p, why) in APT_PACKAGES {
            let state = if missing.contains(p) { "MISSING" } else { "ok" };
            println!("  {state:<8} {p:<18} {why}");
        }
        let musl = if musl_target_installed() {
            "ok"
        } else {
            "MISSING"
        };
        println!("  {musl:<8} {RUST_TARGET} (rustup target)");
        return if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("{} package(s) missing", missing.len()))
        };
    }
    crate::report::stage("host dependencies", ensure)
}

pub fn cli(args: &[String]) -> crate::Result<()> {
    match args {
        [] => run_cli(false),
        [flag] if flag == "--check" => run_cli(true),
        _ => Err("usage: cargo xtask deps [--check]".into()),
    }
}
