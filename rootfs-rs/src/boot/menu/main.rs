//! `menu` applet: discover entries on all disks, show the menu, kexec the choice.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::blockdev::fstype::{FsInfo, FsKind};
use crate::boot::efi;
use crate::boot::menu::conf::{find_entry, menu_settings, parse_kernel_cmdline, MenuSettings};
use crate::boot::menu::interactive::{interactive, Leave};
use crate::boot::menu::start::{boot, boot_path};
use crate::boot::menu::state::MenuItem;
use crate::boot::scan::disks::{
    discover_disks, discover_images, discover_trees, Mounts, ScanOptions,
};
use crate::boot::scan::efi_entries;
use crate::boot::scan::volume::{DiscoveredEntry, Discovery, Volume};
use crate::config::toml::Document;
use crate::config::CONFIG_PATH;

const USAGE: &str =
    "usage: menu [--list | --boot N|LABEL] [--timeout N] [--config FILE] [--dry-run]
            [--image FILE]... [--tree DEVICE=DIR]...
  --list          print the discovered entries and exit
  --boot N|LABEL  boot entry N (1-based), or the entry with that label or id, without the menu;
                  or a kernel by path name (sda1:/vmlinuz, http://host/vmlinuz, //path)
  --timeout N     countdown in seconds (-1: wait for a key); overrides kboot.toml and kboot.timeout=
  --config FILE   menu settings (default /etc/kboot/kboot.toml, [menu] timeout/default/scan_timeout;
                  its [security] applies when the image's own requires no signatures)
  --dry-run       check the chosen kernel and print what would be loaded; no kexec
  --image FILE    scan the partitions of a raw disk image instead of the block devices
  --tree DEV=DIR  use DIR as the contents of filesystem DEV (an --image volume's name, or new)";

#[derive(Debug, Default)]
pub(super) struct Options {
    list: bool,
    boot: Option<String>,
    timeout: Option<i64>,
    config: Option<PathBuf>,
    pub(super) dry_run: bool,
    pub(super) images: Vec<PathBuf>,
    pub(super) trees: Vec<(String, PathBuf)>,
}

fn parse_args(args: &[OsString]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut iter = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().ok_or_else(|| format!("{name}: missing value"));
        match arg.as_str() {
            "--list" => options.list = true,
            "--dry-run" => options.dry_run = true,
            "--boot" => options.boot = Some(value("--boot")?),
            "--timeout" => {
                let text = value("--timeout")?;
                options.timeout = Some(
                    text.parse()
                        .map_err(|_| format!("--timeout: not a number: {text}"))?,
                );
            }
            "--config" => options.config = Some(PathBuf::from(value("--config")?)),
            "--image" => options.images.push(PathBuf::from(value("--image")?)),
            "--tree" => {
                let spec = value("--tree")?;
                let (device, dir) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("--tree: expected DEVICE=DIR, got '{spec}'"))?;
                options.trees.push((device.to_string(), PathBuf::from(dir)));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if options.list && options.boot.is_some() {
        return Err("--list and --boot exclude each other".to_string());
    }
    Ok(options)
}

/// kboot.toml, read and parsed once for the menu settings and the network settings.
fn read_config(options: &Options) -> Result<(PathBuf, Document), String> {
    let path = options
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(CONFIG_PATH));
    crate::config::load(&path).map(|doc| (path, doc))
}

fn load_settings(options: &Options, config: &Result<(PathBuf, Document), String>) -> MenuSettings {
    let from_file = match config {
        Ok((path, doc)) => {
            let (settings, warnings) = menu_settings(doc, &path.display().to_string());
            warnings.iter().for_each(|w| warn!("menu: warning: {w}"));
            settings
        }
        Err(err) => {
            if options.config.is_some() {
                warn!("menu: warning: {err}");
            }
            MenuSettings::default()
        }
    };
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let from_args = MenuSettings {
        timeout: options.timeout,
        ..MenuSettings::default()
    };
    from_file
        .overridden_by(parse_kernel_cmdline(&cmdline))
        .overridden_by(from_args)
}

/// Volumes of --image files paired with --tree directories; a tree naming no image volume
/// stands for a filesystem of unknown identity (no UUID or label; type shown as ext4).
fn tree_volumes(options: &Options, warnings: &mut Vec<String>) -> Vec<(Volume, PathBuf)> {
    let scan = discover_images(&options.images);
    warnings.extend(scan.warnings);
    let mut trees = Vec::new();
    for (position, (device, dir)) in options.trees.iter().enumerate() {
        let volume = scan.volumes.iter().find(|v| &v.device == device).cloned();
        let volume = volume.unwrap_or_else(|| Volume {
            device: device.clone(),
            disk_index: options.images.len() + position,
            partition: None,
            fs: FsInfo {
                kind: FsKind::Ext4,
                uuid: None,
                label: None,
            },
        });
        trees.push((volume, dir.clone()));
    }
    trees
}

/// The entries of the initramfs's own configuration, its root at `root`.
fn local_tree(root: &Path) -> Discovery {
    let initramfs = Volume {
        device: "initramfs".into(),
        disk_index: 0,
        partition: None,
        fs: FsInfo {
            kind: FsKind::Ext4,
            uuid: None,
            label: None,
        },
    };
    discover_trees(vec![(initramfs, root.to_path_buf())])
}

/// kboot 2006's `kboot=local`: only the configuration inside the initramfs (/etc/kboot.conf
/// and the like, kernels by paths in the initramfs); no disk is probed or mounted.
fn local_only() -> bool {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    crate::cmdline::parse(&cmdline).local_only
}

/// Brings the network up as configured (kboot.toml `[net]`, `ip=`, `kboot.net=`) and
/// returns the URLs of network menu sources: the configured one, else DHCP boot files.
fn start_network(options: &Options, config: &Result<(PathBuf, Document), String>) -> Vec<String> {
    if !(options.trees.is_empty() && options.images.is_empty()) {
        return Vec::new();
    }
    let toml = config.as_ref().ok().map(|(_, doc)| doc);
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let (cfg, warnings) = crate::net::setup::config_from(toml, &cmdline);
    warnings
        .iter()
        .for_each(|w| warn!("menu: warning: network: {w}"));
    for outcome in crate::net::setup::bring_up(&cfg) {
        match outcome.result {
            Ok(lease) => say!(
                "kboot: network: {} {}/{}{}",
                lease.interface,
                lease.address,
                lease.prefix,
                lease
                    .router
                    .map(|r| format!(" via {r}"))
                    .unwrap_or_default()
            ),
            Err(e) => warn!("menu: warning: network: {e}"),
        }
    }
    match cfg.menu_url {
        Some(url) => vec![url],
        None => crate::net::setup::recorded()
            .into_iter()
            .filter_map(|r| r.boot_url)
            .collect(),
    }
}

fn scan(options: &Options, settings: &MenuSettings, net_sources: &[String]) -> (Discovery, Mounts) {
    let (mut discovery, mounts) = scan_disks(options, settings);
    if !net_sources.is_empty() {
        let network = crate::boot::scan::netsource::network_entries(net_sources);
        discovery.entries.extend(network.entries);
        discovery.warnings.extend(network.warnings);
    }
    (discovery, mounts)
}

fn scan_disks(options: &Options, settings: &MenuSettings) -> (Discovery, Mounts) {
    if options.trees.is_empty() && options.images.is_empty() && local_only() {
        return (local_tree(Path::new("/")), Mounts::default());
    }
    if options.trees.is_empty() && options.images.is_empty() {
        let mut scan_options = ScanOptions::default();
        if let Some(seconds) = settings.scan_timeout {
            scan_options.time_limit = Duration::from_secs(u64::from(seconds.max(1)));
        }
        let (mut discovery, mounts) = discover_disks(&scan_options);
        discovery.entries.extend(efi_entries::firmware_entries(
            Path::new(efi::EFIVARS),
            &scan_options.sys_block,
            &scan_options.dev_dir,
        ));
        return (discovery, mounts);
    }
    let mut warnings = Vec::new();
    let trees = tree_volumes(options, &mut warnings);
    let mut discovery = discover_trees(trees);
    warnings.append(&mut discovery.warnings);
    discovery.warnings = warnings;
    (discovery, Mounts::default())
}

/// One line per entry: `N[*] label | device | kernel | initrds | cmdline` (`*` = default).
pub fn list_line(number: usize, found: &DiscoveredEntry, is_default: bool) -> String {
    let item = MenuItem::from_entry(found);
    let initrds: Vec<String> = found
        .entry
        .initrds
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "{number}{} {} | {} | {} | {} | {}",
        if is_default { "*" } else { "" },
        item.label,
        item.device,
        item.kernel,
        initrds.join(","),
        item.cmdline
    )
}

fn default_index(entries: &[DiscoveredEntry], settings: &MenuSettings) -> usize {
    if let Some(spec) = &settings.default {
        match find_entry(entries, spec) {
            Some(index) => return index,
            None => warn!("menu: warning: default '{spec}' names no entry"),
        }
    }
    entries.iter().position(|e| e.entry.is_default).unwrap_or(0)
}

/// The `menu` applet: the menu on its own terminal; 0 when the user asks for the shell.
pub fn menu_main(args: &[OsString]) -> i32 {
    match menu_on_consoles(args, &[]) {
        Leave::Code(code) => code,
        Leave::Shell { .. } => 0,
    }
}

/// The menu on its own terminal and on the terminals `others` (the front end's way in):
/// how it ended, and on which console the shell was asked for (0: its own, i: others[i-1]).
pub fn menu_on_consoles(args: &[OsString], others: &[PathBuf]) -> Leave {
    let options = match parse_args(args) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            say!("{USAGE}");
            return Leave::Code(0);
        }
        Err(message) => {
            warn!("menu: {message}\n{USAGE}");
            return Leave::Code(2);
        }
    };
    let config = read_config(&options);
    let settings = load_settings(&options, &config);
    let policy = match &config {
        Ok((path, doc)) => crate::boot::signature::install_from(doc, &path.display().to_string()),
        Err(_) => crate::boot::signature::current(),
    };
    if policy.require_signed {
        say!(
            "kboot: signatures required: kernels, initrds and network menus need a .minisig by one of {} trusted key(s)",
            policy.keys.len()
        );
    }
    let net_sources = start_network(&options, &config);
    if options.list {
        return Leave::Code(list(scan_and_report(&options, &settings, &net_sources)));
    }
    if let Some(spec) = &options.boot {
        let scanned = scan_and_report(&options, &settings, &net_sources);
        let counting = settings.boot_counting.unwrap_or(true);
        return Leave::Code(boot_named(spec, scanned, options.dry_run, counting));
    }
    interactive(&options, &settings, &net_sources, others)
}

