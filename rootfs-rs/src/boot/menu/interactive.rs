//! The interactive menu: scan, show on every console, boot the choice; scan again when
//! the user asks, when a failed boot unmounted the disks, or when the block devices
//! changed (hot-plug: a USB stick's entries appear without a key).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::boot::efi;
use crate::boot::entry::BootEntry;
use crate::boot::loader_iface;
use crate::boot::menu::conf::MenuSettings;
use crate::boot::menu::consoles::{current_block_devices, Consoles, Outcome};
use crate::boot::menu::hotplug::DeviceWatch;
use crate::boot::menu::main::{release_and_report, scan_and_report, Options, Scanned};
use crate::boot::menu::start::{boot, boot_path};
use crate::boot::menu::state::{MenuChoice, MenuItem, MenuState};
use crate::boot::menu::term::run_line_menu;
use crate::boot::scan::volume::DiscoveredEntry;

/// How the menu ended without booting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Exit with this status (1: the terminal failed; 2: bad arguments).
    Code(i32),
    /// The user asked for the shell on console `console` (0: the menu's own terminal,
    /// i: the i-th of the others), or a dry run "booted".
    Shell { console: usize },
}

/// What a scan keeps from the menu before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Carried {
    /// A failed boot's message: shown, and no countdown (the user is at the keyboard).
    message: Option<String>,
    /// After a hot-plug scan: the item that was selected, and the countdown as it was
    /// (None if the user had pressed a key, so it stays stopped).
    kept: Option<(MenuItem, Option<u32>)>,
}

impl Carried {
    /// The menu for freshly scanned `items`; `countdown` is the configured one.
    fn state(self, items: Vec<MenuItem>, default: usize, countdown: Option<u32>) -> MenuState {
        let countdown = match (&self.message, &self.kept) {
            (Some(_), _) => None,
            (None, Some((_, left))) => *left,
            (None, None) => countdown,
        };
        let selected = self
            .kept
            .as_ref()
            .and_then(|(item, _)| items.iter().position(|i| i == item));
        let mut state = MenuState::new(items, default, countdown);
        if let Some(index) = selected {
            state.selected = index;
        }
        state.message = self.message;
        state
    }

    /// What a hot-plug scan keeps of `state`.
    fn after_devices_changed(state: &MenuState) -> Carried {
        Carried {
            message: state.message.clone(),
            kept: state
                .items
                .get(state.selected)
                .map(|item| (item.clone(), state.countdown)),
        }
    }
}

pub(super) fn interactive(
    options: &Options,
    settings: &MenuSettings,
    net_sources: &[String],
    others: &[PathBuf],
) -> Leave {
    let mut consoles = Consoles::open(others);
    // Hot-plug only for the machine's own disks, not for --image/--tree runs.
    let hotplug = options.trees.is_empty() && options.images.is_empty();
    let mut carried = Carried::default();
    // systemd's Boot Loader Interface, for the machine's own boot only (not --image/--tree
    // runs or dry runs): one-shot requests are read (and deleted) once per menu.
    let efivars = Path::new(efi::EFIVARS);
    let bli = hotplug && !options.dry_run && loader_iface::available(efivars);
    let requests = if bli {
        loader_iface::take_requests(efivars, &mut |w| warn!("menu: warning: {w}"))
    } else {
        loader_iface::Requests::default()
    };
    let counting = settings.boot_counting.unwrap_or(true);
    // LoaderDevicePartUUID, looked for once (the first scan has found the disks).
    let mut device: Option<Option<String>> = None;
    loop {
        // Listed before the scan: a device that appears during it is scanned next time.
        let devices = hotplug.then(current_block_devices);
        let Scanned {
            discovery,
            mut mounts,
            default,
        } = scan_and_report(options, settings, net_sources);
        let entries = &discovery.entries;
        let items = entries.iter().map(MenuItem::from_entry).collect();
        let default = requested_default(entries, requests.entry.as_deref()).unwrap_or(default);
        let configured = requests
            .timeout
            .unwrap_or_else(|| settings.countdown(discovery.timeout_secs));
        if bli {
            let listed: Vec<&BootEntry> = entries.iter().map(|e| &e.entry).collect();
            let published =
                loader_iface::publish_menu(efivars, &listed, loader_iface::uptime_usec(), counting)
                    .and_then(|()| match device.get_or_insert_with(loader_partition) {
                        Some(uuid) => loader_iface::publish_device(efivars, uuid),
                        None => Ok(()),
                    });
            if let Err(e) = published {
                warn!("menu: warning: Boot Loader Interface: {e}");
            }
        }
        let mut state = carried
            .state(items, default, configured)
            .with_password(settings.password.clone());
        state.notice = scan_notice(&discovery.warnings);
        let mut watch = devices.map(|list| DeviceWatch::new(list, Instant::now()));
        say!("kboot: menu");
        // The drivers PID 1 held back so that the scan came first; they load at nice 19,
        // so the draw that follows keeps the CPU.
        crate::kmod::background::release();
        let next = run_until_rescan(
            &mut state,
            entries,
            (options.dry_run, counting),
            &mut consoles,
            watch.as_mut(),
        );
        release_and_report(&mut mounts);
        match next {
            Ok(next) => carried = next,
            Err(leave) => return leave,
        }
    }
}

