//! PXE-style network menu sources: a PXELINUX boot file (`pxelinux.0`), whose config is
//! looked up in `pxelinux.cfg/` the way pxelinux does (UUID, `01-<mac>`, the IPv4
//! address in hex with one digit fewer each time, `default`) and read with the syslinux
//! reader; and iPXE scripts (`#!ipxe`) run by `boot::config::ipxe` with what kboot knows
//! about the machine as `${…}` built-ins. File names become `@url/…` paths, which
//! `netsource::fetch_files` turns back into URLs when the entry is booted.
use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::boot::config::ipxe::{self, Scripts};
use crate::boot::config::syslinux::parse_syslinux_in;
use crate::boot::entry::Parsed;
use crate::boot::fs::ConfigFs;
use crate::net::url::{self, Url};
use crate::net::{fetch, transfer};

/// Configs and scripts are read into memory: they must be small.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// The directory that marks a path as a URL: `/@url/http/host:port/path`.
const URL_DIR: &str = "@url";

/// Whether a boot file is a PXELINUX binary rather than a config kboot reads.
pub fn is_pxelinux(url: &Url) -> bool {
    let name = url.path.rsplit('/').next().unwrap_or("");
    name.ends_with(".0") || name == "syslinux.efi"
}

/// A network menu file (kboot.toml, BLS entry, iPXE script, pxelinux config, or one
/// they include), in memory; under `[security] require_signed` only when `URL.minisig`
/// signs exactly the bytes fetched.
pub fn fetch_text(url: &Url) -> Result<String, String> {
    let body = fetch_small(url)?;
    let policy = crate::boot::signature::current();
    if policy.require_signed {
        let sig_url = Url {
            path: format!("{}{}", url.path, crate::boot::signature::SIGNATURE_SUFFIX),
            ..url.clone()
        };
        let signature = fetch_small(&sig_url).map(|sig| String::from_utf8_lossy(&sig).into_owned());
        policy.check(&url.to_string(), &body, signature)?;
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn fetch_small(url: &Url) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut transfer = transfer::Transfer {
        limit: CONFIG_LIMIT,
        timeout: std::time::Duration::from_secs(10),
        progress: None,
    };
    fetch::fetch(url, &mut body, &mut transfer)?;
    Ok(body)
}

/// A URL as a path in an entry, and back.
pub fn url_path(url: &str) -> PathBuf {
    PathBuf::from(format!("/{URL_DIR}/{}", url.replacen("://", "/", 1)))
}

pub fn path_url(path: &str) -> Option<String> {
    let rest = path.trim_start_matches('/').strip_prefix(URL_DIR)?;
    let (scheme, rest) = rest.trim_start_matches('/').split_once('/')?;
    Some(format!("{scheme}://{rest}"))
}

/// Who we are, for config names and `${…}`.
#[derive(Debug, Default, Clone)]
pub struct Identity {
    pub uuid: Option<String>,
    pub mac: Option<String>,
    pub ip: Option<Ipv4Addr>,
}

/// The identity of the interface whose lease named `boot_url` (else the first one with
/// an address), with the firmware's UUID.
pub fn identity(boot_url: &str) -> Identity {
    let leases = crate::net::setup::recorded();
    let lease = leases
        .iter()
        .find(|r| r.boot_url.as_deref() == Some(boot_url))
        .or_else(|| leases.iter().find(|r| r.address.is_some()));
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
    };
    Identity {
        uuid: read("/sys/class/dmi/id/product_uuid"),
        mac: lease.and_then(|l| read(&format!("/sys/class/net/{}/address", l.interface))),
        ip: lease.and_then(|l| l.address),
    }
}

/// pxelinux's search order under `pxelinux.cfg/`.
pub fn config_names(id: &Identity) -> Vec<String> {
    let mut names = Vec::new();
    names.extend(id.uuid.clone());
    if let Some(mac) = &id.mac {
        names.push(format!("01-{}", mac.replace(':', "-")));
    }
    if let Some(ip) = id.ip {
        let hex = format!("{:08X}", u32::from(ip));
        names.extend((1..=8).rev().map(|n| hex[..n].to_string()));
    }
    names.push("default".into());
    names
}

/// The files under one TFTP (or HTTP) root, as the syslinux reader sees a filesystem.
struct RemoteFs {
    root: Url,
}

impl ConfigFs for RemoteFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let relative = path.to_string_lossy();
        let url =
            url::join(&self.root, relative.trim_start_matches('/')).map_err(io::Error::other)?;
        fetch_text(&url)
            .map(String::into_bytes)
            .map_err(io::Error::other)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{}: no listing over the network", path.display()),
        ))
    }
}

