//! Starting what the menu chose: the "booting" line, network files fetched, then kexec —
//! or, for what kexec cannot start, the hand-back to the firmware (BootNext, firmware
//! setup) or to GRUB (next_entry) and a reboot. Also typed path names (`--boot /path`,
//! the `p` prompt), resolved through `pathname`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::boot::efi;
use crate::boot::entry::EntryKind;
use crate::boot::launch::kexec::{self, KexecError};
use crate::boot::launch::lockdown;
use crate::boot::launch::tpm;
use crate::boot::launch::uki;
use crate::boot::scan::efi_entries;
use crate::boot::scan::volume::DiscoveredEntry;

/// Why a boot failed, and whether the disks were already unmounted for the reboot.
pub struct BootFailure {
    pub error: KexecError,
    pub disks_released: bool,
}

impl From<KexecError> for BootFailure {
    fn from(error: KexecError) -> BootFailure {
        BootFailure {
            error,
            disks_released: false,
        }
    }
}

/// Prints the marker, loads and starts the entry; returns only on failure (or after a dry
/// run). With `boot_counting`, an entry with a boot counter counts a try once loaded.
pub fn boot(
    found: &DiscoveredEntry,
    cmdline: &str,
    dry_run: bool,
    boot_counting: bool,
) -> Result<(), BootFailure> {
    let mut chosen = found.clone();
    chosen.entry.cmdline = cmdline.to_string();
    if !dry_run {
        if let Some(failure) = hand_back(&chosen) {
            return Err(failure);
        }
    }
    say!(
        "kboot: booting '{}' from {} ({})",
        chosen.entry.label,
        chosen.device,
        chosen.entry.kernel.display()
    );
    // What kexec loads; for a downloaded entry, the copies in RAM.
    let mut loadable = chosen.clone();
    if crate::boot::scan::netsource::needs_fetch(&chosen) {
        loadable =
            crate::boot::scan::netsource::fetch_entry(&chosen).map_err(|e| KexecError::Other {
                what: "download",
                error: std::io::Error::other(e),
            })?;
    }
    let staging = Path::new(kexec::STAGING_DIR);
    let plan = kexec::plan(&loadable, staging)?;
    if dry_run {
        let checked = kexec::check_plan(&plan, false, crate::boot::signature::current());
        plan.discard_staged();
        let image = checked?;
        let initrds: Vec<String> = plan
            .initrds
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        say!(
            "kboot: dry run: kexec_file_load kernel={} (boot protocol {}.{}) initrd={} cmdline='{}'",
            plan.kernel.display(),
            image.protocol >> 8,
            image.protocol & 0xFF,
            if initrds.is_empty() { "none".to_string() } else { initrds.join("+") },
            plan.cmdline
        );
        return Ok(());
    }
    publish_boot(&chosen);
    let mut measurer = start_measuring(&chosen, &plan);
    // What the firmware and this kernel enforce, in the log of every boot: a refusal
    // below is then read against it.
    say!(
        "{}",
        lockdown::state_line(
            lockdown::secure_boot(Path::new(efi::EFIVARS)),
            lockdown::Lockdown::read(Path::new(lockdown::LOCKDOWN))
        )
    );
    let loaded = kexec::load_plan(
        &plan,
        false,
        staging,
        crate::boot::signature::current(),
        measurer
            .as_mut()
            .map(|(m, _)| m as &mut dyn crate::boot::launch::payload::Observer),
    );
    plan.discard_staged();
    // Also after a failed load: the PCRs were extended all the same, and `tpm log` must
    // say by what.
    if let Some((measurer, pcrs)) = &measurer {
        report_measurements(measurer, pcrs);
    }
    loaded.map_err(|error| match chosen.entry.kind {
        EntryKind::Uki { .. } => uki::explain(error),
        _ => error,
    })?;
    if boot_counting {
        count_boot_try(&chosen);
    }
    let _ = std::io::stdout().flush();
    Err(BootFailure {
        error: kexec::execute(),
        disks_released: true,
    })
}

