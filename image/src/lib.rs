//! Pure builders for kboot boot media: the initramfs (newc cpio), and a GPT disk image
//! that boots under UEFI (ESP with `EFI/BOOT/BOOTX64.EFI`) and legacy BIOS (GRUB's
//! i386-pc core image in a BIOS-boot partition). No processes are spawned here; the
//! `xtask` crate runs the external tools and hands the bytes in.
//!
//! ```no_run
//! # fn main() -> Result<(), image::ImageError> {
//! let mut disk = image::DiskImageBuilder::new();
//! disk.set_uefi_app(std::fs::read("kboot.efi").unwrap())
//!     .set_kernel(std::fs::read("bzImage").unwrap())
//!     .set_ramdisk("initramfs.cpio.gz", std::fs::read("initramfs.cpio.gz").unwrap())
//!     .set_cmdline("console=ttyS0,115200");
//! disk.create_disk_image(std::path::Path::new("disk.img"))?;
//! # Ok(()) }
//! ```

pub mod cpio;
pub mod fat;
pub mod gpt;
pub mod grub;
pub mod initramfs;
pub mod pe;

use std::fmt;
use std::path::{Path, PathBuf};

use gpt::{Guid, Partition, SECTOR};

/// Partitions start on 1 MiB boundaries, as every partitioning tool does today.
const ALIGN_SECTORS: u64 = 2048;
const BIOS_BOOT_SECTORS: u64 = 2048;
const MIN_ESP_BYTES: u64 = 64 << 20;

/// Fixed identities so two builds from the same inputs give the same bytes.
pub const DISK_GUID: Guid = Guid::from_fields(0x6b626f6f, 0x7472, 0x7364, *b"isk-guid");
pub const BIOS_BOOT_GUID: Guid = Guid::from_fields(0x6b626f6f, 0x7472, 0x7362, *b"ios-boot");
pub const ESP_GUID: Guid = Guid::from_fields(0x6b626f6f, 0x7472, 0x7365, *b"sp-part!");
pub const ESP_VOLUME_ID: u32 = 0x6b62_6f6f;
pub const ESP_LABEL: &str = "KBOOT";

/// Where things live on the ESP; the BIOS path's grub.cfg points at the same files.
pub const ESP_UEFI_APP: &str = "EFI/BOOT/BOOTX64.EFI";
pub const ESP_KERNEL: &str = "boot/bzImage";
pub const ESP_GRUB_CFG: &str = "boot/grub/grub.cfg";

