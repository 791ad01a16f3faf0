//! Kernel modules loaded by device, in the one binary: what udev + kmod do for a boot
//! environment, and no more.
//!
//! The initramfs carries `/lib/modules/$(uname -r)/` with the modules and the text indexes
//! depmod writes. [`index`] reads those indexes, [`glob`] matches modaliases against alias
//! patterns, [`load`] is modprobe (dependencies and softdeps first, then the module, through
//! `sys::finit_module`), [`modinfo`] reads a module file's `.modinfo` section, [`coldplug`]
//! loads drivers for the devices that exist at boot and [`uevent`] for those that appear
//! later. [`start_at_boot`] is PID 1's one entry point.

pub mod background;
pub mod coldplug;
pub mod glob;
pub mod index;
pub mod load;
pub mod modinfo;
pub mod settle;
pub mod uevent;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cmdline::KbootArgs;
use crate::console;

/// Module names are compared with `-` turned into `_`, as the kernel and kmod do: the file
/// `nvme-core.ko` is the module `nvme_core`.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a module file: `kernel/drivers/nvme/host/nvme-core.ko.zst` → `nvme_core`.
pub fn name_of_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = match base.find(".ko") {
        Some(at) => &base[..at],
        None => base,
    };
    normalize(stem)
}

/// `uname -r` of the running kernel.
pub fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// `ROOT/lib/modules/VERSION`: kmod's `-d ROOT` and `-S VERSION`, with `/` and the running
/// kernel as the defaults.
pub fn modules_dir(root: Option<&Path>, version: Option<&str>) -> PathBuf {
    let version = version.map_or_else(kernel_release, str::to_string);
    root.unwrap_or(Path::new("/"))
        .join("lib/modules")
        .join(version)
}

/// How long the boot coldplug may take before the menu starts anyway; devices it did not
/// get to are left to the uevent listener, which reruns a pass first.
pub const BOOT_DEADLINE: Duration = Duration::from_secs(3);

/// PID 1's hook, called once after /proc, /sys and /dev are mounted: load the drivers of
/// the devices present, print one summary line (and one per failure), then keep loading
/// drivers for devices that appear later from a listener thread. With `menu_follows`, the
/// drivers the boot does not wait for load once the menu has been drawn (`background`).
/// Quiet and cheap when the initramfs has no modules for this kernel, or with
/// `kboot.modules=0`. Never panics.
pub fn start_at_boot(args: &KbootArgs, menu_follows: bool) {
    if !args.modules {
        return;
    }
    let dir = modules_dir(None, None);
    if !dir.is_dir() {
        return;
    }
    let index = match index::ModuleIndex::load(&dir) {
        Ok(index) => index,
        Err(err) => {
            console::announce(&format!("kboot: modules: {}: {err}\n", dir.display()));
            return;
        }
    };
    // Listening starts before the coldplug walk so that a device appearing while the walk
    // runs is seen by one of the two (udev's order: monitor first, then trigger).
    let socket = uevent::open_socket();
    if let Err(err) = &socket {
        console::announce(&format!("kboot: modules: uevent socket: {err}\n"));
    }
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let options = load::ModuleOptions::from_kernel_cmdline(&cmdline);
    let mut probe = load::Modprobe::new(&index, options.clone());
    let capture_kernel = Path::new("/proc/vmcore").exists();
    let deferral = coldplug::Deferral {
        display_and_input: true,
        // Network cards are waited for when the network is configured to come up at
        // boot (the menu's network sources, a capture target); else they load behind it.
        network: !capture_kernel && !network_configured(&cmdline),
    };
    let mut report = coldplug::run(
        Path::new("/sys"),
        &mut probe,
        &mut load::Kernel,
        BOOT_DEADLINE,
        deferral,
    );
    // A kdump capture kernel lives in the crashkernel= reservation: a DRM framebuffer
    // and HID stack cost memory the saver needs (crashkernel=48M ran out with them), and
    // its console is already there. It gets the drivers that reach disks and networks.
    if capture_kernel && !report.deferred.is_empty() {
        report.deferred.clear();
        report.deferred_modules.clear();
        console::announce("kboot: modules: capture kernel: display and input drivers left out\n");
    }
    console::announce(&format!("kboot: modules: {}\n", report.summary()));
    for failure in &report.failures {
        console::announce(&format!("kboot: modules: {failure}\n"));
    }
    match socket {
        Ok(socket) => {
            let background = uevent::Background {
                aliases: report.deferred,
                hold: menu_follows,
            };
            let spawned =
                uevent::spawn_listener(index, options, socket, report.cut_short, background);
            if let Err(err) = spawned {
                console::announce(&format!("kboot: modules: uevent listener: {err}\n"));
            }
        }
        // No listener to hand them to: the display and input drivers load now.
        Err(_) => {
            let mut late = coldplug::Report::default();
            for alias in &report.deferred {
                coldplug::load_for(alias, "", &mut probe, &mut load::Kernel, &mut late);
            }
        }
    }
}

/// Will the network be brought up at boot (kboot.toml `[net]`, `ip=`, `kboot.net=`)? The
/// same settings the menu reads; an unreadable kboot.toml counts as none.
fn network_configured(cmdline: &str) -> bool {
    let toml = crate::config::load(Path::new(crate::config::CONFIG_PATH)).ok();
    let (cfg, _warnings) = crate::net::setup::config_from(toml.as_ref(), cmdline);
    cfg.mode != crate::net::setup::Mode::Off
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_dashes_and_drop_suffixes() {
        assert_eq!(normalize("nvme-core"), "nvme_core");
        assert_eq!(
            name_of_path("kernel/drivers/nvme/host/nvme-core.ko.gz"),
            "nvme_core"
        );
        assert_eq!(name_of_path("usb-storage.ko"), "usb_storage");
        assert_eq!(name_of_path("/x/y/hid-generic.ko.zst"), "hid_generic");
        assert_eq!(
            modules_dir(Some(Path::new("/tmp/r")), Some("6.1.0")),
            Path::new("/tmp/r/lib/modules/6.1.0")
        );
    }
}
