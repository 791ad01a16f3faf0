//! Chaining from an existing boot loader: the entry files `cargo xtask image` writes under
//! target/kboot/ (GRUB snippet, BLS entry, LILO stanza), and `cargo xtask install`, which
//! puts kboot and one entry into a mounted target system without losing any existing file.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

/// Where kboot's kernel and initramfs live inside the target's /boot.
const BOOT_SUBDIR: &str = "kboot";

/// The entries, each a (path under target/kboot, contents) pair.
pub fn entry_files(cmdline: &str, initramfs: &str) -> Vec<(&'static str, String, u32)> {
    let grub_d = format!(
        r#"#!/bin/sh
# grub-mkconfig snippet: a menu entry for kboot (installed by `cargo xtask install --grub`).
set -e
. "${{pkgdatadir:-/usr/share/grub}}/grub-mkconfig_lib"
dir=/boot/{BOOT_SUBDIR}
[ -f "$dir/bzImage" ] || exit 0
echo "Found kboot: $dir/bzImage" >&2
rel=$(make_system_path_relative_to_its_root "$dir")
echo "menuentry 'kboot' --class kboot --id kboot {{"
prepare_grub_to_access_device "${{GRUB_DEVICE_BOOT}}" | sed -e 's/^/\t/'
echo "	linux $rel/bzImage {cmdline}"
echo "	initrd $rel/{initramfs}"
echo "}}"
"#
    );
    let grub_cfg = format!(
        "# For hand-written grub.cfg files: finds the filesystem holding kboot by file.\n\
         menuentry 'kboot' --class kboot --id kboot {{\n\
         \tsearch --no-floppy --file --set=root /boot/{BOOT_SUBDIR}/bzImage\n\
         \tlinux /boot/{BOOT_SUBDIR}/bzImage {cmdline}\n\
         \tinitrd /boot/{BOOT_SUBDIR}/{initramfs}\n}}\n"
    );
    // BLS paths are relative to the partition holding loader/entries (/boot here).
    let bls = format!(
        "title      kboot\n\
         version    kboot-rs {}\n\
         linux      /{BOOT_SUBDIR}/bzImage\n\
         initrd     /{BOOT_SUBDIR}/{initramfs}\n\
         options    {cmdline}\n",
        env!("CARGO_PKG_VERSION")
    );
    let lilo = format!(
        "# Append to /etc/lilo.conf, then run `lilo`.\n\
         image=/boot/{BOOT_SUBDIR}/bzImage\n\
         \tlabel=kboot\n\
         \tinitrd=/boot/{BOOT_SUBDIR}/{initramfs}\n\
         \tappend=\"{cmdline}\"\n"
    );
    vec![
        ("grub.d/40_kboot", grub_d, 0o755),
        ("grub-kboot.cfg", grub_cfg, 0o644),
        ("loader/entries/kboot.conf", bls, 0o644),
        ("lilo.conf.kboot", lilo, 0o644),
    ]
}

/// Writes the entry files into `out` (target/kboot).
pub fn write_entry_files(out: &Path, cmdline: &str, initramfs: &str) -> crate::Result<()> {
    for (name, text, mode) in entry_files(cmdline, initramfs) {
        let path = out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        // The error names the file: "failed to write PATH: …".
        image::write_atomically(&path, text.as_bytes())?;
        set_mode(&path, mode)?;
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> crate::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("failed to chmod {}", path.display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Grub,
    Bls,
    Lilo,
    Efi,
}

#[derive(Debug)]
pub struct InstallOptions {
    /// The target system's root (its /etc), "/" for this machine.
    pub root: PathBuf,
    /// Its mounted /boot (default ROOT/boot).
    pub boot: PathBuf,
    /// Its mounted EFI system partition (default BOOT/efi), for --efi.
    pub esp: PathBuf,
    pub entry: Entry,
}

/// `cargo xtask install`: copies kboot (target/kboot) into the target system mounted at
/// ROOT and adds one entry to its boot loader. Existing files with other contents are
/// kept as NAME.bak.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The target system's root (its /etc); / for this machine
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Its mounted /boot [default: ROOT/boot]
    #[arg(long, value_name = "DIR")]
    boot: Option<PathBuf>,
    /// Its mounted EFI system partition, for --efi [default: BOOT/efi]
    #[arg(long, value_name = "DIR")]
    esp: Option<PathBuf>,
    #[command(flatten)]
    entry: EntryKind,
}

/// Which boot loader gets the entry: exactly one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct EntryKind {
    /// A grub.d snippet (/etc/grub.d/40_kboot; then run update-grub)
    #[arg(long)]
    grub: bool,
    /// A Boot Loader Specification entry (BOOT/loader/entries/kboot.conf)
    #[arg(long)]
    bls: bool,
    /// A LILO stanza (/etc/lilo.conf.kboot, to append to /etc/lilo.conf)
    #[arg(long)]
    lilo: bool,
    /// kboot.efi on the ESP, and a firmware boot entry (efibootmgr)
    #[arg(long)]
    efi: bool,
}

