//! A production system that crashes into kboot: Debian's kernel boots with crashkernel=,
//! starts two named processes, loads kboot's kdump bundle with `kboot kexec -p` and
//! crashes through sysrq; kboot, as the capture kernel, reports, saves and reboots.
//! Shared by the capture tests and the failing-target tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::machine::{debian_kernel, kboot_binary, workspace_root};
use crate::{Artifacts, BootPath, MachineConfig, Qemu};

pub const BOOT: Duration = Duration::from_secs(180);
pub const SAVE: Duration = Duration::from_secs(300);
/// Long-running processes of the production system, named so the task list shows them.
pub const WORKERS: [&str; 2] = ["kb-worker-alpha", "kb-worker-beta"];
/// What the production kernel reserves for kboot; `KBOOT_CRASHKERNEL` overrides it (the
/// bench uses that to find the smallest reservation that works).
pub const CRASHKERNEL: &str = "128M";

pub fn crashkernel() -> String {
    std::env::var("KBOOT_CRASHKERNEL").unwrap_or_else(|_| CRASHKERNEL.into())
}

/// A fresh `target/qemu-tests/capture/<name>`.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target/qemu-tests/capture")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let status = crate::host_tools::command("chmod")
        .arg("755")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The production system's initramfs: busybox, kboot (for `kexec -p`), the capture kernel
/// and initramfs, two long-running named processes, and an init that crashes on purpose.
/// `capture_extra` goes on the capture kernel's command line.
fn production_initrd(dir: &Path, artifacts: &Artifacts, production: &Production<'_>) -> PathBuf {
    let root = dir.join("production-root");
    for sub in ["bin", "proc", "sys", "dev", "capture"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("static /bin/busybox (apt install busybox-static)");
    std::fs::copy(kboot_binary(), root.join("bin/kboot")).unwrap();
    // The files a distro would install: `cargo xtask image`'s kdump bundle.
    let bundle = artifacts.dir.join("kdump");
    let initramfs_name = artifacts.initramfs().file_name().unwrap().to_owned();
    std::fs::copy(bundle.join("bzImage"), root.join("capture/bzImage"))
        .expect("target/kboot/kdump/bzImage (cargo xtask image)");
    let mut capture_initrd = std::fs::read(bundle.join(initramfs_name)).unwrap();
    if let Some(overlay) = &production.capture_overlay {
        // The kernel looks for the next archive at a 4-byte boundary, skipping zeros.
        capture_initrd.resize(capture_initrd.len().div_ceil(4) * 4, 0);
        capture_initrd.extend_from_slice(overlay);
    }
    std::fs::write(root.join("capture/initramfs"), capture_initrd).unwrap();
    for worker in WORKERS {
        // A script's comm is its file name: the task list must show it.
        write_exec(
            &root.join("bin").join(worker),
            "#!/bin/busybox sh\nwhile :; do /bin/busybox sleep 1; done\n",
        );
    }
    let capture_cmdline = format!(
        "console=ttyS0,115200 nr_cpus=1 irqpoll reset_devices panic=-1 {}",
        production.capture_extra
    );
    write_exec(
        &root.join("init"),
        &format!(
            "#!/bin/busybox sh\n\
             /bin/busybox --install -s /bin\n\
             mount -t proc proc /proc\n\
             mount -t sysfs sysfs /sys\n\
             mount -t devtmpfs devtmpfs /dev\n\
             {w0} &\n{w1} &\n\
             {before_crash}\n\
             kboot kexec -p /capture/bzImage --initrd=/capture/initramfs --append='{capture_cmdline}' \
               || echo PROD-KEXEC-FAILED\n\
             echo PROD-CRASH-LOADED-$(cat /sys/kernel/kexec_crash_loaded)\n\
             sleep 1\n\
             echo c > /proc/sysrq-trigger\n",
            w0 = WORKERS[0],
            w1 = WORKERS[1],
            before_crash = production.before_crash,
        ),
    );
    let initrd = dir.join("production.cpio");
    let archive = crate::disks::cpio_newc(&root).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&initrd, archive).unwrap();
    initrd
}

