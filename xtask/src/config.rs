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
//!
//!
//! [ssh]
//! authorized_keys = ["admin.pub", "ssh-ed25519 AAAA… ops@site"]  # files or key lines
//! host_key = "ssh_host_ed25519_key"  # optional; else generated at boot
//! ```
//!
//! The CAs become /etc/kboot/ca.pem in the initramfs; every other `[net]` key is the
//! runtime's. The SSH keys become /etc/kboot/authorized_keys and
//! /etc/kboot/ssh_host_ed25519_key (docs/network.md, SSH).

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
    #[serde(default)]
    ssh: SshSection,
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

/// `[ssh]`: who may log in, and optionally the host key (without one the machine makes
/// its own at boot, printing its fingerprint on the console).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SshSection {
    #[serde(default)]
    authorized_keys: Vec<String>,
    host_key: Option<PathBuf>,
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
    /// /etc/kboot/authorized_keys (`[ssh] authorized_keys`); None: no SSH server.
    pub authorized_keys: Option<Vec<u8>>,
    /// /etc/kboot/ssh_host_ed25519_key (`[ssh] host_key`); None: generated at boot.
    pub ssh_host_key: Option<Vec<u8>>,
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
            authorized_keys: None,
            ssh_host_key: None,
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
            authorized_keys: authorized_keys(path, base, &file.ssh)?,
            ssh_host_key: ssh_host_key(path, base, &file.ssh)?,
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

/// The `[ssh] authorized_keys` entries as one authorized_keys file: each entry is a key
/// line (`ssh-ed25519 AAAA… comment`) or a file of them next to kboot.toml. Only
/// ssh-ed25519 keys can log in; an entry without one is an error, not a silent lock-out.
fn authorized_keys(config: &Path, base: &Path, ssh: &SshSection) -> crate::Result<Option<Vec<u8>>> {
    if ssh.authorized_keys.is_empty() {
        if ssh.host_key.is_some() {
            return Err(anyhow!(
                "{}: [ssh] host_key without authorized_keys: nobody could log in",
                config.display()
            ));
        }
        return Ok(None);
    }
    let mut lines = String::new();
    for entry in &ssh.authorized_keys {
        let text = if entry.starts_with("ssh-") {
            entry.clone()
        } else {
            let file = base.join(entry);
            std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "{}: [ssh] authorized_keys: failed to read {}",
                    config.display(),
                    file.display()
                )
            })?
        };
        if !text
            .lines()
            .any(|l| l.trim_start().starts_with("ssh-ed25519 "))
        {
            return Err(anyhow!(
                "{}: [ssh] authorized_keys: {entry:.60} holds no ssh-ed25519 key \
                 (the only type kboot's sshd accepts; ssh-keygen -t ed25519 makes one)",
                config.display()
            ));
        }
        lines.push_str(text.trim_end());
        lines.push('\n');
    }
    Ok(Some(lines.into_bytes()))
}

fn ssh_host_key(config: &Path, base: &Path, ssh: &SshSection) -> crate::Result<Option<Vec<u8>>> {
    let Some(file) = &ssh.host_key else {
        return Ok(None);
    };
    let file = base.join(file);
    let key = std::fs::read(&file).with_context(|| {
        format!(
            "{}: [ssh] host_key: failed to read {}",
            config.display(),
            file.display()
        )
    })?;
    if !String::from_utf8_lossy(&key).contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return Err(anyhow!(
            "{}: [ssh] host_key: {} is not an OpenSSH private key (ssh-keygen -t ed25519 -N '')",
            config.display(),
            file.display()
        ));
    }
    Ok(Some(key))
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
    fn ssh_keys_come_from_files_or_lines_and_must_be_ed25519() {
        let dir = std::env::temp_dir().join(format!("xtask-ssh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHwjRxLkiU+L1RDdRZw6sq1RkPu0DkAXNiqcFJBshFWG a";
        std::fs::write(dir.join("admin.pub"), format!("{key}\n")).expect("write");
        std::fs::write(dir.join("rsa.pub"), "ssh-rsa AAAAB3NzaC1yc2E= b\n").expect("write");
        let config = dir.join("kboot.toml");
        std::fs::write(
            &config,
            format!("[ssh]\nauthorized_keys = [\"admin.pub\", \"{key}\"]\n"),
        )
        .expect("write");
        let loaded = BuildConfig::load(Some(&config)).expect("valid");
        let keys = String::from_utf8(loaded.authorized_keys.expect("keys")).expect("text");
        assert_eq!(keys, format!("{key}\n{key}\n"));
        assert!(loaded.ssh_host_key.is_none());
        std::fs::write(&config, "[ssh]\nauthorized_keys = [\"rsa.pub\"]\n").expect("write");
        let err = BuildConfig::load(Some(&config)).expect_err("rsa only");
        assert!(
            format!("{err:#}").contains("holds no ssh-ed25519 key"),
            "{err:#}"
        );
        std::fs::write(
            &config,
            "[ssh]\nauthorized_keys = [\"admin.pub\"]\nhost_key = \"rsa.pub\"\n",
        )
        .expect("write");
        let err = BuildConfig::load(Some(&config)).expect_err("not a private key");
        assert!(
            format!("{err:#}").contains("not an OpenSSH private key"),
            "{err:#}"
        );
        std::fs::write(&config, "[menu]\ntimeout = 3\n").expect("write");
        assert!(BuildConfig::load(Some(&config))
            .expect("valid")
            .authorized_keys
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
