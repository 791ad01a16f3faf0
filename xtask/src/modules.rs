//! Kernel modules for the boot media. Three sources, one path: the lean kernel's own
//! modules (every one it built), a distro kernel's modules chosen by hardware class
//! (`--modules DIR`), or the modules a machine has loaded right now (`--host-only`, as
//! dracut's hostonly). The chosen modules are staged with their dependencies, indexed
//! by depmod for that tree alone, and packed as a cpio archive that follows the
//! userspace archive in the initramfs (the kernel unpacks concatenated archives).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::process::{self, run_quiet};

/// A `lib/modules/<release>/` tree under `root` (an INSTALL_MOD_PATH, or `/` for the
/// host's own modules).
#[derive(Debug, Clone)]
pub struct ModuleTree {
    pub root: PathBuf,
    pub release: String,
}

/// One module of a tree: its path relative to the release directory and the modules it
/// needs (modules.dep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub deps: Vec<String>,
}

impl Module {
    /// The name modprobe and /proc/modules use: the file name without `.ko[.gz|.xz|.zst]`,
    /// dashes as underscores.
    pub fn name(&self) -> String {
        module_name(&self.path)
    }
}

pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

impl ModuleTree {
    /// The one `lib/modules/<release>` under `root`.
    pub fn under(root: &Path) -> crate::Result<ModuleTree> {
        let base = root.join("lib/modules");
        let mut releases: Vec<String> = std::fs::read_dir(&base)
            .with_context(|| format!("failed to read {}", base.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        match releases.len() {
            1 => Ok(ModuleTree {
                root: root.to_path_buf(),
                release: releases.remove(0),
            }),
            0 => bail!("{}: no kernel release directory", base.display()),
            _ => bail!(
                "{}: more than one kernel release: {releases:?}",
                base.display()
            ),
        }
    }

    /// A release directory given by the user (`/lib/modules/6.1.0-57-amd64`).
    pub fn from_release_dir(dir: &Path) -> crate::Result<ModuleTree> {
        let release = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .with_context(|| format!("{}: not a lib/modules/<release> directory", dir.display()))?;
        let root = dir
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .filter(|_| dir.parent().is_some_and(|p| p.ends_with("lib/modules")))
            .with_context(|| format!("{}: not a lib/modules/<release> directory", dir.display()))?;
        if !dir.join("modules.dep").exists() {
            bail!(
                "{}: no modules.dep (run depmod for it first)",
                dir.display()
            );
        }
        Ok(ModuleTree {
            root: root.to_path_buf(),
            release,
        })
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.release)
    }

    /// depmod for this tree only (`-b`), so the host's own modules are never read.
    pub fn depmod(&self) -> crate::Result<()> {
        run_quiet(
            process::tool("depmod")?
                .arg("-b")
                .arg(&self.root)
                .arg(&self.release),
        )
        .with_context(|| format!("depmod failed for {}", self.dir().display()))
    }

    /// Every module with its dependencies, from modules.dep.
    pub fn modules(&self) -> crate::Result<Vec<Module>> {
        let path = self.dir().join("modules.dep");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        Ok(parse_modules_dep(&text))
    }
}

/// `kernel/a/b.ko: kernel/c.ko kernel/d.ko` per line; malformed lines are skipped.
pub fn parse_modules_dep(text: &str) -> Vec<Module> {
    text.lines()
        .filter_map(|line| {
            let (path, deps) = line.split_once(':')?;
            let path = path.trim();
            if path.is_empty() || !path.contains(".ko") {
                return None;
            }
            Some(Module {
                path: path.to_string(),
                deps: deps.split_whitespace().map(str::to_string).collect(),
            })
        })
        .collect()
}

/// What a module is for, for the size report: by where it lives in the tree.
pub fn class_of(path: &str) -> &'static str {
    let p = path.strip_prefix("kernel/").unwrap_or(path);
    const CLASSES: &[(&str, &[&str])] = &[
        (
            "storage",
            &[
                "drivers/nvme/",
                "drivers/ata/",
                "drivers/usb/",
                "drivers/mmc/",
                "drivers/scsi/",
                "drivers/md/",
                "drivers/block/",
                "drivers/hv/",
                "drivers/virtio/",
            ],
        ),
        ("input", &["drivers/hid/", "drivers/input/"]),
        ("display", &["drivers/gpu/", "drivers/video/"]),
        ("network", &["drivers/net/", "net/"]),
        ("filesystems", &["fs/"]),
    ];
    CLASSES
        .iter()
        .find(|(_, prefixes)| prefixes.iter().any(|pre| p.starts_with(pre)))
        .map(|(class, _)| *class)
        .unwrap_or("support")
}

