//! kexec: check and load a discovered entry's kernel (kexec_file_load), then reboot into it.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::io::Errno;

use crate::boot::entry::EntryKind;
use crate::boot::fs::DirFs;
use crate::boot::launch::lockdown::{self, KexecSyscall, Lockdown};
use crate::boot::launch::payload;
use crate::boot::scan::volume::DiscoveredEntry;
use crate::boot::signature::{self, Policy};
use crate::sys::{kexec_file_load, KEXEC_FILE_NO_INITRAMFS, KEXEC_FILE_ON_CRASH};

/// Where several initrds are joined into one file (tmpfs in the boot environment).
pub const STAGING_DIR: &str = "/run/kboot";
/// Room the kernel needs to append `elfcorehdr=0x…` to a crash kernel's command line.
const ELFCOREHDR_ROOM: usize = 30;
const HEADER_BYTES: usize = 0x240;

#[derive(Debug)]
pub enum KexecError {
    /// Chainload entries name another boot loader; kexec can only start Linux.
    NotLinux {
        label: String,
        target: String,
    },
    Io {
        context: String,
        error: io::Error,
    },
    NotBzImage {
        path: PathBuf,
        reason: String,
    },
    BadCmdline(String),
    PermissionDenied,
    Unsupported,
    Rejected {
        path: PathBuf,
        errno: i32,
    },
    KeyRejected,
    /// Refused by a locked-down kernel: what it requires (`lockdown::refusal`).
    LockedDown(String),
    TooLarge {
        crash: bool,
    },
    /// Linux refuses images taking more than half of its memory (kernel/kexec_core.c,
    /// `sanity_check_segment_list`), with EINVAL: said before the syscall instead.
    OverHalfOfMemory {
        image_bytes: u64,
        memory_bytes: u64,
    },
    Busy,
    AccessDenied,
    /// `[security] require_signed`: a payload without a valid trusted signature.
    Unsigned(String),
    Other {
        what: &'static str,
        error: io::Error,
    },
}

impl fmt::Display for KexecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KexecError::NotLinux { label, target } => write!(
                f,
                "'{label}' chainloads {target}: only Linux kernels can be started with kexec, \
                 and this loader cannot be asked to boot it once (LILO would need its map \
                 file): choose it in the first-stage loader's own menu"
            ),
            KexecError::Io { context, error } => write!(f, "{context}: {error}"),
            KexecError::NotBzImage { path, reason } => {
                write!(f, "{}: not a bzImage: {reason}", path.display())
            }
            KexecError::BadCmdline(why) => write!(f, "bad kernel command line: {why}"),
            KexecError::PermissionDenied => write!(
                f,
                "kexec not permitted (EPERM): needs root with CAP_SYS_BOOT; also refused under \
                 kernel lockdown or with kernel.kexec_load_disabled=1"
            ),
            KexecError::Unsupported => write!(
                f,
                "kexec_file_load is not available (ENOSYS): kernel built without CONFIG_KEXEC_FILE"
            ),
            KexecError::Rejected { path, errno } => write!(
                f,
                "{}: the running kernel rejected the image ({}): not a kernel it can load, or corrupt",
                path.display(),
                if *errno == libc::ENOEXEC { "ENOEXEC" } else { "EINVAL" }
            ),
            KexecError::KeyRejected => write!(
                f,
                "kernel signature rejected (EKEYREJECTED): this kernel only kexecs images signed \
                 by a trusted key (lockdown or KEXEC_SIG_FORCE)"
            ),
            KexecError::LockedDown(why) => write!(f, "{why}"),
            KexecError::TooLarge { crash: false } => write!(
                f,
                "not enough memory to stage the kernel and initrd (ENOMEM): too large?"
            ),
            KexecError::TooLarge { crash: true } => write!(
                f,
                "the crash kernel does not fit (ENOMEM): boot with a larger crashkernel= reservation"
            ),
            KexecError::OverHalfOfMemory {
                image_bytes,
                memory_bytes,
            } => write!(
                f,
                "kernel and initrd take {} MiB, more than half of this machine's {} MiB: \
                 Linux's kexec refuses that (it needs {} MiB of usable memory)",
                image_bytes >> 20,
                memory_bytes >> 20,
                (image_bytes * 2) >> 20
            ),
            KexecError::Busy => write!(f, "another kexec load is in progress (EBUSY); try again"),
            KexecError::AccessDenied => write!(
                f,
                "access denied (EACCES): a security module (IMA appraisal?) refused the image"
            ),
            KexecError::Unsigned(reason) => write!(f, "refused (require_signed): {reason}"),
            KexecError::Other { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

impl std::error::Error for KexecError {}

/// What the boot protocol header tells about a kernel image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzImage {
    /// Boot protocol version, e.g. 0x020f for 2.15.
    pub protocol: u16,
    /// Longest command line the kernel accepts, without the NUL.
    pub cmdline_max: u32,
}

