//! TPM measurements before kexec, the way the target's own loader would have made them,
//! so secrets sealed to PCRs (systemd-cryptenroll, Clevis) see the same kind of chain
//! whether that loader or kboot started the kernel (docs/tpm.md):
//! - a classic entry as GRUB's `tpm` module does: the kernel command line into PCR 8
//!   (event "kernel_cmdline: …", the command line's bytes hashed), then the kernel file
//!   and each initrd file into PCR 9;
//! - a unified kernel image as systemd-stub does: for each PE section present, in
//!   systemd's order, its name with the terminating NUL, then its contents, into PCR 11.
//!
//! Every active bank kboot can hash (SHA-1, SHA-256) gets the extends. What was measured
//! is written to /run/kboot/tpm-events.log and handed to the target in an extra initrd
//! (a cpio appended to its own) as /kboot/tpm-events.log. Without a TPM nothing
//! happens; a failure is a warning, never a refused boot.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::boot::config::pe::Section;
use crate::tpm2::{self, Bank};

/// Where kboot keeps the event log of the last boot (`tpm log` shows it).
pub const EVENT_LOG: &str = "/run/kboot/tpm-events.log";
/// The log's path in the target's initramfs: not under /run, which the target's init
/// (systemd, initramfs-tools) mounts a tmpfs over.
pub const TARGET_EVENT_LOG: &str = "kboot/tpm-events.log";
/// GRUB_STRING_PCR: command lines.
pub const PCR_STRINGS: u32 = 8;
/// GRUB_BINARY_PCR: files.
pub const PCR_FILES: u32 = 9;
/// systemd's TPM2_PCR_KERNEL_BOOT: a UKI's sections.
pub const PCR_UKI: u32 = 11;
/// The sections systemd-stub measures, in its order (`.pcrsig` is not measured: it
/// holds signatures of the resulting values).
pub const UKI_SECTIONS: &[&str] = &[
    ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
    ".pcrpkey",
];

/// What one extend hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measured {
    Bytes(Vec<u8>),
    File(PathBuf),
    /// `len` bytes at `offset` of a file (a PE section).
    Range {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

/// One extend of `pcr` by the hash of `what`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    pub pcr: u32,
    pub what: Measured,
    pub description: String,
}

/// GRUB's measurements for booting with `cmdline` the kernel and then the initrds in
/// `files`: (the file to hash, the name it goes by in the log, e.g. `vdb1:/boot/vmlinuz`).
pub fn grub_measurements(cmdline: &str, files: &[(PathBuf, String)]) -> Vec<Measurement> {
    let mut out = vec![Measurement {
        pcr: PCR_STRINGS,
        what: Measured::Bytes(cmdline.as_bytes().to_vec()),
        description: format!("kernel_cmdline: {cmdline}"),
    }];
    for (file, name) in files {
        out.push(Measurement {
            pcr: PCR_FILES,
            what: Measured::File(file.clone()),
            description: name.clone(),
        });
    }
    out
}

/// systemd-stub's measurements of the UKI at `uki` whose chosen profile has `sections`
/// (the last of a name wins, as for booting).
pub fn uki_measurements(uki: &Path, sections: &[Section]) -> Vec<Measurement> {
    let mut out = Vec::new();
    for name in UKI_SECTIONS {
        let Some(section) = sections.iter().rev().find(|s| s.name == *name) else {
            continue;
        };
        let mut with_nul = name.as_bytes().to_vec();
        with_nul.push(0);
        out.push(Measurement {
            pcr: PCR_UKI,
            what: Measured::Bytes(with_nul),
            description: format!("PE section name {name}"),
        });
        out.push(Measurement {
            pcr: PCR_UKI,
            what: Measured::Range {
                path: uki.to_path_buf(),
                offset: section.offset,
                len: section.size,
            },
            description: format!("PE section data {name}"),
        });
    }
    out
}

