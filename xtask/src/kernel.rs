//! The lean kernel: tinyconfig + kernel-configs/*.config merged by the kernel's own
//! merge_config.sh, checked for options kconfig dropped, built once per input set and
//! cached under target/kernel/cache/<key>/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use sha2::{Digest, Sha256};

use crate::process::{self, run_quiet, tool};
use crate::Workspace;

pub enum KernelSource {
    /// A `linux-source-*.tar.xz` (Debian's linux-source package), unpacked once.
    Tarball(PathBuf),
    /// A kernel tree the user points at; rebuilt incrementally on every run.
    Tree(PathBuf),
}

impl KernelSource {
    /// `--kernel-src`, then `KBOOT_KERNEL_SRC`, then the newest /usr/src/linux-source-*.tar.xz.
    pub fn locate(cli: Option<&Path>) -> crate::Result<KernelSource> {
        let explicit = cli
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("KBOOT_KERNEL_SRC").map(PathBuf::from));
        if let Some(path) = explicit {
            if path.is_dir() && path.join("Makefile").exists() {
                return Ok(KernelSource::Tree(path));
            }
            if path.is_file() {
                return Ok(KernelSource::Tarball(path));
            }
            bail!("{}: not a kernel source tree or tarball", path.display());
        }
        let mut tarballs: Vec<PathBuf> = std::fs::read_dir("/usr/src")
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        tarballs.retain(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("linux-source-")
                    && n.to_string_lossy().ends_with(".tar.xz")
            })
        });
        tarballs.sort();
        tarballs.pop().map(KernelSource::Tarball).ok_or_else(|| {
            anyhow!("no kernel source: pass --kernel-src DIR, set KBOOT_KERNEL_SRC, or install Debian's linux-source (cargo xtask deps)")
        })
    }

    /// What identifies these sources in the cache key.
    fn identity(&self) -> crate::Result<String> {
        match self {
            KernelSource::Tarball(p) => {
                let meta = std::fs::metadata(p)
                    .with_context(|| format!("failed to read {}", p.display()))?;
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs());
                Ok(format!(
                    "tarball {} {} {:?}",
                    p.display(),
                    meta.len(),
                    mtime
                ))
            }
            KernelSource::Tree(p) => Ok(format!("tree {}", p.display())),
        }
    }

    /// The unpacked tree.
    fn tree(&self, ws: &Workspace) -> crate::Result<PathBuf> {
        match self {
            KernelSource::Tree(p) => Ok(p.clone()),
            KernelSource::Tarball(tarball) => {
                let src_root = ws.target().join("kernel/src");
                let stamp = src_root.join(".unpacked");
                let identity = self.identity()?;
                let existing = std::fs::read_to_string(&stamp).unwrap_or_default();
                let dir_name = tarball
                    .file_name()
                    .map(|n| n.to_string_lossy().trim_end_matches(".tar.xz").to_string())
                    .unwrap_or_default();
                let tree = src_root.join(&dir_name);
                if existing == identity && tree.join("Makefile").exists() {
                    return Ok(tree);
                }
                println!("    unpacking {} (once)", tarball.display());
                let _ = std::fs::remove_dir_all(&src_root);
                std::fs::create_dir_all(&src_root)
                    .with_context(|| format!("failed to create {}", src_root.display()))?;
                require_free_space(&src_root, UNPACK_AND_BUILD_BYTES)?;
                run_quiet(
                    tool("tar")?
                        .arg("-xf")
                        .arg(tarball)
                        .arg("-C")
                        .arg(&src_root),
                )?;
                if !tree.join("Makefile").exists() {
                    bail!("{} did not unpack to {}", tarball.display(), tree.display());
                }
                std::fs::write(&stamp, identity)
                    .with_context(|| format!("failed to write {}", stamp.display()))?;
                Ok(tree)
            }
        }
    }
}

/// The fragments, in merge order: kernel-configs/*.config sorted, then extras.
pub fn fragments(ws: &Workspace, extra: &[PathBuf]) -> crate::Result<Vec<PathBuf>> {
    let dir = ws.root.join("kernel-configs");
    let mut list: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("failed to read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "config"))
        .collect();
    list.sort();
    list.extend(extra.iter().cloned());
    Ok(list)
}

/// What a fragment asks for: option → value ("y", "m", "\"str\"", or "n" for "is not set").
pub fn requested_options(text: &str) -> BTreeMap<String, String> {
    let mut wanted = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
        {
            wanted.insert(rest.to_string(), "n".to_string());
        } else if let Some((key, value)) = line
            .split_once('=')
            .filter(|(k, _)| k.starts_with("CONFIG_"))
        {
            wanted.insert(key.to_string(), value.to_string());
        }
    }
    wanted
}

/// Options the fragments set that the final .config does not have (kconfig drops an
/// option silently when its dependencies are missing).
pub fn dropped_options(wanted: &BTreeMap<String, String>, final_config: &str) -> Vec<String> {
    let got = requested_options(final_config);
    wanted
        .iter()
        .filter(|(key, value)| got.get(*key).map(String::as_str).unwrap_or("n") != value.as_str())
        .map(|(key, value)| {
            format!(
                "{key}={value} (got {})",
                got.get(key).map(String::as_str).unwrap_or("unset")
            )
        })
        .collect()
}