/// LoaderEntrySelected and LoaderTimeExecUSec for the booted system's bootctl and
/// systemd-analyze; without efivarfs nothing, and a failure never stops the boot.
fn publish_boot(chosen: &DiscoveredEntry) {
    let efivars = Path::new(efi::EFIVARS);
    if !crate::boot::loader_iface::available(efivars) {
        return;
    }
    let usec = crate::boot::loader_iface::uptime_usec();
    if let Err(e) = crate::boot::loader_iface::publish_boot(efivars, &chosen.entry, usec) {
        warn!("kboot: warning: Boot Loader Interface: {e}");
    }
}

/// On a machine with a TPM, the measurements the target's own loader would have made
/// (GRUB: PCR 8 and 9; a UKI's systemd-stub: PCR 11): those of the command line or of
/// the UKI's sections now, a classic entry's files while `load_plan` reads them for the
/// kernel. A failure is shown and the boot goes on.
fn start_measuring(
    chosen: &DiscoveredEntry,
    plan: &kexec::KexecPlan,
) -> Option<(tpm::BootMeasurer<std::fs::File>, &'static str)> {
    let (first, file_names, pcrs) = match &plan.staged {
        Some(uki) => (
            tpm::uki_measurements(&uki.image, &uki.sections),
            Vec::new(),
            "PCR 11",
        ),
        None => {
            // Named as on their disk (`vdb1:/boot/vmlinuz`), as GRUB names a file by its
            // path, not by where kboot mounted it.
            let names = std::iter::once(&chosen.entry.kernel)
                .chain(&chosen.entry.initrds)
                .map(|path| format!("{}:{}", chosen.device, path.display()))
                .collect();
            (
                vec![tpm::grub_cmdline_measurement(&plan.cmdline)],
                names,
                "PCR 8 and 9",
            )
        }
    };
    match tpm::BootMeasurer::open(&first, file_names)? {
        Ok(measurer) => Some((measurer, pcrs)),
        Err(e) => {
            warn!("kboot: warning: TPM: {e}; booting anyway");
            None
        }
    }
}

/// What the TPM got once the payload is loaded; the event log is kept for `tpm log`.
fn report_measurements(measurer: &tpm::BootMeasurer<std::fs::File>, pcrs: &str) {
    match measurer.outcome() {
        Ok(count) => {
            if let Err(e) = tpm::save_event_log(measurer.log()) {
                warn!("kboot: warning: TPM event log: {e}");
            }
            say!(
                "kboot: TPM: {count} measurements into {pcrs} ({})",
                tpm::EVENT_LOG
            );
        }
        Err(e) => warn!("kboot: warning: TPM: {e}; booting anyway"),
    }
}

/// Renames a counted entry's file (`+3` → `+2-1`) and names it in LoaderBootCountPath.
/// Only where the booted system can learn of it (efivarfs: its systemd-bless-boot marks
/// the entry good); on a BIOS machine nothing would, and the entry would run out of tries.
/// Problems are shown and the boot goes on.
fn count_boot_try(chosen: &DiscoveredEntry) {
    let efivars = Path::new(efi::EFIVARS);
    if !crate::boot::loader_iface::available(efivars) {
        return;
    }
    match crate::boot::launch::boot_count::count_try(chosen) {
        None => {}
        Some(Ok(counted)) => {
            say!(
                "kboot: boot counting: {}:{}",
                chosen.config_device,
                counted.display()
            );
            let path = counted.to_string_lossy();
            if let Err(e) = crate::boot::loader_iface::publish_boot_count_path(efivars, &path) {
                warn!("kboot: warning: Boot Loader Interface: {e}");
            }
        }
        Some(Err(e)) => warn!("kboot: warning: boot counting: {e}; booting anyway"),
    }
}

