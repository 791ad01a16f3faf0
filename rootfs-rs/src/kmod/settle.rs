//! After a coldplug pass has loaded drivers that probe asynchronously: wait until their
//! devices are bound, i.e. until sysfs shows the device's `driver` link, which the kernel
//! creates once a probe has succeeded. The next walk then sees the devices those drivers
//! created (a SCSI controller's disks, a USB controller's root hubs), and the menu's scan
//! sees the disks.
//!
//! A failed probe leaves no trace in sysfs, so a device that never binds is waited for
//! until the caller's time is up; the report names it (the kernel log says why).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the links are looked at: a stat per device, cheap against the probes.
const POLL: Duration = Duration::from_millis(10);

/// Buses whose devices are expected to bind when a module matched their modalias. On
/// others a match need not mean a binding: a `cpu:` alias loads a CPU-feature module
/// (crc32c-intel, aesni) that binds to no device, an `acpi:` one often a driver that
/// binds to a platform device instead.
const BINDING_BUSES: &[&str] = &[
    "pci", "usb", "scsi", "mmc", "sdio", "virtio", "vmbus", "hid", "serio",
];

/// The bus of a device listed as `…/bus/BUS/devices/NAME`.
fn bus_of(device: &Path) -> Option<&str> {
    device.parent()?.parent()?.file_name()?.to_str()
}

/// Does `device` (an entry of /sys/bus/*/devices) have a bound driver?
pub fn is_bound(device: &Path) -> bool {
    device.join("driver").exists()
}

/// Waits until every device in `devices` that sits on a binding bus has a driver, or
/// `within` has passed. Returns those still unbound.
pub fn wait_for_drivers(devices: &[PathBuf], within: Duration) -> Vec<PathBuf> {
    let give_up = Instant::now() + within;
    let mut waiting: Vec<PathBuf> = devices
        .iter()
        .filter(|d| bus_of(d).is_some_and(|bus| BINDING_BUSES.contains(&bus)))
        .cloned()
        .collect();
    loop {
        waiting.retain(|device| !is_bound(device));
        let now = Instant::now();
        if waiting.is_empty() || now >= give_up {
            return waiting;
        }
        std::thread::sleep(POLL.min(give_up - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(root: &Path, bus: &str, name: &str) -> PathBuf {
        let dir = root.join("bus").join(bus).join("devices").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    #[test]
    fn bound_devices_end_the_wait_and_other_buses_are_not_waited_for() {
        let root = std::env::temp_dir().join(format!("kboot-settle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let nvme = device(&root, "pci", "0000:00:04.0");
        let cpu = device(&root, "cpu", "cpu0");
        let nic = device(&root, "pci", "0000:00:02.0");
        std::fs::create_dir_all(nvme.join("driver")).expect("bind");
        let started = Instant::now();
        let left = wait_for_drivers(
            &[nvme.clone(), cpu.clone(), nic.clone()],
            Duration::from_millis(100),
        );
        // The NIC never binds: waited for until the time was up, and named.
        assert_eq!(left, [nic.clone()]);
        assert!(started.elapsed() >= Duration::from_millis(100));
        // Once it binds, nothing is waited for, and the CPU never was.
        std::fs::create_dir_all(nic.join("driver")).expect("bind");
        let started = Instant::now();
        assert!(wait_for_drivers(&[nvme, cpu, nic], Duration::from_secs(5)).is_empty());
        assert!(started.elapsed() < Duration::from_secs(1));
        let _ = std::fs::remove_dir_all(&root);
    }
}
