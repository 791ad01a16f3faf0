//! Debian's debug vmlinux for a kernel release (`linux-image-<release>-dbg`), which `crash`
//! needs and kboot does not: the peer of `xtask bench --triage`.
//!
//! The package is fetched with `apt-get download` through a temporary sources list made
//! from this machine's own Debian entries (apt_sources.rs), with apt's lists, caches and
//! configuration all under target/: the system's apt state is never touched and nothing
//! is installed. Of the ~0.8 GiB package (5.4 GiB unpacked) only
//! `usr/lib/debug/boot/vmlinux-<release>` is kept, as
//! target/debug-kernels/<release>/vmlinux.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};

use crate::apt_sources;
use crate::process::{self, tool};
use crate::report::human_size;
use crate::Workspace;

/// What the vmlinux takes besides the .deb, with margin (604 MiB for 6.1.0-57-amd64).
const VMLINUX_ESTIMATE: u64 = 1 << 30;

/// The -dbg package of a kernel release: `linux-image-6.1.0-57-amd64-dbg`.
pub fn package_name(release: &str) -> String {
    format!("linux-image-{release}-dbg")
}

/// Where the vmlinux of `release` is kept.
pub fn cached_path(ws: &Workspace, release: &str) -> PathBuf {
    cache_root(ws).join(release).join("vmlinux")
}

fn cache_root(ws: &Workspace) -> PathBuf {
    ws.target().join("debug-kernels")
}

/// The kernel release of the kdump fixture: its `KBOOT-GUEST-RELEASE` line.
pub fn fixture_release(ws: &Workspace) -> crate::Result<String> {
    let facts = ws.target().join("fixtures/kdump/guest.txt");
    let text = std::fs::read_to_string(&facts).with_context(|| {
        format!(
            "failed to read {} (`cargo xtask test` makes the kdump fixture)",
            facts.display()
        )
    })?;
    release_from_facts(&text)
        .ok_or_else(|| anyhow!("no KBOOT-GUEST-RELEASE line in {}", facts.display()))
}

/// The release on the `KBOOT-GUEST-RELEASE` line of the guest's facts.
pub fn release_from_facts(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("KBOOT-GUEST-RELEASE "))
        .map(|r| r.trim().to_string())
        .filter(|r| valid_release(r))
}

/// A release is a file name and a package name part: `6.1.0-57-amd64`.
fn valid_release(release: &str) -> bool {
    !release.is_empty()
        && !release.starts_with(['.', '-'])
        && release
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '~' | '_'))
}

/// The cached vmlinux of `release`, fetching it first when it is not there.
pub fn vmlinux(ws: &Workspace, release: &str) -> crate::Result<PathBuf> {
    if !valid_release(release) {
        bail!("{release:?} is not a kernel release (like 6.1.0-57-amd64)");
    }
    let cached = cached_path(ws, release);
    if cached.is_file() {
        return Ok(cached);
    }
    let work = cache_root(ws).join(format!(".work-{release}"));
    let result = fetch(release, &work, &cached);
    // Whatever happened, only the vmlinux stays: not the .deb nor apt's lists.
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| cached)
}

/// `cargo xtask debug-kernel [RELEASE]`: fetch (or find) the vmlinux and say where it is.
pub fn cli(ws: &Workspace, release: Option<String>) -> crate::Result<()> {
    let release = match release {
        Some(r) => r,
        None => fixture_release(ws)?,
    };
    let path = crate::report::stage(&format!("{} (vmlinux)", package_name(&release)), || {
        vmlinux(ws, &release)
    })?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("{} ({})", path.display(), human_size(size));
    Ok(())
}

/// apt's directories and options for one fetch, all under `work`.
struct Apt {
    work: PathBuf,
}

impl Apt {
    fn dir(&self) -> PathBuf {
        self.work.join("apt")
    }

    /// The options every apt command of the fetch gets: the temporary list and apt's
    /// state and caches under `work`.
    fn options(&self) -> Vec<String> {
        let dir = self.dir();
        let d = |p: &str| dir.join(p).display().to_string();
        apt_options(&d("sources.list"), &d("lists"), &d("cache"))
    }

    fn command(&self, program: &str) -> crate::Result<Command> {
        let mut cmd = tool(program)?;
        cmd.env("APT_CONFIG", self.dir().join("apt.conf"))
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LC_ALL", "C")
            .arg("-q")
            .args(self.options());
        Ok(cmd)
    }