/// The production machine: `extra` on its command line, `capture_extra` on the capture
/// kernel's, `disks` attached, `extra_args` for QEMU (disks with injected faults).
pub struct Production<'a> {
    /// The reservation, when not `crashkernel()`.
    pub crashkernel: Option<&'a str>,
    pub extra: &'a str,
    pub capture_extra: &'a str,
    pub disks: Vec<PathBuf>,
    pub extra_args: Vec<String>,
    /// A cpio archive appended to the capture kernel's initramfs (files it must carry,
    /// such as a test CA's certificate).
    pub capture_overlay: Option<Vec<u8>>,
    /// Shell lines the production init runs (busybox sh, everything installed as applets)
    /// after starting the workers and before loading kboot and crashing.
    pub before_crash: &'a str,
    /// The network namespace QEMU runs in (`MachineConfig::netns`).
    pub netns: Option<u32>,
}

/// Boots production, crashes it, and follows the capture until kboot reboots. Returns
/// the console output.
pub fn crash_and_capture(name: &str, dir: &Path, production: Production<'_>) -> String {
    let qemu = crash_until_report(name, dir, production);
    finish_capture(qemu)
}

/// Boots production, crashes it, and follows the capture until its report is on the
/// console; the test may then act on the capture kernel before `finish_capture`.
pub fn crash_until_report(name: &str, dir: &Path, production: Production<'_>) -> Qemu {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let initrd = production_initrd(dir, &artifacts, &production);
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.kernel_override = Some(debian_kernel());
    config.cmdline = format!(
        "console=ttyS0,115200 crashkernel={} panic=-1 {}",
        production
            .crashkernel
            .map_or_else(crashkernel, str::to_string),
        production.extra
    );
    config.memory_mib = 512;
    config.extra_disks = production.disks;
    config.extra_args = production.extra_args;
    config.netns = production.netns;
    config.initrd_override = Some(initrd);
    let mut qemu = Qemu::start(name, &config).unwrap();
    let step = |qemu: &mut Qemu, marker: &str, limit: Duration, what: &str| {
        qemu.expect(marker, limit)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    };
    step(
        &mut qemu,
        "PROD-CRASH-LOADED-1",
        BOOT,
        "production kernel did not load kboot with kexec -p",
    );
    step(
        &mut qemu,
        "sysrq triggered crash",
        BOOT,
        "production kernel did not panic",
    );
    step(
        &mut qemu,
        "kboot: ready",
        BOOT,
        "capture kernel did not reach kboot",
    );
    step(
        &mut qemu,
        "== PANIC ==",
        SAVE,
        "no triage report on the console",
    );
    qemu
}

/// Follows a capture from its report to the reboot; returns the whole console output.
pub fn finish_capture(mut qemu: Qemu) -> String {
    qemu.expect("kboot: dump: rebooting", SAVE)
        .unwrap_or_else(|e| panic!("capture did not finish with a reboot: {e}"));
    let status = qemu.wait_exit(Duration::from_secs(60));
    assert!(
        status.is_some(),
        "QEMU did not exit after the reboot (-no-reboot)"
    );
    qemu.save_log();
    qemu.output()
}

/// Copies /var/crash out of an ext4 image with debugfs (no mount, no root); the capture
/// directories in it, sorted.
pub fn read_crash_dir(image: &Path, into: &Path) -> Vec<PathBuf> {
    let out = crate::host_tools::command("debugfs")
        .arg("-R")
        .arg(format!("rdump /var/crash {}", into.display()))
        .arg(image)
        .output()
        .expect("debugfs (apt install e2fsprogs)");
    assert!(
        out.status.success(),
        "debugfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(into.join("crash"))
        .unwrap_or_else(|e| panic!("no /var/crash on the dump disk: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

/// The names in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A saved dump re-opened on the host: `kboot triage` must name the panic the test's
/// production kernel was made to have (`echo c > /proc/sysrq-trigger`).
pub fn assert_dump_shows_sysrq_panic(dump: &std::path::Path) {
    let triage = std::process::Command::new(crate::machine::kboot_binary())
        .args(["triage", "--section", "panic"])
        .arg(dump)
        .output()
        .expect("kboot triage");
    let report = String::from_utf8_lossy(&triage.stdout);
    assert!(
        triage.status.success() && report.contains("sysrq triggered crash"),
        "kboot triage {}: {report}",
        dump.display()
    );
}
