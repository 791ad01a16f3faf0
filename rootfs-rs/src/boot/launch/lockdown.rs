//! Kernel lockdown and Secure Boot, as they bear on kexec. A locked-down kernel
//! (kernel_lockdown(7); Debian's and Fedora's kernels lock down when the firmware booted
//! them with Secure Boot, kernel/kexec.c and kernel/kexec_file.c) refuses
//! `kexec_load` outright with EPERM, and lets `kexec_file_load` load only a kernel whose
//! signature verifies against a key it trusts (its built-in and secondary keyrings, or the
//! firmware's db and the MOK list through the platform keyring): EPERM for an unsigned or
//! untrusted kernel, or the verification error (EKEYREJECTED, ENOKEY, …) with
//! KEXEC_SIG_FORCE. A refusal under lockdown is said in those words, never as a bare errno.
//!
//! kboot's own lean kernel has no lockdown LSM (no CONFIG_SECURITY): there the state reads
//! `Unavailable` and kexec is never refused for a signature.

use std::path::Path;

use rustix::io::Errno;

/// Where the kernel's lockdown state is shown ("none [integrity] confidentiality").
pub const LOCKDOWN: &str = "/sys/kernel/security/lockdown";
/// EFI_GLOBAL_VARIABLE's SecureBoot: one byte, 1 when the firmware enforces signatures.
const SECURE_BOOT_VAR: &str = "SecureBoot";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockdown {
    /// No lockdown LSM (or no securityfs): the file does not exist.
    Unavailable,
    None,
    Integrity,
    Confidentiality,
}

impl Lockdown {
    /// The mode in brackets of the lockdown file's text.
    pub fn parse(text: &str) -> Lockdown {
        let mode = text
            .split_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(mode, _)| mode);
        match mode {
            Some("integrity") => Lockdown::Integrity,
            Some("confidentiality") => Lockdown::Confidentiality,
            Some(_) => Lockdown::None,
            None => Lockdown::Unavailable,
        }
    }

    /// The running kernel's state (`path` is [`LOCKDOWN`] outside tests).
    pub fn read(path: &Path) -> Lockdown {
        std::fs::read_to_string(path)
            .map(|text| Lockdown::parse(&text))
            .unwrap_or(Lockdown::Unavailable)
    }

    pub fn name(self) -> &'static str {
        match self {
            Lockdown::Unavailable => "no lockdown LSM",
            Lockdown::None => "none",
            Lockdown::Integrity => "integrity",
            Lockdown::Confidentiality => "confidentiality",
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, Lockdown::Integrity | Lockdown::Confidentiality)
    }
}

/// The two ways to load a kernel for kexec; kboot uses only `kexec_file_load`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KexecSyscall {
    Load,
    FileLoad,
}

/// What lockdown means for a failed kexec load, when it is the reason: `errno` from
/// `syscall` under `lockdown`. None when lockdown does not explain the error (then the
/// plain errno message stands).
pub fn refusal(errno: Errno, lockdown: Lockdown, syscall: KexecSyscall) -> Option<String> {
    if !lockdown.is_active() {
        return None;
    }
    let mode = lockdown.name();
    match syscall {
        KexecSyscall::Load if errno == Errno::PERM => Some(format!(
            "the running kernel is locked down ({mode}): it refuses kexec_load (EPERM); only \
             kexec_file_load of a kernel signed by a key this kernel trusts can be started"
        )),
        KexecSyscall::FileLoad if is_signature_errno(errno) => Some(format!(
            "the running kernel is locked down ({mode}): kexec_file_load loads only a kernel \
             signed by a key this kernel trusts (its built-in or secondary keyring, or the \
             firmware's db and the MOK list); this kernel's signature is missing or not \
             trusted ({})",
            errno_name(errno)
        )),
        _ => None,
    }
}

/// EPERM is what lockdown returns for an unsigned kernel; the others are the signature
/// check's own errors, returned as they are under KEXEC_SIG_FORCE.
fn is_signature_errno(errno: Errno) -> bool {
    [
        Errno::PERM,
        Errno::KEYREJECTED,
        Errno::NOKEY,
        Errno::BADMSG,
        Errno::NODATA,
        Errno::NOPKG,
    ]
    .contains(&errno)
}

fn errno_name(errno: Errno) -> &'static str {
    match errno {
        Errno::PERM => "EPERM",
        Errno::KEYREJECTED => "EKEYREJECTED",
        Errno::NOKEY => "ENOKEY",
        Errno::BADMSG => "EBADMSG",
        Errno::NODATA => "ENODATA",
        Errno::NOPKG => "ENOPKG",
        _ => "error",
    }
}

