//! Coldplug: load the drivers of the devices that exist already. The kernel announced
//! them with uevents before PID 1 could listen, but each left a `modalias` file in sysfs;
//! walking /sys/devices for them replays what udev's `udevadm trigger` does.
//!
//! One pass is not enough: a driver that binds creates new devices (the xHCI driver makes
//! the USB root hubs, their ports the USB devices, usb-storage the SCSI disks), so passes
//! repeat, a short sleep apart, until one finds no modalias it had not seen, or the
//! deadline passes. Whatever arrives later is the uevent listener's.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use super::index::Target;
use super::load::{Failure, Inserter, Modprobe};

/// /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0 is
/// eight levels deep; twice that leaves room and still ends a walk of a looping tree.
const MAX_DEPTH: usize = 16;

/// Between passes: long enough for a freshly bound driver to register its children
/// (USB port debounce is ~100 ms), short against the 3 s boot budget.
const PASS_PAUSE: Duration = Duration::from_millis(150);

#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Modules inserted, in order.
    pub loaded: Vec<String>,
    /// Of those, the drivers devices asked for (the rest are their dependencies).
    pub drivers: Vec<String>,
    /// Modaliases no module claims (devices without a driver, or with a built-in one).
    pub unmatched: Vec<String>,
    pub failures: Vec<Failure>,
    pub passes: usize,
    pub elapsed: Duration,
    /// The deadline stopped the work with modaliases left unhandled.
    pub cut_short: bool,
    /// Modaliases left to the background (Deferral::DisplayAndInput), and the modules
    /// they resolve to.
    pub deferred: Vec<String>,
    pub deferred_modules: Vec<String>,
}

/// Which devices the boot waits for. The menu needs disks (and NICs, for network
/// sources) before it scans; a display driver or a USB keyboard can arrive while it is
/// already drawn (the firmware's console and the PS/2 keyboard serve until then). In
/// QEMU under TCG the DRM stack alone took 0.15–0.5 s and the USB HID pair 0.3 s of
/// the boot's coldplug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// Load everything now (`modprobe --coldplug`, the listener's rescans).
    Nothing,
    /// Leave display and input drivers to the uevent listener thread.
    DisplayAndInput,
}

/// Display and input drivers: DRM/framebuffer, HID, input, sound.
fn is_deferrable(module_path: &Path) -> bool {
    let path = module_path.to_string_lossy();
    [
        "/drivers/gpu/",
        "/drivers/video/",
        "/drivers/hid/",
        "/drivers/input/",
        "/sound/",
    ]
    .iter()
    .any(|dir| path.contains(dir))
}

/// True when every module `alias` resolves to may wait (and there is at least one).
fn may_wait(alias: &str, probe: &Modprobe<'_>) -> Option<Vec<String>> {
    let targets = probe.targets(alias);
    let mut names = Vec::new();
    for target in &targets {
        match target {
            Target::Loadable(module) if is_deferrable(&module.path) => {
                names.push(module.name.clone())
            }
            _ => return None,
        }
    }
    (!names.is_empty()).then_some(names)
}

impl Report {
    /// `14 loaded in 0.21 s (drivers: nvme, xhci_pci, usb_storage, …)`: the boot's one
    /// line; the drivers say what hardware was found, the count what it cost.
    pub fn summary(&self) -> String {
        const SHOWN: usize = 8;
        let mut text = format!(
            "{} loaded in {:.2} s",
            self.loaded.len(),
            self.elapsed.as_secs_f64()
        );
        if !self.drivers.is_empty() {
            let mut names = self.drivers[..self.drivers.len().min(SHOWN)].join(", ");
            if self.drivers.len() > SHOWN {
                names.push_str(", …");
            }
            text.push_str(&format!(" (drivers: {names})"));
        }
        if !self.failures.is_empty() {
            text.push_str(&format!(", {} failed", self.failures.len()));
        }
        if !self.deferred_modules.is_empty() {
            let mut names = self.deferred_modules.clone();
            names.dedup();
            text.push_str(&format!("; in the background: {}", names.join(", ")));
        }
        if self.cut_short {
            text.push_str(", deadline reached (the rest continues in the background)");
        }
        text
    }
}

