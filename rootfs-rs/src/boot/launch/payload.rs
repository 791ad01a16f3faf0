//! The files kexec_file_load gets for a plan: the kernel and one initrd (several are
//! joined). Under `[security] require_signed` each file is read once into memory, that
//! buffer is checked against its `.minisig`, and the kernel is handed the same bytes in a
//! sealed memfd: nothing read from the disk after the check is ever loaded.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use crate::boot::launch::kexec::{
    check_bzimage, concatenate_initrds, initrd_padding, io_error, open_kernel, BzImage, KexecError,
    KexecPlan,
};
use crate::boot::signature::{memfd, seal, sealed, Policy};

/// What is handed to the kernel; a joined initrd in the staging directory is removed
/// when this is dropped.
pub struct Payloads {
    pub kernel: File,
    pub image: BzImage,
    pub initrd: Option<File>,
    joined: Option<PathBuf>,
}

impl Drop for Payloads {
    fn drop(&mut self) {
        if let Some(path) = &self.joined {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The plan's files as they are on the disk (no signature policy).
pub fn open_unverified(
    plan: &KexecPlan,
    staging: &std::path::Path,
) -> Result<Payloads, KexecError> {
    let (kernel, image) = open_kernel(&plan.kernel)?;
    let all: Vec<PathBuf> = plan
        .initrds
        .iter()
        .chain(&plan.own_initrds)
        .cloned()
        .collect();
    let (path, joined) = match all.as_slice() {
        [] => (None, None),
        [one] => (Some(one.clone()), None),
        many => {
            let joined = concatenate_initrds(many, staging)?;
            (Some(joined.clone()), Some(joined))
        }
    };
    let initrd = match &path {
        Some(path) => Some(File::open(path).map_err(|e| io_error(path.display(), e))?),
        None => None,
    };
    Ok(Payloads {
        kernel,
        image,
        initrd,
        joined,
    })
}

/// The plan's files, each verified against its `.minisig` under `policy` and sealed in
/// memory; the first unsigned or altered file refuses the whole plan.
pub fn open_verified(plan: &KexecPlan, policy: &Policy) -> Result<Payloads, KexecError> {
    if plan.staged.is_some() {
        return Err(KexecError::Unsigned(
            "unified kernel images are not checked against .minisig files yet; \
             sign and boot a kernel and initrd instead"
                .to_string(),
        ));
    }
    let kernel_bytes = policy
        .read_verified(&plan.kernel)
        .map_err(KexecError::Unsigned)?;
    let image = check_bzimage(&kernel_bytes).map_err(|reason| KexecError::NotBzImage {
        path: plan.kernel.clone(),
        reason,
    })?;
    let kernel = sealed("kboot-kernel", &kernel_bytes)
        .map_err(|e| io_error("memfd for the verified kernel", e))?;
    drop(kernel_bytes);
    let initrd = if plan.initrds.is_empty() && plan.own_initrds.is_empty() {
        None
    } else {
        // One file at a time in memory besides the joined memfd.
        let memfd_error = |e| io_error("memfd for the verified initrd", e);
        let mut joined = memfd("kboot-initrd").map_err(memfd_error)?;
        let verified = plan
            .initrds
            .iter()
            .map(|path| policy.read_verified(path).map_err(KexecError::Unsigned));
        let own = plan
            .own_initrds
            .iter()
            .map(|path| std::fs::read(path).map_err(|e| io_error(path.display(), e)));
        for bytes in verified.chain(own) {
            let bytes = bytes?;
            joined
                .write_all(&bytes)
                .and_then(|()| joined.write_all(initrd_padding(bytes.len() as u64)))
                .map_err(memfd_error)?;
        }
        seal(&joined).map_err(memfd_error)?;
        Some(joined)
    };
    Ok(Payloads {
        kernel,
        image,
        initrd,
        joined: None,
    })
}