/// One scan as every mode starts it: the entries with their warnings printed, and the
/// default entry (whose own warning, a default naming no entry, is printed too). The
/// filesystems stay mounted until `mounts` is released or dropped.
pub(super) struct Scanned {
    pub(super) discovery: Discovery,
    pub(super) mounts: Mounts,
    pub(super) default: usize,
}

/// Scan warnings printed before the menu; the rest are counted.
const MAX_SHOWN_WARNINGS: usize = 30;

pub(super) fn scan_and_report(
    options: &Options,
    settings: &MenuSettings,
    net_sources: &[String],
) -> Scanned {
    let (discovery, mounts) = scan(options, settings, net_sources);
    // A hostile disk can make thousands; on a 115200 baud console that is minutes.
    let shown = if options.list {
        usize::MAX
    } else {
        MAX_SHOWN_WARNINGS
    };
    discovery
        .warnings
        .iter()
        .take(shown)
        .for_each(|w| warn!("menu: warning: {w}"));
    if let Some(more) = discovery
        .warnings
        .len()
        .checked_sub(shown)
        .filter(|n| *n > 0)
    {
        warn!("menu: warning: {more} more warnings not shown (kboot menu --list shows all)");
    }
    let default = default_index(&discovery.entries, settings);
    Scanned {
        discovery,
        mounts,
        default,
    }
}