/// Reboots after a hand-back to the first stage (`target`: who boots the entry next).
/// Returns only on failure.
fn reboot_after_hand_back(done: Result<String, String>, target: &'static str) -> BootFailure {
    let error = match done {
        Ok(what) => {
            say!("kboot: {what}; rebooting into {target}");
            let _ = std::io::stdout().flush();
            let code = crate::power::reboot_main(&[]);
            std::io::Error::other(format!("reboot failed (status {code})"))
        }
        Err(message) => std::io::Error::other(message),
    };
    BootFailure {
        error: KexecError::Other {
            what: "hand-back",
            error,
        },
        disks_released: true,
    }
}

/// Entries kexec cannot start: firmware boot options and EFI files go back to the
/// firmware (BootNext), a grub.cfg's chainload entries to GRUB (next_entry).
fn hand_back(chosen: &DiscoveredEntry) -> Option<BootFailure> {
    let label = &chosen.entry.label;
    if efi_entries::is_firmware_setup(chosen) {
        let done = efi::request_firmware_setup(Path::new(efi::EFIVARS))
            .map(|()| "OsIndications: boot to firmware UI".to_string())
            .map_err(|e| format!("OsIndications: {e}"));
        return Some(reboot_after_hand_back(done, "the firmware setup"));
    }
    if efi_entries::is_firmware_entry(chosen) {
        say!("kboot: '{label}' is booted by the firmware");
        let done = efi_entries::hand_back(
            chosen,
            Path::new(efi::EFIVARS),
            Path::new("/sys/class/block"),
            Path::new("/dev"),
        )
        .map(|n| format!("BootNext=Boot{n:04X} ('{label}')"));
        return Some(reboot_after_hand_back(done, "the firmware"));
    }
    if crate::boot::launch::handback::can_hand_back(chosen) {
        say!("kboot: '{label}' is not Linux: handing it back to GRUB");
        let done = crate::boot::launch::handback::grub_reboot(chosen)
            .map(|env| format!("{env} set next_entry='{label}'"));
        return Some(reboot_after_hand_back(done, "GRUB"));
    }
    None
}

/// Boots the kernel a typed path name names (fetched or mounted by `pathname`), with
/// `cmdline`, or kboot's own command line less its own switches when that is empty.
/// As in kboot 2006, a plain `/path` means the booted system's: the filesystem the
/// command line's `root=` names (LABEL=, UUID= or a device), when there is one.
pub fn boot_path(path: &str, cmdline: &str, dry_run: bool) -> Result<(), BootFailure> {
    use crate::pathname::{parse, resolve, Fetching, PathName, REAL_SYSTEM};
    let cmdline = if cmdline.is_empty() {
        own_cmdline_for_a_kernel()
    } else {
        cmdline.to_string()
    };
    let name = match (
        parse(path, &REAL_SYSTEM),
        crate::blockdev::spec::root_from_cmdline(&cmdline),
    ) {
        (Ok(PathName::Local(p)), Some(fs)) if path.starts_with('/') && !path.starts_with("//") => {
            Ok(PathName::OnFilesystem {
                fs,
                path: p.to_string_lossy().into_owned(),
            })
        }
        (name, _) => name,
    };
    let kernel = name
        .and_then(|n| resolve(&n, &Fetching::default()))
        .map_err(|e| KexecError::Other {
            what: "path name",
            error: std::io::Error::other(e),
        })?;
    let found = DiscoveredEntry {
        entry: crate::boot::entry::BootEntry::linux(path, kernel, "typed path name"),
        device: "path".into(),
        fs_uuid: None,
        fs_label: None,
        mount_point: PathBuf::from("/"),
        config_device: String::new(),
    };
    boot(&found, &cmdline, dry_run, false)
}

fn own_cmdline_for_a_kernel() -> String {
    let own = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    crate::cmdline::split_kernel_cmdline(&own)
        .into_iter()
        .filter(|w| {
            !(w.starts_with("kboot") || w.starts_with("BOOT_IMAGE=") || w.starts_with("initrd="))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