/// Checks the x86 boot header (Documentation/arch/x86/boot.rst) for what kexec_file_load needs:
/// "HdrS" at 0x202, protocol 2.12 or later, loaded high, a 64-bit entry point.
pub fn check_bzimage(header: &[u8]) -> Result<BzImage, String> {
    if header.len() < HEADER_BYTES {
        return Err(format!("file too short ({} bytes)", header.len()));
    }
    if &header[0x202..0x206] != b"HdrS" {
        return Err("no \"HdrS\" boot header at offset 0x202".to_string());
    }
    let protocol = u16::from_le_bytes([header[0x206], header[0x207]]);
    if protocol < 0x020C {
        return Err(format!(
            "boot protocol {}.{} is too old for kexec_file_load (needs 2.12)",
            protocol >> 8,
            protocol & 0xFF
        ));
    }
    if header[0x211] & 0x01 == 0 {
        return Err("a zImage loaded low (loadflags lacks LOADED_HIGH)".to_string());
    }
    let xloadflags = u16::from_le_bytes([header[0x236], header[0x237]]);
    if xloadflags & 0x01 == 0 {
        return Err("not a 64-bit kernel (xloadflags lacks XLF_KERNEL_64)".to_string());
    }
    let cmdline_max =
        u32::from_le_bytes([header[0x238], header[0x239], header[0x23A], header[0x23B]]);
    Ok(BzImage {
        protocol,
        cmdline_max,
    })
}

/// The version string a bzImage carries in its setup code (the header's `kernel_version`
/// field: an offset from 0x200): "RELEASE (USER@HOST) #N SMP …", `uname -r` and `uname -v`
/// of the kernel it boots. None when absent or outside `image`.
pub fn bzimage_version(image: &[u8]) -> Option<String> {
    check_bzimage(image).ok()?;
    let offset = u16::from_le_bytes([image[0x20E], image[0x20F]]) as usize;
    if offset == 0 {
        return None;
    }
    let text = image.get(offset + 0x200..)?;
    let end = text.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&text[..end]).ok().map(str::to_string)
}

/// Whether a bzImage's version string names the running kernel (`release` and `version`
/// as /proc/sys/kernel/{osrelease,version} give them: the build stamp makes it unique).
pub fn is_running_kernel(image: &[u8], release: &str, version: &str) -> bool {
    bzimage_version(image).is_some_and(|v| {
        v.starts_with(&format!("{} (", release.trim()))
            && v.ends_with(&format!(") {}", version.trim()))
    })
}

/// The command line as the kernel gets it: no NUL inside, within the kernel's limit (less the
/// room a crash kernel needs for `elfcorehdr=`).
pub fn check_cmdline(
    cmdline: &str,
    image: &BzImage,
    crash: bool,
) -> Result<std::ffi::CString, KexecError> {
    let room = if crash { ELFCOREHDR_ROOM } else { 0 };
    let max = (image.cmdline_max as usize).saturating_sub(room);
    if cmdline.len() > max {
        return Err(KexecError::BadCmdline(format!(
            "{} bytes, this kernel accepts at most {max}",
            cmdline.len()
        )));
    }
    std::ffi::CString::new(cmdline)
        .map_err(|_| KexecError::BadCmdline("contains a NUL byte".to_string()))
}

