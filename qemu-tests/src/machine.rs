//! QEMU command lines for the three boot paths: UEFI (OVMF → BOOTX64.EFI = kboot.efi),
//! BIOS (SeaBIOS → GRUB in the BIOS-boot partition → bzImage + initramfs from the ESP)
//! and direct (`-kernel`/`-initrd`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The default kernel command line of kboot media (also built into kboot.efi).
pub const DEFAULT_CMDLINE: &str = "console=tty0 console=ttyS0,115200";

pub const OVMF_CODE_CANDIDATES: &[&str] = &[
    "/usr/share/OVMF/OVMF_CODE_4M.fd",
    "/usr/share/OVMF/OVMF_CODE.fd",
    "/usr/share/ovmf/OVMF.fd",
];

/// OVMF built with Secure Boot and SMM (Debian's ovmf package): the variable store is
/// then writable only from SMM, so a guest cannot enrol keys behind the firmware's back.
/// Its variable store template is OVMF_VARS_4M.fd (empty, Setup Mode).
pub const OVMF_SECURE_BOOT_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootPath {
    Uefi,
    Bios,
    Direct,
}

impl BootPath {
    pub const ALL: [BootPath; 3] = [BootPath::Uefi, BootPath::Bios, BootPath::Direct];

    pub fn name(self) -> &'static str {
        match self {
            BootPath::Uefi => "uefi",
            BootPath::Bios => "bios",
            BootPath::Direct => "direct",
        }
    }
}

/// The files `cargo xtask image` leaves in `target/kboot/`.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub dir: PathBuf,
}

impl Artifacts {
    pub fn in_dir(dir: impl Into<PathBuf>) -> Artifacts {
        Artifacts { dir: dir.into() }
    }

    /// `KBOOT_ARTIFACTS` or `<workspace>/target/kboot`.
    pub fn default_location() -> Artifacts {
        match std::env::var_os("KBOOT_ARTIFACTS") {
            Some(dir) => Artifacts::in_dir(dir),
            None => Artifacts::in_dir(workspace_root().join("target/kboot")),
        }
    }

    pub fn disk_img(&self) -> PathBuf {
        self.dir.join("disk.img")
    }
    pub fn bzimage(&self) -> PathBuf {
        self.dir.join("bzImage")
    }
    pub fn kboot_efi(&self) -> PathBuf {
        self.dir.join("kboot.efi")
    }

    /// The compressed initramfs (whichever compression the build chose).
    pub fn initramfs(&self) -> PathBuf {
        ["initramfs.cpio.zst", "initramfs.cpio.gz"]
            .iter()
            .map(|n| self.dir.join(n))
            .find(|p| p.exists())
            .unwrap_or_else(|| self.dir.join("initramfs.cpio.gz"))
    }

    /// A clear message when the media have not been built yet.
    pub fn check(&self) -> Result<(), String> {
        let missing: Vec<String> = [
            self.disk_img(),
            self.bzimage(),
            self.kboot_efi(),
            self.initramfs(),
        ]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "missing boot media {} — run `cargo xtask image` first",
                missing.join(", ")
            ))
        }
    }
}

/// One QEMU run.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    pub qemu_binary: String,
    pub boot: BootPath,
    pub artifacts: Artifacts,
    /// For the direct path: the kernel to boot instead of ours (e.g. a distro kernel).
    pub kernel_override: Option<PathBuf>,
    /// For the direct path: the initrd to boot instead of ours.
    pub initrd_override: Option<PathBuf>,
    pub cmdline: String,
    pub memory_mib: u32,
    pub cpus: u32,
    pub extra_disks: Vec<PathBuf>,
    pub extra_args: Vec<String>,
    pub accel: String,
    /// Let the guest reboot (warm reset) instead of ending QEMU: firmware hand-back tests.
    pub allow_reboot: bool,
    /// Serial multiplexed with the monitor on the terminal (Ctrl-A X quits, Ctrl-A C
    /// for the monitor) instead of a plain pipe for tests.
    pub interactive: bool,
    /// A QMP socket in the run's scratch directory (`Qemu::qmp`): screen dumps, keys on
    /// the machine's keyboard, device hot-plug.
    pub qmp: bool,
    /// For the UEFI path: OVMF's Secure Boot build (SMM, secure flash) started with a
    /// copy of this variable store, e.g. one with keys enrolled and Secure Boot enabled.
    pub secure_boot_vars: Option<PathBuf>,
    /// Run QEMU in the network namespace of this process (`NetNamespace::pid`), so user
    /// networking's 10.0.2.2 is that namespace's loopback and its servers.
    pub netns: Option<u32>,
}