    /// The directories, the list, and a configuration that is the machine's own (its
    /// proxies and Acquire settings) without its hooks: `apt-get update` runs
    /// APT::Update::Post-Invoke commands (appstreamcli refresh, PackageKit), which would
    /// touch the system's caches. apt reads APT_CONFIG before the parts directory, so
    /// APT_CONFIG points the parts at a copy that ends with `#clear` lines.
    fn prepare(&self, sources_list: &str) -> crate::Result<()> {
        let dir = self.dir();
        let parts = dir.join("apt.conf.d");
        for sub in ["lists/partial", "cache/archives/partial", "apt.conf.d"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("failed to create {}", path.display()))?;
        }
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text)
                .with_context(|| format!("failed to write {}", path.display()))
        };
        write(dir.join("sources.list"), sources_list)?;
        write(dir.join("apt.conf"), &apt_conf(&parts))?;
        if let Ok(entries) = std::fs::read_dir("/etc/apt/apt.conf.d") {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    // Unreadable fragments are left out, as apt itself would fail on them.
                    if let Ok(text) = std::fs::read_to_string(&path) {
                        write(parts.join(entry.file_name()), &text)?;
                    }
                }
            }
        }
        // The main file is read after the parts: it goes in as a part, before the #clear.
        if let Ok(text) = std::fs::read_to_string("/etc/apt/apt.conf") {
            write(parts.join("zy-kboot-apt.conf"), &text)?;
        }
        write(parts.join("zz-kboot-no-hooks"), NO_HOOKS)
    }
}

