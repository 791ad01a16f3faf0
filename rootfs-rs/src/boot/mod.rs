//! Boot-configuration parsers: turn GRUB, BLS, syslinux, LILO and kboot configs into menu entries.
//!
//! Entry point for the menu: `discover(&DirFs::new(mount_point))` reads every known config
//! location of one mounted filesystem and returns its entries (kernel paths absolute within
//! that filesystem), warnings and the timeout. Parsers never panic on bad input and bound
//! their work (include depth, nesting, entry count, file size).
//!
//! Run time: `disks` finds every filesystem and its entries, `menu` lets the user choose,
//! `kexec` loads and starts the choice; `menu_main` is the `menu` applet.

pub mod config;
pub mod discover;
pub mod disks;
pub mod efi;
pub mod efi_entries;
pub mod entry;
pub mod fs;
pub mod handback;
pub mod kexec;
pub mod menu;
pub mod menu_conf;
pub mod menu_main;
pub mod menu_render;
pub mod menu_term;
pub mod mounts;
pub mod netsource;
pub mod partitions;
pub mod probe;
pub mod resolve;

pub use discover::{discover, discover_across, discover_in};
pub use disks::{discover_images, DiscoveredEntry, Discovery, Volume};
pub use entry::{BootEntry, EntryKind, FsRef, Parsed, Warning};
pub use fs::{ConfigFs, DirFs, MemFs};
pub use menu_main::menu_main;