/// The modules `--modules` takes from a distro kernel: the hardware classes of
/// docs/hardware.md and the filesystems kboot reads /boot from. Their dependencies come
/// along through modules.dep.
pub const CLASS_MODULES: &[(&str, &[&str])] = &[
    (
        "storage",
        &[
            "nvme",
            "ahci",
            "ata_piix",
            "ata_generic",
            "xhci_pci",
            "ehci_pci",
            "ohci_pci",
            "uhci_hcd",
            "usb_storage",
            "uas",
            "sdhci_pci",
            "sdhci_acpi",
            "mmc_block",
            "virtio_pci",
            "virtio_blk",
            "virtio_scsi",
            "sd_mod",
            "sr_mod",
            "megaraid_sas",
            "mpt3sas",
            "smartpqi",
            "hpsa",
            "vmw_pvscsi",
            "hv_vmbus",
            "hv_storvsc",
            "md_mod",
            "raid0",
            "raid1",
            "raid10",
            "raid456",
            "dm_mod",
        ],
    ),
    ("input", &["usbhid", "hid_generic", "atkbd", "i8042"]),
    (
        "display",
        &["simpledrm", "bochs", "bochs_drm", "virtio_gpu"],
    ),
    (
        "network",
        &[
            "e1000",
            "e1000e",
            "igb",
            "igc",
            "ixgbe",
            "i40e",
            "r8169",
            "tg3",
            "bnxt_en",
            "mlx4_en",
            "mlx5_core",
            "ena",
            "gve",
            "hv_netvsc",
            "vmxnet3",
            "virtio_net",
        ],
    ),
    (
        "filesystems",
        &[
            "ext4",
            "vfat",
            "isofs",
            "xfs",
            "btrfs",
            "nls_cp437",
            "nls_iso8859_1",
            "nls_utf8",
        ],
    ),
];

/// Which modules of a tree go onto the media.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every module (the lean kernel: its fragments already chose).
    All,
    /// The hardware classes (CLASS_MODULES).
    Classes,
    /// These module names (a machine's /proc/modules).
    Named(BTreeSet<String>),
}

/// Modules another module asks for by name or alias without a symbol dependency:
/// `softdep ext4 pre: crypto-crc32c` (ext4 finds crc32c through the crypto API, so
/// modules.dep cannot know; without it the mount fails with ENOENT).
#[derive(Debug, Default, Clone)]
pub struct SoftLinks {
    /// module name → the names or aliases it wants before or after it.
    pub softdeps: BTreeMap<String, Vec<String>>,
    /// exact alias → module names (the softdep targets are plain names, never globs).
    pub aliases: BTreeMap<String, Vec<String>>,
}

impl SoftLinks {
    /// From modules.softdep and modules.alias text.
    pub fn parse(softdep: &str, alias: &str) -> SoftLinks {
        let mut links = SoftLinks::default();
        for line in softdep.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("softdep") {
                continue;
            }
            let Some(module) = words.next() else { continue };
            let wanted = words
                .filter(|w| !w.ends_with(':'))
                .map(|w| w.replace('-', "_"));
            links
                .softdeps
                .entry(module.replace('-', "_"))
                .or_default()
                .extend(wanted);
        }
        for line in alias.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(pattern), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                if !pattern.contains(['*', '?', '[']) {
                    links
                        .aliases
                        .entry(pattern.replace('-', "_"))
                        .or_default()
                        .push(module.replace('-', "_"));
                }
            }
        }
        links
    }

    /// Reads them from a tree (missing files: no links).
    pub fn of(tree: &ModuleTree) -> SoftLinks {
        let read = |name: &str| std::fs::read_to_string(tree.dir().join(name)).unwrap_or_default();
        SoftLinks::parse(&read("modules.softdep"), &read("modules.alias"))
    }
}

