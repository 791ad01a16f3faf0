//! `cargo xtask image`: kernel → userspace → initramfs → kboot.efi → GRUB → disk.img.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use image::initramfs::{self, InitramfsSpec};

use crate::config::BuildConfig;
use crate::image_modules::{decompressed_by_kernel, with_modules, write_modules, ModuleSource};
use crate::kernel::{self, KernelSource};
use crate::modules::{self, Selection};
use crate::process::{self, run_quiet, tool};
use crate::report::{human_size, print_table, stage};
use crate::{deps, Workspace};

pub const EFI_STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
pub const GRUB_I386_PC: &str = "/usr/lib/grub/i386-pc";
/// Modules embedded in core.img; enough to read the ESP and boot Linux on a serial console.
const GRUB_MODULES: &[&str] = &[
    "biosdisk",
    "part_gpt",
    "part_msdos",
    "fat",
    "normal",
    "linux",
    "serial",
    "terminal",
    "echo",
    "test",
    "search",
];

/// `cargo xtask image` options.
#[derive(Debug, Default, clap::Args)]
pub struct ImageOptions {
    /// Build settings and runtime configuration (docs/config.md)
    #[arg(long, value_name = "kboot.toml")]
    pub config: Option<PathBuf>,
    /// Use this kernel instead of building the lean one
    #[arg(long, value_name = "BZIMAGE")]
    pub kernel: Option<PathBuf>,
    /// Kernel sources: a tree or a linux-source tarball (default: KBOOT_KERNEL_SRC, then
    /// /usr/src/linux-source-*.tar.xz)
    #[arg(long, value_name = "DIR")]
    pub kernel_src: Option<PathBuf>,
    /// With --kernel: its modules directory (/lib/modules/RELEASE); the hardware-class
    /// modules it has go onto the media, with their dependencies (docs/hardware.md)
    #[arg(long, value_name = "DIR", requires = "kernel")]
    pub modules: Option<PathBuf>,
    /// Only the modules this machine has loaded now (/proc/modules), as dracut's hostonly
    #[arg(long)]
    pub host_only: bool,
    /// With --host-only: another machine's /proc/modules (or lsmod output) instead of ours
    #[arg(long, value_name = "FILE", requires = "host_only")]
    pub host_modules: Option<PathBuf>,
    /// Where the media go (default target/kboot)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sign kboot.efi for Secure Boot with this private key (PEM), using sbsign
    /// (docs/secure-boot.md)
    #[arg(long, value_name = "KEY", requires = "sign_cert")]
    pub sign_key: Option<PathBuf>,
    /// The certificate (PEM) of --sign-key, as enrolled in db or as a MOK
    #[arg(long, value_name = "CERT", requires = "sign_key")]
    pub sign_cert: Option<PathBuf>,
}

/// The files `image` produces, in target/kboot/.
pub struct Outputs {
    pub bzimage: PathBuf,
    pub kboot_binary: PathBuf,
    pub initramfs_raw: PathBuf,
    pub initramfs: PathBuf,
    /// The compressed userspace alone (the budget's "no modules" figure).
    pub userspace: PathBuf,
    /// The modules' archive, when the kernel has modules.
    pub modules_cpio: Option<PathBuf>,
    pub kboot_efi: PathBuf,
    pub disk_img: PathBuf,
    pub out_dir: PathBuf,
}

