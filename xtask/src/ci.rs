//! `cargo xtask ci [--clean] [--keep]`: run `.ci/run` the way CI does, on a fresh clone of
//! the committed HEAD.
//!
//! Why `--clean`: CI runs on the developer's own machine, where every package installed by
//! hand is still present, so a missing install step stays green there and fails on the
//! next fresh machine. `--clean` runs the clone inside a minimal Debian root made by
//! debootstrap (minbase) from this machine's own apt archive, with only the Rust
//! toolchain bound in read-only: whatever the build and tests need must come from
//! `.ci/run` and `cargo xtask deps`. The root is cached as a tarball under
//! target/ci-clean/, keyed by suite and archive.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};

use crate::apt_sources;
use crate::process::{run, tool};
use crate::report::stage;
use crate::Workspace;

pub fn cli(ws: &Workspace, clean: bool, keep: bool) -> crate::Result<()> {
    let started = Instant::now();
    let result = if clean {
        run_clean(ws, keep)
    } else {
        run_in_clone(ws, keep)
    };
    let secs = started.elapsed().as_secs();
    match &result {
        Ok(()) => println!("ci: passed in {} min {:02} s", secs / 60, secs % 60),
        Err(e) => println!(
            "ci: FAILED after {} min {:02} s: {e:#}",
            secs / 60,
            secs % 60
        ),
    }
    result
}

/// `.ci/run` in a fresh clone on this machine (what CI itself does).
fn run_in_clone(ws: &Workspace, keep: bool) -> crate::Result<()> {
    let dir = ws.target().join("ci-clone");
    let clone = dir.join("kboot-rs");
    remove_dir(&dir)?;
    clone_head(ws, &clone)?;
    // .ci/run is a POSIX sh script (#!/bin/sh); sh comes from the registry.
    let status = tool("sh")?
        .arg(".ci/run")
        .current_dir(&clone)
        .env("CI", "true")
        .status()
        .context("failed to start .ci/run")?;
    finish(status, &dir, keep)
}

/// `.ci/run` inside a fresh debootstrapped Debian root.
fn run_clean(ws: &Workspace, keep: bool) -> crate::Result<()> {
    if !is_root() {
        bail!("ci --clean needs root (debootstrap, chroot and mounts)");
    }
    let archive = stage("the machine's Debian archive", || {
        archive_from_apt(&apt_sources::host_codename()?)
    })?;
    println!("    {} {}", archive.suite, archive.uri);
    let base = ws.target().join("ci-clean");
    let tarball = stage("minimal Debian root (cached)", || {
        cached_root_tarball(&base, &archive)
    })?;
    let root = base.join("root");
    stage("fresh root and clone", || {
        remove_dir(&root)?;
        std::fs::create_dir_all(&root)
            .with_context(|| format!("failed to create {}", root.display()))?;
        run(tool("tar")?.arg("-xf").arg(&tarball).arg("-C").arg(&root))?;
        configure_root(&root, &archive)?;
        clone_head(ws, &root.join("work/kboot-rs"))?;
        copy_shared(ws, &root.join("work/shared"))
    })?;
    let rust = RustToolchain::locate()?;
    let script = format!(
        "set -e; R={root}
         mount --make-rprivate /
         mount --bind \"$R\" \"$R\"
         mount --rbind /dev \"$R/dev\"
         mount -t proc proc \"$R/proc\"
         mount --rbind /sys \"$R/sys\"
         mount -t tmpfs tmpfs \"$R/tmp\"
         mount -t tmpfs tmpfs \"$R/run\"
         mkdir -p \"$R/opt/rust/rustup\" \"$R/opt/rust/bin\"
         mount --bind {rustup} \"$R/opt/rust/rustup\"
         mount -o remount,bind,ro \"$R/opt/rust/rustup\"
         mount --bind {cargo_bin} \"$R/opt/rust/bin\"
         mount -o remount,bind,ro \"$R/opt/rust/bin\"
         exec chroot \"$R\" /usr/bin/env -i HOME=/root CI=true LANG=C.UTF-8 \
             PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
             RUSTUP_HOME=/opt/rust/rustup CARGO_HOME=/root/.cargo \
             RUSTUP_TOOLCHAIN={toolchain} \
             bash -c 'cd /work/kboot-rs && bash .ci/run < /dev/null'",
        root = shell_quote(&root),
        rustup = shell_quote(&rust.rustup_home),
        cargo_bin = shell_quote(&rust.cargo_bin),
        toolchain = rust.toolchain,
    );
    println!("==> .ci/run inside the clean root (its output follows)");
    let status = tool("unshare")?
        .args(["--mount", "--fork", "--", "sh", "-c", &script])
        .status()
        .context("failed to start the clean root")?;
    finish(status, &root, keep)
}