/// Every modalias under `devices` (e.g. /sys/devices), read from regular files only:
/// symlinks (`subsystem`, `driver`, `port`…) are never followed, so each device is seen
/// once and loops cannot form.
pub fn modaliases(devices: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect(devices, 0, &mut found);
    found
}

fn collect(dir: &Path, depth: usize, found: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && depth < MAX_DEPTH {
            collect(&entry.path(), depth + 1, found);
        } else if kind.is_file() && entry.file_name() == "modalias" {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                let alias = text.trim();
                if !alias.is_empty() {
                    found.insert(alias.to_string());
                }
            }
        }
    }
}

/// Walk, load, repeat (see the file comment). `devices` is /sys/devices at boot and a
/// fake tree in tests; `deadline` bounds the whole run, sleeps included.
pub fn run(
    devices: &Path,
    probe: &mut Modprobe<'_>,
    inserter: &mut dyn Inserter,
    deadline: Duration,
    deferral: Deferral,
) -> Report {
    let start = Instant::now();
    let mut report = Report::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    probe.use_blacklist = true;
    loop {
        let fresh: Vec<String> = modaliases(devices)
            .into_iter()
            .filter(|a| !seen.contains(a))
            .collect();
        if fresh.is_empty() {
            break;
        }
        report.passes += 1;
        for alias in fresh {
            if start.elapsed() >= deadline {
                report.cut_short = true;
                break;
            }
            let waits = match deferral {
                Deferral::DisplayAndInput => may_wait(&alias, probe),
                Deferral::Nothing => None,
            };
            match waits {
                Some(names) => {
                    report.deferred_modules.extend(names);
                    report.deferred.push(alias.clone());
                }
                None => load_for(&alias, probe, inserter, &mut report),
            }
            seen.insert(alias);
        }
        if report.cut_short || start.elapsed() + PASS_PAUSE >= deadline {
            break;
        }
        std::thread::sleep(PASS_PAUSE);
    }
    report.elapsed = start.elapsed();
    report
}