#[derive(Debug)]
pub enum ImageError {
    Missing(&'static str),
    Esp(fat::FatError),
    PartitionTable(gpt::GptError),
    Grub(grub::GrubError),
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Missing(what) => {
                write!(f, "cannot build the disk image: no {what} was set")
            }
            ImageError::Esp(e) => write!(f, "failed to build the ESP: {e}"),
            ImageError::PartitionTable(e) => write!(f, "failed to write the partition table: {e}"),
            ImageError::Grub(e) => write!(f, "failed to embed GRUB for BIOS boot: {e}"),
            ImageError::Io { path, source } => {
                write!(f, "failed to write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ImageError {}

/// Collects the boot files and lays out the disk.
#[derive(Debug, Clone, Default)]
pub struct DiskImageBuilder {
    uefi_app: Option<Vec<u8>>,
    kernel: Option<Vec<u8>>,
    ramdisk: Option<(String, Vec<u8>)>,
    cmdline: String,
    grub_bios: Option<(Vec<u8>, Vec<u8>)>,
    extra_files: Vec<(String, Vec<u8>)>,
}

/// Where the partitions ended up; handy for tests and for the build summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLayout {
    pub disk_sectors: u64,
    pub bios_boot_lba: u64,
    pub esp_first_lba: u64,
    pub esp_sectors: u64,
}

impl DiskImageBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The file UEFI firmware starts: `EFI/BOOT/BOOTX64.EFI` (kboot.efi).
    pub fn set_uefi_app(&mut self, efi: Vec<u8>) -> &mut Self {
        self.uefi_app = Some(efi);
        self
    }

    /// The bzImage GRUB loads on the BIOS path.
    pub fn set_kernel(&mut self, bzimage: Vec<u8>) -> &mut Self {
        self.kernel = Some(bzimage);
        self
    }

    /// The initramfs GRUB loads on the BIOS path, stored as `boot/<name>`.
    pub fn set_ramdisk(&mut self, name: &str, data: Vec<u8>) -> &mut Self {
        self.ramdisk = Some((name.to_string(), data));
        self
    }

    pub fn set_cmdline(&mut self, cmdline: &str) -> &mut Self {
        self.cmdline = cmdline.to_string();
        self
    }

    /// GRUB's `boot.img` and a `core.img` made with prefix `(hd0,gpt2)/boot/grub`.
    pub fn set_grub_bios(&mut self, boot_img: Vec<u8>, core_img: Vec<u8>) -> &mut Self {
        self.grub_bios = Some((boot_img, core_img));
        self
    }

    /// Any other file for the ESP (a path relative to its root).
    pub fn add_esp_file(&mut self, path: &str, data: Vec<u8>) -> &mut Self {
        self.extra_files.push((path.to_string(), data));
        self
    }

    /// The whole disk image in memory.
    pub fn build_disk_image(&self) -> Result<(Vec<u8>, DiskLayout), ImageError> {
        let uefi_app = self
            .uefi_app
            .as_ref()
            .ok_or(ImageError::Missing("UEFI application (kboot.efi)"))?;
        let kernel = self
            .kernel
            .as_ref()
            .ok_or(ImageError::Missing("kernel (bzImage)"))?;
        let (ramdisk_name, ramdisk) = self
            .ramdisk
            .as_ref()
            .ok_or(ImageError::Missing("initramfs"))?;
        let (boot_img, core_img) = self
            .grub_bios
            .as_ref()
            .ok_or(ImageError::Missing("GRUB boot.img/core.img"))?;

        let ramdisk_path = format!("boot/{ramdisk_name}");
        let menu = grub::GrubMenu {
            title: "kboot".into(),
            kernel_path: format!("/{ESP_KERNEL}"),
            initrd_path: format!("/{ramdisk_path}"),
            cmdline: self.cmdline.clone(),
            timeout_secs: 1,
        };
        let mut files: Vec<(&str, &[u8])> = vec![
            (ESP_UEFI_APP, uefi_app),
            (ESP_KERNEL, kernel),
            (&ramdisk_path, ramdisk),
        ];
        let grub_cfg = menu.to_config();
        files.push((ESP_GRUB_CFG, grub_cfg.as_bytes()));
        files.extend(
            self.extra_files
                .iter()
                .map(|(p, d)| (p.as_str(), d.as_slice())),
        );

        // Twice the payload leaves room for an admin to drop in another kernel.
        let payload: u64 = files.iter().map(|(_, d)| d.len() as u64).sum();
        let esp_bytes = (payload * 2).max(MIN_ESP_BYTES).div_ceil(1 << 20) << 20;
        let esp_sectors = esp_bytes / SECTOR;
        let bios_boot_lba = ALIGN_SECTORS;
        let esp_first_lba = bios_boot_lba + BIOS_BOOT_SECTORS;
        let disk_sectors = esp_first_lba + esp_sectors + ALIGN_SECTORS;
        let layout = DiskLayout {
            disk_sectors,
            bios_boot_lba,
            esp_first_lba,
            esp_sectors,
        };

        let mut esp = fat::FatBuilder::new(ESP_VOLUME_ID, ESP_LABEL);
        esp.set_hidden_sectors(esp_first_lba as u32);
        for (path, data) in files {
            esp.add_file(path, data.to_vec()).map_err(ImageError::Esp)?;
        }
        let esp_volume = esp.build(esp_bytes).map_err(ImageError::Esp)?;

        let mut disk = vec![0u8; (disk_sectors * SECTOR) as usize];
        let mbr_code = grub::patch_boot_img(boot_img, bios_boot_lba).map_err(ImageError::Grub)?;
        disk[..grub::MBR_CODE_BYTES].copy_from_slice(&mbr_code);
        let core = grub::place_core_img(core_img, bios_boot_lba, BIOS_BOOT_SECTORS)
            .map_err(ImageError::Grub)?;
        let at = (bios_boot_lba * SECTOR) as usize;
        disk[at..at + core.len()].copy_from_slice(&core);
        let at = (esp_first_lba * SECTOR) as usize;
        disk[at..at + esp_volume.len()].copy_from_slice(&esp_volume);

        let partitions = [
            Partition {
                type_guid: gpt::BIOS_BOOT_TYPE,
                unique_guid: BIOS_BOOT_GUID,
                first_lba: bios_boot_lba,
                last_lba: bios_boot_lba + BIOS_BOOT_SECTORS - 1,
                name: "BIOS boot".into(),
            },
            Partition {
                type_guid: gpt::ESP_TYPE,
                unique_guid: ESP_GUID,
                first_lba: esp_first_lba,
                last_lba: esp_first_lba + esp_sectors - 1,
                name: "EFI system partition".into(),
            },
        ];
        gpt::write_gpt(&mut disk, DISK_GUID, &partitions).map_err(ImageError::PartitionTable)?;
        Ok((disk, layout))
    }

    /// Builds the image and writes it to `path` (replacing it atomically).
    pub fn create_disk_image(&self, path: &Path) -> Result<DiskLayout, ImageError> {
        let (disk, layout) = self.build_disk_image()?;
        write_atomically(path, &disk)?;
        Ok(layout)
    }
}

/// Writes via a temporary file and rename, so an interrupted build never leaves a
/// half-written image where a boot test would pick it up.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<(), ImageError> {
    let io = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, data).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