/// Per-run files (the writable OVMF variable store) removed when the run ends.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    fn create() -> std::io::Result<Scratch> {
        let dir =
            std::env::temp_dir().join(format!("kboot-qemu-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Where QEMU listens for QMP when `MachineConfig::qmp` is set.
    pub fn qmp_socket(&self) -> PathBuf {
        self.0.join("qmp.sock")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl MachineConfig {
    pub fn new(boot: BootPath, artifacts: Artifacts) -> MachineConfig {
        MachineConfig {
            qemu_binary: "qemu-system-x86_64".into(),
            boot,
            artifacts,
            kernel_override: None,
            initrd_override: None,
            cmdline: DEFAULT_CMDLINE.into(),
            memory_mib: 512,
            // One vCPU: with two, TCG's per-CPU TSCs drift ("Marking TSC unstable due to
            // TSCs unsynchronized"), and twice in about 25 CI runs a guest lost its timer
            // ticks early in device probing (printk stamps frozen, then silence until
            // the deadline). None of the boot tests needs a second CPU.
            cpus: 1,
            extra_disks: Vec::new(),
            extra_args: Vec::new(),
            accel: std::env::var("KBOOT_QEMU_ACCEL").unwrap_or_else(|_| "tcg".into()),
            allow_reboot: false,
            interactive: false,
            qmp: false,
            secure_boot_vars: None,
            netns: None,
        }
    }

    /// The command line, plus the scratch directory that must outlive the process.
    pub fn command(&self) -> std::io::Result<(Command, Option<Scratch>)> {
        // The default goes through the host tool registry, so a missing QEMU names its
        // package; a binary given by path is used as it is.
        let binary = if self.qemu_binary.contains('/') {
            PathBuf::from(&self.qemu_binary)
        } else {
            crate::host_tools::find(&self.qemu_binary)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::NotFound, e))?
        };
        let mut cmd = match self.netns {
            // Only the network namespace: QEMU's files are the host's.
            Some(pid) => crate::netns::enter(pid, false, &binary),
            None => Command::new(binary),
        };
        let secure_boot = self.boot == BootPath::Uefi && self.secure_boot_vars.is_some();
        // OVMF's Secure Boot build needs SMM, and its flash must be writable only from SMM
        // (QEMU's secure pflash), or it stops before the boot manager.
        let machine = if secure_boot { "q35,smm=on" } else { "q35" };
        cmd.args(["-accel", &self.accel, "-machine", machine, "-cpu", "max"]);
        if secure_boot {
            cmd.args(["-global", "driver=cfi.pflash01,property=secure,value=on"]);
        }
        cmd.args([
            "-m",
            &self.memory_mib.to_string(),
            "-smp",
            &self.cpus.to_string(),
        ]);
        // Serial on stdio, nothing else: no monitor mux, no graphical window.
        cmd.args(["-display", "none", "-vga", "std"]);
        if !self.allow_reboot {
            cmd.arg("-no-reboot");
        }
        if self.interactive {
            cmd.args(["-serial", "mon:stdio"]);
        } else {
            cmd.args(["-serial", "stdio", "-monitor", "none"]);
        }
        let scratch = match self.boot == BootPath::Uefi || self.qmp {
            true => Some(Scratch::create()?),
            false => None,
        };
        if let (true, Some(scratch)) = (self.qmp, &scratch) {
            cmd.arg("-qmp").arg(format!(
                "unix:{},server=on,wait=off",
                scratch.qmp_socket().display()
            ));
        }
        let disk =
            |path: &Path| format!("file={},format=raw,if=virtio,snapshot=on", path.display());
        match self.boot {
            BootPath::Uefi => {
                let (code, vars_template) = match &self.secure_boot_vars {
                    Some(vars) => (PathBuf::from(OVMF_SECURE_BOOT_CODE), vars.clone()),
                    None => {
                        let code = find_ovmf_code().ok_or_else(|| {
                            std::io::Error::other("no OVMF firmware found (apt install ovmf)")
                        })?;
                        let vars = code.with_file_name(
                            code.file_name()
                                .map(|n| n.to_string_lossy().replace("CODE", "VARS"))
                                .unwrap_or_default(),
                        );
                        (code, vars)
                    }
                };
                let dir = scratch
                    .as_ref()
                    .map(|s| s.path().to_path_buf())
                    .unwrap_or_else(std::env::temp_dir);
                let vars = dir.join("vars.fd");
                std::fs::copy(&vars_template, &vars).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", vars_template.display()))
                })?;
                cmd.arg("-drive").arg(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={}",
                    code.display()
                ));
                cmd.arg("-drive").arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    vars.display()
                ));
                cmd.arg("-drive").arg(disk(&self.artifacts.disk_img()));
            }
            BootPath::Bios => {
                cmd.arg("-drive").arg(disk(&self.artifacts.disk_img()));
            }
            BootPath::Direct => {
                let kernel = self
                    .kernel_override
                    .clone()
                    .unwrap_or_else(|| self.artifacts.bzimage());
                cmd.arg("-kernel").arg(kernel).arg("-initrd").arg(
                    self.initrd_override
                        .clone()
                        .unwrap_or_else(|| self.artifacts.initramfs()),
                );
                cmd.arg("-append").arg(&self.cmdline);
            }
        }
        for extra in &self.extra_disks {
            cmd.arg("-drive")
                .arg(format!("file={},format=raw,if=virtio", extra.display()));
        }
        cmd.args(&self.extra_args);
        Ok((cmd, scratch))
    }
}

pub fn find_ovmf_code() -> Option<PathBuf> {
    OVMF_CODE_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A fresh directory `target/qemu-tests/NAME` for one test's files (emptied first).
pub fn fresh_test_dir(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/qemu-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test directory under target/qemu-tests");
    dir
}

/// The workspace root, found from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Debian's newest kernel in /boot (linux-image-amd64), if installed.
pub fn find_debian_kernel() -> Option<PathBuf> {
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort();
    kernels.pop()
}

/// Debian's newest kernel in /boot: the "distro kernel" of the tests.
pub fn debian_kernel() -> PathBuf {
    find_debian_kernel()
        .expect("Debian's kernel in /boot (apt install linux-image-amd64; cargo xtask deps does)")
}

/// The static kboot binary `cargo xtask image` built.
pub fn kboot_binary() -> PathBuf {
    let ws = workspace_root();
    [
        "target/x86_64-unknown-linux-musl/kboot/kboot",
        "target/x86_64-unknown-linux-gnu/kboot/kboot",
    ]
    .iter()
    .map(|p| ws.join(p))
    .find(|p| p.exists())
    .expect("the kboot binary (cargo xtask image)")
}
