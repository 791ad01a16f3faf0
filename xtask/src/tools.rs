//! `cargo xtask qemu`: boot the media interactively.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};

use qemu_tests::{Artifacts, BootPath, MachineConfig};

use crate::Workspace;

pub fn qemu_command(_ws: &Workspace, args: &[String]) -> crate::Result<()> {
    let mut boot = BootPath::Uefi;
    let mut disks = Vec::new();
    let mut kernel = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--uefi" => boot = BootPath::Uefi,
            "--bios" => boot = BootPath::Bios,
            "--direct" => boot = BootPath::Direct,
            "--disk" => disks.push(PathBuf::from(
                it.next().ok_or_else(|| anyhow!("--disk needs a file"))?,
            )),
            "--kernel" => {
                kernel = Some(PathBuf::from(
                    it.next()
                        .ok_or_else(|| anyhow!("--kernel needs a bzImage"))?,
                ))
            }
            other => bail!("qemu: unknown option {other:?}"),
        }
    }
    let artifacts = Artifacts::default_location();
    artifacts.check().map_err(|e| anyhow!(e))?;
    let accel = qemu_tests::choose_accel(&artifacts);
    let mut config = MachineConfig::new(boot, artifacts);
    config.accel = accel;
    config.extra_disks = disks;
    config.kernel_override = kernel;
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
