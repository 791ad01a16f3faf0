//! Finding boot entries: `discover` reads every known config of one filesystem, `disks`
//! walks every block device (or image file, or test tree) and mounts read-only under a time
//! limit, `resolve` places entries whose kernel lives on another filesystem, `netsource`
//! adds entries served over the network, `efi_entries` the firmware's own boot options;
//! `volume` holds what they all produce (volumes, placed entries, the discovery).

pub mod discover;
pub mod disks;
pub mod efi_entries;
pub mod netsource;
pub mod pxe;
pub mod resolve;
pub mod volume;