/// apt's options for a fetch with its own list, lists directory and cache.
fn apt_options(sources_list: &str, lists: &str, cache: &str) -> Vec<String> {
    [
        format!("Dir::Etc::SourceList={sources_list}"),
        "Dir::Etc::SourceParts=/dev/null".to_string(),
        format!("Dir::State::Lists={lists}"),
        format!("Dir::Cache={cache}"),
        // Only the package lists: no translations, no AppStream metadata.
        "Acquire::Languages=none".to_string(),
        "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_string(),
        "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false".to_string(),
        // The files are ours (under target/), not _apt's: download as the caller.
        "APT::Sandbox::User=root".to_string(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect()
}

/// The APT_CONFIG file: the parts directory is the copy, the system's main file is not
/// read again after it.
fn apt_conf(parts: &Path) -> String {
    format!(
        "Dir::Etc::Parts \"{}\";\nDir::Etc::Main \"/dev/null\";\n",
        parts.display()
    )
}

/// The last part: no hook of the machine's configuration runs.
const NO_HOOKS: &str = "#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
";

/// The package's version and .deb size from `apt-cache show --no-all-versions`.
fn deb_fields(show: &str) -> Option<(String, u64)> {
    let field = |key: &str| {
        show.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
            .map(|v| v.trim().to_string())
    };
    Some((field("Version")?, field("Size")?.parse().ok()?))
}

fn fetch(release: &str, work: &Path, cached: &Path) -> crate::Result<()> {
    let package = package_name(release);
    let codename = apt_sources::host_codename()?;
    let list = apt_sources::temporary_list(&apt_sources::machine_source_files(), &codename)
        .ok_or_else(|| {
            anyhow!(
                "no apt source for Debian {codename} in /etc/apt: the -dbg kernel is fetched \
                 from the machine's own Debian archive"
            )
        })?;
    let _ = std::fs::remove_dir_all(work);
    let apt = Apt {
        work: work.to_path_buf(),
    };
    apt.prepare(&list)?;
    println!(
        "    apt-get update into {} ({} sources of {codename})",
        apt.dir().display(),
        list.lines().count()
    );
    process::run_quiet(apt.command("apt-get")?.arg("update"))
        .context("apt-get update with the temporary sources list failed")?;

    let show = apt
        .command("apt-cache")?
        .args(["show", "--no-all-versions", &package])
        .output()
        .context("failed to run apt-cache")?;
    let text = String::from_utf8_lossy(&show.stdout);
    let Some((version, size)) = deb_fields(&text).filter(|_| show.status.success()) else {
        bail!(
            "Debian has no package {package} in {codename} and its updates (checked: {}): \
             -dbg packages exist only for Debian's own kernels, and an ABI that a newer one \
             replaced leaves the archive (snapshot.debian.org keeps it)",
            apt_sources::parse_one_line(&list)
                .iter()
                .flat_map(|s| s.suites.clone())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };

    let download = work.join("download");
    std::fs::create_dir_all(&download)
        .with_context(|| format!("failed to create {}", download.display()))?;
    let needed = size + VMLINUX_ESTIMATE;
    let free = process::free_bytes(work);
    println!(
        "    {package} {version}: {} to download (the vmlinux kept is ~0.6 GiB); {} free in {}",
        human_size(size),
        free.map(human_size).unwrap_or_else(|| "unknown".into()),
        work.parent().unwrap_or(work).display()
    );
    if let Some(free) = free.filter(|f| *f < needed) {
        bail!(
            "not enough disk space for {package}: {} free, {} needed (the .deb and its vmlinux)",
            human_size(free),
            human_size(needed)
        );
    }
    let started = std::time::Instant::now();
    process::run(
        apt.command("apt-get")?
            .args(["download", &format!("{package}={version}")])
            .current_dir(&download),
    )?;
    let deb = std::fs::read_dir(&download)
        .with_context(|| format!("failed to read {}", download.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| anyhow!("apt-get download left no .deb in {}", download.display()))?;
    println!(
        "    downloaded {} in {:.1} s",
        human_size(std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0)),
        started.elapsed().as_secs_f64()
    );

    let unpacked = work.join("root");
    let member = vmlinux_member(release);
    extract_member(&deb, &member, &unpacked)?;
    let vmlinux = unpacked.join(&member);
    let parent = cached.parent().unwrap_or(work);
    std::fs::create_dir_all(parent)
        .with_context(|| format!("failed to create {}", parent.display()))?;
    std::fs::rename(&vmlinux, cached).with_context(|| {
        format!(
            "failed to move {} to {}",
            vmlinux.display(),
            cached.display()
        )
    })
}

/// The vmlinux inside the -dbg package's data archive.
fn vmlinux_member(release: &str) -> String {
    format!("./usr/lib/debug/boot/vmlinux-{release}")
}

/// One file out of the .deb: `dpkg-deb --fsys-tarfile | tar -x --occurrence=1`, so that
/// only it is written (`dpkg-deb -x` would write all 5.4 GiB of the package) and tar stops
/// reading at it (11 s instead of 53 s for 6.1). dpkg-deb then dies of the closed pipe:
/// its status counts only when tar did not find the file.
fn extract_member(deb: &Path, member: &str, into: &Path) -> crate::Result<()> {
    std::fs::create_dir_all(into)
        .with_context(|| format!("failed to create {}", into.display()))?;
    let mut dpkg = tool("dpkg-deb")?
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("failed to run dpkg-deb")?;
    let archive = dpkg.stdout.take().context("dpkg-deb has no stdout")?;
    let tar = tool("tar")?
        .args(["-x", "--occurrence=1", "-C"])
        .arg(into)
        .arg(member)
        .stdin(archive)
        .output()
        .context("failed to run tar")?;
    let dpkg_out = dpkg
        .wait_with_output()
        .context("failed to wait for dpkg-deb")?;
    if tar.status.success() && into.join(member).is_file() {
        return Ok(());
    }
    bail!(
        "{} has no {} (tar: {}; dpkg-deb: {})",
        deb.display(),
        member.trim_start_matches("./"),
        String::from_utf8_lossy(&tar.stderr).trim(),
        String::from_utf8_lossy(&dpkg_out.stderr).trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_comes_from_the_guest_facts_and_names_the_package() {
        let facts = "KBOOT-GUEST-CRASH-KERNEL-LOADED\nKBOOT-GUEST-RELEASE 6.1.0-57-amd64\n\
                     KBOOT-GUEST-TASK 1 init\n";
        let release = release_from_facts(facts).unwrap();
        assert_eq!(release, "6.1.0-57-amd64");
        assert_eq!(package_name(&release), "linux-image-6.1.0-57-amd64-dbg");
        assert_eq!(
            vmlinux_member(&release),
            "./usr/lib/debug/boot/vmlinux-6.1.0-57-amd64"
        );
        assert_eq!(release_from_facts("KBOOT-GUEST-TASK 1 init\n"), None);
        // A release is used as a directory name: nothing that leaves target/debug-kernels.
        assert_eq!(release_from_facts("KBOOT-GUEST-RELEASE ../../etc\n"), None);
        assert!(!valid_release("6.1/x"));
        assert!(valid_release("6.12.9+bpo-amd64"));
    }

    #[test]
    fn apt_works_in_its_own_directories_without_the_machines_hooks() {
        let options = apt_options("/t/sources.list", "/t/lists", "/t/cache");
        let pairs: Vec<&str> = options
            .chunks(2)
            .map(|pair| {
                assert_eq!(pair[0], "-o");
                pair[1].as_str()
            })
            .collect();
        for wanted in [
            "Dir::Etc::SourceList=/t/sources.list",
            "Dir::Etc::SourceParts=/dev/null",
            "Dir::State::Lists=/t/lists",
            "Dir::Cache=/t/cache",
        ] {
            assert!(pairs.contains(&wanted), "{wanted} missing from {pairs:?}");
        }
        let conf = apt_conf(Path::new("/t/apt.conf.d"));
        assert!(
            conf.contains("Dir::Etc::Parts \"/t/apt.conf.d\";"),
            "{conf}"
        );
        assert!(conf.contains("Dir::Etc::Main \"/dev/null\";"), "{conf}");
        for hook in ["APT::Update::Post-Invoke-Success", "DPkg::Post-Invoke"] {
            assert!(NO_HOOKS.contains(&format!("#clear {hook};")), "{hook}");
        }
    }

    #[test]
    fn the_version_and_size_come_from_apt_cache_show() {
        let show = "Package: linux-image-6.1.0-57-amd64-dbg\nSource: linux (6.1.192-3)\n\
                    Version: 6.1.192-3\nInstalled-Size: 5618526\nMaintainer: Debian Kernel Team\n\
                    Filename: pool/updates/main/l/linux/linux-image-6.1.0-57-amd64-dbg_6.1.192-3_amd64.deb\n\
                    Size: 858555196\n";
        assert_eq!(
            deb_fields(show),
            Some(("6.1.192-3".to_string(), 858_555_196))
        );
        assert_eq!(deb_fields(""), None);
    }
}