pub fn run_image(ws: &Workspace, opts: &ImageOptions) -> crate::Result<Outputs> {
    let started = std::time::Instant::now();
    let config = BuildConfig::load(opts.config.as_deref())?;
    let epoch = source_date_epoch()?;
    stage("host dependencies", deps::ensure)?;
    let out = opts.out.clone().unwrap_or_else(|| ws.out_dir());
    std::fs::create_dir_all(&out).with_context(|| format!("failed to create {}", out.display()))?;

    let (kernel_built, module_source) = stage("kernel", || kernel_for(ws, opts, &config))?;
    let bzimage = out.join("bzImage");
    copy(&kernel_built, &bzimage)?;
    let modules_cpio = match module_source {
        Some(source) => Some(stage("modules", || {
            write_modules(&out, &source, opts, &config, epoch)
        })?),
        None => {
            let _ = std::fs::remove_file(out.join("modules.cpio"));
            None
        }
    };

    let kboot_binary = stage("userspace (rootfs-rs)", || build_userspace(ws))?;
    let applets = list_applets(&kboot_binary)?;
    let (initramfs_raw, userspace) = stage("initramfs", || {
        write_initramfs(&out, &kboot_binary, applets, &config, epoch)
    })?;
    let initramfs_name = format!("initramfs.cpio.{}", config.compression.extension());
    let initramfs_path = out.join(&initramfs_name);
    write(
        &initramfs_path,
        &with_modules(&userspace, modules_cpio.as_deref())?,
    )?;
    // The capture kernel's initramfs: the same name in its own directory (the bundle
    // and its scripts name it after the media's), storage modules only.
    let kdump_initramfs = out.join("kdump-initramfs").join(&initramfs_name);
    std::fs::create_dir_all(out.join("kdump-initramfs"))
        .with_context(|| format!("failed to create {}", out.join("kdump-initramfs").display()))?;
    let kdump_modules = modules_cpio
        .as_ref()
        .map(|_| out.join("modules-kdump.cpio"));
    write(
        &kdump_initramfs,
        &with_modules(&userspace, kdump_modules.as_deref())?,
    )?;

    let kboot_efi = out.join("kboot.efi");
    stage(
        "kboot.efi (EFI stub + kernel + initramfs + cmdline)",
        || {
            make_uki(
                &bzimage,
                &initramfs_path,
                &config.cmdline,
                epoch,
                &kboot_efi,
            )
        },
    )?;

    if let (Some(key), Some(cert)) = (&opts.sign_key, &opts.sign_cert) {
        stage("signing kboot.efi (sbsign, sbverify)", || {
            crate::signing::sign_efi(&kboot_efi, key, cert)
        })?;
    }

    let outputs = Outputs {
        disk_img: out.join("disk.img"),
        bzimage,
        kboot_binary,
        initramfs_raw,
        initramfs: initramfs_path,
        userspace,
        modules_cpio,
        kboot_efi,
        out_dir: out.clone(),
    };
    stage("disk.img (GPT: BIOS boot + ESP)", || {
        write_disk(&out, &outputs, &config.cmdline)
    })?;
    stage(
        "boot-loader entries (grub.d/40_kboot, grub-kboot.cfg, BLS, LILO)",
        || {
            let name = file_name(&outputs.initramfs);
            crate::install::write_entry_files(&out, &config.cmdline, &name)
        },
    )?;
    stage(
        "kdump bundle (kdump/: kernel, initramfs, unit, README)",
        || {
            crate::kdump_bundle::write_bundle(
                &out.join("kdump"),
                &outputs.bzimage,
                &kdump_initramfs,
            )
        },
    )?;
    print_artifacts(&out, &outputs, started.elapsed());
    Ok(outputs)
}

/// The given kernel (checked), or the lean one built from the sources and fragments;
/// with the modules that go along.
fn kernel_for(
    ws: &Workspace,
    opts: &ImageOptions,
    config: &BuildConfig,
) -> crate::Result<(PathBuf, Option<ModuleSource>)> {
    let host_only = |fallback: Selection| -> crate::Result<Selection> {
        if !opts.host_only {
            return Ok(fallback);
        }
        let listing = opts
            .host_modules
            .clone()
            .unwrap_or_else(|| "/proc/modules".into());
        let text = std::fs::read_to_string(&listing)
            .with_context(|| format!("--host-only: failed to read {}", listing.display()))?;
        Ok(Selection::Named(modules::loaded_names(&text)))
    };
    match &opts.kernel {
        Some(given) => {
            println!("    using the given kernel {}", given.display());
            check_bzimage(given)?;
            let Some(dir) = &opts.modules else {
                return Ok((given.clone(), None));
            };
            let tree = modules::ModuleTree::from_release_dir(dir)?;
            let kernel_config = given.with_file_name(format!("config-{}", tree.release));
            let kernel_decompresses = decompressed_by_kernel(&kernel_config);
            let selection = host_only(Selection::Classes)?;
            let source = ModuleSource {
                tree,
                selection,
                kernel_decompresses,
                gzip: modules::Gzip::No,
            };
            Ok((given.clone(), Some(source)))
        }
        None => {
            let source = KernelSource::locate(opts.kernel_src.as_deref())?;
            let fragments = kernel::fragments(ws, &config.extra_fragments)?;
            let built = kernel::build(ws, &source, &fragments)?;
            let modules = match built.modules {
                Some(tree) => Some(ModuleSource {
                    tree,
                    selection: host_only(Selection::All)?,
                    // hw-storage.config: MODULE_COMPRESS_GZIP with MODULE_DECOMPRESS.
                    kernel_decompresses: vec![".gz"],
                    // Storage drivers stay plain: the boot waits for their loads before
                    // the menu scans, and the kernel's inflate of each was 0.07–0.11 s of
                    // the hardware matrix's coldplug under TCG (docs/hardware.md). The
                    // others load in the background or on demand, compressed.
                    gzip: modules::Gzip::AllBut(&["storage"]),
                }),
                None => None,
            };
            Ok((built.bzimage, modules))
        }
    }
}