/// Load the modules for one modalias into the report.
pub fn load_for(
    alias: &str,
    probe: &mut Modprobe<'_>,
    inserter: &mut dyn Inserter,
    report: &mut Report,
) {
    match probe.probe(alias, "", inserter) {
        Ok(outcome) => {
            report.loaded.extend(outcome.inserted);
            report.drivers.extend(outcome.drivers);
            report.failures.extend(outcome.failures);
        }
        Err(_) => report.unmatched.push(alias.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmod::index::ModuleIndex;
    use crate::kmod::load::ModuleOptions;
    use std::collections::HashSet;
    use std::path::PathBuf;

    struct Tree(PathBuf);

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl Tree {
        fn new(name: &str) -> Tree {
            let dir =
                std::env::temp_dir().join(format!("kboot-coldplug-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Tree(dir)
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, text).expect("write");
        }
    }

    const NVME: &str = "pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02";
    const NIC: &str = "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00";
    const BRIDGE: &str = "pci:v00008086d00001237sv00000000sd00000000bc06sc00i00";

    fn modules_tree(tree: &Tree) -> ModuleIndex {
        tree.write(
            "lib/modules/6.1.0/modules.dep",
            "kernel/nvme.ko: kernel/nvme-core.ko\nkernel/nvme-core.ko:\nkernel/e1000e.ko:\n",
        );
        tree.write(
            "lib/modules/6.1.0/modules.alias",
            "alias pci:v*d*sv*sd*bc01sc08i02* nvme\nalias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n",
        );
        ModuleIndex::load(&tree.0.join("lib/modules/6.1.0")).expect("index")
    }

    #[test]
    fn a_fake_sysfs_loads_drivers_with_dependencies_first() {
        let tree = Tree::new("pci");
        let index = modules_tree(&tree);
        tree.write(
            "sys/devices/pci0000:00/0000:00:04.0/modalias",
            &format!("{NVME}\n"),
        );
        tree.write("sys/devices/pci0000:00/0000:00:04.0/vendor", "0x144d\n");
        tree.write(
            "sys/devices/pci0000:00/0000:00:00.0/modalias",
            &format!("{BRIDGE}\n"),
        );
        // The same device seen through a symlink must not count twice.
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink(
            tree.0.join("sys/devices/pci0000:00"),
            tree.0.join("sys/devices/pci0000:00/0000:00:04.0/loop"),
        );
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let mut order = Vec::new();
        let mut record = |name: &str, path: &Path, _: &str| {
            order.push((name.to_string(), path.to_path_buf()));
            Ok(())
        };
        let devices = tree.0.join("sys/devices");
        let report = run(
            &devices,
            &mut probe,
            &mut record,
            Duration::from_secs(3),
            Deferral::Nothing,
        );
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["nvme_core", "nvme"]);
        assert_eq!(order[1].1, tree.0.join("lib/modules/6.1.0/kernel/nvme.ko"));
        assert_eq!(report.loaded, ["nvme_core", "nvme"]);
        assert_eq!(report.unmatched, [BRIDGE]);
        assert_eq!(report.passes, 1);
        assert!(!report.cut_short);
        assert!(report.summary().starts_with("2 loaded in "));
        assert!(report.summary().ends_with("(drivers: nvme)"));
    }

    #[test]
    fn devices_that_appear_after_a_driver_binds_get_a_second_pass() {
        let tree = Tree::new("passes");
        let index = modules_tree(&tree);
        tree.write("sys/devices/pci0000:00/0000:00:04.0/modalias", NVME);
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let nic = tree
            .0
            .join("sys/devices/pci0000:00/0000:00:04.0/child/modalias");
        let mut order = Vec::new();
        // Loading nvme "creates" a child device whose driver is e1000e.
        let mut record = |name: &str, _: &Path, _: &str| {
            if name == "nvme" {
                let _ = std::fs::create_dir_all(nic.parent().unwrap_or(Path::new("/")));
                let _ = std::fs::write(&nic, NIC);
            }
            order.push(name.to_string());
            Ok(())
        };
        let report = run(
            &tree.0.join("sys/devices"),
            &mut probe,
            &mut record,
            Duration::from_secs(3),
            Deferral::Nothing,
        );
        assert_eq!(order, ["nvme_core", "nvme", "e1000e"]);
        assert_eq!(report.passes, 2);
    }

    #[test]
    fn the_deadline_cuts_the_run_short() {
        let tree = Tree::new("deadline");
        let index = modules_tree(&tree);
        tree.write("sys/devices/a/modalias", NVME);
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let mut never = |_: &str, _: &Path, _: &str| -> Result<(), String> { Ok(()) };
        let report = run(
            &tree.0.join("sys/devices"),
            &mut probe,
            &mut never,
            Duration::ZERO,
            Deferral::Nothing,
        );
        assert!(report.cut_short && report.loaded.is_empty());
        assert!(report.summary().contains("deadline"));
    }

    #[test]
    fn display_and_input_drivers_wait_for_the_background_at_boot() {
        let tree = Tree::new("defer");
        tree.write(
            "lib/modules/6.1.0/modules.dep",
            "kernel/drivers/nvme/host/nvme.ko:\nkernel/drivers/gpu/drm/tiny/bochs.ko:\n",
        );
        tree.write(
            "lib/modules/6.1.0/modules.alias",
            "alias pci:v*d*sv*sd*bc01sc08i02* nvme\nalias pci:v00001234d00001111sv*sd*bc03sc00i00* bochs\n",
        );
        let index = ModuleIndex::load(&tree.0.join("lib/modules/6.1.0")).expect("index");
        let vga = "pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00";
        tree.write("sys/devices/pci0000:00/0000:00:04.0/modalias", NVME);
        tree.write("sys/devices/pci0000:00/0000:00:01.0/modalias", vga);
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let mut order = Vec::new();
        let mut record = |name: &str, _: &Path, _: &str| {
            order.push(name.to_string());
            Ok(())
        };
        let report = run(
            &tree.0.join("sys/devices"),
            &mut probe,
            &mut record,
            Duration::from_secs(3),
            Deferral::DisplayAndInput,
        );
        assert_eq!(order, ["nvme"]);
        assert_eq!(report.deferred, [vga]);
        assert_eq!(report.deferred_modules, ["bochs"]);
        assert!(
            report.summary().ends_with("; in the background: bochs"),
            "{}",
            report.summary()
        );
    }
}