impl From<InstallArgs> for InstallOptions {
    fn from(args: InstallArgs) -> InstallOptions {
        let e = &args.entry;
        let entry = match (e.grub, e.bls, e.lilo) {
            (true, _, _) => Entry::Grub,
            (_, true, _) => Entry::Bls,
            (_, _, true) => Entry::Lilo,
            // clap requires one of the four.
            _ => Entry::Efi,
        };
        let boot = args.boot.unwrap_or_else(|| args.root.join("boot"));
        let esp = args.esp.unwrap_or_else(|| boot.join("efi"));
        InstallOptions {
            root: args.root,
            boot,
            esp,
            entry,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Written(PathBuf),
    Unchanged(PathBuf),
    /// Written; the old contents were moved to the second path.
    Replaced(PathBuf, PathBuf),
}

/// Writes `data` to `path` unless it already holds exactly that; other contents are first
/// renamed to `path.bak` (`.bak.1`, … if that is taken), never lost.
pub fn place(path: &Path, data: &[u8], mode: u32) -> crate::Result<Outcome> {
    let outcome = match std::fs::read(path) {
        Ok(old) if old == data => return Ok(Outcome::Unchanged(path.to_path_buf())),
        Ok(_) => {
            let backup = (0..)
                .map(|n| match n {
                    0 => PathBuf::from(format!("{}.bak", path.display())),
                    n => PathBuf::from(format!("{}.bak.{n}", path.display())),
                })
                .find(|p| !p.exists())
                .ok_or_else(|| anyhow!("no free backup name"))?;
            std::fs::rename(path, &backup)
                .with_context(|| format!("failed to back up {}", path.display()))?;
            Outcome::Replaced(path.to_path_buf(), backup)
        }
        Err(_) => Outcome::Written(path.to_path_buf()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    image::write_atomically(path, data)?;
    set_mode(path, mode)?;
    Ok(outcome)
}

/// Installs from `artifacts` (target/kboot); returns what was done and the next command.
pub fn install(artifacts: &Path, o: &InstallOptions) -> crate::Result<(Vec<Outcome>, String)> {
    let read = |name: &str| {
        let p = artifacts.join(name);
        std::fs::read(&p).with_context(|| {
            format!(
                "failed to read {} (run `cargo xtask image` first)",
                p.display()
            )
        })
    };
    let initramfs = ["initramfs.cpio.zst", "initramfs.cpio.gz"]
        .into_iter()
        .find(|n| artifacts.join(n).exists())
        .ok_or_else(|| anyhow!("no initramfs in target/kboot (run `cargo xtask image` first)"))?;
    if o.entry == Entry::Efi {
        return install_efi(o, &read("kboot.efi")?);
    }
    let dir = o.boot.join(BOOT_SUBDIR);
    let mut done = vec![
        place(&dir.join("bzImage"), &read("bzImage")?, 0o644)?,
        place(&dir.join(initramfs), &read(initramfs)?, 0o644)?,
    ];
    let (source, dest, mode, command) = match o.entry {
        Entry::Grub => (
            "grub.d/40_kboot",
            o.root.join("etc/grub.d/40_kboot"),
            0o755,
            "update-grub",
        ),
        Entry::Bls => (
            "loader/entries/kboot.conf",
            o.boot.join("loader/entries/kboot.conf"),
            0o644,
            "nothing: systemd-boot and BLS-aware GRUB read loader/entries directly",
        ),
        Entry::Lilo => (
            "lilo.conf.kboot",
            o.root.join("etc/lilo.conf.kboot"),
            0o644,
            "cat /etc/lilo.conf.kboot >> /etc/lilo.conf && lilo",
        ),
        Entry::Efi => unreachable!("handled above"),
    };
    done.push(place(&dest, &read(source)?, mode)?);
    Ok((done, command.to_string()))
}

/// kboot.efi on the ESP, and the firmware entry: created here for this machine's own
/// firmware, else the efibootmgr command to run.
fn install_efi(o: &InstallOptions, kboot_efi: &[u8]) -> crate::Result<(Vec<Outcome>, String)> {
    let efi = o.esp.join("EFI/kboot/kboot.efi");
    let done = vec![place(&efi, kboot_efi, 0o644)?];
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let (disk, part) = esp_disk_and_partition(&mounts, Path::new("/sys/class/block"), &o.esp)
        .unwrap_or_else(|| ("/dev/<disk>".into(), "<esp number>".into()));
    let args = [
        "--create",
        "--disk",
        &disk,
        "--part",
        &part,
        "--label",
        "kboot",
        "--loader",
        "\\EFI\\kboot\\kboot.efi",
    ];
    // Shown for a shell: the loader path in single quotes keeps its backslashes.
    let next = format!(
        "efibootmgr --create --disk {disk} --part {part} --label kboot --loader '{}'",
        args[8]
    );
    // Only this machine's firmware, and only once: never for a target mounted elsewhere.
    if o.root == Path::new("/") && !disk.contains('<') {
        return Ok((done, run_efibootmgr(&args).unwrap_or(next)));
    }
    Ok((done, next))
}

/// The whole disk and partition number of the filesystem mounted at `dir`.
fn esp_disk_and_partition(mounts: &str, sys_block: &Path, dir: &Path) -> Option<(String, String)> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let source = mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (source, target) = (f.next()?, f.next()?);
        (Path::new(target) == dir).then(|| source.to_string())
    })?;
    let name = Path::new(&source)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let number = std::fs::read_to_string(sys_block.join(&name).join("partition")).ok()?;
    let parent = std::fs::canonicalize(sys_block.join(&name)).ok()?;
    let disk = parent.parent()?.file_name()?.to_string_lossy().into_owned();
    Some((format!("/dev/{disk}"), number.trim().to_string()))
}

/// Creates the firmware entry unless one labelled kboot exists; None when efibootmgr is
/// missing or fails (the caller then prints the command).
fn run_efibootmgr(args: &[&str]) -> Option<String> {
    let listed = crate::process::tool("efibootmgr").ok()?.output().ok()?;
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("kboot"))
    {
        return Some("nothing: the firmware already has a kboot entry (efibootmgr)".into());
    }
    let made = crate::process::tool("efibootmgr")
        .ok()?
        .args(args)
        .status()
        .ok()?;
    made.success()
        .then(|| "nothing: efibootmgr created the kboot entry".to_string())
}