/// The firmware's Secure Boot state from the SecureBoot variable in `efivars`: None
/// when there is no such variable (BIOS boot, no efivarfs).
pub fn secure_boot(efivars: &Path) -> Option<bool> {
    crate::boot::efi::read_var(efivars, SECURE_BOOT_VAR)
        .and_then(|data| data.first().copied())
        .map(|byte| byte == 1)
}

/// The line logged before kexec, so a boot log shows what the firmware and the kernel
/// enforce ("kboot: Secure Boot: enabled; kernel lockdown: no lockdown LSM").
pub fn state_line(secure_boot: Option<bool>, lockdown: Lockdown) -> String {
    let firmware = match secure_boot {
        Some(true) => "enabled",
        Some(false) => "disabled",
        None => "unknown (no EFI variables)",
    };
    format!(
        "kboot: Secure Boot: {firmware}; kernel lockdown: {}",
        lockdown.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracketed_mode_is_the_state() {
        let parse = Lockdown::parse;
        assert_eq!(
            parse("none [integrity] confidentiality\n"),
            Lockdown::Integrity
        );
        assert_eq!(
            parse("none integrity [confidentiality]\n"),
            Lockdown::Confidentiality
        );
        assert_eq!(parse("[none] integrity confidentiality\n"), Lockdown::None);
        assert_eq!(parse(""), Lockdown::Unavailable);
        assert_eq!(
            Lockdown::read(Path::new("/nonexistent/lockdown")),
            Lockdown::Unavailable
        );
    }

    #[test]
    fn kexec_load_under_lockdown_is_refused_in_words() {
        let message = refusal(Errno::PERM, Lockdown::Integrity, KexecSyscall::Load).unwrap();
        assert!(message.contains("locked down (integrity)"), "{message}");
        assert!(message.contains("refuses kexec_load"), "{message}");
        assert!(message.contains("kexec_file_load"), "{message}");
        assert!(message.contains("signed"), "{message}");
    }

    #[test]
    fn kexec_file_load_under_lockdown_needs_a_trusted_signature() {
        for (errno, name) in [
            (Errno::PERM, "EPERM"),
            (Errno::KEYREJECTED, "EKEYREJECTED"),
            (Errno::NOKEY, "ENOKEY"),
            (Errno::NODATA, "ENODATA"),
        ] {
            let message = refusal(errno, Lockdown::Confidentiality, KexecSyscall::FileLoad)
                .unwrap_or_else(|| panic!("{name} under lockdown not explained"));
            assert!(
                message.contains("locked down (confidentiality)"),
                "{message}"
            );
            assert!(message.contains("signed by a key"), "{message}");
            assert!(message.contains(&format!("({name})")), "{message}");
        }
    }

    #[test]
    fn other_errors_and_unlocked_kernels_keep_the_plain_message() {
        // Lockdown does not explain running out of memory or a busy kexec.
        for errno in [Errno::NOMEM, Errno::BUSY, Errno::NOEXEC, Errno::INVAL] {
            assert_eq!(
                refusal(errno, Lockdown::Integrity, KexecSyscall::FileLoad),
                None
            );
        }
        assert_eq!(
            refusal(Errno::NOEXEC, Lockdown::Integrity, KexecSyscall::Load),
            None
        );
        for state in [Lockdown::None, Lockdown::Unavailable] {
            for syscall in [KexecSyscall::Load, KexecSyscall::FileLoad] {
                assert_eq!(refusal(Errno::PERM, state, syscall), None);
                assert_eq!(refusal(Errno::KEYREJECTED, state, syscall), None);
            }
        }
    }

    #[test]
    fn the_secure_boot_variable_is_read_from_efivarfs() {
        let dir = std::env::temp_dir().join(format!("kboot-secure-boot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(secure_boot(&dir), None);
        let var = dir.join("SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c");
        // efivarfs: 4 attribute bytes (boot and runtime access), then the data byte.
        std::fs::write(&var, [6, 0, 0, 0, 1]).unwrap();
        assert_eq!(secure_boot(&dir), Some(true));
        std::fs::write(&var, [6, 0, 0, 0, 0]).unwrap();
        assert_eq!(secure_boot(&dir), Some(false));
        std::fs::write(&var, [6, 0, 0, 0]).unwrap();
        assert_eq!(secure_boot(&dir), None, "a variable without data");
        assert_eq!(
            state_line(Some(true), Lockdown::Unavailable),
            "kboot: Secure Boot: enabled; kernel lockdown: no lockdown LSM"
        );
        assert_eq!(
            state_line(None, Lockdown::Integrity),
            "kboot: Secure Boot: unknown (no EFI variables); kernel lockdown: integrity"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
