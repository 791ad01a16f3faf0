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
//!
//! [net]
//! ca = ["site-ca.pem"]            # CAs https:// trusts (relative to kboot.toml)
//! system_ca = true                # and this build host's bundle
//! ```
//!
//! The CAs become /etc/kboot/ca.pem in the initramfs; every other `[net]` key is the
//! runtime's.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use image::initramfs::Compression;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    build: BuildSection,
    #[serde(default)]
    net: NetSection,
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

/// The build-time keys of `[net]`; the others (mode, menu, …) are the runtime's.
#[derive(Debug, Default, Deserialize)]
struct NetSection {
    #[serde(default)]
    ca: Vec<PathBuf>,
    #[serde(default)]
    system_ca: bool,
}

/// Debian's bundle of the CAs the build host trusts (package ca-certificates).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, Clone)]
pub struct BuildConfig {
    pub cmdline: String,
    pub compression: Compression,
    pub extra_fragments: Vec<PathBuf>,
    /// Triage scripts for /etc/kboot/checks/ (paths relative to the config file).
    pub checks: Vec<PathBuf>,
    /// The file's text, installed into the initramfs; None without --config.
    pub raw: Option<String>,
    /// /etc/kboot/ca.pem: the CAs https:// trusts (`[net] ca`, `system_ca`); None: none.
    pub ca_bundle: Option<Vec<u8>>,
}

impl BuildConfig {
    pub fn load(path: Option<&Path>) -> crate::Result<BuildConfig> {
        let defaults = BuildConfig {
            cmdline: qemu_tests::machine::DEFAULT_CMDLINE.to_string(),
            compression: Compression::Gzip,
            extra_fragments: Vec::new(),
            checks: Vec::new(),
            raw: None,
            ca_bundle: None,
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
            ca_bundle: ca_bundle(path, base, &file.net)?,
            checks: file.build.checks.iter().map(|f| base.join(f)).collect(),
            raw: Some(text),
        })
    }
}

/// The listed CA files then, with `system_ca`, the host's bundle, concatenated; each must
/// hold at least one PEM certificate.
fn ca_bundle(config: &Path, base: &Path, net: &NetSection) -> crate::Result<Option<Vec<u8>>> {
    let mut files: Vec<PathBuf> = net.ca.iter().map(|f| base.join(f)).collect();
    if net.system_ca {
        files.push(PathBuf::from(SYSTEM_CA_BUNDLE));
    }
    if files.is_empty() {
        return Ok(None);
    }
    let mut bundle = Vec::new();
    for file in files {
        let pem = std::fs::read(&file).with_context(|| {
            format!(
                "{}: [net] ca: failed to read {}",
                config.display(),
                file.display()
            )
        })?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(anyhow!(
                "{}: [net] ca: {} holds no PEM certificate",
                config.display(),
                file.display()
            ));
        }
        bundle.extend_from_slice(&pem);
        if !bundle.ends_with(b"\n") {
            bundle.push(b'\n');
        }
    }
    Ok(Some(bundle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_cas_become_one_bundle_and_bad_ones_are_errors() {
        let dir = std::env::temp_dir().join(format!("xtask-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        std::fs::write(dir.join("a.pem"), cert).expect("write");
        std::fs::write(dir.join("b.pem"), format!("{cert}\n")).expect("write");
        std::fs::write(dir.join("junk.pem"), "hello").expect("write");
        let config = dir.join("kboot.toml");
        std::fs::write(
            &config,
            "[net]\nca = [\"a.pem\", \"b.pem\"]\nmenu = \"http://x/\"\n",
        )
        .expect("write");
        let loaded = BuildConfig::load(Some(&config)).expect("valid");
        let bundle = String::from_utf8(loaded.ca_bundle.expect("a bundle")).expect("text");
        assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(bundle.ends_with("-----END CERTIFICATE-----\n"));
        std::fs::write(&config, "[net]\nca = [\"junk.pem\"]\n").expect("write");
        let err = BuildConfig::load(Some(&config)).expect_err("junk");
        assert!(
            format!("{err:#}").contains("holds no PEM certificate"),
            "{err:#}"
        );
        std::fs::write(&config, "[net]\nca = [\"missing.pem\"]\n").expect("write");
        assert!(BuildConfig::load(Some(&config)).is_err());
        std::fs::write(&config, "[net]\nmode = \"dhcp\"\n").expect("write");
        assert!(BuildConfig::load(Some(&config))
            .expect("valid")
            .ca_bundle
            .is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

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