/// Writes the userspace archive, initramfs.cpio, and its compressed form
/// userspace.cpio.*; returns both paths.
fn write_initramfs(
    out: &Path,
    kboot_binary: &Path,
    applets: Vec<String>,
    config: &BuildConfig,
    epoch: u32,
) -> crate::Result<(PathBuf, PathBuf)> {
    let applet_count = applets.len();
    let mut config_files = Vec::new();
    if let Some(raw) = &config.raw {
        config_files.push(("kboot.toml".to_string(), raw.clone().into_bytes()));
    }
    if let Some(bundle) = &config.ca_bundle {
        config_files.push(("ca.pem".to_string(), bundle.clone()));
    }
    if let Some(keys) = &config.authorized_keys {
        config_files.push(("authorized_keys".to_string(), keys.clone()));
    }
    if let Some(key) = &config.ssh_host_key {
        config_files.push(("ssh_host_ed25519_key".to_string(), key.clone()));
    }
    for check in &config.checks {
        let name = check
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                anyhow::anyhow!("[build] checks: {} has no file name", check.display())
            })?;
        config_files.push((format!("checks/{name}"), read(check)?));
    }
    let spec = InitramfsSpec {
        binary: read(kboot_binary)?,
        applets,
        config_files,
        scripts: initramfs::SHIPPED_SCRIPTS
            .iter()
            .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
            .collect(),
        mtime: epoch,
    };
    let cpio = initramfs::initramfs_archive(&spec).context("failed to build the initramfs")?;
    let archive = cpio.finish();
    let compressed = initramfs::compress(&archive, config.compression)
        .context("failed to compress the initramfs")?;
    let raw_path = out.join("initramfs.cpio");
    let path = out.join(format!("userspace.cpio.{}", config.compression.extension()));
    // Only one compressed variant may exist, so tests and GRUB pick the right one.
    for stale in [
        "initramfs.cpio.gz",
        "initramfs.cpio.zst",
        "userspace.cpio.gz",
        "userspace.cpio.zst",
    ] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    write(&raw_path, &archive)?;
    write(&path, &compressed)?;
    println!(
        "    {} entries, {} applets, {} compression",
        cpio.paths().len(),
        applet_count,
        config.compression
    );
    Ok((raw_path, path))
}

/// disk.img: GPT with GRUB's BIOS boot partition and the ESP holding kboot.efi, the
/// kernel and the initramfs.
fn write_disk(out: &Path, outputs: &Outputs, cmdline: &str) -> crate::Result<()> {
    let core_img = make_grub_core(out)?;
    let boot_img = read(&Path::new(GRUB_I386_PC).join("boot.img"))?;
    let mut disk = image::DiskImageBuilder::new();
    disk.set_uefi_app(read(&outputs.kboot_efi)?)
        .set_kernel(read(&outputs.bzimage)?)
        .set_ramdisk(&file_name(&outputs.initramfs), read(&outputs.initramfs)?)
        .set_cmdline(cmdline)
        .set_grub_bios(boot_img, core_img);
    let layout = disk.create_disk_image(&outputs.disk_img)?;
    println!(
        "    BIOS boot at LBA {}, ESP at LBA {} ({} MiB)",
        layout.bios_boot_lba,
        layout.esp_first_lba,
        (layout.esp_sectors * 512) >> 20
    );
    Ok(())
}

