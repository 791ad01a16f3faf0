//! TPM measurements before kexec, the way the target's own loader would have made them,
//! so secrets sealed to PCRs (systemd-cryptenroll, Clevis) see the same kind of chain
//! whether that loader or kboot started the kernel (docs/tpm.md):
//! - a classic entry as GRUB's `tpm` module does: the kernel command line into PCR 8
//!   (event "kernel_cmdline: …", the command line's bytes hashed), then the kernel file
//!   and each initrd file into PCR 9;
//! - a unified kernel image as systemd-stub does: for each PE section present, in
//!   systemd's order, its name with the terminating NUL, then its contents, into PCR 11.
//!
//! Every active bank kboot can hash (SHA-1, SHA-256) gets the extends. A classic entry's
//! files are measured while they are loaded (`BootMeasurer` is the payload's
//! `Observer`): PCR 9 gets the digest of the very bytes handed to the kernel, under
//! `require_signed` the verified buffers, and each file is read once. What was measured
//! is written to /run/kboot/tpm-events.log and handed to the target in an extra initrd
//! (a cpio appended to its own) as /kboot/tpm-events.log. Without a TPM nothing
//! happens; a failure is a warning, never a refused boot.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::boot::config::pe::Section;
use crate::boot::launch::payload::Observer;
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

/// GRUB's measurement of the command line, made before the files (PCR 9), which
/// `BootMeasurer` measures as they are loaded under the names `grub_file_names` gives.
pub fn grub_cmdline_measurement(cmdline: &str) -> Measurement {
    Measurement {
        pcr: PCR_STRINGS,
        what: Measured::Bytes(cmdline.as_bytes().to_vec()),
        description: format!("kernel_cmdline: {cmdline}"),
    }
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
    match what {
        Measured::Bytes(bytes) => digests_of(&mut &bytes[..], banks),
        Measured::Range { path, offset, len } => {
            let located =
                |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
            let mut file = File::open(path).map_err(located)?;
            file.seek(SeekFrom::Start(*offset)).map_err(located)?;
            let mut part = file.take(*len);
            let digests = digests_of(&mut part, banks).map_err(located)?;
            if part.limit() != 0 {
                return Err(located(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ends inside a section",
                )));
            }
            Ok(digests)
        }
    }
}

/// The digest of everything `reader` yields, in each of `banks`.
pub fn digests_of(reader: &mut dyn Read, banks: &[Bank]) -> io::Result<Vec<(Bank, Vec<u8>)>> {
    let mut hashers: Vec<_> = banks
        .iter()
        .filter_map(|&b| b.hasher().map(|h| (b, h)))
        .collect();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for (_, h) in hashers.iter_mut() {
            h.update(&buf[..n]);
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
    tpm: &mut (impl Read + Write),
    measurements: &[Measurement],
) -> Result<String, String> {
    BootMeasurer::new(tpm, measurements, Vec::new()).map(|m| m.log)
}

/// A boot's measurements on a machine with a TPM: those made up front (the command
/// line; a UKI's sections), then, as the payload's `Observer`, the files as they are
/// loaded, and the event log as the initrd's appendix.
pub struct BootMeasurer<T> {
    tpm: T,
    banks: Vec<Bank>,
    /// The payload files' names in the log (`vdb1:/boot/vmlinuz`) by their index in the
    /// load (the kernel, then the entry's initrds); none for a UKI, whose sections were
    /// measured from its file up front.
    file_names: Vec<String>,
    log: String,
    count: usize,
    /// The first failure after the start: nothing is extended after it and no log is
    /// handed on (the boot goes on).
    failed: Option<String>,
}

impl BootMeasurer<File> {
    /// None when the machine has no TPM.
    pub fn open(first: &[Measurement], file_names: Vec<String>) -> Option<Result<Self, String>> {
        match tpm2::open() {
            Ok(None) => None,
            Ok(Some(tpm)) => Some(BootMeasurer::new(tpm, first, file_names)),
            Err(e) => Some(Err(e)),
        }
    }
}

impl<T: Read + Write> BootMeasurer<T> {
    /// Finds the banks and makes the `first` measurements.
    pub fn new(mut tpm: T, first: &[Measurement], file_names: Vec<String>) -> Result<Self, String> {
        let banks: Vec<Bank> = tpm2::pcr_banks(&mut tpm)?
            .into_iter()
            .filter(|b| b.hasher().is_some())
            .collect();
        if banks.is_empty() {
            return Err("no active PCR bank is SHA-1 or SHA-256".into());
        }
        let mut measurer = BootMeasurer {
            tpm,
            banks,
            file_names,
            log: String::from("# kboot TPM event log: PCR BANK:DIGEST[,BANK:DIGEST] DESCRIPTION\n"),
            count: 0,
            failed: None,
        };
        for m in first {
            let digests = digests(&m.what, &measurer.banks).map_err(|e| e.to_string())?;
            measurer.extend(m.pcr, &digests, &m.description)?;
        }
        Ok(measurer)
    }

    fn extend(
        &mut self,
        pcr: u32,
        digests: &[(Bank, Vec<u8>)],
        description: &str,
    ) -> Result<(), String> {
        tpm2::extend(&mut self.tpm, pcr, digests).map_err(|e| format!("{e} ({description})"))?;
        self.log.push_str(&event_line(pcr, digests, description));
        self.count += 1;
        Ok(())
    }

    /// The number of extends made, or what stopped them.
    pub fn outcome(&self) -> Result<usize, &str> {
        match &self.failed {
            Some(e) => Err(e),
            None => Ok(self.count),
        }
    }

    /// The event log's text so far.
    pub fn log(&self) -> &str {
        &self.log
    }
}

impl<T: Read + Write> Observer for BootMeasurer<T> {
    fn file(&mut self, index: usize, bytes: &mut dyn Read) -> io::Result<()> {
        let Some(name) = self.file_names.get(index).cloned() else {
            return Ok(());
        };
        if self.failed.is_some() {
            return Ok(());
        }
        // A read error is the load's: the same bytes go to the kernel.
        let digests = digests_of(bytes, &self.banks)?;
        if let Err(e) = self.extend(PCR_FILES, &digests, &name) {
            self.failed = Some(e);
        }
        Ok(())
    }

    fn appendix(&mut self) -> Option<Vec<u8>> {
        if self.failed.is_some() {
            return None;
        }
        Some(single_file_cpio(TARGET_EVENT_LOG, self.log.as_bytes()))
    }
}

/// Keeps the event log where `tpm log` shows it.
pub fn save_event_log(log: &str) -> Result<(), String> {
    if let Some(dir) = Path::new(EVENT_LOG).parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(EVENT_LOG, log).map_err(|e| format!("{EVENT_LOG}: {e}"))
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
