//! target/kboot/kdump/: what a distro installs to use kboot as its crash kernel: the kernel,
//! the initramfs, a load script, a systemd unit and a README with the measured reservation.

use std::path::Path;

use anyhow::{anyhow, Context};

/// Installed location the script and unit assume.
const INSTALL_DIR: &str = "/usr/lib/kboot/kdump";
/// Measured by `cargo xtask bench --kdump` (2026-12-05, with the storage modules in the
/// capture initramfs): the capture worked with 64M; with 40M and 48M the saver was
/// killed, with 32M the kernel ran out of memory unpacking the initramfs, on a 512 MiB
/// Debian 6.1 guest. 48M still worked in an earlier session, before the triage report
/// grew stacks and sections; the modules are not the cause (48M fails without them).
const SMALLEST_WORKING: &str = "64M";
const RECOMMENDED: &str = "64M";

const CAPTURE_CMDLINE: &str =
    "console=tty0 console=ttyS0,115200 nr_cpus=1 irqpoll reset_devices panic=-1";

fn load_script(initramfs: &str) -> String {
    format!(
        r#"#!/bin/sh
# Loads kboot as this system's crash kernel (needs crashkernel= on the command line).
# Extra capture settings go in KBOOT_KDUMP_APPEND, e.g. "kboot.dump=LABEL=CRASH".
set -e
dir=${{KBOOT_KDUMP_DIR:-{INSTALL_DIR}}}
exec kexec -p -s "$dir/bzImage" --initrd="$dir/{initramfs}" \
    --append="{CAPTURE_CMDLINE} ${{KBOOT_KDUMP_APPEND:-}}"
"#
    )
}

fn systemd_unit() -> String {
    format!(
        "[Unit]\n\
         Description=Load kboot as the kdump capture kernel\n\
         ConditionKernelCommandLine=crashkernel\n\
         After=local-fs.target\n\n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         ExecStart={INSTALL_DIR}/kboot-kdump-load\n\
         ExecStop=/sbin/kexec -p -u\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

fn readme(initramfs: &str) -> String {
    format!(
        r#"# kboot as the kdump capture kernel

When this system panics, kboot boots in the reserved memory, prints a triage report
(panic first) on every console, saves `dmesg.txt`, `triage.txt`, `triage.json` and a
filtered (-d 31), zlib-compressed kdump file that makedumpfile, crash and drgn read, to
`/var/crash/<YYYYmmdd-HHMMSS>-<host>/` on the filesystem labelled `KBOOT-DUMP` (else the
crashed system's root=), then reboots.

## Install
    install -d {INSTALL_DIR}
    install -m 644 bzImage {initramfs} {INSTALL_DIR}/
    install -m 755 kboot-kdump-load {INSTALL_DIR}/
    install -m 644 kboot-kdump.service /etc/systemd/system/
    systemctl enable kboot-kdump.service

Reserve memory: add `crashkernel={RECOMMENDED}` to GRUB_CMDLINE_LINUX in /etc/default/grub,
`update-grub`, reboot. Measured under QEMU (512 MiB guest): the capture works with
{SMALLEST_WORKING} and fails with 48M; larger machines need more (the saver's page bitmaps
take about 100 KiB per GiB of RAM).

With kdump-tools instead of the unit, in /etc/default/kdump-tools:
    KDUMP_KERNEL={INSTALL_DIR}/bzImage
    KDUMP_INITRD={INSTALL_DIR}/{initramfs}
    KDUMP_CMDLINE_APPEND="nr_cpus=1 irqpoll reset_devices panic=-1"

Without kexec-tools, kboot loads itself: `kboot kexec -p bzImage --initrd={initramfs}
--append="{CAPTURE_CMDLINE}"`.

## Capture settings (kernel command line of the capture kernel, or [dump] in kboot.toml)
- `kboot.dump=LABEL=…|UUID=…|/dev/…` target filesystem
- `kboot.dump.path=/var/crash` directory on it
- `kboot.dump.action=reboot|poweroff|menu|shell|none` after saving (`none`: no dump file,
  report and log only, then reboot)
- `kboot.dump.compress=zlib|lzo|snappy|zstd|none`, `kboot.dump.level=0-31`

Test it: `echo c > /proc/sysrq-trigger` (this crashes the machine).
"#
    )
}

/// Writes the bundle into `dir`.
pub fn write_bundle(dir: &Path, bzimage: &Path, initramfs: &Path) -> crate::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let initramfs_name = initramfs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("initramfs has no file name"))?;
    let put = |name: &str, data: &[u8]| {
        // write_atomically's error names the file it failed to write.
        image::write_atomically(&dir.join(name), data).map_err(anyhow::Error::from)
    };
    let read =
        |p: &Path| std::fs::read(p).with_context(|| format!("failed to read {}", p.display()));
    put("bzImage", &read(bzimage)?)?;
    put(&initramfs_name, &read(initramfs)?)?;
    put("kboot-kdump-load", load_script(&initramfs_name).as_bytes())?;
    put("kboot-kdump.service", systemd_unit().as_bytes())?;
    put("README.md", readme(&initramfs_name).as_bytes())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("kboot-kdump-load"),
        std::fs::Permissions::from_mode(0o755),
    )
    .context("failed to chmod kboot-kdump-load")?;
    Ok(())
}
