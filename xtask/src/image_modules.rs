//! The media's kernel modules (`cargo xtask image`'s modules stage): staging the chosen
//! ones, the archives for the initramfs and for the kdump capture kernel, and what the
//! target kernel can decompress itself.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use image::initramfs;

use crate::config::BuildConfig;
use crate::image_cmd::{file_name, read, write, ImageOptions};
use crate::kernel;
use crate::modules::{self, Selection};
use crate::report::{human_size, print_table};

/// Where the media's modules come from: a module tree, which of its modules, and the
/// compressions the kernel decompresses itself.
pub struct ModuleSource {
    pub tree: crate::modules::ModuleTree,
    pub selection: Selection,
    pub kernel_decompresses: Vec<&'static str>,
    /// Which plain modules to compress with gzip (the lean kernel decompresses them
    /// itself).
    pub gzip: modules::Gzip,
}

/// The module compressions a kernel loads itself (MODULE_DECOMPRESS and the compression
/// it was built for), from its config file; none when the file is missing.
pub fn decompressed_by_kernel(config_file: &Path) -> Vec<&'static str> {
    let text = std::fs::read_to_string(config_file).unwrap_or_default();
    let options = kernel::requested_options(&text);
    let set = |name: &str| options.get(name).is_some_and(|v| v == "y");
    if !set("CONFIG_MODULE_DECOMPRESS") {
        return Vec::new();
    }
    [
        ("CONFIG_MODULE_COMPRESS_GZIP", ".gz"),
        ("CONFIG_MODULE_COMPRESS_XZ", ".xz"),
        ("CONFIG_MODULE_COMPRESS_ZSTD", ".zst"),
    ]
    .into_iter()
    .filter(|(option, _)| set(option))
    .map(|(_, suffix)| suffix)
    .collect()
}

/// Stages the chosen modules, prints what they cost by class, and writes modules.cpio
/// (compressed like the initramfs when the modules themselves are not).
pub fn write_modules(
    out: &Path,
    source: &ModuleSource,
    opts: &ImageOptions,
    config: &BuildConfig,
    epoch: u32,
) -> crate::Result<PathBuf> {
    let all = source.tree.modules()?;
    let links = modules::SoftLinks::of(&source.tree);
    let (chosen, missing) = modules::select(&all, &links, &source.selection);
    if opts.host_only && chosen.is_empty() {
        bail!(
            "--host-only: none of the loaded modules is in {}",
            source.tree.dir().display()
        );
    }
    let staged = modules::stage(
        &source.tree,
        &chosen,
        &source.kernel_decompresses,
        source.gzip,
        &out.join("modules-staged"),
    )?;
    let rows: Vec<Vec<String>> = modules::sizes_by_class(&staged)?
        .into_iter()
        .map(|(class, (count, bytes))| {
            vec![class.to_string(), count.to_string(), human_size(bytes)]
        })
        .collect();
    println!(
        "    {} of {} modules of {} ({})",
        chosen.len(),
        all.len(),
        staged.release,
        match source.selection {
            Selection::All => "all the kernel built",
            Selection::Classes => "hardware classes of docs/hardware.md",
            Selection::Named(_) => "loaded on the host",
        }
    );
    print_table(&["class", "modules", "size"], &rows);
    if !missing.is_empty() {
        println!(
            "    not in this kernel's modules (built in, or absent): {}",
            missing.join(" ")
        );
    }
    let path = out.join("modules.cpio");
    write_module_archive(&staged, source, config, epoch, &path)?;
    // The kdump capture kernel gets the storage and filesystem drivers alone: it lives in the
    // crashkernel= reservation, and the whole set pushed a 48M capture out of memory.
    let storage = Selection::Named(
        chosen
            .iter()
            .filter(|m| matches!(modules::class_of(&m.path), "storage" | "filesystems"))
            .map(modules::Module::name)
            .collect(),
    );
    let (for_kdump, _) = modules::select(&all, &links, &storage);
    let kdump_staged = modules::stage(
        &source.tree,
        &for_kdump,
        &source.kernel_decompresses,
        // Every one compressed: the capture kernel's initramfs lives in the crashkernel=
        // reservation, where plain storage drivers would take another 1.9 MB.
        match source.gzip {
            modules::Gzip::No => modules::Gzip::No,
            modules::Gzip::AllBut(_) => modules::Gzip::AllBut(&[]),
        },
        &out.join("modules-kdump-staged"),
    )?;
    write_module_archive(
        &kdump_staged,
        source,
        config,
        epoch,
        &out.join("modules-kdump.cpio"),
    )?;
    Ok(path)
}

/// A staged tree as a cpio archive at `path`, compressed like the initramfs when the
/// modules themselves are not.
fn write_module_archive(
    staged: &modules::ModuleTree,
    source: &ModuleSource,
    config: &BuildConfig,
    epoch: u32,
    path: &Path,
) -> crate::Result<()> {
    let archive = modules::archive(staged, epoch)?;
    // Modules left plain on purpose (`Gzip::AllBut`) are stored as they are: they are
    // the ones the boot waits for, and a compressed archive would make the kernel inflate
    // all of them before PID 1 starts.
    let all_compressed = staged.modules()?.iter().all(|m| {
        source
            .kernel_decompresses
            .iter()
            .any(|s| m.path.ends_with(s))
    });
    let data = if all_compressed || source.gzip != modules::Gzip::No {
        archive
    } else {
        initramfs::compress(&archive, config.compression)
            .context("failed to compress the modules")?
    };
    write(path, &data)?;
    println!("    {}: {}", file_name(path), human_size(data.len() as u64));
    Ok(())
}

/// The compressed userspace followed by a modules archive, if any: the kernel unpacks
/// concatenated archives, each starting 4-byte aligned.
pub fn with_modules(userspace: &Path, modules: Option<&Path>) -> crate::Result<Vec<u8>> {
    let mut data = read(userspace)?;
    if let Some(modules) = modules {
        data.resize(data.len().next_multiple_of(4), 0);
        data.extend(read(modules)?);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_decompression_is_read_from_the_kernel_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config-6.1.0-test");
        std::fs::write(
            &config,
            "CONFIG_MODULE_DECOMPRESS=y\nCONFIG_MODULE_COMPRESS_XZ=y\n# CONFIG_MODULE_COMPRESS_GZIP is not set\n",
        )
        .unwrap();
        assert_eq!(decompressed_by_kernel(&config), vec![".xz"]);
        // Debian 6.1: modules not compressed by the kernel build, no MODULE_DECOMPRESS.
        std::fs::write(&config, "CONFIG_MODULE_COMPRESS_NONE=y\n").unwrap();
        assert!(decompressed_by_kernel(&config).is_empty());
        assert!(decompressed_by_kernel(&dir.path().join("missing")).is_empty());
    }
}
