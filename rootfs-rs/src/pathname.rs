//! kboot's path names, one resolver for the shell, the menu and `kboot boot`:
//!
//! | form                                   | means                                       |
//! |----------------------------------------|---------------------------------------------|
//! | `/path`, `path`                        | a file here (kboot's own root, or relative) |
//! | `//path`                               | kboot's own `/path`, always                 |
//! | `sda1:/path`, `sda1:path`, `/dev/sda6:/p` | a file on that block device              |
//! | `LABEL=name:/path`, `UUID=id:/path`    | a file on the filesystem with that identity |
//! | `server:/export/path`                  | a file over NFS (v3, read-only)             |
//! | `http://host[:port]/path`, `ftp://…`   | a file fetched into RAM                     |
//!
//! Filesystems are mounted read-only under /run/kboot/mnt and stay mounted (cached);
//! remote files are fetched to /run/kboot/fetch with a size limit.
use std::path::{Path, PathBuf};

use crate::blockdev::spec as target;
use crate::blockdev::spec::TargetSpec;
use crate::net::url::Url;
use crate::net::{fetch, transfer, url};

pub const MOUNT_DIR: &str = "/run/kboot/mnt";
pub const FETCH_DIR: &str = "/run/kboot/fetch";

/// FETCH_DIR, or $KBOOT_FETCH_DIR (host tests keep their downloads in their own scratch).
pub fn fetch_root() -> PathBuf {
    std::env::var_os("KBOOT_FETCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(FETCH_DIR))
}
const FORMS: &str = "/path, //path, DEV:/path (sda1:/boot/vmlinuz), LABEL=name:/path, UUID=id:/path, server:/export/path, http://host/path, ftp://host/path, tftp://host/path";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathName {
    Local(PathBuf),
    OnFilesystem { fs: TargetSpec, path: String },
    Nfs { server: String, path: String },
    Remote(Url),
}

/// Where to look things up: real /sys and /dev on the target, a tree in tests.
pub struct System<'a> {
    pub sys_block: &'a str,
    pub dev: &'a str,
}

pub const REAL_SYSTEM: System<'static> = System {
    sys_block: "/sys/class/block",
    dev: "/dev",
};

/// `word` parsed, when it uses one of the special forms (so the shell should resolve it);
/// None for ordinary paths and words such as `a=b` or `10:30`. A malformed attempt at a
/// special form is returned as its error, for the caller to report.
pub fn special(word: &str, system: &System) -> Option<Result<PathName, String>> {
    match parse(word, system) {
        Ok(PathName::Local(p)) if p.as_os_str() == word => None,
        Err(_) if word.is_empty() => None,
        parsed => Some(parsed),
    }
}

pub fn is_special(word: &str, system: &System) -> bool {
    special(word, system).is_some()
}

pub fn parse(text: &str, system: &System) -> Result<PathName, String> {
    if text.is_empty() {
        return Err(format!("empty path name; the forms are: {FORMS}"));
    }
    if let Some(own) = text.strip_prefix("//") {
        return Ok(PathName::Local(PathBuf::from(format!("/{own}"))));
    }
    if url::is_url(text) {
        return url::parse_url(text).map(PathName::Remote);
    }
    for key in ["LABEL=", "UUID="] {
        if let Some(rest) = text.strip_prefix(key) {
            // Without ':' it is an ordinary word (`grep LABEL=root /etc/fstab`).
            let Some((value, path)) = rest.split_once(':') else {
                return Ok(PathName::Local(PathBuf::from(text)));
            };
            if value.is_empty() {
                return Err(format!("{text}: empty {key}"));
            }
            let fs = TargetSpec::parse(&format!("{key}{value}"))
                .ok_or_else(|| format!("{text}: bad {key}"))?;
            return Ok(PathName::OnFilesystem {
                fs,
                path: path.to_string(),
            });
        }
    }
    let Some((before, after)) = text.split_once(':') else {
        return Ok(PathName::Local(PathBuf::from(text)));
    };
    if let Some(name) = block_device_name(before, system) {
        return Ok(PathName::OnFilesystem {
            fs: TargetSpec::Device(Path::new(system.dev).join(name)),
            path: after.to_string(),
        });
    }
    if before.starts_with("/dev/") {
        return Err(format!("{text}: no block device {before}"));
    }
    let hostname = !before.is_empty()
        && before
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if hostname && after.starts_with('/') {
        if looks_like_device_name(before) {
            return Err(format!("{text}: no block device {before} (see lsblk)"));
        }
        return Ok(PathName::Nfs {
            server: before.to_string(),
            path: after.to_string(),
        });
    }
    if hostname && !after.contains('/') && looks_like_device_name(before) {
        return Err(format!("{text}: no block device {before} (see lsblk)"));
    }
    // A colon in an ordinary file name.
    Ok(PathName::Local(PathBuf::from(text)))
}

