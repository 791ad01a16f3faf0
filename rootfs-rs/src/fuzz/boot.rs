//! Boot-config targets. Each input is a small filesystem (`super::tree`) with the target's
//! config as its main file, scanned by `discover`: the path the menu takes, with every
//! config found on it parsed under the readers' own limits (steps, includes, entries).

use std::collections::BTreeMap;
use std::path::Path;

use super::tree;
use crate::boot::config::grubenv::{lookup, parse_grubenv, set_var};
use crate::boot::config::ipxe::{parse_ipxe, Scripts};
use crate::boot::config::pe::read_slice;
use crate::boot::config::syslinux::parse_syslinux_in;
use crate::boot::config::uki::read_uki;
use crate::boot::entry::Parsed;
use crate::boot::fs::{ConfigFs, MemFs};
use crate::boot::scan::discover::discover;
use crate::boot::scan::pxe::{path_url, served_paths};
use crate::net::url::{join, parse_url};

/// What the menu does with a scan: the entries' labels and paths are shown and compared.
fn scan(fs: &MemFs) -> Parsed {
    let parsed = discover(fs);
    for entry in &parsed.entries {
        let _ = (entry.label.len(), entry.kernel.to_string_lossy().len());
    }
    parsed
}

pub fn grub(data: &[u8]) {
    scan(&tree(data, "/boot/grub/grub.cfg"));
}

pub fn bls(data: &[u8]) {
    scan(&tree(data, "/loader/entries/fuzz.conf"));
}

pub fn syslinux(data: &[u8]) {
    scan(&tree(data, "/boot/extlinux/extlinux.conf"));
}

pub fn lilo(data: &[u8]) {
    scan(&tree(data, "/etc/lilo.conf"));
}

/// The whole input is a grubenv block: read as the scan reads it, then rewritten the way
/// the menu hands `saved_entry` back; a block that was written must read back the same.
pub fn grubenv(data: &[u8]) {
    let _ = parse_grubenv(data, "fuzz", &mut Vec::new());
    let value = "fuzz\\entry\nwith escapes";
    if let Ok(block) = set_var(data, "saved_entry", value) {
        assert_eq!(block.len(), 1024, "a written grubenv is 1024 bytes");
        let vars = parse_grubenv(&block, "fuzz", &mut Vec::new());
        assert_eq!(lookup(&vars, "saved_entry"), Some(value));
    }
}

/// kboot.toml is read by several parts of kboot (one TOML reader, several tables); a
/// kboot.conf with the same text is scanned as a boot config.
pub fn kboot_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let doc = crate::config::toml::Document::parse(&text);
    let _ = crate::boot::menu::conf::menu_settings(&doc, "kboot.toml");
    let _ = crate::boot::signature::Policy::from_config(&doc, "kboot.toml");
    // The same bytes as a .minisig and as a public key line.
    let _ = crate::boot::signature::minisign::Signature::parse(&text);
    let _ = crate::boot::signature::minisign::PublicKey::parse(&text);
    let _ = crate::net::setup::config_from(Some(&doc), "");
    let _ = crate::capture::settings::DumpSettings::load(&text, "kboot.toml", "");
    let mut served = Parsed::default();
    crate::boot::config::kboot_conf::parse_kboot_document(&doc, "kboot.toml", &mut served);
    scan(&tree(data, "/boot/kboot.conf"));
}

/// A PXELINUX config as served under a TFTP root, its paths turned into URLs as the
/// network scan does.
pub fn pxelinux(data: &[u8]) {
    let fs = tree(data, "/pxelinux.cfg/default");
    let mut parsed = parse_syslinux_in(&fs, Path::new("/pxelinux.cfg/default"), "/".into());
    let Ok(root) = parse_url("tftp://10.0.2.2/") else {
        return;
    };
    if served_paths(&mut parsed, &root).is_ok() {
        for entry in &parsed.entries {
            let _ = path_url(&entry.kernel.to_string_lossy());
        }
    }
}

/// Chained scripts come from the same input: `chain other.ipxe` reads /other.ipxe.
struct TreeScripts(MemFs);

const IPXE_MAIN: &str = "http://10.0.2.2/boot.ipxe";

impl Scripts for TreeScripts {
    fn load(&self, from: &str, name: &str) -> Result<(String, String), String> {
        let url = join(&parse_url(from)?, name)?;
        let bytes = self
            .0
            .read(Path::new(&url.path))
            .map_err(|e| e.to_string())?;
        Ok((
            url.to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }

    fn resolve(&self, from: &str, name: &str) -> String {
        match parse_url(from).and_then(|base| join(&base, name)) {
            Ok(url) => url.to_string(),
            Err(_) => name.to_string(),
        }
    }
}

pub fn ipxe(data: &[u8]) {
    let fs = tree(data, "/boot.ipxe");
    let Ok(main) = fs.read(Path::new("/boot.ipxe")) else {
        return;
    };
    let builtins: BTreeMap<String, String> = [
        ("mac", "52:54:00:12:34:56"),
        ("ip", "10.0.2.15"),
        ("uuid", "b8945908-d6a6-41a9-611d-74a6ab80b83d"),
        ("next-server", "10.0.2.2"),
        ("platform", "efi"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let text = String::from_utf8_lossy(&main).into_owned();
    let _ = parse_ipxe(&text, IPXE_MAIN, &builtins, &TreeScripts(fs));
}

/// The input is a PE image: read as a UKI, and scanned where systemd-boot looks for them.
pub fn uki(data: &[u8]) {
    let _ = read_uki(&read_slice(data));
    scan(&MemFs::new().with("/EFI/Linux/fuzz.efi", data));
}
