//! Menu entries served over the network: a kboot.toml (`[entry.NAME]` tables), one BLS
//! entry (`*.conf`), an iPXE script (`#!ipxe`) or a PXELINUX boot file whose
//! `pxelinux.cfg/` is searched (`pxe`), named by `[net] menu =` / `kboot.net.menu=` or by
//! the DHCP server's boot file. File names in it are relative to the directory it was served from (a
//! leading '/' too). The config is read when the menu is built; kernels and initrds are
//! fetched only when their entry is booted, into /run/kboot/fetch/ (RAM).
use std::path::PathBuf;

use crate::boot::config::bls;
use crate::boot::config::kboot_conf::parse_kboot_text;
use crate::boot::entry::{BootEntry, Parsed};
use crate::boot::scan::pxe;
use crate::boot::scan::volume::{DiscoveredEntry, Discovery};
use crate::net::url;
use crate::net::url::Url;
use crate::pathname::{fetch_root, fetch_to, safe_name, Fetching};
use crate::warn;

/// The entries of every source URL; problems become discovery warnings.
pub fn network_entries(urls: &[String]) -> Discovery {
    let mut discovery = Discovery::default();
    for text in urls {
        match entries_from(text) {
            Ok((entries, warnings)) => {
                discovery.entries.extend(entries);
                discovery.warnings.extend(warnings);
            }
            Err(e) => discovery.warnings.push(format!("network menu {text}: {e}")),
        }
    }
    discovery
}

fn entries_from(text: &str) -> Result<(Vec<DiscoveredEntry>, Vec<String>), String> {
    let mut url = url::parse_url(text)?;
    let parsed = if pxe::is_pxelinux(&url) {
        let (parsed, config) = pxe::pxelinux_entries(&url, &pxe::identity(text))?;
        url = config;
        parsed
    } else {
        let body = pxe::fetch_text(&url)?;
        if crate::boot::config::ipxe::is_ipxe(&body) {
            pxe::ipxe_entries(&body, &url, &pxe::identity(text))
        } else {
            parse_config(&body, &url, &url.to_string())
        }
    };
    let source = url.to_string();
    let warnings = parsed.warnings.iter().map(|w| w.to_string()).collect();
    let cache = cache_dir(&url);
    let entries = parsed
        .entries
        .into_iter()
        .map(|entry| DiscoveredEntry {
            entry,
            device: format!("{}:{}", url.host, url.port),
            fs_uuid: None,
            fs_label: None,
            mount_point: cache.clone(),
            config_device: source.clone(),
        })
        .collect();
    Ok((entries, warnings))
}

fn parse_config(body: &str, url: &Url, source: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let name = url.path.rsplit('/').next().unwrap_or("");
    if let Some(id) = name
        .strip_suffix(".conf")
        .filter(|_| body.lines().any(|l| l.trim_start().starts_with("linux")))
    {
        let mut warnings = Vec::new();
        let e = bls::parse_entry(body, id, source, &mut warnings);
        parsed.warnings = warnings;
        if let Some(kernel) = &e.linux {
            let label = e.title.clone().unwrap_or_else(|| id.to_string());
            let mut entry = BootEntry::with_absolute_paths(&label, kernel, &e.initrds, source);
            entry.cmdline = e.options.join(" ");
            entry.id = id.to_string();
            parsed.entries.push(entry);
        }
    } else {
        parse_kboot_text(body, source, &mut parsed);
    }
    parsed
}

/// Where an entry's files land: one directory per served directory.
fn cache_dir(url: &Url) -> PathBuf {
    let dir = &url.path[..url.path.rfind('/').map_or(0, |i| i + 1)];
    let key = safe_name(&format!("{}-{}{dir}", url.host, url.port));
    fetch_root().join(key)
}

pub fn is_network_entry(found: &DiscoveredEntry) -> bool {
    url::is_url(&found.config_device)
}

