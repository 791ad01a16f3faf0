//! kboot.toml: build settings under `[build]`; the whole file is also installed as
//! /etc/kboot/kboot.toml for the runtime (menu settings live there too).
//!
//! ```toml
//! [build]
//! cmdline = "console=tty0 console=ttyS0,115200"
//! compression = "gzip"            # or "zstd"
//! extra_fragments = ["my.config"] # merged after kernel-configs/*.config
//! checks = ["checks/nfs.py"]      # /etc/kboot/checks/: run by the capture mode after
//!                                 # the report (docs/scripting.md)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use image::initramfs::Compression;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    build: BuildSection,
    // Runtime sections are the runtime's business; they are passed through untouched.
    #[serde(flatten)]
    _runtime: toml::Table,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildSection {
    cmdline: Option<String>,
    compression: Option<String>,
    #[serde(default)]
    extra_fragments: Vec<PathBuf>,
    #[serde(default)]
    checks: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct BuildConfig {
    pub cmdline: String,
    pub compression: Compression,
    pub extra_fragments: Vec<PathBuf>,
    /// Triage scripts for /etc/kboot/checks/ (paths relative to the config file).
    pub checks: Vec<PathBuf>,
    /// The file's text, installed into the initramfs; None without --config.
    pub raw: Option<String>,
}

impl BuildConfig {
    pub fn load(path: Option<&Path>) -> crate::Result<BuildConfig> {
        let defaults = BuildConfig {
            cmdline: qemu_tests::machine::DEFAULT_CMDLINE.to_string(),
            compression: Compression::Gzip,
            extra_fragments: Vec::new(),
            checks: Vec::new(),
            raw: None,
        };
        let Some(path) = path else {
            return Ok(defaults);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let file: File =
            toml::from_str(&text).with_context(|| format!("failed to parse {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(BuildConfig {
            cmdline: file.build.cmdline.unwrap_or(defaults.cmdline),
            compression: match file.build.compression {
                Some(c) => c
                    .parse()
                    .map_err(|e| anyhow!("{}: [build] compression: {e}", path.display()))?,
                None => defaults.compression,
            },
            extra_fragments: file
                .build
                .extra_fragments
                .iter()
                .map(|f| base.join(f))
                .collect(),
            checks: file.build.checks.iter().map(|f| base.join(f)).collect(),
            raw: Some(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_resolved_next_to_the_config_file() {
        let dir = std::env::temp_dir().join(format!("kboot-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("kboot.toml");
        std::fs::write(
            &file,
            "[build]\nchecks = [\"checks/a.py\"]\n[menu]\ntimeout = 3\n",
        )
        .unwrap();
        let config = BuildConfig::load(Some(&file)).unwrap();
        assert_eq!(config.checks, vec![dir.join("checks/a.py")]);
        std::fs::write(&file, "[build]\nchecks = \"a.py\"\n").unwrap();
        assert!(
            BuildConfig::load(Some(&file)).is_err(),
            "checks must be a list"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
