//! Crashing a production kernel so kboot captures it: Debian's kernel (the "production"
//! kernel) boots with crashkernel=, starts two named processes, loads kboot's bzImage +
//! initramfs with `kboot kexec -p`, and crashes through sysrq. Shared by the capture tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::machine::{debian_kernel, kboot_binary, workspace_root};
use crate::{Artifacts, BootPath, MachineConfig, Qemu};

/// How the capture differs from the plain one: more of the capture kernel's command line,
/// an archive appended to its initramfs (say, a CA bundle), more QEMU arguments (a NIC).
#[derive(Default)]
pub struct CaptureSetup {
    pub capture_cmdline: String,
    pub capture_overlay: Option<Vec<u8>>,
    pub qemu_args: Vec<String>,
}

pub const BOOT: Duration = Duration::from_secs(180);
pub const SAVE: Duration = Duration::from_secs(300);
pub const WORKERS: [&str; 2] = ["kb-worker-alpha", "kb-worker-beta"];
/// What the production kernel reserves for kboot; `KBOOT_CRASHKERNEL` overrides it (the
/// bench uses that to find the smallest reservation that works).
const CRASHKERNEL: &str = "128M";

pub fn crashkernel() -> String {
    std::env::var("KBOOT_CRASHKERNEL").unwrap_or_else(|_| CRASHKERNEL.into())
}

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
fn production_initrd(dir: &Path, artifacts: &Artifacts, setup: &CaptureSetup) -> PathBuf {
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
    if let Some(overlay) = &setup.capture_overlay {
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
        setup.capture_cmdline
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
             kboot kexec -p /capture/bzImage --initrd=/capture/initramfs --append='{capture_cmdline}' \
               || echo PROD-KEXEC-FAILED\n\
             echo PROD-CRASH-LOADED-$(cat /sys/kernel/kexec_crash_loaded)\n\
             sleep 1\n\
             echo c > /proc/sysrq-trigger\n",
            w0 = WORKERS[0],
            w1 = WORKERS[1],
        ),
    );
    let initrd = dir.join("production.cpio");
    let archive = crate::disks::cpio_newc(&root).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&initrd, archive).unwrap();
    initrd
}

/// Boots production (with `extra` on its command line), crashes it, and follows the capture
/// until kboot reboots. Returns the console output.
pub fn crash_and_capture(name: &str, dir: &Path, dump_disk: &Path, extra: &str) -> String {
    crash_and_capture_with(name, dir, dump_disk, extra, &CaptureSetup::default())
}

/// `crash_and_capture`, the capture set up as `setup` says.
pub fn crash_and_capture_with(
    name: &str,
    dir: &Path,
    dump_disk: &Path,
    extra: &str,
    setup: &CaptureSetup,
) -> String {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let initrd = production_initrd(dir, &artifacts, setup);
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.kernel_override = Some(debian_kernel());
    config.cmdline = format!(
        "console=ttyS0,115200 crashkernel={} panic=-1 {extra}",
        crashkernel()
    );
    config.memory_mib = 512;
    config.extra_disks = vec![dump_disk.to_path_buf()];
    config.initrd_override = Some(initrd);
    config.extra_args = setup.qemu_args.clone();
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
    step(
        &mut qemu,
        "kboot: dump: rebooting",
        SAVE,
        "capture did not finish with a reboot",
    );
    let status = qemu.wait_exit(Duration::from_secs(60));
    assert!(
        status.is_some(),
        "QEMU did not exit after the reboot (-no-reboot)"
    );
    qemu.save_log();
    qemu.output()
}