fn finish(status: std::process::ExitStatus, dir: &Path, keep: bool) -> crate::Result<()> {
    if !status.success() {
        bail!(
            ".ci/run failed ({status}); the tree is kept in {}",
            dir.display()
        );
    }
    if !keep {
        remove_dir(dir)?;
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
pub struct Archive {
    pub uri: String,
    pub suite: String,
    /// The machine's deb822 or one-line sources, copied into the root verbatim.
    pub sources: Vec<(String, String)>,
}

/// The machine's own Debian archive for `suite`, from /etc/apt (deb822 `.sources` files
/// and one-line `.list` files).
fn archive_from_apt(suite: &str) -> crate::Result<Archive> {
    let mut sources = Vec::new();
    let mut uri = None;
    for (name, text) in apt_sources::machine_source_files() {
        let found = if name.ends_with(".sources") {
            apt_sources::deb822_uri(&text, suite)
        } else {
            apt_sources::one_line_uri(&text, suite)
        };
        if let Some(u) = found {
            uri.get_or_insert(u);
            sources.push((name, text));
        }
    }
    let uri = uri.ok_or_else(|| anyhow!("no apt source for suite {suite} in /etc/apt"))?;
    Ok(Archive {
        uri,
        suite: suite.to_string(),
        sources,
    })
}

/// debootstrap once per (suite, archive); later runs unpack the tarball (seconds).
fn cached_root_tarball(base: &Path, archive: &Archive) -> crate::Result<PathBuf> {
    let key: String = format!("{}-{}", archive.suite, archive.uri)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let tarball = base.join(format!("minbase-{key}.tar"));
    if tarball.exists() {
        println!("    cached: {}", tarball.display());
        return Ok(tarball);
    }
    let build = base.join("debootstrap");
    remove_dir(&build)?;
    std::fs::create_dir_all(base)
        .with_context(|| format!("failed to create {}", base.display()))?;
    run(tool("debootstrap")?
        .args(["--variant=minbase", &archive.suite])
        .arg(&build)
        .arg(&archive.uri))?;
    let partial = tarball.with_extension("tar.part");
    run(tool("tar")?
        .arg("-C")
        .arg(&build)
        .arg("-cf")
        .arg(&partial)
        .arg("."))?;
    std::fs::rename(&partial, &tarball)
        .with_context(|| format!("failed to store {}", tarball.display()))?;
    remove_dir(&build)?;
    Ok(tarball)
}

/// The machine's apt sources, DNS and local CA certificates, so apt, cargo and pip inside
/// reach the same registries (a network that inspects TLS signs with a CA the machine
/// trusts; it lives in /usr/local/share/ca-certificates, which the ca-certificates
/// package merges into the bundle when `.ci/run` installs it).
fn configure_root(root: &Path, archive: &Archive) -> crate::Result<()> {
    let apt = root.join("etc/apt");
    let _ = std::fs::remove_file(apt.join("sources.list"));
    let list_dir = apt.join("sources.list.d");
    std::fs::create_dir_all(&list_dir)
        .with_context(|| format!("failed to create {}", list_dir.display()))?;
    for (name, text) in &archive.sources {
        let path = if name == "sources.list" {
            apt.join(name)
        } else {
            list_dir.join(name)
        };
        std::fs::write(&path, text)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    let target = root.join("etc/resolv.conf");
    let _ = std::fs::remove_file(&target);
    std::fs::write(&target, resolv)
        .with_context(|| format!("failed to write {}", target.display()))?;
    let local_cas = Path::new("/usr/local/share/ca-certificates");
    if local_cas.is_dir() {
        let dest = root.join("usr/local/share");
        std::fs::create_dir_all(&dest)
            .with_context(|| format!("failed to create {}", dest.display()))?;
        run(tool("cp")?.arg("-a").arg(local_cas).arg(&dest))?;
    }
    for dir in ["work", "root", "tmp", "run"] {
        std::fs::create_dir_all(root.join(dir))
            .with_context(|| format!("failed to create {dir}"))?;
    }
    Ok(())
}

/// A clone of the committed HEAD: uncommitted edits are not what CI sees.
fn clone_head(ws: &Workspace, dest: &Path) -> crate::Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    run(tool("git")?
        .args(["clone", "-q", "--no-hardlinks"])
        .arg(&ws.root)
        .arg(dest))
}

/// CI has a read-only copy of shared/ beside the clone.
fn copy_shared(ws: &Workspace, dest: &Path) -> crate::Result<()> {
    let shared = ws.root.join("../shared");
    if !shared.is_dir() {
        return Ok(());
    }
    run(tool("cp")?.arg("-a").arg(&shared).arg(dest))?;
    run(tool("chmod")?.args(["-R", "a-w"]).arg(dest))
}

struct RustToolchain {
    rustup_home: PathBuf,
    cargo_bin: PathBuf,
    toolchain: String,
}

impl RustToolchain {
    /// The toolchain running this xtask: rustup's home and the proxies' directory.
    fn locate() -> crate::Result<RustToolchain> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/root".into());
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".rustup"));
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cargo"));
        let cargo_bin = cargo_home.join("bin");
        let toolchain = std::env::var("RUSTUP_TOOLCHAIN").unwrap_or_else(|_| "stable".into());
        if !rustup_home.join("toolchains").is_dir() || !cargo_bin.join("cargo").exists() {
            bail!(
                "ci --clean binds a rustup toolchain into the root; none at {} and {}",
                rustup_home.display(),
                cargo_bin.display()
            );
        }
        Ok(RustToolchain {
            rustup_home,
            cargo_bin,
            toolchain,
        })
    }
}

fn is_root() -> bool {
    real_uid() == Some(0)
}

/// The real uid from /proc (xtask has no libc dependency).
fn real_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

fn remove_dir(dir: &Path) -> crate::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("failed to remove {}", dir.display())),
    }
}
