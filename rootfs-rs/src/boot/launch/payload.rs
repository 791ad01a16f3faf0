//! The files kexec_file_load gets for a plan: the kernel and one initrd (several are
//! joined). Under `[security] require_signed` each file is read once into memory, that
//! buffer is checked against its `.minisig`, and the kernel is handed the same bytes in a
//! sealed memfd: nothing read from the disk after the check is ever loaded.
//!
//! An `Observer` (the TPM's measurements) sees each file's bytes as they are handed over
//! and may append an archive of its own to the initrd: what it measures is what the
//! kernel gets, not a second read of the disk (with an observer the kernel goes through
//! memory as under `require_signed`, and the initrds through the joined copy).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::boot::launch::kexec::{
    check_bzimage, initrd_padding, io_error, open_kernel, BzImage, KexecError, KexecPlan,
};
use crate::boot::signature::{memfd, seal, sealed, Policy};

/// Sees a plan's files while they are loaded.
pub trait Observer {
    /// The `index`-th file of the load (0: the kernel, then the entry's initrds in
    /// order); `bytes` yields its contents. An error is a read error of the payload, and
    /// fails the load.
    fn file(&mut self, index: usize, bytes: &mut dyn Read) -> io::Result<()>;
    /// An archive to append after the entry's initrds, asked for once every file was seen.
    fn appendix(&mut self) -> Option<Vec<u8>>;
}

/// What is handed to the kernel; a joined initrd in the staging directory is removed
/// when this is dropped.
pub struct Payloads {
    pub kernel: File,
    pub image: BzImage,
    pub initrd: Option<File>,
    joined: Option<PathBuf>,
}

impl Payloads {
    /// Files that leave nothing in the staging directory.
    fn unstaged(kernel: File, image: BzImage, initrd: Option<File>) -> Payloads {
        Payloads {
            kernel,
            image,
            initrd,
            joined: None,
        }
    }
}