/// Maps a kexec_file_load failure to a message that says what to do.
pub fn syscall_error(errno: Errno, kernel: &Path, crash: bool) -> KexecError {
    match errno {
        Errno::PERM => KexecError::PermissionDenied,
        Errno::NOSYS => KexecError::Unsupported,
        Errno::NOEXEC | Errno::INVAL => KexecError::Rejected {
            path: kernel.to_path_buf(),
            errno: errno.raw_os_error(),
        },
        Errno::KEYREJECTED | Errno::NOKEY | Errno::BADMSG | Errno::NODATA => {
            KexecError::KeyRejected
        }
        Errno::NOMEM | Errno::ADDRNOTAVAIL => KexecError::TooLarge { crash },
        Errno::BUSY => KexecError::Busy,
        Errno::ACCESS => KexecError::AccessDenied,
        other => KexecError::Other {
            what: "kexec_file_load",
            error: io::Error::from(other),
        },
    }
}

pub(crate) fn io_error(context: impl fmt::Display, error: io::Error) -> KexecError {
    KexecError::Io {
        context: context.to_string(),
        error,
    }
}

/// Host paths of the files an entry boots, each resolved inside its filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexecPlan {
    pub kernel: PathBuf,
    pub initrds: Vec<PathBuf>,
    pub cmdline: String,
    /// Files extracted from a unified kernel image for this plan.
    pub staged: Option<crate::boot::launch::uki::Staged>,
}

impl KexecPlan {
    /// Removes the files extracted from a unified kernel image, if any.
    pub fn discard_staged(&self) {
        if let Some(staged) = &self.staged {
            staged.remove();
        }
    }
}

/// The plan for `entry`; a unified kernel image's kernel and initrd are first extracted
/// into `staging` (the caller removes them: `KexecPlan::discard_staged`).
pub fn plan(entry: &DiscoveredEntry, staging: &Path) -> Result<KexecPlan, KexecError> {
    if let EntryKind::Chainload { target } = &entry.entry.kind {
        return Err(KexecError::NotLinux {
            label: entry.entry.label.clone(),
            target: target.clone(),
        });
    }
    let fs = DirFs::new(&entry.mount_point);
    let host = |path: &Path| {
        fs.host_path(path)
            .map_err(|e| io_error(format!("{}:{}", entry.device, path.display()), e))
    };
    if let EntryKind::Uki { profile, addons } = &entry.entry.kind {
        let addons = addons
            .iter()
            .map(|a| host(a))
            .collect::<Result<Vec<_>, _>>()?;
        let staged = crate::boot::launch::uki::stage(
            &host(&entry.entry.kernel)?,
            *profile,
            &addons,
            staging,
        )?;
        // An empty command line boots with the image's own (see Staged::cmdline).
        let cmdline = match entry.entry.cmdline.trim().is_empty() {
            true => staged.cmdline.clone().unwrap_or_default(),
            false => entry.entry.cmdline.clone(),
        };
        return Ok(KexecPlan {
            kernel: staged.kernel.clone(),
            initrds: staged.initrd.iter().cloned().collect(),
            cmdline,
            staged: Some(staged),
        });
    }
    Ok(KexecPlan {
        staged: None,
        kernel: host(&entry.entry.kernel)?,
        initrds: entry
            .entry
            .initrds
            .iter()
            .map(|p| host(p))
            .collect::<Result<_, _>>()?,
        cmdline: entry.entry.cmdline.clone(),
    })
}

/// Opens the kernel and checks its header; the file is returned rewound for the syscall.
pub fn open_kernel(path: &Path) -> Result<(File, BzImage), KexecError> {
    let mut file = File::open(path).map_err(|e| io_error(path.display(), e))?;
    let mut header = Vec::with_capacity(HEADER_BYTES);
    (&mut file)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut header)
        .map_err(|e| io_error(path.display(), e))?;
    let image = check_bzimage(&header).map_err(|reason| KexecError::NotBzImage {
        path: path.to_path_buf(),
        reason,
    })?;
    // kexec_file_load reads the file from offset 0 whatever the file position.
    Ok((file, image))
}