pub fn cli(ws: &crate::Workspace, options: InstallOptions) -> crate::Result<()> {
    let (done, next) = install(&ws.out_dir(), &options)?;
    for outcome in &done {
        match outcome {
            Outcome::Written(p) => println!("  wrote      {}", p.display()),
            Outcome::Unchanged(p) => println!("  unchanged  {}", p.display()),
            Outcome::Replaced(p, b) => {
                println!(
                    "  replaced   {} (old contents in {})",
                    p.display(),
                    b.display()
                )
            }
        }
    }
    println!("next: {next}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The install options as `cargo xtask install ARGS` parses them.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: InstallArgs,
    }

    fn parse(args: &[&str]) -> Result<InstallOptions, clap::Error> {
        Cli::try_parse_from(std::iter::once("install").chain(args.iter().copied()))
            .map(|c| c.args.into())
    }

    /// An empty directory, removed when the test ends (also when it fails).
    fn scratch() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("kboot-install-")
            .tempdir()
            .unwrap()
    }

    /// Stand-in artifacts: the real entry files, small fake kernel images.
    fn artifacts() -> tempfile::TempDir {
        let d = scratch();
        for (name, data) in [
            ("bzImage", "kernel"),
            ("initramfs.cpio.gz", "cpio"),
            ("kboot.efi", "efi"),
        ] {
            std::fs::write(d.path().join(name), data).unwrap();
        }
        write_entry_files(d.path(), "console=ttyS0,115200", "initramfs.cpio.gz").unwrap();
        d
    }

    #[test]
    fn install_twice_changes_nothing_and_backs_up_foreign_files() {
        let art_dir = artifacts();
        let art = art_dir.path();
        let root_dir = scratch();
        let root = root_dir.path();
        let opts = |entry: String| parse(&["--root", &root.display().to_string(), &entry]).unwrap();
        // A different 40_kboot already there is kept as .bak.
        std::fs::create_dir_all(root.join("etc/grub.d")).unwrap();
        std::fs::write(root.join("etc/grub.d/40_kboot"), "old").unwrap();
        let (first, next) = install(art, &opts("--grub".into())).unwrap();
        assert_eq!(next, "update-grub");
        assert!(matches!(&first[2], Outcome::Replaced(_, b) if b.ends_with("40_kboot.bak")));
        assert_eq!(
            std::fs::read_to_string(root.join("etc/grub.d/40_kboot.bak")).unwrap(),
            "old"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("boot/kboot/bzImage")).unwrap(),
            "kernel"
        );
        let (second, _) = install(art, &opts("--grub".into())).unwrap();
        assert!(
            second.iter().all(|o| matches!(o, Outcome::Unchanged(_))),
            "{second:?}"
        );

        let (bls, _) = install(art, &opts("--bls".into())).unwrap();
        assert!(matches!(&bls[2], Outcome::Written(p) if p.ends_with("loader/entries/kboot.conf")));
        let entry = std::fs::read_to_string(root.join("boot/loader/entries/kboot.conf")).unwrap();
        assert!(
            entry.contains("linux      /kboot/bzImage")
                && entry.contains("options    console=ttyS0,115200")
        );

        install(art, &opts("--lilo".into())).unwrap();
        let lilo = std::fs::read_to_string(root.join("etc/lilo.conf.kboot")).unwrap();
        assert!(lilo.contains("image=/boot/kboot/bzImage") && lilo.contains("label=kboot"));

        let (efi, next) = install(art, &opts("--efi".into())).unwrap();
        assert!(
            matches!(&efi[0], Outcome::Written(p) if p.ends_with("boot/efi/EFI/kboot/kboot.efi"))
        );
        assert!(next.starts_with("efibootmgr --create"));
    }

    #[test]
    fn the_esp_mount_is_traced_to_its_disk_and_partition() {
        let sys_dir = scratch();
        let sys = sys_dir.path();
        let part = sys.join("devices/pci0/block/sda/sda1");
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(part.join("partition"), "1\n").unwrap();
        std::fs::create_dir_all(sys.join("class")).unwrap();
        std::os::unix::fs::symlink(&part, sys.join("class/sda1")).unwrap();
        let esp_dir = scratch();
        let esp = esp_dir.path();
        let mounts = format!("/dev/sda1 {} vfat rw 0 0\n", esp.display());
        assert_eq!(
            esp_disk_and_partition(&mounts, &sys.join("class"), esp),
            Some(("/dev/sda".to_string(), "1".to_string()))
        );
        assert_eq!(esp_disk_and_partition("", &sys.join("class"), esp), None);
    }

    #[test]
    fn the_grub_snippet_is_valid_shell_and_the_options_are_checked() {
        let art_dir = artifacts();
        let art = art_dir.path();
        let status = qemu_tests::host_tools::command("sh")
            .arg("-n")
            .arg(art.join("grub.d/40_kboot"))
            .status()
            .unwrap();
        assert!(status.success());
        assert!(parse(&["--grub"]).is_err());
        assert!(parse(&["--root", "/x"]).is_err());
        assert!(parse(&["--root"]).is_err());
        assert!(parse(&["--root", "/x", "--grub", "--bls"]).is_err());
        let o = parse(&["--root", "/x", "--efi"]).unwrap();
        assert_eq!(
            (o.entry, o.boot, o.esp),
            (Entry::Efi, "/x/boot".into(), "/x/boot/efi".into())
        );
    }
}