/// The closing table: every artifact with its size.
fn print_artifacts(out: &Path, outputs: &Outputs, took: std::time::Duration) {
    println!(
        "\nArtifacts in {} (built in {:.1}s):",
        out.display(),
        took.as_secs_f64()
    );
    let rows: Vec<Vec<String>> = [
        &outputs.bzimage,
        &outputs.kboot_binary,
        &outputs.initramfs_raw,
        &outputs.userspace,
    ]
    .into_iter()
    .chain(outputs.modules_cpio.as_ref())
    .chain([&outputs.initramfs, &outputs.kboot_efi, &outputs.disk_img])
    .map(|p| {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        vec![file_name(p), human_size(size), size.to_string()]
    })
    .collect();
    print_table(&["artifact", "size", "bytes"], &rows);
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Builds rootfs-rs statically: musl when the target is installed, else gnu + crt-static.
pub fn build_userspace(ws: &Workspace) -> crate::Result<PathBuf> {
    // Non-PIE: the binary only ever runs as the initramfs's userspace, and dropping the
    // static-pie relocations saves 58 KiB (1.62 → 1.56 MiB, measured). lld's identical
    // code folding merges the many same-bodied generic instances: 20 KiB (measured;
    // --icf=safe saves only 7 KiB). No .eh_frame_hdr: see drop_unwind_tables. LLVM's
    // inliner stays on: `-inline-threshold=0` once saved 10 KiB, but on today's code it
    // costs 16 KiB (text 3,536,733 B with it, 3,520,257 B without, measured) and leaves
    // every iterator step a call.
    const SIZE_FLAGS: &str = "-C relocation-model=static -C link-arg=-fuse-ld=lld \
        -C link-arg=-Wl,--icf=all -C link-arg=-Wl,--no-eh-frame-hdr";
    let (target, rustflags) = if deps::musl_target_installed() {
        (deps::RUST_TARGET, SIZE_FLAGS.to_string())
    } else {
        println!("    note: rustup target {} is missing; building for x86_64-unknown-linux-gnu with +crt-static", deps::RUST_TARGET);
        (
            "x86_64-unknown-linux-gnu",
            format!("-C target-feature=+crt-static {SIZE_FLAGS}"),
        )
    };
    let mut cmd = process::cargo();
    cmd.current_dir(&ws.root).args([
        "build",
        "--quiet",
        "--package",
        "rootfs-rs",
        "--profile",
        "kboot",
        "--target",
        target,
    ]);
    cmd.env("RUSTFLAGS", rustflags);
    process::run(&mut cmd).context("building rootfs-rs failed")?;
    let binary = ws.target().join(target).join("kboot/kboot");
    drop_unwind_tables(&binary)?;
    let size = std::fs::metadata(&binary)
        .with_context(|| format!("failed to read {}", binary.display()))?
        .len();
    println!(
        "    {} ({}, static, {target})",
        binary.display(),
        human_size(size)
    );
    Ok(binary)
}

/// Removes the DWARF unwind tables (.eh_frame, .gcc_except_table: 210 KiB, 12 % of the
/// binary). The kboot profile aborts on panic, so nothing ever unwinds; the only reader
/// left is the backtrace printed under RUST_BACKTRACE=1, which comes out empty while the
/// panic message itself is kept. std is precompiled with unwind tables, so
/// `-C force-unwind-tables=no` cannot drop them (measured: no change). Idempotent.
fn drop_unwind_tables(binary: &Path) -> crate::Result<()> {
    process::run(
        tool("objcopy")?
            .args([
                "--remove-section=.eh_frame",
                "--remove-section=.gcc_except_table",
            ])
            .arg(binary),
    )
    .with_context(|| {
        format!(
            "objcopy could not drop the unwind tables of {}",
            binary.display()
        )
    })
}

/// The applet names, asked from the binary itself (it is static, so it runs here too).
pub fn list_applets(binary: &Path) -> crate::Result<Vec<String>> {
    // The binary we just built: not a host tool, so not from the registry.
    let output = process::output(Command::new(binary).arg("--list"))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// A unified kernel image: the distro's systemd EFI stub with the kernel, initramfs and
/// command line as PE sections. Only the initramfs section changes when only the
/// userspace changes, so the kernel is never relinked.
pub fn make_uki(
    bzimage: &Path,
    initramfs: &Path,
    cmdline: &str,
    timestamp: u32,
    out: &Path,
) -> crate::Result<()> {
    if !Path::new(EFI_STUB).exists() {
        bail!("{EFI_STUB} is missing (apt install systemd-boot-efi)");
    }
    let cmdline_file = out.with_extension("cmdline");
    write(&cmdline_file, format!("{cmdline}\0").as_bytes())?;
    let kernel_len = std::fs::metadata(bzimage)
        .with_context(|| format!("failed to read {}", bzimage.display()))?
        .len();
    // The stub's own image ends below 0x20000; the kernel goes at 32 MiB and the
    // initramfs on the next MiB boundary after it, so no section can overlap.
    let linux_vma: u64 = 0x200_0000;
    let initrd_vma = (linux_vma + kernel_len).div_ceil(0x10_0000) * 0x10_0000;
    let tmp = out.with_extension("efi.tmp");
    run_quiet(
        tool("objcopy")?
            .arg("--add-section")
            .arg(format!(".cmdline={}", cmdline_file.display()))
            .args(["--change-section-vma", ".cmdline=0x30000"])
            .arg("--add-section")
            .arg(format!(".linux={}", bzimage.display()))
            .arg("--change-section-vma")
            .arg(format!(".linux={linux_vma:#x}"))
            .arg("--add-section")
            .arg(format!(".initrd={}", initramfs.display()))
            .arg("--change-section-vma")
            .arg(format!(".initrd={initrd_vma:#x}"))
            .arg(EFI_STUB)
            .arg(&tmp),
    )?;
    let _ = std::fs::remove_file(&cmdline_file);
    // objcopy stamps the current time into the PE header; pin it for reproducibility.
    let mut efi = read(&tmp)?;
    image::pe::set_timestamp(&mut efi, timestamp)
        .with_context(|| format!("failed to set the PE timestamp of {}", tmp.display()))?;
    let _ = std::fs::remove_file(&tmp);
    write(out, &efi)
}

/// GRUB's i386-pc core image with the ESP as its prefix.
fn make_grub_core(out: &Path) -> crate::Result<Vec<u8>> {
    let core = out.join("grub-core.img");
    run_quiet(
        tool("grub-mkimage")?
            .args([
                "-O",
                "i386-pc",
                "-d",
                GRUB_I386_PC,
                "-p",
                "(hd0,gpt2)/boot/grub",
                "-o",
            ])
            .arg(&core)
            .args(GRUB_MODULES),
    )?;
    let bytes = read(&core)?;
    let _ = std::fs::remove_file(&core);
    Ok(bytes)
}

/// A quick sanity check that a given kernel is a bzImage ("HdrS" at 0x202).
fn check_bzimage(path: &Path) -> crate::Result<()> {
    let bytes = read(path)?;
    if bytes.len() < 0x210 || &bytes[0x202..0x206] != b"HdrS" {
        bail!(
            "{}: not an x86 bzImage (no \"HdrS\" boot header at 0x202)",
            path.display()
        );
    }
    Ok(())
}

fn source_date_epoch() -> crate::Result<u32> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")),
        Err(_) => Ok(0),
    }
}

pub fn read(path: &Path) -> crate::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))
}

pub fn write(path: &Path, data: &[u8]) -> crate::Result<()> {
    // The error names the file: "failed to write PATH: …".
    Ok(image::write_atomically(path, data)?)
}

fn copy(from: &Path, to: &Path) -> crate::Result<()> {
    if from == to {
        return Ok(());
    }
    write(to, &read(from)?)
}