/// The zero bytes that bring an initrd of `len` bytes to a multiple of 4.
pub fn initrd_padding(len: u64) -> &'static [u8] {
    &[0u8; 3][..((4 - len % 4) % 4) as usize]
}

/// Refuses, with the figures, what Linux would refuse with a bare EINVAL: files that
/// alone take more than half of the memory (MemTotal) the kernel manages.
fn check_half_of_memory(kernel: &File, initrd: Option<&File>) -> Result<(), KexecError> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let Some(memory_bytes) = mem_total_bytes(&meminfo) else {
        return Ok(());
    };
    let size = |f: &File| f.metadata().map(|m| m.len()).unwrap_or(0);
    let image_bytes = size(kernel) + initrd.map_or(0, size);
    if image_bytes > memory_bytes / 2 {
        return Err(KexecError::OverHalfOfMemory {
            image_bytes,
            memory_bytes,
        });
    }
    Ok(())
}

/// `MemTotal:` of /proc/meminfo, in bytes.
pub fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// Loads `entry` for a kexec reboot (`execute` starts it), under the image's signature
/// policy.
pub fn load(entry: &DiscoveredEntry) -> Result<(), KexecError> {
    load_staged(entry, false)
}

fn load_staged(entry: &DiscoveredEntry, crash: bool) -> Result<(), KexecError> {
    let staging = Path::new(STAGING_DIR);
    let plan = plan(entry, staging)?;
    let result = load_plan(&plan, crash, staging, signature::current(), None);
    plan.discard_staged();
    result
}

/// Loads `entry` as the crash kernel (needs a `crashkernel=` reservation).
pub fn load_crash(entry: &DiscoveredEntry) -> Result<(), KexecError> {
    load_staged(entry, true)
}

/// Everything `load_plan` checks, signatures included, without loading: for `menu
/// --dry-run` and tests.
pub fn check_plan(plan: &KexecPlan, crash: bool, policy: &Policy) -> Result<BzImage, KexecError> {
    if policy.require_signed {
        let payloads = payload::open_verified(plan, policy, None)?;
        check_cmdline(&plan.cmdline, &payloads.image, crash)?;
        return Ok(payloads.image);
    }
    let (_, image) = open_kernel(&plan.kernel)?;
    check_cmdline(&plan.cmdline, &image, crash)?;
    for initrd in &plan.initrds {
        File::open(initrd).map_err(|e| io_error(initrd.display(), e))?;
    }
    Ok(image)
}

/// Loads the plan's kernel and initrds; with `policy.require_signed`, only the bytes
/// that were verified (`payload::open_verified`). The observer (the TPM's
/// measurements) sees the bytes loaded and may append an archive to the initrd.
pub fn load_plan(
    plan: &KexecPlan,
    crash: bool,
    staging: &Path,
    policy: &Policy,
    observer: Option<&mut dyn payload::Observer>,
) -> Result<(), KexecError> {
    let payloads = if policy.require_signed {
        payload::open_verified(plan, policy, observer)?
    } else {
        payload::open_unverified(plan, staging, observer)?
    };
    let cmdline = check_cmdline(&plan.cmdline, &payloads.image, crash)?;
    let mut flags = if crash { KEXEC_FILE_ON_CRASH } else { 0 };
    if payloads.initrd.is_none() {
        flags |= KEXEC_FILE_NO_INITRAMFS;
    }
    if !crash {
        check_half_of_memory(&payloads.kernel, payloads.initrd.as_ref())?;
    }
    let result = kexec_file_load(
        payloads.kernel.as_fd(),
        payloads.initrd.as_ref().map(|f| f.as_fd()),
        &cmdline,
        flags,
    );
    // The kernel has its own copy now (or failed): a joined initrd's tmpfs space is
    // needed back.
    drop(payloads);
    result.map_err(|e| {
        let errno = Errno::from_io_error(&e).unwrap_or(Errno::IO);
        let lockdown = Lockdown::read(Path::new(lockdown::LOCKDOWN));
        match lockdown::refusal(errno, lockdown, KexecSyscall::FileLoad) {
            Some(why) => KexecError::LockedDown(why),
            None => syscall_error(errno, &plan.kernel, crash),
        }
    })
}

