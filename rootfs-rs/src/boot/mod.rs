//! The boot loader: find kernels on every disk and on the network, let the user choose,
//! start the choice. Layers, each depending only on those listed before it:
//!
//! - `entry`, `fs`, `efi`, `loader_iface` (systemd's Boot Loader Interface): the vocabulary — a boot entry, read-only access to the one
//!   filesystem a config was found on, and the UEFI boot options in efivarfs (read by the
//!   scan, written by the hand-back);
//! - `config`: pure parsers from boot loader configs (GRUB, BLS, syslinux, LILO,
//!   kboot.conf) and GRUB's environment block to entries;
//! - `scan`: every filesystem on every disk (or image, or tree) and the network, parsed and
//!   resolved across filesystems (`search --fs-uuid`, `root=(hd0,gpt2)`);
//! - `launch`: kexec for Linux entries, hand-back to GRUB or the firmware for the rest;
//! - `menu`: the `menu` applet — state machine, rendering, terminal, settings.

pub mod config;
pub mod efi;
pub mod entry;
pub mod fs;
pub mod launch;
pub mod loader_iface;
pub mod menu;
pub mod scan;
pub mod signature;

pub use entry::{BootEntry, EntryKind, FsRef, Parsed, Warning};
pub use fs::{ConfigFs, DirFs, MemFs};
pub use menu::{menu_main, menu_on_consoles, Leave};
pub use scan::discover::{discover, discover_across, discover_in};
pub use scan::disks::discover_images;
pub use scan::volume::{DiscoveredEntry, Discovery, Volume};
