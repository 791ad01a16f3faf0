//! `cargo xtask qemu`: boot the media interactively.

use std::path::PathBuf;

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
            "--disk" => disks.push(PathBuf::from(it.next().ok_or("--disk needs a file")?)),
            "--kernel" => {
                kernel = Some(PathBuf::from(it.next().ok_or("--kernel needs a bzImage")?))
            }
            other => return Err(format!("qemu: unknown option {other:?}")),
        }
    }
    let artifacts = Artifacts::default_location();
    artifacts.check()?;
    let accel = qemu_tests::choose_accel(&artifacts);
    let mut config = MachineConfig::new(boot, artifacts);
    config.accel = accel;
    config.extra_disks = disks;
    config.kernel_override = kernel;
    config.interactive = true;
    let (mut cmd, _scratch) = config.command().map_err(|e| e.to_string())?;
    println!(
        "booting ({}, {}) — Ctrl-A X quits QEMU, Ctrl-A C toggles its monitor",
        boot.name(),
        config.accel
    );
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("QEMU exited with {status}"))
    }
}