/// Starts the loaded kernel: flushes and unmounts disks (read-only remount where busy), then
/// reboot(LINUX_REBOOT_CMD_KEXEC). Returns only when that failed.
pub fn execute() -> KexecError {
    let warn = &mut |problem: &str| {
        let _ = writeln!(io::stderr(), "kboot: warning: {problem}");
    };
    match crate::power::shut_down(rustix::system::RebootCommand::Kexec, warn) {
        Ok(()) => KexecError::Other {
            what: "reboot(KEXEC)",
            error: io::Error::other("returned without rebooting"),
        },
        Err(Errno::INVAL) => KexecError::Other {
            what: "reboot(KEXEC)",
            error: io::Error::other("no kernel is loaded"),
        },
        Err(Errno::PERM) => KexecError::PermissionDenied,
        Err(errno) => KexecError::Other {
            what: "reboot(KEXEC)",
            error: io::Error::from(errno),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_bytes() {
        let meminfo = "MemTotal:         108164 kB\nMemFree:           60000 kB\n";
        assert_eq!(mem_total_bytes(meminfo), Some(108_164 * 1024));
        assert_eq!(mem_total_bytes("MemFree: 1 kB\n"), None);
        let refused = KexecError::OverHalfOfMemory {
            image_bytes: 63 << 20,
            memory_bytes: 106 << 20,
        };
        assert_eq!(
            refused.to_string(),
            "kernel and initrd take 63 MiB, more than half of this machine's 106 MiB: \
             Linux's kexec refuses that (it needs 126 MiB of usable memory)"
        );
    }

    #[test]
    fn host_kernel_passes_header_check() {
        // Debian's own kernel, when installed, is a real bzImage to check against.
        let Some(kernel) = std::fs::read_dir("/boot").ok().and_then(|dir| {
            dir.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
        }) else {
            eprintln!("no /boot/vmlinuz-*: real-kernel check skipped");
            return;
        };
        let (_, image) = open_kernel(&kernel).unwrap();
        assert!(image.protocol >= 0x020C);
        assert!(image.cmdline_max >= 255);
        let name = kernel.file_name().unwrap().to_string_lossy();
        let release = name.trim_start_matches("vmlinuz-");
        let bytes = std::fs::read(&kernel).unwrap();
        let version = bzimage_version(&bytes).unwrap();
        assert!(version.starts_with(release), "{version}");
        let uname_v = version.split_once(") ").unwrap().1;
        assert!(is_running_kernel(&bytes, release, uname_v));
        assert!(!is_running_kernel(&bytes, release, "#2 SMP"));
    }

    #[test]
    fn errno_messages_say_what_to_do() {
        let kernel = Path::new("/run/kboot/mnt/vda2/boot/vmlinuz");
        let message = |errno| syscall_error(errno, kernel, false).to_string();
        assert!(message(Errno::PERM).contains("root"));
        assert!(message(Errno::PERM).contains("lockdown"));
        assert!(message(Errno::NOEXEC).contains("ENOEXEC"));
        assert!(message(Errno::NOEXEC).contains(&kernel.display().to_string()));
        assert!(message(Errno::INVAL).contains("EINVAL"));
        assert!(message(Errno::KEYREJECTED).contains("signed"));
        assert!(message(Errno::NOMEM).contains("too large"));
        assert!(message(Errno::BUSY).contains("EBUSY"));
        assert!(message(Errno::NOSYS).contains("CONFIG_KEXEC_FILE"));
        assert!(message(Errno::IO).contains("kexec_file_load"));
        let crash = syscall_error(Errno::NOMEM, kernel, true).to_string();
        assert!(crash.contains("crashkernel="), "{crash}");
    }
}