/// A built kernel: the bzImage and, when the fragments ask for modules, the tree
/// `modules_install` wrote (`<modules_root>/lib/modules/<release>/`, indexed by depmod).
pub struct BuiltKernel {
    pub bzimage: PathBuf,
    pub modules: Option<crate::modules::ModuleTree>,
}

/// Builds (or takes from the cache) the bzImage and modules for these fragments.
pub fn build(
    ws: &Workspace,
    source: &KernelSource,
    fragment_paths: &[PathBuf],
) -> crate::Result<BuiltKernel> {
    let (key, wanted) = cache_key(source, fragment_paths)?;
    let cached = ws.target().join("kernel/cache").join(&key);
    let bzimage = cached.join("bzImage");
    let modules_root = cached.join("modules");
    let wants_modules = wanted.values().any(|v| v == "m");
    let complete = bzimage.exists() && (!wants_modules || modules_root.join(".complete").exists());
    if matches!(source, KernelSource::Tarball(_)) && complete {
        println!("    cached kernel {key} ({})", bzimage.display());
        let modules = if wants_modules {
            Some(crate::modules::ModuleTree::under(&modules_root)?)
        } else {
            None
        };
        return Ok(BuiltKernel { bzimage, modules });
    }

    let tree = source.tree(ws)?;
    let build_dir = ws.target().join("kernel/build");
    std::fs::create_dir_all(&build_dir)
        .with_context(|| format!("failed to create {}", build_dir.display()))?;
    let make_path = process::find("make")?;
    let make = |args: &[&str]| {
        let mut c = Command::new(&make_path);
        c.arg("-C")
            .arg(&tree)
            .arg(format!("O={}", build_dir.display()))
            .args(args);
        c
    };
    let config_text = configure(&make, &tree, &build_dir, fragment_paths, &wanted)?;

    let jobs = std::thread::available_parallelism()
        .map(|n| n.get() + 1)
        .unwrap_or(2);
    let targets: &[&str] = if wants_modules {
        &["bzImage", "modules"]
    } else {
        &["bzImage"]
    };
    println!("    make -j{jobs} {}", targets.join(" "));
    let jobs_arg = format!("-j{jobs}");
    let mut args = vec![jobs_arg.as_str()];
    args.extend_from_slice(targets);
    run_with_progress(make(&args), &ws.target().join("kernel/build.log"))?;
    let built = build_dir.join("arch/x86/boot/bzImage");
    std::fs::create_dir_all(&cached)
        .with_context(|| format!("failed to create {}", cached.display()))?;
    std::fs::copy(&built, &bzimage)
        .with_context(|| format!("failed to cache {}", built.display()))?;
    std::fs::write(cached.join("config"), &config_text).context("failed to cache .config")?;
    let modules = if wants_modules {
        Some(install_modules(&make, &modules_root)?)
    } else {
        None
    };
    if matches!(source, KernelSource::Tarball(_)) {
        // The unpacked tree is 1.5 GB and only a cache miss needs it again; tar keeps
        // the archive's old mtimes, so a re-unpacked tree still builds incrementally
        // against kernel/build.
        let src_root = ws.target().join("kernel/src");
        if let Err(e) = std::fs::remove_dir_all(&src_root) {
            println!("    note: could not remove {}: {e}", src_root.display());
        }
    }
    Ok(BuiltKernel { bzimage, modules })
}

/// `make modules_install` into `root` (stripped), then depmod's index, written by the
/// host's depmod for this tree only.
fn install_modules(
    make: &dyn Fn(&[&str]) -> Command,
    root: &Path,
) -> crate::Result<crate::modules::ModuleTree> {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root)
        .with_context(|| format!("failed to create {}", root.display()))?;
    println!("    make modules_install");
    let install_path = format!("INSTALL_MOD_PATH={}", root.display());
    // DEPMOD=true: the kernel's own depmod call looks for /sbin/depmod, which a build
    // user's PATH may lack; the index is written below with the registry's depmod.
    run_quiet(
        make(&[
            "-s",
            &install_path,
            "INSTALL_MOD_STRIP=1",
            "DEPMOD=true",
            "modules_install",
        ])
        .stdout(Stdio::null()),
    )?;
    // Stored uncompressed in the cache: Debian's depmod cannot read gzip modules (kmod
    // built without zlib); modules::stage compresses the ones that go onto the media.
    let tree = crate::modules::ModuleTree::under(root)?;
    // `build` and `source` point into the kernel tree, which is deleted after the build.
    for link in ["build", "source"] {
        let _ = std::fs::remove_file(tree.dir().join(link));
    }
    run_quiet(process::tool("gzip")?.arg("-d").arg("-r").arg(tree.dir()))?;
    tree.depmod()?;
    std::fs::write(root.join(".complete"), &tree.release)
        .with_context(|| format!("failed to write {}", root.display()))?;
    Ok(tree)
}

