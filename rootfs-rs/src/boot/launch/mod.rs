//! Starting the chosen entry: `kexec` loads a Linux kernel (`uki` first extracts it from a
//! unified kernel image) and reboots into it; what kexec
//! cannot start is handed back — to GRUB through `next_entry` in its grubenv (`handback`)
//! or to the UEFI firmware through BootNext (`crate::boot::efi`). `boot_count` counts a
//! try of an entry with a boot counter in its file name before kexec; `tpm` measures
//! what is booted into PCR 8/9 as GRUB does, when the machine has a TPM; `lockdown` says
//! what a locked-down kernel requires when it refuses a kexec.

pub mod boot_count;
pub mod handback;
pub mod kexec;
pub mod lockdown;
pub mod payload;
pub mod tpm;
pub mod uki;
