//! `cargo xtask qemu` (boot the media interactively) and `cargo xtask test`.

use std::path::PathBuf;
use std::process::Command;

use qemu_tests::{Artifacts, BootPath, MachineConfig};
use sha2::{Digest, Sha256};

use crate::image_cmd::{self, ImageOptions};
use crate::report::stage;
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

/// Unit and host tests, then the media (built twice: the second build must give the
/// same bytes), then the QEMU boot tests one at a time (2 cores, TCG).
pub fn test_command(ws: &Workspace, args: &[String]) -> crate::Result<()> {
    let run_qemu = match args {
        [] => true,
        [flag] if flag == "--no-qemu" => false,
        _ => return Err("usage: cargo xtask test [--no-qemu]".into()),
    };
    stage("host dependencies", crate::deps::ensure)?;
    // Dump fixtures are made at test time by QEMU runs; here a fixture that cannot be
    // made fails the run instead of skipping the tests that need it.
    std::env::set_var("KBOOT_REQUIRE_FIXTURES", "1");
    stage("unit and host tests", || {
        cargo(ws, &["test", "--workspace", "--exclude", "qemu-tests"])
    })?;
    if !run_qemu {
        return Ok(());
    }
    let first = image_cmd::run_image(ws, &ImageOptions::default())?;
    let digests = |o: &image_cmd::Outputs| -> crate::Result<Vec<(String, String)>> {
        [&o.initramfs, &o.disk_img, &o.kboot_efi]
            .iter()
            .map(|p| {
                Ok((
                    p.display().to_string(),
                    format!("{:x}", Sha256::digest(image_cmd::read(p)?)),
                ))
            })
            .collect()
    };
    let before = digests(&first)?;
    let second = stage("rebuild for the reproducibility check", || {
        image_cmd::run_image(ws, &ImageOptions::default())
    })?;
    let after = digests(&second)?;
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        if a != b {
            return Err(format!("{path} is not reproducible: sha256 {a} then {b}"));
        }
        println!("    reproducible: {path} sha256 {}", &a[..16]);
    }
    stage("QEMU boot tests", || {
        cargo(
            ws,
            &["test", "--package", "qemu-tests", "--", "--test-threads=1"],
        )
    })
}

fn cargo(ws: &Workspace, args: &[&str]) -> crate::Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&ws.root)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}