/// The cache key of these sources and fragments (names and contents), and every
/// option the fragments ask for.
fn cache_key(
    source: &KernelSource,
    fragment_paths: &[PathBuf],
) -> crate::Result<(String, BTreeMap<String, String>)> {
    let mut hasher = Sha256::new();
    // What the cache holds and how: a change here makes old entries stale.
    hasher.update("bzImage, config, modules/ (plain .ko, depmod index) v2");
    hasher.update(source.identity()?);
    let mut wanted = BTreeMap::new();
    for path in fragment_paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read kernel fragment {}", path.display()))?;
        hasher.update(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        hasher.update(&text);
        wanted.extend(requested_options(&text));
    }
    let key: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((key, wanted))
}

/// tinyconfig + the fragments (merge_config.sh) + olddefconfig in `build_dir`; fails
/// naming every requested option kconfig dropped. Returns the final .config.
fn configure(
    make: &dyn Fn(&[&str]) -> Command,
    tree: &Path,
    build_dir: &Path,
    fragment_paths: &[PathBuf],
    wanted: &BTreeMap<String, String>,
) -> crate::Result<String> {
    println!(
        "    configuring: tinyconfig + {} fragment(s)",
        fragment_paths.len()
    );
    run_quiet(make(&["-s", "tinyconfig"]).stdout(Stdio::null()))?;
    run_quiet(
        Command::new(tree.join("scripts/kconfig/merge_config.sh"))
            .arg("-m")
            .arg("-O")
            .arg(build_dir)
            .arg(build_dir.join(".config"))
            .args(fragment_paths)
            .current_dir(tree)
            .stdout(Stdio::null()),
    )?;
    run_quiet(make(&["-s", "olddefconfig"]).stdout(Stdio::null()))?;
    let config_text = std::fs::read_to_string(build_dir.join(".config"))
        .context("failed to read the merged .config")?;
    let dropped = dropped_options(wanted, &config_text);
    if !dropped.is_empty() {
        bail!(
            "kconfig dropped {} option(s) the fragments ask for (a dependency is missing):\n  {}",
            dropped.len(),
            dropped.join("\n  ")
        );
    }
    println!("    all {} requested options are set", wanted.len());
    Ok(config_text)
}

/// What unpacking linux-source and building our kernel takes on disk, with margin:
/// 1.5 GB of source and 0.25 GB of objects were measured.
const UNPACK_AND_BUILD_BYTES: u64 = 2_200_000_000;

/// Fails early, with the figures, instead of letting tar die half-way with ENOSPC.
fn require_free_space(dir: &Path, needed: u64) -> crate::Result<()> {
    // A df that fails only skips the check.
    let available = process::free_bytes(dir);
    match available {
        Some(free) if free < needed => Err(anyhow!(
            "not enough disk space for the kernel build in {}: {} MB free, {} MB needed",
            dir.display(),
            free / 1_000_000,
            needed / 1_000_000
        )),
        _ => Ok(()),
    }
}

/// Runs the kernel build, logging everything and printing a progress line every 15 s.
fn run_with_progress(mut cmd: Command, log_path: &Path) -> crate::Result<()> {
    use std::io::Write;
    let mut log = std::fs::File::create(log_path)
        .with_context(|| format!("failed to create {}", log_path.display()))?;
    let start = Instant::now();
    let mut last_report = Instant::now();
    let mut compiled = 0usize;
    // stderr stays on the terminal: compiler warnings and errors show as they happen.
    let status = process::for_each_line(cmd.stderr(Stdio::inherit()), false, |_, line| {
        let _ = writeln!(log, "{line}");
        let step = line.trim_start();
        if step.starts_with("CC") || step.starts_with("AR") || step.starts_with("LD") {
            compiled += 1;
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            println!(
                "    kernel: {compiled} steps in {:.0}s, now: {}",
                start.elapsed().as_secs_f64(),
                line.trim()
            );
            last_report = Instant::now();
        }
    })?;
    if !status.success() {
        bail!(
            "kernel build failed ({status}); full log: {}",
            log_path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_options_are_named() {
        let wanted =
            requested_options("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\nCONFIG_D=y\n");
        let final_config = "CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=\"x\"\n# CONFIG_D is not set\n";
        assert_eq!(
            dropped_options(&wanted, final_config),
            ["CONFIG_B=n (got y)", "CONFIG_D=y (got n)"]
        );
    }

    #[test]
    fn the_shipped_fragments_request_what_the_issue_lists() {
        let ws = Workspace::locate();
        let mut all = BTreeMap::new();
        for f in fragments(&ws, &[]).unwrap() {
            all.extend(requested_options(&std::fs::read_to_string(f).unwrap()));
        }
        for opt in [
            "CONFIG_KEXEC_FILE",
            "CONFIG_PROC_VMCORE",
            "CONFIG_FW_CFG_SYSFS",
            "CONFIG_EFI_STUB",
            "CONFIG_ACPI",
            "CONFIG_BTRFS_FS",
            "CONFIG_E1000",
            "CONFIG_RD_GZIP",
        ] {
            assert_eq!(all.get(opt).map(String::as_str), Some("y"), "{opt}");
        }
    }
}
