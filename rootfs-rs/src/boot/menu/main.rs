//! `menu` applet: discover entries on all disks, show the menu, kexec the choice.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::blockdev::fstype::{FsInfo, FsKind};
use crate::boot::efi;
use crate::boot::launch::kexec;
use crate::boot::launch::kexec::KexecError;
use crate::boot::menu::conf::{
    find_entry, parse_kernel_cmdline, parse_menu_settings, MenuSettings,
};
use crate::boot::menu::state::{MenuChoice, MenuItem, MenuState};
use crate::boot::menu::term::run_menu;
use crate::boot::scan::disks::{
    discover_disks, discover_images, discover_trees, Mounts, ScanOptions,
};
use crate::boot::scan::efi_entries;
use crate::boot::scan::volume::{DiscoveredEntry, Discovery, Volume};
use crate::config::CONFIG_PATH;

/// Console output that cannot panic: a console that went away must not kill the menu.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! warn {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

const USAGE: &str =
    "usage: menu [--list | --boot N|LABEL] [--timeout N] [--config FILE] [--dry-run]
            [--image FILE]... [--tree DEVICE=DIR]...
  --list          print the discovered entries and exit
  --boot N|LABEL  boot entry N (1-based), or the entry with that label or id, without the menu;
                  or a kernel by path name (sda1:/vmlinuz, http://host/vmlinuz, //path)
  --timeout N     countdown in seconds (-1: wait for a key); overrides kboot.toml and kboot.timeout=
  --config FILE   menu settings (default /etc/kboot/kboot.toml, [menu] timeout/default/scan_timeout)
  --dry-run       check the chosen kernel and print what would be loaded; no kexec
  --image FILE    scan the partitions of a raw disk image instead of the block devices
  --tree DEV=DIR  use DIR as the contents of filesystem DEV (an --image volume's name, or new)";

#[derive(Debug, Default)]
struct Options {
    list: bool,
    boot: Option<String>,
    timeout: Option<i64>,
    config: Option<PathBuf>,
    dry_run: bool,
    images: Vec<PathBuf>,
    trees: Vec<(String, PathBuf)>,
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

/// kboot.toml's text, read once for the menu settings and the network settings.
fn read_config(options: &Options) -> Result<(PathBuf, String), String> {
    let path = options
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(CONFIG_PATH));
    crate::config::read(&path).map(|text| (path, text))
}

fn load_settings(options: &Options, config: &Result<(PathBuf, String), String>) -> MenuSettings {
    let from_file = match config {
        Ok((path, text)) => {
            let (settings, warnings) = parse_menu_settings(text, &path.display().to_string());
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
fn start_network(options: &Options, config: &Result<(PathBuf, String), String>) -> Vec<String> {
    if !(options.trees.is_empty() && options.images.is_empty()) {
        return Vec::new();
    }
    let toml = config.as_ref().ok().map(|(_, text)| text.as_str());
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let (cfg, warnings) = crate::net::setup::config(toml, &cmdline);
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
        None => crate::net::setup::recorded_boot_files()
            .into_iter()
            .filter(|f| crate::net::url::is_url(f))
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

/// Why a boot failed, and whether the disks were already unmounted for the reboot.
struct BootFailure {
    error: KexecError,
    disks_released: bool,
}

impl From<KexecError> for BootFailure {
    fn from(error: KexecError) -> BootFailure {
        BootFailure {
            error,
            disks_released: false,
        }
    }
}

/// Prints the marker, loads and starts the entry; returns only on failure (or after a dry run).
fn boot(found: &DiscoveredEntry, cmdline: &str, dry_run: bool) -> Result<(), BootFailure> {
    let mut chosen = found.clone();
    chosen.entry.cmdline = cmdline.to_string();
    if !dry_run {
        if let Some(failure) = hand_back(&chosen) {
            return Err(failure);
        }
    }
    say!(
        "kboot: booting '{}' from {} ({})",
        chosen.entry.label,
        chosen.device,
        chosen.entry.kernel.display()
    );
    if crate::boot::scan::netsource::is_network_entry(&chosen) {
        crate::boot::scan::netsource::fetch_files(&chosen).map_err(|e| KexecError::Other {
            what: "download",
            error: std::io::Error::other(e),
        })?;
    }
    let plan = kexec::plan(&chosen)?;
    if dry_run {
        let image = kexec::check_plan(&plan, false)?;
        let initrds: Vec<String> = plan
            .initrds
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        say!(
            "kboot: dry run: kexec_file_load kernel={} (boot protocol {}.{}) initrd={} cmdline='{}'",
            plan.kernel.display(),
            image.protocol >> 8,
            image.protocol & 0xFF,
            if initrds.is_empty() { "none".to_string() } else { initrds.join("+") },
            plan.cmdline
        );
        return Ok(());
    }
    kexec::load_plan(&plan, false, std::path::Path::new(kexec::STAGING_DIR))?;
    let _ = std::io::stdout().flush();
    Err(BootFailure {
        error: kexec::execute(),
        disks_released: true,
    })
}

/// Reboots after a hand-back to the first stage (`target`: who boots the entry next).
/// Returns only on failure.
fn reboot_after_hand_back(done: Result<String, String>, target: &'static str) -> BootFailure {
    let error = match done {
        Ok(what) => {
            say!("kboot: {what}; rebooting into {target}");
            let _ = std::io::stdout().flush();
            let code = crate::power::reboot_main(&[]);
            std::io::Error::other(format!("reboot failed (status {code})"))
        }
        Err(message) => std::io::Error::other(message),
    };
    BootFailure {
        error: KexecError::Other {
            what: "hand-back",
            error,
        },
        disks_released: true,
    }
}

/// Entries kexec cannot start: firmware boot options and EFI files go back to the
/// firmware (BootNext), a grub.cfg's chainload entries to GRUB (next_entry).
fn hand_back(chosen: &DiscoveredEntry) -> Option<BootFailure> {
    let label = &chosen.entry.label;
    if efi_entries::is_firmware_setup(chosen) {
        let done = efi::request_firmware_setup(Path::new(efi::EFIVARS))
            .map(|()| "OsIndications: boot to firmware UI".to_string())
            .map_err(|e| format!("OsIndications: {e}"));
        return Some(reboot_after_hand_back(done, "the firmware setup"));
    }
    if efi_entries::is_firmware_entry(chosen) {
        say!("kboot: '{label}' is booted by the firmware");
        let done = efi_entries::hand_back(
            chosen,
            Path::new(efi::EFIVARS),
            Path::new("/sys/class/block"),
            Path::new("/dev"),
        )
        .map(|n| format!("BootNext=Boot{n:04X} ('{label}')"));
        return Some(reboot_after_hand_back(done, "the firmware"));
    }
    if crate::boot::launch::handback::can_hand_back(chosen) {
        say!("kboot: '{label}' is not Linux: handing it back to GRUB");
        let done = crate::boot::launch::handback::grub_reboot(chosen)
            .map(|env| format!("{env} set next_entry='{label}'"));
        return Some(reboot_after_hand_back(done, "GRUB"));
    }
    None
}

pub fn menu_main(args: &[OsString]) -> i32 {
    let options = match parse_args(args) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            say!("{USAGE}");
            return 0;
        }
        Err(message) => {
            warn!("menu: {message}\n{USAGE}");
            return 2;
        }
    };
    let config = read_config(&options);
    let settings = load_settings(&options, &config);
    let net_sources = start_network(&options, &config);
    let mut carried_message: Option<String> = None;
    loop {
        let (discovery, mut mounts) = scan(&options, &settings, &net_sources);
        discovery
            .warnings
            .iter()
            .for_each(|w| warn!("menu: warning: {w}"));
        let entries = &discovery.entries;
        let default = default_index(entries, &settings);
        if options.list {
            for (index, found) in entries.iter().enumerate() {
                say!("{}", list_line(index + 1, found, index == default));
            }
            mounts
                .release_all()
                .iter()
                .for_each(|w| warn!("menu: warning: {w}"));
            return 0;
        }
        if let Some(spec) = &options.boot {
            let is_path = spec.contains(['/', ':']);
            if is_path && find_entry(entries, spec).is_none() {
                mounts.release_all();
                return match boot_path(spec, "", options.dry_run) {
                    Ok(()) => 0,
                    Err(failure) => {
                        warn!("kboot: cannot boot '{spec}': {}", failure.error);
                        1
                    }
                };
            }
            let Some(index) = find_entry(entries, spec) else {
                warn!(
                    "menu: --boot {spec}: no such entry ({} found)",
                    entries.len()
                );
                mounts.release_all();
                return 1;
            };
            let result = boot(
                &entries[index],
                &entries[index].entry.cmdline,
                options.dry_run,
            );
            mounts.release_all();
            return match result {
                Ok(()) => 0,
                Err(failure) => {
                    warn!(
                        "kboot: cannot boot '{}': {}",
                        entries[index].entry.label, failure.error
                    );
                    1
                }
            };
        }
        let items = entries.iter().map(MenuItem::from_entry).collect();
        let countdown = match carried_message {
            Some(_) => None,
            None => settings.countdown(discovery.timeout_secs),
        };
        let mut state = MenuState::new(items, default, countdown);
        state.message = carried_message.take();
        say!("kboot: menu");
        let rescan = run_until_rescan(&mut state, entries, options.dry_run);
        mounts
            .release_all()
            .iter()
            .for_each(|w| warn!("menu: warning: {w}"));
        match rescan {
            Ok(message) => carried_message = message,
            Err(code) => return code,
        }
    }
}

/// Shows the menu until the user leaves (Err(exit code)) or a rescan is needed (Ok, with a
/// message to show afterwards when a boot attempt unmounted the disks).
fn run_until_rescan(
    state: &mut MenuState,
    entries: &[DiscoveredEntry],
    dry_run: bool,
) -> Result<Option<String>, i32> {
    let mut stdout = std::io::stdout();
    loop {
        let choice = if state.expired() {
            state.countdown = None;
            match entries.get(state.default) {
                Some(found) => MenuChoice::Boot {
                    index: state.default,
                    cmdline: found.entry.cmdline.clone(),
                },
                None => MenuChoice::Shell,
            }
        } else {
            match run_menu(state, &mut stdout) {
                Ok(choice) => choice,
                Err(err) => {
                    warn!("menu: terminal: {err}");
                    return Err(1);
                }
            }
        };
        let (label, result) = match choice {
            MenuChoice::Shell => return Err(0),
            MenuChoice::Rescan => return Ok(None),
            MenuChoice::Boot { index, cmdline } => {
                let Some(found) = entries.get(index) else {
                    continue;
                };
                (found.entry.label.clone(), boot(found, &cmdline, dry_run))
            }
            MenuChoice::BootPath { path, cmdline } => {
                let result = boot_path(&path, &cmdline, dry_run);
                (path, result)
            }
        };
        let failure = match result {
            Ok(()) => return Err(0),
            Err(failure) => failure,
        };
        let message = format!("kboot: cannot boot '{label}': {}", failure.error);
        warn!("{message}");
        // A failed reboot has already unmounted the disks: scan again.
        if failure.disks_released {
            return Ok(Some(message));
        }
        state.message = Some(message);
    }
}

/// Boots the kernel a typed path name names (fetched or mounted by `pathname`), with
/// `cmdline`, or kboot's own command line less its own switches when that is empty.
/// As in kboot 2006, a plain `/path` means the booted system's: the filesystem the
/// command line's `root=` names (LABEL=, UUID= or a device), when there is one.
fn boot_path(path: &str, cmdline: &str, dry_run: bool) -> Result<(), BootFailure> {
    use crate::pathname::{parse, resolve, Fetching, PathName, REAL_SYSTEM};
    let cmdline = if cmdline.is_empty() {
        own_cmdline_for_a_kernel()
    } else {
        cmdline.to_string()
    };
    let name = match (
        parse(path, &REAL_SYSTEM),
        crate::blockdev::spec::root_from_cmdline(&cmdline),
    ) {
        (Ok(PathName::Local(p)), Some(fs)) if path.starts_with('/') && !path.starts_with("//") => {
            Ok(PathName::OnFilesystem {
                fs,
                path: p.to_string_lossy().into_owned(),
            })
        }
        (name, _) => name,
    };
    let kernel = name
        .and_then(|n| resolve(&n, &Fetching::default()))
        .map_err(|e| KexecError::Other {
            what: "path name",
            error: std::io::Error::other(e),
        })?;
    let found = DiscoveredEntry {
        entry: crate::boot::entry::BootEntry::linux(path, kernel, "typed path name"),
        device: "path".into(),
        fs_uuid: None,
        fs_label: None,
        mount_point: PathBuf::from("/"),
        config_device: String::new(),
    };
    boot(&found, &cmdline, dry_run)
}

fn own_cmdline_for_a_kernel() -> String {
    let own = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    crate::cmdline::split_kernel_cmdline(&own)
        .into_iter()
        .filter(|w| {
            !(w.starts_with("kboot") || w.starts_with("BOOT_IMAGE=") || w.starts_with("initrd="))
        })
        .collect::<Vec<_>>()
        .join(" ")
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
