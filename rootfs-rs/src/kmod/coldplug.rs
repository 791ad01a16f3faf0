//! Coldplug: load the drivers of the devices that exist already. The kernel announced
//! them with uevents before PID 1 could listen, but each left a `modalias` file in sysfs;
//! reading those of /sys/bus/*/devices replays what udev's `udevadm trigger` does.
//!
//! One pass is not enough: a driver that binds creates new devices (the xHCI driver makes
//! the USB root hubs, megaraid_sas the SCSI devices of its disks), so after a pass has
//! loaded drivers and their devices have bound ([`settle`]), the walk repeats until it
//! finds no modalias it had not seen, or the deadline passes. Devices that take longer
//! to show up (a USB stick is enumerated a few hundred ms after its controller) are the
//! uevent listener's, and the menu rescans when their disks appear.
//!
//! [`settle`]: super::settle

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::index::Target;
use super::load::{Failure, Inserter, Modprobe, Outcome};
use super::settle;

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
    /// Devices whose driver was loaded but that had not bound when the wait ended: still
    /// probing (they appear later) or their probe failed (the kernel log says why).
    pub unbound: Vec<PathBuf>,
    /// Modaliases left to the background (see [`Deferral`]), and the modules they
    /// resolve to.
    pub deferred: Vec<String>,
    pub deferred_modules: Vec<String>,
}

/// Which devices the boot waits for. The menu needs disks before it scans, and network
/// cards only when the network is configured; a display driver or a USB keyboard can
/// arrive while it is already drawn (the firmware's console and the PS/2 keyboard serve
/// until then). In QEMU under TCG the DRM stack alone took 0.15–0.5 s, the USB HID pair
/// 0.3 s and two NICs (e1000e, vmxnet3) 0.18 s of the boot's coldplug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deferral {
    /// Leave display and input drivers to the uevent listener thread.
    pub display_and_input: bool,
    /// Leave network drivers to it too.
    pub network: bool,
}

impl Deferral {
    /// Load everything now (`modprobe --coldplug`, the listener's rescans).
    pub const NOTHING: Deferral = Deferral {
        display_and_input: false,
        network: false,
    };

    /// Is the module at `module_path` (relative to /lib/modules/VERSION) one of those left
    /// to the background?
    fn covers(&self, module_path: &Path) -> bool {
        let path = module_path.to_string_lossy();
        let display_and_input = [
            "/drivers/gpu/",
            "/drivers/video/",
            "/drivers/hid/",
            "/drivers/input/",
            "/sound/",
        ];
        (self.display_and_input && display_and_input.iter().any(|dir| path.contains(dir)))
            || (self.network && path.contains("/drivers/net/"))
    }
}