/// The partition GUID of the ESP kboot.efi came from, for LoaderDevicePartUUID.
fn loader_partition() -> Option<String> {
    crate::boot::scan::efi_entries::loader_partition(
        Path::new(efi::EFIVARS),
        Path::new("/sys/class/block"),
        Path::new("/dev"),
    )
}

/// The entry the Boot Loader Interface asked for (LoaderEntryOneShot or
/// LoaderEntryDefault), with a warning when it names none.
fn requested_default(entries: &[DiscoveredEntry], requested: Option<&str>) -> Option<usize> {
    let requested = requested?;
    let found = entries
        .iter()
        .position(|e| loader_iface::names_entry(&e.entry, requested));
    if found.is_none() {
        warn!("menu: warning: the boot loader entry '{requested}' requested through EFI variables names no entry");
    }
    found
}

/// The scan's warnings as one line for the menu: the first, and how many more there are
/// (all of them were printed before the menu, and `kboot menu --list` repeats them).
fn scan_notice(warnings: &[String]) -> Option<String> {
    let first = warnings.first()?;
    Some(match warnings.len() - 1 {
        0 => format!("Warning: {first}"),
        more => format!("Warning: {first} (+{more} more: kboot menu --list)"),
    })
}

/// Shows the menu until the user leaves (Err) or a scan is needed (Ok, with what the
/// next menu keeps).
fn run_until_rescan(
    state: &mut MenuState,
    entries: &[DiscoveredEntry],
    (dry_run, boot_counting): (bool, bool),
    consoles: &mut Consoles,
    mut watch: Option<&mut DeviceWatch>,
) -> Result<Carried, Leave> {
    loop {
        let (choice, console) = if state.expired() {
            state.countdown = None;
            let choice = match entries.get(state.default) {
                Some(found) => MenuChoice::Boot {
                    index: state.default,
                    cmdline: found.entry.cmdline.clone(),
                },
                None => MenuChoice::Shell,
            };
            (choice, 0)
        } else if !consoles.is_terminal() {
            match run_line_menu(state, &mut std::io::stdout()) {
                Ok(choice) => (choice, 0),
                Err(err) => {
                    warn!("menu: terminal: {err}");
                    return Err(Leave::Code(1));
                }
            }
        } else {
            match consoles.run(state, watch.as_deref_mut()) {
                Ok(Outcome::Chosen { choice, console }) => (choice, console),
                Ok(Outcome::DevicesChanged) => return Ok(Carried::after_devices_changed(state)),
                Err(err) => {
                    warn!("menu: terminal: {err}");
                    return Err(Leave::Code(1));
                }
            }
        };
        if !state.permits(&choice) {
            // The console went away, or the line menu: nothing restricted without the
            // password, and no busy loop either.
            state.message = Some("The menu password is needed for that.".to_string());
            std::thread::sleep(std::time::Duration::from_secs(1));
            continue;
        }
        let (label, result) = match choice {
            MenuChoice::Shell => return Err(Leave::Shell { console }),
            MenuChoice::Rescan => return Ok(Carried::default()),
            MenuChoice::Boot { index, cmdline } => {
                let Some(found) = entries.get(index) else {
                    continue;
                };
                let result = boot(found, &cmdline, dry_run, boot_counting);
                (found.entry.label.clone(), result)
            }
            MenuChoice::BootPath { path, cmdline } => {
                let result = boot_path(&path, &cmdline, dry_run);
                (path, result)
            }
        };
        let failure = match result {
            Ok(()) => return Err(Leave::Shell { console }),
            Err(failure) => failure,
        };
        let message = format!("kboot: cannot boot '{label}': {}", failure.error);
        warn!("{message}");
        // A failed reboot has already unmounted the disks: scan again.
        if failure.disks_released {
            return Ok(Carried {
                message: Some(message),
                kept: None,
            });
        }
        state.message = Some(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::menu::state::tests::items;

    #[test]
    fn the_scan_notice_names_the_first_warning_and_counts_the_rest() {
        assert_eq!(scan_notice(&[]), None);
        let one = vec!["vdb: I/O error (os error 5)".to_string()];
        assert_eq!(
            scan_notice(&one).as_deref(),
            Some("Warning: vdb: I/O error (os error 5)")
        );
        let three = vec![one[0].clone(), "b".into(), "c".into()];
        assert_eq!(
            scan_notice(&three).as_deref(),
            Some("Warning: vdb: I/O error (os error 5) (+2 more: kboot menu --list)")
        );
    }

    #[test]
    fn a_fresh_scan_uses_the_configured_countdown() {
        let state = Carried::default().state(items(3), 1, Some(5));
        assert_eq!(
            (state.selected, state.countdown, state.message),
            (1, Some(5), None)
        );
    }

    #[test]
    fn a_hot_plug_scan_keeps_the_selection_and_the_countdown_as_it_was() {
        let mut before = MenuState::new(items(3), 0, Some(5));
        before.handle_key(crate::boot::menu::state::Key::Down);
        // The key stopped the countdown: it stays stopped.
        let carried = Carried::after_devices_changed(&before);
        let mut grown = items(3);
        grown.insert(0, items(4).pop().unwrap());
        let after = carried.state(grown.clone(), 0, Some(5));
        assert_eq!(after.items[after.selected], before.items[1]);
        assert_eq!(after.countdown, None);
        // Nobody pressed a key: the countdown goes on from where it was.
        let mut untouched = MenuState::new(items(3), 2, Some(5));
        untouched.tick();
        let after = Carried::after_devices_changed(&untouched).state(grown, 0, Some(5));
        assert_eq!(after.countdown, Some(4));
        assert_eq!(after.selected, 3, "the same entry, one row further down");
    }

    #[test]
    fn a_selected_entry_that_went_away_falls_back_to_the_default() {
        let before = MenuState::new(items(3), 2, None);
        let after = Carried::after_devices_changed(&before).state(items(2), 1, Some(5));
        assert_eq!((after.selected, after.countdown), (1, None));
    }

    #[test]
    fn a_failed_boot_message_stops_the_countdown() {
        let carried = Carried {
            message: Some("kboot: cannot boot 'x': gone".into()),
            kept: None,
        };
        let state = carried.state(items(2), 0, Some(5));
        assert_eq!(state.countdown, None);
        assert!(state.message.is_some());
    }
}