/// The chosen modules, dependencies (modules.dep) and soft dependencies included, in
/// path order; plus the names asked for that the tree does not have.
pub fn select(
    modules: &[Module],
    links: &SoftLinks,
    selection: &Selection,
) -> (Vec<Module>, Vec<String>) {
    let by_name: BTreeMap<String, &Module> = modules.iter().map(|m| (m.name(), m)).collect();
    let by_path: BTreeMap<&str, &Module> = modules.iter().map(|m| (m.path.as_str(), m)).collect();
    let wanted: Vec<String> = match selection {
        Selection::All => return (modules.to_vec(), Vec::new()),
        Selection::Classes => CLASS_MODULES
            .iter()
            .flat_map(|(_, names)| names.iter().map(|n| n.to_string()))
            .collect(),
        Selection::Named(names) => names.iter().cloned().collect(),
    };
    let mut chosen: BTreeSet<&str> = BTreeSet::new();
    let mut missing = Vec::new();
    let mut queue: Vec<&Module> = Vec::new();
    for name in &wanted {
        match by_name.get(&name.replace('-', "_")) {
            Some(m) => queue.push(m),
            // Classes name every candidate; a distro that builds one in is not short of it.
            None if matches!(selection, Selection::Named(_)) => missing.push(name.clone()),
            None => {}
        }
    }
    while let Some(m) = queue.pop() {
        if !chosen.insert(m.path.as_str()) {
            continue;
        }
        queue.extend(
            m.deps
                .iter()
                .filter_map(|d| by_path.get(d.as_str()).copied()),
        );
        for soft in links.softdeps.get(&m.name()).into_iter().flatten() {
            let names = links
                .aliases
                .get(soft)
                .cloned()
                .unwrap_or_else(|| vec![soft.clone()]);
            queue.extend(names.iter().filter_map(|n| by_name.get(n).copied()));
        }
    }
    let picked = modules
        .iter()
        .filter(|m| chosen.contains(m.path.as_str()))
        .cloned()
        .collect();
    (picked, missing)
}

/// Module names in a /proc/modules (or lsmod) listing: the first word of each line.
pub fn loaded_names(listing: &str) -> BTreeSet<String> {
    listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| {
            *w != "Module"
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .map(|w| w.replace('-', "_"))
        .collect()
}

/// Copies the chosen modules of `tree` into `out` (a fresh INSTALL_MOD_PATH-like root),
/// with depmod's index for them alone. Compressed modules the target kernel cannot
/// decompress itself (`kernel_decompresses` names the suffixes it can) are stored
/// decompressed: the initramfs compression covers them. With `Gzip::AllBut`, uncompressed
/// modules are gzip-compressed after indexing (the host's depmod may lack zlib, so the
/// index is made on the plain files and its paths renamed), except those of the classes
/// it names.
pub fn stage(
    tree: &ModuleTree,
    chosen: &[Module],
    kernel_decompresses: &[&str],
    gzip: Gzip,
    out: &Path,
) -> crate::Result<ModuleTree> {
    let _ = std::fs::remove_dir_all(out);
    let staged = ModuleTree {
        root: out.to_path_buf(),
        release: tree.release.clone(),
    };
    let dest_dir = staged.dir();
    std::fs::create_dir_all(&dest_dir)
        .with_context(|| format!("failed to create {}", dest_dir.display()))?;
    for module in chosen {
        let from = tree.dir().join(&module.path);
        let suffix = [".xz", ".zst", ".gz"]
            .into_iter()
            .find(|s| module.path.ends_with(s));
        let (dest_rel, data) = match suffix {
            Some(s) if !kernel_decompresses.contains(&s) => {
                let plain = module.path.trim_end_matches(s).to_string();
                (plain, decompress(&from, s)?)
            }
            _ => (
                module.path.clone(),
                std::fs::read(&from)
                    .with_context(|| format!("failed to read {}", from.display()))?,
            ),
        };
        let dest = dest_dir.join(&dest_rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        std::fs::write(&dest, data)
            .with_context(|| format!("failed to write {}", dest.display()))?;
    }
    // What depmod needs besides the modules: which modules are built in, and their
    // aliases (so modprobe of a built-in driver's alias is success, not "not found").
    for name in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        let from = tree.dir().join(name);
        if from.exists() {
            std::fs::copy(&from, dest_dir.join(name))
                .with_context(|| format!("failed to copy {}", from.display()))?;
        }
    }
    staged.depmod()?;
    let indexed = staged.modules()?.len();
    if indexed != chosen.len() {
        bail!(
            "depmod indexed {indexed} of the {} modules in {} (a compression this depmod cannot read?)",
            chosen.len(),
            dest_dir.display()
        );
    }
    if let Gzip::AllBut(plain_classes) = gzip {
        gzip_in_place(&staged, plain_classes)?;
    }
    Ok(staged)
}

/// Which plain modules `stage` compresses for a kernel that decompresses gzip itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gzip {
    /// Modules are stored as they are (the initramfs compression covers plain ones).
    No,
    /// Every plain module but those of these classes (`class_of`) becomes `.ko.gz`.
    AllBut(&'static [&'static str]),
}