impl Drop for Payloads {
    fn drop(&mut self) {
        if let Some(path) = &self.joined {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The plan's files as they are on the disk (no signature policy). Several initrds, or
/// one and an observer, are joined into a file in `staging`.
pub fn open_unverified(
    plan: &KexecPlan,
    staging: &Path,
    mut observer: Option<&mut dyn Observer>,
) -> Result<Payloads, KexecError> {
    let (mut kernel, mut image) = open_kernel(&plan.kernel)?;
    if let Some(observer) = observer.as_deref_mut() {
        // Measured: the whole file read once (its header checked first, above), and the
        // kernel handed those bytes, not a second read of the disk.
        let mut bytes = Vec::new();
        kernel
            .seek(SeekFrom::Start(0))
            .and_then(|_| kernel.read_to_end(&mut bytes))
            .map_err(|e| io_error(plan.kernel.display(), e))?;
        (kernel, image) = kernel_in_memory(&plan.kernel, bytes, Some(observer))?;
    }
    // Without an observer, no initrd or one is handed over as it is on the disk.
    match (plan.initrds.as_slice(), &observer) {
        ([], None) => return Ok(Payloads::unstaged(kernel, image, None)),
        ([one], None) => {
            let initrd = File::open(one).map_err(|e| io_error(one.display(), e))?;
            return Ok(Payloads::unstaged(kernel, image, Some(initrd)));
        }
        _ => {}
    }
    std::fs::create_dir_all(staging).map_err(|e| io_error(staging.display(), e))?;
    let path = staging.join(format!("initrd-{}.img", std::process::id()));
    let mut out = File::create(&path).map_err(|e| io_error(path.display(), e))?;
    let written = join_initrds(
        &plan.initrds,
        &mut |initrd| {
            File::open(initrd)
                .map(|f| Box::new(f) as Box<dyn Read>)
                .map_err(|e| io_error(initrd.display(), e))
        },
        &mut out,
        &path.display().to_string(),
        observer,
    );
    let mut payloads = Payloads {
        kernel,
        image,
        initrd: None,
        joined: Some(path.clone()),
    };
    // On an error `payloads` is dropped, and the partial file with it.
    let written = written?;
    out.sync_all().map_err(|e| io_error(path.display(), e))?;
    // Closed and opened again read-only: kexec_file_load refuses a file someone has
    // open for writing (ETXTBSY).
    drop(out);
    if written > 0 {
        payloads.initrd = Some(File::open(&path).map_err(|e| io_error(path.display(), e))?);
    }
    Ok(payloads)
}

/// The plan's files, each verified against its `.minisig` under `policy` and sealed in
/// memory; the first unsigned or altered file refuses the whole plan. The observer sees
/// the verified buffers.
pub fn open_verified(
    plan: &KexecPlan,
    policy: &Policy,
    mut observer: Option<&mut dyn Observer>,
) -> Result<Payloads, KexecError> {
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
    let (kernel, image) = kernel_in_memory(&plan.kernel, kernel_bytes, observer.as_deref_mut())?;
    if plan.initrds.is_empty() && observer.is_none() {
        return Ok(Payloads::unstaged(kernel, image, None));
    }
    // One file at a time in memory besides the joined memfd.
    let memfd_error = |e| io_error("memfd for the verified initrd", e);
    let mut joined = memfd("kboot-initrd").map_err(memfd_error)?;
    let written = join_initrds(
        &plan.initrds,
        &mut |initrd| {
            policy
                .read_verified(initrd)
                .map(|bytes| Box::new(io::Cursor::new(bytes)) as Box<dyn Read>)
                .map_err(KexecError::Unsigned)
        },
        &mut joined,
        "the verified initrd's memfd",
        observer,
    )?;
    seal(&joined).map_err(memfd_error)?;
    Ok(Payloads::unstaged(
        kernel,
        image,
        (written > 0).then_some(joined),
    ))
}

/// The kernel file `path` read into `bytes`: its header checked, shown to the observer,
/// and handed over in a sealed memfd (the same bytes, whatever the disk holds later).
fn kernel_in_memory(
    path: &Path,
    bytes: Vec<u8>,
    observer: Option<&mut (dyn Observer + '_)>,
) -> Result<(File, BzImage), KexecError> {
    let image = check_bzimage(&bytes).map_err(|reason| KexecError::NotBzImage {
        path: path.to_path_buf(),
        reason,
    })?;
    if let Some(observer) = observer {
        observer
            .file(0, &mut &bytes[..])
            .map_err(|e| io_error(path.display(), e))?;
    }
    let kernel = sealed("kboot-kernel", &bytes).map_err(|e| io_error("memfd for the kernel", e))?;
    Ok((kernel, image))
}

/// Opens one initrd of the plan for reading (from the disk, or verified into memory).
type OpenInitrd<'a> = dyn FnMut(&Path) -> Result<Box<dyn Read>, KexecError> + 'a;

/// Copies each of `initrds` (opened by `open`) into `out`, padded to 4 bytes (the kernel
/// unpacks concatenated cpio archives, skipping zero padding between them), through the
/// observer, then the observer's appendix. Returns the bytes written.
fn join_initrds(
    initrds: &[PathBuf],
    open: &mut OpenInitrd,
    out: &mut File,
    out_name: &str,
    mut observer: Option<&mut dyn Observer>,
) -> Result<u64, KexecError> {
    let mut written = 0u64;
    for (i, initrd) in initrds.iter().enumerate() {
        let mut input = open(initrd)?;
        let copy_error = |e| io_error(format!("copying {} to {out_name}", initrd.display()), e);
        let mut tee = Tee {
            input: &mut input,
            out: &mut *out,
            copied: 0,
        };
        if let Some(observer) = observer.as_deref_mut() {
            observer.file(i + 1, &mut tee).map_err(copy_error)?;
        }
        // What the observer left unread (all of it without one).
        io::copy(&mut tee, &mut io::sink()).map_err(copy_error)?;
        let copied = tee.copied;
        out.write_all(initrd_padding(copied))
            .map_err(|e| io_error(out_name, e))?;
        written += copied + initrd_padding(copied).len() as u64;
    }
    if let Some(extra) = observer.and_then(|o| o.appendix()) {
        out.write_all(&extra)
            .and_then(|()| out.write_all(initrd_padding(extra.len() as u64)))
            .map_err(|e| io_error(out_name, e))?;
        written += extra.len() as u64 + initrd_padding(extra.len() as u64).len() as u64;
    }
    Ok(written)
}

/// A reader that writes what is read from it into `out`: the observer and the joined
/// initrd see the same bytes from one read.
struct Tee<'a> {
    input: &'a mut dyn Read,
    out: &'a mut File,
    copied: u64,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.out.write_all(&buf[..n])?;
        self.copied += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kboot-payload-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The smallest file `check_bzimage` takes (Documentation/arch/x86/boot.rst):
    /// "HdrS", protocol 2.15, LOADED_HIGH, XLF_KERNEL_64, then a body.
    fn bzimage(body: &[u8]) -> Vec<u8> {
        let mut image = vec![0u8; 0x240];
        image[0x202..0x206].copy_from_slice(b"HdrS");
        image[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
        image[0x211] = 0x01;
        image[0x236] = 0x01;
        image[0x238..0x23C].copy_from_slice(&2048u32.to_le_bytes());
        image.extend_from_slice(body);
        image
    }

    fn plan(dir: &Path, initrds: &[(&str, &[u8])]) -> KexecPlan {
        std::fs::write(dir.join("vmlinuz"), bzimage(b"kernel body")).unwrap();
        KexecPlan {
            kernel: dir.join("vmlinuz"),
            initrds: initrds
                .iter()
                .map(|(name, bytes)| {
                    std::fs::write(dir.join(name), bytes).unwrap();
                    dir.join(name)
                })
                .collect(),
            cmdline: String::new(),
            staged: None,
        }
    }

    /// Records what it is shown; reads only part of the second initrd, as an observer
    /// that stops early may.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<(usize, Vec<u8>)>,
    }

    impl Observer for Recorder {
        fn file(&mut self, index: usize, bytes: &mut dyn Read) -> io::Result<()> {
            let mut data = Vec::new();
            if index == 2 {
                bytes.take(2).read_to_end(&mut data)?;
            } else {
                bytes.read_to_end(&mut data)?;
            }
            self.seen.push((index, data));
            Ok(())
        }

        fn appendix(&mut self) -> Option<Vec<u8>> {
            Some(b"LOG".to_vec())
        }
    }

    fn contents(file: &mut File) -> Vec<u8> {
        let mut data = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut data).unwrap();
        data
    }

    #[test]
    fn initrds_are_joined_with_padding_and_a_missing_one_is_named() {
        let dir = temp_dir("join");
        let plan = plan(
            &dir,
            &[("ucode.cpio", b"12345"), ("initrd.img", b"abcdefgh")],
        );
        let mut payloads = open_unverified(&plan, &dir.join("stage"), None).unwrap();
        let joined = payloads.joined.clone().unwrap();
        assert_eq!(
            contents(payloads.initrd.as_mut().unwrap()),
            b"12345\0\0\0abcdefgh"
        );
        drop(payloads);
        assert!(!joined.exists(), "the joined initrd outlived the load");
        let mut missing = plan.clone_with_initrd(dir.join("missing"));
        let err = open_unverified(&missing, &dir.join("stage"), None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("missing"), "{err}");
        // One initrd and no observer: the disk's file itself, nothing staged.
        missing.initrds = vec![dir.join("initrd.img")];
        let payloads = open_unverified(&missing, &dir.join("stage"), None).unwrap();
        assert!(payloads.joined.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_observer_sees_each_file_as_loaded_and_its_appendix_ends_the_initrd() {
        let dir = temp_dir("observer");
        let plan = plan(&dir, &[("a.img", b"12345"), ("b.img", b"abcdefgh")]);
        let mut recorder = Recorder::default();
        let mut payloads = open_unverified(&plan, &dir.join("stage"), Some(&mut recorder)).unwrap();
        assert_eq!(
            recorder.seen,
            [
                (0, bzimage(b"kernel body")),
                (1, b"12345".to_vec()),
                (2, b"ab".to_vec())
            ]
        );
        // The rest of b.img was copied all the same, then the appendix, padded.
        assert_eq!(
            contents(payloads.initrd.as_mut().unwrap()),
            b"12345\0\0\0abcdefghLOG\0"
        );
        // What was measured is what the kernel gets, whatever the disk holds later.
        std::fs::write(&plan.kernel, bzimage(b"changed on the disk")).unwrap();
        std::fs::write(&plan.initrds[0], b"54321").unwrap();
        assert_eq!(contents(&mut payloads.kernel), bzimage(b"kernel body"));
        assert!(contents(payloads.initrd.as_mut().unwrap()).starts_with(b"12345"));
        std::fs::write(&plan.kernel, bzimage(b"kernel body")).unwrap();
        // No initrd of its own: the appendix alone is the initrd.
        let bare = plan.clone_with_initrds(Vec::new());
        let mut recorder = Recorder::default();
        let mut payloads = open_unverified(&bare, &dir.join("stage"), Some(&mut recorder)).unwrap();
        assert_eq!(contents(payloads.initrd.as_mut().unwrap()), b"LOG\0");
        assert_eq!(recorder.seen.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    impl KexecPlan {
        fn clone_with_initrds(&self, initrds: Vec<PathBuf>) -> KexecPlan {
            KexecPlan {
                kernel: self.kernel.clone(),
                initrds,
                cmdline: self.cmdline.clone(),
                staged: None,
            }
        }

        fn clone_with_initrd(&self, initrd: PathBuf) -> KexecPlan {
            self.clone_with_initrds(vec![self.initrds[0].clone(), initrd])
        }
    }
}