/// The first config of the search order that the server has, parsed; its file names
/// are relative to the boot file's directory. Returns the config's URL too.
pub fn pxelinux_entries(boot: &Url, id: &Identity) -> Result<(Parsed, Url), String> {
    let root = Url {
        path: "/".into(),
        ..boot.clone()
    };
    let dir = &boot.path[..boot.path.rfind('/').map_or(0, |i| i + 1)];
    let fs = RemoteFs { root: root.clone() };
    let mut tried = Vec::new();
    for name in config_names(id) {
        let path = format!("{dir}pxelinux.cfg/{name}");
        let url = url::join(&root, path.trim_start_matches('/'))?;
        // Probed unverified; what is parsed is read again through `fetch_text`, so an
        // unsigned config is refused with the reason, not skipped.
        match fetch_small(&url) {
            Ok(_) => {
                fetch_text(&url).map_err(|e| format!("pxelinux config: {e}"))?;
                let mut parsed = parse_syslinux_in(&fs, Path::new(&path), PathBuf::from(dir));
                served_paths(&mut parsed, &root)?;
                return Ok((parsed, url));
            }
            // No answer at all: the rest of the names would only wait as long again.
            Err(e) if e.contains("no answer") => return Err(e),
            Err(_) => tried.push(name),
        }
    }
    Err(format!(
        "no pxelinux config (tried pxelinux.cfg/{{{}}})",
        tried.join(",")
    ))
}

/// What `${name}` means in an iPXE script run by kboot.
/// The entries' kernel and initrd paths (on the server under `root`) as `@url` paths.
pub(crate) fn served_paths(parsed: &mut Parsed, root: &Url) -> Result<(), String> {
    for entry in &mut parsed.entries {
        let to_url = |p: &PathBuf| {
            url::join(root, p.to_string_lossy().trim_start_matches('/'))
                .map(|u| url_path(&u.to_string()))
        };
        if !entry.kernel.as_os_str().is_empty() {
            entry.kernel = to_url(&entry.kernel)?;
        }
        entry.initrds = entry.initrds.iter().map(to_url).collect::<Result<_, _>>()?;
    }
    Ok(())
}

pub fn builtins(boot: &Url, id: &Identity) -> BTreeMap<String, String> {
    let mut b = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            b.insert(k.to_string(), v);
        }
    };
    put("mac", id.mac.clone());
    put("ip", id.ip.map(|i| i.to_string()));
    put("uuid", id.uuid.clone());
    put("next-server", Some(boot.host.clone()));
    put(
        "filename",
        Some(boot.path.trim_start_matches('/').to_string()),
    );
    put("buildarch", Some(std::env::consts::ARCH.to_string()));
    let efi = Path::new("/sys/firmware/efi").exists();
    put(
        "platform",
        Some(if efi { "efi" } else { "pcbios" }.to_string()),
    );
    for (key, file) in [
        ("manufacturer", "sys_vendor"),
        ("product", "product_name"),
        ("serial", "product_serial"),
    ] {
        put(
            key,
            std::fs::read_to_string(format!("/sys/class/dmi/id/{file}"))
                .ok()
                .map(|t| t.trim().to_string()),
        );
    }
    put(
        "hostname",
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|h| !h.is_empty() && h != "(none)"),
    );
    b
}

/// Chained scripts and file names of an iPXE script, over the network.
struct Remote;

impl Scripts for Remote {
    fn load(&self, from: &str, name: &str) -> Result<(String, String), String> {
        let url = url::join(&url::parse_url(from)?, name)?;
        fetch_text(&url).map(|text| (url.to_string(), text))
    }

    fn resolve(&self, from: &str, name: &str) -> String {
        let joined = url::parse_url(from).and_then(|base| url::join(&base, name));
        match joined {
            Ok(u) => url_path(&u.to_string()).to_string_lossy().into_owned(),
            Err(_) => name.to_string(),
        }
    }
}

pub fn ipxe_entries(text: &str, url: &Url, id: &Identity) -> Parsed {
    ipxe::parse_ipxe(text, &url.to_string(), &builtins(url, id), &Remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pxelinux_search_order() {
        let id = Identity {
            uuid: Some("b8945908-d6a6-41a9-611d-74a6ab80b83d".into()),
            mac: Some("88:99:aa:bb:cc:dd".into()),
            ip: Some(Ipv4Addr::new(192, 168, 2, 91)),
        };
        assert_eq!(
            config_names(&id),
            [
                "b8945908-d6a6-41a9-611d-74a6ab80b83d",
                "01-88-99-aa-bb-cc-dd",
                "C0A8025B",
                "C0A8025",
                "C0A802",
                "C0A80",
                "C0A8",
                "C0A",
                "C0",
                "C",
                "default"
            ]
        );
        assert_eq!(config_names(&Identity::default()), ["default"]);
    }

    #[test]
    fn urls_survive_the_trip_through_an_entry_path() {
        let p = url_path("tftp://10.0.2.2:6969/boot/vmlinuz");
        assert_eq!(p, PathBuf::from("/@url/tftp/10.0.2.2:6969/boot/vmlinuz"));
        assert_eq!(
            path_url(&p.to_string_lossy()).as_deref(),
            Some("tftp://10.0.2.2:6969/boot/vmlinuz")
        );
        assert_eq!(path_url("/boot/vmlinuz"), None);
        assert!(is_pxelinux(
            &url::parse_url("tftp://h/pxe/pxelinux.0").expect("url")
        ));
        assert!(!is_pxelinux(
            &url::parse_url("tftp://h/menu.ipxe").expect("url")
        ));
    }
}