/// `sda1`, `vdb`, `nvme0n1p2`, `/dev/sda1` when the kernel has such a block device.
fn block_device_name<'a>(text: &'a str, system: &System) -> Option<&'a str> {
    let name = text.strip_prefix("/dev/").unwrap_or(text);
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (plain && Path::new(system.sys_block).join(name).exists()).then_some(name)
}

/// sdX, hdX, vdX, xvdX, nvme…, mmcblk… with a digit: a device the user probably meant.
fn looks_like_device_name(name: &str) -> bool {
    ["sd", "hd", "vd", "xvd", "nvme", "mmcblk"]
        .iter()
        .any(|p| name.starts_with(p))
        && name.bytes().any(|b| b.is_ascii_digit())
        && !name.contains('.')
}

/// How resolving may fetch: the size limit for remote files and progress on stderr.
pub struct Fetching {
    pub limit: u64,
    pub progress: bool,
    pub timeout: std::time::Duration,
}

impl Default for Fetching {
    fn default() -> Self {
        Fetching {
            limit: default_fetch_limit(),
            progress: true,
            timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Half of MemAvailable: fetched files live in RAM next to everything else.
fn default_fetch_limit() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kib| kib * 1024 / 2)
        .unwrap_or(256 << 20)
}

/// A local file (or directory) for `name`, mounting or fetching as needed.
pub fn resolve(name: &PathName, fetching: &Fetching) -> Result<PathBuf, String> {
    match name {
        PathName::Local(p) => Ok(p.clone()),
        PathName::OnFilesystem { fs, path } => {
            let root = mount_filesystem(fs)?;
            Ok(root.join(path.trim_start_matches('/')))
        }
        PathName::Nfs { server, path } => mount_nfs(server, path),
        PathName::Remote(url) => fetch(url, fetching),
    }
}

/// `key` as one file name: anything but letters, digits, '-' and '.' becomes '_'.
pub fn safe_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn mount_point_for(key: &str) -> PathBuf {
    Path::new(MOUNT_DIR).join(safe_name(key))
}

fn already_mounted(at: &Path) -> bool {
    crate::blockdev::mounts::read_mounts()
        .iter()
        .any(|m| Path::new(&m.target) == at)
}

fn mount_filesystem(spec: &TargetSpec) -> Result<PathBuf, String> {
    let found = target::find(
        spec,
        Path::new(REAL_SYSTEM.sys_block),
        Path::new(REAL_SYSTEM.dev),
    )
    .ok_or_else(|| format!("{spec}: no such filesystem (see blkid)"))?;
    let at = mount_point_for(&found.node.to_string_lossy());
    if !already_mounted(&at) {
        crate::blockdev::mounts::mount_readonly(&found.node, &at, found.fs.kind)
            .map_err(|e| format!("{spec}: {e}"))?;
    }
    Ok(at)
}

/// Mounts the export's directory and returns the file inside it: NFS mounts directories.
fn mount_nfs(server: &str, path: &str) -> Result<PathBuf, String> {
    let (export, file) = match path.rsplit_once('/') {
        Some(("", f)) => ("/", f),
        Some((d, f)) => (d, f),
        None => ("/", path),
    };
    let source = format!("{server}:{export}");
    let at = mount_point_for(&source);
    if !already_mounted(&at) {
        crate::net::nfs::mount(server, export, &at, false)?.keep();
    }
    Ok(at.join(file))
}

fn fetch(url: &Url, fetching: &Fetching) -> Result<PathBuf, String> {
    if url.path.ends_with('/') {
        return Err(format!(
            "{url}: not a directory listing kboot can read; name a file"
        ));
    }
    let name = url.path.rsplit('/').next().unwrap_or("file");
    let dir = fetch_root().join(safe_name(&format!("{}-{}", url.host, url.port)));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let local = dir.join(name);
    fetch_to(url, &local, fetching)?;
    Ok(local)
}

/// Downloads `url` to `local` through `local.part`, so a failure leaves nothing behind.
/// Returns the byte count.
pub fn fetch_to(url: &Url, local: &Path, fetching: &Fetching) -> Result<u64, String> {
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // "initrd.img" → "initrd.img.part": appended, so two downloads never share one.
    let mut partial = local.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    let mut progress =
        |done: u64, total: Option<u64>| crate::util::fmt::progress_line(&name, done, total);
    let mut transfer = transfer::Transfer {
        timeout: fetching.timeout,
        limit: fetching.limit,
        progress: if fetching.progress {
            Some(&mut progress)
        } else {
            None
        },
    };
    let result = std::fs::File::create(&partial)
        .map_err(|e| format!("{}: {e}", partial.display()))
        .and_then(|mut file| fetch::fetch(url, &mut file, &mut transfer));
    crate::util::fmt::end_progress_line();
    match result.and_then(|n| {
        std::fs::rename(&partial, local)
            .map(|()| n)
            .map_err(|e| format!("{}: {e}", local.display()))
    }) {
        Ok(n) => Ok(n),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> (PathBuf, System<'static>) {
        let root = std::env::temp_dir().join(format!("kboot-pathname-{}", std::process::id()));
        for dev in ["sda", "sda1", "vdb1", "nvme0n1p2"] {
            std::fs::create_dir_all(root.join("sys").join(dev)).expect("scratch");
        }
        let sys: &'static str = Box::leak(
            root.join("sys")
                .to_string_lossy()
                .into_owned()
                .into_boxed_str(),
        );
        (
            root,
            System {
                sys_block: sys,
                dev: "/dev",
            },
        )
    }

    #[test]
    fn the_forms_of_the_kboot_paper() {
        let (_root, s) = system();
        let on = |dev: &str, path: &str| PathName::OnFilesystem {
            fs: TargetSpec::Device(PathBuf::from(dev)),
            path: path.into(),
        };
        assert_eq!(
            parse("/etc/fstab", &s),
            Ok(PathName::Local("/etc/fstab".into()))
        );
        assert_eq!(
            parse("//etc/kboot/kboot.toml", &s),
            Ok(PathName::Local("/etc/kboot/kboot.toml".into()))
        );
        assert_eq!(parse("bzImage", &s), Ok(PathName::Local("bzImage".into())));
        assert_eq!(parse("sda1:/bzImage", &s), Ok(on("/dev/sda1", "/bzImage")));
        assert_eq!(parse("sda1:bzImage", &s), Ok(on("/dev/sda1", "bzImage")));
        assert_eq!(
            parse("/dev/vdb1:/foo/bar", &s),
            Ok(on("/dev/vdb1", "/foo/bar"))
        );
        assert_eq!(
            parse("nvme0n1p2:/boot/vmlinuz", &s),
            Ok(on("/dev/nvme0n1p2", "/boot/vmlinuz"))
        );
        assert_eq!(
            parse("LABEL=TESTROOT:/etc/hostname", &s),
            Ok(PathName::OnFilesystem {
                fs: TargetSpec::Label("TESTROOT".into()),
                path: "/etc/hostname".into()
            })
        );
        assert_eq!(
            parse("UUID=1F2E-3D4C:/x", &s),
            Ok(PathName::OnFilesystem {
                fs: TargetSpec::Uuid("1f2e-3d4c".into()),
                path: "/x".into()
            })
        );
        assert_eq!(
            parse("server:/home/k/bzImage", &s),
            Ok(PathName::Nfs {
                server: "server".into(),
                path: "/home/k/bzImage".into()
            })
        );
        assert!(
            matches!(parse("http://10.0.2.2:8000/vmlinuz", &s), Ok(PathName::Remote(u)) if u.port == 8000)
        );
        assert!(matches!(
            parse("ftp://mirror/pub/vmlinuz", &s),
            Ok(PathName::Remote(_))
        ));
    }

    #[test]
    fn malformed_and_ambiguous_names_say_what_is_accepted() {
        let (_root, s) = system();
        for (bad, says) in [
            ("", "the forms are"),
            ("LABEL=:/x", "empty LABEL="),
            ("sdz9:/boot", "no block device sdz9"),
            ("hda7:bzImage", "no block device hda7"),
            ("/dev/nope:/x", "no block device /dev/nope"),
            ("https://:443/x", "missing host"),
        ] {
            let err = parse(bad, &s).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
        // Ordinary words stay ordinary.
        assert_eq!(parse("10:30", &s), Ok(PathName::Local("10:30".into())));
        assert_eq!(parse("a:b", &s), Ok(PathName::Local("a:b".into())));
        assert!(!is_special("10:30", &s));
        assert!(!is_special("/etc/fstab", &s));
        assert!(is_special("sda1:/x", &s));
        assert!(is_special("//etc/x", &s));
        assert!(is_special("http://h/x", &s));
        assert!(!is_special("LABEL=x", &s));
        assert!(
            is_special("sdz9:/x", &s),
            "malformed special forms are reported, not passed on"
        );
    }

    #[test]
    fn directory_urls_are_refused_before_any_network_use() {
        let url = url::parse_url("http://10.0.2.2:1/").expect("valid");
        let err = fetch(
            &url,
            &Fetching {
                limit: 1,
                progress: false,
                timeout: std::time::Duration::from_secs(1),
            },
        );
        assert!(err.expect_err("refused").contains("not a directory"));
    }
}