/// Whether booting the entry downloads its files first: a network entry, or a type #1
/// entry on a disk whose `uki-url` names the image (an `@url` kernel path).
pub fn needs_fetch(found: &DiscoveredEntry) -> bool {
    is_network_entry(found) || found.entry.kernel_is_url()
}

/// Downloads what `needs_fetch` says into RAM and returns the entry as the kexec plan
/// must see it: a disk entry's filesystem is mounted read-only, so its downloaded files
/// live under /run/kboot/fetch/uki-url/ instead.
pub fn fetch_entry(found: &DiscoveredEntry) -> Result<DiscoveredEntry, String> {
    let mut loadable = found.clone();
    if !is_network_entry(found) {
        loadable.mount_point = fetch_root().join("uki-url");
    }
    fetch_files(&loadable)?;
    Ok(loadable)
}

/// Fetches the kernel and initrds of a network entry into its cache directory, where
/// the kexec plan then finds them.
pub fn fetch_files(found: &DiscoveredEntry) -> Result<(), String> {
    let base = || url::parse_url(&found.config_device);
    let mut paths = vec![found.entry.kernel.clone()];
    paths.extend(found.entry.initrds.iter().cloned());
    for path in paths {
        let relative = path.to_string_lossy().trim_start_matches('/').to_string();
        // iPXE and PXELINUX entries name their files by URL (`@url/…`).
        let url = match pxe::path_url(&relative) {
            Some(full) => url::parse_url(&full)?,
            None => url::join(&base()?, &relative)?,
        };
        let local = found.mount_point.join(&relative);
        if let Some(dir) = local.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        println!("kboot: fetching {url}");
        fetch_to(&url, &local, &Fetching::default())?;
        if crate::boot::signature::current().require_signed {
            // Checked with the file when the entry is loaded (kexec's payloads); a
            // missing one is refused there with the reason.
            let suffix = crate::boot::signature::SIGNATURE_SUFFIX;
            let sig_url = Url {
                path: format!("{}{suffix}", url.path),
                ..url.clone()
            };
            let mut sig_local = local.clone().into_os_string();
            sig_local.push(suffix);
            let _ = std::fs::remove_file(&sig_local);
            if let Err(e) = fetch_to(
                &sig_url,
                std::path::Path::new(&sig_local),
                &Fetching::default(),
            ) {
                warn!("kboot: {sig_url}: {e}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_served_kboot_toml_and_a_bls_entry() {
        let url = url::parse_url("http://10.0.2.2:8000/pxe/kboot.toml").expect("valid");
        let parsed = parse_config(
            "[entry.net]\nlabel = \"Network Debian\"\nkernel = \"vmlinuz\"\ninitrd = \"initrd.img\"\ncmdline = \"console=ttyS0\"\n",
            &url,
            "src",
        );
        assert_eq!(parsed.entries.len(), 1, "{:?}", parsed.warnings);
        assert_eq!(parsed.entries[0].label, "Network Debian");
        assert_eq!(parsed.entries[0].kernel, PathBuf::from("/vmlinuz"));
        assert_eq!(
            cache_dir(&url),
            PathBuf::from("/run/kboot/fetch/10.0.2.2-8000_pxe_")
        );
        let bls_url = url::parse_url("http://srv/entries/debian.conf").expect("valid");
        let parsed = parse_config(
            "title Debian\nlinux /vmlinuz\ninitrd /initrd.img\noptions ro quiet\n",
            &bls_url,
            "src",
        );
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(
            (
                parsed.entries[0].id.as_str(),
                parsed.entries[0].cmdline.as_str()
            ),
            ("debian", "ro quiet")
        );
        let unreachable =
            network_entries(&["http://127.0.0.1:1/kboot.toml".into(), "gopher://x".into()]);
        assert!(unreachable.entries.is_empty());
        assert_eq!(unreachable.warnings.len(), 2, "{:?}", unreachable.warnings);
    }
}
