//! The only raw system calls kboot needs that rustix does not wrap: klogctl, sigprocmask, the
//! loop-device ioctls, kexec_file_load and SO_BINDTODEVICE; and the module syscalls
//! (finit_module, delete_module), which rustix wraps safely but which live here so that every
//! call into the kernel's module loader is in one place. Every unsafe block in the crate is in
//! this file.

/// `klogctl(SYSLOG_ACTION_CONSOLE_LEVEL)`: only messages more urgent than `level` (1–8)
/// reach the consoles; everything stays in the kernel log (what `dmesg -n` does).
pub fn set_console_log_level(level: u8) -> std::io::Result<()> {
    const SYSLOG_ACTION_CONSOLE_LEVEL: libc::c_int = 8;
    // SAFETY: the CONSOLE_LEVEL action takes the level in the length argument and reads no
    // buffer, so a null pointer is what the kernel documents; no memory of ours is touched.
    let rc = unsafe {
        libc::klogctl(
            SYSLOG_ACTION_CONSOLE_LEVEL,
            std::ptr::null_mut(),
            libc::c_int::from(level),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `klogctl(SYSLOG_ACTION_CLEAR)`: empty the kernel ring buffer (what `dmesg -c` does after reading).
pub fn clear_kernel_log() -> std::io::Result<()> {
    const SYSLOG_ACTION_CLEAR: libc::c_int = 5;
    // SAFETY: the CLEAR action reads no buffer; a null pointer with length 0 is what the kernel
    // documents for it, and the call has no other memory effects on this process.
    let rc = unsafe { libc::klogctl(SYSLOG_ACTION_CLEAR, std::ptr::null_mut(), 0) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn job_signal_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before sigaddset touches it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGQUIT);
        set
    }
}

/// Block SIGINT and SIGQUIT in the interactive shell so Ctrl-C kills the running command but
/// not the shell. Children must undo this with `unblock_job_signals_in_child`.
pub fn block_job_signals() -> std::io::Result<()> {
    let set = job_signal_set();
    // SAFETY: `set` is an initialised local that sigprocmask only reads; null for the old mask
    // is allowed. The signal mask is process-local state.
    let rc = unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Make a spawned child start with SIGINT/SIGQUIT unblocked (the signal mask is inherited
/// across exec, and std does not reset it).
pub fn unblock_job_signals_in_child(cmd: &mut std::process::Command) {
    let set = job_signal_set();
    // SAFETY: the closure runs in the forked child before exec and only calls sigprocmask,
    // which is async-signal-safe; `set` is a copied, initialised value; nothing is allocated.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            if libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Attach `file` to a free loop device with LOOP_CONFIGURE (Linux 5.8+), autoclear set so
/// the device detaches at umount. Returns the device path (e.g. /dev/loop0) and an open
/// handle: autoclear also fires when the last handle closes, so keep it until mounted.
pub fn loop_attach(
    file: &std::fs::File,
    read_only: bool,
) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    use std::os::fd::AsRawFd;
    const LOOP_CTL_GET_FREE: libc::Ioctl = 0x4C82;
    const LOOP_CONFIGURE: libc::Ioctl = 0x4C0A;
    const LO_FLAGS_READ_ONLY: u32 = 1;
    const LO_FLAGS_AUTOCLEAR: u32 = 4;
    // struct loop_config: u32 fd, u32 block_size, struct loop_info64 info (232 bytes, with
    // lo_flags at offset 52), u64 reserved[8] — 304 bytes, 8-byte aligned.
    const CONFIG_LEN: usize = 304;
    const FLAGS_AT: usize = 8 + 52;

    let control = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")?;
    // SAFETY: LOOP_CTL_GET_FREE takes no argument and only returns a device number.
    let number = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
    if number < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let path = std::path::PathBuf::from(format!("/dev/loop{number}"));
    let device = std::fs::OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(&path)?;
    let mut config = [0u64; CONFIG_LEN / 8];
    let mut bytes = [0u8; CONFIG_LEN];
    bytes[0..4].copy_from_slice(&(file.as_raw_fd() as u32).to_ne_bytes());
    let flags = LO_FLAGS_AUTOCLEAR | if read_only { LO_FLAGS_READ_ONLY } else { 0 };
    bytes[FLAGS_AT..FLAGS_AT + 4].copy_from_slice(&flags.to_ne_bytes());
    for (word, chunk) in config.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *word = u64::from_ne_bytes(b);
    }
    // SAFETY: `config` is a live, 8-byte aligned, fully initialised buffer of exactly the
    // size of struct loop_config; the kernel only reads it during the call.
    let rc = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CONFIGURE, config.as_mut_ptr()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((path, device))
}

// --- kexec_file_load: rustix has no wrapper for it. ---

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Load into the crash-kernel reservation (kdump) instead of for a kexec reboot.
pub const KEXEC_FILE_ON_CRASH: u32 = 0x2;
/// No initrd: the initrd fd is ignored.
pub const KEXEC_FILE_NO_INITRAMFS: u32 = 0x4;

/// `kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags)`; the length counts the
/// terminating NUL, as the kernel demands.
pub fn kexec_file_load(
    kernel: BorrowedFd<'_>,
    initrd: Option<BorrowedFd<'_>>,
    cmdline: &CStr,
    flags: u32,
) -> std::io::Result<()> {
    let initrd_fd = initrd.map_or(-1, |fd| fd.as_raw_fd());
    let cmdline_len = cmdline.to_bytes_with_nul().len();
    // SAFETY: every argument is passed by value except `cmdline`, a valid NUL-terminated
    // buffer of exactly `cmdline_len` bytes that outlives the call; the kernel only reads it
    // and the two fds, which are open (borrowed) for the duration of the call. The system
    // call does not touch this process's memory otherwise.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            libc::c_long::from(kernel.as_raw_fd()),
            libc::c_long::from(initrd_fd),
            cmdline_len as libc::c_ulong,
            cmdline.as_ptr(),
            libc::c_ulong::from(flags),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `setsockopt(SO_BINDTODEVICE)`: the DHCP client must send its broadcast out of one
/// interface before that interface has an address or a route.
pub fn bind_to_device(socket: &impl std::os::fd::AsRawFd, interface: &str) -> std::io::Result<()> {
    let name = interface.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: the option value is a pointer to `name.len()` readable bytes that live for
    // the call; the kernel copies them and reads nothing else of this process.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

// --- Kernel modules: rustix's safe wrappers, kept here so the loader has one door. ---

/// finit_module flag: the file is compressed and the kernel decompresses it
/// (CONFIG_MODULE_DECOMPRESS; the kernel says EOPNOTSUPP or ENOEXEC without it).
pub const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// `finit_module(fd, params, flags)`: load the module in `file` with its parameters
/// (`name=value` words separated by spaces, as the kernel's parse_args reads them).
pub fn finit_module(file: &std::fs::File, params: &CStr, flags: u32) -> rustix::io::Result<()> {
    rustix::system::finit_module(file, params, flags as libc::c_int)
}

/// `init_module(image, params)`: load a module from memory, for a compressed module whose
/// compression the kernel cannot undo itself (kboot decompressed it).
pub fn init_module(image: &[u8], params: &CStr) -> rustix::io::Result<()> {
    rustix::system::init_module(image, params)
}

/// `delete_module(name, flags)`; `O_NONBLOCK` (always set, as rmmod does) fails with EWOULDBLOCK
/// instead of waiting for the module to become unused, `force` adds O_TRUNC.
pub fn delete_module(name: &CStr, force: bool) -> rustix::io::Result<()> {
    let flags = libc::O_NONBLOCK | if force { libc::O_TRUNC } else { 0 };
    rustix::system::delete_module(name, flags)
}

/// The process's allocator: the system's, counting per thread the bytes allocated and not
/// yet freed, so a triage script's memory budget (dump::script) can be checked against what
/// its own thread uses. Two thread-local additions per allocation are the whole cost.
pub struct CountingAlloc;

thread_local! {
    // const-initialised and without a destructor: usable from the allocator at any time,
    // even while the thread's other locals are being torn down.
    static THREAD_ALLOCATED: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn count(delta: isize) {
    let _ = THREAD_ALLOCATED.try_with(|c| c.set(c.get().wrapping_add(delta)));
}

/// Bytes this thread allocated through the global allocator and has not freed (memory
/// freed by another thread is not subtracted here, so compare two readings of one thread).
pub fn allocated_bytes() -> isize {
    THREAD_ALLOCATED.try_with(|c| c.get()).unwrap_or(0)
}

// SAFETY: every method forwards to `std::alloc::System` with the caller's own arguments,
// so the GlobalAlloc contract (layout, pointer validity) is System's; the counter is only
// bookkeeping and never affects what is returned.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: same layout as the caller gave us (see the impl's comment).
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: ptr was returned by System.alloc/realloc with this layout.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: ptr/layout come from a previous allocation of ours, as the caller guarantees.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// For the fuzz binaries (`crate::fuzz::run`): makes the SIGSEGV handler already installed
/// (libFuzzer's) run on an alternate stack. Without a sanitizer nothing else gives it one,
/// so a stack overflow in a parser killed the fuzzer before it could save the input.
pub fn segv_handler_on_alternate_stack() -> std::io::Result<()> {
    const SIZE: usize = 256 << 10;
    // Leaked on purpose: the stack must outlive every signal the process may take.
    let stack: &'static mut [u8] = Box::leak(vec![0u8; SIZE].into_boxed_slice());
    let alt = libc::stack_t {
        ss_sp: stack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: SIZE,
    };
    // SAFETY: `alt` describes a live, writable, 'static buffer of SIZE bytes (≥ MINSIGSTKSZ);
    // the old-stack pointer may be null.
    if unsafe { libc::sigaltstack(&alt, std::ptr::null_mut()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: sigaction reads into and from a properly sized, zero-initialised struct
    // (all-zero is a valid `sigaction`); the handler itself is left as installed, only
    // SA_ONSTACK is added to its flags.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut action) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        action.sa_flags |= libc::SA_ONSTACK;
        if libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
