//! Boot-configuration parsers: pure functions from the text of one boot loader's config
//! (GRUB, BLS type #1 and #2 (unified kernel images, through `pe`), syslinux/extlinux/
//! isolinux, LILO, kboot.conf) to menu entries. They read
//! files only through `ConfigFs`, never panic on bad input and bound their work (include
//! depth, nesting, entry count, file size), so a hostile disk cannot hang the menu.

pub mod bls;
pub mod boot_count;
pub mod grub;
pub mod grubenv;
pub mod ipxe;
pub mod kboot_conf;
pub mod lilo;
pub mod pe;
pub mod syslinux;
pub mod uki;
pub mod uki_addons;
pub mod version;