/// Compresses the plain `.ko` of a staged tree to `.ko.gz`, but for `plain_classes`, and
/// renames them in modules.dep (the one index file that names paths).
fn gzip_in_place(tree: &ModuleTree, plain_classes: &[&str]) -> crate::Result<()> {
    let dir = tree.dir();
    let dep_path = dir.join("modules.dep");
    let mut dep = String::new();
    for module in tree.modules()? {
        let rename = |p: &str| {
            if p.ends_with(".ko") && !plain_classes.contains(&class_of(p)) {
                format!("{p}.gz")
            } else {
                p.to_string()
            }
        };
        if rename(&module.path) != module.path {
            let plain = dir.join(&module.path);
            let data = std::fs::read(&plain)
                .with_context(|| format!("failed to read {}", plain.display()))?;
            let packed = image::initramfs::compress(&data, image::initramfs::Compression::Gzip)
                .with_context(|| format!("failed to compress {}", plain.display()))?;
            std::fs::write(dir.join(rename(&module.path)), packed)
                .with_context(|| format!("failed to write {}.gz", plain.display()))?;
            std::fs::remove_file(&plain)
                .with_context(|| format!("failed to remove {}", plain.display()))?;
        }
        let deps: Vec<String> = module.deps.iter().map(|d| rename(d)).collect();
        dep.push_str(&format!("{}:", rename(&module.path)));
        for d in deps {
            dep.push(' ');
            dep.push_str(&d);
        }
        dep.push('\n');
    }
    std::fs::write(&dep_path, dep)
        .with_context(|| format!("failed to write {}", dep_path.display()))
}

fn decompress(path: &Path, suffix: &str) -> crate::Result<Vec<u8>> {
    let program = match suffix {
        ".xz" => "xz",
        ".zst" => "zstd",
        _ => "gzip",
    };
    let out = process::output(process::tool(program)?.arg("-dc").arg(path))?;
    Ok(out.stdout)
}

/// The files of a staged tree that go onto the media, relative to its root, sorted:
/// the modules and depmod's text indexes (kboot reads the text forms; the .bin twins
/// are for kmod and would only add size).
pub fn media_files(tree: &ModuleTree) -> crate::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![tree.dir()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("failed to read {}", dir.display()))?
        {
            let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .with_context(|| format!("failed to stat {}", path.display()))?;
            if kind.is_dir() {
                // `build` and `source` are symlinks to the headers in a distro tree.
                stack.push(path);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let index = matches!(
                name.as_str(),
                "modules.dep"
                    | "modules.alias"
                    | "modules.softdep"
                    | "modules.builtin"
                    | "modules.symbols"
            );
            if index || name.contains(".ko") {
                if let Ok(rel) = path.strip_prefix(&tree.root) {
                    files.push(rel.to_path_buf());
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Count and bytes per class of the modules of a staged tree.
pub fn sizes_by_class(tree: &ModuleTree) -> crate::Result<BTreeMap<&'static str, (usize, u64)>> {
    let mut sizes: BTreeMap<&'static str, (usize, u64)> = BTreeMap::new();
    for module in tree.modules()? {
        let path = tree.dir().join(&module.path);
        let len = std::fs::metadata(&path)
            .with_context(|| format!("failed to stat {}", path.display()))?
            .len();
        let slot = sizes.entry(class_of(&module.path)).or_default();
        slot.0 += 1;
        slot.1 += len;
    }
    Ok(sizes)
}

/// The staged tree as a cpio archive (`lib/modules/<release>/…`), entries in path order.
pub fn archive(tree: &ModuleTree, mtime: u32) -> crate::Result<Vec<u8>> {
    let mut cpio = image::cpio::CpioBuilder::new(mtime);
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in media_files(tree)? {
        let mut parents: Vec<PathBuf> = rel.ancestors().skip(1).map(Path::to_path_buf).collect();
        parents.reverse();
        for dir in parents.into_iter().filter(|d| !d.as_os_str().is_empty()) {
            if dirs.insert(dir.clone()) {
                cpio.add_dir(&dir.to_string_lossy(), 0o755)
                    .map_err(|e| anyhow::anyhow!("module archive: {e:?}"))?;
            }
        }
        let data = std::fs::read(tree.root.join(&rel))
            .with_context(|| format!("failed to read {}", rel.display()))?;
        cpio.add_file(&rel.to_string_lossy(), 0o644, data)
            .map_err(|e| anyhow::anyhow!("module archive: {e:?}"))?;
    }
    Ok(cpio.finish())
}

#[cfg(test)]
mod tests;