/// The digest of `what` in each of `banks`, hashing a file's bytes once for all.
pub fn digests(what: &Measured, banks: &[Bank]) -> io::Result<Vec<(Bank, Vec<u8>)>> {
    let mut hashers: Vec<_> = banks
        .iter()
        .filter_map(|&b| b.hasher().map(|h| (b, h)))
        .collect();
    let mut feed = |reader: &mut dyn Read| -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            for (_, h) in hashers.iter_mut() {
                h.update(&buf[..n]);
            }
        }
    };
    let located =
        |path: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    match what {
        Measured::Bytes(bytes) => feed(&mut &bytes[..])?,
        Measured::File(path) => {
            let mut file = File::open(path).map_err(|e| located(path, e))?;
            feed(&mut file).map_err(|e| located(path, e))?;
        }
        Measured::Range { path, offset, len } => {
            let mut file = File::open(path).map_err(|e| located(path, e))?;
            file.seek(SeekFrom::Start(*offset))
                .map_err(|e| located(path, e))?;
            let mut part = file.take(*len);
            feed(&mut part).map_err(|e| located(path, e))?;
            if part.limit() != 0 {
                return Err(located(
                    path,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file ends inside a section",
                    ),
                ));
            }
        }
    }
    Ok(hashers.into_iter().map(|(b, h)| (b, h.finish())).collect())
}

/// One line of the event log: `PCR BANK:HEX[,BANK:HEX…] DESCRIPTION`.
pub fn event_line(pcr: u32, digests: &[(Bank, Vec<u8>)], description: &str) -> String {
    let digests: Vec<String> = digests
        .iter()
        .map(|(b, d)| format!("{}:{}", b.name(), crate::util::hash::hex(d)))
        .collect();
    // One event per line: a newline in a command line must not start a forged one.
    let description = description.replace(['\n', '\r'], " ");
    format!("{pcr} {} {description}\n", digests.join(","))
}

/// Extends every measurement through `tpm` into the banks it has active and kboot can
/// hash; returns the event log's text.
pub fn extend_all(
    tpm: &mut (impl Read + io::Write),
    measurements: &[Measurement],
) -> Result<String, String> {
    let banks: Vec<Bank> = tpm2::pcr_banks(tpm)?
        .into_iter()
        .filter(|b| b.hasher().is_some())
        .collect();
    if banks.is_empty() {
        return Err("no active PCR bank is SHA-1 or SHA-256".into());
    }
    let mut log =
        String::from("# kboot TPM event log: PCR BANK:DIGEST[,BANK:DIGEST] DESCRIPTION\n");
    for m in measurements {
        let digests = digests(&m.what, &banks).map_err(|e| e.to_string())?;
        tpm2::extend(tpm, m.pcr, &digests).map_err(|e| format!("{e} ({})", m.description))?;
        log.push_str(&event_line(m.pcr, &digests, &m.description));
    }
    Ok(log)
}

/// A newc cpio archive holding `path` (relative, its directories created) with `data`:
/// the extra initrd that carries the event log to the target.
pub fn single_file_cpio(path: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut entry = |name: &str, mode: u32, body: &[u8], ino: u32| {
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0, 0, 1, 0, body.len(), 0, 0, 0, 0, name.len() + 1, 0
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(body);
        out.resize(out.len().next_multiple_of(4), 0);
    };
    let parts: Vec<&str> = path.split('/').collect();
    for depth in 1..parts.len() {
        entry(&parts[..depth].join("/"), 0o040755, b"", depth as u32);
    }
    entry(path, 0o100444, data, parts.len() as u32);
    entry("TRAILER!!!", 0, b"", 0);
    out
}

/// Measures a boot if the machine has a TPM. Returns None without a TPM, else the
/// number of extends and the extra initrd (written into `staging`) carrying the log.
pub fn measure_boot(
    measurements: &[Measurement],
    staging: &Path,
) -> Option<Result<(usize, PathBuf), String>> {
    let mut tpm = match tpm2::open() {
        Ok(None) => return None,
        Ok(Some(tpm)) => tpm,
        Err(e) => return Some(Err(e)),
    };
    Some((|| {
        let log = extend_all(&mut tpm, measurements)?;
        if let Some(dir) = Path::new(EVENT_LOG).parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(EVENT_LOG, &log).map_err(|e| format!("{EVENT_LOG}: {e}"))?;
        std::fs::create_dir_all(staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        let initrd = staging.join(format!("tpm-events-{}.cpio", std::process::id()));
        std::fs::write(&initrd, single_file_cpio(TARGET_EVENT_LOG, log.as_bytes()))
            .map_err(|e| format!("{}: {e}", initrd.display()))?;
        Ok((measurements.len(), initrd))
    })())
}
