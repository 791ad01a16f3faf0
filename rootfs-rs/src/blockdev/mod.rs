//! Block devices and their filesystems, shared by the boot menu, the capture kernel, path
//! names and the applets (blkid, lsblk, mount): `devices` lists them from sysfs, `partitions`
//! reads GPT/MBR tables of images, `probe` identifies filesystems from their superblocks and
//! `fstype` narrows that to what can be mounted, `tags` and `spec` resolve `LABEL=`/`UUID=`,
//! `mounts` mounts (with a guard that unmounts on drop), reads /proc/mounts and releases
//! disks before a reboot.

pub mod devices;
pub mod fstype;
pub mod mounts;
pub mod partitions;
pub mod probe;
pub mod spec;
pub mod tags;
