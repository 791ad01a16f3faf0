//! The initramfs layout: one static binary, `/init` and `/bin/<applet>` links to it, the
//! device node the kernel needs before devtmpfs is up, and `/etc/kboot/`.

use std::fmt;
use std::io::Write;

use crate::cpio::{CpioBuilder, CpioError};

/// Where the shipped triage scripts live (`kboot triage --script /usr/share/kboot/scripts/…`).
pub const SCRIPTS_DIR: &str = "usr/share/kboot/scripts";

/// The triage scripts every image carries (docs/scripting.md).
pub const SHIPPED_SCRIPTS: [(&str, &str); 2] = [
    ("crashinfo.py", include_str!("../scripts/crashinfo.py")),
    ("xportshow.py", include_str!("../scripts/xportshow.py")),
];

/// Where the binary lives; `/init` and every applet link point here.
pub const BINARY_PATH: &str = "bin/kboot";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => "gz",
            Compression::Zstd => "zst",
        }
    }

    /// The kernel option that must be set to unpack this.
    pub fn kernel_option(self) -> &'static str {
        match self {
            Compression::Gzip => "CONFIG_RD_GZIP",
            Compression::Zstd => "CONFIG_RD_ZSTD",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            other => Err(format!(
                "unknown initramfs compression {other:?} (use \"gzip\" or \"zstd\")"
            )),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// What goes into the initramfs.
#[derive(Debug, Clone, Default)]
pub struct InitramfsSpec {
    pub binary: Vec<u8>,
    /// Applet names; each becomes `/bin/<name>` → `kboot`.
    pub applets: Vec<String>,
    /// Files under `/etc/kboot/` (name, contents).
    pub config_files: Vec<(String, Vec<u8>)>,
    /// Triage scripts under `/usr/share/kboot/scripts/` (name, contents).
    pub scripts: Vec<(String, Vec<u8>)>,
    /// Stamped on every entry: SOURCE_DATE_EPOCH, or 0.
    pub mtime: u32,
}

pub fn initramfs_archive(spec: &InitramfsSpec) -> Result<CpioBuilder, CpioError> {
    let mut cpio = CpioBuilder::new(spec.mtime);
    for dir in [
        "dev",
        "proc",
        "sys",
        "run",
        "tmp",
        "mnt",
        "root",
        "etc/kboot",
    ] {
        cpio.add_dir(dir, if dir == "tmp" { 0o1777 } else { 0o755 })?;
    }
    // The kernel opens /dev/console for PID 1 before anything can mount devtmpfs.
    cpio.add_char_device("dev/console", 0o600, 5, 1)?;
    cpio.add_file(BINARY_PATH, 0o755, spec.binary.clone())?;
    cpio.add_symlink("init", BINARY_PATH)?;
    for applet in &spec.applets {
        if applet != "kboot" && !applet.is_empty() && !applet.contains('/') {
            cpio.add_symlink(&format!("bin/{applet}"), "kboot")?;
        }
    }
    // The kernel runs /sbin/modprobe (its default modprobe_path) for request_module():
    // a filesystem or protocol built as a module in a distro kernel is loaded that way.
    if spec.applets.iter().any(|a| a == "modprobe") {
        cpio.add_dir("sbin", 0o755)?;
        cpio.add_symlink("sbin/modprobe", "../bin/kboot")?;
    }
    for (name, data) in &spec.config_files {
        // A private key (ssh_host_ed25519_key) is for root's eyes only.
        let mode = if name.ends_with("_key") { 0o600 } else { 0o644 };
        cpio.add_file(&format!("etc/kboot/{name}"), mode, data.clone())?;
    }
    if !spec.scripts.is_empty() {
        cpio.add_dir(SCRIPTS_DIR, 0o755)?;
    }
    for (name, data) in &spec.scripts {
        cpio.add_file(&format!("{SCRIPTS_DIR}/{name}"), 0o644, data.clone())?;
    }
    Ok(cpio)
}

/// Compresses deterministically (gzip header mtime 0, no file name; fixed zstd level).
pub fn compress(data: &[u8], compression: Compression) -> std::io::Result<Vec<u8>> {
    match compression {
        Compression::Gzip => {
            let mut enc = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), flate2::Compression::best());
            enc.write_all(data)?;
            enc.finish()
        }
        Compression::Zstd => zstd::stream::encode_all(data, 19),
    }
}