/// Unmounts the scan's filesystems now and says which could not be.
pub(super) fn release_and_report(mounts: &mut Mounts) {
    mounts
        .release_all()
        .iter()
        .for_each(|w| warn!("menu: warning: {w}"));
}

/// `--list`: one line per entry.
fn list(scanned: Scanned) -> i32 {
    let Scanned {
        discovery,
        mut mounts,
        default,
    } = scanned;
    for (index, found) in discovery.entries.iter().enumerate() {
        say!("{}", list_line(index + 1, found, index == default));
    }
    release_and_report(&mut mounts);
    0
}

/// `--boot SPEC`: the entry with that number, label or id, else a typed path name.
fn boot_named(spec: &str, scanned: Scanned, dry_run: bool, boot_counting: bool) -> i32 {
    let Scanned {
        discovery, mounts, ..
    } = scanned;
    let entries = &discovery.entries;
    let index = find_entry(entries, spec);
    if spec.contains(['/', ':']) && index.is_none() {
        // The scan's mounts go first: the path may name one of those filesystems.
        drop(mounts);
        return match boot_path(spec, "", dry_run) {
            Ok(()) => 0,
            Err(failure) => {
                warn!("kboot: cannot boot '{spec}': {}", failure.error);
                1
            }
        };
    }
    let Some(index) = index else {
        warn!(
            "menu: --boot {spec}: no such entry ({} found)",
            entries.len()
        );
        return 1;
    };
    let result = boot(
        &entries[index],
        &entries[index].entry.cmdline,
        dry_run,
        boot_counting,
    );
    drop(mounts);
    match result {
        Ok(()) => 0,
        Err(failure) => {
            warn!(
                "kboot: cannot boot '{}': {}",
                entries[index].entry.label, failure.error
            );
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_mode_reads_only_the_initramfs_tree() {
        // The kboot tree stands in for an initramfs carrying its own /boot/kboot.conf.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/trees/kboot/root");
        let found = local_tree(&root);
        assert!(!found.entries.is_empty(), "{:?}", found.warnings);
        assert!(found.entries.iter().all(|e| e.device == "initramfs"));
        assert_eq!(found.entries[0].entry.label, "Debian 12");
    }
}
