//! `cargo xtask qemu`: boot the media interactively.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};

use qemu_tests::{Artifacts, BootPath, MachineConfig};

use crate::Workspace;

/// `cargo xtask qemu` options.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("boot").multiple(false)))]
pub struct QemuOptions {
    /// Boot kboot.efi from disk.img under OVMF (the default)
    #[arg(long, group = "boot")]
    uefi: bool,
    /// Boot disk.img under SeaBIOS through GRUB
    #[arg(long, group = "boot")]
    bios: bool,
    /// Boot bzImage and the initramfs directly (-kernel)
    #[arg(long, group = "boot")]
    direct: bool,
    /// An extra disk image (repeatable)
    #[arg(long = "disk", value_name = "EXTRA.img")]
    pub disks: Vec<PathBuf>,
    /// Boot this kernel instead of target/kboot/bzImage
    #[arg(long, value_name = "BZIMAGE")]
    pub kernel: Option<PathBuf>,
}

impl QemuOptions {
    pub fn boot_path(&self) -> BootPath {
        if self.bios {
            BootPath::Bios
        } else if self.direct {
            BootPath::Direct
        } else {
            BootPath::Uefi
        }
    }
}

pub fn qemu_command(_ws: &Workspace, options: &QemuOptions) -> crate::Result<()> {
    let boot = options.boot_path();
    let artifacts = Artifacts::default_location();
    artifacts.check().map_err(|e| anyhow!(e))?;
    let accel = qemu_tests::choose_accel(&artifacts);
    let mut config = MachineConfig::new(boot, artifacts);
    config.accel = accel;
    config.extra_disks = options.disks.clone();
    config.kernel_override = options.kernel.clone();
    config.interactive = true;
    let (mut cmd, _scratch) = config
        .command()
        .context("failed to prepare the QEMU command")?;
    println!(
        "booting ({}, {}) — Ctrl-A X quits QEMU, Ctrl-A C toggles its monitor",
        boot.name(),
        config.accel
    );
    let status = cmd.status().context("failed to start QEMU")?;
    if status.success() {
        Ok(())
    } else {
        bail!("QEMU exited with {status}")
    }
}