/// True when every module an alias resolves to (`targets`) may wait (and there is at
/// least one).
fn may_wait(targets: &[Target<'_>], deferral: Deferral) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for target in targets {
        match target {
            Target::Loadable(module) if deferral.covers(&module.path) => {
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
        if !self.unbound.is_empty() {
            let names: Vec<String> = self
                .unbound
                .iter()
                .filter_map(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            text.push_str(&format!(", not bound yet: {}", names.join(", ")));
        }
        if self.cut_short {
            text.push_str(", deadline reached (the rest continues in the background)");
        }
        text
    }
}

/// Every modalias of every device on every bus, with the devices showing it:
/// `SYSFS/bus/*/devices/*/modalias`, the list `udevadm trigger` walks. A device sits on
/// one bus, its entry there a symlink to its directory under /sys/devices, so each is read
/// once and no walk can loop. Walking all of /sys/devices instead (tens of thousands of
/// attribute files and directories) took 0.2–0.6 s per pass under TCG with nine
/// controllers attached; this takes 20–40 ms.
pub fn modaliases(sysfs: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut found: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for bus in entries(&sysfs.join("bus")) {
        for device in entries(&bus.join("devices")) {
            if let Ok(text) = std::fs::read_to_string(device.join("modalias")) {
                let alias = text.trim();
                if !alias.is_empty() {
                    found.entry(alias.to_string()).or_default().push(device);
                }
            }
        }
    }
    found
}

/// The paths in `dir`, none when it cannot be read (a bus without devices has no folder
/// in a fake tree; a device can vanish between the listing and the read).
fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(list) => list.flatten().map(|entry| entry.path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Walk, load, wait for the devices to bind, repeat (see the file comment). `sysfs` is
/// /sys at boot and a fake tree in tests; `deadline` bounds the whole run, waits included.
pub fn run(
    sysfs: &Path,
    probe: &mut Modprobe<'_>,
    inserter: &mut dyn Inserter,
    deadline: Duration,
    deferral: Deferral,
) -> Report {
    let start = Instant::now();
    let mut report = Report::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    probe.use_blacklist = true;
    // Drivers probe in the kernel's async workers, so one device's slow probe (a RAID
    // controller's firmware, a NIC's PHY reset) overlaps the next module's load; the
    // settle below waits for them all before the next walk.
    probe.async_probe = inserter.binds_devices();
    loop {
        let fresh: Vec<(String, Vec<PathBuf>)> = modaliases(sysfs)
            .into_iter()
            .filter(|(alias, _)| !seen.contains(alias))
            .collect();
        if fresh.is_empty() {
            break;
        }
        report.passes += 1;
        let mut bind_expected = Vec::new();
        for (alias, devices) in fresh {
            if start.elapsed() >= deadline {
                report.cut_short = true;
                break;
            }
            let targets = probe.targets(&alias);
            match may_wait(&targets, deferral) {
                Some(names) => {
                    report.deferred_modules.extend(names);
                    report.deferred.push(alias.clone());
                }
                None => {
                    let outcome = probe.probe_targets(&alias, &targets, "", inserter);
                    if record(&alias, outcome, &mut report) {
                        bind_expected.extend(devices);
                    }
                }
            }
            seen.insert(alias);
        }
        if inserter.binds_devices() {
            let left = deadline.saturating_sub(start.elapsed());
            report
                .unbound
                .extend(settle::wait_for_drivers(&bind_expected, left));
        }
        if report.cut_short || start.elapsed() >= deadline {
            break;
        }
    }
    report.elapsed = start.elapsed();
    report
}

/// Load the modules for one modalias into the report, `extra` added to the driver's
/// parameters. True when a driver went in (its devices are then expected to bind).
pub fn load_for(
    alias: &str,
    extra: &str,
    probe: &mut Modprobe<'_>,
    inserter: &mut dyn Inserter,
    report: &mut Report,
) -> bool {
    record(alias, probe.probe(alias, extra, inserter), report)
}

/// Adds one alias's outcome to `report`; true when a driver was inserted.
fn record(alias: &str, outcome: Result<Outcome, Failure>, report: &mut Report) -> bool {
    match outcome {
        Ok(outcome) => {
            let inserted_driver = !outcome.drivers.is_empty();
            report.loaded.extend(outcome.inserted);
            report.drivers.extend(outcome.drivers);
            report.failures.extend(outcome.failures);
            inserted_driver
        }
        Err(_) => {
            report.unmatched.push(alias.to_string());
            false
        }
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

        /// A device as sysfs shows it: its folder under sys/devices with a modalias, and
        /// its bus's symlink to that folder.
        fn device(&self, bus: &str, devpath: &str, alias: &str) -> PathBuf {
            let dir = self.0.join("sys/devices").join(devpath);
            self.write(&format!("sys/devices/{devpath}/modalias"), alias);
            let link_dir = self.0.join("sys/bus").join(bus).join("devices");
            std::fs::create_dir_all(&link_dir).expect("mkdir bus");
            let name = devpath.rsplit('/').next().unwrap_or(devpath);
            std::os::unix::fs::symlink(&dir, link_dir.join(name)).expect("symlink");
            dir
        }

        fn sysfs(&self) -> PathBuf {
            self.0.join("sys")
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
        tree.device("pci", "pci0000:00/0000:00:04.0", &format!("{NVME}\n"));
        tree.write("sys/devices/pci0000:00/0000:00:04.0/vendor", "0x144d\n");
        tree.device("pci", "pci0000:00/0000:00:00.0", &format!("{BRIDGE}\n"));
        // A device folder nothing links to from a bus is not a device of the walk (its
        // files are attributes), and an unreadable bus is skipped.
        tree.write("sys/devices/pci0000:00/0000:00:04.0/power/modalias", NIC);
        tree.write("sys/bus/empty/drivers_autoprobe", "1\n");
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let mut order = Vec::new();
        let mut record = |name: &str, path: &Path, _: &str| {
            order.push((name.to_string(), path.to_path_buf()));
            Ok(())
        };
        let report = run(
            &tree.sysfs(),
            &mut probe,
            &mut record,
            Duration::from_secs(3),
            Deferral::NOTHING,
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
        tree.device("pci", "pci0000:00/0000:00:04.0", NVME);
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let mut order = Vec::new();
        // Loading nvme "creates" a child device whose driver is e1000e.
        let mut record = |name: &str, _: &Path, _: &str| {
            if name == "nvme" {
                tree.device("pci", "pci0000:00/0000:00:04.0/0000:01:00.0", NIC);
            }
            order.push(name.to_string());
            Ok(())
        };
        let report = run(
            &tree.sysfs(),
            &mut probe,
            &mut record,
            Duration::from_secs(3),
            Deferral::NOTHING,
        );
        assert_eq!(order, ["nvme_core", "nvme", "e1000e"]);
        assert_eq!(report.passes, 2);
    }

    #[test]
    fn the_deadline_cuts_the_run_short() {
        let tree = Tree::new("deadline");
        let index = modules_tree(&tree);
        tree.device("pci", "a", NVME);
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let mut never = |_: &str, _: &Path, _: &str| -> Result<(), String> { Ok(()) };
        let report = run(
            &tree.sysfs(),
            &mut probe,
            &mut never,
            Duration::ZERO,
            Deferral::NOTHING,
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
        tree.device("pci", "pci0000:00/0000:00:04.0", NVME);
        tree.device("pci", "pci0000:00/0000:00:01.0", vga);
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let mut order = Vec::new();
        let mut record = |name: &str, _: &Path, _: &str| {
            order.push(name.to_string());
            Ok(())
        };
        let report = run(
            &tree.sysfs(),
            &mut probe,
            &mut record,
            Duration::from_secs(3),
            Deferral {
                display_and_input: true,
                network: false,
            },
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

    /// An inserter standing for the kernel: it records parameters and binds every device
    /// under `bind` as soon as a driver goes in, as an async probe would a moment later.
    struct BindingKernel<'t> {
        inserted: Vec<(String, String)>,
        bind: &'t [PathBuf],
    }

    impl Inserter for BindingKernel<'_> {
        fn insert(&mut self, name: &str, _: &Path, params: &str) -> Result<(), String> {
            self.inserted.push((name.to_string(), params.to_string()));
            for device in self.bind {
                let _ = std::fs::create_dir_all(device.join("driver"));
            }
            Ok(())
        }

        fn binds_devices(&self) -> bool {
            true
        }
    }

    #[test]
    fn drivers_probe_asynchronously_and_network_cards_can_wait() {
        let tree = Tree::new("async");
        tree.write(
            "lib/modules/6.1.0/modules.dep",
            "kernel/drivers/nvme/host/nvme.ko:\nkernel/drivers/net/ethernet/intel/e1000e/e1000e.ko:\n",
        );
        tree.write(
            "lib/modules/6.1.0/modules.alias",
            "alias pci:v*d*sv*sd*bc01sc08i02* nvme\nalias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n",
        );
        let index = ModuleIndex::load(&tree.0.join("lib/modules/6.1.0")).expect("index");
        tree.device("pci", "pci0000:00/0000:00:04.0", NVME);
        tree.device("pci", "pci0000:00/0000:00:02.0", NIC);
        let nvme = tree.sysfs().join("bus/pci/devices/0000:00:04.0");
        let bind = [nvme];
        let mut kernel = BindingKernel {
            inserted: Vec::new(),
            bind: &bind,
        };
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let deferral = Deferral {
            display_and_input: true,
            network: true,
        };
        let report = run(
            &tree.sysfs(),
            &mut probe,
            &mut kernel,
            Duration::from_secs(3),
            deferral,
        );
        assert_eq!(
            kernel.inserted,
            [("nvme".to_string(), "async_probe".to_string())]
        );
        assert_eq!(report.deferred_modules, ["e1000e"]);
        assert!(report.unbound.is_empty(), "{:?}", report.unbound);
        // Without the deferral the NIC's driver goes in too; its device never binds here
        // (a failed probe), so the run waits until the deadline and names it.
        let mut kernel = BindingKernel {
            inserted: Vec::new(),
            bind: &bind,
        };
        let mut probe = Modprobe::with_loaded(&index, ModuleOptions::default(), HashSet::new());
        let report = run(
            &tree.sysfs(),
            &mut probe,
            &mut kernel,
            Duration::from_millis(200),
            Deferral::NOTHING,
        );
        assert_eq!(kernel.inserted.len(), 2);
        assert!(report.elapsed >= Duration::from_millis(200));
        assert!(
            report.summary().contains("not bound yet: 0000:00:02.0"),
            "{}",
            report.summary()
        );
    }
}
